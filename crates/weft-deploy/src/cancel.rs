//! Cancellation: signals (the first stops a release, a second its
//! rollback), `watch` channels that turn true when work must stop, merging
//! them, and waiting for the first failure of a set of tasks.

use std::sync::Arc;

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

/// Cancellation: the first signal stops the release (and rolls back), a
/// second one stops the rollback too.
#[derive(Debug, Clone)]
pub struct Signals {
    count: watch::Receiver<u32>,
    /// For [`Signals::none`]: the sender nobody uses, kept so that the
    /// channel never closes.
    _never: Option<Arc<watch::Sender<u32>>>,
}

impl Signals {
    pub fn new(count: watch::Receiver<u32>) -> Self {
        Signals {
            count,
            _never: None,
        }
    }

    /// Never signalled.
    pub fn none() -> Self {
        let (sender, count) = watch::channel(0);
        Signals {
            count,
            _never: Some(Arc::new(sender)),
        }
    }

    /// A receiver that turns true once `at_least` signals arrived.
    pub(crate) fn after(&self, at_least: u32) -> watch::Receiver<bool> {
        let (sender, receiver) = watch::channel(*self.count.borrow() >= at_least);
        let mut count = self.count.clone();
        tokio::spawn(async move {
            loop {
                if *count.borrow_and_update() >= at_least {
                    let _ = sender.send(true);
                    return;
                }
                tokio::select! {
                    changed = count.changed() => if changed.is_err() {
                        // No more signals can come: wait only for the end.
                        sender.closed().await;
                        return;
                    },
                    () = sender.closed() => return,
                }
            }
        });
        receiver
    }
}

/// Waits for every task; the first failure (as `failed` reads a task's
/// result) stops the others through `stop`.
pub(crate) async fn first_failure<T: 'static>(
    mut tasks: tokio::task::JoinSet<T>,
    stop: &watch::Sender<bool>,
    failed: impl Fn(T) -> Option<String>,
) -> Option<String> {
    let mut failure = None;
    while let Some(joined) = tasks.join_next().await {
        let message = match joined {
            Ok(result) => failed(result),
            Err(error) => Some(format!("a task failed: {error}")),
        };
        if let Some(message) = message
            && failure.is_none()
        {
            failure = Some(message);
            let _ = stop.send(true);
        }
    }
    failure
}

/// A receiver that turns true when either does.
pub(crate) fn merge(a: watch::Receiver<bool>, b: watch::Receiver<bool>) -> watch::Receiver<bool> {
    let (sender, receiver) = watch::channel(*a.borrow() || *b.borrow());
    tokio::spawn(async move {
        let (mut a, mut b) = (a, b);
        tokio::select! {
            () = requested(&mut a) => {}
            () = requested(&mut b) => {}
            () = sender.closed() => return,
        }
        let _ = sender.send(true);
    });
    receiver
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
