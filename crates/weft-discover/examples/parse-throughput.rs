//! Parser throughput: reads every compose file and every Kubernetes
//! manifest under a directory into memory, then parses them repeatedly for
//! about two seconds each and prints MB/s. Used by `bench/analysis.sh`.

#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a benchmark prints its figures"
)]

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use weft_discover::SourceFile;
use weft_discover::compose::{Project, read_project};

/// The `weft` binary's allocator, so the figures are what `weft` reads at.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn collect(directory: &Path, compose: &mut Vec<SourceFile>, kubernetes: &mut Vec<SourceFile>) {
    let Ok(entries) = std::fs::read_dir(directory) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, compose, kubernetes);
            continue;
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let file = SourceFile::new(path.display().to_string(), text);
        if weft_discover::workspace::is_compose_file(&name) {
            compose.push(file);
        } else if (name.ends_with(".yaml") || name.ends_with(".yml"))
            && file.text.contains("apiVersion")
        {
            kubernetes.push(file);
        }
    }
}

fn measure(label: &str, files: &[SourceFile], mut parse: impl FnMut(&SourceFile)) {
    let bytes: usize = files.iter().map(|f| f.text.len()).sum();
    if bytes == 0 {
        println!("{label}: no files");
        return;
    }
    let start = Instant::now();
    let mut rounds = 0u32;
    while start.elapsed() < Duration::from_secs(2) || rounds == 0 {
        files.iter().for_each(&mut parse);
        rounds += 1;
    }
    let seconds = start.elapsed().as_secs_f64();
    let megabytes = bytes as f64 * f64::from(rounds) / 1e6;
    println!(
        "{label}: {} files, {:.1} MB per round, {rounds} rounds, {:.1} MB/s",
        files.len(),
        bytes as f64 / 1e6,
        megabytes / seconds
    );
}

fn main() {
    let Some(directory) = std::env::args().nth(1) else {
        eprintln!("usage: parse-throughput DIR");
        std::process::exit(2);
    };
    let (mut compose, mut kubernetes) = (Vec::new(), Vec::new());
    collect(Path::new(&directory), &mut compose, &mut kubernetes);
    let environment = HashMap::new();
    measure("compose", &compose, |file| {
        let files = std::slice::from_ref(file);
        let _ = read_project(&Project {
            directory: "bench",
            files,
            environment: &environment,
            load: &|_| None,
        });
    });
    measure("kubernetes", &kubernetes, |file| {
        let _ = weft_discover::kubernetes::read(std::slice::from_ref(file));
    });
}
