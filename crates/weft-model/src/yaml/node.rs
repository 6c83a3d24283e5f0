//! The spanned YAML tree.

use compact_str::CompactString;

use crate::span::Span;

/// How a scalar was written; a quoted `"8080"` is a string, a plain `8080` a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarStyle {
    Plain,
    Quoted,
    Block,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Scalar {
    /// Inline up to 24 bytes, which nearly every key and value is.
    pub text: CompactString,
    pub style: ScalarStyle,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Scalar(Scalar),
    Sequence(Vec<Node>),
    Mapping(Vec<(Node, Node)>),
}

/// One YAML node with the span it was read from.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub span: Span,
    /// A local tag such as Compose's `!override` or `!reset`, with its `!`.
    pub tag: Option<String>,
}

impl Node {
    pub fn scalar(text: impl Into<CompactString>, style: ScalarStyle, span: Span) -> Node {
        Node {
            value: Value::Scalar(Scalar {
                text: text.into(),
                style,
            }),
            span,
            tag: None,
        }
    }

    /// `~`, `null`, an empty plain scalar.
    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar(Scalar { text, style: ScalarStyle::Plain })
            if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// The text of a scalar (of any style); `None` for null, sequences and mappings.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(scalar) if !self.is_null() => Some(&scalar.text),
            _ => None,
        }
    }

    pub fn as_scalar(&self) -> Option<&Scalar> {
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
        match scalar.text.as_str() {
            "true" | "True" | "TRUE" => Some(true),
            "false" | "False" | "FALSE" => Some(false),
            _ => None,
        }
    }

    /// An unsigned integer written plainly or quoted.
    pub fn as_u64(&self) -> Option<u64> {
        self.as_str()?.trim().parse().ok()
    }

    pub fn as_sequence(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Sequence(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_mapping(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Mapping(entries) => Some(entries),
            _ => None,
        }
    }

    /// The value of a mapping key, if this is a mapping holding it.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    /// The entry (key node and value node) of a mapping key.
    pub fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        self.as_mapping()?
            .iter()
            .find(|(k, _)| k.is_key(key))
            .map(|(k, v)| (k, v))
    }

    /// Whether this is the scalar `key` (`as_str() == Some(key)`). The
    /// text is compared before checking for null, since most keys a lookup
    /// meets are not `key`.
    pub(crate) fn is_key(&self, key: &str) -> bool {
        matches!(&self.value, Value::Scalar(scalar) if scalar.text == key) && !self.is_null()
    }

    /// Follows a path of mapping keys.
    pub fn path(&self, keys: &[&str]) -> Option<&Node> {
        keys.iter().try_fold(self, |node, key| node.get(key))
    }

    /// Iterates `(key text, value)` over a mapping; empty for anything else.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &Node)> {
        self.as_mapping()
            .unwrap_or_default()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str()?, v)))
    }

    /// Iterates the items of a sequence; empty for anything else.
    pub fn items(&self) -> impl Iterator<Item = &Node> {
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
