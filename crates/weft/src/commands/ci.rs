//! `weft ci check`: lint the GitHub Actions workflows that push to a branch.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use weft_ci::{CheckSettings, CiError, Finding, Report, Rule, Verdict};
use weft_model::Severity;

use super::Context;
use crate::cli::Format;
use crate::console::{self, Style};
use crate::exit::{Outcome, UsageError};

#[derive(Debug, Args)]
pub(crate) struct CiArgs {
    #[command(subcommand)]
    command: CiCommand,
}

#[derive(Debug, Subcommand)]
enum CiCommand {
    /// Check workflows that push: retries, concurrency, permissions, races
    #[command(long_about = CHECK_ABOUT, after_help = CHECK_AFTER)]
    Check(CheckArgs),
}

const CHECK_ABOUT: &str = "\
Check GitHub Actions workflows that commit and push to a branch. Reports, with file:line:col and the \
fix: pushes that fail when another push lands first (no rebase-and-retry), jobs with no concurrency \
group, `cancel-in-progress` cancelling runs mid-push, concurrency groups that drop pending runs, missing \
`contents: write`, retry loops that `bash -e` ends at the first failure, force pushes to shared \
branches, `-X ours/theirs` during a rebase, and workflows or jobs pushing to the same branch with no \
coordination.

PATH is a workflow file, a directory of workflows, a repository (its .github/workflows is checked) or \
a directory of repositories. Without PATH: .github/workflows under -w DIR and every repository below \
it, or under the current directory.

A finding is silenced by a `# weft: ignore[rule-id]` comment on its line or the line above.

Exit codes: 0 clean (notes allowed), 1 errors or warnings, 2 a file is not valid YAML or not a \
workflow, or bad arguments.";

const CHECK_AFTER: &str = "\
Examples:
  weft ci check                               .github/workflows of the current repository
  weft ci check path/to/repo --format json
  weft ci check .github/workflows/deploy.yml --ignore concurrency-drops-pending
  weft ci check --list-rules";

#[derive(Debug, Args)]
struct CheckArgs {
    /// A workflow file, a directory of workflows, a repository or a directory of repositories
    #[arg(value_name = "PATH")]
    path: Option<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Leave out the findings of a rule (repeatable)
    #[arg(long, value_name = "RULE")]
    ignore: Vec<String>,
    /// Also print notes (reusable workflows weft cannot see, lock actions)
    #[arg(short, long)]
    verbose: bool,
    /// List the rules, their ids and severities, and exit
    #[arg(long)]
    list_rules: bool,
}

pub(crate) fn run(context: &Context, args: CiArgs) -> anyhow::Result<Outcome> {
    match args.command {
        CiCommand::Check(args) => check(context, args),
    }
}

fn check(context: &Context, args: CheckArgs) -> anyhow::Result<Outcome> {
    if args.list_rules {
        list_rules(args.format)?;
        return Ok(Outcome::Clean);
    }
    let ignore = args
        .ignore
        .iter()
        .map(|id| {
            Rule::parse(id).ok_or_else(|| {
                UsageError::new(format!("no rule `{id}`"))
                    .with_hint("`weft ci check --list-rules` lists the rule ids")
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let nested = args.path.is_none() && context.workspace.is_some();
    let settings = CheckSettings {
        path: context.workspace(args.path.as_deref()),
        nested,
        ignore,
    };
    let report = weft_ci::check(&settings).map_err(|error| match error {
        CiError::NotFound { .. } => anyhow::Error::new(
            UsageError::new(error.to_string())
                .with_hint("give a workflow file, a directory of workflows or a repository"),
        ),
        CiError::NoWorkflows { .. } => anyhow::Error::new(
            UsageError::new(error.to_string())
                .with_hint("workflows live in .github/workflows/*.yml of a repository"),
        ),
        CiError::Io(_) => anyhow::Error::new(error),
    })?;
    match args.format {
        Format::Json => console::json(&report)?,
        Format::Text => console::out(&render(&report, args.verbose)),
    }
    Ok(match report.verdict() {
        Verdict::Clean => Outcome::Clean,
        Verdict::Findings => Outcome::Problems,
        Verdict::BadInput => Outcome::BadInput,
    })
}

/// Findings grouped by file (notes only when `verbose`), then a one-line summary.
fn render(report: &Report, verbose: bool) -> String {
    let mut text = String::new();
    let mut current: Option<&str> = None;
    let shown = report
        .findings
        .iter()
        .filter(|f| verbose || f.severity != Severity::Note);
    for finding in shown {
        if current.is_some_and(|file| file != finding.file) {
            text.push('\n');
        }
        current = Some(&finding.file);
        text.push_str(&render_finding(finding));
    }
    if current.is_some() {
        text.push('\n');
    }
    let summary = &report.summary;
    let counts = format!(
        "{}, {}, {} in {}",
        console::count(summary.errors, "error"),
        console::count(summary.warnings, "warning"),
        console::count(summary.notes, "note"),
        console::count(report.files_checked, "workflow file"),
    );
    let verdict = match report.verdict() {
        Verdict::Clean => console::paint(Style::Green, "ok"),
        Verdict::Findings => console::paint(Style::Red, "problems"),
        Verdict::BadInput => console::paint(Style::Red, "invalid input"),
    };
    let pushes = match report.pushes.len() {
        1 => "1 push".to_string(),
        n => format!("{n} pushes"),
    };
    text.push_str(&format!("{verdict}: {counts}; {pushes} found\n"));
    if !verbose && summary.notes > 0 {
        text.push_str(&console::paint(
            Style::Dim,
            format!(
                "({} not shown; `weft ci check --verbose` shows them)\n",
                console::count(summary.notes, "note")
            ),
        ));
    }
    text
}

fn render_finding(finding: &Finding) -> String {
    let (label, style) = match finding.severity {
        Severity::Error => ("error", Style::Red),
        Severity::Warning => ("warning", Style::Yellow),
        Severity::Note => ("note", Style::Cyan),
    };
    let mut text = format!(
        "{}: {}: {}\n",
        console::paint(Style::Bold, finding.location()),
        console::paint(style, format!("{label}[{}]", finding.rule)),
        finding.message
    );
    for related in &finding.related {
        text.push_str(&format!(
            "  {} {}: {}\n",
            console::paint(Style::Cyan, "see:"),
            related.location(),
            related.message
        ));
    }
    if let Some(fix) = &finding.fix {
        text.push_str(&format!(
            "  {} {}\n",
            console::paint(Style::Green, "fix:"),
            fix.summary
        ));
        if let Some(snippet) = &fix.snippet {
            for line in snippet.lines() {
                if line.is_empty() {
                    text.push('\n');
                } else {
                    text.push_str(&format!("      {}\n", console::paint(Style::Dim, line)));
                }
            }
        }
    }
    text
}

#[derive(Debug, serde::Serialize)]
struct RuleEntry {
    id: &'static str,
    severity: Severity,
    summary: &'static str,
}

fn list_rules(format: Format) -> anyhow::Result<()> {
    let rules: Vec<RuleEntry> = Rule::ALL
        .into_iter()
        .map(|rule| RuleEntry {
            id: rule.as_str(),
            severity: rule.severity(),
            summary: rule.summary(),
        })
        .collect();
    match format {
        Format::Json => console::json(&rules)?,
        Format::Text => {
            let width = rules.iter().map(|r| r.id.len()).max().unwrap_or(0);
            let mut text = String::new();
            for rule in &rules {
                text.push_str(&format!(
                    "{:width$}  {:7}  {}\n",
                    rule.id,
                    rule.severity.as_str(),
                    rule.summary
                ));
            }
            console::out(&text);
        }
    }
    Ok(())
}
