//! `.env` files and Compose-style `${VAR}` interpolation.

use weft_model::{Diagnostic, LineIndex, Span};

use crate::facts::SourceFile;

/// One `NAME=value` line of a `.env` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DotenvEntry {
    pub name: String,
    pub value: String,
    /// The span of the value as written (quotes included).
    pub span: Span,
}

/// Parses a `.env` file: `NAME=value`, `export NAME=value`, single and double
/// quotes, `#` comments (inline only after unquoted values and a space).
/// Lines that are neither are warned about and skipped.
pub fn parse_dotenv(file: &SourceFile) -> (Vec<DotenvEntry>, Vec<Diagnostic>) {
    let index = LineIndex::new(&file.text);
    let mut entries = Vec::new();
    let mut diagnostics = Vec::new();
    let mut skip_until = 0;
    for (line_start, line) in crate::text::lines(&file.text) {
        if line_start < skip_until {
            continue;
        }
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let indent = line.len() - trimmed.len();
        let body = trimmed
            .strip_prefix("export ")
            .map_or(trimmed, str::trim_start);
        let body_start = line_start + indent + (trimmed.len() - body.len());
        let Some((name, rest)) = body.split_once('=') else {
            let at = index.location(&file.text, body_start);
            diagnostics.push(
                Diagnostic::warning(
                    "env-syntax",
                    format!("line is not `NAME=value`: `{}`", body.trim()),
                )
                .in_file(&file.path)
                .at(&file.text, at)
                .with_hint("write NAME=value, or comment the line out with #"),
            );
            continue;
        };
        let name = name.trim();
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        {
            let at = index.location(&file.text, body_start);
            diagnostics.push(
                Diagnostic::warning("env-syntax", format!("`{name}` is not a variable name"))
                    .in_file(&file.path)
                    .at(&file.text, at)
                    .with_hint("variable names use letters, digits and `_`"),
            );
            continue;
        }
        let value_start = body_start + body.len() - rest.len();
        let leading = rest.len() - rest.trim_start().len();
        let written = rest.trim_start();
        // A quoted value may span lines (Compose accepts that): read on
        // from the opening quote through the rest of the file.
        let written = if written.starts_with(['"', '\'']) {
            &file.text[value_start + leading..]
        } else {
            written
        };
        let (value, written_len) = unquote(written);
        skip_until = value_start + leading + written_len;
        let start = index.location(&file.text, value_start + leading);
        let end = index.location(&file.text, value_start + leading + written_len);
        entries.push(DotenvEntry {
            name: name.to_string(),
            value,
            span: Span::new(start, end),
        });
    }
    (entries, diagnostics)
}

/// The value of a `.env` right-hand side and how many bytes of it were the value.
fn unquote(written: &str) -> (String, usize) {
    let mut chars = written.char_indices();
    match chars.next() {
        Some((_, quote @ ('"' | '\''))) => {
            let mut value = String::new();
            let mut escaped = false;
            for (i, c) in chars {
                if escaped {
                    value.push(match c {
                        'n' => '\n',
                        't' => '\t',
                        other => other,
                    });
                    escaped = false;
                } else if c == '\\' && quote == '"' {
                    escaped = true;
                } else if c == quote {
                    return (value, i + 1);
                } else {
                    value.push(c);
                }
            }
            // Unterminated: take the rest of the line as written.
            let line = written.lines().next().unwrap_or(written);
            (line[1..].to_string(), line.len())
        }
        _ => {
            let end = written.find(" #").unwrap_or(written.len());
            let value = written[..end].trim_end();
            (value.to_string(), value.len())
        }
    }
}

/// Variables a text used that had no value (and no default).
pub type Unset = Vec<String>;

/// Interpolates Compose-style variables: `$VAR`, `${VAR}`, `${VAR:-default}`,
/// `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`, `${VAR:+alt}`,
/// `${VAR+alt}`, nested in defaults, and `$$` for a literal `$`. An unset
/// variable becomes empty (as Compose does) and is listed in the second result.
pub fn interpolate(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> (String, Unset) {
    let mut unset = Vec::new();
    let out = interpolate_inner(text, lookup, &mut unset, 0);
    (out, unset)
}

fn interpolate_inner(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut Unset,
    depth: usize,
) -> String {
    if !text.contains('$') || depth > 8 {
        return text.to_string();
    }
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' {
            let next = text[i..].find('$').map_or(text.len(), |n| i + n);
            out.push_str(&text[i..next]);
            i = next;
            continue;
        }
        match bytes.get(i + 1) {
            Some(b'$') => {
                out.push('$');
                i += 2;
            }
            Some(b'{') => {
                let Some(close) = matching_brace(text, i + 1) else {
                    out.push_str(&text[i..]);
                    break;
                };
                let inner = &text[i + 2..close];
                out.push_str(&expand_braced(inner, lookup, unset, depth));
                i = close + 1;
            }
            Some(&c) if c == b'_' || c.is_ascii_alphabetic() => {
                let end = text[i + 1..]
                    .find(|c: char| !(c == '_' || c.is_ascii_alphanumeric()))
                    .map_or(text.len(), |n| i + 1 + n);
                let name = &text[i + 1..end];
                match lookup(name) {
                    Some(value) => out.push_str(&value),
                    None => unset.push(name.to_string()),
                }
                i = end;
            }
            _ => {
                out.push('$');
                i += 1;
            }
        }
    }
    out
}

/// The index of the `}` closing the `{` at `open`, counting nested braces.
fn matching_brace(text: &str, open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, b) in text.bytes().enumerate().skip(open) {
        match b {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

fn expand_braced(
    inner: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut Unset,
    depth: usize,
) -> String {
    let name_end = inner
        .find(|c: char| !(c == '_' || c.is_ascii_alphanumeric()))
        .unwrap_or(inner.len());
    let (name, operator) = inner.split_at(name_end);
    let value = lookup(name);
    let nested = |text: &str, unset: &mut Unset| interpolate_inner(text, lookup, unset, depth + 1);
    let (op, argument) = if let Some(rest) = operator.strip_prefix(":-") {
        (":-", rest)
    } else if let Some(rest) = operator.strip_prefix(":?") {
        (":?", rest)
    } else if let Some(rest) = operator.strip_prefix(":+") {
        (":+", rest)
    } else if let Some(rest) = operator.strip_prefix('-') {
        ("-", rest)
    } else if let Some(rest) = operator.strip_prefix('?') {
        ("?", rest)
    } else if let Some(rest) = operator.strip_prefix('+') {
        ("+", rest)
    } else {
        ("", operator)
    };
    match op {
        ":-" => match value.filter(|v| !v.is_empty()) {
            Some(v) => v,
            None => nested(argument, unset),
        },
        "-" => value.unwrap_or_else(|| nested(argument, unset)),
        ":+" => {
            if value.is_some_and(|v| !v.is_empty()) {
                nested(argument, unset)
            } else {
                String::new()
            }
        }
        "+" => {
            if value.is_some() {
                nested(argument, unset)
            } else {
                String::new()
            }
        }
        _ => match value {
            Some(v) if !(op == ":?" && v.is_empty()) => v,
            _ => {
                unset.push(name.to_string());
                String::new()
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("db".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn interpolation_forms() {
        let cases = [
            ("$HOST:5432", "db:5432"),
            ("${HOST}", "db"),
            ("${MISSING:-8080}:80", "8080:80"),
            ("${EMPTY:-x}", "x"),
            ("${EMPTY-x}", ""),
            ("${MISSING-${HOST}}", "db"),
            ("${HOST:+yes}", "yes"),
            ("${MISSING:+yes}", ""),
            ("$$HOST", "$HOST"),
            ("a$", "a$"),
            ("${unterminated", "${unterminated"),
        ];
        for (input, expected) in cases {
            assert_eq!(interpolate(input, &lookup).0, expected, "{input}");
        }
        assert_eq!(interpolate("${A:?need A}", &lookup).1, ["A"]);
    }

    #[test]
    fn quoted_values_may_span_lines() {
        let file = SourceFile::new(
            ".env",
            "KEY=\"-----BEGIN\nabc\n-----END\"\nNEXT=1\nOPEN=\"never closed\nLAST=2\n",
        );
        let (entries, diagnostics) = parse_dotenv(&file);
        let pairs: Vec<(&str, &str)> = entries
            .iter()
            .map(|e| (e.name.as_str(), e.value.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("KEY", "-----BEGIN\nabc\n-----END"),
                ("NEXT", "1"),
                ("OPEN", "never closed"),
                ("LAST", "2")
            ]
        );
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
    }

    #[test]
    fn dotenv_lines() {
        let file = SourceFile::new(
            ".env",
            "# c\nA=1\nexport B = \"two words\" \nC='x y' # c\nD=plain # comment\nbad line\n",
        );
        let (entries, diagnostics) = parse_dotenv(&file);
        let pairs: Vec<(&str, &str)> = entries
            .iter()
            .map(|e| (e.name.as_str(), e.value.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [("A", "1"), ("B", "two words"), ("C", "x y"), ("D", "plain")]
        );
        assert_eq!(&file.text[entries[1].span.range()], "\"two words\"");
        assert_eq!(entries[3].span.start.line, 5);
        assert_eq!(diagnostics.len(), 1);
        assert_eq!(diagnostics[0].line, Some(6));
    }
}
