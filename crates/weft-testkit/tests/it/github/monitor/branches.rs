//! Branches, their head commits, deleting them; releases.

use serde_json::{Value, json};

use super::{DAY, about, ecosystem, field, ok, strings};
use crate::github::{delete, get, links};

#[test]
fn branches_commits_and_deleting_a_branch() {
    let github = ecosystem();
    let branches = ok(&github, "/repos/eco/lib/branches");
    assert_eq!(
        strings(&branches, "name"),
        [
            "feature/fresh",
            "main",
            "old-feature",
            "pr-1",
            "pr-2",
            "pr-3"
        ],
        "pr-5's head was deleted"
    );
    let protected: Vec<Value> = field(&branches, "protected");
    assert_eq!(protected[1], true);
    assert_eq!(protected[2], false);
    assert_eq!(
        strings(
            &ok(&github, "/repos/eco/lib/branches?protected=true"),
            "name"
        ),
        ["main"]
    );
    let paged = get(&github, "/repos/eco/lib/branches?per_page=4");
    assert!(links(&paged).contains_key("next"));

    let old = branches[2]["commit"]["sha"].as_str().unwrap().to_string();
    let commit = ok(&github, &format!("/repos/eco/lib/commits/{old}"));
    assert_eq!(commit["sha"], old.as_str());
    about(&commit["commit"]["author"]["date"], 120 * DAY);
    about(&commit["commit"]["committer"]["date"], 120 * DAY);
    assert_eq!(commit["author"]["login"], "eco");
    assert_eq!(
        commit["html_url"],
        format!("https://github.com/eco/lib/commit/{old}").as_str()
    );
    let main = ok(&github, "/repos/eco/lib/commits/main");
    about(&main["commit"]["committer"]["date"], 2 * DAY);
    let short = ok(&github, &format!("/repos/eco/lib/commits/{}", &old[..7]));
    assert_eq!(short["sha"], old.as_str());
    let pull = ok(&github, "/repos/eco/lib/pulls/1");
    let head = pull["head"]["sha"].as_str().unwrap();
    let head = ok(&github, &format!("/repos/eco/lib/commits/{head}"));
    about(&head["commit"]["author"]["date"], 89 * DAY);
    let unknown = get(&github, "/repos/eco/lib/commits/0123456789abcdef");
    assert_eq!(unknown.status, 422);
    assert_eq!(
        unknown.json()["message"],
        "No commit found for SHA: 0123456789abcdef"
    );
    let branch = ok(&github, "/repos/eco/lib/branches/feature/fresh");
    assert_eq!(branch["name"], "feature/fresh");
    assert_eq!(get(&github, "/repos/eco/lib/branches/nope").status, 404);

    let deleted = delete(&github, "/repos/eco/lib/git/refs/heads/old-feature");
    assert_eq!(deleted.status, 204, "{deleted:?}");
    assert_eq!(deleted.text, "");
    let slashed = delete(&github, "/repos/eco/lib/git/refs/heads/feature/fresh");
    assert_eq!(slashed.status, 204, "{slashed:?}");
    assert_eq!(
        strings(&ok(&github, "/repos/eco/lib/branches"), "name"),
        ["main", "pr-1", "pr-2", "pr-3"]
    );
    assert_eq!(github.branches("eco/lib"), ["main", "pr-1", "pr-2", "pr-3"]);
    let again = delete(&github, "/repos/eco/lib/git/refs/heads/old-feature");
    assert_eq!(again.status, 422);
    assert_eq!(again.json()["message"], "Reference does not exist");
    assert_eq!(
        delete(&github, "/repos/eco/lib/git/refs/heads/main").status,
        422
    );
    let commit = get(&github, &format!("/repos/eco/lib/commits/{old}"));
    assert_eq!(commit.status, 200, "the commit outlives its branch");
    let events = ok(&github, "/repos/eco/lib/events?per_page=100");
    let deletes: Vec<&Value> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "DeleteEvent")
        .collect();
    assert_eq!(deletes.len(), 2);
    assert_eq!(deletes[0]["actor"]["login"], "weft-bot");
}

#[test]
fn releases_are_listed_newest_first() {
    let github = ecosystem();
    let releases = ok(&github, "/repos/eco/lib/releases");
    assert_eq!(
        strings(&releases, "tag_name"),
        ["v1.2.0-rc.1", "v1.1.0", "v1.0.0"]
    );
    assert_eq!(field(&releases, "prerelease"), [true, false, false]);
    about(&releases[1]["published_at"], 5 * DAY);
    assert_eq!(releases[1]["author"]["login"], "eco");
    assert_eq!(releases[1]["assets"], json!([]));
    assert_eq!(
        releases[1]["html_url"],
        "https://github.com/eco/lib/releases/tag/v1.1.0"
    );
    let paged = get(&github, "/repos/eco/lib/releases?per_page=2&page=2");
    assert_eq!(paged.json().as_array().unwrap().len(), 1);
    assert!(links(&paged).contains_key("prev"));
}
