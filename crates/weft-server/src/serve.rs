//! Listening: loopback-only without tokens, TLS when given a certificate,
//! and a graceful shutdown that lets waiting requests leave the queue.

use std::net::SocketAddr;
use std::time::Duration;

use axum_server::Handle;
use axum_server::tls_rustls::RustlsConfig;

use crate::routes::router;
use crate::settings::ServeSettings;
use crate::state::AppState;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(
        "refusing to listen on {0} without a token: anyone who can reach it could take and release leases"
    )]
    NoTokenOffLoopback(SocketAddr),
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot load the TLS certificate or key: {0}")]
    Tls(#[source] std::io::Error),
    #[error("the server failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Serves until `shutdown` completes. `ready` gets the bound address (the
/// port is chosen when `listen` gives port 0).
pub async fn serve(
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    let settings: &ServeSettings = &state.settings;
    let address = settings.listen;
    if settings.tokens.is_empty() && !address.ip().is_loopback() {
        return Err(ServeError::NoTokenOffLoopback(address));
    }
    let listener = std::net::TcpListener::bind(address)
        .map_err(|source| ServeError::Bind { address, source })?;
    listener.set_nonblocking(true)?;
    let bound = listener.local_addr()?;
    let tls = match &settings.tls {
        Some(tls) => {
            // One crypto provider everywhere: ring.
            let _ = rustls::crypto::ring::default_provider().install_default();
            Some(
                RustlsConfig::from_pem_file(&tls.certificate, &tls.key)
                    .await
                    .map_err(ServeError::Tls)?,
            )
        }
        None => None,
    };
    let handle = Handle::new();
    let stopper = handle.clone();
    let coordinator = state.coordinator.clone();
    tokio::spawn(async move {
        shutdown.await;
        // Waiting long polls leave the queue and answer 503 first; then
        // the connections get up to 10 s to finish.
        coordinator.shutdown();
        stopper.graceful_shutdown(Some(Duration::from_secs(10)));
    });
    let escalations = tokio::spawn(escalate(state.clone()));
    let monitor = tokio::spawn(crate::monitor::run_schedule(state.clone()));
    let state_dir = fs_err::canonicalize(&settings.workspace)
        .unwrap_or_else(|_| settings.workspace.clone())
        .join(".weft");
    let launch = tokio::spawn(crate::dashboard::watch_launch(
        state_dir,
        state.dashboard.launch.clone(),
    ));
    let _watching = state.model.start(settings.workspace.clone());
    let app = router(state.clone()).into_make_service();
    ready(bound);
    let result = match tls {
        Some(config) => {
            axum_server::from_tcp_rustls(listener, config)
                .handle(handle)
                .serve(app)
                .await
        }
        None => {
            axum_server::from_tcp(listener)
                .handle(handle)
                .serve(app)
                .await
        }
    };
    escalations.abort();
    monitor.abort();
    launch.abort();
    state.coordinator.shutdown();
    Ok(result?)
}

/// How often the server looks for release escalations that came due.
const ESCALATION_PERIOD: Duration = Duration::from_secs(1);

/// Sends release escalations as they come due, whoever armed them: a
/// `weft deploy run` that has ended cannot. weft.yaml is read when one is
/// due, so its channels and secrets are current.
async fn escalate(state: AppState) {
    let store = state.coordinator.store().clone();
    let mut warned = false;
    loop {
        tokio::time::sleep(ESCALATION_PERIOD).await;
        let due = match store.next_escalation_due(None).await {
            Ok(Some(due)) => due,
            Ok(None) => continue,
            Err(error) => {
                tracing::warn!(%error, "cannot read the release escalations");
                continue;
            }
        };
        if due > weft_store::time::now_ms() {
            continue;
        }
        let root = state.settings.workspace.clone();
        let loaded = tokio::task::spawn_blocking(move || weft_model::config::load(&root)).await;
        let notifier = match loaded {
            Ok(Ok(loaded)) => weft_deploy::notify::notifier(&loaded.config),
            Ok(Err(error)) => {
                tracing::warn!(%error, "cannot read weft.yaml to send a release escalation");
                continue;
            }
            Err(_) => continue,
        };
        match notifier {
            Some(notifier) => {
                warned = false;
                weft_deploy::notify::send_due_escalations(&store, &notifier).await;
            }
            None if !warned => {
                warned = true;
                tracing::warn!(
                    "a release escalation is due, but weft.yaml declares no notify channels any more"
                );
            }
            None => {}
        }
    }
}
