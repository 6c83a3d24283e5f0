//! Running the binary and finding the repository's files.

use std::path::{Path, PathBuf};
use std::process::Command;

/// What one run of `weft` printed and returned.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// The repository root (where `examples/` lives).
pub(crate) fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Runs `weft` in `directory` with colour off.
pub(crate) fn weft_in(directory: &Path, arguments: &[&str]) -> Run {
    weft_with(directory, arguments, &[])
}

/// [`weft_in`] with these environment variables set.
pub(crate) fn weft_with(directory: &Path, arguments: &[&str], env: &[(&str, &str)]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(arguments)
        .current_dir(directory)
        .env("NO_COLOR", "1")
        .env_remove("WEFT_WORKSPACE")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let run = Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert!(
        !run.stderr.contains("panicked"),
        "weft panicked: {}",
        run.stderr
    );
    run
}

/// Runs `weft` from the repository root.
pub(crate) fn weft(arguments: &[&str]) -> Run {
    weft_in(&repository_root(), arguments)
}

/// A real client named by an environment variable or found on PATH; `None`
/// (with a SKIP line) when absent, unless `require` names a variable set to
/// 1, which makes the absence a failure (CI installs the client).
pub(crate) fn client(variable: &str, program: &str, require: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(variable).filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(program))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var(require).as_deref() != Ok("1"),
            "{require}=1 but `{program}` is not installed"
        );
        println!("SKIP: `{program}` is not installed (set {variable} to its path)");
    }
    found
}
