//! A throwaway PostgreSQL cluster for tests: `initdb` in a temp dir, a free
//! port on 127.0.0.1, torn down on drop.
//!
//! Where PostgreSQL is not installed, [`Postgres::start`] prints a SKIP line
//! and returns `None`, unless `WEFT_REQUIRE_POSTGRES=1` (as CI sets), which
//! makes it panic instead. Running as root (as CI does), the cluster runs
//! as the `postgres` user, since PostgreSQL refuses to run as root.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running cluster. Its URL reaches the `postgres` database as the
/// superuser `weft`; [`Postgres::database`] makes a fresh one.
#[derive(Debug)]
pub struct Postgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    child: Child,
    run_as: Option<&'static str>,
    databases: u32,
}

fn find_bin() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("WEFT_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut candidates: Vec<PathBuf> = fs_err::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.path().join("bin"))
                .filter(|bin| bin.join("initdb").is_file())
                .collect()
        })
        .unwrap_or_default();
    candidates.sort_by_key(|bin| {
        bin.parent()
            .and_then(Path::file_name)
            .and_then(|name| name.to_str())
            .and_then(|name| name.parse::<u32>().ok())
            .unwrap_or(0)
    });
    if let Some(bin) = candidates.pop() {
        return Some(bin);
    }
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .find(|dir| dir.join("initdb").is_file() && dir.join("postgres").is_file())
    })
}

fn is_root() -> bool {
    // The owner of /proc/self is this process's effective user.
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port on 127.0.0.1")
}

impl Postgres {
    /// Starts a cluster, or returns `None` (after printing SKIP) where
    /// PostgreSQL is not installed and not required.
    pub fn start(test: &str) -> Option<Postgres> {
        let Some(bin) = find_bin() else {
            if std::env::var("WEFT_REQUIRE_POSTGRES").as_deref() == Ok("1") {
                panic!(
                    "WEFT_REQUIRE_POSTGRES=1 but no PostgreSQL found (install Debian's `postgresql`, or set WEFT_PG_BIN)"
                );
            }
            let mut stderr = std::io::stderr();
            let _ = writeln!(
                stderr,
                "SKIP {test}: PostgreSQL is not installed (apt-get install postgresql, or set WEFT_PG_BIN)"
            );
            return None;
        };
        let run_as = is_root().then_some("postgres");
        let dir = tempfile::Builder::new()
            .prefix("weft-pg-")
            .tempdir()
            .expect("a temp dir");
        if let Some(user) = run_as {
            let status = Command::new("chown")
                .arg(user)
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(status.success(), "chown {user} {}", dir.path().display());
        }
        let data = dir.path().join("data");
        let output = Self::command(run_as, &bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "weft",
                "--auth=trust",
                "-N",
                "-E",
                "UTF8",
                "--locale=C",
            ])
            .output()
            .expect("run initdb");
        assert!(
            output.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let port = free_port();
        let child = Self::command(run_as, &bin.join("postgres"))
            .arg("-D")
            .arg(&data)
            .arg("-p")
            .arg(port.to_string())
            .arg("-k")
            .arg(dir.path())
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=300",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                fs_err::File::create(dir.path().join("postgres.log"))
                    .expect("log file")
                    .into_parts()
                    .0,
            ))
            .spawn()
            .expect("start postgres");
        let mut postgres = Postgres {
            bin,
            dir,
            port,
            child,
            run_as,
            databases: 0,
        };
        postgres.wait_ready();
        Some(postgres)
    }

    fn command(run_as: Option<&str>, program: &Path) -> Command {
        match run_as {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(program);
                command
            }
            None => Command::new(program),
        }
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = Self::command(self.run_as, &self.bin.join("pg_isready"))
                .args([
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &self.port.to_string(),
                    "-U",
                    "weft",
                    "-q",
                ])
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ready && TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "postgres exited with {status}: {}",
                    fs_err::read_to_string(self.dir.path().join("postgres.log"))
                        .unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "postgres did not become ready in 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `postgres://weft@127.0.0.1:PORT/NAME`.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://weft@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates a fresh database and returns its URL.
    pub fn database(&mut self) -> String {
        self.databases += 1;
        let name = format!("weft_test_{}", self.databases);
        let output = Self::command(self.run_as, &self.bin.join("createdb"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "weft",
                &name,
            ])
            .output()
            .expect("run createdb");
        assert!(
            output.status.success(),
            "createdb failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        self.url(&name)
    }

    /// The postmaster's pid, from its pid file.
    fn postmaster(&self) -> Option<i32> {
        fs_err::read_to_string(self.dir.path().join("data/postmaster.pid"))
            .ok()?
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // SIGINT is PostgreSQL's fast shutdown; runuser does not pass it on,
        // so signal the postmaster itself.
        if let Some(pid) = self.postmaster() {
            let _ = Command::new("kill")
                .args(["-INT", &pid.to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while alive(pid) && Instant::now() < deadline {
                // Reaps the postmaster when it is our own child.
                let _ = self.child.try_wait();
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Running, not a zombie.
fn alive(pid: i32) -> bool {
    fs_err::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next().map(|s| s != "Z"))
        })
        .unwrap_or(false)
}
