//! A finding: a rule that fired, where, why, and the fix.

use serde::Serialize;
use weft_model::{Location, Severity};

use crate::rule::Rule;

/// How to fix a finding: a sentence, and usually the YAML to write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fix {
    pub summary: String,
    /// A YAML snippet (a step, a `concurrency:` block), indented as it
    /// would be written under `steps:` or at the top level.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snippet: Option<String>,
}

impl Fix {
    pub fn new(summary: impl Into<String>) -> Self {
        Fix {
            summary: summary.into(),
            snippet: None,
        }
    }

    pub fn with_snippet(mut self, snippet: impl Into<String>) -> Self {
        self.snippet = Some(snippet.into());
        self
    }
}

/// Another place a finding involves (the other workflow of a race, the
/// `permissions:` key that withholds `contents: write`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Related {
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub message: String,
}

impl Related {
    pub fn new(file: &str, at: Location, message: impl Into<String>) -> Self {
        Related {
            file: file.to_string(),
            line: at.line,
            column: at.column,
            message: message.into(),
        }
    }

    /// `file:line:col`.
    pub fn location(&self) -> String {
        format!("{}:{}:{}", self.file, self.line, self.column)
    }
}

/// One problem found in a workflow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub rule: Rule,
    pub severity: Severity,
    /// The workflow file, as shown to the user.
    pub file: String,
    pub line: u32,
    pub column: u32,
    /// The job, when the finding is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<Fix>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<Related>,
}

impl Finding {
    pub fn new(rule: Rule, file: &str, at: Location, message: impl Into<String>) -> Self {
        Finding {
            rule,
            severity: rule.severity(),
            file: file.to_string(),
            line: at.line,
            column: at.column,
            job: None,
            message: message.into(),
            fix: None,
            related: Vec::new(),
        }
    }

    pub fn in_job(mut self, job: &str) -> Self {
        self.job = Some(job.to_string());
        self
    }

    pub fn with_fix(mut self, fix: Fix) -> Self {
        self.fix = Some(fix);
        self
    }

    pub fn with_related(mut self, related: Related) -> Self {
        self.related.push(related);
        self
    }

    /// `file:line:col`.
    pub fn location(&self) -> String {
        format!("{}:{}:{}", self.file, self.line, self.column)
    }
}
