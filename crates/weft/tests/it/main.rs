//! The `weft` binary end to end: real files, real processes, real clients
//! (Compose v2, Graphviz) where they are installed.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on anything unexpected"
)]
#![expect(
    clippy::print_stdout,
    reason = "SKIP lines tell why a real client was not used"
)]

mod ci;
mod cli;
mod corpus;
mod dashboard;
mod deploy;
mod launch;
mod lock;
mod monitor;
mod monitor_github;
mod notify;
mod push;
mod push_server;
mod resolve;
mod snapshots;
mod support;
mod watch;
