//! weft's ecosystem monitor. This part reads CI failure logs: rules in YAML
//! (a built-in set for the usual categories, extended by `monitor.rules`),
//! each with examples that `weft monitor rules test` checks, and an analyzer
//! that streams logs of any size once, line by line, through one
//! `RegexSet`, reporting each match with its context and suggestions and
//! grouping the failure lines no rule knows by a normalised template.

mod analyze;
mod rules;
mod template;

pub use analyze::{Analysis, Finding, Unmatched, analyze, analyze_file};
pub use rules::{BUILTIN_RULES, Example, Rule, RuleSet, RulesError, Severity, TestFailure};
pub use template::template;
