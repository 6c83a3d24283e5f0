//! A serde deserializer over the spanned tree, so typed config (weft.yaml) is
//! decoded with serde derive while every error keeps the span of the node
//! that caused it.

use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess,
    Visitor,
};

use super::node::{Node, ScalarStyle, Value};
use crate::span::Span;

/// A value that does not fit the expected type, with where it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DecodeError {
    pub message: String,
    pub span: Option<Span>,
}

impl DecodeError {
    fn at(mut self, span: Span) -> Self {
        self.span.get_or_insert(span);
        self
    }
}

impl de::Error for DecodeError {
    fn custom<T: fmt::Display>(message: T) -> Self {
        DecodeError {
            message: message.to_string(),
            span: None,
        }
    }
}

/// Decodes a node into `T`, reporting every key `T` does not know through
/// `unknown` (its dotted path and the span of the key) rather than failing.
pub fn from_node<T: DeserializeOwned>(
    node: &Node,
    mut unknown: impl FnMut(String, Span),
) -> Result<T, DecodeError> {
    let mut ignored = Vec::new();
    let value = serde_ignored::deserialize(NodeDeserializer(node), |path| {
        // serde_ignored writes `?` for an `Option` on the way; YAML has none.
        let path: Vec<String> = path
            .to_string()
            .split('.')
            .filter(|part| *part != "?")
            .map(str::to_string)
            .collect();
        ignored.push(path.join("."));
    })?;
    for path in ignored {
        let span = key_span(node, &path).unwrap_or(node.span);
        unknown(path, span);
    }
    Ok(value)
}

/// Finds the key node at a serde_ignored path such as `services.api.colour`.
fn key_span(root: &Node, path: &str) -> Option<Span> {
    let mut node = root;
    let mut span = None;
    for part in path.split('.').filter(|p| !p.is_empty()) {
        match &node.value {
            Value::Mapping(entries) => {
                let (key, value) = entries.iter().find(|(k, _)| k.is_key(part))?;
                span = Some(key.span);
                node = value;
            }
            Value::Sequence(items) => {
                node = items.get(part.trim_start_matches('?').parse::<usize>().ok()?)?;
                span = Some(node.span);
            }
            Value::Scalar(_) => return span,
        }
    }
    span
}

#[derive(Clone, Copy)]
struct NodeDeserializer<'a>(&'a Node<'a>);

impl<'a> NodeDeserializer<'a> {
    fn text(&self) -> Result<&'a str, DecodeError> {
        match &self.0.value {
            Value::Scalar(scalar) => Ok(scalar.text),
            _ => Err(de::Error::invalid_type(self.unexpected(), &"a scalar")),
        }
    }

    fn unexpected(&self) -> de::Unexpected<'a> {
        match &self.0.value {
            _ if self.0.is_null() => de::Unexpected::Unit,
            Value::Scalar(scalar) => de::Unexpected::Str(scalar.text),
            Value::Sequence(_) => de::Unexpected::Seq,
            Value::Mapping(_) => de::Unexpected::Map,
        }
    }

    fn parse<T: std::str::FromStr>(&self, expected: &str) -> Result<T, DecodeError> {
        let text = self.text()?;
        text.trim()
            .parse()
            .map_err(|_| de::Error::invalid_value(de::Unexpected::Str(text), &expected))
    }
}

macro_rules! number {
    ($($method:ident => $visit:ident: $ty:ty, $what:literal;)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
            let value: $ty = self.parse($what).map_err(|e: DecodeError| e.at(self.0.span))?;
            visitor.$visit::<DecodeError>(value).map_err(|e: DecodeError| e.at(self.0.span))
        }
    )*};
}

impl<'de> Deserializer<'de> for NodeDeserializer<'_> {
    type Error = DecodeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        let span = self.0.span;
        let result = match &self.0.value {
            _ if self.0.is_null() => visitor.visit_unit(),
            Value::Scalar(scalar) if scalar.style == ScalarStyle::Plain => {
                let text = scalar.text;
                if let Some(b) = self.0.as_bool() {
                    visitor.visit_bool(b)
                } else if let Ok(n) = text.parse::<u64>() {
                    visitor.visit_u64(n)
                } else if let Ok(n) = text.parse::<i64>() {
                    visitor.visit_i64(n)
                } else if let Ok(n) = text.parse::<f64>() {
                    visitor.visit_f64(n)
                } else {
                    visitor.visit_str(text)
                }
            }
            Value::Scalar(scalar) => visitor.visit_str(scalar.text),
            Value::Sequence(items) => visitor.visit_seq(Sequence {
                items: items.iter(),
            }),
            Value::Mapping(entries) => visitor.visit_map(Mapping {
                entries: entries.iter(),
                value: None,
            }),
        };
        result.map_err(|e: DecodeError| e.at(span))
    }

    number! {
        deserialize_u8 => visit_u8: u8, "an integer from 0 to 255";
        deserialize_u16 => visit_u16: u16, "an integer from 0 to 65535";
        deserialize_u32 => visit_u32: u32, "a non-negative integer";
        deserialize_u64 => visit_u64: u64, "a non-negative integer";
        deserialize_i8 => visit_i8: i8, "an integer";
        deserialize_i16 => visit_i16: i16, "an integer";
        deserialize_i32 => visit_i32: i32, "an integer";
        deserialize_i64 => visit_i64: i64, "an integer";
        deserialize_f32 => visit_f32: f32, "a number";
        deserialize_f64 => visit_f64: f64, "a number";
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.0.as_bool() {
            Some(b) => visitor.visit_bool(b),
            None => Err(de::Error::invalid_type(self.unexpected(), &"true or false")),
        }
        .map_err(|e: DecodeError| e.at(self.0.span))
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match &self.0.value {
            Value::Scalar(scalar) if !self.0.is_null() => visitor.visit_str(scalar.text),
            _ => Err(de::Error::invalid_type(self.unexpected(), &visitor)),
        }
        .map_err(|e: DecodeError| e.at(self.0.span))
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        if self.0.is_null() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
        .map_err(|e: DecodeError| e.at(self.0.span))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        let span = self.0.span;
        match &self.0.value {
            Value::Scalar(scalar) => visitor.visit_enum(
                IntoDeserializer::<DecodeError>::into_deserializer(scalar.text),
            ),
            Value::Mapping(entries) if entries.len() == 1 => {
                let (key, value) = &entries[0];
                visitor.visit_enum(Enum { key, value })
            }
            _ => Err(de::Error::invalid_type(
                self.unexpected(),
                &"a name or a one-key mapping",
            )),
        }
        .map_err(|e: DecodeError| e.at(span))
    }

    serde::forward_to_deserialize_any! {
        i128 u128 bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

struct Sequence<'a> {
    items: std::slice::Iter<'a, Node<'a>>,
}

impl<'de> SeqAccess<'de> for Sequence<'_> {
    type Error = DecodeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DecodeError> {
        self.items
            .next()
            .map(|node| seed.deserialize(NodeDeserializer(node)))
            .transpose()
    }
}

struct Mapping<'a> {
    entries: std::slice::Iter<'a, (Node<'a>, Node<'a>)>,
    value: Option<&'a Node<'a>>,
}

impl<'de> MapAccess<'de> for Mapping<'_> {
    type Error = DecodeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DecodeError> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        self.value = Some(value);
        seed.deserialize(NodeDeserializer(key)).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, DecodeError> {
        let value = self
            .value
            .take()
            .ok_or_else(|| <DecodeError as de::Error>::custom("value requested before key"))?;
        seed.deserialize(NodeDeserializer(value))
    }
}

struct Enum<'a> {
    key: &'a Node<'a>,
    value: &'a Node<'a>,
}

impl<'de, 'a> de::EnumAccess<'de> for Enum<'a> {
    type Error = DecodeError;
    type Variant = NodeDeserializer<'a>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Self::Variant), DecodeError> {
        let variant = seed.deserialize(NodeDeserializer(self.key))?;
        Ok((variant, NodeDeserializer(self.value)))
    }
}

impl<'de> de::VariantAccess<'de> for NodeDeserializer<'_> {
    type Error = DecodeError;

    fn unit_variant(self) -> Result<(), DecodeError> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, DecodeError> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        self.deserialize_any(visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        self.deserialize_any(visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::{Arena, parse_one};

    #[derive(Debug, serde::Deserialize)]
    struct Config {
        name: String,
        port: u16,
        #[serde(default)]
        tags: Vec<String>,
    }

    #[test]
    fn decodes_and_reports_unknown_keys_with_spans() {
        let arena = Arena::new();
        let node = parse_one(&arena, "name: 42\nport: 8080\ncolour: red\ntags: [a]\n").unwrap();
        let mut unknown = Vec::new();
        let config: Config =
            from_node(&node, |path, span| unknown.push((path, span.start.line))).unwrap();
        assert_eq!(config.name, "42");
        assert_eq!(config.port, 8080);
        assert_eq!(config.tags, ["a"]);
        assert_eq!(unknown, [("colour".to_string(), 3)]);
    }

    #[derive(Debug, serde::Deserialize)]
    struct Outer {
        inner: Option<Inner>,
    }

    #[derive(Debug, serde::Deserialize)]
    struct Inner {
        #[expect(dead_code, reason = "only its decoding matters")]
        bucket: String,
    }

    #[test]
    fn unknown_keys_inside_optional_sections_are_located() {
        let arena = Arena::new();
        let node = parse_one(&arena, "inner:\n  bucket: b\n  wat: 2\n").unwrap();
        let mut unknown = Vec::new();
        let outer: Outer = from_node(&node, |path, span| {
            unknown.push((path, span.start.line, span.start.column));
        })
        .unwrap();
        assert!(outer.inner.is_some());
        assert_eq!(unknown, [("inner.wat".to_string(), 3, 3)]);
    }

    #[test]
    fn type_errors_point_at_the_value() {
        let arena = Arena::new();
        let node = parse_one(&arena, "name: x\nport: 99999\n").unwrap();
        let error = from_node::<Config>(&node, |_, _| {}).unwrap_err();
        assert_eq!(
            error.span.map(|s| (s.start.line, s.start.column)),
            Some((2, 7))
        );
        assert!(error.message.contains("65535"), "{}", error.message);
    }
}
