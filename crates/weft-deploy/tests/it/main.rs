//! weft-deploy end to end: plans from real workspaces, releases of real
//! shell steps gated by real HTTP servers on 127.0.0.1, on a real SQLite store.

mod plan;
mod prometheus;
mod release;
mod support;
