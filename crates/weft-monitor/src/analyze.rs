//! Scanning logs: each file read once, a line at a time (any size, any
//! encoding: invalid UTF-8 is replaced), every line through the rules'
//! `RegexSet`; multiline rules over a window of the last lines. A line the
//! rules know is a finding with two lines of context on each side; a failure
//! line they do not know is counted under its template.

use crate::prefilter::Candidates;
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use crate::rules::{LineKind, RuleSet, Severity};
use crate::template::template;

/// Lines of context kept before and after a finding.
const CONTEXT: usize = 2;
/// What the candidate search reads at a time.
const BUFFER: usize = 1 << 20;
/// Lines a multiline rule's patterns see at once.
const WINDOW: usize = 10;

/// One match of a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Finding {
    pub rule: String,
    /// The seed's name for the rule that matched.
    pub pattern: String,
    pub category: String,
    pub severity: Severity,
    pub file: String,
    /// 1-based.
    pub line: u64,
    /// The matching line (the window's last line for a multiline rule).
    pub text: String,
    /// Up to two lines before and after, with their numbers.
    pub context: Vec<(u64, String)>,
    pub suggestions: Vec<String>,
}

/// Failure lines no rule matched, grouped by template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unmatched {
    pub template: String,
    pub count: u64,
    /// The first occurrence: file, line and text.
    pub file: String,
    pub line: u64,
    pub example: String,
}

/// What the logs held.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Analysis {
    pub files: Vec<String>,
    pub lines: u64,
    pub bytes: u64,
    pub findings: Vec<Finding>,
    /// Most frequent first.
    pub unmatched: Vec<Unmatched>,
}

impl Analysis {
    /// The findings at `severity` or above.
    pub fn at_least(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity >= severity)
            .count()
    }

    fn sort_unmatched(&mut self) {
        self.unmatched.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| a.template.cmp(&b.template))
        });
    }
}

/// Scans every file.
pub fn analyze_file(rules: &RuleSet, paths: &[&Path]) -> std::io::Result<Analysis> {
    let mut total = Analysis::default();
    let mut groups = BTreeMap::new();
    for path in paths {
        let name = path.display().to_string();
        let file = std::fs::File::open(path)
            .map_err(|error| std::io::Error::new(error.kind(), format!("{name}: {error}")))?;
        let mut scanner = Scanner::new(rules, &name, &mut groups);
        scanner.read(file)?;
        let (lines, bytes, findings) = scanner.finish();
        total.files.push(name);
        total.lines += lines;
        total.bytes += bytes;
        total.findings.extend(findings);
    }
    total.unmatched = groups.into_values().collect();
    total.sort_unmatched();
    Ok(total)
}

/// Scans one reader named `name`.
pub fn analyze(rules: &RuleSet, name: &str, reader: impl Read) -> std::io::Result<Analysis> {
    let mut groups = BTreeMap::new();
    let mut scanner = Scanner::new(rules, name, &mut groups);
    scanner.read(reader)?;
    let (lines, bytes, findings) = scanner.finish();
    let mut analysis = Analysis {
        files: vec![name.to_string()],
        lines,
        bytes,
        findings,
        unmatched: groups.into_values().collect(),
    };
    analysis.sort_unmatched();
    Ok(analysis)
}

/// Scans a text held in memory (a rule's example).
pub(crate) fn analyze_text(rules: &RuleSet, name: &str, text: &str) -> Analysis {
    analyze(rules, name, text.as_bytes()).unwrap_or_default()
}

/// The length of a leading `2024-01-15T10:30:00.1234567Z ` (GitHub
/// Actions' per-line time), or 0.
fn runner_timestamp(line: &str) -> usize {
    let bytes = line.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        bytes
            .get(range)
            .is_some_and(|part| part.iter().all(u8::is_ascii_digit))
    };
    let shaped = digits(0..4)
        && bytes.get(4) == Some(&b'-')
        && digits(5..7)
        && bytes.get(7) == Some(&b'-')
        && digits(8..10)
        && bytes.get(10) == Some(&b'T')
        && digits(11..13)
        && bytes.get(13) == Some(&b':')
        && digits(14..16)
        && bytes.get(16) == Some(&b':')
        && digits(17..19);
    if !shaped {
        return 0;
    }
    let mut end = 19;
    if bytes.get(end) == Some(&b'.') {
        end += 1;
        while bytes.get(end).is_some_and(u8::is_ascii_digit) {
            end += 1;
        }
    }
    if bytes.get(end) == Some(&b'Z') && bytes.get(end + 1) == Some(&b' ') {
        end + 2
    } else {
        0
    }
}

/// Where the line holding `at` starts.
fn line_start(chunk: &[u8], at: usize) -> usize {
    memchr::memrchr(b'\n', &chunk[..at]).map_or(0, |newline| newline + 1)
}

/// Where the line `count` lines before the one starting at `until` starts,
/// not before `from` (a line start).
fn lines_back(chunk: &[u8], from: usize, until: usize, count: usize) -> usize {
    let mut start = until;
    for _ in 0..count {
        if start <= from {
            return from;
        }
        start = line_start(chunk, start - 1);
    }
    start.max(from)
}

struct Scanner<'a> {
    rules: &'a RuleSet,
    name: &'a str,
    groups: &'a mut BTreeMap<String, Unmatched>,
    lines: u64,
    bytes: u64,
    /// The last lines, for context before a finding and multiline windows.
    recent: VecDeque<(u64, String)>,
    /// Findings still collecting the lines after them.
    open: Vec<Finding>,
    done: Vec<Finding>,
    /// What the candidate search reads at a time ([`BUFFER`]).
    buffer: usize,
    /// The lower-cased copy of a buffer the literal search reads.
    lowered: Vec<u8>,
}

impl<'a> Scanner<'a> {
    fn new(
        rules: &'a RuleSet,
        name: &'a str,
        groups: &'a mut BTreeMap<String, Unmatched>,
    ) -> Scanner<'a> {
        Scanner {
            rules,
            name,
            groups,
            lines: 0,
            bytes: 0,
            recent: VecDeque::with_capacity(WINDOW + 1),
            open: Vec::new(),
            done: Vec::new(),
            buffer: BUFFER,
            lowered: Vec::new(),
        }
    }

    /// Reads everything: through the candidate search when the rules
    /// have one, else a line at a time.
    fn read(&mut self, reader: impl Read) -> std::io::Result<()> {
        match self.rules.candidates.clone() {
            Some(candidates) => self.read_buffers(reader, &candidates),
            None => self.read_lines(reader),
        }
    }

    fn read_lines(&mut self, reader: impl Read) -> std::io::Result<()> {
        let mut reader = BufReader::with_capacity(256 * 1024, reader);
        let mut buffer = Vec::with_capacity(1024);
        loop {
            buffer.clear();
            let read = reader.read_until(b'\n', &mut buffer)?;
            if read == 0 {
                return Ok(());
            }
            self.bytes += read as u64;
            self.raw_line(&buffer);
        }
    }

    /// Reads buffers of whole lines and scans each with the candidate
    /// search (see [`Scanner::scan`]).
    fn read_buffers(
        &mut self,
        mut reader: impl Read,
        candidates: &Candidates,
    ) -> std::io::Result<()> {
        let mut buffer = vec![0u8; self.buffer];
        let mut filled = 0;
        loop {
            if filled == buffer.len() {
                // One line longer than the buffer: make room for it.
                buffer.resize(buffer.len() * 2, 0);
            }
            let read = match reader.read(&mut buffer[filled..]) {
                Ok(read) => read,
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error),
            };
            filled += read;
            let end_of_input = read == 0;
            let end = if end_of_input {
                filled
            } else {
                match memchr::memrchr(b'\n', &buffer[..filled]) {
                    Some(newline) => newline + 1,
                    None => continue,
                }
            };
            self.scan(candidates, &buffer[..end]);
            buffer.copy_within(end..filled, 0);
            filled -= end;
            if end_of_input {
                return Ok(());
            }
        }
    }

    /// Scans whole lines. The candidate search finds the next line the
    /// rules could match; the lines before it are only counted, except the
    /// last few, which go through [`Scanner::line`] to be remembered as
    /// context. The candidate line does too, and so do the lines after a
    /// finding until it has its context.
    fn scan(&mut self, candidates: &Candidates, chunk: &[u8]) {
        self.bytes += chunk.len() as u64;
        if !candidates.sound_on(chunk) {
            let mut position = 0;
            while position < chunk.len() {
                position = self.next_line(chunk, position);
            }
            return;
        }
        let mut lowered = std::mem::take(&mut self.lowered);
        let haystack = candidates.haystack(chunk, &mut lowered);
        let mut position = 0;
        while position < chunk.len() {
            if !self.open.is_empty() {
                position = self.next_line(chunk, position);
                continue;
            }
            let hit = candidates
                .find_at(haystack, position)
                .map(|found| line_start(chunk, found));
            let until = hit.unwrap_or(chunk.len());
            let remembered = lines_back(chunk, position, until, CONTEXT);
            self.lines += memchr::memchr_iter(b'\n', &chunk[position..remembered]).count() as u64;
            position = remembered;
            while position < until {
                position = self.next_line(chunk, position);
            }
            if hit.is_some() {
                position = self.next_line(chunk, position);
            }
        }
        self.lowered = lowered;
    }

    /// Takes the line at `start`; where the next one starts.
    fn next_line(&mut self, chunk: &[u8], start: usize) -> usize {
        let end = memchr::memchr(b'\n', &chunk[start..]).map_or(chunk.len(), |n| start + n + 1);
        self.raw_line(&chunk[start..end]);
        end
    }

    /// One line as read, its line ending still on.
    fn raw_line(&mut self, bytes: &[u8]) {
        let mut end = bytes.len();
        while end > 0 && matches!(bytes[end - 1], b'\n' | b'\r') {
            end -= 1;
        }
        match std::str::from_utf8(&bytes[..end]) {
            Ok(line) => self.line(line),
            Err(_) => {
                let line = String::from_utf8_lossy(&bytes[..end]).into_owned();
                self.line(&line);
            }
        }
    }

    fn line(&mut self, raw: &str) {
        self.lines += 1;
        let number = self.lines;
        // GitHub Actions job logs start each line with its time: rules
        // (and their `^` anchors) see the line as the step printed it.
        let line = &raw[runner_timestamp(raw)..];
        if !self.open.is_empty() {
            self.after(number, line);
        }
        let kind = self.rules.classify(line);
        match kind {
            LineKind::Rule(index) => self.found(index, number, line, line),
            LineKind::Failure => {
                let key = template(line);
                let group = self.groups.entry(key.clone()).or_insert_with(|| Unmatched {
                    template: key,
                    count: 0,
                    file: self.name.to_string(),
                    line: number,
                    example: line.trim().to_string(),
                });
                group.count += 1;
            }
            LineKind::Ordinary => {}
        }
        self.remember(number, line);
        if !matches!(kind, LineKind::Rule(_)) && !self.rules.multiline.is_empty() {
            let window: Vec<&str> = self.recent.iter().map(|(_, l)| l.as_str()).collect();
            let window = window.join("\n");
            if let Some(index) = self
                .rules
                .multiline
                .iter()
                .copied()
                .find(|index| self.rules.rules[*index].captures(&window).is_some())
            {
                self.found(index, number, line, &window);
                // Each line of a window is reported once.
                self.recent.clear();
            }
        }
    }

    /// A line after open findings: their context, until they have enough.
    fn after(&mut self, number: u64, line: &str) {
        for finding in &mut self.open {
            finding.context.push((number, line.to_string()));
        }
        let (closed, open): (Vec<Finding>, Vec<Finding>) = self
            .open
            .drain(..)
            .partition(|f| f.context.iter().filter(|(n, _)| *n > f.line).count() >= CONTEXT);
        self.open = open;
        self.done.extend(closed);
    }

    /// Keeps the last lines (for context, and multiline windows), reusing
    /// the oldest line's buffer.
    fn remember(&mut self, number: u64, line: &str) {
        let keep = if self.rules.multiline.is_empty() {
            CONTEXT
        } else {
            WINDOW
        };
        let mut text = if self.recent.len() >= keep {
            self.recent
                .pop_front()
                .map(|(_, text)| text)
                .unwrap_or_default()
        } else {
            String::new()
        };
        text.clear();
        text.push_str(line);
        self.recent.push_back((number, text));
    }

    fn found(&mut self, index: usize, number: u64, line: &str, matched: &str) {
        let rule = &self.rules.rules[index];
        let before: Vec<(u64, String)> = self
            .recent
            .iter()
            .rev()
            .take(CONTEXT)
            .rev()
            .cloned()
            .collect();
        self.open.push(Finding {
            rule: rule.name.clone(),
            pattern: rule.name.clone(),
            category: rule.category.clone(),
            severity: rule.severity,
            file: self.name.to_string(),
            line: number,
            text: line.to_string(),
            context: before,
            suggestions: rule.suggestions_for(matched),
        });
    }

    fn finish(mut self) -> (u64, u64, Vec<Finding>) {
        self.done.append(&mut self.open);
        self.done.sort_by_key(|f| f.line);
        (self.lines, self.bytes, self.done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Scans `log` a line at a time, or through the candidate search with
    /// a buffer of `buffer` bytes.
    fn scan(rules: &RuleSet, log: &[u8], buffer: Option<usize>) -> Analysis {
        let mut groups = BTreeMap::new();
        let mut scanner = Scanner::new(rules, "x.log", &mut groups);
        match (buffer, rules.candidates.clone()) {
            (Some(size), Some(candidates)) => {
                scanner.buffer = size;
                scanner.read_buffers(log, &candidates).unwrap();
            }
            _ => scanner.read_lines(log).unwrap(),
        }
        let (lines, bytes, findings) = scanner.finish();
        let mut analysis = Analysis {
            files: vec!["x.log".to_string()],
            lines,
            bytes,
            findings,
            unmatched: groups.into_values().collect(),
        };
        analysis.sort_unmatched();
        analysis
    }

    const VOCABULARY: &[&str] = &[
        "   Compiling api v0.1.0",
        "test api::tests::case ... ok",
        "ERROR: Missing prebuilt package for 'zlib/1.3.1'",
        "2024-01-15T10:30:00.1234567Z error[E0308]: mismatched types",
        "error: flux capacitor misaligned at step 12",
        "--- FAIL: TestRelease (0.02s)",
        "Error: ImagePullBackOff",
        "fatal: could not read Username",
        "",
        "\r",
        "a line that is rather long and mentions nothing of interest at all, repeated",
    ];

    #[test]
    fn the_built_in_rules_are_searched_by_their_literals() {
        assert!(matches!(
            RuleSet::builtin().candidates,
            Some(Candidates::Literals(_))
        ));
    }

    proptest! {
        #[test]
        fn the_candidate_search_finds_what_the_line_scan_finds(
            picks in proptest::collection::vec(0..VOCABULARY.len(), 0..80),
            buffer in 1usize..200,
            trailing_newline in any::<bool>(),
        ) {
            static RULES: std::sync::LazyLock<RuleSet> = std::sync::LazyLock::new(RuleSet::builtin);
            let rules = &*RULES;
            let mut log = picks.iter().map(|&i| VOCABULARY[i]).collect::<Vec<_>>().join("\n");
            if trailing_newline {
                log.push('\n');
            }
            let lines = scan(rules, log.as_bytes(), None);
            let buffers = scan(rules, log.as_bytes(), Some(buffer));
            prop_assert_eq!(buffers, lines);
        }
    }

    #[test]
    fn findings_carry_context_captures_and_the_rest_is_grouped() {
        let rules = RuleSet::builtin();
        let log = "\
Run conan install . --build=never
zlib/1.3.1: Checking remote
ERROR: Missing prebuilt package for 'zlib/1.3.1'
Check the available packages
Try to build from sources
error: flux capacitor misaligned at step 12
error: flux capacitor misaligned at step 13
all done
";
        let analysis = analyze(&rules, "build.log", log.as_bytes()).unwrap();
        assert_eq!(analysis.lines, 8);
        assert_eq!(analysis.bytes, log.len() as u64);
        assert_eq!(analysis.findings.len(), 1, "{analysis:#?}");
        let finding = &analysis.findings[0];
        assert_eq!(finding.rule, "conan-missing-binary");
        assert_eq!(finding.category, "dependency");
        assert_eq!(finding.line, 3);
        let numbers: Vec<u64> = finding.context.iter().map(|(n, _)| *n).collect();
        assert_eq!(numbers, [1, 2, 4, 5]);
        assert!(
            finding.suggestions.iter().any(|s| s.contains("zlib/1.3.1")),
            "{:?}",
            finding.suggestions
        );
        assert_eq!(analysis.unmatched.len(), 1, "{:#?}", analysis.unmatched);
        assert_eq!(analysis.unmatched[0].count, 2);
        assert_eq!(analysis.unmatched[0].line, 6);
        assert_eq!(
            analysis.unmatched[0].template,
            "error: flux capacitor misaligned at step <n>"
        );
    }

    #[test]
    fn a_multiline_rule_sees_a_window_and_reports_once() {
        let rules = RuleSet::parse(
            "r.yaml",
            "rules:\n  - name: oom-after-start\n    category: deployment\n    severity: high\n    multiline: true\n    pattern: 'Starting (?P<app>\\w+).*\\n.*Killed'\n    examples: [\"Starting api\\nKilled\"]\n",
        )
        .unwrap();
        let log = "Starting api\nloading\nKilled\nKilled\n";
        let analysis = analyze(&rules, "x.log", log.as_bytes()).unwrap();
        assert_eq!(analysis.findings.len(), 1, "{analysis:#?}");
        assert_eq!(analysis.findings[0].line, 3);
        assert!(rules.test().is_empty());
    }

    #[test]
    fn runner_timestamps_do_not_hide_anchored_rules() {
        let rules = RuleSet::builtin();
        let log = "2024-01-15T10:30:00.1234567Z error[E0308]: mismatched types\n\
                   2024-01-15T10:30:01Z --- FAIL: TestRelease (0.02s)\n\
                   2024-01-15 not a runner time\n";
        let analysis = analyze(&rules, "job.log", log.as_bytes()).unwrap();
        let rules: Vec<&str> = analysis.findings.iter().map(|f| f.rule.as_str()).collect();
        assert_eq!(rules, ["rust-compile-error", "go-test-failed"]);
        assert_eq!(analysis.findings[0].text, "error[E0308]: mismatched types");
        assert_eq!(
            runner_timestamp("2024-01-15T10:30:00Z"),
            0,
            "no line after it"
        );
    }

    #[test]
    fn invalid_utf8_and_crlf_are_read() {
        let rules = RuleSet::builtin();
        let mut log = b"ok\r\nERROR: Missing prebuilt package for 'a/1'\r\n".to_vec();
        log.extend([0xff, 0xfe, b'\n']);
        let analysis = analyze(&rules, "x.log", log.as_slice()).unwrap();
        assert_eq!(analysis.lines, 3);
        assert_eq!(
            analysis.findings[0].text,
            "ERROR: Missing prebuilt package for 'a/1'"
        );
    }
}
