//! The repository's events: made up, newest first, within 30 days, at
//! most 300.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::json;

use super::{DAY, HOUR, about, ago, descending, ecosystem, ok, strings};
use crate::github::{get, links};

#[test]
fn events_are_made_up_newest_first_within_30_days_and_at_most_300() {
    let github = ecosystem();
    let events = ok(&github, "/repos/eco/lib/events?per_page=100");
    let kinds: BTreeSet<String> = strings(&events, "type").into_iter().collect();
    for kind in [
        "PullRequestEvent",
        "IssuesEvent",
        "IssueCommentEvent",
        "PushEvent",
        "CreateEvent",
        "ReleaseEvent",
    ] {
        assert!(kinds.contains(kind), "{kind} in {kinds:?}");
    }
    let created = strings(&events, "created_at");
    assert!(descending(&created), "{created:?}");
    let ids: Vec<u64> = strings(&events, "id")
        .iter()
        .map(|id| id.parse().unwrap())
        .collect();
    assert!(
        ids.windows(2).all(|pair| pair[0] > pair[1]),
        "ids grow with time: {ids:?}"
    );
    let again = ok(&github, "/repos/eco/lib/events?per_page=100");
    assert_eq!(
        strings(&again, "id"),
        strings(&events, "id"),
        "ids are stable"
    );
    assert!(created.iter().all(|c| *c >= ago(30 * DAY)), "{created:?}");
    let items = events.as_array().unwrap();
    assert!(
        !items.iter().any(|e| e["payload"]["number"] == 1),
        "pull 1 happened more than 30 days ago"
    );
    let merged = items
        .iter()
        .find(|e| {
            e["type"] == "PullRequestEvent"
                && e["payload"]["number"] == 3
                && e["payload"]["action"] == "closed"
        })
        .unwrap();
    about(&merged["created_at"], 5 * DAY);
    assert_eq!(merged["actor"]["login"], "carol");
    assert_eq!(merged["repo"]["name"], "eco/lib");
    let comment = items
        .iter()
        .find(|e| e["type"] == "IssueCommentEvent" && e["payload"]["issue"]["number"] == 2)
        .unwrap();
    assert_eq!(comment["actor"]["login"], "renovate[bot]");
    assert_eq!(comment["actor"]["display_login"], "renovate");
    let push = items
        .iter()
        .find(|e| e["type"] == "PushEvent" && e["payload"]["ref"] == "refs/heads/feature/fresh")
        .unwrap();
    about(&push["created_at"], HOUR);
    assert!(
        !items
            .iter()
            .any(|e| e["payload"]["ref"] == "refs/heads/old-feature" && e["type"] == "PushEvent"),
        "its head is 120 days old"
    );
    let release = items.iter().find(|e| e["type"] == "ReleaseEvent").unwrap();
    assert_eq!(release["payload"]["release"]["tag_name"], "v1.2.0-rc.1");
    let before = items.len();
    assert!(before < 100, "{before}");

    github.add_events("eco/lib", 400, Duration::from_secs(60));
    let last_page = get(&github, "/repos/eco/lib/events?per_page=100&page=3");
    assert_eq!(last_page.json().as_array().unwrap().len(), 100);
    assert!(!links(&last_page).contains_key("next"));
    let first = get(&github, "/repos/eco/lib/events?per_page=100");
    assert!(links(&first)["last"].ends_with("page=3"), "{first:?}");
    assert_eq!(first.json()[0]["type"], "WatchEvent");
    let beyond = ok(&github, "/repos/eco/lib/events?per_page=100&page=4");
    assert_eq!(beyond, json!([]));
    let mut total = 0;
    for page in 1..=10 {
        let body = ok(&github, &format!("/repos/eco/lib/events?page={page}"));
        total += body.as_array().unwrap().len();
    }
    assert_eq!(total, 300);
}
