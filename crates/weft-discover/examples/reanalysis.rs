//! Times re-analysis after one file changes: `reanalysis WORKSPACE [RUNS]`.
//!
//! Opens the workspace, then RUNS times appends a service to one
//! repository's compose file (and takes it out again), brings the model up
//! to date and analyses it (plan and conflicts), and prints the median of
//! each step beside a fresh `discover` plus analysis of the same files.

#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a benchmark reports on standard output"
)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use weft_analysis::PlanSettings;

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
    for run in 0..runs * 2 {
        let text = if run % 2 == 0 { &edited } else { &original };
        fs_err::write(&file, text).expect("write the compose file");
        let started = Instant::now();
        let step = workspace
            .update(std::slice::from_ref(&file))
            .expect("update the workspace");
        let updated = started.elapsed();
        read.push(step.read_time);
        build.push(step.build_time);
        let (plan, conflicts) = analysis(workspace.model());
        update.push(updated);
        analyse.push(started.elapsed() - updated);

        let started = Instant::now();
        let model = weft_discover::discover(&root).expect("discover the workspace");
        let (fresh_plan, fresh_conflicts) = analysis(&model);
        fresh.push(started.elapsed());
        assert!(
            model == *workspace.model(),
            "the updated model differs from a fresh one"
        );
        assert_eq!(plan, fresh_plan);
        assert_eq!(conflicts, fresh_conflicts);
    }
    fs_err::write(&file, &original).expect("restore the compose file");
    let services = workspace.model().services.len();
    println!("workspace: {} ({services} services)", root.display());
    println!("one compose file changed, median of {} runs:", runs * 2);
    println!("  update the model     {:>8.1} ms", ms(&mut update));
    println!("    read one repository  {:>6.1} ms", ms(&mut read));
    println!("    build the model      {:>6.1} ms", ms(&mut build));
    println!("  plan + conflicts     {:>8.1} ms", ms(&mut analyse));
    let incremental = ms(&mut update) + ms(&mut analyse);
    let from_scratch = ms(&mut fresh);
    println!("  incremental total    {incremental:>8.1} ms");
    println!(
        "  fresh run (same process) {from_scratch:>4.1} ms  ({:.1}× the incremental time)",
        from_scratch / incremental
    );
    ExitCode::SUCCESS
}

fn analysis(model: &weft_model::Model) -> (String, String) {
    let plan = weft_analysis::plan(model, &PlanSettings::default()).expect("plan");
    let conflicts = weft_analysis::find_conflicts(model);
    (
        serde_json::to_string(&plan.phases).expect("plan as JSON"),
        serde_json::to_string(&conflicts).expect("conflicts as JSON"),
    )
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
