//! The result of a check: findings, counts, and the pushes weft found.

use std::collections::BTreeMap;

use serde::Serialize;
use weft_model::Severity;

use crate::finding::Finding;
use crate::push::PushSummary;

/// Counts of findings. Notes inform and never fail a check.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub errors: usize,
    pub warnings: usize,
    pub notes: usize,
    /// Files that are not valid YAML or not workflows (counted in `errors` too).
    pub input_errors: usize,
    /// Findings per rule id.
    pub by_rule: BTreeMap<&'static str, usize>,
}

/// Everything `weft ci check` found; the JSON output is this, as is.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub findings: Vec<Finding>,
    pub files_checked: usize,
    pub summary: Summary,
    /// Every push found, judged or not, so that a clean result can be checked.
    pub pushes: Vec<PushSummary>,
}

/// What a report comes to, for the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// No errors or warnings (notes allowed).
    Clean,
    /// Errors or warnings in the workflows.
    Findings,
    /// A file that is not valid YAML or not a workflow.
    BadInput,
}

impl Report {
    pub fn new(findings: Vec<Finding>, files_checked: usize, pushes: Vec<PushSummary>) -> Report {
        let mut summary = Summary::default();
        for finding in &findings {
            match finding.severity {
                Severity::Error => summary.errors += 1,
                Severity::Warning => summary.warnings += 1,
                Severity::Note => summary.notes += 1,
            }
            if finding.rule.is_input_error() {
                summary.input_errors += 1;
            }
            *summary.by_rule.entry(finding.rule.as_str()).or_default() += 1;
        }
        Report {
            findings,
            files_checked,
            summary,
            pushes,
        }
    }

    pub fn verdict(&self) -> Verdict {
        if self.summary.input_errors > 0 {
            Verdict::BadInput
        } else if self.summary.errors + self.summary.warnings > 0 {
            Verdict::Findings
        } else {
            Verdict::Clean
        }
    }
}
