//! `index.html`: everything a repository or a log says is escaped, each
//! repository has one row, and the page loads nothing from elsewhere.

use std::collections::BTreeMap;

use weft_monitor::MonitorSettings;
use weft_monitor::html::html;
use weft_monitor::report::{TrendPoint, analyse};

use crate::fixtures::{days_ago, info, repository, run, snapshot};

const ODD: &str = "acme/a<b&c\"d'e";

/// A page over three repositories: one whose name and failing workflow
/// are hostile, a healthy one and one with nothing collected.
fn page() -> String {
    let mut odd = repository(ODD);
    let mut failed = run(1, "<script>alert(\"x\")</script>", "failure", days_ago(1));
    failed.html_url = "https://ci.example/run?id=1&x=<y>".to_string();
    odd.runs = vec![failed];
    let mut web = repository("acme/web");
    web.info = Some(info("acme/web", "main", days_ago(1)));
    let trends = vec![TrendPoint {
        at: "2027-01-14T08:00:00.000Z".to_string(),
        scores: BTreeMap::from([(ODD.to_string(), Some(40))]),
    }];
    let report = analyse(
        &snapshot(vec![odd, web, repository("acme/docs")]),
        &MonitorSettings::default(),
        &BTreeMap::new(),
        trends,
    );
    html(&report)
}

#[test]
fn names_and_evidence_are_escaped() {
    let page = page();
    assert!(!page.contains("<script"), "{page}");
    assert!(!page.contains("a<b"), "{page}");
    assert!(
        page.contains(
            "<a href=\"https://ci.example/run?id=1&amp;x=&lt;y&gt;\">\
             &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; failed on main</a>"
        ),
        "{page}"
    );
    assert!(
        page.contains("<a href=\"https://github.com/acme/a&lt;b&amp;c&quot;d&#39;e\">"),
        "{page}"
    );
    // The failure, unclassified, links the run.
    assert!(
        page.contains(
            "<h3>unclassified (1)</h3><ul><li><a href=\"https://ci.example/run?id=1&amp;x=&lt;y&gt;\">\
             acme/a&lt;b&amp;c&quot;d&#39;e · &lt;script&gt;"
        ),
        "{page}"
    );
}

#[test]
fn each_repository_has_one_row_with_its_band() {
    let page = page();
    assert_eq!(page.matches("data-repository=\"").count(), 3);
    for (name, score, band) in [
        ("acme/a&lt;b&amp;c&quot;d&#39;e", "25", "critical"),
        ("acme/docs", "n/a", "unavailable"),
        ("acme/web", "100", "healthy"),
    ] {
        let row = format!(
            "<tr data-repository=\"{name}\"><td><a href=\"https://github.com/{name}\">{name}</a></td>\
             <td class=\"n\">{score}</td><td><span class=\"band {band}\">{band}</span></td>"
        );
        assert_eq!(page.matches(&row).count(), 1, "{row}\n{page}");
    }
    assert!(page.contains("<small>releases: not applicable (no releases)</small>"));
    // The trend of the one score kept, and a dash for the others.
    assert!(page.contains("<th>2027-01-14T08:00</th>"), "{page}");
    assert!(
        page.contains("<tr><td>acme/a&lt;b&amp;c&quot;d&#39;e</td><td class=\"n\">40</td></tr>"),
        "{page}"
    );
    assert!(page.contains("<tr><td>acme/web</td><td class=\"n\">–</td></tr>"));
}

#[test]
fn the_page_loads_nothing_from_elsewhere() {
    let page = page();
    for asset in [
        "<script", "<link", "<img", "<iframe", "src=", "url(", "@import",
    ] {
        assert!(!page.contains(asset), "{asset} in {page}");
    }
    // The only addresses are links: to repositories and to evidence.
    for (at, _) in page.match_indices("http") {
        assert!(
            page[..at].ends_with("<a href=\""),
            "not a link: {}",
            &page[at.saturating_sub(40)..(at + 40).min(page.len())]
        );
    }
}
