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
    state.coordinator.shutdown();
    Ok(result?)
}
