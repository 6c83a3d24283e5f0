//! Issues: listed by state and labels, newest first and paged; opened,
//! commented on and closed.

use serde_json::json;

use super::{get, github, links, patch, post};

#[test]
fn issues_are_listed_by_state_and_labels_and_closed_with_a_reason() {
    let github = github();
    for (title, labels) in [
        ("one", json!(["incident"])),
        ("two", json!(["incident", "production"])),
        ("three", json!(["question"])),
    ] {
        let body = json!({"title": title, "body": format!("{title}!"), "labels": labels});
        let reply = post(&github, "/repos/octo/app/issues", &body.to_string());
        assert_eq!(reply.status, 201, "{reply:?}");
    }
    let titles = |path: &str| -> Vec<String> {
        let reply = get(&github, path);
        assert_eq!(reply.status, 200, "{reply:?}");
        reply
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["title"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(titles("/repos/octo/app/issues"), ["three", "two", "one"]);
    assert_eq!(
        titles("/repos/octo/app/issues?labels=incident"),
        ["two", "one"]
    );
    assert_eq!(
        titles("/repos/octo/app/issues?labels=incident,production"),
        ["two"]
    );
    let first = get(&github, "/repos/octo/app/issues?per_page=2");
    assert!(links(&first).contains_key("next"), "{first:?}");

    let comment = post(
        &github,
        "/repos/octo/app/issues/1/comments",
        "{\"body\":\"again\"}",
    );
    assert_eq!(comment.status, 201);
    let closed = patch(
        &github,
        "/repos/octo/app/issues/1",
        "{\"state\":\"closed\",\"state_reason\":\"completed\"}",
    );
    assert_eq!(closed.json()["state_reason"], "completed");
    assert_eq!(closed.json()["comments"], 1);
    assert_eq!(titles("/repos/octo/app/issues?labels=incident"), ["two"]);
    assert_eq!(titles("/repos/octo/app/issues?state=closed"), ["one"]);
    assert_eq!(titles("/repos/octo/app/issues?state=all").len(), 3);
    assert_eq!(
        get(&github, "/repos/octo/app/issues?state=shut").status,
        422
    );
    assert_eq!(get(&github, "/repos/octo/none/issues").status, 404);

    let issues = github.issues();
    assert_eq!(issues.len(), 3);
    assert!(!issues[0].open);
    assert_eq!(issues[0].comments, ["again"]);
    assert_eq!(issues[0].state_reason.as_deref(), Some("completed"));
    assert_eq!(issues[1].labels, ["incident", "production"]);
}
