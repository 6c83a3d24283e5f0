//! The spanned YAML tree, held in an [`Arena`].

use std::fmt;

use bumpalo::Bump;

use crate::span::Span;

/// Where a YAML tree lives: its collections, and the text of scalars that
/// are not a slice of the source as written (escaped, folded, or read by
/// the full reader). A tree is freed at once with its arena, not node by
/// node; a reader keeps one for what it reads together (a compose project's
/// files, a repository's manifests, the files of one `extends` chain).
#[derive(Default)]
pub struct Arena {
    bump: Bump,
}

impl Arena {
    pub fn new() -> Arena {
        Arena::default()
    }

    /// A copy of `text` in the arena: for a text that must live as long as
    /// the tree read from it.
    pub fn alloc_str(&self, text: &str) -> &str {
        self.bump.alloc_str(text)
    }

    pub(super) fn slice<T: Copy>(&self, items: &[T]) -> &[T] {
        if items.is_empty() {
            return &[];
        }
        self.bump.alloc_slice_copy(items)
    }
}

impl fmt::Debug for Arena {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Arena")
            .field("allocated_bytes", &self.bump.allocated_bytes())
            .finish()
    }
}

/// How a scalar was written; a quoted `"8080"` is a string, a plain `8080` a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarStyle {
    Plain,
    Quoted,
    Block,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scalar<'a> {
    /// A slice of the source where it is written as it reads (nearly every
    /// key and value), else in the arena.
    pub text: &'a str,
    pub style: ScalarStyle,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    Scalar(Scalar<'a>),
    Sequence(&'a [Node<'a>]),
    Mapping(&'a [(Node<'a>, Node<'a>)]),
}

/// One YAML node with the span it was read from. A node is a few words
/// that point into its arena: copying one copies no children.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Node<'a> {
    pub value: Value<'a>,
    pub span: Span,
    /// A local tag such as Compose's `!override` or `!reset`, with its `!`.
    pub tag: Option<&'a str>,
}

impl<'a> Node<'a> {
    pub fn scalar(text: &'a str, style: ScalarStyle, span: Span) -> Node<'a> {
        Node {
            value: Value::Scalar(Scalar { text, style }),
            span,
            tag: None,
        }
    }

    /// `~`, `null`, an empty plain scalar.
    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar(Scalar { text, style: ScalarStyle::Plain })
            if matches!(*text, "" | "~" | "null" | "Null" | "NULL"))
    }

    /// The text of a scalar (of any style); `None` for null, sequences and mappings.
    pub fn as_str(&self) -> Option<&'a str> {
        match self.value {
            Value::Scalar(scalar) if !self.is_null() => Some(scalar.text),
            _ => None,
        }
    }

    pub fn as_scalar(&self) -> Option<&Scalar<'a>> {
        match &self.value {
            Value::Scalar(scalar) => Some(scalar),
            _ => None,
        }
    }

    /// A YAML 1.2 core boolean (plain `true`/`false` in any case).
    pub fn as_bool(&self) -> Option<bool> {
        let scalar = self.as_scalar()?;
        if scalar.style != ScalarStyle::Plain {
            return None;
        }
        match scalar.text {
            "true" | "True" | "TRUE" => Some(true),
            "false" | "False" | "FALSE" => Some(false),
            _ => None,
        }
    }

    /// An unsigned integer written plainly or quoted.
    pub fn as_u64(&self) -> Option<u64> {
        self.as_str()?.trim().parse().ok()
    }

    pub fn as_sequence(&self) -> Option<&'a [Node<'a>]> {
        match self.value {
            Value::Sequence(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_mapping(&self) -> Option<&'a [(Node<'a>, Node<'a>)]> {
        match self.value {
            Value::Mapping(entries) => Some(entries),
            _ => None,
        }
    }

    /// The value of a mapping key, if this is a mapping holding it.
    pub fn get(&self, key: &str) -> Option<&'a Node<'a>> {
        self.entry(key).map(|(_, v)| v)
    }

    /// The entry (key node and value node) of a mapping key.
    pub fn entry(&self, key: &str) -> Option<(&'a Node<'a>, &'a Node<'a>)> {
        self.as_mapping()?
            .iter()
            .find(|(k, _)| k.is_key(key))
            .map(|(k, v)| (k, v))
    }

    /// Whether this is the scalar `key` (`as_str() == Some(key)`). The
    /// text is compared before checking for null, since most keys a lookup
    /// meets are not `key`.
    pub(crate) fn is_key(&self, key: &str) -> bool {
        matches!(self.value, Value::Scalar(scalar) if scalar.text == key) && !self.is_null()
    }

    /// Follows a path of mapping keys.
    pub fn path<'n>(&'n self, keys: &[&str]) -> Option<&'n Node<'a>> {
        keys.iter().try_fold(self, |node, key| node.get(key))
    }

    /// Iterates `(key text, value)` over a mapping; empty for anything else.
    pub fn entries(&self) -> impl Iterator<Item = (&'a str, &'a Node<'a>)> + use<'a> {
        self.as_mapping()
            .unwrap_or_default()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str()?, v)))
    }

    /// Iterates the items of a sequence; empty for anything else.
    pub fn items(&self) -> impl Iterator<Item = &'a Node<'a>> + use<'a> {
        self.as_sequence().unwrap_or_default().iter()
    }

    /// A short name for the kind of node, for error messages.
    pub fn kind_name(&self) -> &'static str {
        match &self.value {
            _ if self.is_null() => "null",
            Value::Scalar(_) => "a scalar",
            Value::Sequence(_) => "a sequence",
            Value::Mapping(_) => "a mapping",
        }
    }
}
