//! The fake GitHub of `weft_testkit::github` as a process, for
//! `bench/deploy.sh`: hosts `acme/app` with a `deploy.yml` whose runs take
//! `--run-ms`, prints its API URL and the token it accepts, then serves on
//! 127.0.0.1 until killed. `GET /_stats` answers how many API requests it
//! served and how many were 304s.
//!
//! Usage: weft-fake-github [--run-ms N]

use std::time::Duration;

use weft_testkit::github::{FakeGitHub, Repository, Workflow};

fn main() {
    let mut run_ms = 200u64;
    let mut arguments = std::env::args().skip(1);
    while let Some(argument) = arguments.next() {
        if argument == "--run-ms" {
            run_ms = arguments
                .next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| usage("--run-ms takes milliseconds"));
        } else {
            usage(&format!("unknown argument `{argument}`"));
        }
    }
    let fake = FakeGitHub::start();
    fake.add_repository(
        Repository::new("acme/app")
            .workflow(Workflow::new("deploy.yml").duration(Duration::from_millis(run_ms))),
    );
    let mut out = std::io::stdout().lock();
    let banner = format!("{}\n{}\n", fake.url(), fake.token());
    let _ = std::io::Write::write_all(&mut out, banner.as_bytes());
    let _ = std::io::Write::flush(&mut out);
    drop(out);
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

fn usage(message: &str) -> ! {
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!("weft-fake-github: {message}\nusage: weft-fake-github [--run-ms N]\n").as_bytes(),
    );
    std::process::exit(2);
}
