//! A YAML reader that keeps the source span of every node.
//!
//! Discovery needs to say where each fact came from and `weft resolve` edits
//! files at the exact span of a value, so weft reads YAML into its own tree of
//! [`Node`]s rather than into typed structs. Aliases are expanded and merge keys
//! (`<<`) applied while the tree is built, the way Compose and Kubernetes
//! tooling read them. A tree lives in an [`Arena`] the caller holds, and
//! its scalars are slices of the text where they can be.

mod de;
mod fast;
mod node;
mod parse;

pub use de::{DecodeError, from_node};
pub use node::{Arena, Node, Scalar, ScalarStyle, Value};
pub use parse::{YamlError, parse_documents, parse_documents_fully, parse_one};

/// The fast path alone: `None` where it leaves the text to the full reader.
#[doc(hidden)]
pub fn parse_documents_fast<'a>(arena: &'a Arena, text: &'a str) -> Option<Vec<Node<'a>>> {
    fast::parse(arena, text)
}
