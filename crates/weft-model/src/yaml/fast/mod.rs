//! A fast reader for the block YAML that compose files and Kubernetes
//! manifests are almost always written in.
//!
//! [`parse`] builds the same tree as the full reader (saphyr's event stream,
//! in `parse.rs`), spans included, or gives up with `None` on anything
//! outside the subset it knows: tabs, carriage returns and byte order marks,
//! directives, multi-line plain and quoted scalars, complex keys, global
//! tags, folded scalars with more-indented lines, anything the full reader
//! might refuse. The caller then reads the text with the full reader, so
//! giving up costs time, never correctness. It is never an error here.
//!
//! The two are checked against each other on random documents and their
//! mutants (`tests/yaml_fast.rs`), by the `yaml_fast` fuzz target, and on
//! every YAML file under some directories by the `yaml-differential` example.

use std::collections::HashMap;

mod block;
mod flow;
mod quoted;

use super::node::{Arena, Node, Scalar, ScalarStyle, Value};
use super::parse::count_nodes;
use crate::span::{Location, Span};

/// Past this many nodes (aliases expanded) the text is left to the full
/// reader, which refuses a document at twice as many and says so.
const MAX_NODES: usize = 1_000_000;

/// Collections nested deeper than this are left to the full reader, which
/// refuses them at 256.
const MAX_DEPTH: usize = 200;

/// saphyr drops a simple key's candidate after 1,024 characters; longer keys
/// are left to it.
const MAX_KEY: usize = 1_000;

/// The documents of `text`, or `None` when it is outside the subset.
pub(super) fn parse<'t>(arena: &'t Arena, text: &'t str) -> Option<Vec<Node<'t>>> {
    let ascii = text.is_ascii();
    // Without a short cut, so that it compiles to vector instructions.
    let refused = text.bytes().fold(false, |refused, b| {
        refused | ((b < 0x20) & (b != b'\n')) | (b == 0x7f)
    });
    if refused {
        return None;
    }
    // Line breaks and marks YAML (or saphyr) treats specially.
    if !ascii
        && text.chars().any(|c| {
            matches!(
                c,
                '\u{80}'
                    ..='\u{9f}' | '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
            )
        })
    {
        return None;
    }
    let mut reader = Reader {
        arena,
        text,
        bytes: text.as_bytes(),
        pos: 0,
        line: 1,
        line_start: 0,
        ascii,
        anchor_ids: HashMap::new(),
        anchored: Vec::new(),
        entries: Vec::new(),
        items: Vec::new(),
        scratch: String::new(),
        nodes: 0,
        depth: 0,
        at: At::Eof,
    };
    reader.documents()
}

/// What the next line with content starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    /// Content at this column (the cursor is on it).
    Content(usize),
    /// A `---` marker at column 0 (the cursor is on it).
    DocumentStart,
    Eof,
}

/// Where a node starts: what may begin there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// First on its line: anything.
    LineStart,
    /// After `- ` on the same line: anything, collections included.
    AfterDash,
    /// After `key: ` on the same line: no block collection.
    AfterColon,
}

/// A node's anchor and tag, with where they start and end.
#[derive(Default)]
struct Properties<'t> {
    anchor: Option<usize>,
    tag: Option<&'t str>,
    start: Option<Location>,
    end: Option<Location>,
}

struct Reader<'t> {
    /// Where the tree is built; scalars written as they read (plain, or
    /// quoted without an escape) are slices of `text` instead.
    arena: &'t Arena,
    text: &'t str,
    bytes: &'t [u8],
    pos: usize,
    /// The 1-based line of `pos`, and the offset that line starts at.
    line: u32,
    line_start: usize,
    ascii: bool,
    /// Each anchor name's latest definition, by the order definitions
    /// start (as saphyr numbers them), and the nodes of those that ended.
    anchor_ids: HashMap<&'t str, usize>,
    anchored: Vec<Option<Node<'t>>>,
    /// The entries of the mappings being read, and the items of the
    /// sequences, innermost last: each collection's are copied off the top
    /// into a slice of their exact size in the arena once it ends, rather
    /// than gathered in a vector of their own that grows as they come.
    entries: Vec<(Node<'t>, Node<'t>)>,
    items: Vec<Node<'t>>,
    /// Where a scalar that is not a slice of the text (an escape, a block
    /// scalar) is put together before it is copied into the arena.
    scratch: String,
    nodes: usize,
    depth: usize,
    /// Where the next line with content is, once a node has been read.
    at: At,
}

impl<'t> Reader<'t> {
    fn peek(&self) -> u8 {
        self.bytes.get(self.pos).copied().unwrap_or(0)
    }

    fn byte(&self, at: usize) -> u8 {
        self.bytes.get(at).copied().unwrap_or(0)
    }

    fn peek_at(&self, offset: usize) -> u8 {
        self.bytes.get(self.pos + offset).copied().unwrap_or(0)
    }

    /// Whether the byte at `offset` from the cursor is a space, a line
    /// break or the end of the text.
    fn blank_at(&self, offset: usize) -> bool {
        matches!(self.peek_at(offset), b' ' | b'\n' | 0)
    }

    /// The location of `offset`, which must be on the cursor's line.
    #[inline]
    fn location(&self, offset: usize) -> Location {
        let column = if self.ascii {
            offset - self.line_start
        } else {
            self.text[self.line_start..offset].chars().count()
        };
        Location {
            offset,
            line: self.line,
            column: column as u32 + 1,
        }
    }

    fn here(&self) -> Location {
        self.location(self.pos)
    }

    /// Where saphyr puts the end of the stream: after a final line break,
    /// or (forcing one) at the start of the last line when there is none.
    /// Only once the cursor is at the end, on the last line.
    fn end_of_stream(&self) -> Location {
        debug_assert_eq!(self.pos, self.bytes.len());
        Location {
            offset: self.line_start,
            line: self.line,
            column: 1,
        }
    }

    /// Where a block collection indented to `indent` that `self.at` ended
    /// finishes: the next token. At the end of a text whose last line has
    /// no line break, saphyr closes the collections indented past that
    /// line's end there, and the rest where it forces a line break.
    fn next_token(&self, indent: usize) -> Location {
        let here = self.here();
        match self.at {
            At::Eof if indent < here.column as usize => self.end_of_stream(),
            _ => here,
        }
    }

    fn skip_spaces(&mut self) {
        while self.peek() == b' ' {
            self.pos += 1;
        }
    }

    /// After a node on its line: spaces and a comment up to the line break.
    /// `None` when something else follows.
    fn end_of_line(&mut self) -> Option<()> {
        self.skip_spaces();
        match self.peek() {
            b'#' if self.after_blank() => self.skip_comment(),
            b'\n' | 0 => {}
            _ => return None,
        }
        Some(())
    }

    /// Whether the cursor follows a space or starts its line: where a `#`
    /// starts a comment.
    fn after_blank(&self) -> bool {
        self.pos == self.line_start || self.bytes[self.pos - 1] == b' '
    }

    fn skip_comment(&mut self) {
        while !matches!(self.peek(), b'\n' | 0) {
            self.pos += 1;
        }
    }

    /// From a line break (or the end), on to the next line with content;
    /// sets and returns `self.at`.
    fn next_line(&mut self) -> Option<At> {
        loop {
            match self.peek() {
                0 if self.pos >= self.bytes.len() => {
                    self.at = At::Eof;
                    return Some(self.at);
                }
                b'\n' => {
                    self.pos += 1;
                    self.line += 1;
                    self.line_start = self.pos;
                }
                _ => return None,
            }
            self.skip_spaces();
            let column = self.pos - self.line_start;
            match self.peek() {
                b'\n' => {}
                b'#' => self.skip_comment(),
                0 => {}
                b'-' if column == 0 && self.marker(b'-') => {
                    self.at = At::DocumentStart;
                    return Some(self.at);
                }
                // `...`, a directive: the full reader.
                b'.' if column == 0 && self.marker(b'.') => return None,
                b'%' if column == 0 => return None,
                _ => {
                    self.at = At::Content(column);
                    return Some(self.at);
                }
            }
        }
    }

    /// Whether the cursor is on `---` or `...` followed by a blank.
    fn marker(&self, byte: u8) -> bool {
        self.peek() == byte
            && self.peek_at(1) == byte
            && self.peek_at(2) == byte
            && self.blank_at(3)
    }

    /// The rest of the line, then the next line with content.
    fn finish_line(&mut self) -> Option<At> {
        self.end_of_line()?;
        self.next_line()
    }

    fn count(&mut self, nodes: usize) -> Option<()> {
        self.nodes += nodes;
        (self.nodes <= MAX_NODES).then_some(())
    }

    fn documents(&mut self) -> Option<Vec<Node<'t>>> {
        let mut documents = Vec::new();
        // The first line is entered as if after a line break.
        self.skip_spaces();
        let at = match self.peek() {
            b'\n' | b'#' | 0 => {
                self.skip_comment();
                self.next_line()?
            }
            b'-' if self.pos == 0 && self.marker(b'-') => At::DocumentStart,
            b'.' | b'%' if self.pos == 0 => return None,
            _ => At::Content(self.pos),
        };
        self.at = at;
        loop {
            let column = match self.at {
                At::Eof => return Some(documents),
                At::Content(column) => column,
                At::DocumentStart => {
                    self.pos += 3;
                    self.finish_line()?;
                    match self.at {
                        At::Content(column) => column,
                        // An empty document: saphyr gives it the span of
                        // the token that ends it.
                        At::Eof => {
                            let span = Span::point(self.end_of_stream());
                            documents.push(Node::scalar("", ScalarStyle::Plain, span));
                            continue;
                        }
                        At::DocumentStart => {
                            let span = Span::new(self.here(), self.location(self.pos + 3));
                            documents.push(Node::scalar("", ScalarStyle::Plain, span));
                            continue;
                        }
                    }
                }
            };
            let root = self.node(-1, column, Place::LineStart, None)?;
            documents.push(root);
            // Only another document may follow a document's root.
            if let At::Content(_) = self.at {
                return None;
            }
        }
    }

    /// A node starting at the cursor, at `column`, inside a block indented
    /// to `parent`; `outer` is where its properties started when they were
    /// on the line above. Leaves `self.at` on the next line with content.
    fn node(
        &mut self,
        parent: isize,
        column: usize,
        place: Place,
        outer: Option<Location>,
    ) -> Option<Node<'t>> {
        let properties = self.properties()?;
        let inline = properties.start.is_some();
        if inline && outer.is_some() {
            return None;
        }
        let start = properties.start.or(outer);
        if inline {
            self.skip_spaces();
            if matches!(self.peek(), b'\n' | 0) || (self.peek() == b'#' && self.after_blank()) {
                // The content (if any) is on the lines below.
                self.skip_comment();
                return self.properties_then_below(parent, place, properties);
            }
        }
        let column = if inline {
            self.pos - self.line_start
        } else {
            column
        };
        let node = match self.peek() {
            b'-' if self.blank_at(1) => {
                if place == Place::AfterColon || inline {
                    return None;
                }
                self.sequence(column, false, start)?
            }
            b'|' | b'>' => self.block_scalar(parent)?,
            b'[' | b'{' => {
                let node = self.flow(parent, start)?;
                self.finish_line()?;
                node
            }
            b'*' => {
                if start.is_some() {
                    return None;
                }
                let node = self.alias()?;
                self.finish_line()?;
                node
            }
            b'"' | b'\'' => {
                // saphyr ends a quoted scalar with properties after the
                // blanks and comment that follow it.
                if start.is_some() {
                    return None;
                }
                let (key_start, nodes) = (self.pos, self.nodes);
                let scalar = self.quoted()?;
                self.skip_spaces();
                if self.peek() == b':' && self.blank_at(1) {
                    if place == Place::AfterColon {
                        return None;
                    }
                    (self.pos, self.nodes) = (key_start, nodes);
                    return self.mapping(column, None);
                }
                self.finish_line()?;
                scalar
            }
            _ => {
                let first = self.pos;
                let (end, key) = self.plain_block()?;
                if key {
                    if place == Place::AfterColon || inline {
                        return None;
                    }
                    self.pos = first;
                    return self.mapping(column, outer);
                }
                let start_location = start.unwrap_or_else(|| self.location(first));
                let node = Node {
                    value: Value::Scalar(Scalar {
                        text: &self.text[first..end],
                        style: ScalarStyle::Plain,
                    }),
                    span: Span::new(start_location, self.location(end)),
                    tag: None,
                };
                self.count(1)?;
                self.pos = end;
                self.finish_line()?;
                // A more-indented line would continue the scalar.
                if matches!(self.at, At::Content(next) if next as isize > parent) {
                    return None;
                }
                node
            }
        };
        Some(self.finish(node, properties))
    }

    /// Applies a node's tag and records its anchor.
    fn finish(&mut self, mut node: Node<'t>, properties: Properties<'t>) -> Node<'t> {
        if let Some(start) = properties.start {
            node.span.start = start;
            if node.span.end < start {
                node.span.end = start;
            }
        }
        if properties.tag.is_some() {
            node.tag = properties.tag;
        }
        if let Some(id) = properties.anchor {
            self.anchored[id] = Some(node);
        }
        node
    }

    /// Properties ending their line: the node is the block below, or empty.
    fn properties_then_below(
        &mut self,
        parent: isize,
        place: Place,
        properties: Properties<'t>,
    ) -> Option<Node<'t>> {
        self.next_line()?;
        let node = match self.at {
            At::Content(next) if next as isize > parent => {
                if matches!(self.peek(), b'&' | b'!') {
                    return None;
                }
                self.node(parent, next, Place::LineStart, properties.start)?
            }
            At::Content(next)
                if next as isize == parent
                    && place == Place::AfterColon
                    && self.peek() == b'-'
                    && self.blank_at(1) =>
            {
                self.sequence(next, true, properties.start)?
            }
            _ => {
                self.count(1)?;
                let start = properties.start?;
                Node::scalar("", ScalarStyle::Plain, Span::new(start, properties.end?))
            }
        };
        Some(self.finish(node, properties))
    }

    /// `&anchor` and `!tag` before a node, in either order.
    fn properties(&mut self) -> Option<Properties<'t>> {
        let mut properties = Properties::default();
        loop {
            let start = self.pos;
            match self.peek() {
                b'&' if properties.anchor.is_none() => {
                    self.pos += 1;
                    let name = self.name();
                    if name.is_empty() {
                        return None;
                    }
                    // The name means this definition from here on, though
                    // its node is only known once read.
                    let id = self.anchored.len();
                    self.anchored.push(None);
                    self.anchor_ids.insert(&self.text[start + 1..self.pos], id);
                    properties.anchor = Some(id);
                }
                b'!' if properties.tag.is_none() => {
                    // Only local tags: `!!str` and `!<…>` are the full reader's.
                    if matches!(self.peek_at(1), b'!' | b'<') {
                        return None;
                    }
                    self.pos += 1;
                    let name = self.name();
                    if name.is_empty()
                        || !name
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                    {
                        return None;
                    }
                    properties.tag = Some(&self.text[start..self.pos]);
                }
                _ => return Some(properties),
            }
            properties.start.get_or_insert(self.location(start));
            properties.end = Some(self.here());
            if !self.blank_at(0) {
                return None;
            }
            self.skip_spaces();
        }
    }

    /// An anchor's or tag's name: up to a blank or a flow indicator.
    fn name(&mut self) -> &'t str {
        let start = self.pos;
        while !matches!(
            self.peek(),
            b' ' | b'\n' | 0 | b',' | b'[' | b']' | b'{' | b'}'
        ) {
            self.pos += 1;
        }
        &self.text[start..self.pos]
    }

    fn alias(&mut self) -> Option<Node<'t>> {
        self.pos += 1;
        let name = self.name();
        let id = *self.anchor_ids.get(name)?;
        let node = self.anchored[id]?;
        self.count(count_nodes(&node))?;
        Some(node)
    }
}
