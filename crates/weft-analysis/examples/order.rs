//! Orders an edge list like coreutils `tsort`: reads `BEFORE AFTER` pairs
//! (whitespace-separated) from a file and prints one deployment order, one
//! service per line. `bench/analysis.sh` times it against `tsort` on the same
//! input, so both pay for reading the file and writing the order. Like
//! tsort, it names each loop on standard error and exits 1, after printing
//! an order with one edge of each loop left out.

#![expect(
    clippy::print_stderr,
    reason = "a command-line tool reports to standard error"
)]

use std::io::Write;
use std::process::ExitCode;

use foldhash::{HashMap, HashMapExt};
use weft_model::{Edge, EdgeKind, Model, Service, ServiceId};

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
    let mut words = Words { text: &text, at: 0 };
    // Sized from the number of lines, nearly always one edge each: tables
    // sized from the file's bytes instead were several times too large,
    // and every page of them written once costs a page fault. (A table
    // that has to grow, copying itself, costs as much again.) Half as many
    // names as edges is a first guess, grown from if there are more.
    let lines = memchr::memchr_iter(b'\n', text.as_bytes()).count() + 1;
    // Each name's id is made once; edges share it.
    let mut ids: HashMap<&str, ServiceId> = HashMap::with_capacity(lines / 2);
    let mut edges = Vec::with_capacity(lines);
    loop {
        let (before, after) = match (words.next(), words.next()) {
            (Some(before), Some(after)) => (before, after),
            (None, _) => break,
            (Some(_), None) => {
                eprintln!("error: {path}: input contains an odd number of tokens");
                return ExitCode::from(2);
            }
        };
        // tsort's `BEFORE AFTER` is weft's `AFTER needs BEFORE`. An edge
        // list says nothing of where its edges come from, so they carry no
        // provenance (which ordering never reads).
        edges.push(Edge {
            from: intern(&mut ids, after),
            to: intern(&mut ids, before),
            kind: EdgeKind::Required,
            provenance: Vec::new(),
            explicit: false,
        });
    }
    // Sorted once at the end, as tsort's own table is walked: cheaper than
    // keeping a sorted set while reading.
    let mut names: Vec<(&str, ServiceId)> = ids.into_iter().collect();
    names.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let services = names
        .into_iter()
        .map(|(name, id)| Service {
            id,
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
        if out
            .write_all(id.as_str().as_bytes())
            .and_then(|()| out.write_all(b"\n"))
            .is_err()
        {
            return ExitCode::from(1);
        }
    }
    if out.flush().is_err() {
        return ExitCode::from(1);
    }
    // As tsort does: the order is printed all the same (with one edge of
    // each loop left out), the loops are named, and the exit status is 1.
    for cycle in &plan.cycles {
        let members: Vec<&str> = cycle.path.iter().map(ServiceId::as_str).collect();
        eprintln!(
            "error: {path}: input contains a loop, each after the next: {}",
            members.join(" → ")
        );
    }
    if !plan.cycles.is_empty() {
        return ExitCode::from(1);
    }
    // The process ends here: like tsort, leave the memory to the kernel
    // instead of freeing every name and edge one by one first.
    std::mem::forget((model, plan, text));
    ExitCode::SUCCESS
}

/// The id named `name`, made the first time it is asked for.
fn intern<'t>(ids: &mut HashMap<&'t str, ServiceId>, name: &'t str) -> ServiceId {
    ids.entry(name)
        .or_insert_with(|| ServiceId::from(name))
        .clone()
}

/// tsort's tokens: runs of bytes between spaces, tabs and newlines.
struct Words<'t> {
    text: &'t str,
    at: usize,
}

impl<'t> Iterator for Words<'t> {
    type Item = &'t str;

    fn next(&mut self) -> Option<&'t str> {
        let bytes = self.text.as_bytes();
        while self.at < bytes.len() {
            let start = self.at;
            let end = memchr::memchr3(b' ', b'\t', b'\n', &bytes[start..])
                .map_or(bytes.len(), |length| start + length);
            self.at = end + 1;
            if end > start {
                // Split at ASCII bytes, so at character boundaries.
                return Some(&self.text[start..end]);
            }
        }
        None
    }
}
