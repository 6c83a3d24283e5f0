//! Many pushers at once on one branch: every commit lands exactly once.

use std::collections::BTreeMap;

use weft_push::{PushOutcome, PushRequest};

use crate::support::Remote;

const PUSHERS: usize = 8;
const COMMITS: usize = 5;

#[test]
fn eight_pushers_land_forty_commits_exactly_once() {
    let remote = Remote::with_files(&[
        ("data/shared.csv", "pusher,commit\n"),
        ("data/latest.json", "{}\n"),
    ]);
    let clones: Vec<_> = (0..PUSHERS)
        .map(|p| remote.clone(&format!("pusher{p}")))
        .collect();
    let yaml = "push: {policies: {\"data/shared.csv\": union}}";
    let threads: Vec<_> = clones
        .into_iter()
        .enumerate()
        .map(|(p, clone)| {
            std::thread::spawn(move || {
                let mut attempts = 0;
                let mut batched = 0;
                for c in 0..COMMITS {
                    clone.write(&format!("own/{p}.txt"), &format!("pusher {p} commit {c}\n"));
                    clone.append("data/shared.csv", &format!("{p},{c}\n"));
                    clone.write(
                        "data/latest.json",
                        &format!("{{\"pusher\": {p}, \"commit\": {c}}}\n"),
                    );
                    let request = PushRequest {
                        message: Some(format!("pusher {p} commit {c}")),
                        add: vec!["own".into(), "data".into()],
                        ..PushRequest::default()
                    };
                    let report = clone
                        .push(clone.settings_with(yaml, request))
                        .unwrap_or_else(|failure| {
                            panic!("pusher {p} commit {c} failed: {failure}: {}", failure.error)
                        });
                    assert_eq!(report.outcome, PushOutcome::Landed);
                    assert_eq!(report.landed.len(), 1);
                    attempts += report.attempts;
                    batched += usize::from(report.lock.batched_by.is_some());
                }
                (attempts, batched)
            })
        })
        .collect();
    let mut attempts = 0;
    let mut batched = 0;
    for thread in threads {
        let (pusher_attempts, pusher_batched) = thread.join().unwrap();
        attempts += pusher_attempts;
        batched += pusher_batched;
    }
    let subjects = remote.subjects();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for subject in &subjects {
        *counts.entry(subject.clone()).or_default() += 1;
    }
    assert_eq!(subjects.len(), PUSHERS * COMMITS + 1, "{subjects:?}");
    for p in 0..PUSHERS {
        for c in 0..COMMITS {
            assert_eq!(counts.get(&format!("pusher {p} commit {c}")), Some(&1));
        }
        assert_eq!(
            remote.show(&format!("own/{p}.txt")),
            format!("pusher {p} commit {}\n", COMMITS - 1)
        );
    }
    // The shared file kept every pusher's every line, in landing order.
    let shared = remote.show("data/shared.csv");
    let rows: Vec<&str> = shared.lines().skip(1).collect();
    assert_eq!(rows.len(), PUSHERS * COMMITS, "{shared}");
    for p in 0..PUSHERS {
        let own: Vec<&str> = rows
            .iter()
            .copied()
            .filter(|row| row.starts_with(&format!("{p},")))
            .collect();
        let expected: Vec<String> = (0..COMMITS).map(|c| format!("{p},{c}")).collect();
        assert_eq!(own, expected, "pusher {p}'s rows, in its order");
    }
    // `data/latest.json` (a data file: mine by default) holds the last landing.
    let last = &subjects[0];
    let latest = remote.show("data/latest.json");
    let (p, c) = last
        .trim_start_matches("pusher ")
        .split_once(" commit ")
        .unwrap();
    assert_eq!(latest, format!("{{\"pusher\": {p}, \"commit\": {c}}}\n"));
    assert!(remote.leftovers().is_empty(), "{:?}", remote.leftovers());
    // Under the lock nobody lands between our fetch and our push: retries
    // only come from transient ref contention on the remote.
    println!(
        "{attempts} attempts for {} pushes; {batched} landed by the lock holder",
        PUSHERS * COMMITS
    );
    assert!(attempts as usize <= PUSHERS * COMMITS * 2, "{attempts}");
}
