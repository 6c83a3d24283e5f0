//! The ecosystem report: `ecosystem_analysis.json` in the seed's shape
//! (plus weft's `band`, `probes` and `evidence`), the failures of the
//! window with their classified logs, and a Markdown summary.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::health::{Band, Evidence, Health, Probe, health};
use crate::rules::Severity;
use crate::settings::MonitorSettings;
use crate::snapshot::{RepositoryData, Snapshot};
use crate::stale::StaleSummary;

/// Events younger than this count as recent activity (the seed's 4 hours).
const RECENT_MS: i64 = 4 * 3_600_000;

/// A problem found in a repository: one rule's findings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IssueDetected {
    pub rule: String,
    pub pattern: String,
    pub category: String,
    pub severity: Severity,
    /// Failed jobs it was found in.
    pub count: usize,
    pub url: String,
}

/// A repository in the report (the seed calls them domains).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Domain {
    /// `null` when unavailable.
    pub health_score: Option<u32>,
    pub total_events: usize,
    pub recent_activity: usize,
    pub issues_detected: Vec<IssueDetected>,
    pub band: Band,
    pub url: String,
    pub probes: Vec<Probe>,
    /// Every deduction's evidence, biggest deduction first.
    pub evidence: Vec<Evidence>,
    pub stale: StaleSummary,
}

/// The seed's `summary`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub total_domains: usize,
    pub healthy_domains: usize,
    /// Warning or critical.
    pub unhealthy_domains: usize,
    pub total_events: usize,
    pub total_issues: usize,
    pub critical_issues: usize,
}

/// A failed job of the window and what its log says (`failure_analysis`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failure {
    pub repository: String,
    pub workflow: String,
    pub branch: String,
    pub run_id: u64,
    pub run_url: String,
    pub job: String,
    pub job_url: String,
    /// RFC 3339.
    pub at: String,
    /// `analysed`, or `unavailable` when the log could not be read.
    pub log: crate::items::LogState,
    pub findings: Vec<FailureFinding>,
    /// Failure lines no rule knows, by template, with counts.
    pub unmatched: Vec<(String, u64)>,
}

/// One finding, with the seed's fields.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailureFinding {
    pub pattern: String,
    pub rule: String,
    pub severity: Severity,
    pub category: String,
    pub suggestions: Vec<String>,
    pub line: u64,
    pub text: String,
}

/// A point of a repository's score over the stored collections.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrendPoint {
    pub at: String,
    pub scores: BTreeMap<String, Option<u32>>,
}

/// `ecosystem_analysis.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EcosystemAnalysis {
    pub timestamp: String,
    pub domains: BTreeMap<String, Domain>,
    pub summary: Summary,
    pub failures: Vec<Failure>,
    pub recommendations: Vec<String>,
    pub trends: Vec<TrendPoint>,
}

/// The failed jobs of `data` from `since` on, newest first.
pub fn failures(data: &RepositoryData, since: i64) -> Vec<Failure> {
    let mut out: Vec<Failure> = data
        .jobs
        .iter()
        .filter_map(|job| {
            let run = data.runs.iter().find(|r| r.id == job.run_id)?;
            // A run re-run to success is no failure any more.
            (run.failed() && run.created_at >= since).then(|| Failure {
                repository: data.name.clone(),
                workflow: run.name.clone(),
                branch: run.head_branch.clone(),
                run_id: run.id,
                run_url: run.html_url.clone(),
                job: job.name.clone(),
                job_url: job.html_url.clone(),
                at: weft_store::time::rfc3339(run.created_at),
                log: job.log,
                findings: job
                    .findings
                    .iter()
                    .map(|f| FailureFinding {
                        pattern: f.pattern.clone(),
                        rule: f.rule.clone(),
                        severity: f.severity,
                        category: f.category.clone(),
                        suggestions: f.suggestions.clone(),
                        line: f.line,
                        text: f.text.clone(),
                    })
                    .collect(),
                unmatched: job.unmatched.clone(),
            })
        })
        .collect();
    // Failed runs whose jobs were not read yet still count as failures.
    for run in data
        .runs
        .iter()
        .filter(|r| r.failed() && r.created_at >= since)
    {
        if !out.iter().any(|f| f.run_id == run.id) {
            out.push(Failure {
                repository: data.name.clone(),
                workflow: run.name.clone(),
                branch: run.head_branch.clone(),
                run_id: run.id,
                run_url: run.html_url.clone(),
                job: String::new(),
                job_url: String::new(),
                at: weft_store::time::rfc3339(run.created_at),
                log: crate::items::LogState::Unavailable,
                findings: Vec::new(),
                unmatched: Vec::new(),
            });
        }
    }
    out.sort_by(|a, b| b.at.cmp(&a.at).then(b.run_id.cmp(&a.run_id)));
    out
}

fn issues_detected(failures: &[Failure]) -> Vec<IssueDetected> {
    let mut by_rule: BTreeMap<String, IssueDetected> = BTreeMap::new();
    for failure in failures {
        let mut seen = Vec::new();
        for finding in &failure.findings {
            if seen.contains(&&finding.rule) {
                continue;
            }
            seen.push(&finding.rule);
            by_rule
                .entry(finding.rule.clone())
                .and_modify(|i| i.count += 1)
                .or_insert_with(|| IssueDetected {
                    rule: finding.rule.clone(),
                    pattern: finding.pattern.clone(),
                    category: finding.category.clone(),
                    severity: finding.severity,
                    count: 1,
                    url: failure.job_url.clone(),
                });
        }
    }
    let mut list: Vec<_> = by_rule.into_values().collect();
    list.sort_by(|a, b| b.severity.cmp(&a.severity).then(b.count.cmp(&a.count)));
    list
}

/// The report of `snapshot`; `stale` gives each repository's stale
/// summary, `trends` the earlier collections' scores.
pub fn analyse(
    snapshot: &Snapshot,
    settings: &MonitorSettings,
    stale: &BTreeMap<String, StaleSummary>,
    trends: Vec<TrendPoint>,
) -> EcosystemAnalysis {
    let now = snapshot.now;
    let since = now - settings.window_ms();
    let mut report = EcosystemAnalysis {
        timestamp: weft_store::time::rfc3339(now),
        domains: BTreeMap::new(),
        summary: Summary::default(),
        failures: Vec::new(),
        recommendations: Vec::new(),
        trends,
    };
    for (name, data) in &snapshot.repositories {
        let Health {
            score,
            band,
            probes,
            url,
            ..
        } = health(data, settings, now);
        let failures = failures(data, since);
        let issues = issues_detected(&failures);
        let mut ranked: Vec<&Probe> = probes.iter().filter(|p| p.deducted > 0.0).collect();
        ranked.sort_by(|a, b| b.deducted.total_cmp(&a.deducted));
        let evidence = ranked
            .iter()
            .flat_map(|p| p.evidence.iter().cloned())
            .collect();
        let domain = Domain {
            health_score: score,
            total_events: data.events.len(),
            recent_activity: data
                .events
                .iter()
                .filter(|e| now - e.at <= RECENT_MS)
                .count(),
            band,
            url,
            evidence,
            stale: stale.get(name).cloned().unwrap_or_default(),
            issues_detected: issues,
            probes,
        };
        let s = &mut report.summary;
        s.total_domains += 1;
        match band {
            Band::Healthy => s.healthy_domains += 1,
            Band::Warning | Band::Critical => s.unhealthy_domains += 1,
            Band::Unavailable => {}
        }
        s.total_events += domain.total_events;
        s.total_issues += domain
            .issues_detected
            .iter()
            .map(|i| i.count)
            .sum::<usize>();
        s.critical_issues += domain
            .issues_detected
            .iter()
            .filter(|i| i.severity == Severity::Critical)
            .map(|i| i.count)
            .sum::<usize>();
        report.domains.insert(name.clone(), domain);
        report.failures.extend(failures);
    }
    report.recommendations = recommendations(&report);
    report
}

fn recommendations(report: &EcosystemAnalysis) -> Vec<String> {
    let mut out = Vec::new();
    // The suggestions of the most frequent rules first.
    let mut counts: BTreeMap<&str, (usize, Severity, &FailureFinding)> = BTreeMap::new();
    for failure in &report.failures {
        for finding in &failure.findings {
            counts
                .entry(finding.rule.as_str())
                .and_modify(|c| c.0 += 1)
                .or_insert((1, finding.severity, finding));
        }
    }
    let mut ranked: Vec<_> = counts.into_iter().collect();
    ranked.sort_by(|a, b| b.1.1.cmp(&a.1.1).then(b.1.0.cmp(&a.1.0)));
    for (rule, (count, severity, finding)) in ranked.iter().take(5) {
        if let Some(suggestion) = finding.suggestions.first() {
            out.push(format!(
                "{rule} ({}, {count}×): {suggestion}",
                severity.as_str()
            ));
        }
    }
    for (name, domain) in &report.domains {
        if let Some(worst) = domain
            .probes
            .iter()
            .filter(|p| p.deducted >= 5.0)
            .max_by(|a, b| a.deducted.total_cmp(&b.deducted))
        {
            out.push(format!(
                "{name}: {} costs {:.0} points ({})",
                worst.name, worst.deducted, worst.detail
            ));
        }
    }
    out
}

/// `ecosystem_summary.md`.
pub fn markdown(report: &EcosystemAnalysis) -> String {
    let s = &report.summary;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Ecosystem summary\n\nGenerated {}.\n",
        report.timestamp
    );
    let _ = writeln!(
        out,
        "Repositories: {} ({} healthy, {} unhealthy). Events: {}. Issues detected: {} ({} critical).\n",
        s.total_domains,
        s.healthy_domains,
        s.unhealthy_domains,
        s.total_events,
        s.total_issues,
        s.critical_issues
    );
    let _ = writeln!(
        out,
        "| repository | score | band | events | issues | stale PRs | biggest deduction |"
    );
    let _ = writeln!(out, "| --- | ---: | --- | ---: | ---: | ---: | --- |");
    for (name, d) in &report.domains {
        let worst = d
            .probes
            .iter()
            .filter(|p| p.deducted > 0.0)
            .max_by(|a, b| a.deducted.total_cmp(&b.deducted))
            .map_or_else(String::new, |p| {
                format!("{} −{:.0}: {}", p.name, p.deducted, p.detail)
            });
        let _ = writeln!(
            out,
            "| [{name}]({}) | {} | {} | {} | {} | {} | {} |",
            d.url,
            d.health_score
                .map_or_else(|| "n/a".to_string(), |s| s.to_string()),
            d.band.as_str(),
            d.total_events,
            d.issues_detected.len(),
            d.stale.total_stale_prs,
            worst.replace('|', "\\|")
        );
    }
    if !report.failures.is_empty() {
        let _ = writeln!(out, "\n## Failures\n");
        for f in report.failures.iter().take(50) {
            let what = f.findings.first().map_or_else(
                || "no rule matched".to_string(),
                |x| format!("{} ({}, {})", x.rule, x.severity.as_str(), x.category),
            );
            let _ = writeln!(
                out,
                "- [{} {} / {}]({}) on {}: {what}",
                f.repository,
                f.workflow,
                if f.job.is_empty() { "?" } else { &f.job },
                if f.job_url.is_empty() {
                    &f.run_url
                } else {
                    &f.job_url
                },
                f.branch
            );
        }
    }
    if !report.recommendations.is_empty() {
        let _ = writeln!(out, "\n## Recommendations\n");
        for r in &report.recommendations {
            let _ = writeln!(out, "- {r}");
        }
    }
    out
}
