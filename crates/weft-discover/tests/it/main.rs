//! Discovery end to end: real files in temporary workspaces, read into one model.

mod builder;
mod fidelity;
mod incremental;
