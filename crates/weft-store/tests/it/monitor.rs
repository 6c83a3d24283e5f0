//! The monitor's state: cached GitHub answers per token, items replaced by
//! key and found by kind, time and repository, cursors written with them,
//! collections and their scores, stale marks, and a schedule whose run
//! exactly one of two claimants gets.

use serde_json::json;
use weft_store::{CachedAnswer, LeasePolicy, MonitorItem};

use crate::backends::{Backend, store};
use crate::on_both_backends;

fn item(repository: &str, kind: &str, key: &str, at: i64, body: serde_json::Value) -> MonitorItem {
    MonitorItem {
        repository: repository.to_string(),
        kind: kind.to_string(),
        key: key.to_string(),
        at,
        body,
    }
}

async fn items_cursors_and_cache(backend: Backend, test: &str) {
    let Some((store, _guard)) = store(backend, test, LeasePolicy::default()).await else {
        return;
    };
    let answers = [CachedAnswer {
        url: "https://api.github.com/repos/acme/api".to_string(),
        etag: "W/\"abc\"".to_string(),
        body: json!({"full_name": "acme/api"}),
    }];
    store
        .monitor_cache_answers("token-a", &answers)
        .await
        .expect("cache");
    assert_eq!(
        store.monitor_cached_answers("token-a").await.expect("read"),
        answers
    );
    assert!(
        store
            .monitor_cached_answers("token-b")
            .await
            .expect("read")
            .is_empty(),
        "ETags are tied to the token"
    );
    let newer = [CachedAnswer {
        etag: "W/\"def\"".to_string(),
        ..answers[0].clone()
    }];
    store
        .monitor_cache_answers("token-a", &newer)
        .await
        .expect("replace");
    assert_eq!(
        store.monitor_cached_answers("token-a").await.expect("read"),
        newer
    );

    let cursors = [(
        "acme/api".to_string(),
        "events".to_string(),
        "42".to_string(),
    )];
    store
        .monitor_put(
            &[
                item("acme/api", "run", "1", 1_000, json!({"id": 1})),
                item("acme/api", "run", "2", 3_000, json!({"id": 2})),
                item("acme/web", "run", "7", 2_000, json!({"id": 7})),
                item("acme/api", "branch", "main", 500, json!({"name": "main"})),
            ],
            &cursors,
        )
        .await
        .expect("put");
    let runs = store.monitor_items("run", None, 0).await.expect("runs");
    let keys: Vec<&str> = runs.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(keys, ["1", "7", "2"], "oldest first");
    let recent = store
        .monitor_items("run", Some("acme/api"), 2_000)
        .await
        .expect("runs");
    assert_eq!(recent.len(), 1);
    assert_eq!(recent[0].body, json!({"id": 2}));
    // The same key replaces the item.
    store
        .monitor_put(
            &[item(
                "acme/api",
                "run",
                "2",
                3_500,
                json!({"id": 2, "done": true}),
            )],
            &[],
        )
        .await
        .expect("replace");
    let replaced = store
        .monitor_items("run", Some("acme/api"), 3_000)
        .await
        .expect("runs");
    assert_eq!(replaced.len(), 1);
    assert_eq!(replaced[0].at, 3_500);
    assert_eq!(replaced[0].body["done"], true);
    assert_eq!(
        store.monitor_cursors("acme/api").await.expect("cursors"),
        [("events".to_string(), "42".to_string())]
    );
    store
        .monitor_remove("acme/api", "branch", &["main".to_string()])
        .await
        .expect("remove");
    assert!(
        store
            .monitor_keys("acme/api", "branch")
            .await
            .expect("keys")
            .is_empty()
    );

    assert!(
        store
            .monitor_collections(5)
            .await
            .expect("none yet")
            .is_empty()
    );
    let id = store.monitor_start_collection().await.expect("start");
    assert!(
        store
            .monitor_collections(5)
            .await
            .expect("unfinished")
            .is_empty(),
        "an unfinished collection is not listed"
    );
    store
        .monitor_finish_collection(id, &json!({"collect": {"requests": 3}}))
        .await
        .expect("finish");
    store
        .monitor_record_scores(&json!({"acme/api": 81}))
        .await
        .expect("scores");
    let collections = store.monitor_collections(5).await.expect("collections");
    assert_eq!(collections.len(), 1);
    assert_eq!(collections[0].summary["collect"]["requests"], 3);
    assert_eq!(collections[0].summary["scores"]["acme/api"], 81);

    store
        .monitor_mark_stale("acme/api", 7, 1_000)
        .await
        .expect("mark");
    store
        .monitor_mark_stale("acme/api", 7, 9_000)
        .await
        .expect("marked again");
    // Marked again (after a person took the label off): the new time.
    assert_eq!(
        store.monitor_stale_marks("acme/api").await.expect("marks"),
        [(7, 9_000)]
    );
    store
        .monitor_unmark_stale("acme/api", 7)
        .await
        .expect("unmark");
    assert!(
        store
            .monitor_stale_marks("acme/api")
            .await
            .expect("marks")
            .is_empty()
    );
}

on_both_backends!(items_cursors_and_cache_, items_cursors_and_cache);

async fn one_claimant_runs_each_scheduled_run(backend: Backend, test: &str) {
    let Some((store, _guard)) = store(backend, test, LeasePolicy::default()).await else {
        return;
    };
    let first = store
        .monitor_schedule_init("monitor", "0 */4 * * *", 1_000)
        .await
        .expect("init");
    assert_eq!(first.next_at, 1_000);
    // A restart with the same expression keeps the stored time.
    let again = store
        .monitor_schedule_init("monitor", "0 */4 * * *", 5_000)
        .await
        .expect("init again");
    assert_eq!(again.next_at, 1_000);
    let (a, b) = tokio::join!(
        store.monitor_schedule_claim("monitor", 1_000, 2_000),
        store.monitor_schedule_claim("monitor", 1_000, 2_000),
    );
    assert!(
        a.expect("claim") ^ b.expect("claim"),
        "exactly one of two claimants wins"
    );
    store
        .monitor_schedule_finished("monitor", "ok")
        .await
        .expect("finish");
    let record = store
        .monitor_schedule("monitor")
        .await
        .expect("read")
        .expect("scheduled");
    assert_eq!(record.next_at, 2_000);
    assert_eq!(record.last_outcome.as_deref(), Some("ok"));
    assert!(record.last_started_at.is_some() && record.last_finished_at.is_some());
    // A new expression takes its own time.
    let changed = store
        .monitor_schedule_init("monitor", "0 0 * * *", 9_000)
        .await
        .expect("changed");
    assert_eq!(changed.next_at, 9_000);
}

on_both_backends!(
    one_claimant_runs_each_scheduled_run_,
    one_claimant_runs_each_scheduled_run
);
