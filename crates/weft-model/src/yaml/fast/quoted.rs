//! Quoted scalars on one line.

use super::Reader;
use crate::span::Span;
use crate::yaml::node::{Node, Scalar, ScalarStyle, Value};

impl<'t> Reader<'t> {
    /// A quoted scalar on one line at the cursor; the cursor ends after it.
    /// Its text is a slice of the source unless it holds an escape.
    pub(super) fn quoted(&mut self) -> Option<Node<'t>> {
        let quote = self.peek();
        let start = self.pos;
        let mut text = std::mem::take(&mut self.scratch);
        text.clear();
        let mut escaped = false;
        let mut i = start + 1;
        let mut run = i;
        loop {
            match self.bytes.get(i).copied().unwrap_or(0) {
                b'\n' | 0 => return None,
                b'\'' if quote == b'\'' => {
                    if self.bytes.get(i + 1) != Some(&b'\'') {
                        break;
                    }
                    // `''`: the run up to here and one quote.
                    escaped = true;
                    text.push_str(&self.text[run..=i]);
                    i += 2;
                    run = i;
                    continue;
                }
                b'"' if quote == b'"' => break,
                b'\\' if quote == b'"' => {
                    escaped = true;
                    text.push_str(&self.text[run..i]);
                    i += 1 + escape(&self.text[i + 1..], &mut text)?;
                    run = i;
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
        // Only an escaped scalar is put together; the rest is a slice.
        if escaped {
            text.push_str(&self.text[run..i]);
        }
        self.pos = i + 1;
        self.count(1)?;
        let node = Node {
            value: Value::Scalar(Scalar {
                text: if escaped {
                    self.arena.alloc_str(&text)
                } else {
                    &self.text[start + 1..i]
                },
                style: ScalarStyle::Quoted,
            }),
            span: Span::new(self.location(start), self.here()),
            tag: None,
        };
        self.scratch = text;
        Some(node)
    }
}

/// Decodes the escape after a `\` in a double-quoted scalar onto `out`;
/// how many bytes it took, or `None` for one the full reader should judge.
fn escape(rest: &str, out: &mut String) -> Option<usize> {
    let decoded = match rest.as_bytes().first()? {
        b'0' => '\0',
        b'a' => '\u{7}',
        b'b' => '\u{8}',
        b't' => '\t',
        b'n' => '\n',
        b'v' => '\u{b}',
        b'f' => '\u{c}',
        b'r' => '\r',
        b'e' => '\u{1b}',
        b' ' => ' ',
        b'"' => '"',
        b'/' => '/',
        b'\\' => '\\',
        b'N' => '\u{85}',
        b'_' => '\u{a0}',
        b'L' => '\u{2028}',
        b'P' => '\u{2029}',
        b'x' | b'u' | b'U' => {
            let digits = match rest.as_bytes()[0] {
                b'x' => 2,
                b'u' => 4,
                _ => 8,
            };
            let hex = rest.get(1..1 + digits)?;
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            out.push(char::from_u32(u32::from_str_radix(hex, 16).ok()?)?);
            return Some(1 + digits);
        }
        _ => return None,
    };
    out.push(decoded);
    Some(1)
}
