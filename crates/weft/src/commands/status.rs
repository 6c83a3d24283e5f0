//! `weft status`: the state of every service of the running supervisor.

use serde_json::json;
use weft_launch::control::{Client, Request, Response};
use weft_launch::report::ChainLink;
use weft_launch::{State, registry};

use super::Context;
use super::launch::{render_statuses, state_dir};
use crate::cli::{Format, StatusArgs};
use crate::console;
use crate::exit::Outcome;

pub(crate) fn run(context: &Context, args: StatusArgs) -> anyhow::Result<Outcome> {
    let state_dir = state_dir(context)?;
    let response = match Client::ask(&state_dir, &Request::Status) {
        Ok(response) => response,
        Err(_) => {
            // No supervisor answers: clean up after one that was killed.
            let stale = registry::read(&state_dir)
                .filter(|r| !registry::is_alive(r.supervisor.pid, r.supervisor.start_ticks));
            let reaped = registry::reap_stale(&state_dir);
            match args.format {
                Format::Json => console::json(&json!({
                    "running": false,
                    "stale_supervisor": stale.map(|r| r.supervisor.pid),
                    "reaped": reaped,
                    "services": [],
                }))?,
                Format::Text => {
                    if let Some(stale) = stale {
                        console::note(&format!(
                            "the supervisor (pid {}) is gone; its registry was stale",
                            stale.supervisor.pid
                        ));
                    }
                    for process in &reaped {
                        console::note(&format!("killed {process}, left behind by it"));
                    }
                    console::note(
                        "no supervisor is running for this workspace; start one with `weft up`",
                    );
                }
            }
            return Ok(Outcome::Internal);
        }
    };
    let Response::Status {
        supervisor,
        services,
        critical_chain,
    } = response
    else {
        anyhow::bail!("the supervisor answered `status` with something else");
    };
    let failed = services.iter().any(|s| s.state == State::Failed);
    match args.format {
        Format::Json => console::json(&json!({
            "running": true,
            "supervisor": supervisor,
            "services": services,
            "critical_chain": critical_chain,
        }))?,
        Format::Text => {
            console::out(&render_statuses(&services));
            if let Some(chain) = render_chain(&critical_chain) {
                console::out(&format!("\n{chain}\n"));
            }
        }
    }
    Ok(if failed {
        Outcome::Problems
    } else {
        Outcome::Clean
    })
}

/// `critical chain: db ready at 0.81s (0.80s) → api at 1.22s (0.40s)`.
pub(crate) fn render_chain(chain: &[ChainLink]) -> Option<String> {
    if chain.is_empty() {
        return None;
    }
    let links: Vec<String> = chain
        .iter()
        .map(|l| {
            format!(
                "{} ready at {:.2}s (own {:.2}s)",
                l.service,
                l.ready_after_ms as f64 / 1000.0,
                l.own_ms as f64 / 1000.0
            )
        })
        .collect();
    Some(format!("critical chain: {}", links.join(" → ")))
}
