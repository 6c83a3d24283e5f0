//! Flow collections (`[…]`, `{…}`) and the plain scalars inside them.

use super::Reader;
use crate::span::{Location, Span};
use crate::yaml::node::{Node, ScalarStyle, Value};
use crate::yaml::parse::{apply_merge_keys, is_merge};

impl<'t> Reader<'t> {
    /// A flow collection at the cursor, inside a block indented to
    /// `parent`; the cursor ends after its closing bracket.
    pub(super) fn flow(&mut self, parent: isize, start: Option<Location>) -> Option<Node<'t>> {
        let (items, entries) = (self.items.len(), self.entries.len());
        let node = self.flow_collection(parent, start);
        // Nothing is left on the stacks, whether or not it was read.
        self.items.truncate(items);
        self.entries.truncate(entries);
        node
    }

    /// The collection of [`Reader::flow`], its items or entries gathered on
    /// the reader's stacks, as a block collection's are.
    fn flow_collection(&mut self, parent: isize, start: Option<Location>) -> Option<Node<'t>> {
        self.enter()?;
        self.count(1)?;
        let open = self.peek();
        let start = start.unwrap_or_else(|| self.here());
        self.pos += 1;
        let value = if open == b'[' {
            let base = self.items.len();
            loop {
                self.flow_space(parent)?;
                if self.peek() == b']' {
                    break;
                }
                let item = self.flow_node(parent, false)?;
                self.items.push(item);
                self.flow_space(parent)?;
                match self.peek() {
                    b',' => self.pos += 1,
                    b']' => break,
                    _ => return None,
                }
            }
            Value::Sequence(self.arena.slice(&self.items[base..]))
        } else {
            let base = self.entries.len();
            // As in a block mapping: whether a merge key was read.
            let mut merges = false;
            loop {
                self.flow_space(parent)?;
                if self.peek() == b'}' {
                    // saphyr ends a mapping closed after a trailing comma at
                    // the comma.
                    if self.entries.len() > base {
                        return None;
                    }
                    break;
                }
                let key = self.flow_node(parent, true)?;
                merges |= is_merge(&key);
                if self.peek() != b':' || !self.blank_at(1) {
                    return None;
                }
                self.pos += 1;
                self.flow_space(parent)?;
                if matches!(self.peek(), b',' | b'}') {
                    return None;
                }
                let value = self.flow_node(parent, false)?;
                self.entries.push((key, value));
                self.flow_space(parent)?;
                match self.peek() {
                    b',' => self.pos += 1,
                    b'}' => break,
                    _ => return None,
                }
            }
            let entries = &self.entries[base..];
            Value::Mapping(if merges {
                self.arena.slice(&apply_merge_keys(entries))
            } else {
                self.arena.slice(entries)
            })
        };
        // saphyr ends the closing bracket's token after the blanks and the
        // comment that follow it on its line.
        self.pos += 1;
        self.skip_spaces();
        if self.peek() == b'#' && self.after_blank() {
            self.skip_comment();
        }
        self.depth -= 1;
        Some(Node {
            value,
            span: Span::new(start, self.here()),
            tag: None,
        })
    }

    /// Spaces, comments and line breaks inside a flow collection; every
    /// line it goes on to must be indented past `parent + 1`.
    pub(super) fn flow_space(&mut self, parent: isize) -> Option<()> {
        loop {
            self.skip_spaces();
            match self.peek() {
                b'#' if self.after_blank() => self.skip_comment(),
                b'\n' => {
                    self.pos += 1;
                    self.line += 1;
                    self.line_start = self.pos;
                    self.skip_spaces();
                    let column = (self.pos - self.line_start) as isize;
                    if !matches!(self.peek(), b'\n') && column < parent + 2 {
                        return None;
                    }
                }
                _ => return Some(()),
            }
        }
    }

    /// A node inside a flow collection: a scalar, an alias or a nested
    /// collection. A key is followed directly by its `:`; nothing else is.
    pub(super) fn flow_node(&mut self, parent: isize, key: bool) -> Option<Node<'t>> {
        let node = match self.peek() {
            b'[' | b'{' => {
                if key {
                    return None;
                }
                self.flow(parent, None)?
            }
            b'"' | b'\'' => self.quoted()?,
            b'*' if !key => self.alias()?,
            _ => {
                let start = self.pos;
                let end = self.plain_flow(key)?;
                self.pos = end;
                self.count(1)?;
                Node::scalar(
                    &self.text[start..end],
                    ScalarStyle::Plain,
                    Span::new(self.location(start), self.location(end)),
                )
            }
        };
        if !key {
            let before = self.pos;
            self.skip_spaces();
            if self.peek() == b':' {
                return None;
            }
            self.pos = before;
        }
        Some(node)
    }

    /// Whether a plain scalar may start at the cursor: not on an
    /// indicator, nor on a `-`, `?` or `:` that a blank or a flow indicator
    /// follows (YAML's rule, as saphyr reads it).
    pub(super) fn plain_may_start(&self) -> bool {
        let first = self.peek();
        if matches!(
            first,
            b',' | b'['
                | b']'
                | b'{'
                | b'}'
                | b'#'
                | b'&'
                | b'*'
                | b'!'
                | b'|'
                | b'>'
                | b'\''
                | b'"'
                | b'%'
                | b'@'
                | b'`'
                | b'\n'
                | 0
        ) {
            return false;
        }
        let alone = self.blank_at(1) || is_flow_indicator(self.peek_at(1));
        !matches!(first, b'-' | b'?' | b':') || !alone
    }

    /// Where a plain scalar inside a flow collection ends. Anything with a
    /// `:` in it other than a key's is left to the full reader.
    pub(super) fn plain_flow(&self, key: bool) -> Option<usize> {
        if !self.plain_may_start() || matches!(self.peek(), b':' | b'?') {
            return None;
        }
        let mut i = self.pos;
        let mut end = self.pos;
        loop {
            match self.bytes.get(i).copied().unwrap_or(0) {
                b',' | b'[' | b']' | b'{' | b'}' | b'\n' | 0 => return Some(end),
                b' ' => {}
                b'#' if self.bytes[i - 1] == b' ' => return Some(end),
                b'-' if i > self.pos
                    && self.bytes[i - 1] == b' '
                    && is_flow_indicator(self.byte(i + 1)) =>
                {
                    return None;
                }
                b':' if key && self.bytes.get(i + 1) == Some(&b' ') && end == i => {
                    return Some(end);
                }
                b':' => return None,
                _ => end = i + 1,
            }
            i += 1;
        }
    }
}

pub(super) fn is_flow_indicator(byte: u8) -> bool {
    matches!(byte, b',' | b'[' | b']' | b'{' | b'}')
}
