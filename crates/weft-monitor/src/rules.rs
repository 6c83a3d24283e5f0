//! Failure-log rules: read from YAML with every mistake located
//! (`file:line:col`), compiled into one `RegexSet`, and tested against
//! their own examples.

use std::fmt;

use regex::{Regex, RegexSet};
use serde::{Deserialize, Serialize};
use weft_model::yaml::{self, Node, Value};

/// The built-in rules: the seed's categories (dependency and Conan,
/// security and FIPS, workflow and permissions, build, test, deployment
/// with containers and Kubernetes).
pub const BUILTIN_RULES: &str = include_str!("builtin.yaml");

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// `critical`, `high`, `medium` or `low`.
    pub fn parse(text: &str) -> Option<Severity> {
        match text {
            "low" => Some(Severity::Low),
            "medium" => Some(Severity::Medium),
            "high" => Some(Severity::High),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rules file that cannot be used, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct RulesError {
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub message: String,
}

#[derive(Debug, Deserialize)]
struct RulesFile {
    rules: Vec<RuleConfig>,
}

#[derive(Debug, Deserialize)]
struct RuleConfig {
    name: String,
    category: String,
    severity: Severity,
    pattern: Option<String>,
    #[serde(default)]
    patterns: Vec<String>,
    #[serde(default)]
    multiline: bool,
    #[serde(default)]
    suggestions: Vec<String>,
    #[serde(default)]
    examples: Vec<String>,
}

/// One rule, compiled.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub category: String,
    pub severity: Severity,
    pub patterns: Vec<String>,
    /// The patterns may span lines: they are matched against a window of
    /// the last lines rather than one line.
    pub multiline: bool,
    /// `{name}` is replaced by the capture group `name` of the match.
    pub suggestions: Vec<String>,
    pub examples: Vec<Example>,
    /// Where the rule is written, `file:line`.
    pub source: String,
    pub(crate) regexes: Vec<Regex>,
}

/// An example log excerpt of a rule, and where it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    pub text: String,
    pub source: String,
}

impl Rule {
    /// The first pattern's captures on `text`, if a pattern matches.
    pub(crate) fn captures<'t>(&self, text: &'t str) -> Option<regex::Captures<'t>> {
        self.regexes.iter().find_map(|regex| regex.captures(text))
    }

    /// The suggestions with the captures of `text` filled in.
    pub(crate) fn suggestions_for(&self, text: &str) -> Vec<String> {
        let Some(captures) = self.captures(text) else {
            return self.suggestions.clone();
        };
        self.suggestions
            .iter()
            .map(|suggestion| {
                let mut filled = suggestion.clone();
                for name in self
                    .regexes
                    .iter()
                    .flat_map(|r| r.capture_names())
                    .flatten()
                {
                    if let Some(value) = captures.name(name) {
                        filled = filled.replace(&format!("{{{name}}}"), value.as_str());
                    }
                }
                filled
            })
            .collect()
    }
}

/// An example that does not come out as its rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestFailure {
    pub rule: String,
    /// Where the example (or, for a rule without one, the rule) is written.
    pub source: String,
    pub example: Option<String>,
    /// The rule that matched it first instead, if any.
    pub matched: Option<String>,
    pub message: String,
}

/// Lines that look like a failure (ASCII word boundaries: fast, and enough
/// for these words), for grouping the lines no rule matches. It is the
/// set's last pattern, so one pass over a line answers both questions.
const FAILURE_WORDS: &[&str] = &[
    "error",
    "errors",
    "failed",
    "failure",
    "fatal",
    "panic",
    "panicked",
    "exception",
    "denied",
    "timed out",
    "cannot",
    "could not",
    "unable to",
];

/// The pattern of a failure line: one of [`FAILURE_WORDS`] as a word, in
/// lower case, Capitalised or UPPER CASE (the ways logs write them). Three
/// spellings instead of any case keep the literals few, so the candidate
/// search over whole buffers stays fast.
fn failure_line() -> String {
    let mut spellings = Vec::with_capacity(FAILURE_WORDS.len() * 3);
    for word in FAILURE_WORDS {
        let mut characters = word.chars();
        let capitalised: String = characters
            .next()
            .map(|first| first.to_uppercase().chain(characters).collect())
            .unwrap_or_default();
        spellings.extend([word.to_string(), capitalised, word.to_uppercase()]);
    }
    format!(r"(?-u:\b)(?:{})(?-u:\b)", spellings.join("|"))
}

/// What a line is to the analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineKind {
    /// Matched by this rule (its index) first.
    Rule(usize),
    /// Looks like a failure, but no rule knows it.
    Failure,
    Ordinary,
}

/// Rules in the order they are tried: the first that matches a line wins.
#[derive(Debug, Clone)]
pub struct RuleSet {
    pub(crate) rules: Vec<Rule>,
    /// Every pattern of the single-line rules, in rule order, then
    /// [`failure_line`].
    pub(crate) set: RegexSet,
    /// The rule of each pattern of `set` but the last.
    pub(crate) owners: Vec<usize>,
    /// The multiline rules.
    pub(crate) multiline: Vec<usize>,
    /// Finds, in a whole buffer, the lines `set` could match; `None` with
    /// multiline rules (their windows need every line).
    pub(crate) candidates: Option<crate::prefilter::Candidates>,
}

impl RuleSet {
    /// The built-in rules.
    ///
    /// # Panics
    /// Never: a test holds the built-in file valid.
    pub fn builtin() -> RuleSet {
        RuleSet::parse("builtin.yaml", BUILTIN_RULES).expect("the built-in rules are valid")
    }

    /// Rules from a YAML text with a top-level `rules:` list; `file` names it
    /// in errors.
    pub fn parse(file: &str, text: &str) -> Result<RuleSet, RulesError> {
        RuleSet::from_rules(read(file, text)?)
    }

    /// `extra` (a user's rules) tried before the built-in ones.
    pub fn with_builtin(file: &str, text: &str) -> Result<RuleSet, RulesError> {
        let mut rules = read(file, text)?;
        rules.extend(read("builtin.yaml", BUILTIN_RULES)?);
        RuleSet::from_rules(rules)
    }

    fn from_rules(rules: Vec<Rule>) -> Result<RuleSet, RulesError> {
        let mut patterns = Vec::new();
        let mut owners = Vec::new();
        let mut multiline = Vec::new();
        for (index, rule) in rules.iter().enumerate() {
            if rule.multiline {
                multiline.push(index);
                continue;
            }
            for pattern in &rule.patterns {
                patterns.push(pattern.as_str());
                owners.push(index);
            }
        }
        let failure = failure_line();
        patterns.push(&failure);
        let set = RegexSet::new(&patterns).map_err(|error| RulesError {
            file: String::new(),
            line: 0,
            column: 0,
            message: format!("the rules do not compile together: {error}"),
        })?;
        let candidates = if multiline.is_empty() {
            crate::prefilter::candidates(patterns.iter().copied())
        } else {
            None
        };
        Ok(RuleSet {
            rules,
            set,
            owners,
            multiline,
            candidates,
        })
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// What `line` is: matched by a rule (the first, in order), a failure
    /// line no rule knows, or nothing of interest (most lines, answered by
    /// one fast check).
    pub(crate) fn classify(&self, line: &str) -> LineKind {
        if !self.set.is_match(line) {
            return LineKind::Ordinary;
        }
        let first = self
            .set
            .matches(line)
            .iter()
            .filter_map(|pattern| self.owners.get(pattern).copied())
            .min();
        match first {
            Some(rule) => LineKind::Rule(rule),
            None => LineKind::Failure,
        }
    }

    /// Checks every example against the whole set: it must be matched, and
    /// first by its own rule. A rule without an example fails too.
    pub fn test(&self) -> Vec<TestFailure> {
        let mut failures = Vec::new();
        for rule in &self.rules {
            if rule.examples.is_empty() {
                failures.push(TestFailure {
                    rule: rule.name.clone(),
                    source: rule.source.clone(),
                    example: None,
                    matched: None,
                    message:
                        "the rule has no example: add `examples:` with a log line it must match"
                            .to_string(),
                });
            }
            for example in &rule.examples {
                let analysis = crate::analyze::analyze_text(self, "example", &example.text);
                let first = analysis.findings.first().map(|f| f.rule.clone());
                let message = match &first {
                    Some(name) if *name == rule.name => continue,
                    Some(name) => format!("matched first by `{name}`, not by `{}`", rule.name),
                    None => "matched by no rule".to_string(),
                };
                failures.push(TestFailure {
                    rule: rule.name.clone(),
                    source: example.source.clone(),
                    example: Some(example.text.clone()),
                    matched: first,
                    message,
                });
            }
        }
        failures
    }
}

fn located(file: &str, node: &Node, message: impl Into<String>) -> RulesError {
    RulesError {
        file: file.to_string(),
        line: node.span.start.line,
        column: node.span.start.column,
        message: message.into(),
    }
}

/// Reads and checks the rules of one file.
fn read(file: &str, text: &str) -> Result<Vec<Rule>, RulesError> {
    let arena = yaml::Arena::new();
    let root = yaml::parse_one(&arena, text).map_err(|error| RulesError {
        file: file.to_string(),
        line: error.location.line,
        column: error.location.column,
        message: error.message,
    })?;
    let mut unknown = None;
    let decoded: RulesFile = yaml::from_node(&root, |path, span| {
        unknown.get_or_insert((path, span));
    })
    .map_err(|error| {
        let span = error.span.unwrap_or(root.span);
        RulesError {
            file: file.to_string(),
            line: span.start.line,
            column: span.start.column,
            message: error.message,
        }
    })?;
    if let Some((path, span)) = unknown {
        return Err(RulesError {
            file: file.to_string(),
            line: span.start.line,
            column: span.start.column,
            message: format!(
                "unknown key `{path}`: a rule has name, category, severity, pattern or patterns, multiline, suggestions and examples"
            ),
        });
    }
    let items: Vec<&Node> = match root.get("rules").map(|n| &n.value) {
        Some(Value::Sequence(items)) => items.iter().collect(),
        _ => Vec::new(),
    };
    let mut rules: Vec<Rule> = Vec::new();
    for (config, node) in decoded.rules.into_iter().zip(items) {
        let at = |key: &str| node.get(key).unwrap_or(node);
        if config.name.trim().is_empty() {
            return Err(located(file, at("name"), "a rule needs a `name`"));
        }
        if let Some(other) = rules.iter().find(|r| r.name == config.name) {
            return Err(located(
                file,
                at("name"),
                format!(
                    "rule `{}` is defined twice (first at {})",
                    config.name, other.source
                ),
            ));
        }
        let mut patterns = config.patterns.clone();
        let pattern_nodes: Vec<&Node> = match (&config.pattern, node.get("patterns")) {
            (Some(_), Some(_)) => {
                return Err(located(
                    file,
                    at("patterns"),
                    format!(
                        "rule `{}` has both `pattern` and `patterns`: keep one",
                        config.name
                    ),
                ));
            }
            (Some(pattern), None) => {
                patterns = vec![pattern.clone()];
                vec![at("pattern")]
            }
            (None, Some(list)) => match &list.value {
                Value::Sequence(items) => items.iter().collect(),
                _ => vec![list],
            },
            (None, None) => {
                return Err(located(
                    file,
                    node,
                    format!("rule `{}` needs a `pattern` (or `patterns`)", config.name),
                ));
            }
        };
        if patterns.is_empty() {
            return Err(located(
                file,
                at("patterns"),
                format!("rule `{}` has an empty `patterns` list", config.name),
            ));
        }
        let mut regexes = Vec::new();
        for (index, pattern) in patterns.iter().enumerate() {
            let source = if config.multiline {
                format!("(?ms){pattern}")
            } else {
                pattern.clone()
            };
            let regex = Regex::new(&source).map_err(|error| {
                let node = pattern_nodes.get(index).copied().unwrap_or(node);
                located(
                    file,
                    node,
                    format!(
                        "rule `{}`: the pattern does not compile: {error}",
                        config.name
                    ),
                )
            })?;
            regexes.push(regex);
        }
        let names: Vec<&str> = regexes
            .iter()
            .flat_map(|r| r.capture_names())
            .flatten()
            .collect();
        for suggestion in &config.suggestions {
            for placeholder in placeholders(suggestion) {
                if !names.contains(&placeholder) {
                    return Err(located(
                        file,
                        at("suggestions"),
                        format!(
                            "rule `{}`: the suggestion names `{{{placeholder}}}`, which no pattern captures",
                            config.name
                        ),
                    ));
                }
            }
        }
        let example_nodes: Vec<&Node> = match node.get("examples").map(|n| &n.value) {
            Some(Value::Sequence(items)) => items.iter().collect(),
            _ => Vec::new(),
        };
        let examples = config
            .examples
            .iter()
            .enumerate()
            .map(|(index, text)| {
                let node = example_nodes.get(index).copied().unwrap_or(node);
                Example {
                    text: text.clone(),
                    source: format!("{file}:{}", node.span.start.line),
                }
            })
            .collect();
        rules.push(Rule {
            name: config.name,
            category: config.category,
            severity: config.severity,
            patterns,
            multiline: config.multiline,
            suggestions: config.suggestions,
            examples,
            source: format!("{file}:{}", node.span.start.line),
            regexes,
        });
    }
    Ok(rules)
}

/// The `{name}` placeholders of a suggestion.
fn placeholders(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('}') else { break };
        let name = &after[..end];
        if !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_') {
            found.push(name);
        }
        rest = &after[end + 1..];
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_rules_pass_their_own_examples() {
        let rules = RuleSet::builtin();
        assert!(rules.rules().len() >= 20, "{}", rules.rules().len());
        let failures = rules.test();
        assert!(failures.is_empty(), "{failures:#?}");
        let categories: std::collections::BTreeSet<&str> =
            rules.rules().iter().map(|r| r.category.as_str()).collect();
        for category in [
            "dependency",
            "security",
            "workflow",
            "build",
            "test",
            "deployment",
        ] {
            assert!(categories.contains(category), "no {category} rule");
        }
    }

    #[test]
    fn mistakes_are_located() {
        let cases = [
            (
                "rules:\n  - {name: a, category: x, severity: high}\n",
                2,
                5,
                "needs a `pattern`",
            ),
            (
                "rules:\n  - name: a\n    category: x\n    severity: high\n    pattern: 'a('\n",
                5,
                14,
                "does not compile",
            ),
            (
                "rules:\n  - {name: a, category: x, severity: dire, pattern: a}\n",
                2,
                38,
                "dire",
            ),
            (
                "rules:\n  - {name: a, category: x, severity: low, pattern: a, colour: red}\n",
                2,
                55,
                "unknown key `rules.0.colour`",
            ),
            (
                "rules:\n  - {name: a, category: x, severity: low, pattern: a, suggestions: ['{pkg}']}\n",
                2,
                68,
                "`{pkg}`",
            ),
            (
                "rules:\n  - {name: a, category: x, severity: low, pattern: a}\n  - {name: a, category: y, severity: low, pattern: b}\n",
                3,
                12,
                "defined twice (first at f.yaml:2)",
            ),
        ];
        for (text, line, column, message) in cases {
            let error = RuleSet::parse("f.yaml", text).unwrap_err();
            assert_eq!((error.line, error.column), (line, column), "{error}");
            assert!(error.message.contains(message), "{error}");
            assert!(
                error
                    .to_string()
                    .starts_with(&format!("f.yaml:{line}:{column}: "))
            );
        }
    }

    #[test]
    fn a_shadowed_example_fails_its_test() {
        let text = "rules:\n  - name: any-error\n    category: build\n    severity: low\n    pattern: 'error'\n    examples: ['error: x']\n  - name: link-error\n    category: build\n    severity: high\n    pattern: 'undefined reference'\n    examples: ['error: undefined reference to foo']\n  - name: bare\n    category: build\n    severity: low\n    pattern: nothing-matches-this\n";
        let rules = RuleSet::parse("r.yaml", text).unwrap();
        let failures = rules.test();
        assert_eq!(failures.len(), 2, "{failures:#?}");
        assert_eq!(failures[0].rule, "link-error");
        assert_eq!(failures[0].matched.as_deref(), Some("any-error"));
        assert_eq!(failures[0].source, "r.yaml:11");
        assert_eq!(failures[1].rule, "bare");
        assert!(failures[1].message.contains("no example"));
    }
}
