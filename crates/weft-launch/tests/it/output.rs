//! Output under load: a service that floods its output neither holds back
//! another's start nor grows the supervisor's memory without bound.

use std::time::{Duration, Instant};

use tokio::sync::broadcast::error::RecvError;
use weft_launch::State;
use weft_launch::output::{MAX_LINE, Stream, log_path};

use crate::support;

/// The resident memory of this process, from `/proc/self/status`.
fn resident_bytes() -> u64 {
    let status = fs_err::read_to_string("/proc/self/status").unwrap_or_else(|e| panic!("{e}"));
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("a VmRSS line");
    let kilobytes: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("VmRSS in kB");
    kilobytes * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_service_does_not_hold_back_the_others() {
    let yaml = r#"
name: t
services:
  flood:
    command: "@service --flood 0"
  steady:
    command: "@service --delay 100ms"
    ports: [{name: http}]
    ready: {tcp: "127.0.0.1:${PORT}", start_period: 20ms}
  talker:
    command: "@service --delay 300ms"
    ports: [{name: http}]
    ready: {log: "^listening on "}
ports: {range: "@range"}
"#;
    support::run(yaml, |launch| async move {
        launch
            .wait_line("flood", |l| l.text.starts_with("flood "))
            .await;
        let statuses = launch
            .wait_for("steady and talker to be ready", support::DEADLINE, |s| {
                ["steady", "talker"]
                    .iter()
                    .all(|name| s[launch.index(name)].state == State::Ready)
            })
            .await;
        for name in ["steady", "talker"] {
            let status = &statuses[launch.index(name)];
            let took = status.ready_since_ms.unwrap() - status.started_at_ms.unwrap();
            assert!(took < 5000, "{name} took {took}ms to be ready");
        }

        // Let more through than the memory bound allows to be kept: 128 MiB,
        // counted by a follower (which may lag, and is told by how much).
        let flood = launch.index("flood");
        let mut follow = launch.supervisor.follow();
        let (mut passed, began) = (0u64, Instant::now());
        while passed < 128 << 20 {
            assert!(
                began.elapsed() < Duration::from_secs(120),
                "only {passed} bytes of flood in two minutes"
            );
            match follow.recv().await {
                Ok(line) if line.service == flood => passed += line.text.len() as u64 + 1,
                Ok(_) => {}
                // The lines missed are the flood's ~100-byte lines.
                Err(RecvError::Lagged(missed)) => passed += missed * 100,
                Err(RecvError::Closed) => panic!("the supervisor went away"),
            }
        }

        let resident = resident_bytes();
        assert!(
            resident < 200 << 20,
            "the supervisor holds {resident} bytes"
        );
        let recent = launch.output("flood");
        assert!(recent.len() <= 1000, "{} lines in memory", recent.len());
        assert!(
            recent
                .iter()
                .any(|l| l.stream == Stream::Stdout && l.text.starts_with("flood "))
        );
        let settings = launch.settings();
        let log = log_path(&settings.state_dir, &settings.services[flood].id);
        assert!(
            log.with_extension("log.3").is_file(),
            "the log never rotated"
        );
        // Three rotated files and the current one, each cut at its size
        // (give or take the line that crossed it), however big the chunks read.
        let limit = settings.log.file_size + MAX_LINE as u64 + 64;
        for entry in fs_err::read_dir(log.parent().unwrap()).unwrap() {
            let entry = entry.unwrap();
            let size = entry.metadata().unwrap().len();
            assert!(size <= limit, "{:?} holds {size} bytes", entry.path());
        }
        assert!(!log.with_extension("log.4").exists());

        // The flood still runs, and the others are still ready.
        let statuses = launch.supervisor.statuses();
        for status in &statuses {
            assert_eq!(status.state, State::Ready, "{}", status.name);
        }
    })
    .await;
}
