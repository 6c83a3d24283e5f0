//! A YAML reader that keeps the source span of every node.
//!
//! Discovery needs to say where each fact came from and `weft resolve` edits
//! files at the exact span of a value, so weft reads YAML into its own tree of
//! [`Node`]s rather than into typed structs. Aliases are expanded and merge keys
//! (`<<`) applied while the tree is built, the way Compose and Kubernetes
//! tooling read them.

mod de;
mod fast;
mod node;
mod parse;

pub use de::{DecodeError, from_node};
pub use node::{Node, Scalar, ScalarStyle, Value};
pub use parse::{YamlError, parse_documents, parse_documents_fully, parse_one};

/// The fast path alone: `None` where it leaves the text to the full reader.
#[doc(hidden)]
pub fn parse_documents_fast(text: &str) -> Option<Vec<Node>> {
    fast::parse(text)
}
