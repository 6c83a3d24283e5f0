//! The `weft` binary end to end: real files, real processes, real clients
//! (Compose v2, Graphviz) where they are installed.

#![expect(clippy::unwrap_used, reason = "test helpers fail loudly on anything unexpected")]

mod cli;
mod corpus;
mod resolve;
mod snapshots;
mod support;
