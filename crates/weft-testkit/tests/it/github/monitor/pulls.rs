//! Pull requests and issues: listed, filtered, sorted, closed; issues
//! numbered after the fixtures'.

use serde_json::json;

use super::{DAY, HOUR, about, ago, ecosystem, encode, numbers, ok, strings};
use crate::github::{get, links, patch, post};

#[test]
fn pull_requests_are_listed_by_state_sorted_and_closed_through_the_api() {
    let github = ecosystem();
    assert_eq!(numbers(&ok(&github, "/repos/eco/lib/pulls")), [2, 1]);
    assert_eq!(
        numbers(&ok(&github, "/repos/eco/lib/pulls?state=closed")),
        [3, 5]
    );
    assert_eq!(
        numbers(&ok(
            &github,
            "/repos/eco/lib/pulls?state=all&sort=created&direction=asc"
        )),
        [1, 5, 3, 2]
    );
    assert_eq!(
        numbers(&ok(&github, "/repos/eco/lib/pulls?state=all&sort=updated")),
        [1, 5, 3, 2],
        "updated sorts ascending by default"
    );
    assert_eq!(
        numbers(&ok(&github, "/repos/eco/lib/pulls?head=eco:pr-1")),
        [1]
    );
    assert_eq!(
        numbers(&ok(&github, "/repos/eco/lib/pulls?state=all&base=main")).len(),
        4
    );
    let paged = get(&github, "/repos/eco/lib/pulls?state=all&per_page=3");
    assert_eq!(paged.json().as_array().unwrap().len(), 3);
    assert!(links(&paged).contains_key("next"));

    let open = ok(&github, "/repos/eco/lib/pulls");
    let bot = &open[0];
    assert_eq!(bot["user"]["login"], "dependabot[bot]");
    assert_eq!(bot["user"]["type"], "Bot");
    assert_eq!(strings(&bot["labels"], "name"), ["dependencies"]);
    assert_eq!(bot["head"]["ref"], "pr-2");
    assert_eq!(bot["head"]["label"], "eco:pr-2");
    assert_eq!(bot["base"]["ref"], "main");
    assert_eq!(bot["draft"], false);
    about(&bot["created_at"], 3 * DAY);
    about(&bot["updated_at"], 2 * DAY);
    let merged = ok(&github, "/repos/eco/lib/pulls/3");
    assert_eq!(merged["state"], "closed");
    assert_eq!(merged["merged"], true);
    about(&merged["merged_at"], 5 * DAY);
    about(&merged["closed_at"], 5 * DAY);
    assert_eq!(merged["milestone"]["title"], "v1.1");
    assert_eq!(merged["assignees"][0]["login"], "carol");
    let draft = ok(&github, "/repos/eco/lib/pulls/5");
    assert_eq!(
        (draft["draft"].clone(), draft["merged"].clone()),
        (json!(true), json!(false))
    );
    assert_eq!(
        get(&github, "/repos/eco/lib/pulls/4").status,
        404,
        "an issue"
    );

    let closed = patch(&github, "/repos/eco/lib/pulls/1", "{\"state\":\"closed\"}");
    assert_eq!(closed.status, 200, "{closed:?}");
    assert_eq!(closed.json()["state"], "closed");
    assert_eq!(closed.json()["merged"], false);
    assert_eq!(numbers(&ok(&github, "/repos/eco/lib/pulls")), [2]);
    let pulls = github.pulls("eco/lib");
    assert_eq!(
        pulls.iter().map(|p| p.number).collect::<Vec<_>>(),
        [1, 2, 3, 5]
    );
    assert_eq!(pulls[0].state, "closed");
    assert_eq!(pulls[0].closed_by.as_deref(), Some("weft-bot"));
    assert!(!pulls[0].merged);
    assert!(pulls[2].merged);
    assert_eq!(pulls[0].labels, ["enhancement"]);
    assert_eq!(pulls[0].comments, ["Any news?"]);
    assert_eq!(pulls[3].head, "pr-5");
}

#[test]
fn issues_list_pull_requests_too_and_filter_by_since() {
    let github = ecosystem();
    let all = ok(&github, "/repos/eco/lib/issues?state=all");
    assert_eq!(numbers(&all), [2, 3, 4, 5, 1], "newest first");
    for item in all.as_array().unwrap() {
        let pull = item["number"] != 4;
        assert_eq!(item.get("pull_request").is_some(), pull, "{item}");
    }
    assert_eq!(
        all[0]["pull_request"]["html_url"],
        "https://github.com/eco/lib/pull/2"
    );
    assert_eq!(all[2]["html_url"], "https://github.com/eco/lib/issues/4");
    assert_eq!(numbers(&ok(&github, "/repos/eco/lib/issues")), [2, 4, 1]);
    assert_eq!(
        numbers(&ok(&github, "/repos/eco/lib/issues?labels=bug")),
        [4]
    );
    let since = encode(&ago(60 * HOUR));
    assert_eq!(
        numbers(&ok(
            &github,
            &format!("/repos/eco/lib/issues?state=all&since={since}")
        )),
        [2, 4]
    );
    assert_eq!(
        numbers(&ok(
            &github,
            "/repos/eco/lib/issues?state=all&sort=updated&direction=asc"
        )),
        [1, 5, 3, 2, 4]
    );
    assert_eq!(
        get(&github, "/repos/eco/lib/issues?since=yesterday").status,
        422
    );

    let opened = post(
        &github,
        "/repos/eco/lib/issues",
        &json!({"title": "[weft] alert"}).to_string(),
    );
    assert_eq!(opened.json()["number"], 6, "after every fixture's number");
    let issues = github.issues();
    assert_eq!(
        issues.iter().map(|i| i.number).collect::<Vec<_>>(),
        [4, 6],
        "fixture issues, then the API's; no pull requests"
    );
    assert_eq!(issues[0].comments, ["A comment."]);
}
