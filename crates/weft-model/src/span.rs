//! Source locations: where in a file a fact was read.

use serde::Serialize;

/// A position in a text file.
///
/// `line` and `column` are 1-based and count characters, the way editors and
/// compilers print them; `offset` is the 0-based byte offset, used to edit the
/// file in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
pub struct Location {
    pub offset: usize,
    pub line: u32,
    pub column: u32,
}

/// A half-open range `[start, end)` of a text file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
pub struct Span {
    pub start: Location,
    pub end: Location,
}

impl Span {
    pub fn new(start: Location, end: Location) -> Self {
        Span { start, end }
    }

    /// An empty span at one location.
    pub fn point(at: Location) -> Self {
        Span { start: at, end: at }
    }

    /// The byte range of the span, for slicing the source text.
    pub fn range(&self) -> std::ops::Range<usize> {
        self.start.offset..self.end.offset.max(self.start.offset)
    }
}

/// Maps byte offsets of one text to line and column, and back.
#[derive(Debug, Clone)]
pub struct LineIndex {
    /// Byte offset of the start of each line.
    line_starts: Vec<usize>,
    ascii: bool,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(
            text.bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| i + 1),
        );
        LineIndex {
            line_starts,
            ascii: text.is_ascii(),
        }
    }

    /// The location of a byte offset (clamped to the text).
    pub fn location(&self, text: &str, offset: usize) -> Location {
        let offset = offset.min(text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset) - 1;
        let start = self.line_starts[line];
        let column = if self.ascii {
            offset - start
        } else {
            text.get(start..offset)
                .map_or(offset - start, |s| s.chars().count())
        };
        Location {
            offset,
            line: line as u32 + 1,
            column: column as u32 + 1,
        }
    }

    /// The location of a 1-based line and a 0-based character column.
    pub fn from_line_column(&self, text: &str, line: usize, char_column: usize) -> Location {
        let line_index = line.saturating_sub(1).min(self.line_starts.len() - 1);
        let start = self.line_starts[line_index];
        let offset = if self.ascii {
            (start + char_column).min(text.len())
        } else {
            let rest = &text[start..];
            rest.char_indices()
                .nth(char_column)
                .map_or(text.len(), |(i, _)| start + i)
        };
        Location {
            offset,
            line: line_index as u32 + 1,
            column: char_column as u32 + 1,
        }
    }

    /// The text of the 1-based line, without its line break.
    pub fn line_text<'t>(&self, text: &'t str, line: u32) -> &'t str {
        let index = (line as usize).saturating_sub(1);
        let Some(&start) = self.line_starts.get(index) else {
            return "";
        };
        let end = self
            .line_starts
            .get(index + 1)
            .copied()
            .unwrap_or(text.len());
        text[start..end].trim_end_matches(['\n', '\r'])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_round_trip_on_ascii_and_unicode() {
        let text = "a: 1\nbé: ü2\n";
        let index = LineIndex::new(text);
        let at = index.from_line_column(text, 2, 4);
        assert_eq!(&text[at.offset..], "ü2\n");
        assert_eq!(
            index.location(text, at.offset),
            Location {
                offset: at.offset,
                line: 2,
                column: 5
            }
        );
        assert_eq!(index.line_text(text, 2), "bé: ü2");
        assert_eq!(index.line_text(text, 9), "");
    }
}
