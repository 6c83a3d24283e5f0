//! weft-deploy end to end: plans from real workspaces, releases of real
//! shell steps gated by real HTTP servers on 127.0.0.1, on a real SQLite store.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on anything unexpected"
)]

mod bucket;
mod notify;
mod plan;
mod prometheus;
mod release;
mod support;
mod workflow;
