//! Batching: the holder of the lock lands the commits of those waiting in
//! line with its own, and each waiter finds a receipt instead of pushing.

use std::time::Duration;

use weft_push::{PushOutcome, PushRequest};

use crate::locking::plant_lock;
use crate::support::{Remote, wait_until};

#[test]
fn the_holder_lands_the_waiters_commits_and_each_finds_its_receipt() {
    let remote = Remote::with_files(&[("data/rows.csv", "who\n")]);
    let planter = remote.clone("planter");
    let planted = plant_lock(&planter, "main", 1, Duration::from_secs(60), "busy-runner");
    let yaml = "push: {policies: {\"data/rows.csv\": union}}";
    let mut threads = Vec::new();
    for (index, name) in ["first", "second", "third", "solo"].into_iter().enumerate() {
        let clone = remote.clone(name);
        clone.append("data/rows.csv", &format!("{name}\n"));
        clone.commit_all(&format!("{name} commit"));
        let request = PushRequest {
            batch: (name == "solo").then_some(false),
            ..PushRequest::default()
        };
        let settings = clone.settings_with(yaml, request);
        // Line up in this order.
        std::thread::sleep(Duration::from_millis(if index == 0 { 0 } else { 150 }));
        let remote_bare = remote.bare.clone();
        let queued_before = index;
        threads.push(std::thread::spawn(move || {
            let report = clone.push(settings);
            (clone, report)
        }));
        assert!(wait_until(Duration::from_secs(10), || {
            let listed = std::process::Command::new("git")
                .args([
                    "for-each-ref",
                    "--format=%(refname)",
                    "refs/weft/waiting/main/",
                ])
                .current_dir(&remote_bare)
                .output()
                .unwrap();
            String::from_utf8_lossy(&listed.stdout).lines().count() > queued_before
        }));
    }
    // Everyone is in line: the busy runner lets go.
    planter.git(&[
        "push",
        "-q",
        &format!("--force-with-lease=refs/weft/locks/main:{planted}"),
        "origin",
        ":refs/weft/locks/main",
    ]);
    let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let mut landed_by_holder = 0;
    for (clone, report) in &results {
        let report = report.as_ref().unwrap();
        assert_eq!(report.outcome, PushOutcome::Landed, "{}", clone.name);
        assert_eq!(report.landed.len(), 1, "{}", clone.name);
        assert_eq!(
            clone.git(&["status", "--porcelain"]),
            "",
            "{} is clean",
            clone.name
        );
        assert!(
            remote
                .git(&["merge-base", "--is-ancestor", &clone.head(), "main"])
                .is_empty(),
            "{}'s branch is on main",
            clone.name
        );
        match clone.name.as_str() {
            "first" => {
                assert!(report.lock.batched_by.is_none());
                assert_eq!(report.batched.len(), 2, "{:?}", report.batched);
            }
            "second" | "third" => {
                let by = report.lock.batched_by.as_deref().unwrap_or_default();
                assert!(by.contains("test-first"), "{by}");
                assert_eq!(report.attempts, 0);
                landed_by_holder += 1;
            }
            _ => {
                assert!(report.lock.batched_by.is_none(), "--no-batch lands itself");
                assert!(report.batched.is_empty());
            }
        }
    }
    assert_eq!(landed_by_holder, 2);
    let mut subjects = remote.subjects();
    subjects.sort();
    assert_eq!(
        subjects,
        [
            "first commit",
            "second commit",
            "seed",
            "solo commit",
            "third commit"
        ]
    );
    let rows = remote.show("data/rows.csv");
    for name in ["first", "second", "third", "solo"] {
        assert_eq!(rows.matches(&format!("{name}\n")).count(), 1, "{rows}");
    }
    assert!(
        remote.leftovers().is_empty(),
        "the lock and the queue are gone: {:?}",
        remote.leftovers()
    );
}

#[test]
fn a_waiter_whose_commits_need_regenerate_is_left_to_land_itself() {
    let remote = Remote::with_files(&[("gen.txt", "0\n")]);
    let planter = remote.clone("planter");
    let planted = plant_lock(&planter, "main", 1, Duration::from_secs(60), "busy-runner");
    let yaml = "push: {policies: {gen.txt: {regenerate: \"echo regenerated > gen.txt\"}}}";
    let holder = remote.clone("holder");
    holder.write("gen.txt", "holder\n");
    holder.commit_all("holder");
    let waiter = remote.clone("waiter");
    waiter.write("gen.txt", "waiter\n");
    waiter.commit_all("waiter");
    let holder_settings = holder.settings(yaml);
    let waiter_settings = waiter.settings(yaml);
    let remote_bare = remote.bare.clone();
    let queued = move |count: usize| {
        wait_until(Duration::from_secs(10), || {
            let listed = std::process::Command::new("git")
                .args([
                    "for-each-ref",
                    "--format=%(refname)",
                    "refs/weft/waiting/main/",
                ])
                .current_dir(&remote_bare)
                .output()
                .unwrap();
            String::from_utf8_lossy(&listed.stdout).lines().count() >= count
        })
    };
    let first = std::thread::spawn(move || holder.push(holder_settings));
    assert!(queued(1));
    let second = std::thread::spawn(move || waiter.push(waiter_settings));
    assert!(queued(2));
    planter.git(&[
        "push",
        "-q",
        &format!("--force-with-lease=refs/weft/locks/main:{planted}"),
        "origin",
        ":refs/weft/locks/main",
    ]);
    let holder_report = first.join().unwrap().unwrap();
    let waiter_report = second.join().unwrap().unwrap();
    assert!(holder_report.batched.is_empty());
    assert!(waiter_report.lock.batched_by.is_none());
    assert_eq!(waiter_report.conflicts[0].policy, "regenerate");
    assert_eq!(remote.show("gen.txt"), "regenerated\n");
}
