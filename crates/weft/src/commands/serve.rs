//! `weft serve`: the coordination server.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use weft_server::{AppState, Scope, ServeSettings, Tls, Token, serve};
use weft_store::{AlertThresholds, Coordinator, CoordinatorMode, LeasePolicy, Store};

use super::Context;
use crate::console;
use crate::exit::{Outcome, UsageError};

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on [default: coordination.server.listen, else 127.0.0.1:7700]
    #[arg(long, value_name = "ADDR")]
    pub(crate) listen: Option<SocketAddr>,
    /// Store URL: sqlite://PATH or postgres://… [default: WORKSPACE/.weft/state.db]
    #[arg(long, env = "WEFT_STORE", value_name = "URL")]
    pub(crate) store: Option<String>,
    /// TLS certificate chain (PEM); needs --tls-key
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub(crate) tls_cert: Option<PathBuf>,
    /// TLS private key (PEM)
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,
    /// Serve /api/v1/health and /metrics without a token
    #[arg(long)]
    pub(crate) open_health: bool,
    /// Threads that answer requests [default: one fewer than the CPUs,
    /// at least one]; the store's own work runs beside them (SQLite's
    /// writer on a thread of its own, a PostgreSQL on this machine in its
    /// own processes)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) threads: Option<u16>,
}

/// One thread fewer than the CPUs, at least one: see [`ServeArgs::threads`].
fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, usize::from)
        .saturating_sub(1)
        .max(1)
}

pub(crate) fn run(context: &Context, args: ServeArgs) -> anyhow::Result<Outcome> {
    let root = context.workspace(None);
    let loaded = weft_model::config::load(&root)?;
    let config = &loaded.config.coordination;
    let mut tokens = Vec::new();
    for token in &config.server.tokens {
        let secret = std::env::var(&token.env).map_err(|_| {
            UsageError::new(format!(
                "token `{}` reads its secret from ${}, which is not set",
                token.name, token.env
            ))
            .with_hint("export the variable, or remove the token from weft.yaml")
        })?;
        let scopes = token
            .scopes
            .iter()
            .map(|s| {
                Scope::parse(s).ok_or_else(|| {
                    UsageError::new(format!(
                        "token `{}`: unknown scope `{s}` (read, write, admin)",
                        token.name
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        tokens.push(Token {
            name: token.name.clone(),
            secret,
            scopes,
        });
    }
    if let Ok(secret) = std::env::var("WEFT_ADMIN_TOKEN")
        && !secret.is_empty()
    {
        tokens.push(Token {
            name: "WEFT_ADMIN_TOKEN".to_owned(),
            secret,
            scopes: vec![Scope::Admin],
        });
    }
    let listen = match (args.listen, &config.server.listen) {
        (Some(listen), _) => listen,
        (None, Some(text)) => text.parse().map_err(|_| {
            UsageError::new(format!(
                "coordination.server.listen `{text}` is not an address"
            ))
            .with_hint("e.g. 127.0.0.1:7700")
        })?,
        (None, None) => ServeSettings::DEFAULT_LISTEN
            .parse()
            .map_err(|_| UsageError::new("bad default address"))?,
    };
    let store_url = args
        .store
        .clone()
        .or_else(|| config.server.store.clone())
        .unwrap_or_else(|| root.join(".weft/state.db").display().to_string());
    let settings = ServeSettings {
        listen,
        tokens,
        open_health: args.open_health || config.server.open_health,
        body_limit: config
            .server
            .body_limit
            .unwrap_or(ServeSettings::DEFAULT_BODY_LIMIT),
        tls: args
            .tls_cert
            .zip(args.tls_key)
            .map(|(certificate, key)| Tls { certificate, key }),
        workspace: root.clone(),
    };
    let policy = LeasePolicy::from_config(config);
    let thresholds = AlertThresholds::from_config(&config.alerts);
    let threads = args.threads.map_or_else(default_threads, usize::from);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()?;
    let served = runtime.block_on(async move {
        let store = Store::open(&store_url, policy).await?;
        let coordinator =
            Coordinator::start(store.clone(), CoordinatorMode::Server, thresholds).await?;
        if settings.tokens.is_empty() {
            console::note(&format!(
                "no token configured: serving on loopback only ({listen}); anyone on this machine can take and release leases"
            ));
        }
        let scheme = if settings.tls.is_some() { "https" } else { "http" };
        let state = AppState::new(coordinator, settings);
        let store_name = store.url().to_owned();
        serve(state, shutdown_signal(), |bound| {
            console::note(&format!(
                "weft serve: listening on {scheme}://{bound} (store {store_name}); Ctrl-C stops"
            ));
        })
        .await?;
        console::note("stopped");
        anyhow::Ok(())
    });
    // Work left on blocking threads (an analysis, a monitor run) is not
    // waited for past this.
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    served?;
    Ok(Outcome::Clean)
}

async fn shutdown_signal() {
    let mut terminate =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}
