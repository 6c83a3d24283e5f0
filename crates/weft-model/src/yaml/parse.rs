//! Builds the spanned tree from saphyr's event stream.

use std::collections::HashMap;

use saphyr_parser::{Event, Marker, Parser, ScalarStyle as EventStyle};

use super::node::{Arena, Node, Scalar, ScalarStyle, Value};
use crate::span::{LineIndex, Location, Span};

/// Expanding aliases can blow up a small file ("billion laughs"); past this
/// many nodes the document is refused.
const MAX_NODES: usize = 2_000_000;

/// A YAML syntax error, with where it was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct YamlError {
    pub message: String,
    pub location: Location,
}

/// How deep collections may nest; deeper input is refused rather than risk
/// the stack.
const MAX_DEPTH: usize = 256;

/// How many under-indented lines [`parse_documents`] tolerates in one text.
const MAX_INDENT_FIXES: usize = 64;

/// Parses every document of a (possibly multi-document) YAML text.
///
/// Like the YAML libraries Compose and Kubernetes use (go-yaml, libyaml),
/// this accepts a flow collection's closing bracket or a quoted scalar's
/// continuation line indented no deeper than its parent key, which a strict
/// YAML 1.2 reading rejects; spans still point into the original text.
///
/// The tree lives in `arena`, and its scalars are slices of `text` where
/// they can be.
pub fn parse_documents<'a>(arena: &'a Arena, text: &'a str) -> Result<Vec<Node<'a>>, YamlError> {
    match super::fast::parse(arena, text) {
        Some(documents) => Ok(documents),
        None => parse_documents_fully(arena, text),
    }
}

/// [`parse_documents`] without its fast path: saphyr's event stream for
/// every text. The reference the fast path is checked against. Its tree is
/// all in `arena` (saphyr hands scalars over decoded), so `text` need not
/// outlive it.
pub fn parse_documents_fully<'a>(arena: &'a Arena, text: &str) -> Result<Vec<Node<'a>>, YamlError> {
    match Builder::new(arena, text).run() {
        Err(error) if error.message.starts_with("invalid indentation") => {
            parse_leniently(arena, text, error)
        }
        result => result,
    }
}

/// Re-parses with each under-indented line shifted right, then maps every
/// location back to the original text. Each re-read runs in an arena of
/// its own, and only the tree kept is copied into `arena`.
fn parse_leniently<'a>(
    arena: &'a Arena,
    text: &str,
    first_error: YamlError,
) -> Result<Vec<Node<'a>>, YamlError> {
    let mut shifts = Shifts::default();
    let mut patched = text.to_string();
    let mut error = first_error.clone();
    for _ in 0..MAX_INDENT_FIXES {
        let line = error.location.line;
        let index = LineIndex::new(&patched);
        if error.message.contains("quoted scalar") {
            // The error points at the opening quote; the continuation lines
            // up to the closing quote must be indented deeper than its line.
            let opening = error.location.offset;
            let indent = indentation(index.line_text(&patched, line));
            let last = closing_quote_line(&patched, opening, &index).unwrap_or(line);
            if last == line {
                break;
            }
            for continuation in ((line + 1)..=last).rev() {
                let current = indentation(index.line_text(&patched, continuation));
                if current <= indent {
                    let spaces = indent + 2 - current;
                    let start = index
                        .from_line_column(&patched, continuation as usize, 0)
                        .offset;
                    patched.insert_str(start, &" ".repeat(spaces as usize));
                    shifts.add(continuation, spaces);
                }
            }
        } else {
            let start = index.from_line_column(&patched, line as usize, 0).offset;
            patched.insert_str(start, "  ");
            shifts.add(line, 2);
        }
        // Each attempt reads into an arena of its own, and only the tree
        // that is kept is copied into the caller's.
        let attempt = Arena::new();
        match Builder::new(&attempt, &patched).run() {
            Ok(documents) => {
                let mut restore = Restore {
                    shifts: &shifts,
                    text,
                    original: LineIndex::new(text),
                    arena,
                    sequences: HashMap::new(),
                    mappings: HashMap::new(),
                };
                return Ok(documents.iter().map(|node| restore.node(node)).collect());
            }
            Err(next) if next.message.starts_with("invalid indentation") => error = next,
            Err(_) => break,
        }
    }
    Err(first_error)
}

fn indentation(line: &str) -> u32 {
    (line.len() - line.trim_start_matches(' ').len()) as u32
}

/// The line of the quote that closes the quoted scalar opening at `opening`.
fn closing_quote_line(text: &str, opening: usize, index: &LineIndex) -> Option<u32> {
    closing_quote(text, opening).map(|close| index.location(text, close).line)
}

/// The byte offset of the quote that closes the quoted scalar opening at
/// `opening` (`''` escapes a single quote, `\` escapes in double quotes).
fn closing_quote(text: &str, opening: usize) -> Option<usize> {
    let quote = *text.as_bytes().get(opening)?;
    if quote != b'\'' && quote != b'"' {
        return None;
    }
    let bytes = text.as_bytes();
    let mut i = opening + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quote == b'"' => i += 2,
            b'\'' if quote == b'\'' && bytes.get(i + 1) == Some(&b'\'') => i += 2,
            b if b == quote => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// Spaces inserted at the start of lines, by 1-based line.
#[derive(Default)]
struct Shifts {
    lines: HashMap<u32, u32>,
}

impl Shifts {
    fn add(&mut self, line: u32, spaces: u32) {
        *self.lines.entry(line).or_default() += spaces;
    }

    fn location(&self, at: Location, text: &str, original: &LineIndex) -> Location {
        let shift = self.lines.get(&at.line).copied().unwrap_or(0);
        let column = at.column.saturating_sub(shift).max(1);
        original.from_line_column(text, at.line as usize, column as usize - 1)
    }
}

/// Copies a tree read from the patched text into the caller's arena, with
/// every span moved back to the original text. A collection that aliases
/// share is copied once, as it was read: each use has the same spans.
struct Restore<'r, 'a> {
    shifts: &'r Shifts,
    text: &'r str,
    original: LineIndex,
    arena: &'a Arena,
    /// The copies made so far, by the address and length of the collection
    /// copied.
    sequences: HashMap<(usize, usize), &'a [Node<'a>]>,
    mappings: HashMap<(usize, usize), &'a [(Node<'a>, Node<'a>)]>,
}

impl<'a> Restore<'_, 'a> {
    fn node(&mut self, node: &Node<'_>) -> Node<'a> {
        let value = match node.value {
            Value::Scalar(Scalar { text, style }) => Value::Scalar(Scalar {
                text: self.arena.alloc_str(text),
                style,
            }),
            Value::Sequence(items) => {
                let key = (items.as_ptr() as usize, items.len());
                let copy = match self.sequences.get(&key) {
                    Some(&copy) => copy,
                    None => {
                        let copy: Vec<Node<'a>> =
                            items.iter().map(|item| self.node(item)).collect();
                        let copy = self.arena.slice(&copy);
                        self.sequences.insert(key, copy);
                        copy
                    }
                };
                Value::Sequence(copy)
            }
            Value::Mapping(entries) => {
                let key = (entries.as_ptr() as usize, entries.len());
                let copy = match self.mappings.get(&key) {
                    Some(&copy) => copy,
                    None => {
                        let copy: Vec<(Node<'a>, Node<'a>)> = entries
                            .iter()
                            .map(|(key, value)| (self.node(key), self.node(value)))
                            .collect();
                        let copy = self.arena.slice(&copy);
                        self.mappings.insert(key, copy);
                        copy
                    }
                };
                Value::Mapping(copy)
            }
        };
        let location = |at| self.shifts.location(at, self.text, &self.original);
        Node {
            value,
            span: Span::new(location(node.span.start), location(node.span.end)),
            tag: node.tag.map(|tag| self.arena.alloc_str(tag)),
        }
    }
}

/// Parses a YAML text that holds one document; an empty text is a null node.
pub fn parse_one<'a>(arena: &'a Arena, text: &'a str) -> Result<Node<'a>, YamlError> {
    let mut documents = parse_documents(arena, text)?;
    Ok(if documents.is_empty() {
        Node::scalar("", ScalarStyle::Plain, Span::default())
    } else {
        documents.swap_remove(0)
    })
}

enum Frame<'a> {
    Sequence {
        anchor: usize,
        tag: Option<&'a str>,
        start: Location,
        items: Vec<Node<'a>>,
    },
    Mapping {
        anchor: usize,
        tag: Option<&'a str>,
        start: Location,
        entries: Vec<(Node<'a>, Node<'a>)>,
        pending_key: Option<Node<'a>>,
    },
}

/// Builds the tree in the arena from the events; scalars are copied there,
/// since saphyr hands them over decoded.
struct Builder<'a, 't> {
    arena: &'a Arena,
    text: &'t str,
    lines: LineIndex,
    anchors: HashMap<usize, Node<'a>>,
    nodes: usize,
}

impl<'a, 't> Builder<'a, 't> {
    fn new(arena: &'a Arena, text: &'t str) -> Self {
        Builder {
            arena,
            text,
            lines: LineIndex::new(text),
            anchors: HashMap::new(),
            nodes: 0,
        }
    }

    fn location(&self, marker: &Marker) -> Location {
        self.lines
            .from_line_column(self.text, marker.line(), marker.col())
    }

    fn error(&self, marker: &Marker, message: impl Into<String>) -> YamlError {
        YamlError {
            message: message.into(),
            location: self.location(marker),
        }
    }

    fn run(mut self) -> Result<Vec<Node<'a>>, YamlError> {
        let mut parser = Parser::new_from_str(self.text);
        let mut documents = Vec::new();
        let mut stack: Vec<Frame<'a>> = Vec::new();
        let mut root: Option<Node<'a>> = None;
        while let Some(next) = parser.next_event() {
            let (event, span) = next.map_err(|e| self.error(e.marker(), e.info()))?;
            let start = self.location(&span.start);
            let end = self.location(&span.end);
            let finished = match event {
                Event::StreamStart | Event::Nothing => None,
                Event::StreamEnd => break,
                Event::DocumentStart(_) => {
                    root = None;
                    None
                }
                Event::DocumentEnd => {
                    documents.push(root.take().unwrap_or_else(|| {
                        Node::scalar("", ScalarStyle::Plain, Span::point(start))
                    }));
                    None
                }
                Event::Alias(id) => {
                    let Some(&node) = self.anchors.get(&id) else {
                        return Err(self.error(&span.start, "alias to an unknown anchor"));
                    };
                    self.count(count_nodes(&node), &span.start)?;
                    Some(node)
                }
                Event::Scalar(text, style, anchor, tag) => {
                    let local_tag = self.local_tag(tag.as_deref());
                    self.count(1, &span.start)?;
                    let style = match style {
                        _ if tag.as_ref().is_some_and(|t| {
                            t.handle == "tag:yaml.org,2002:" && t.suffix == "str"
                        }) =>
                        {
                            ScalarStyle::Quoted
                        }
                        EventStyle::Plain => ScalarStyle::Plain,
                        EventStyle::SingleQuoted | EventStyle::DoubleQuoted => ScalarStyle::Quoted,
                        EventStyle::Literal | EventStyle::Folded => ScalarStyle::Block,
                    };
                    // saphyr ends a quoted scalar's span after the blanks and
                    // comment that follow it; end it at its closing quote.
                    let end = match style {
                        ScalarStyle::Quoted if tag.is_none() => {
                            closing_quote(self.text, start.offset)
                                .map_or(end, |close| self.lines.location(self.text, close + 1))
                        }
                        _ => end,
                    };
                    let node = Node {
                        value: Value::Scalar(Scalar {
                            text: self.arena.alloc_str(&text),
                            style,
                        }),
                        span: Span::new(start, end),
                        tag: local_tag,
                    };
                    self.remember(anchor, node);
                    Some(node)
                }
                Event::SequenceStart(anchor, tag) => {
                    self.count(1, &span.start)?;
                    self.depth(stack.len(), &span.start)?;
                    stack.push(Frame::Sequence {
                        anchor,
                        tag: self.local_tag(tag.as_deref()),
                        start,
                        items: Vec::new(),
                    });
                    None
                }
                Event::MappingStart(anchor, tag) => {
                    self.count(1, &span.start)?;
                    self.depth(stack.len(), &span.start)?;
                    stack.push(Frame::Mapping {
                        anchor,
                        tag: self.local_tag(tag.as_deref()),
                        start,
                        entries: Vec::new(),
                        pending_key: None,
                    });
                    None
                }
                Event::SequenceEnd => match stack.pop() {
                    Some(Frame::Sequence {
                        anchor,
                        tag,
                        start,
                        items,
                    }) => {
                        let node = Node {
                            value: Value::Sequence(self.arena.slice(&items)),
                            span: Span::new(start, end.max(start)),
                            tag,
                        };
                        self.remember(anchor, node);
                        Some(node)
                    }
                    _ => return Err(self.error(&span.start, "unbalanced sequence end")),
                },
                Event::MappingEnd => match stack.pop() {
                    Some(Frame::Mapping {
                        anchor,
                        tag,
                        start,
                        entries,
                        ..
                    }) => {
                        let node = Node {
                            value: Value::Mapping(if entries.iter().any(|(k, _)| is_merge(k)) {
                                self.arena.slice(&apply_merge_keys(&entries))
                            } else {
                                self.arena.slice(&entries)
                            }),
                            span: Span::new(start, end.max(start)),
                            tag,
                        };
                        self.remember(anchor, node);
                        Some(node)
                    }
                    _ => return Err(self.error(&span.start, "unbalanced mapping end")),
                },
            };
            if let Some(node) = finished {
                match stack.last_mut() {
                    None => root = Some(node),
                    Some(Frame::Sequence { items, .. }) => items.push(node),
                    Some(Frame::Mapping {
                        entries,
                        pending_key,
                        ..
                    }) => match pending_key.take() {
                        None => *pending_key = Some(node),
                        Some(key) => entries.push((key, node)),
                    },
                }
            }
        }
        Ok(documents)
    }

    fn remember(&mut self, anchor: usize, node: Node<'a>) {
        if anchor != 0 {
            self.anchors.insert(anchor, node);
        }
    }

    /// A local tag (`!override`), as written; core-schema tags (`!!str`)
    /// are not kept.
    fn local_tag(&self, tag: Option<&saphyr_parser::Tag>) -> Option<&'a str> {
        tag.filter(|t| t.handle == "!")
            .map(|t| self.arena.alloc_str(&format!("!{}", t.suffix)) as &str)
    }

    fn depth(&self, depth: usize, at: &Marker) -> Result<(), YamlError> {
        if depth >= MAX_DEPTH {
            return Err(self.error(
                at,
                format!("collections nest deeper than {MAX_DEPTH} levels"),
            ));
        }
        Ok(())
    }

    fn count(&mut self, nodes: usize, at: &Marker) -> Result<(), YamlError> {
        self.nodes += nodes;
        if self.nodes > MAX_NODES {
            return Err(self.error(
                at,
                format!("document expands to more than {MAX_NODES} nodes through aliases"),
            ));
        }
        Ok(())
    }
}

pub(super) fn count_nodes(node: &Node<'_>) -> usize {
    1 + match node.value {
        Value::Scalar(_) => 0,
        Value::Sequence(items) => items.iter().map(count_nodes).sum(),
        Value::Mapping(entries) => entries
            .iter()
            .map(|(k, v)| count_nodes(k) + count_nodes(v))
            .sum(),
    }
}

/// Whether `key` is the merge key, a plain `<<`.
pub(super) fn is_merge(key: &Node<'_>) -> bool {
    matches!(
        key.value,
        Value::Scalar(Scalar {
            text: "<<",
            style: ScalarStyle::Plain
        })
    )
}

/// Applies YAML merge keys: entries of `<<: *a` or `<<: [*a, *b]` are added
/// unless the mapping sets the key itself; earlier sources win over later
/// ones. Only for entries that hold a merge key (see [`is_merge`]).
pub(super) fn apply_merge_keys<'a>(entries: &[(Node<'a>, Node<'a>)]) -> Vec<(Node<'a>, Node<'a>)> {
    let mut own = Vec::with_capacity(entries.len());
    let mut sources = Vec::new();
    for &(key, value) in entries {
        if is_merge(&key) {
            match value.value {
                Value::Mapping(_) => sources.push(value),
                Value::Sequence(items) => sources.extend_from_slice(items),
                // A merge of something that is not a mapping is kept as an entry
                // so that readers can report it.
                Value::Scalar(_) => own.push((key, value)),
            }
        } else {
            own.push((key, value));
        }
    }
    for source in sources {
        if let Value::Mapping(merged) = source.value {
            for &(key, value) in merged {
                let taken = own
                    .iter()
                    .any(|(k, _)| k.as_str().is_some() && k.as_str() == key.as_str());
                if !taken {
                    own.push((key, value));
                }
            }
        }
    }
    own
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_point_at_values() {
        let arena = Arena::new();
        let text = "services:\n  web:\n    ports: [\"8080:80\"]\n";
        let root = parse_one(&arena, text).unwrap();
        let port = &root
            .path(&["services", "web", "ports"])
            .unwrap()
            .as_sequence()
            .unwrap()[0];
        assert_eq!(port.as_str(), Some("8080:80"));
        assert_eq!((port.span.start.line, port.span.start.column), (3, 13));
        assert_eq!(&text[port.span.range()], "\"8080:80\"");
    }

    #[test]
    fn scalars_written_as_they_read_are_slices_of_the_text() {
        let arena = Arena::new();
        let text = "plain: value\nquoted: \"as is\"\nescaped: \"a\\tb\"\nsingle: 'it''s'\n";
        let root = parse_one(&arena, text).unwrap();
        let in_text = |key: &str| {
            let scalar = root.get(key).unwrap().as_str().unwrap();
            text.as_bytes().as_ptr_range().contains(&scalar.as_ptr())
        };
        assert!(in_text("plain") && in_text("quoted"));
        assert!(!in_text("escaped") && !in_text("single"));
        assert_eq!(root.get("escaped").and_then(Node::as_str), Some("a\tb"));
        assert_eq!(root.get("single").and_then(Node::as_str), Some("it's"));
    }

    #[test]
    fn merge_keys_and_aliases_expand() {
        let arena = Arena::new();
        let text = "x: &base {a: 1, b: 2}\ny:\n  <<: *base\n  b: 3\nz: *base\n";
        let root = parse_one(&arena, text).unwrap();
        let y = root.get("y").unwrap();
        assert_eq!(y.get("a").and_then(Node::as_str), Some("1"));
        assert_eq!(y.get("b").and_then(Node::as_str), Some("3"));
        assert_eq!(root.path(&["z", "b"]).and_then(Node::as_str), Some("2"));
    }

    #[test]
    fn local_tags_are_kept() {
        let arena = Arena::new();
        let root = parse_one(
            &arena,
            "ports: !override [\"1:1\"]\nenv: !reset null\nname: !!str 8\n",
        )
        .unwrap();
        assert_eq!(root.get("ports").unwrap().tag, Some("!override"));
        assert_eq!(root.get("env").unwrap().tag, Some("!reset"));
        assert_eq!(root.get("name").unwrap().tag, None);
    }

    #[test]
    fn quoted_spans_end_at_the_closing_quote() {
        let arena = Arena::new();
        let text = "a:\n  - \"8080:80\"   # comment\n  - 'it''s' # c\n  - plain # c\n";
        let root = parse_one(&arena, text).unwrap();
        let raw: Vec<&str> = root
            .get("a")
            .unwrap()
            .items()
            .map(|i| &text[i.span.range()])
            .collect();
        assert_eq!(raw, ["\"8080:80\"", "'it''s'", "plain"]);
    }

    #[test]
    fn multi_document_streams() {
        let arena = Arena::new();
        let docs = parse_documents(&arena, "a: 1\n---\nb: 2\n---\n").unwrap();
        assert_eq!(docs.len(), 3);
        assert!(docs[2].is_null());
    }

    #[test]
    fn errors_carry_a_location() {
        let arena = Arena::new();
        let error = parse_one(&arena, "a: [1, 2\nb: 3\n").unwrap_err();
        assert!(error.location.line >= 1, "{error:?}");
    }

    #[test]
    fn under_indented_flow_closers_are_accepted_with_original_spans() {
        let arena = Arena::new();
        let text = "services:\n  web:\n    healthcheck:\n      test: [\n          \"CMD\",\n          \"true\"\n      ]\n      interval: 30s\n";
        let root = parse_one(&arena, text).unwrap();
        let test = root
            .path(&["services", "web", "healthcheck", "test"])
            .unwrap();
        assert_eq!(test.as_sequence().unwrap().len(), 2);
        let interval = root
            .path(&["services", "web", "healthcheck", "interval"])
            .unwrap();
        assert_eq!(
            (interval.span.start.line, interval.span.start.column),
            (8, 17)
        );
        assert_eq!(&text[interval.span.range()], "30s");
    }

    #[test]
    fn a_leniently_read_alias_shares_its_anchor_s_collection() {
        let arena = Arena::new();
        let text =
            "x: &base\n  k: v\nweb:\n  check:\n    test: [\n        \"CMD\"\n    ]\ny: *base\n";
        assert!(
            Builder::new(&Arena::new(), text).run().is_err(),
            "read strictly, the closing bracket is under-indented"
        );
        let root = parse_documents_fully(&arena, text).unwrap().remove(0);
        let (x, y) = (root.get("x").unwrap(), root.get("y").unwrap());
        assert_eq!(x, y);
        assert!(std::ptr::eq(
            x.as_mapping().unwrap(),
            y.as_mapping().unwrap()
        ));
        let k = x.get("k").unwrap();
        assert_eq!((k.span.start.line, k.span.start.column), (2, 6));
        assert_eq!(&text[k.span.range()], "v");
        let test = root.path(&["web", "check", "test"]).unwrap();
        assert_eq!(test.as_sequence().unwrap().len(), 1);
    }

    #[test]
    fn under_indented_quoted_continuations_are_accepted() {
        let arena = Arena::new();
        let text = "metadata:\n  annotations:\n    a: '[\n  {\"x\": 1}\n]'\n    b: c\n";
        let root = parse_one(&arena, text).unwrap();
        let a = root.path(&["metadata", "annotations", "a"]).unwrap();
        assert!(a.as_str().unwrap().contains("\"x\": 1"));
        let b = root.path(&["metadata", "annotations", "b"]).unwrap();
        assert_eq!((b.span.start.line, b.span.start.column), (6, 8));
    }

    #[test]
    fn deep_nesting_is_refused() {
        let arena = Arena::new();
        let text = "[".repeat(10_000);
        assert!(parse_one(&arena, &text).is_err());
    }

    #[test]
    fn alias_bombs_are_refused() {
        let arena = Arena::new();
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
            ));
        }
        assert!(parse_one(&arena, &text).is_err());
    }
}
