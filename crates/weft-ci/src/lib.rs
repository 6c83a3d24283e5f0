//! `weft ci check`: a linter for GitHub Actions workflows that push to a
//! branch. It finds pushes that fail when another push lands first, runs
//! that overlap or are cancelled mid-push, missing `contents: write`, retry
//! loops that `bash -e` breaks, and workflows racing each other to the same
//! branch, each with the fix (usually weft's push step).
//!
//! Synchronous and pure apart from reading the workflow files: no network.

mod actions;
mod check;
mod concurrency;
mod context;
mod error;
mod finding;
mod fix;
mod input;
mod job_facts;
mod job_rules;
mod permissions;
mod push;
mod race;
mod report;
mod retry;
mod rule;
mod script;
pub mod shell;
mod triggers;
mod workflow;

use std::path::PathBuf;

pub use actions::PUSHING_ACTIONS;
pub use check::{RepositoryCheck, check_repository};
pub use error::CiError;
pub use finding::{Finding, Fix, Related};
pub use fix::WEFT_ACTION;
pub use input::{RepositoryWorkflows, WORKFLOWS, WorkflowPath, collect};
pub use push::PushSummary;
pub use report::{Report, Summary, Verdict};
pub use rule::Rule;
pub use workflow::{Workflow, WorkflowError};

/// What to check and how.
#[derive(Debug, Clone, Default)]
pub struct CheckSettings {
    /// A workflow file, a directory of workflows, a repository or a
    /// directory of repositories.
    pub path: PathBuf,
    /// Also check every repository below a repository (a workspace).
    pub nested: bool,
    /// Rules whose findings are left out.
    pub ignore: Vec<Rule>,
}

/// Checks the workflows under `settings.path`. Files that are not valid YAML
/// or not workflows are findings (see [`Verdict::BadInput`]), not errors;
/// an error means nothing could be checked.
pub fn check(settings: &CheckSettings) -> Result<Report, CiError> {
    let repositories = collect(&settings.path, settings.nested)?;
    let mut findings = Vec::new();
    let mut pushes = Vec::new();
    let mut files_checked = 0;
    for repository in repositories {
        let mut workflows = Vec::new();
        for file in repository {
            files_checked += 1;
            let bytes = fs_err::read(&file.path)?;
            let parsed = match String::from_utf8(bytes) {
                Ok(text) => Workflow::parse(&file.display, &text),
                Err(_) => Err(WorkflowError {
                    code: "yaml-syntax",
                    message: "the file is not UTF-8 text".into(),
                    location: weft_model::Location {
                        offset: 0,
                        line: 1,
                        column: 1,
                    },
                }),
            };
            match parsed {
                Ok(workflow) => workflows.push(workflow),
                Err(error) => {
                    tracing::debug!(file = %file.display, "not a workflow: {}", error.message);
                    let rule = Rule::parse(error.code).unwrap_or(Rule::InvalidWorkflow);
                    findings.push(Finding::new(
                        rule,
                        &file.display,
                        error.location,
                        error.message,
                    ));
                }
            }
        }
        let checked = check_repository(&workflows, &settings.ignore);
        findings.extend(checked.findings);
        pushes.extend(checked.pushes);
    }
    findings.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
    Ok(Report::new(findings, files_checked, pushes))
}
