//! moto in server mode: a real S3-compatible server on 127.0.0.1 for the
//! artifact bucket's tests, stopped (and reaped) when dropped.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long moto may take to start answering.
const PATIENCE: Duration = Duration::from_secs(30);

/// A running `moto_server`. Any access key and secret are accepted.
#[derive(Debug)]
pub struct MotoServer {
    child: Child,
    port: u16,
}

impl MotoServer {
    /// Starts `moto_server` (`WEFT_MOTO_SERVER`, or found on `PATH`) on a
    /// free port of 127.0.0.1. `None`, after a `SKIP:` line, when there is
    /// none, unless `WEFT_REQUIRE_S3=1`.
    ///
    /// # Panics
    /// When moto is required and missing, or does not start answering.
    #[expect(clippy::print_stdout, reason = "the SKIP line says why")]
    pub fn start(test: &str) -> Option<MotoServer> {
        let Some(program) = program() else {
            assert!(
                std::env::var("WEFT_REQUIRE_S3").as_deref() != Ok("1"),
                "WEFT_REQUIRE_S3=1 but there is no moto_server (set WEFT_MOTO_SERVER)"
            );
            println!(
                "SKIP: {test}: no moto_server (pip install 'moto[server]'; set WEFT_MOTO_SERVER)"
            );
            return None;
        };
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        let server = MotoServer { child, port };
        let deadline = Instant::now() + PATIENCE;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not start answering"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(server)
    }

    /// `http://127.0.0.1:PORT`, the S3 endpoint.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn program() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("WEFT_MOTO_SERVER").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|directory| directory.join("moto_server"))
            .find(|candidate| candidate.is_file())
    })
}
