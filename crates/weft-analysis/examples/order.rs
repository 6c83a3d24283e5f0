//! Orders an edge list like coreutils `tsort`: reads `BEFORE AFTER` pairs
//! (whitespace-separated) from a file and prints one deployment order, one
//! service per line. `bench/analysis.sh` times it against `tsort` on the same
//! input, so both pay for reading the file and writing the order.

#![expect(
    clippy::print_stderr,
    reason = "a command-line tool reports to standard error"
)]

use std::collections::HashSet;
use std::io::Write;
use std::process::ExitCode;

use weft_model::{Edge, EdgeKind, Model, Provenance, Rule, Service, ServiceId, Span};

/// The `weft` binary's allocator, so this times what `weft` would do.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: order EDGE_LIST");
        return ExitCode::from(2);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) => {
            eprintln!("error: {path}: {error}");
            return ExitCode::from(2);
        }
    };
    let words: Vec<&str> = text.split_whitespace().collect();
    let provenance = Provenance::new("edges", Span::default(), Rule::WeftYaml);
    let mut names = HashSet::with_capacity(words.len());
    let mut edges = Vec::with_capacity(words.len() / 2);
    for pair in words.chunks_exact(2) {
        names.insert(pair[0]);
        names.insert(pair[1]);
        // tsort's `BEFORE AFTER` is weft's `AFTER needs BEFORE`.
        edges.push(Edge {
            from: ServiceId(pair[1].to_string()),
            to: ServiceId(pair[0].to_string()),
            kind: EdgeKind::Required,
            provenance: vec![provenance.clone()],
            explicit: false,
        });
    }
    // Sorted once at the end, as tsort's own table is walked: cheaper than
    // keeping a sorted set while reading.
    let mut names: Vec<&str> = names.into_iter().collect();
    names.sort_unstable();
    let services = names
        .into_iter()
        .map(|name| Service {
            id: ServiceId(name.to_string()),
            repository: String::new(),
            name: name.to_string(),
            sources: Vec::new(),
            image: None,
            command: None,
            aliases: Vec::new(),
            provenance: Vec::new(),
        })
        .collect();
    let model = Model {
        services,
        edges,
        ..Model::default()
    };
    let plan = match weft_analysis::plan(&model, &weft_analysis::PlanSettings::default()) {
        Ok(plan) => plan,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(3);
        }
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for id in &plan.order {
        let _ = writeln!(out, "{id}");
    }
    ExitCode::SUCCESS
}
