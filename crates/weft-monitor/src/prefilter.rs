//! The candidate search: one regex over whole buffers that finds every
//! line the rule set could care about, so the lines in between (nearly all
//! of a log) are only counted.
//!
//! How it works: each single-line pattern, and the failure-word pattern, is
//! parsed and its look-around assertions (`^`, `$`, `\b`…) are replaced by
//! the empty match. What is left matches wherever the original could, and
//! more; it no longer depends on where a line starts, so GitHub's per-line
//! timestamps do not matter. The alternation of all of them runs over the
//! buffer with the regex crate's literal prefilter; each hit's line then
//! goes through the exact per-line classification.

use regex::bytes::{Regex, RegexBuilder};
use regex_syntax::hir::{Hir, HirKind};

/// The candidate regex of `patterns`, or `None` when they cannot be turned
/// into one (then every line takes the exact path).
pub(crate) fn candidates<'a>(patterns: impl IntoIterator<Item = &'a str>) -> Option<Regex> {
    let mut parts = Vec::new();
    for pattern in patterns {
        let hir = regex_syntax::parse(pattern).ok()?;
        parts.push(without_looks(hir));
    }
    let alternation = Hir::alternation(parts).to_string();
    RegexBuilder::new(&alternation)
        .size_limit(64 << 20)
        .dfa_size_limit(64 << 20)
        .build()
        .ok()
}

/// `hir` with every look-around assertion matching the empty string, and
/// capture groups dropped (the candidate search needs no captures).
fn without_looks(hir: Hir) -> Hir {
    match hir.into_kind() {
        HirKind::Look(_) => Hir::empty(),
        HirKind::Capture(capture) => without_looks(*capture.sub),
        HirKind::Repetition(mut repetition) => {
            repetition.sub = Box::new(without_looks(*repetition.sub));
            Hir::repetition(repetition)
        }
        HirKind::Concat(parts) => Hir::concat(parts.into_iter().map(without_looks).collect()),
        HirKind::Alternation(parts) => {
            Hir::alternation(parts.into_iter().map(without_looks).collect())
        }
        kind @ (HirKind::Empty | HirKind::Literal(_) | HirKind::Class(_)) => rebuild(kind),
    }
}

fn rebuild(kind: HirKind) -> Hir {
    match kind {
        HirKind::Literal(literal) => Hir::literal(literal.0),
        HirKind::Class(class) => Hir::class(class),
        _ => Hir::empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_no_longer_tie_a_pattern_to_the_line_start() {
        let regex = candidates([r"^error\[E\d+\]", r"(?i)\bfatal\b"]).expect("compiles");
        assert!(regex.is_match(b"2024-01-15T10:30:00Z error[E0308]: mismatched"));
        assert!(regex.is_match(b"a FATAL thing"));
        assert!(!regex.is_match(b"all fine here"));
    }

    #[test]
    fn classes_and_repetitions_survive() {
        let regex = candidates([r"E(?P<code>\d{4}): [a-z]+ failed"]).expect("compiles");
        assert!(regex.is_match(b"E0042: api failed"));
        assert!(!regex.is_match(b"E42: api failed"));
    }
}
