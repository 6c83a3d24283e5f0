//! Writes a synthetic workspace: `weft-generate DIR [REPOSITORIES] [SERVICES]`.

#![expect(
    clippy::print_stderr,
    reason = "a command-line tool reports to standard error"
)]

use std::process::ExitCode;

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let Some(directory) = arguments.first() else {
        eprintln!(
            "usage: weft-generate DIR [REPOSITORIES (default 1000)] [SERVICES PER REPOSITORY (default 10)]"
        );
        return ExitCode::from(2);
    };
    let number = |index: usize, default: usize| {
        arguments
            .get(index)
            .and_then(|a| a.parse().ok())
            .unwrap_or(default)
    };
    let spec = weft_testkit::SyntheticSpec {
        repositories: number(1, 1000),
        services_per_repository: number(2, 10),
        seed: 42,
    };
    match weft_testkit::generate(std::path::Path::new(directory), spec) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(3)
        }
    }
}
