//! Diagnostics: problems found in input files, with where and what to do.

use serde::Serialize;

use crate::span::Location;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    Warning,
    Note,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }
}

/// One problem in the input: a file that does not parse, an unknown key, a
/// reference that names nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// A stable kebab-case code, such as `yaml-syntax` or `unknown-key`.
    pub code: String,
    pub message: String,
    /// Path relative to the workspace root, with `/` separators.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    /// The offending source line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snippet: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(severity: Severity, code: &str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity,
            code: code.to_string(),
            message: message.into(),
            file: None,
            line: None,
            column: None,
            snippet: None,
            hint: None,
        }
    }

    pub fn error(code: &str, message: impl Into<String>) -> Self {
        Self::new(Severity::Error, code, message)
    }

    pub fn warning(code: &str, message: impl Into<String>) -> Self {
        Self::new(Severity::Warning, code, message)
    }

    pub fn in_file(mut self, file: impl AsRef<str>) -> Self {
        self.file = Some(file.as_ref().to_string());
        self
    }

    /// Points the diagnostic at a location of `text` (the file's contents),
    /// and quotes that line as the snippet.
    pub fn at(mut self, text: &str, location: Location) -> Self {
        self.line = Some(location.line);
        self.column = Some(location.column);
        let line = line_at(text, location.offset);
        if !line.trim().is_empty() {
            self.snippet = Some(truncate(line, 160));
        }
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// `file:line:col` (or as much of it as is known).
    pub fn location(&self) -> Option<String> {
        let file = self.file.as_deref()?;
        Some(match (self.line, self.column) {
            (Some(line), Some(column)) => format!("{file}:{line}:{column}"),
            (Some(line), None) => format!("{file}:{line}"),
            _ => file.to_string(),
        })
    }
}

/// The line of `text` that holds byte `offset`, without its line break:
/// found around the offset, not by indexing every line of the text, which
/// a file with a diagnostic on each of many lines would do once for each.
fn line_at(text: &str, offset: usize) -> &str {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    text[start..end].trim_end_matches('\r')
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let cut: String = text.chars().take(max).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::LineIndex;

    #[test]
    fn the_line_at_an_offset_is_the_indexed_line_of_its_location() {
        let text = "a: 1\r\n\nbé: ü2\n  c: [x,\n    y]\nlast";
        let index = LineIndex::new(text);
        for offset in (0..=text.len()).filter(|&o| text.is_char_boundary(o)) {
            let location = index.location(text, offset);
            assert_eq!(
                line_at(text, offset),
                index.line_text(text, location.line),
                "at offset {offset}"
            );
        }
        assert_eq!(line_at(text, text.len() + 5), "last");
        assert_eq!(line_at("", 0), "");
    }
}
