//! `index.html`: the report as one self-contained page for GitHub Pages
//! (no script, no external asset): the health table with bands and
//! evidence, failures by category, stale items and the score trends.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::report::EcosystemAnalysis;

use weft_notify::escape_html as e;

const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:72rem;padding:1rem;color:#1b1f24}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}th,td{border-bottom:1px solid #d0d7de;padding:.35rem .5rem;text-align:left;vertical-align:top}
td.n{text-align:right}.band{padding:.1rem .45rem;border-radius:.6rem;font-weight:600;font-size:.85em}
.healthy{background:#dafbe1;color:#116329}.warning{background:#fff8c5;color:#7d4e00}.critical{background:#ffebe9;color:#a40e26}.unavailable{background:#eaeef2;color:#57606a}
details summary{cursor:pointer}small{color:#57606a}a{color:#0969da}@media(max-width:40rem){td:nth-child(n+4),th:nth-child(n+4){display:none}}";

/// The page.
pub fn html(report: &EcosystemAnalysis) -> String {
    let s = &report.summary;
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>Ecosystem health</title><style>{STYLE}</style></head><body>\
         <h1>Ecosystem health</h1><p><small>Generated {}</small></p>\
         <p>Repositories: {} ({} healthy, {} unhealthy) · events: {} · issues detected: {} ({} critical)</p>",
        e(&report.timestamp),
        s.total_domains,
        s.healthy_domains,
        s.unhealthy_domains,
        s.total_events,
        s.total_issues,
        s.critical_issues
    );
    out.push_str(
        "<h2>Health</h2><table id=\"health\"><thead><tr><th>repository</th><th>score</th>\
         <th>band</th><th>events</th><th>issues</th><th>stale PRs</th><th>deductions</th></tr></thead><tbody>",
    );
    for (name, d) in &report.domains {
        let score = d
            .health_score
            .map_or_else(|| "n/a".to_string(), |s| s.to_string());
        let mut deductions = String::new();
        for p in d.probes.iter().filter(|p| p.deducted > 0.0) {
            let _ = write!(
                deductions,
                "<details><summary>{} −{:.1}</summary><small>{}</small><ul>",
                e(p.name),
                p.deducted,
                e(&p.detail)
            );
            for ev in &p.evidence {
                let _ = write!(
                    deductions,
                    "<li><a href=\"{}\">{}</a></li>",
                    e(&ev.url),
                    e(&ev.title)
                );
            }
            deductions.push_str("</ul></details>");
        }
        for p in d.probes.iter().filter(|p| !p.applicable) {
            let _ = write!(
                deductions,
                "<div><small>{}: not applicable ({})</small></div>",
                e(p.name),
                e(&p.detail)
            );
        }
        let _ = write!(
            out,
            "<tr data-repository=\"{n}\"><td><a href=\"{u}\">{n}</a></td><td class=\"n\">{score}</td>\
             <td><span class=\"band {b}\">{b}</span></td><td class=\"n\">{ev}</td><td class=\"n\">{is}</td>\
             <td class=\"n\">{st}</td><td>{deductions}</td></tr>",
            n = e(name),
            u = e(&d.url),
            b = d.band.as_str(),
            ev = d.total_events,
            is = d.issues_detected.len(),
            st = d.stale.total_stale_prs,
        );
    }
    out.push_str("</tbody></table>");

    let mut by_category: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for f in &report.failures {
        let link = if f.job_url.is_empty() {
            &f.run_url
        } else {
            &f.job_url
        };
        match f.findings.first() {
            Some(finding) => by_category
                .entry(finding.category.as_str())
                .or_default()
                .push(format!(
                    "<li><a href=\"{}\">{} · {}</a>: <b>{}</b> ({}) <small>{}</small></li>",
                    e(link),
                    e(&f.repository),
                    e(&f.workflow),
                    e(&finding.rule),
                    finding.severity.as_str(),
                    e(finding.suggestions.first().map_or("", String::as_str))
                )),
            None => by_category.entry("unclassified").or_default().push(format!(
                "<li><a href=\"{}\">{} · {}</a></li>",
                e(link),
                e(&f.repository),
                e(&f.workflow)
            )),
        }
    }
    out.push_str("<h2>Failures by category</h2>");
    if by_category.is_empty() {
        out.push_str("<p>No failed runs in the window.</p>");
    }
    for (category, items) in &by_category {
        let _ = write!(
            out,
            "<h3>{} ({})</h3><ul>{}</ul>",
            e(category),
            items.len(),
            items.join("")
        );
    }

    out.push_str("<h2>Stale items</h2><table><thead><tr><th>repository</th><th>stale PRs</th><th>oldest (days)</th><th>stale branches</th><th>oldest (days)</th></tr></thead><tbody>");
    for (name, d) in &report.domains {
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            e(name),
            d.stale.total_stale_prs,
            d.stale.oldest_pr_days,
            d.stale.total_stale_branches,
            d.stale.oldest_branch_days
        );
    }
    out.push_str("</tbody></table>");

    if !report.trends.is_empty() {
        out.push_str("<h2>Trends</h2><table><thead><tr><th>repository</th>");
        for point in &report.trends {
            let _ = write!(
                out,
                "<th>{}</th>",
                e(point.at.get(..16).unwrap_or(&point.at))
            );
        }
        out.push_str("</tr></thead><tbody>");
        for name in report.domains.keys() {
            let _ = write!(out, "<tr><td>{}</td>", e(name));
            for point in &report.trends {
                let score = point.scores.get(name).copied().flatten();
                let _ = write!(
                    out,
                    "<td class=\"n\">{}</td>",
                    score.map_or_else(|| "–".to_string(), |s| s.to_string())
                );
            }
            out.push_str("</tr>");
        }
        out.push_str("</tbody></table>");
    }
    if !report.recommendations.is_empty() {
        out.push_str("<h2>Recommendations</h2><ul>");
        for r in &report.recommendations {
            let _ = write!(out, "<li>{}</li>", e(r));
        }
        out.push_str("</ul>");
    }
    out.push_str("</body></html>\n");
    out
}
