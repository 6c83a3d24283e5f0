//! Normalised templates of log lines: what varies between two occurrences
//! of one failure (times, hashes, numbers, paths, quoted values) masked, so
//! that unmatched failure lines group by their shape.

use std::sync::LazyLock;

use regex::Regex;

static MASKS: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    [
        // 2024-01-15T10:30:00.1234567Z, 2024-01-15 10:30:00
        (
            r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?",
            "<time>",
        ),
        (r"\b\d{2}:\d{2}:\d{2}(?:\.\d+)?\b", "<time>"),
        (r"'[^']*'", "'<s>'"),
        (r#""[^"]*""#, "\"<s>\""),
        (r"(?:[A-Za-z]:)?(?:[\w.@-]*/)+[\w.@-]+", "<path>"),
        (r"\b[0-9a-fA-F]{7,}\b", "<hex>"),
        (r"\b0x[0-9a-fA-F]+\b", "<hex>"),
        (r"\d+(?:\.\d+)*", "<n>"),
    ]
    .into_iter()
    .map(|(pattern, mask)| (Regex::new(pattern).expect("a valid mask"), mask))
    .collect()
});

/// `line` with its variable parts masked and its spaces collapsed.
pub fn template(line: &str) -> String {
    let mut text = line.trim().to_string();
    for (regex, mask) in MASKS.iter() {
        text = regex.replace_all(&text, *mask).into_owned();
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_parts_are_masked() {
        assert_eq!(
            template("2024-01-15T10:30:00.1234567Z ##[error]Process completed with exit code 137."),
            "<time> ##[error]Process completed with exit code <n>."
        );
        assert_eq!(
            template("error: cannot open /home/runner/work/app/src/main.c: No such file"),
            "error: cannot open <path>: No such file"
        );
        assert_eq!(
            template("fatal: reference is not a tree: 3f9c2a1b7d"),
            "fatal: reference is not a tree: <hex>"
        );
        assert_eq!(
            template("  FAILED   'zlib/1.3.1'  after 12 retries "),
            "FAILED '<s>' after <n> retries"
        );
        assert_eq!(template("exit 1"), template("exit 2"));
    }
}
