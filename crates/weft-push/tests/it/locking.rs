//! The push lock: waiting, takeover after expiry, fencing of a holder whose
//! lock was taken over, status, timeouts, `--emergency`, cleanup, and an
//! external lock.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use weft_push::{
    ErrorClass, ExternalLock, ExternalLockError, Holder, Interrupt, LockHandle, LockMode,
    LockRecord, LockRequest, Progress, PushError, PushOutcome, PushRequest, Pusher, Step, now_ms,
};

use crate::support::{Clone, Remote, wait_until};

/// Puts a lock record on the remote as if another run held it.
pub(crate) fn plant_lock(
    clone: &Clone,
    branch: &str,
    token: u64,
    expires_in: Duration,
    host: &str,
) -> String {
    let record = LockRecord {
        branch: branch.to_string(),
        holder: Holder {
            host: host.to_string(),
            pid: 4242,
            workflow: Some("nightly".to_string()),
            ..Holder::default()
        },
        token,
        acquired_at: now_ms(),
        expires_at: now_ms() + u64::try_from(expires_in.as_millis()).unwrap(),
        priority: None,
        class: None,
    };
    let message = serde_json::to_string(&record).unwrap();
    let sha = clone
        .git(&[
            "commit-tree",
            "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
            "-m",
            &message,
        ])
        .trim()
        .to_string();
    clone.git(&[
        "push",
        "-q",
        "origin",
        &format!("{sha}:refs/weft/locks/{branch}"),
    ]);
    sha
}

fn committed(remote: &Remote, name: &str) -> Clone {
    let clone = remote.clone(name);
    clone.write(&format!("{name}.txt"), &format!("{name}\n"));
    clone.commit_all(name);
    clone
}

#[test]
fn an_expired_lock_is_taken_over() {
    let remote = Remote::new();
    let clone = committed(&remote, "a");
    plant_lock(
        &clone,
        "main",
        7,
        Duration::from_millis(1500),
        "dead-runner",
    );
    let events = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&events);
    let started = Instant::now();
    let report = Pusher::open(&clone.path, clone.settings(""), LockMode::Git)
        .unwrap()
        .on_progress(move |progress| record.lock().unwrap().push(progress.clone()))
        .run()
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "it waited for the expiry"
    );
    assert_eq!(report.outcome, PushOutcome::Landed);
    assert_eq!(report.lock.token, Some(8), "the previous token + 1");
    assert!(
        report
            .lock
            .took_over_from
            .as_deref()
            .is_some_and(|h| h.contains("dead-runner"))
    );
    let events = events.lock().unwrap();
    assert!(
        events.iter().any(
            |e| matches!(e, Progress::Waiting { holder, .. } if holder.contains("dead-runner"))
        )
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Progress::TakingOver { .. }))
    );
    assert!(remote.refs("refs/weft/").is_empty());
}

/// Holder A stalls (a slow generator) past its lock's TTL with no
/// keep-alive; B takes the lock over and lands; A's landing push must fail
/// at the ref transaction.
fn stalled_holder(
    retries: u32,
) -> (
    Remote,
    Result<weft_push::PushReport, weft_push::PushFailure>,
) {
    let remote = Remote::with_files(&[("gen.txt", "0\n")]);
    let a = remote.clone("a");
    let b = committed(&remote, "b");
    let x = remote.clone("x");
    x.write("gen.txt", "x\n");
    x.plain_push("x");
    a.write("gen.txt", "a\n");
    a.commit_all("a");
    let request = PushRequest {
        lock_ttl: Some(Duration::from_millis(300)),
        retries: Some(retries),
        ..PushRequest::default()
    };
    let mut settings = a.settings_with(
        "push: {policies: {gen.txt: {regenerate: \"sleep 2; echo regenerated > gen.txt\"}}}",
        request,
    );
    settings.keep_alive = false;
    let (locked, on_lock) = mpsc::channel();
    let a_thread = std::thread::spawn(move || {
        let locked = Mutex::new(locked);
        Pusher::open(&a.path, settings, LockMode::Git)
            .unwrap()
            .on_progress(move |progress| {
                if matches!(progress, Progress::Locked { .. }) {
                    let _ = locked.lock().unwrap().send(());
                }
            })
            .run()
    });
    on_lock.recv_timeout(Duration::from_secs(10)).unwrap();
    let b_report = b.push(b.settings("")).unwrap();
    assert_eq!(b_report.outcome, PushOutcome::Landed);
    assert!(
        b_report.lock.took_over_from.is_some(),
        "B took the expired lock over"
    );
    let a_result = a_thread.join().unwrap();
    (remote, a_result)
}

#[test]
fn a_takeover_fences_the_old_holder_out() {
    let (remote, result) = stalled_holder(0);
    let failure = result.unwrap_err();
    assert_eq!(failure.step, Step::Land);
    let PushError::RetriesExhausted { last, .. } = &failure.error else {
        panic!("{:?}", failure.error);
    };
    assert!(matches!(**last, PushError::Fenced { .. }), "{last:?}");
    assert!(last.to_string().contains("taken over"), "{last}");
    assert_eq!(
        failure.report.failure.as_ref().unwrap().restored,
        "restored"
    );
    assert_eq!(remote.subjects(), ["b", "x", "seed"], "A landed nothing");
}

#[test]
fn a_fenced_holder_takes_the_lock_again_and_lands() {
    let (remote, result) = stalled_holder(3);
    let report = result.unwrap();
    assert_eq!(report.lock.fenced, 1);
    assert_eq!(report.attempts, 2);
    assert_eq!(remote.subjects(), ["a", "b", "x", "seed"]);
    assert_eq!(remote.show("gen.txt"), "regenerated\n");
}

#[test]
fn status_shows_the_holder_and_who_waits() {
    let remote = Remote::with_files(&[("gen.txt", "0\n")]);
    let a = remote.clone("a");
    let b = committed(&remote, "b");
    let x = remote.clone("x");
    x.write("gen.txt", "x\n");
    x.plain_push("x");
    a.write("gen.txt", "a\n");
    a.commit_all("a");
    let settings =
        a.settings("push: {policies: {gen.txt: {regenerate: \"sleep 1.5; echo r > gen.txt\"}}}");
    let (locked, on_lock) = mpsc::channel();
    let a_thread = std::thread::spawn(move || {
        let locked = Mutex::new(locked);
        Pusher::open(&a.path, settings, LockMode::Git)
            .unwrap()
            .on_progress(move |progress| {
                if matches!(progress, Progress::Locked { .. }) {
                    let _ = locked.lock().unwrap().send(());
                }
            })
            .run()
    });
    on_lock.recv_timeout(Duration::from_secs(10)).unwrap();
    let b_path = b.path.clone();
    let b_thread = std::thread::spawn(move || b.push(b.settings("")));
    let mut seen = None;
    assert!(wait_until(Duration::from_secs(5), || {
        let status = weft_push::status(&b_path, "origin", 10).unwrap();
        let found = status.locks.len() == 1 && status.waiters.len() == 1;
        if found {
            seen = Some(status);
        }
        found
    }));
    let status = seen.unwrap();
    let lock = &status.locks[0];
    assert_eq!(lock.branch, "main");
    assert!(!lock.expired);
    assert_eq!(lock.record.as_ref().unwrap().holder.host, "test-a");
    assert_eq!(
        status.waiters[0].record.as_ref().unwrap().holder.host,
        "test-b"
    );
    assert!(!status.waiters[0].stale);
    a_thread.join().unwrap().unwrap();
    let b_report = b_thread.join().unwrap().unwrap();
    assert!(b_report.lock.waited_ms > 0);
    // A, holding the lock, landed B's commit with its own: B has a receipt.
    assert!(
        b_report
            .lock
            .batched_by
            .as_deref()
            .is_some_and(|by| by.contains("test-a"))
    );
    let after = weft_push::status(&b_path, "origin", 10).unwrap();
    assert!(after.locks.is_empty(), "{after:?}");
    assert!(
        after
            .waiters
            .iter()
            .all(|entry| entry.receipt.is_some() && entry.record.is_none()),
        "only receipts are left: {after:?}"
    );
    assert_eq!(after.recent.len(), 1);
    assert_eq!(after.recent[0].outcome, "landed");
    assert!(remote.leftovers().is_empty());
}

#[test]
fn waiting_too_long_fails_and_restores() {
    let remote = Remote::new();
    let clone = committed(&remote, "a");
    let planted = plant_lock(&clone, "main", 3, Duration::from_secs(60), "busy-runner");
    let before = clone.snapshot();
    let request = PushRequest {
        lock_wait: Some(Duration::from_millis(300)),
        ..PushRequest::default()
    };
    let failure = clone.push(clone.settings_with("", request)).unwrap_err();
    assert_eq!(failure.step, Step::Lock);
    assert!(matches!(failure.error, PushError::LockTimeout { .. }));
    assert_eq!(failure.error.class(), ErrorClass::Failed);
    assert!(
        failure.error.to_string().contains("busy-runner"),
        "{}",
        failure.error
    );
    assert_eq!(clone.snapshot(), before);
    assert_eq!(
        remote.refs("refs/weft/"),
        ["refs/weft/locks/main"],
        "the waiter is gone"
    );
    assert_eq!(
        remote.git(&["rev-parse", "refs/weft/locks/main"]).trim(),
        planted
    );
}

#[test]
fn an_interrupt_while_waiting_stops_at_once() {
    let remote = Remote::new();
    let clone = committed(&remote, "a");
    plant_lock(&clone, "main", 3, Duration::from_secs(60), "busy-runner");
    let interrupt = Interrupt::new();
    let raise = interrupt.clone();
    let started = Instant::now();
    let failure = Pusher::open(&clone.path, clone.settings(""), LockMode::Git)
        .unwrap()
        .with_interrupt(interrupt)
        .on_progress(move |progress| {
            if matches!(progress, Progress::Waiting { .. }) {
                raise.raise(2);
            }
        })
        .run()
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(failure.error.class(), ErrorClass::Interrupted(2));
    assert_eq!(remote.refs("refs/weft/"), ["refs/weft/locks/main"]);
}

#[test]
fn emergency_skips_the_lock_is_recorded_and_never_forces() {
    let remote = Remote::new();
    let clone = committed(&remote, "a");
    let planted = plant_lock(&clone, "main", 3, Duration::from_secs(60), "busy-runner");
    let other = remote.clone("other");
    other.write("other.txt", "o\n");
    other.plain_push("other");
    let request = PushRequest {
        emergency: true,
        ..PushRequest::default()
    };
    let report = Pusher::open(
        &clone.path,
        clone.settings_with("", request),
        LockMode::None,
    )
    .unwrap()
    .run()
    .unwrap();
    assert!(report.emergency);
    assert_eq!(report.lock.mode, "none");
    assert_eq!(
        remote.subjects(),
        ["a", "other", "seed"],
        "rebased, not forced"
    );
    assert_eq!(
        remote.git(&["rev-parse", "refs/weft/locks/main"]).trim(),
        planted
    );
    let record = remote.git(&["log", "-1", "--format=%B", "refs/weft/emergency/main"]);
    let record: serde_json::Value = serde_json::from_str(record.trim()).unwrap();
    assert_eq!(record["head"], remote.head());
    assert_eq!(record["holder"]["host"], "test-a");
}

#[test]
fn cleanup_deletes_expired_locks_and_leaves_live_ones() {
    let remote = Remote::new();
    let clone = remote.clone("a");
    plant_lock(&clone, "main", 1, Duration::ZERO, "dead-runner");
    plant_lock(
        &clone,
        "release/1.x",
        1,
        Duration::from_secs(60),
        "live-runner",
    );
    let report = weft_push::cleanup(&clone.path, "origin").unwrap();
    assert!(report.recovered.is_none());
    let actions = report.actions.join("\n");
    assert!(
        actions.contains("deleted the expired push lock of main"),
        "{actions}"
    );
    assert!(
        actions.contains("release/1.x is held by workflow \"nightly\" on live-runner (pid 4242)"),
        "{actions}"
    );
    assert_eq!(remote.refs("refs/weft/"), ["refs/weft/locks/release/1.x"]);
}

/// An in-memory external lock that records the calls it gets, and can lose
/// the lease at its first renewal.
struct FakeLock {
    calls: Arc<Mutex<Vec<String>>>,
    lose_first_renewal: bool,
    token: u64,
}

impl ExternalLock for FakeLock {
    fn acquire(
        &mut self,
        request: &LockRequest,
        _interrupt: &Interrupt,
    ) -> Result<LockHandle, ExternalLockError> {
        self.token += 1;
        self.calls.lock().unwrap().push(format!(
            "acquire {} class={:?} priority={:?}",
            request.resource, request.class, request.priority
        ));
        Ok(LockHandle {
            lease_id: format!("lease-{}", self.token),
            token: self.token,
        })
    }

    fn renew(&mut self, handle: &LockHandle, _ttl: Duration) -> Result<(), ExternalLockError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("renew {}", handle.lease_id));
        if std::mem::take(&mut self.lose_first_renewal) {
            return Err(ExternalLockError::Lost {
                message: "expired".to_string(),
            });
        }
        Ok(())
    }

    fn release(&mut self, handle: &LockHandle) -> Result<(), ExternalLockError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("release {}", handle.lease_id));
        Ok(())
    }
}

#[test]
fn an_external_lock_is_acquired_checked_before_landing_and_released() {
    let remote = Remote::new();
    let clone = committed(&remote, "a");
    let calls = Arc::new(Mutex::new(Vec::new()));
    let lock = FakeLock {
        calls: Arc::clone(&calls),
        lose_first_renewal: true,
        token: 0,
    };
    let request = PushRequest {
        class: Some("batch".to_string()),
        ..PushRequest::default()
    };
    let report = Pusher::open(
        &clone.path,
        clone.settings_with("", request),
        LockMode::External(Box::new(lock)),
    )
    .unwrap()
    .run()
    .unwrap();
    assert_eq!(report.outcome, PushOutcome::Landed);
    assert_eq!(report.lock.mode, "external");
    assert_eq!(
        report.lock.token,
        Some(2),
        "the lease was lost once and taken again"
    );
    let calls = calls.lock().unwrap().clone();
    let resource = format!(
        "branch:{}/main",
        remote.bare.to_string_lossy().trim_end_matches(".git")
    );
    assert_eq!(
        calls,
        [
            format!("acquire {resource} class=Some(\"batch\") priority=None"),
            "renew lease-1".to_string(),
            format!("acquire {resource} class=Some(\"batch\") priority=None"),
            "renew lease-2".to_string(),
            "release lease-2".to_string(),
        ]
    );
    assert!(
        remote.refs("refs/weft/").is_empty(),
        "no git lock was taken"
    );
}
