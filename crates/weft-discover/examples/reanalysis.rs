//! Times re-analysis after one file changes: `reanalysis WORKSPACE [RUNS]`.
//!
//! Opens the workspace, then RUNS times appends a service to one
//! repository's compose file (and takes it out again), brings the model up
//! to date, analyses it (plan and conflicts) and finds what changed, as
//! `weft watch` does; prints the median of each step beside a fresh
//! `discover` plus analysis of the same files, and checks that both agree.

#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a benchmark reports on standard output"
)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use weft_analysis::Analysis;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let Some(root) = arguments.first().map(PathBuf::from) else {
        eprintln!("usage: reanalysis WORKSPACE [RUNS (default 10)]");
        return ExitCode::from(2);
    };
    let runs: usize = arguments.get(1).and_then(|r| r.parse().ok()).unwrap_or(10);
    let mut workspace = match weft_discover::Workspace::open(&root) {
        Ok(workspace) => workspace,
        Err(error) => {
            eprintln!("reanalysis: {error}");
            return ExitCode::from(2);
        }
    };
    let Some(file) = first_compose_file(&root) else {
        eprintln!("reanalysis: no compose.yaml under {}", root.display());
        return ExitCode::from(2);
    };
    let original = fs_err::read_to_string(&file).expect("read the compose file");
    let edited = format!(
        "{original}  reanalysis-probe:\n    image: example/probe:1.0\n    ports:\n      - \"20001:9090\"\n"
    );
    let mut update = Vec::new();
    let mut read = Vec::new();
    let mut build = Vec::new();
    let mut analyse = Vec::new();
    let mut fresh = Vec::new();
    let mut analysis = Analysis::of(workspace.shared_model()).expect("analysis");
    for run in 0..runs * 2 {
        let text = if run % 2 == 0 { &edited } else { &original };
        fs_err::write(&file, text).expect("write the compose file");
        // What `weft watch` does with a saved file: bring the model up to
        // date, analyse it, and tell what changed.
        let started = Instant::now();
        let step = workspace
            .update(std::slice::from_ref(&file))
            .expect("update the workspace");
        let updated = started.elapsed();
        let next = Analysis::of(workspace.shared_model()).expect("analysis");
        let changes = next.changes_since(&analysis);
        analyse.push(started.elapsed() - updated);
        update.push(updated);
        read.push(step.read_time);
        build.push(step.build_time);
        assert!(!changes.is_empty(), "the edit changes the model");
        let previous = std::mem::replace(&mut analysis, next);

        // What users run today: a fresh read and analysis.
        let started = Instant::now();
        let model = weft_discover::discover(&root).expect("discover the workspace");
        let from_scratch = Analysis::of(model).expect("analysis");
        fresh.push(started.elapsed());
        assert!(
            from_scratch == analysis,
            "the updated analysis differs from a fresh one"
        );
        drop(previous);
    }
    fs_err::write(&file, &original).expect("restore the compose file");
    let services = workspace.model().services.len();
    println!("workspace: {} ({services} services)", root.display());
    println!("one compose file changed, median of {} runs:", runs * 2);
    println!("  update the model         {:>8.1} ms", ms(&mut update));
    println!("    read one repository    {:>8.1} ms", ms(&mut read));
    println!("    build the model        {:>8.1} ms", ms(&mut build));
    println!("  plan, conflicts, changes {:>8.1} ms", ms(&mut analyse));
    let incremental = ms(&mut update) + ms(&mut analyse);
    let from_scratch = ms(&mut fresh);
    println!("  incremental total        {incremental:>8.1} ms");
    println!(
        "  fresh read and analysis  {from_scratch:>8.1} ms  ({:.1}x the incremental time)",
        from_scratch / incremental
    );
    ExitCode::SUCCESS
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(samples: &mut [Duration]) -> f64 {
    median(samples).as_secs_f64() * 1e3
}

fn first_compose_file(root: &Path) -> Option<PathBuf> {
    let mut directories: Vec<PathBuf> = fs_err::read_dir(root)
        .ok()?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_dir())
        .collect();
    directories.sort();
    directories
        .into_iter()
        .map(|directory| directory.join("compose.yaml"))
        .find(|file| file.is_file())
}
