//! The real `weft serve` binary as a child process: built once per run,
//! started on a store, killed (SIGKILL) and reaped when dropped.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

/// `target/<profile>/weft`, next to the directory of this test executable
/// (`target/<profile>/deps`), built once per run so it is current.
fn weft_binary() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let executable = std::env::current_exe().unwrap();
        let profile_directory = executable.parent().and_then(Path::parent).unwrap();
        let target_directory = profile_directory.parent().unwrap();
        let path = profile_directory.join(format!("weft{}", std::env::consts::EXE_SUFFIX));
        let profile = match profile_directory.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => "dev",
            Some(other) => other,
        };
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let output = Command::new(&cargo)
            .args(["build", "-q", "-p", "weft", "--bin", "weft", "--profile", profile])
            .arg("--target-dir")
            .arg(target_directory)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output();
        let failure = match &output {
            Ok(output) if output.status.success() => None,
            Ok(output) => Some(format!(
                "{}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            )),
            Err(error) => Some(error.to_string()),
        };
        match failure {
            None => {}
            Some(failure) if path.is_file() => eprintln!(
                "NOTE crash: `cargo build -p weft` failed, using the existing {} ({failure})",
                path.display()
            ),
            Some(failure) => panic!(
                "cannot build the weft binary and {} does not exist; run `cargo build -p weft` ({failure})",
                path.display()
            ),
        }
        assert!(path.is_file(), "{} does not exist after building", path.display());
        path
    })
    .clone()
}

/// A running `weft serve`, killed (SIGKILL) and reaped when dropped.
#[derive(Debug)]
pub(crate) struct WeftServe {
    child: Child,
    pub(crate) address: SocketAddr,
    pub(crate) stderr: Arc<Mutex<String>>,
}

impl WeftServe {
    /// Starts `weft serve` on `listen` and waits until it listens.
    pub(crate) fn start(workspace: &Path, store: &str, listen: &str) -> WeftServe {
        WeftServe::start_with(workspace, store, listen, &[])
    }

    /// [`WeftServe::start`] with extra environment variables.
    pub(crate) fn start_with(
        workspace: &Path,
        store: &str,
        listen: &str,
        env: &[(&str, &str)],
    ) -> WeftServe {
        let mut child = Command::new(weft_binary())
            .arg("-w")
            .arg(workspace)
            .args(["serve", "--listen", listen, "--store", store])
            .env("NO_COLOR", "1")
            .env_remove("WEFT_WORKSPACE")
            .env_remove("WEFT_STORE")
            .env_remove("WEFT_ADMIN_TOKEN")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let (lines, received) = mpsc::channel();
        let pipe = child.stderr.take().unwrap();
        let copy = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                copy.lock().unwrap().push_str(&format!("{line}\n"));
                let _ = lines.send(line);
            }
        });
        let mut server = WeftServe {
            child,
            address: "127.0.0.1:0".parse().unwrap(),
            stderr,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match received.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.split("listening on http://").nth(1) {
                        server.address = rest.split_whitespace().next().unwrap().parse().unwrap();
                        return server;
                    }
                }
                Err(_) => panic!(
                    "weft serve did not start listening on {listen} within 60 s ({:?}):\n{}",
                    server.child.try_wait(),
                    server.stderr.lock().unwrap()
                ),
            }
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// SIGTERM (a graceful shutdown), and reap.
    pub(crate) fn terminate(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }

    /// SIGKILL, and reap.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for WeftServe {
    fn drop(&mut self) {
        self.kill();
    }
}
