//! Finding the `weft-test-service` binary (see `src/bin/weft-test-service.rs`)
//! that supervisor tests and benchmarks launch as a child process, and
//! building it when it is missing.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const BINARY: &str = "weft-test-service";

/// The path of the `weft-test-service` binary, looked for next to the running
/// test executable: in the parent of its directory (`target/debug/deps` →
/// `target/debug`), then in its directory itself. When it is in neither, the
/// first of these paths is returned, and it does not exist.
///
/// The binary must have been built: a crate that lists `weft-testkit` as a
/// dev-dependency does not build its binaries. Either run
/// `cargo build -p weft-testkit --bin weft-test-service` first, or call
/// [`ensure_test_service`], which builds it when it is missing.
pub fn test_service_path() -> PathBuf {
    let executable = std::env::current_exe()
        .unwrap_or_else(|e| panic!("cannot find the running test executable: {e}"));
    let candidates = candidates(&executable);
    candidates
        .iter()
        .find(|path| path.is_file())
        .or(candidates.first())
        .cloned()
        .unwrap_or_else(|| PathBuf::from(binary_file_name()))
}

/// [`test_service_path`], after building the binary if it is missing: runs
/// `cargo build -q -p weft-testkit --bin weft-test-service` (`$CARGO`, else
/// `cargo`) into the target directory and profile of the running executable,
/// at most once per process. Panics with the reason when that fails.
///
/// A binary that exists is used as it is, even if its source changed since;
/// `cargo test -p weft-testkit` and `cargo build -p weft-testkit --bins`
/// rebuild it.
pub fn ensure_test_service() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let path = test_service_path();
        if !path.is_file() {
            build(&path);
        }
        path
    })
    .clone()
}

fn binary_file_name() -> String {
    format!("{BINARY}{}", std::env::consts::EXE_SUFFIX)
}

fn candidates(executable: &Path) -> Vec<PathBuf> {
    let file_name = binary_file_name();
    let Some(directory) = executable.parent() else {
        return Vec::new();
    };
    let mut candidates: Vec<PathBuf> = directory
        .parent()
        .map(|parent| parent.join(&file_name))
        .into_iter()
        .collect();
    candidates.push(directory.join(&file_name));
    candidates
}

/// Builds the binary so that it lands at `path` (`TARGET_DIR/PROFILE_DIR/weft-test-service`).
fn build(path: &Path) {
    let profile_directory = path.parent();
    let target_directory = profile_directory.and_then(Path::parent);
    let profile = match profile_directory
        .and_then(Path::file_name)
        .and_then(|name| name.to_str())
    {
        Some("debug") | None => "dev",
        Some(other) => other,
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(&cargo);
    command
        .args(["build", "-q", "-p", "weft-testkit", "--bin", BINARY])
        .args(["--profile", profile])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if let Some(target_directory) = target_directory {
        command.arg("--target-dir").arg(target_directory);
    }
    let hint = "build it with `cargo build -p weft-testkit --bin weft-test-service`";
    match command.status() {
        Ok(status) if status.success() => {}
        Ok(status) => panic!("`{command:?}` failed ({status}); {hint}"),
        Err(e) => panic!("cannot run `{}`: {e}; {hint}", cargo.to_string_lossy()),
    }
    assert!(
        path.is_file(),
        "`{command:?}` succeeded but {} does not exist; {hint}",
        path.display()
    );
}
