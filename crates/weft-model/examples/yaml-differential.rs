//! Reads every `.yaml`/`.yml` file under the given paths with the YAML fast
//! path and with the full reader, and reports how many took the fast path
//! and any file where the two disagree (exit status 1).
//!
//!     cargo run --release -p weft-model --example yaml-differential -- DIR...

#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool prints its findings"
)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use weft_model::yaml::{Arena, parse_documents_fast, parse_documents_fully};

fn collect(path: &Path, files: &mut Vec<PathBuf>) {
    if path.is_file() {
        files.push(path.to_path_buf());
        return;
    }
    let Ok(entries) = std::fs::read_dir(path) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, files);
        } else if path
            .extension()
            .is_some_and(|extension| extension == "yaml" || extension == "yml")
        {
            files.push(path);
        }
    }
}

fn main() -> ExitCode {
    let mut files = Vec::new();
    for argument in std::env::args().skip(1) {
        collect(Path::new(&argument), &mut files);
    }
    if files.is_empty() {
        eprintln!("usage: yaml-differential DIR...   (no YAML files found)");
        return ExitCode::from(2);
    }
    let (mut fast, mut fast_bytes, mut total_bytes, mut disagreements) = (0, 0, 0, 0);
    for file in &files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        total_bytes += text.len();
        let (fast_arena, full_arena) = (Arena::new(), Arena::new());
        let Some(documents) = parse_documents_fast(&fast_arena, &text) else {
            if std::env::var_os("SHOW_FULL").is_some() {
                println!("full reader: {}", file.display());
            }
            continue;
        };
        match parse_documents_fully(&full_arena, &text) {
            Ok(full) if full == documents => {
                fast += 1;
                fast_bytes += text.len();
            }
            Ok(_) => {
                disagreements += 1;
                println!("DISAGREE {}: the trees differ", file.display());
            }
            Err(error) => {
                disagreements += 1;
                println!(
                    "DISAGREE {}: the full reader refuses it: {error}",
                    file.display()
                );
            }
        }
    }
    println!(
        "{} files: {fast} took the fast path ({fast_bytes} of {total_bytes} bytes), {disagreements} disagreements",
        files.len()
    );
    if disagreements > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
