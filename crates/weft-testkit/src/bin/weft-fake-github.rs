//! The fake GitHub of `weft_testkit::github` as a process, for the bench
//! scripts. By default (`bench/deploy.sh`) it hosts `acme/app` with a
//! `deploy.yml` whose runs take `--run-ms`; with `--monitor-fixture N`
//! (`bench/collect.sh`) it hosts N repositories `bench/repo-000`… with a
//! month of past for `weft monitor collect`. It prints its API URL and the
//! token it accepts, then serves on 127.0.0.1 until killed.
//!
//! `--rate-limit N` sets the primary budget per hour (GitHub's 5000 for a
//! token unless given). `GET /_stats` answers how many API requests it
//! served and how many were 304s. With `--log-requests FILE` every request
//! is appended to FILE as `STATUS METHOD PATH[?QUERY]`, a line each, within
//! a fifth of a second.
//!
//! Usage: weft-fake-github [--run-ms N] [--monitor-fixture N] [--rate-limit N]
//!                         [--log-requests FILE]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use weft_testkit::github::{
    Activity, Conclusion, FakeGitHub, IssueSpec, PastRun, Pull, Repository, Workflow,
};

const USAGE: &str = "usage: weft-fake-github [--run-ms N] [--monitor-fixture N] \
                     [--rate-limit N] [--log-requests FILE]";
const HOUR: Duration = Duration::from_secs(3_600);
const DAY: Duration = Duration::from_secs(86_400);
/// How often the request log is appended to.
const LOG_INTERVAL: Duration = Duration::from_millis(200);

/// The people of the fixture; the bots are `[bot]`s.
const PEOPLE: &[&str] = &["alice", "bob", "carol", "dave", "erin", "frank", "grace"];

/// Short failing logs, one picked per failed run: what CI fails on.
const FAILING_LOGS: &[&str] = &[
    "\
2026-11-02T08:14:09.9100000Z ======== Computing necessary packages ========
2026-11-02T08:14:09.9100000Z ERROR: Missing prebuilt package for 'zlib/1.3.1'
2026-11-02T08:14:09.9200000Z Check the available packages using 'conan list zlib/1.3.1:* -r=remote'
2026-11-02T08:14:12.5000000Z ##[error]Process completed with exit code 1.
",
    "\
2026-11-02T08:20:31.1000000Z    Compiling weft-core v0.4.0 (/home/runner/work/app/app)
2026-11-02T08:20:44.3000000Z error[E0308]: mismatched types
2026-11-02T08:20:44.3000000Z   --> src/plan.rs:88:17
2026-11-02T08:20:44.3000000Z    |
2026-11-02T08:20:44.3000000Z 88 |         Ok(steps)
2026-11-02T08:20:44.3000000Z    |            ^^^^^ expected `Vec<Step>`, found `&[Step]`
2026-11-02T08:20:44.4000000Z error: could not compile `weft-core` (lib) due to 1 previous error
2026-11-02T08:20:44.6000000Z ##[error]Process completed with exit code 101.
",
    "\
2026-11-02T09:02:10.0000000Z [ 42%] Building CXX object src/CMakeFiles/app.dir/net/client.cpp.o
2026-11-02T09:02:11.2000000Z /home/runner/work/app/app/src/net/client.cpp:12:10: fatal error: boost/asio.hpp: No such file or directory
2026-11-02T09:02:11.2000000Z    12 | #include <boost/asio.hpp>
2026-11-02T09:02:11.2000000Z compilation terminated.
2026-11-02T09:02:11.3000000Z make[2]: *** [src/CMakeFiles/app.dir/build.make:76: src/CMakeFiles/app.dir/net/client.cpp.o] Error 1
2026-11-02T09:02:11.4000000Z ##[error]Process completed with exit code 2.
",
    "\
2026-11-02T10:11:05.0000000Z running 128 tests
2026-11-02T10:11:09.7000000Z test cache::tests::evicts_the_oldest ... FAILED
2026-11-02T10:11:09.8000000Z failures:
2026-11-02T10:11:09.8000000Z ---- cache::tests::evicts_the_oldest stdout ----
2026-11-02T10:11:09.8000000Z thread 'cache::tests::evicts_the_oldest' panicked at src/cache.rs:211:9:
2026-11-02T10:11:09.8000000Z assertion `left == right` failed
2026-11-02T10:11:09.9000000Z test result: FAILED. 127 passed; 1 failed; 0 ignored
2026-11-02T10:11:10.0000000Z ##[error]Process completed with exit code 101.
",
    "\
2026-11-02T11:30:02.0000000Z npm ERR! code ERESOLVE
2026-11-02T11:30:02.0000000Z npm ERR! ERESOLVE unable to resolve dependency tree
2026-11-02T11:30:02.0000000Z npm ERR! Found: react@18.3.1
2026-11-02T11:30:02.1000000Z ##[error]Process completed with exit code 1.
",
];

struct Options {
    run_ms: u64,
    monitor_fixture: Option<usize>,
    rate_limit: Option<u64>,
    log_requests: Option<PathBuf>,
}

fn main() {
    let options = options();
    let fake = FakeGitHub::start();
    if let Some(limit) = options.rate_limit {
        fake.set_rate_limit(limit);
    }
    match options.monitor_fixture {
        Some(count) => {
            for index in 0..count {
                fake.add_repository(monitor_repository(index));
            }
        }
        None => {
            fake.add_repository(Repository::new("acme/app").workflow(
                Workflow::new("deploy.yml").duration(Duration::from_millis(options.run_ms)),
            ))
        }
    }
    let mut out = std::io::stdout().lock();
    let banner = format!("{}\n{}\n", fake.url(), fake.token());
    let _ = out.write_all(banner.as_bytes());
    let _ = out.flush();
    drop(out);
    match options.log_requests {
        Some(path) => log_requests(&fake, &path),
        None => loop {
            std::thread::sleep(Duration::from_secs(3600));
        },
    }
}

fn options() -> Options {
    let mut options = Options {
        run_ms: 200,
        monitor_fixture: None,
        rate_limit: None,
        log_requests: None,
    };
    let mut arguments = std::env::args().skip(1);
    while let Some(argument) = arguments.next() {
        match argument.as_str() {
            "--run-ms" => {
                options.run_ms = arguments
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| usage("--run-ms takes milliseconds"));
            }
            "--monitor-fixture" => {
                options.monitor_fixture = Some(
                    arguments
                        .next()
                        .and_then(|v| v.parse().ok())
                        .filter(|n| *n <= 1000)
                        .unwrap_or_else(|| usage("--monitor-fixture takes a count up to 1000")),
                );
            }
            "--rate-limit" => {
                options.rate_limit = Some(
                    arguments
                        .next()
                        .and_then(|v| v.parse().ok())
                        .unwrap_or_else(|| usage("--rate-limit takes requests per hour")),
                );
            }
            "--log-requests" => {
                options.log_requests = Some(
                    arguments
                        .next()
                        .map(PathBuf::from)
                        .unwrap_or_else(|| usage("--log-requests takes a file")),
                );
            }
            _ => usage(&format!("unknown argument `{argument}`")),
        }
    }
    options
}

/// Appends the requests answered since the last look to `path`, forever.
fn log_requests(fake: &FakeGitHub, path: &Path) -> ! {
    let mut file = fs_err::File::create(path).unwrap_or_else(|error| usage(&error.to_string()));
    let mut written = 0;
    loop {
        let log = fake.request_log();
        let mut lines = String::new();
        for request in log.iter().skip(written) {
            let query = request
                .query
                .as_ref()
                .map_or(String::new(), |q| format!("?{q}"));
            lines.push_str(&format!(
                "{} {} {}{query}\n",
                request.status, request.method, request.path
            ));
        }
        written = log.len();
        if !lines.is_empty() {
            let _ = file.write_all(lines.as_bytes());
            let _ = file.flush();
        }
        std::thread::sleep(LOG_INTERVAL);
    }
}

/// `bench/repo-{index:03}`: a month of past, the same for the same index.
///
/// About 20 runs over 28 days (about one in five failed, each with a short
/// failing log), 5 pull requests (one stale with only a bot's comment since,
/// one under review, one merged, one by a bot, and one draft, closed or
/// abandoned), 1 or 2 issues, `main`, `develop` and an old spike branch
/// besides the pull requests' heads, and 2 releases. Every age is whole
/// hours, so nothing crosses the events API's 30-day edge between two
/// collections a few minutes apart.
fn monitor_repository(index: usize) -> Repository {
    let mut rng = fastrand::Rng::with_seed(0x5eed_0000 + index as u64);
    let hours = |h: u64| HOUR * u32::try_from(h).unwrap_or(u32::MAX);
    let days = |d: u64| DAY * u32::try_from(d).unwrap_or(u32::MAX);
    let person = |rng: &mut fastrand::Rng| PEOPLE[rng.usize(..PEOPLE.len())];
    // Two different people: an author and who answers.
    let two = |rng: &mut fastrand::Rng| {
        let first = rng.usize(..PEOPLE.len());
        let second = (first + rng.usize(1..PEOPLE.len())) % PEOPLE.len();
        (PEOPLE[first], PEOPLE[second])
    };
    let mut repository = Repository::new(&format!("bench/repo-{index:03}"))
        .pushed(hours(rng.u64(1..48)))
        .branch_at("develop", hours(rng.u64(2..72)))
        .branch_at(
            &format!("spike-{}", rng.u32(100..999)),
            days(rng.u64(60..200)),
        );

    for k in 0..20u64 {
        let age = hours(1 + k * 35 + rng.u64(0..30));
        let roll = rng.u8(..100);
        let conclusion = match roll {
            0..20 => Conclusion::Failure,
            20..23 => Conclusion::Cancelled,
            _ => Conclusion::Success,
        };
        let mut run = PastRun::new(if k % 5 == 4 { "nightly.yml" } else { "ci.yml" })
            .age(age)
            .duration(Duration::from_secs(60 * rng.u64(3..20)))
            .conclusion(conclusion);
        if k % 5 == 4 {
            run = run.event("schedule").job_name("nightly");
        } else if k % 4 == 1 {
            run = run.event("pull_request").branch("pr-2").job_name("test");
        }
        if conclusion == Conclusion::Failure {
            run = run.log(FAILING_LOGS[rng.usize(..FAILING_LOGS.len())]);
        }
        repository = repository.past_run(run);
    }

    // 1: stale; people last touched it weeks ago, a bot since.
    let (author, reviewer) = two(&mut rng);
    let opened = rng.u64(40..90);
    repository = repository.pull(
        Pull::new(1, author)
            .title("Rework the cache")
            .age(days(opened))
            .labels(&["enhancement"])
            .activity(Activity::commit(author, days(opened)))
            .activity(Activity::review(reviewer, days(opened - 1)))
            .activity(Activity::comment(author, days(opened - 2)))
            .activity(Activity::comment(
                "dependabot[bot]",
                hours(rng.u64(24..120)),
            )),
    );
    // 2: under review.
    let (author, reviewer) = two(&mut rng);
    let opened = rng.u64(48..144);
    repository = repository.pull(
        Pull::new(2, author)
            .title("Fix the retry on 502")
            .age(hours(opened))
            .activity(Activity::commit(author, hours(opened)))
            .activity(Activity::review(reviewer, hours(opened - 20)).body("Needs a test."))
            .activity(Activity::commit(author, hours(opened - 30)))
            .activity(Activity::comment("github-actions[bot]", hours(opened - 31)))
            .activity(Activity::approval(reviewer, hours(opened - 40))),
    );
    // 3: merged, its branch gone.
    let (author, reviewer) = two(&mut rng);
    let opened = rng.u64(10..25);
    repository = repository.pull(
        Pull::new(3, author)
            .title("Add request tracing")
            .age(days(opened))
            .activity(Activity::commit(author, days(opened)))
            .activity(Activity::approval(reviewer, days(opened - 1)))
            .merged(days(opened - 2))
            .head_deleted(),
    );
    // 4: a bot's dependency bump, a person asking it to rebase.
    let opened = rng.u64(3..20);
    let minor = rng.u32(180..220);
    repository = repository.pull(
        Pull::new(4, "dependabot[bot]")
            .bot_author()
            .title(&format!("Bump serde from 1.0.{minor} to 1.0.{}", minor + 1))
            .head(&format!("dependabot/cargo/serde-1.0.{}", minor + 1))
            .age(days(opened))
            .labels(&["dependencies"])
            .activity(
                Activity::comment(person(&mut rng), days(opened - 1)).body("@dependabot rebase"),
            ),
    );
    // 5: an old draft, one closed unmerged, or one nobody answered.
    let author = person(&mut rng);
    let opened = rng.u64(31..60);
    let pull = Pull::new(5, author)
        .title("Try a new parser")
        .age(days(opened))
        .activity(Activity::commit(author, days(opened)));
    repository = repository.pull(match index % 3 {
        0 => pull.draft(true).labels(&["wip"]),
        1 => pull
            .activity(Activity::comment(person(&mut rng), days(opened - 3)))
            .closed(days(opened - 5)),
        _ => pull,
    });

    let (author, other) = two(&mut rng);
    let opened = rng.u64(5..25);
    repository = repository.issue(
        IssueSpec::new(6, author)
            .title("Crash on start with an empty config")
            .age(days(opened))
            .labels(&["bug"])
            .activity(Activity::comment(other, days(opened - 1)))
            .activity(Activity::comment("github-actions[bot]", days(opened - 2))),
    );
    if rng.bool() {
        repository = repository.issue(
            IssueSpec::new(7, person(&mut rng))
                .title("How do I set the timeout?")
                .age(hours(rng.u64(30..300)))
                .labels(&["question"]),
        );
    }

    let (major, minor) = (1 + index % 3, rng.u32(0..20));
    repository
        .release(&format!("v{major}.{minor}.0"), hours(rng.u64(480..680)))
        .release(&format!("v{major}.{minor}.1"), hours(rng.u64(48..240)))
}

fn usage(message: &str) -> ! {
    let _ =
        std::io::stderr().write_all(format!("weft-fake-github: {message}\n{USAGE}\n").as_bytes());
    std::process::exit(2);
}
