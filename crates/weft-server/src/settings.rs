//! What `weft serve` was asked to do, resolved from flags, environment and
//! weft.yaml.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::auth::Token;

/// A certificate chain and its private key, PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tls {
    pub certificate: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone)]
pub struct ServeSettings {
    pub listen: SocketAddr,
    pub tokens: Vec<Token>,
    /// `health` and `/metrics` need no token.
    pub open_health: bool,
    pub body_limit: usize,
    pub tls: Option<Tls>,
    /// The workspace the analysis endpoints read.
    pub workspace: PathBuf,
}

impl ServeSettings {
    pub const DEFAULT_LISTEN: &str = "127.0.0.1:7700";
    pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;
}
