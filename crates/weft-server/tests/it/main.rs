//! The coordination server end to end: the router without a socket
//! (`oneshot`) for auth and input checks, a real server on 127.0.0.1 for
//! leases, long polls, disconnects, the event stream and metrics, and the
//! real `weft serve` binary, killed and restarted, for crash safety and the
//! monitor's schedule. The
//! store is real SQLite in temp dirs, and a throwaway PostgreSQL cluster
//! where stated (SKIP where PostgreSQL is absent).

#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on anything unexpected"
)]
#![expect(
    clippy::print_stderr,
    reason = "SKIP and NOTE lines tell why a real tool was not used"
)]

mod auth;
mod crash;
mod dashboard;
mod deployments;
mod events;
mod failover;
mod input;
mod lifecycle;
mod metrics;
mod monitor;
mod process;
mod seed;
mod support;
