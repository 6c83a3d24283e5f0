//! `weft-test-service` end to end: HTTP, readiness, exits, signals, grandchildren.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

const PATIENCE: Duration = Duration::from_secs(10);

/// A running service, killed when dropped; its output arrives line by line.
struct Service {
    child: Child,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
}

impl Service {
    fn start(args: &[&str]) -> Service {
        let mut child = Command::new(weft_testkit::ensure_test_service())
            .args(args)
            .env_remove("PORT")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("weft-test-service starts");
        let stdout = lines(child.stdout.take().expect("stdout is piped"));
        let stderr = lines(child.stderr.take().expect("stderr is piped"));
        Service {
            child,
            stdout,
            stderr,
        }
    }

    /// Waits for a line of `output` equal to `expected`, skipping others.
    fn expect_line(output: &Receiver<String>, expected: &str) {
        let deadline = Instant::now() + PATIENCE;
        let mut seen = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match output.recv_timeout(left) {
                Ok(line) if line == expected => return,
                Ok(line) => seen.push(line),
                Err(_) => break,
            }
        }
        panic!("no line `{expected}` within {PATIENCE:?}; saw {seen:?}");
    }

    fn wait_for_exit(&mut self) -> ExitStatus {
        poll("the service to exit", || {
            self.child.try_wait().expect("the child can be waited for")
        })
    }

    fn signal(&self, signal: &str) {
        kill(signal, &self.child.id().to_string());
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lines(pipe: impl Read + Send + 'static) -> Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

/// Calls `check` until it gives a value, failing after `PATIENCE`.
fn poll<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(10));
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("a bound address").port()
}

fn kill(signal: &str, pid: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), pid])
        .status()
        .expect("`kill` runs");
    assert!(status.success(), "kill -{signal} {pid} failed");
}

fn read_pid(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("the pid file is readable");
    text.trim().to_owned()
}

#[test]
fn the_helper_finds_the_binary_cargo_built() {
    let found = weft_testkit::ensure_test_service();
    assert_eq!(
        found.canonicalize().expect("the binary exists"),
        Path::new(env!("CARGO_BIN_EXE_weft-test-service"))
            .canonicalize()
            .expect("cargo built the binary"),
    );
}

#[test]
fn answers_http_once_the_delay_passed() {
    let port = free_port();
    let service = Service::start(&["--port", &port.to_string(), "--delay", "100ms"]);
    let mut stream = poll("the service to listen", || {
        TcpStream::connect(("127.0.0.1", port)).ok()
    });
    stream
        .set_read_timeout(Some(PATIENCE))
        .expect("a read timeout");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("the request is sent");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("the response is read");
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response:?}");
    assert!(response.contains("Connection: close\r\n"), "{response:?}");
    Service::expect_line(&service.stdout, "starting");
    Service::expect_line(&service.stdout, &format!("listening on 127.0.0.1:{port}"));
}

#[test]
fn exits_with_the_code_asked_for_after_becoming_ready() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let ready = directory.path().join("ready");
    let ready_argument = ready.to_str().expect("a UTF-8 path");
    let mut service = Service::start(&[
        "--ready-file",
        ready_argument,
        "--exit-after",
        "300ms",
        "--exit-code",
        "7",
        "--print",
        "hello probe",
    ]);
    Service::expect_line(&service.stdout, "hello probe");
    let pid = poll("the ready file", || {
        ready.is_file().then(|| read_pid(&ready))
    });
    assert_eq!(pid, service.child.id().to_string());
    assert_eq!(service.wait_for_exit().code(), Some(7));
}

#[test]
fn ignore_term_survives_sigterm() {
    let mut service = Service::start(&["--ignore-term"]);
    Service::expect_line(&service.stdout, "starting");
    service.signal("TERM");
    Service::expect_line(&service.stderr, "ignoring SIGTERM");
    assert!(service.child.try_wait().expect("try_wait").is_none());
    service.signal("KILL");
    assert_eq!(service.wait_for_exit().code(), None);
}

#[test]
fn spawn_child_leaves_a_grandchild_with_its_own_pid_file() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let pid_file = directory.path().join("service.pid");
    let service = Service::start(&[
        "--spawn-child",
        "--pid-file",
        pid_file.to_str().expect("a UTF-8 path"),
    ]);
    Service::expect_line(&service.stdout, "starting");
    assert_eq!(read_pid(&pid_file), service.child.id().to_string());
    let child_file = directory.path().join("service.pid.child");
    let grandchild = poll("the grandchild's pid file", || {
        child_file.is_file().then(|| read_pid(&child_file))
    });
    assert_ne!(grandchild, service.child.id().to_string());
    kill("KILL", &grandchild);
}

#[test]
fn unknown_flags_exit_with_2() {
    let output = Command::new(weft_testkit::ensure_test_service())
        .arg("--bogus")
        .output()
        .expect("weft-test-service runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown flag `--bogus`"), "{stderr}");
}
