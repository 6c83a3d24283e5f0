//! The candidate search: finds, over whole buffers, every line the rule
//! set could care about, so the lines in between (nearly all of a log) are
//! only counted. Each hit's line then goes through the exact per-line
//! classification, so the search only has to find a superset.
//!
//! How it works, in the order tried:
//! - Required literals. For each pattern, a set of literals one of which
//!   every match contains (`error: ` for a compiler-error pattern that
//!   starts with a path; `fips` for a case-insensitive FIPS rule), the
//!   longest such set it has, in lower case. When every pattern has one of
//!   at least three bytes, one Aho-Corasick automaton over all of them
//!   searches a lower-cased copy of the buffer (so case never hides a
//!   match): fast whatever the patterns start with.
//! - A regex. Each pattern with its look-around assertions (`^`, `$`,
//!   `\b`…) replaced by the empty match (it then matches wherever the
//!   original could, and more, whatever the line starts with), all in one
//!   alternation run with the regex crate's own prefilter.
//!
//! Neither depends on where a line starts, so GitHub's per-line timestamps
//! do not matter.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder};
use regex::bytes::{Regex, RegexBuilder};
use regex_syntax::hir::{Class, Hir, HirKind};

/// The shortest required literal worth searching for.
const SHORTEST: usize = 3;

/// Finds candidate lines.
#[derive(Debug, Clone)]
pub(crate) enum Candidates {
    Literals(AhoCorasick),
    Regex(Regex),
}

impl Candidates {
    /// What to search in `chunk`: a lower-cased copy (kept in `lowered`)
    /// for the literals, the chunk itself for the regex. Offsets are the
    /// same in both.
    pub(crate) fn haystack<'a>(&self, chunk: &'a [u8], lowered: &'a mut Vec<u8>) -> &'a [u8] {
        match self {
            Candidates::Literals(_) => {
                lowered.clear();
                lowered.extend(chunk.iter().map(u8::to_ascii_lowercase));
                lowered
            }
            Candidates::Regex(_) => chunk,
        }
    }

    /// Whether the search finds every candidate of `chunk`. The regex's
    /// `.` and negated classes never match invalid UTF-8, which the exact
    /// rules see as U+FFFD: such a chunk is read line by line instead.
    pub(crate) fn sound_on(&self, chunk: &[u8]) -> bool {
        match self {
            Candidates::Literals(_) => true,
            Candidates::Regex(_) => std::str::from_utf8(chunk).is_ok(),
        }
    }

    /// Where the first candidate at or after `start` is, in a haystack
    /// from [`Candidates::haystack`].
    pub(crate) fn find_at(&self, haystack: &[u8], start: usize) -> Option<usize> {
        match self {
            Candidates::Literals(automaton) => automaton
                .find(aho_corasick::Input::new(haystack).range(start..))
                .map(|found| found.start()),
            Candidates::Regex(regex) => regex.find_at(haystack, start).map(|found| found.start()),
        }
    }
}

/// The candidate search of `patterns`, or `None` when they cannot be turned
/// into one (then every line takes the exact path).
pub(crate) fn candidates<'a>(patterns: impl IntoIterator<Item = &'a str>) -> Option<Candidates> {
    let mut hirs = Vec::new();
    for pattern in patterns {
        hirs.push(regex_syntax::parse(pattern).ok()?);
    }
    if let Some(automaton) = literals(&hirs) {
        return Some(Candidates::Literals(automaton));
    }
    regex(hirs).map(Candidates::Regex)
}

/// One automaton over every pattern's required literals, when each has a
/// set of them no shorter than [`SHORTEST`]. A literal that contains
/// another is left out (a line with it has the other too), so the set
/// stays small: the failure words cover most rules' literals.
fn literals(hirs: &[Hir]) -> Option<AhoCorasick> {
    let mut all: Vec<Vec<u8>> = Vec::new();
    for hir in hirs {
        let set = required(hir)?;
        if set.iter().any(|literal| literal.len() < SHORTEST) {
            return None;
        }
        all.extend(set);
    }
    all.sort_by(|a, b| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
    all.dedup();
    let mut kept: Vec<Vec<u8>> = Vec::new();
    for literal in all {
        let covered = kept.iter().any(|shorter| {
            literal
                .windows(shorter.len())
                .any(|w| w == shorter.as_slice())
        });
        if !covered {
            kept.push(literal);
        }
    }
    // Leftmost-first: the earliest start, and the packed (Teddy) searcher.
    AhoCorasickBuilder::new()
        .match_kind(aho_corasick::MatchKind::LeftmostFirst)
        .build(&kept)
        .ok()
}

/// A set of literals (lower-cased ASCII) one of which every match of `hir`
/// contains, matched with ASCII case ignored; `None` when a match may
/// contain none (`\d+`, `.*`, an optional part).
fn required(hir: &Hir) -> Option<Vec<Vec<u8>>> {
    match hir.kind() {
        HirKind::Literal(literal) => Some(vec![literal.0.to_ascii_lowercase()]),
        HirKind::Class(class) => letter(class).map(|byte| vec![vec![byte]]),
        HirKind::Capture(capture) => required(&capture.sub),
        HirKind::Repetition(repetition) if repetition.min > 0 => required(&repetition.sub),
        HirKind::Alternation(branches) => {
            let mut union = Vec::new();
            for branch in branches {
                union.extend(required(branch)?);
            }
            Some(union)
        }
        HirKind::Concat(parts) => {
            // Runs of fixed text make literals; any part's own set also
            // counts. The best is the set whose shortest literal is longest.
            let mut options: Vec<Vec<Vec<u8>>> = Vec::new();
            let mut run: Vec<u8> = Vec::new();
            for part in parts {
                match fixed(part) {
                    Some(bytes) => run.extend(bytes),
                    None => {
                        if !run.is_empty() {
                            options.push(vec![std::mem::take(&mut run)]);
                        }
                        if let Some(set) = required(part) {
                            options.push(set);
                        }
                    }
                }
            }
            if !run.is_empty() {
                options.push(vec![run]);
            }
            options.into_iter().max_by_key(|set| {
                let shortest = set.iter().map(Vec::len).min().unwrap_or(0);
                (shortest, usize::MAX - set.len())
            })
        }
        _ => None,
    }
}

/// The fixed text `hir` always matches, lower-cased, if it is one.
fn fixed(hir: &Hir) -> Option<Vec<u8>> {
    match hir.kind() {
        HirKind::Literal(literal) if !literal.0.contains(&b'\n') => {
            Some(literal.0.to_ascii_lowercase())
        }
        HirKind::Class(class) => letter(class).map(|byte| vec![byte]),
        HirKind::Capture(capture) => fixed(&capture.sub),
        _ => None,
    }
}

/// The one ASCII byte a class stands for, ignoring ASCII case: `[Ee]` is
/// `e`. A class with anything else (a range, a Unicode case variant such as
/// `ſ` for `s`) is not one byte.
fn letter(class: &Class) -> Option<u8> {
    let mut bytes: Vec<u8> = Vec::new();
    match class {
        Class::Unicode(class) => {
            for range in class.ranges() {
                for c in range.start()..=range.end() {
                    bytes.push(u8::try_from(u32::from(c)).ok().filter(u8::is_ascii)?);
                    if bytes.len() > 2 {
                        return None;
                    }
                }
            }
        }
        Class::Bytes(class) => {
            for range in class.ranges() {
                for byte in range.start()..=range.end() {
                    bytes.push(Some(byte).filter(u8::is_ascii)?);
                    if bytes.len() > 2 {
                        return None;
                    }
                }
            }
        }
    }
    let lower = bytes.first()?.to_ascii_lowercase();
    let same = bytes.iter().all(|b| b.to_ascii_lowercase() == lower);
    (same && lower != b'\n').then_some(lower)
}

/// The alternation of every pattern without its look-around assertions.
fn regex(hirs: Vec<Hir>) -> Option<Regex> {
    let parts: Vec<Hir> = hirs.into_iter().map(without_looks).collect();
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

    fn hit(candidates: &Candidates, text: &str) -> bool {
        let mut lowered = Vec::new();
        let haystack = candidates.haystack(text.as_bytes(), &mut lowered);
        candidates.find_at(haystack, 0).is_some()
    }

    #[test]
    fn required_literals_are_found_whatever_the_case_and_the_start() {
        let patterns = [
            r"^(?P<file>[^\s:]+\.c):(?P<line>\d+): (?:fatal )?error: (?P<message>.+)",
            r"(?i)fips.*self[- ]?tests?.*fail",
            r"(?P<percent>\d+)% tests passed, (?P<failed>\d+) tests failed",
            r"npm (?:ERR!|error) code ERESOLVE",
        ];
        let candidates = candidates(patterns).expect("builds");
        assert!(matches!(candidates, Candidates::Literals(_)));
        assert!(hit(
            &candidates,
            "2024-01-15T10:30:00Z src/a.c:3:1: error: boom"
        ));
        assert!(hit(&candidates, "FIPS power-on SELF TEST failed"));
        assert!(hit(
            &candidates,
            "90% tests passed, 1 tests failed out of 10"
        ));
        assert!(hit(&candidates, "npm ERR! code ERESOLVE"));
        assert!(!hit(&candidates, "   Compiling api v0.1.0"));
        // Unicode case variants of `s` (ſ) end a literal rather than being missed.
        assert_eq!(
            required(&regex_syntax::parse("(?i)fips").expect("parses")),
            Some(vec![b"fip".to_vec()])
        );
    }

    #[test]
    fn a_pattern_without_a_required_literal_falls_back_to_the_regex() {
        let candidates = candidates([r"\d+", "OOMKilled"]).expect("builds");
        assert!(matches!(candidates, Candidates::Regex(_)));
        assert!(hit(&candidates, "exit 137"));
    }

    #[test]
    fn anchors_no_longer_tie_a_pattern_to_the_line_start() {
        let Some(regex) = super::regex(vec![
            regex_syntax::parse(r"^error\[E\d+\]").expect("parses"),
            regex_syntax::parse(r"(?i)\bfatal\b").expect("parses"),
        ]) else {
            panic!("no regex");
        };
        assert!(regex.is_match(b"2024-01-15T10:30:00Z error[E0308]: mismatched"));
        assert!(regex.is_match(b"a FATAL thing"));
        assert!(!regex.is_match(b"all fine here"));
    }

    #[test]
    fn classes_and_repetitions_survive() {
        let Some(regex) = super::regex(vec![
            regex_syntax::parse(r"E(?P<code>\d{4}): [a-z]+ failed").expect("parses"),
        ]) else {
            panic!("no regex");
        };
        assert!(regex.is_match(b"E0042: api failed"));
        assert!(!regex.is_match(b"E42: api failed"));
    }
}
