//! Waiting for cancellation: a `watch` that turns true when a release must
//! stop (a signal, a failed sibling, a lost lease).

use tokio::sync::watch;

/// Resolves once `cancelled` holds true. A channel whose sender is gone can
/// never turn true, so it never resolves (rather than reading as cancelled).
pub(crate) async fn requested(cancelled: &mut watch::Receiver<bool>) {
    loop {
        if *cancelled.borrow_and_update() {
            return;
        }
        if cancelled.changed().await.is_err() {
            if *cancelled.borrow() {
                return;
            }
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_dropped_sender_is_not_a_cancellation() {
        let (sender, mut receiver) = watch::channel(false);
        drop(sender);
        let waited =
            tokio::time::timeout(Duration::from_millis(50), requested(&mut receiver)).await;
        assert!(waited.is_err(), "resolved without a cancellation");
        let (sender, mut receiver) = watch::channel(false);
        let _ = sender.send(true);
        requested(&mut receiver).await;
    }
}
