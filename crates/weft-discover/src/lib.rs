//! weft's readers: every file format weft understands, turned into facts
//! (services, references, resource claims) with provenance, and the builder
//! that resolves them into one workspace [`Model`](weft_model::Model).
//!
//! Synchronous and pure apart from reading files: no network, no database.

pub mod facts;
pub mod host;
pub mod kubernetes;
pub mod nginx;
pub mod traefik;

pub use facts::{
    ClaimFact, EnvAssignment, Facts, LocalService, Mount, Reference, ServiceFact, SourceFile,
    SourceKind, Subject, Target,
};
mod builder;
pub mod compose;
pub mod config_files;
mod discover;
pub mod env;
mod incremental;
pub mod paths;
pub mod procfile;
mod text;
mod walk;
pub mod watch;
pub mod workspace;

pub use discover::discover;
pub use incremental::{Update, Workspace};
pub use watch::{Applied, ApplyError, Batch, WatchError, Watcher};
pub use workspace::DiscoverError;
