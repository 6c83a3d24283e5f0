//! `weft monitor collect`, `report`, `health` and `failures`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use weft_monitor::collect::{CollectRequest, Progress};
use weft_monitor::health::{Band, Health};
use weft_monitor::snapshot::Snapshot;
use weft_store::Store;

use super::logs::SeverityArg;
use super::{Session, failure, parse_duration};
use crate::cli::Format;
use crate::console::{self, Style};
use crate::exit::Outcome;

#[derive(Debug, Args)]
pub(super) struct CollectArgs {
    /// Repositories instead of weft.yaml's `monitor.repositories`: `owner/name` or `owner/*`,
    /// comma-separated
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    repositories: Option<Vec<String>>,
    /// How far back to reach (`4h`, `7d`) [default: from the last collection, or 30 days]
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    since: Option<Duration>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

pub(super) fn collect(session: &Session, args: &CollectArgs) -> anyhow::Result<Outcome> {
    let store = session.store()?;
    let request = CollectRequest {
        repositories: args.repositories.clone(),
        since: args.since,
    };
    let progress = |event: Progress| match event {
        Progress::Resolved { repositories } => {
            console::progress(Some(&format!("collecting {repositories} repositories…")));
        }
        Progress::Collected {
            repository,
            done,
            of,
        } => {
            console::progress(Some(&format!("[{done}/{of}] {repository}")));
        }
    };
    let report = session
        .runtime
        .block_on(weft_monitor::collect::collect(
            &store,
            &session.github,
            &session.settings,
            session.rules.clone(),
            &request,
            &progress,
        ))
        .map_err(failure);
    console::progress(None);
    let report = report?;
    match args.format {
        Format::Json => console::json(&report)?,
        Format::Text => {
            let mut text = format!(
                "collected {} in {:.1} s: {} items, {} logs analysed; {} requests ({} answered 304)\n",
                console::count(
                    report.repositories.len() - report.failed.len() - report.skipped.len(),
                    "repository"
                ),
                report.elapsed_ms as f64 / 1000.0,
                report.items,
                report.logs_analysed,
                report.requests,
                report.not_modified,
            );
            for repository in &report.events_overflowed {
                text.push_str(&format!(
                    "note: {repository}: GitHub's events window (300 events, 30 days) overflowed since the last collection; runs and pull requests fill the gap\n"
                ));
            }
            for failed in &report.failed {
                text.push_str(&format!(
                    "{} {}: {}\n",
                    console::paint(Style::Red, "error"),
                    failed.repository,
                    failed.error
                ));
            }
            if let Some(stopped) = &report.stopped {
                text.push_str(&format!(
                    "{} {stopped}; left out: {}\n",
                    console::paint(Style::Yellow, "stopped early:"),
                    report.skipped.join(", ")
                ));
            }
            console::out(&text);
        }
    }
    Ok(if report.failed.is_empty() && report.stopped.is_none() {
        Outcome::Clean
    } else {
        Outcome::Internal
    })
}

/// The store's snapshot of `only` (or everything collected).
fn snapshot(session: &Session, store: &Store, only: Option<&str>) -> anyhow::Result<Snapshot> {
    session
        .runtime
        .block_on(weft_monitor::jobs::snapshot(
            store,
            &session.settings,
            only.map(|r| vec![r.to_string()]).as_deref(),
        ))
        .map_err(failure)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum ReportFormat {
    /// A short summary and where the files went
    Text,
    Json,
    Markdown,
    Html,
}

#[derive(Debug, Args)]
pub(super) struct ReportArgs {
    /// Where the three files go [default: weft.yaml's `monitor.output_dir`, else WORKSPACE/reports]
    #[arg(long, value_name = "DIR")]
    output_dir: Option<PathBuf>,
    /// What to print on standard output (the three files are always written)
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    format: ReportFormat,
    /// Exit 1 when an issue at least this severe was detected
    #[arg(long, value_enum, value_name = "SEVERITY")]
    fail_on: Option<SeverityArg>,
}

pub(super) fn report(session: &Session, args: &ReportArgs) -> anyhow::Result<Outcome> {
    let store = session.store()?;
    let (_, analysis) = session
        .runtime
        .block_on(weft_monitor::jobs::ecosystem(
            &store,
            &session.settings,
            None,
        ))
        .map_err(failure)?;
    let dir = session.output_dir(args.output_dir.as_deref())?;
    session
        .runtime
        .block_on(weft_monitor::jobs::write_report(&store, &analysis, &dir))
        .map_err(failure)?;
    match args.format {
        ReportFormat::Json => console::json(&analysis)?,
        ReportFormat::Markdown => console::out(&weft_monitor::report::markdown(&analysis)),
        ReportFormat::Html => console::out(&weft_monitor::html::html(&analysis)),
        ReportFormat::Text => {
            let s = &analysis.summary;
            console::out(&format!(
                "repositories: {} ({} healthy, {} unhealthy); issues detected: {} ({} critical)\nwrote {}/{{ecosystem_analysis.json,ecosystem_summary.md,index.html}}\n",
                s.total_domains,
                s.healthy_domains,
                s.unhealthy_domains,
                s.total_issues,
                s.critical_issues,
                dir.display()
            ));
        }
    }
    Ok(fail_on(
        args.fail_on,
        analysis.failures.iter().flat_map(|f| &f.findings),
    ))
}

#[derive(Debug, Args)]
pub(super) struct HealthArgs {
    /// One repository (`owner/name`) [default: every collected one]
    #[arg(value_name = "REPO")]
    repository: Option<String>,
    /// Exit 1 when a repository is in the critical band
    #[arg(long)]
    fail_on_critical: bool,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

pub(super) fn health(session: &Session, args: &HealthArgs) -> anyhow::Result<Outcome> {
    let store = session.store()?;
    let snapshot = snapshot(session, &store, args.repository.as_deref())?;
    let scores: Vec<Health> = snapshot
        .repositories
        .values()
        .map(|data| weft_monitor::health::health(data, &session.settings, snapshot.now))
        .collect();
    match args.format {
        Format::Json => console::json(&serde_json::json!({"repositories": scores}))?,
        Format::Text => {
            let mut text = String::new();
            for health in &scores {
                let style = match health.band {
                    Band::Healthy => Style::Green,
                    Band::Warning => Style::Yellow,
                    Band::Critical => Style::Red,
                    Band::Unavailable => Style::Dim,
                };
                text.push_str(&format!(
                    "{} {} {}\n",
                    console::paint(Style::Bold, &health.repository),
                    health
                        .score
                        .map_or_else(|| "n/a".to_string(), |s| s.to_string()),
                    console::paint(style, health.band.as_str())
                ));
                for probe in &health.probes {
                    match probe.score {
                        None => text.push_str(&format!(
                            "  {:<14} {}\n",
                            probe.name,
                            console::paint(Style::Dim, format!("not applicable: {}", probe.detail))
                        )),
                        Some(score) => {
                            text.push_str(&format!(
                                "  {:<14} {:>5.1}  −{:<5.1} {}\n",
                                probe.name, score, probe.deducted, probe.detail
                            ));
                            for evidence in &probe.evidence {
                                text.push_str(&format!(
                                    "      {} {}\n",
                                    evidence.title,
                                    console::paint(Style::Dim, &evidence.url)
                                ));
                            }
                        }
                    }
                }
            }
            console::out(&text);
        }
    }
    let critical = scores.iter().any(|h| h.band == Band::Critical);
    Ok(if args.fail_on_critical && critical {
        Outcome::Problems
    } else {
        Outcome::Clean
    })
}

#[derive(Debug, Args)]
pub(super) struct FailuresArgs {
    /// Only this repository (`owner/name`)
    #[arg(long = "repo", value_name = "REPO")]
    repository: Option<String>,
    /// How far back (`24h`, `7d`) [default: 30 days]
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    since: Option<Duration>,
    /// Exit 1 when a finding is at least this severe
    #[arg(long, value_enum, value_name = "SEVERITY")]
    fail_on: Option<SeverityArg>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

pub(super) fn failures(session: &Session, args: &FailuresArgs) -> anyhow::Result<Outcome> {
    let store = session.store()?;
    let snapshot = snapshot(session, &store, args.repository.as_deref())?;
    let since = match args.since {
        Some(since) => snapshot.now - i64::try_from(since.as_millis()).unwrap_or(i64::MAX),
        None => snapshot.now - session.settings.window_ms(),
    };
    let mut failures: Vec<_> = snapshot
        .repositories
        .values()
        .flat_map(|data| weft_monitor::report::failures(data, since))
        .collect();
    failures.sort_by(|a, b| b.at.cmp(&a.at));
    match args.format {
        Format::Json => console::json(&serde_json::json!({"failures": failures}))?,
        Format::Text => {
            let mut text = String::new();
            for f in &failures {
                text.push_str(&format!(
                    "{} {} {} / {} on {}  {}\n",
                    f.at.get(..16).unwrap_or(&f.at),
                    console::paint(Style::Bold, &f.repository),
                    f.workflow,
                    if f.job.is_empty() { "?" } else { &f.job },
                    f.branch,
                    console::paint(
                        Style::Dim,
                        if f.job_url.is_empty() {
                            &f.run_url
                        } else {
                            &f.job_url
                        }
                    )
                ));
                for finding in &f.findings {
                    text.push_str(&format!(
                        "    {} {} {} (line {}): {}\n",
                        finding.severity.as_str(),
                        finding.category,
                        finding.rule,
                        finding.line,
                        finding.text.trim()
                    ));
                    for suggestion in &finding.suggestions {
                        text.push_str(&format!("      → {suggestion}\n"));
                    }
                }
                if f.findings.is_empty() {
                    let why = match f.log {
                        weft_monitor::items::LogState::Unavailable => "log not available",
                        weft_monitor::items::LogState::Analysed => "no rule matched",
                    };
                    text.push_str(&format!("    {}\n", console::paint(Style::Dim, why)));
                }
            }
            text.push_str(&format!(
                "{}\n",
                console::count(failures.len(), "failed job")
            ));
            console::out(&text);
        }
    }
    Ok(fail_on(
        args.fail_on,
        failures.iter().flat_map(|f| &f.findings),
    ))
}

/// Exit 1 when a finding is at least as severe as `--fail-on`.
fn fail_on<'a>(
    threshold: Option<SeverityArg>,
    mut findings: impl Iterator<Item = &'a weft_monitor::report::FailureFinding>,
) -> Outcome {
    let Some(threshold) = threshold else {
        return Outcome::Clean;
    };
    let threshold: weft_monitor::Severity = threshold.into();
    if findings.any(|finding| finding.severity >= threshold) {
        Outcome::Problems
    } else {
        Outcome::Clean
    }
}
