//! Block collections and block scalars.

use super::flow::is_flow_indicator;
use super::{At, MAX_DEPTH, MAX_KEY, Place, Reader};
use crate::span::{Location, Span};
use crate::yaml::node::{Node, Scalar, ScalarStyle, Value};
use crate::yaml::parse::{apply_merge_keys, is_merge};

impl<'t> Reader<'t> {
    /// A block mapping whose first key is at the cursor, at `column`.
    pub(super) fn mapping(&mut self, column: usize, start: Option<Location>) -> Option<Node<'t>> {
        let base = self.entries.len();
        let node = self.mapping_above(base, column, start);
        // Nothing is left on the stack, whether or not it was read.
        self.entries.truncate(base);
        node
    }

    /// The mapping of [`Reader::mapping`], its entries gathered on the
    /// stack of entries above `base` (see `Reader::entries`).
    fn mapping_above(
        &mut self,
        base: usize,
        column: usize,
        start: Option<Location>,
    ) -> Option<Node<'t>> {
        self.enter()?;
        self.count(1)?;
        let start = start.unwrap_or_else(|| self.here());
        // Whether a merge key was read: nearly no mapping has one, and
        // looking for one once all are read goes over every key again.
        let mut merges = false;
        loop {
            let key = self.key()?;
            merges |= is_merge(&key);
            let colon = self.here();
            self.pos += 1;
            self.skip_spaces();
            let value = if matches!(self.peek(), b'\n' | 0)
                || (self.peek() == b'#' && self.after_blank())
            {
                self.skip_comment();
                match self.next_line()? {
                    At::Content(next) if next > column => {
                        self.node(column as isize, next, Place::LineStart, None)?
                    }
                    At::Content(next)
                        if next == column && self.peek() == b'-' && self.blank_at(1) =>
                    {
                        self.sequence(column, true, None)?
                    }
                    _ => {
                        self.count(1)?;
                        Node::scalar("", ScalarStyle::Plain, Span::point(colon))
                    }
                }
            } else {
                let here = self.pos - self.line_start;
                self.node(column as isize, here, Place::AfterColon, None)?
            };
            self.entries.push((key, value));
            match self.at {
                At::Content(next) if next == column => {
                    if self.peek() == b'-' && self.blank_at(1) {
                        return None;
                    }
                }
                At::Content(next) if next > column => return None,
                _ => break,
            }
        }
        self.depth -= 1;
        let entries = &self.entries[base..];
        Some(Node {
            value: Value::Mapping(if merges {
                self.arena.slice(&apply_merge_keys(entries))
            } else {
                self.arena.slice(entries)
            }),
            span: Span::new(start, self.next_token(column).max(start)),
            tag: None,
        })
    }

    /// A mapping key at the cursor, plain or quoted, on one line; leaves the
    /// cursor on its `:`.
    pub(super) fn key(&mut self) -> Option<Node<'t>> {
        let start = self.pos;
        let key = match self.peek() {
            b'"' | b'\'' => {
                let key = self.quoted()?;
                self.skip_spaces();
                key
            }
            _ => {
                let (end, is_key) = self.plain_block()?;
                if !is_key {
                    return None;
                }
                let key = Node::scalar(
                    &self.text[start..end],
                    ScalarStyle::Plain,
                    Span::new(self.location(start), self.location(end)),
                );
                self.count(1)?;
                self.pos = end;
                self.skip_spaces();
                key
            }
        };
        if self.pos - start > MAX_KEY || self.peek() != b':' || !self.blank_at(1) {
            return None;
        }
        Some(key)
    }

    /// A block sequence whose first `-` is at the cursor, at `column`.
    /// An indentless sequence (a mapping value at the mapping's column)
    /// starts where its first entry does.
    pub(super) fn sequence(
        &mut self,
        column: usize,
        indentless: bool,
        start: Option<Location>,
    ) -> Option<Node<'t>> {
        let base = self.items.len();
        let node = self.sequence_above(base, column, indentless, start);
        self.items.truncate(base);
        node
    }

    /// The sequence of [`Reader::sequence`], its items gathered on the
    /// stack of items above `base` (see `Reader::items`).
    fn sequence_above(
        &mut self,
        base: usize,
        column: usize,
        indentless: bool,
        start: Option<Location>,
    ) -> Option<Node<'t>> {
        self.enter()?;
        self.count(1)?;
        let mut start = start.or_else(|| (!indentless).then(|| self.here()));
        loop {
            self.pos += 1;
            self.skip_spaces();
            let item = if matches!(self.peek(), b'\n' | 0)
                || (self.peek() == b'#' && self.after_blank())
            {
                self.skip_comment();
                let empty = self.here();
                start.get_or_insert(empty);
                match self.next_line()? {
                    At::Content(next) if next > column => {
                        self.node(column as isize, next, Place::LineStart, None)?
                    }
                    _ => {
                        self.count(1)?;
                        Node::scalar("", ScalarStyle::Plain, Span::point(empty))
                    }
                }
            } else {
                start.get_or_insert(self.here());
                let here = self.pos - self.line_start;
                self.node(column as isize, here, Place::AfterDash, None)?
            };
            self.items.push(item);
            match self.at {
                At::Content(next) if next == column => {
                    if self.peek() != b'-' || !self.blank_at(1) {
                        if indentless {
                            break;
                        }
                        return None;
                    }
                }
                At::Content(next) if next > column => return None,
                _ => break,
            }
        }
        self.depth -= 1;
        let start = start?;
        Some(Node {
            value: Value::Sequence(self.arena.slice(&self.items[base..])),
            span: Span::new(start, self.next_token(column).max(start)),
            tag: None,
        })
    }

    pub(super) fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth < MAX_DEPTH).then_some(())
    }

    /// A plain scalar in block context at the cursor, on its line: where it
    /// ends, and whether a `: ` follows (it is a key). The cursor does not
    /// move.
    pub(super) fn plain_block(&self) -> Option<(usize, bool)> {
        if !self.plain_may_start() {
            return None;
        }
        let mut i = self.pos;
        let mut end = self.pos;
        loop {
            match self.bytes.get(i).copied().unwrap_or(0) {
                b'\n' | 0 => return Some((end, false)),
                b' ' => {}
                b'#' if self.bytes[i - 1] == b' ' => return Some((end, false)),
                // saphyr checks each word as if it started the scalar.
                b'-' if i > self.pos
                    && self.bytes[i - 1] == b' '
                    && is_flow_indicator(self.byte(i + 1)) =>
                {
                    return None;
                }
                b':' if matches!(
                    self.bytes.get(i + 1).copied().unwrap_or(0),
                    b' ' | b'\n' | 0
                ) =>
                {
                    return Some((end, true));
                }
                _ => end = i + 1,
            }
            i += 1;
        }
    }

    /// A literal (`|`) or folded (`>`) scalar; the cursor is on its
    /// indicator. `parent` is the indentation of the block holding it.
    pub(super) fn block_scalar(&mut self, parent: isize) -> Option<Node<'t>> {
        if parent < 0 {
            return None;
        }
        let literal = self.peek() == b'|';
        self.pos += 1;
        let chomping = match self.peek() {
            b'-' | b'+' => {
                self.pos += 1;
                self.bytes[self.pos - 1]
            }
            _ => b' ',
        };
        if !self.blank_at(0) {
            return None;
        }
        self.end_of_line()?;
        if self.peek() != b'\n' {
            return None;
        }
        self.pos += 1;
        self.line += 1;
        self.line_start = self.pos;
        self.skip_spaces();
        let indent = self.pos - self.line_start;
        if indent as isize <= parent || matches!(self.peek(), b'\n' | 0) {
            return None;
        }
        let start = self.here();
        let mut text = std::mem::take(&mut self.scratch);
        text.clear();
        let mut empty_lines = 0usize;
        let mut first = true;
        // The cursor is on a content line's first character, at `indent`.
        loop {
            let content_start = self.pos;
            if !literal && self.peek() == b' ' {
                return None;
            }
            while !matches!(self.peek(), b'\n' | 0) {
                self.pos += 1;
            }
            if self.peek() == 0 {
                // No line break at the end of the text: the full reader.
                return None;
            }
            if !first {
                if literal || empty_lines > 0 {
                    text.push('\n');
                    for _ in 0..empty_lines {
                        text.push('\n');
                    }
                    if !literal {
                        text.pop();
                    }
                } else {
                    text.push(' ');
                }
            }
            first = false;
            text.push_str(&self.text[content_start..self.pos]);
            // On to the next content line, counting empty ones.
            empty_lines = 0;
            loop {
                self.pos += 1;
                self.line += 1;
                self.line_start = self.pos;
                while self.peek() == b' ' && self.pos - self.line_start < indent {
                    self.pos += 1;
                }
                match self.peek() {
                    b'\n' if self.pos == self.line_start => empty_lines += 1,
                    // A line of spaces only: the full reader.
                    b'\n' => return None,
                    _ => break,
                }
            }
            let column = self.pos - self.line_start;
            if self.peek() == 0 && column > 0 {
                // An unterminated last line of spaces: the full reader.
                return None;
            }
            if column < indent || self.peek() == 0 {
                break;
            }
        }
        match chomping {
            b'-' => {}
            b'+' => {
                text.push('\n');
                for _ in 0..empty_lines {
                    text.push('\n');
                }
            }
            _ => text.push('\n'),
        }
        self.count(1)?;
        // The scalar ends where the scanner stopped: after at most `indent`
        // spaces of the line that ended it (the cursor is there).
        let node = Node {
            value: Value::Scalar(Scalar {
                text: self.arena.alloc_str(&text),
                style: ScalarStyle::Block,
            }),
            span: Span::new(start, self.here()),
            tag: None,
        };
        self.scratch = text;
        let column = self.pos - self.line_start;
        match self.peek() {
            0 => self.at = At::Eof,
            b'#' => {
                self.skip_comment();
                self.next_line()?;
            }
            b'-' if column == 0 && self.marker(b'-') => self.at = At::DocumentStart,
            b'.' | b'%' if column == 0 => return None,
            _ => self.at = At::Content(column),
        }
        Some(node)
    }
}
