//! weft's core types: the workspace model (repositories, services, edges,
//! resource claims), `weft.yaml`, provenance and diagnostics, and the spanned
//! YAML reader every other crate parses with.
//!
//! This crate is synchronous and pure: no network, no database.

pub mod config;
mod diagnostic;
mod edge;
mod model;
mod provenance;
mod resource;
mod service;
pub mod span;
pub mod yaml;

pub use diagnostic::{Diagnostic, Severity};
pub use edge::{Edge, EdgeKind};
pub use model::{LookupError, LookupIndex, Model, Repository};
pub use provenance::{Provenance, Rule};
pub use resource::{Claim, PathMatch, Platform, Protocol, ProxyKind, Resource};
pub use service::{Service, ServiceId};
pub use span::{LineIndex, Location, Span};
