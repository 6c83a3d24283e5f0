//! Comments, labels and timelines, and who did what on them.

use serde_json::{Value, json};

use super::{DAY, about, ago, ecosystem, encode, ok, strings};
use crate::github::{delete, get, links, patch, post};

#[test]
fn comments_labels_and_timelines_name_who_did_what() {
    let github = ecosystem();
    let comments = ok(&github, "/repos/eco/lib/issues/1/comments");
    assert_eq!(strings(&comments, "body"), ["Any news?"]);
    assert_eq!(comments[0]["user"]["login"], "bob");
    about(&comments[0]["created_at"], 60 * DAY);
    let posted = post(
        &github,
        "/repos/eco/lib/issues/1/comments",
        "{\"body\":\"This pull request is stale.\"}",
    );
    assert_eq!(posted.status, 201, "{posted:?}");
    let labels = post(
        &github,
        "/repos/eco/lib/issues/1/labels",
        "{\"labels\":[\"stale\"]}",
    );
    assert_eq!(labels.status, 200, "{labels:?}");
    assert_eq!(strings(&labels.json(), "name"), ["enhancement", "stale"]);
    let removed = delete(&github, "/repos/eco/lib/issues/1/labels/enhancement");
    assert_eq!(removed.status, 200, "{removed:?}");
    assert_eq!(strings(&removed.json(), "name"), ["stale"]);
    let missing = delete(&github, "/repos/eco/lib/issues/1/labels/enhancement");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["message"], "Label does not exist");
    assert_eq!(
        delete(&github, "/repos/eco/lib/issues/99/labels/stale").status,
        404
    );

    let comments = ok(&github, "/repos/eco/lib/issues/1/comments");
    assert_eq!(strings(&comments, "body").len(), 2);
    assert_eq!(comments[1]["user"]["login"], "weft-bot");
    let since = encode(&ago(DAY));
    let recent = ok(
        &github,
        &format!("/repos/eco/lib/issues/1/comments?since={since}"),
    );
    assert_eq!(strings(&recent, "body"), ["This pull request is stale."]);

    let timeline = ok(&github, "/repos/eco/lib/issues/1/timeline?per_page=100");
    let events = strings(&timeline, "event");
    assert_eq!(
        events,
        [
            "labeled",
            "committed",
            "reviewed",
            "commented",
            "commented",
            "labeled",
            "unlabeled"
        ]
    );
    let items = timeline.as_array().unwrap();
    assert_eq!(items[0]["actor"]["login"], "alice");
    assert_eq!(items[0]["label"]["name"], "enhancement");
    about(&items[0]["created_at"], 90 * DAY);
    assert!(items[1].get("actor").is_none(), "a commit has no actor");
    assert_eq!(items[1]["author"]["name"], "alice");
    about(&items[1]["author"]["date"], 89 * DAY);
    assert_eq!(items[2]["user"]["login"], "gina");
    assert_eq!(items[2]["state"], "approved");
    about(&items[2]["submitted_at"], 70 * DAY);
    assert_eq!(items[3]["actor"]["login"], "bob");
    assert_eq!(items[3]["body"], "Any news?");
    for item in &items[4..] {
        assert_eq!(item["actor"]["login"], "weft-bot", "{item}");
        assert_eq!(item["actor"]["type"], "User");
    }
    assert_eq!(items[5]["label"]["name"], "stale");
    assert_eq!(items[6]["label"]["name"], "enhancement");
    let paged = get(&github, "/repos/eco/lib/issues/1/timeline?per_page=2");
    assert_eq!(links(&paged)["last"].rsplit('=').next(), Some("4"));

    let bot = ok(&github, "/repos/eco/lib/issues/2/timeline");
    let commented: Vec<&Value> = bot
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "commented")
        .collect();
    assert_eq!(commented[0]["user"]["login"], "renovate[bot]");
    assert_eq!(commented[0]["user"]["type"], "Bot");
    let merged = strings(&ok(&github, "/repos/eco/lib/issues/3/timeline"), "event");
    assert_eq!(merged[merged.len() - 2..], ["merged", "closed"]);

    let closed = patch(&github, "/repos/eco/lib/pulls/1", "{\"state\":\"closed\"}");
    assert_eq!(closed.status, 200);
    let timeline = ok(&github, "/repos/eco/lib/issues/1/timeline?per_page=100");
    let last = timeline.as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["event"].clone(), last["actor"]["login"].clone()),
        (json!("closed"), json!("weft-bot"))
    );
}
