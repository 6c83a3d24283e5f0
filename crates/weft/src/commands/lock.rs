//! `weft lock`: leases on a named resource, from a server or the local
//! store.

use std::process::{Command, ExitStatus};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use weft_client::Lease;

use super::Context;
use super::coordination::{Claim, ClaimArgs, ConnectionArgs, LeaseError, Leases, into_anyhow};
use crate::cli::Format;
use crate::console::{self, Style};
use crate::exit::{Outcome, UsageError};

#[derive(Debug, Args)]
pub(crate) struct LockArgs {
    #[command(flatten)]
    pub(crate) connection: ConnectionArgs,
    #[command(subcommand)]
    pub(crate) command: LockCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum LockCommand {
    /// Take a lease, waiting in the queue while the resource is taken
    #[command(
        long_about = "Take a lease on RESOURCE (`TYPE:ID`, e.g. `branch:origin/main`; a plain \
name is `lock:NAME`), waiting in the queue (by priority, then arrival) up to --wait. Prints the lease id \
and its fencing token: give the token to whatever the lock protects, so that a holder whose lease \
expired is refused.\n\nExit code 1 when the resource stays taken."
    )]
    Acquire {
        resource: String,
        #[command(flatten)]
        claim: ClaimArgs,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Extend a lease by its TTL (or --ttl) from now
    Renew {
        lease: String,
        #[arg(long, value_name = "DURATION")]
        ttl: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Give a lease back; the next waiter is granted at once
    Release {
        lease: String,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Every resource held or waited for: holders, queue, positions
    List {
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Hold a lease while a command runs, renewing it, releasing it on exit
    #[command(
        long_about = "Take a lease on RESOURCE, run COMMAND with WEFT_LEASE_ID and \
WEFT_FENCING_TOKEN set, renew the lease while it runs, and release it when the command exits, fails or \
is interrupted. Exits with the command's exit code. If the lease is lost (it expired, or was \
force-released), the command is stopped, as it no longer holds the lock."
    )]
    Run {
        resource: String,
        #[command(flatten)]
        claim: ClaimArgs,
        #[arg(last = true, required = true, value_name = "COMMAND")]
        command: Vec<String>,
    },
    /// Take every lease on a resource away, for an emergency
    ForceRelease {
        resource: String,
        /// Why, for the audit trail
        #[arg(long, required = true)]
        reason: String,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

pub(crate) fn run(context: &Context, args: LockArgs) -> anyhow::Result<Outcome> {
    let leases = Leases::connect(context, &args.connection)?;
    let result = match args.command {
        LockCommand::Acquire {
            resource,
            claim,
            format,
        } => acquire(&leases, &Claim::new(resource, &claim), format),
        LockCommand::Renew { lease, ttl, format } => {
            let ttl = ttl
                .map(|t| {
                    weft_model::config::parse_duration(&t)
                        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
                        .map_err(|m| UsageError::new(format!("--ttl: {m}")))
                })
                .transpose()?;
            leases.renew(&lease, ttl).map(|lease| {
                print_lease(&lease, "renewed", format);
                Outcome::Clean
            })
        }
        LockCommand::Release { lease, format } => leases.release(&lease).map(|lease| {
            print_lease(&lease, "released", format);
            Outcome::Clean
        }),
        LockCommand::List { format } => leases.queues().map(|queues| {
            match format {
                Format::Json => {
                    let _ = console::json(&serde_json::json!({"resources": queues}));
                }
                Format::Text => console::out(&render_queues(&queues)),
            }
            Outcome::Clean
        }),
        LockCommand::Run {
            resource,
            claim,
            command,
        } => return hold_while(&leases, &Claim::new(resource, &claim), &command),
        LockCommand::ForceRelease {
            resource,
            reason,
            format,
        } => leases.force_release(&resource, &reason).map(|result| {
            match format {
                Format::Json => {
                    let _ = console::json(&result);
                }
                Format::Text => {
                    let count = result["released"].as_array().map_or(0, Vec::len);
                    console::out(&format!(
                        "force-released {} on {resource} (recorded with the reason)\n",
                        console::count(count, "lease")
                    ));
                }
            }
            Outcome::Clean
        }),
    };
    finish(result)
}

/// Prints a taken resource and exits 1; other failures are errors.
pub(crate) fn finish(result: Result<Outcome, LeaseError>) -> anyhow::Result<Outcome> {
    match result {
        Ok(outcome) => Ok(outcome),
        Err(LeaseError::Taken(message)) => {
            console::note(&format!(
                "{} {message}",
                console::paint(Style::Yellow, "taken:")
            ));
            Ok(Outcome::Problems)
        }
        Err(other) => Err(into_anyhow(other)),
    }
}

pub(crate) fn acquire(
    leases: &Leases,
    claim: &Claim,
    format: Format,
) -> Result<Outcome, LeaseError> {
    if claim.wait_ms > 0 {
        console::note(&format!(
            "claiming {} from the {} (waiting up to {} s if taken)…",
            claim.resource,
            leases.describe(),
            claim.wait_ms / 1000
        ));
    }
    let lease = leases.acquire(claim)?;
    print_lease(&lease, "acquired", format);
    Ok(Outcome::Clean)
}

fn print_lease(lease: &Lease, verb: &str, format: Format) {
    match format {
        Format::Json => {
            let _ = console::json(lease);
        }
        Format::Text => console::out(&format!(
            "{verb} {} on {}\n  lease   {}\n  token   {}\n  expires {}\n",
            console::paint(Style::Bold, &lease.mode),
            console::paint(Style::Bold, &lease.resource),
            lease.id,
            lease.token,
            lease.expires_at
        )),
    }
}

fn render_queues(queues: &serde_json::Value) -> String {
    let Some(resources) = queues.as_array().filter(|r| !r.is_empty()) else {
        return "nothing is held or waited for\n".to_owned();
    };
    let mut out = String::new();
    for resource in resources {
        out.push_str(&format!(
            "{} ({}/{} used)\n",
            console::paint(Style::Bold, resource["id"].as_str().unwrap_or("?")),
            resource["used"],
            resource["capacity"]
        ));
        for holder in resource["holders"].as_array().into_iter().flatten() {
            out.push_str(&format!(
                "  held by  {} — token {}, {}, expires {}\n",
                describe_holder(&holder["holder"]),
                holder["token"],
                holder["mode"].as_str().unwrap_or(""),
                holder["expires_at"].as_str().unwrap_or("")
            ));
        }
        for waiter in resource["queue"].as_array().into_iter().flatten() {
            out.push_str(&format!(
                "  {:>2}. {} — priority {} (effective {}), waiting {} s\n",
                waiter["position"],
                describe_holder(&waiter["holder"]),
                waiter["priority"],
                waiter["effective_priority"],
                waiter["waited_ms"].as_i64().unwrap_or(0) / 1000
            ));
        }
    }
    out
}

fn describe_holder(holder: &serde_json::Value) -> String {
    serde_json::from_value::<weft_store::Holder>(holder.clone())
        .map(|h| h.to_string())
        .unwrap_or_else(|_| holder.to_string())
}

/// `weft lock run`: acquire, run, renew, release.
pub(crate) fn hold_while(
    leases: &Leases,
    claim: &Claim,
    command: &[String],
) -> anyhow::Result<Outcome> {
    let lease = match leases.acquire(claim) {
        Ok(lease) => lease,
        Err(error) => return finish(Err(error)),
    };
    console::note(&format!(
        "holding {} (token {}); running {}",
        lease.resource,
        lease.token,
        command.join(" ")
    ));
    let interrupted = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, interrupted.clone())?;
    }
    let spawned = Command::new(&command[0])
        .args(&command[1..])
        .env("WEFT_LEASE_ID", &lease.id)
        .env("WEFT_FENCING_TOKEN", lease.token.to_string())
        .env("WEFT_LEASE_RESOURCE", &lease.resource)
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(error) => {
            release_quietly(leases, &lease);
            return Err(UsageError::new(format!("cannot run `{}`: {error}", command[0])).into());
        }
    };
    let renew_every = Duration::from_millis((lease.ttl_ms / 3).max(100).unsigned_abs());
    let mut next_renewal = Instant::now() + renew_every;
    let mut forwarded = false;
    let mut lost = false;
    let status: ExitStatus = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if interrupted.load(Ordering::Relaxed) && !forwarded {
            // The terminal sent the child the signal too; a `kill` sent only
            // to weft is passed on.
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX)),
                nix::sys::signal::Signal::SIGTERM,
            );
            forwarded = true;
        }
        if !lost && Instant::now() >= next_renewal {
            match leases.renew(&lease.id, None) {
                Ok(_) => next_renewal = Instant::now() + renew_every,
                Err(LeaseError::Environment(message)) => {
                    // A blip: try again soon; the TTL leaves room.
                    tracing::warn!(%message, "renewal failed; retrying");
                    next_renewal = Instant::now() + Duration::from_millis(500);
                }
                Err(error) => {
                    console::note(&format!(
                        "{} the lease is gone ({error}); stopping the command, which no longer holds the lock",
                        console::paint(Style::Red, "error:")
                    ));
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX)),
                        nix::sys::signal::Signal::SIGTERM,
                    );
                    lost = true;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    if !lost {
        release_quietly(leases, &lease);
    }
    let code = status.code().unwrap_or_else(|| {
        128 + std::os::unix::process::ExitStatusExt::signal(&status).unwrap_or(1)
    });
    if lost {
        return Ok(Outcome::Problems);
    }
    std::process::exit(code);
}

fn release_quietly(leases: &Leases, lease: &Lease) {
    match leases.release(&lease.id) {
        Ok(_) => console::note(&format!("released {}", lease.resource)),
        Err(error) => console::note(&format!(
            "{} could not release {}: {error} (it expires at {})",
            console::paint(Style::Yellow, "warning:"),
            lease.resource,
            lease.expires_at
        )),
    }
}
