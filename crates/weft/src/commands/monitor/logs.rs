//! `weft monitor analyze-logs` and `weft monitor rules`: the offline part,
//! CI failure logs classified by rules, and the rules tested against their
//! own examples.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;
use weft_monitor::{Analysis, RuleSet, Severity};

use super::super::Context;
use crate::cli::Format;
use crate::console::{self, Style};
use crate::exit::{Outcome, UsageError};

#[derive(Debug, Subcommand)]
pub(super) enum RulesCommand {
    /// Check that every example of every rule is matched, and first by its own rule
    #[command(
        long_about = "Run every rule's `examples:` through the whole rule set, in the order the \
analysis uses: each must be matched, and first by its own rule (a general rule written before a \
specific one shadows it). A rule without an example fails too.\n\n\
Exit codes: 0 all pass, 1 an example fails, 2 the rules cannot be read."
    )]
    Test(RulesArgs),
    /// List the rules in the order they are tried
    List(RulesArgs),
}

#[derive(Debug, Args)]
pub(super) struct RulesArgs {
    /// Extra rules (a YAML file with a `rules:` list), tried before the built-in set
    /// [default: weft.yaml's `monitor.rules`]
    #[arg(long, value_name = "FILE")]
    rules: Option<PathBuf>,
    /// Only those rules, without the built-in set
    #[arg(long)]
    no_builtin: bool,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Debug, Args)]
pub(super) struct AnalyzeArgs {
    /// Log files to read; `-` reads standard input (`gh run view ID --log-failed | weft monitor
    /// analyze-logs -`)
    #[arg(value_name = "FILE", required = true)]
    files: Vec<PathBuf>,
    /// Extra rules (a YAML file with a `rules:` list), tried before the built-in set
    /// [default: weft.yaml's `monitor.rules`]
    #[arg(long, value_name = "FILE")]
    rules: Option<PathBuf>,
    /// Only those rules, without the built-in set
    #[arg(long)]
    no_builtin: bool,
    /// Exit 1 when a finding is at least this severe
    #[arg(long, value_enum, value_name = "SEVERITY")]
    fail_on: Option<SeverityArg>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum SeverityArg {
    Critical,
    High,
    Medium,
    Low,
}

impl From<SeverityArg> for Severity {
    fn from(severity: SeverityArg) -> Severity {
        match severity {
            SeverityArg::Critical => Severity::Critical,
            SeverityArg::High => Severity::High,
            SeverityArg::Medium => Severity::Medium,
            SeverityArg::Low => Severity::Low,
        }
    }
}

/// The rules: `--rules FILE`, or weft.yaml's `monitor.rules`, before the
/// built-in set.
pub(super) fn rules(
    context: &Context,
    explicit: Option<&Path>,
    builtin: bool,
) -> anyhow::Result<RuleSet> {
    // The file, and its name as the user wrote it (for messages).
    let extra = match explicit {
        Some(path) => Some((path.to_path_buf(), path.display().to_string())),
        None => {
            let root = context.workspace(None);
            let loaded = weft_model::config::load(&root)
                .map_err(|error| UsageError::new(format!("weft.yaml: {error}")))?;
            loaded.config.monitor.rules.map(|path| {
                let shown = if root == Path::new(".") {
                    path.clone()
                } else {
                    root.join(&path).display().to_string()
                };
                (root.join(path), shown)
            })
        }
    };
    let Some((path, shown)) = extra else {
        if !builtin {
            return Err(UsageError::new("--no-builtin leaves no rules")
                .with_hint("give your rules with --rules FILE or weft.yaml's `monitor.rules`")
                .into());
        }
        return Ok(RuleSet::builtin());
    };
    let text = fs_err::read_to_string(&path).map_err(|error| {
        UsageError::new(format!("cannot read the rules: {error}"))
            .with_hint("give a YAML file with a `rules:` list")
    })?;
    let rules = if builtin {
        RuleSet::with_builtin(&shown, &text)
    } else {
        RuleSet::parse(&shown, &text)
    };
    rules.map_err(|error| {
        UsageError::new(error.to_string())
            .with_hint("`weft monitor rules test --help` shows how a rule is written")
            .into()
    })
}

pub(super) fn analyze(context: &Context, args: &AnalyzeArgs) -> anyhow::Result<Outcome> {
    let rules = rules(context, args.rules.as_deref(), !args.no_builtin)?;
    let stdin = args.files.iter().any(|f| f.as_os_str() == "-");
    let analysis = if stdin {
        if args.files.len() > 1 {
            return Err(UsageError::new("`-` (standard input) cannot be mixed with files")
                .with_hint("read the files, or pipe them all: cat a.log b.log | weft monitor analyze-logs -")
                .into());
        }
        weft_monitor::analyze(&rules, "<stdin>", std::io::stdin().lock())
            .map_err(|error| UsageError::new(format!("cannot read standard input: {error}")))?
    } else {
        for file in &args.files {
            if !file.is_file() {
                return Err(UsageError::new(format!("no log file `{}`", file.display())).into());
            }
        }
        let paths: Vec<&Path> = args.files.iter().map(PathBuf::as_path).collect();
        weft_monitor::analyze_file(&rules, &paths)
            .map_err(|error| UsageError::new(format!("cannot read a log: {error}")))?
    };
    match args.format {
        Format::Json => console::json(&analysis)?,
        Format::Text => console::out(&render(&analysis)),
    }
    let failing = args
        .fail_on
        .is_some_and(|severity| analysis.at_least(severity.into()) > 0);
    Ok(if failing {
        Outcome::Problems
    } else {
        Outcome::Clean
    })
}

fn paint(severity: Severity) -> String {
    let style = match severity {
        Severity::Critical | Severity::High => Style::Red,
        Severity::Medium => Style::Yellow,
        Severity::Low => Style::Dim,
    };
    console::paint(style, severity.as_str())
}

fn render(analysis: &Analysis) -> String {
    let mut text = String::new();
    for finding in &analysis.findings {
        text.push_str(&format!(
            "{}:{}: {} {} {}\n",
            finding.file,
            finding.line,
            paint(finding.severity),
            finding.category,
            console::paint(Style::Bold, &finding.rule)
        ));
        let context = |text: &mut String, lines: &mut dyn Iterator<Item = &(u64, String)>| {
            for (number, line) in lines {
                text.push_str(&format!(
                    "  {number:>6} │ {}\n",
                    console::paint(Style::Dim, line)
                ));
            }
        };
        context(
            &mut text,
            &mut finding.context.iter().filter(|(n, _)| *n < finding.line),
        );
        text.push_str(&format!("  {:>6} │ {}\n", finding.line, finding.text));
        context(
            &mut text,
            &mut finding.context.iter().filter(|(n, _)| *n > finding.line),
        );
        for suggestion in &finding.suggestions {
            text.push_str(&format!("  → {suggestion}\n"));
        }
    }
    if !analysis.unmatched.is_empty() {
        text.push_str("failure lines no rule matches, by template:\n");
        for group in analysis.unmatched.iter().take(20) {
            text.push_str(&format!(
                "  {:>5}× {}   ({}:{})\n",
                group.count, group.template, group.file, group.line
            ));
        }
        if analysis.unmatched.len() > 20 {
            text.push_str(&format!(
                "  … and {} more templates (--format json lists them all)\n",
                analysis.unmatched.len() - 20
            ));
        }
    }
    let mut counts = Vec::new();
    for severity in [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
    ] {
        let count = analysis
            .findings
            .iter()
            .filter(|f| f.severity == severity)
            .count();
        if count > 0 {
            counts.push(format!("{count} {severity}"));
        }
    }
    text.push_str(&format!(
        "{} finding{}{} in {} file{}, {} lines\n",
        analysis.findings.len(),
        if analysis.findings.len() == 1 {
            ""
        } else {
            "s"
        },
        if counts.is_empty() {
            String::new()
        } else {
            format!(" ({})", counts.join(", "))
        },
        analysis.files.len(),
        if analysis.files.len() == 1 { "" } else { "s" },
        analysis.lines
    ));
    text
}

pub(super) fn test(context: &Context, args: &RulesArgs) -> anyhow::Result<Outcome> {
    let rules = rules(context, args.rules.as_deref(), !args.no_builtin)?;
    let failures = rules.test();
    let examples: usize = rules.rules().iter().map(|r| r.examples.len()).sum();
    match args.format {
        Format::Json => console::json(&json!({
            "rules": rules.rules().len(),
            "examples": examples,
            "failures": failures,
        }))?,
        Format::Text => {
            let mut text = String::new();
            for failure in &failures {
                text.push_str(&format!(
                    "{} {}: rule `{}`: {}\n",
                    console::paint(Style::Red, "✗"),
                    failure.source,
                    failure.rule,
                    failure.message
                ));
                if let Some(example) = &failure.example {
                    text.push_str(&format!("    example: {example}\n"));
                }
            }
            text.push_str(&format!(
                "{} rules, {examples} examples: {}\n",
                rules.rules().len(),
                if failures.is_empty() {
                    console::paint(Style::Green, "all pass")
                } else {
                    console::paint(Style::Red, format!("{} failed", failures.len()))
                }
            ));
            console::out(&text);
        }
    }
    Ok(if failures.is_empty() {
        Outcome::Clean
    } else {
        Outcome::Problems
    })
}

pub(super) fn list(context: &Context, args: &RulesArgs) -> anyhow::Result<Outcome> {
    let rules = rules(context, args.rules.as_deref(), !args.no_builtin)?;
    match args.format {
        Format::Json => {
            let list: Vec<serde_json::Value> = rules
                .rules()
                .iter()
                .map(|rule| {
                    json!({
                        "name": rule.name,
                        "category": rule.category,
                        "severity": rule.severity,
                        "patterns": rule.patterns,
                        "multiline": rule.multiline,
                        "suggestions": rule.suggestions,
                        "examples": rule.examples.iter().map(|e| &e.text).collect::<Vec<_>>(),
                        "source": rule.source,
                    })
                })
                .collect();
            console::json(&json!({"rules": list}))?;
        }
        Format::Text => {
            let mut text = String::new();
            for rule in rules.rules() {
                text.push_str(&format!(
                    "{:<32} {:<10} {:<8} {}\n",
                    rule.name, rule.category, rule.severity, rule.source
                ));
            }
            console::out(&text);
        }
    }
    Ok(Outcome::Clean)
}
