//! `weft-test-service`: a small, configurable service that supervisor tests
//! and benchmarks launch as a child process. It can listen for HTTP, become
//! ready late, crash, ignore SIGTERM, flood its output and leave grandchildren.
//!
//! How it works: the main thread parses the flags, sets up signal handling,
//! writes the pid file and prints `starting`, then starts the timers and the
//! flood on their own threads, waits `--delay`, listens, prints `listening on …`,
//! writes the ready file and parks for good. Exits come from the exit timer or
//! a signal. Output goes through `writeln!` (not `println!`, which panics on a
//! closed pipe) and is flushed line by line.

use std::ffi::OsString;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{self, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

const USAGE: &str = "usage: weft-test-service [FLAGS]
  --port N               listen on 127.0.0.1:N (default: $PORT; neither: no listening)
  --status CODE          HTTP status of every answer (default 200)
  --delay DURATION       wait before listening (150ms, 2s, 1m or plain milliseconds)
  --ready-file PATH      write the pid to PATH once listening / once the delay passed
  --pid-file PATH        write the pid to PATH at start
  --exit-after DURATION  exit after DURATION (counted from start) ...
  --exit-code N          ... with this code (default 1)
  --ignore-term          catch SIGTERM and SIGINT and keep running
  --flood BYTES_PER_SEC  write numbered lines to stdout at that rate (0: unlimited)
  --spawn-child          start a copy of itself with --sleep-forever as a grandchild
  --print TEXT           print TEXT to stdout after `starting` (repeatable)
  --sleep-forever        keep running until killed (the default)
exit codes: 2 bad flags, 3 cannot listen, 4 other set-up failure";

/// What the flags ask for.
#[derive(Debug, Default, PartialEq)]
struct Options {
    help: bool,
    port: Option<u16>,
    /// Default 200.
    status: Option<u16>,
    delay: Duration,
    ready_file: Option<PathBuf>,
    pid_file: Option<PathBuf>,
    exit_after: Option<Duration>,
    /// Default 1.
    exit_code: Option<i32>,
    ignore_term: bool,
    flood: Option<u64>,
    spawn_child: bool,
    print: Vec<String>,
}

fn main() {
    let port_variable = std::env::var("PORT").ok();
    let options = match parse_args(std::env::args().skip(1), port_variable.as_deref()) {
        Ok(options) => options,
        Err(message) => fail(2, &format!("weft-test-service: {message}\n{USAGE}")),
    };
    if options.help {
        say(USAGE);
        return;
    }
    if options.ignore_term {
        or_exit(4, "cannot catch signals", ignore_termination());
    }
    if let Some(path) = &options.pid_file {
        write_pid_or_exit(path);
    }
    say("starting");
    for text in &options.print {
        say(text);
    }
    if options.spawn_child {
        let spawned = spawn_child(options.pid_file.as_deref());
        or_exit(4, "cannot spawn the child", spawned);
    }
    if let Some(after) = options.exit_after {
        let code = options.exit_code.unwrap_or(1);
        thread::spawn(move || {
            thread::sleep(after);
            process::exit(code);
        });
    }
    if let Some(rate) = options.flood {
        thread::spawn(move || flood(rate));
    }
    thread::sleep(options.delay);
    if let Some(port) = options.port {
        let bound = TcpListener::bind(("127.0.0.1", port));
        let listener = or_exit(3, &format!("cannot listen on 127.0.0.1:{port}"), bound);
        let address = or_exit(3, "cannot read the address", listener.local_addr());
        let status = options.status.unwrap_or(200);
        thread::spawn(move || serve(&listener, status));
        say(&format!("listening on {address}"));
    }
    if let Some(path) = &options.ready_file {
        write_pid_or_exit(path);
    }
    loop {
        thread::park();
    }
}

/// Parses the flags (`--flag value` or `--flag=value`); `port_variable` is `$PORT`.
fn parse_args(
    args: impl IntoIterator<Item = String>,
    port_variable: Option<&str>,
) -> Result<Options, String> {
    let mut options = Options::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_owned(), Some(value.to_owned()))
            }
            _ => (arg, None),
        };
        let takes_value = match flag.as_str() {
            "-h" | "--help" | "--ignore-term" | "--spawn-child" | "--sleep-forever" => false,
            "--port" | "--status" | "--delay" | "--ready-file" | "--pid-file" | "--exit-after"
            | "--exit-code" | "--flood" | "--print" => true,
            _ => return Err(format!("unknown flag `{flag}`")),
        };
        let value = match (takes_value, inline) {
            (true, Some(value)) => value,
            (true, None) => args.next().ok_or_else(|| format!("{flag} needs a value"))?,
            (false, Some(_)) => return Err(format!("{flag} takes no value")),
            (false, None) => String::new(),
        };
        match flag.as_str() {
            "-h" | "--help" => options.help = true,
            "--port" => options.port = Some(parse_number(&flag, &value)?),
            "--status" => match parse_number(&flag, &value)? {
                status @ 100..=999 => options.status = Some(status),
                _ => return Err(format!("--status must be between 100 and 999, not {value}")),
            },
            "--delay" => options.delay = parse_duration(&value)?,
            "--ready-file" => options.ready_file = Some(PathBuf::from(value)),
            "--pid-file" => options.pid_file = Some(PathBuf::from(value)),
            "--exit-after" => options.exit_after = Some(parse_duration(&value)?),
            "--exit-code" => options.exit_code = Some(parse_number(&flag, &value)?),
            "--ignore-term" => options.ignore_term = true,
            "--flood" => options.flood = Some(parse_number(&flag, &value)?),
            "--spawn-child" => options.spawn_child = true,
            "--sleep-forever" => {}
            "--print" => options.print.push(value),
            _ => unreachable!("every flag is listed above"),
        }
    }
    if let (None, Some(port)) = (options.port, port_variable) {
        options.port = Some(parse_number("PORT", port)?);
    }
    Ok(options)
}

fn parse_number<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("invalid {name} `{value}`"))
}

/// `150ms`, `2s`, `1m`, `1h`, or a plain number of milliseconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let invalid = || format!("invalid duration `{text}` (expected e.g. 150ms, 2s, 1m)");
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let number: u64 = number.parse().map_err(|_| invalid())?;
    let millis_per_unit = match unit {
        "" | "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return Err(invalid()),
    };
    number
        .checked_mul(millis_per_unit)
        .map(Duration::from_millis)
        .ok_or_else(invalid)
}

/// Writes a line to stdout and flushes it; a closed stdout is not an error here.
fn say(line: &str) {
    let mut stdout = io::stdout().lock();
    let _ = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
}

/// Reports on stderr and exits with `code`.
fn fail(code: i32, message: &str) -> ! {
    let _ = writeln!(io::stderr(), "{message}");
    process::exit(code)
}

/// The value, or `what: error` on stderr and an exit with `code`.
fn or_exit<T>(code: i32, what: &str, result: io::Result<T>) -> T {
    result.unwrap_or_else(|e| fail(code, &format!("weft-test-service: {what}: {e}")))
}

/// Writes the pid to `path` through a temporary file, so readers never see it half written.
fn write_pid_or_exit(path: &Path) {
    let mut temporary = OsString::from(path.as_os_str());
    temporary.push(".tmp");
    let written = std::fs::write(&temporary, format!("{}\n", process::id()))
        .and_then(|()| std::fs::rename(&temporary, path));
    or_exit(4, &format!("cannot write {}", path.display()), written);
}

/// Catches SIGTERM and SIGINT on a thread that reports each one and carries on.
fn ignore_termination() -> io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT])?;
    thread::spawn(move || {
        for signal in signals.forever() {
            let name = if signal == SIGINT {
                "SIGINT"
            } else {
                "SIGTERM"
            };
            let _ = writeln!(io::stderr(), "ignoring {name}");
        }
    });
    Ok(())
}

/// Starts a copy of this binary that sleeps forever, in the same process
/// group. It is never waited for: the supervisor under test must kill it.
fn spawn_child(pid_file: Option<&Path>) -> io::Result<()> {
    let mut command = Command::new(std::env::current_exe()?);
    command.arg("--sleep-forever").stdin(Stdio::null());
    if let Some(path) = pid_file {
        let mut child_file = OsString::from(path.as_os_str());
        child_file.push(".child");
        command.arg("--pid-file").arg(child_file);
    }
    command.spawn()?;
    Ok(())
}

/// Writes ~100-byte numbered lines in ~64 KiB chunks at about `rate` bytes a
/// second (0: as fast as possible); stops quietly when stdout is closed.
fn flood(rate: u64) {
    // Each line is `flood ` + a 12-wide counter + ` ` + 80 dots + newline;
    // only the counters are rewritten, so this keeps up even in a debug build.
    const LINE: usize = 100;
    let template = format!("flood {:>12} {:.<80}\n", "", "");
    let mut chunk = template.repeat(655).into_bytes();
    let (start, mut written, mut counter) = (Instant::now(), 0u64, 0u64);
    loop {
        for line in chunk.chunks_exact_mut(LINE) {
            counter += 1;
            let mut rest = counter;
            for digit in line[6..18].iter_mut().rev() {
                if rest == 0 {
                    break;
                }
                *digit = b'0' + (rest % 10) as u8;
                rest /= 10;
            }
        }
        let mut stdout = io::stdout().lock();
        if stdout
            .write_all(&chunk)
            .and_then(|()| stdout.flush())
            .is_err()
        {
            return;
        }
        drop(stdout);
        written += chunk.len() as u64;
        if rate > 0 {
            let due = Duration::from_secs_f64(written as f64 / rate as f64);
            if let Some(ahead) = due.checked_sub(start.elapsed()) {
                thread::sleep(ahead);
            }
        }
    }
}

/// Accepts connections for good, answering each on its own thread.
fn serve(listener: &TcpListener, status: u16) {
    for stream in listener.incoming().flatten() {
        thread::spawn(move || {
            let _ = answer(stream, status);
        });
    }
}

/// Reads one request's head and answers `status` with a short body.
fn answer(stream: TcpStream, status: u16) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(&stream);
    let mut line = String::new();
    while reader.read_line(&mut line)? > 0 && !(line == "\r\n" || line == "\n") {
        line.clear();
    }
    let body = format!("{status}\n");
    let response = format!(
        "HTTP/1.1 {status} OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = &stream;
    stream.write_all(response.as_bytes())?;
    stream.flush()?;
    stream.shutdown(std::net::Shutdown::Write)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str, port_variable: Option<&str>) -> Result<Options, String> {
        parse_args(text.split_whitespace().map(String::from), port_variable)
    }

    #[test]
    fn durations_take_units_or_plain_milliseconds() {
        assert_eq!(parse_duration("150ms"), Ok(Duration::from_millis(150)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("250"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        for bad in ["", "ms", "2x", "1.5s", "-1s", "s2", "99999999999999999999h"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn no_flags_means_defaults() {
        assert_eq!(args("", None), Ok(Options::default()));
    }

    #[test]
    fn flags_are_parsed_in_both_forms() {
        let options = args(
            "--port 8080 --status=503 --delay 150ms --ready-file /tmp/r --pid-file=/tmp/p \
             --exit-after 2s --exit-code 0 --ignore-term --flood 100000000 --spawn-child \
             --sleep-forever --print hello --print=world",
            None,
        );
        let expected = Options {
            port: Some(8080),
            status: Some(503),
            delay: Duration::from_millis(150),
            ready_file: Some(PathBuf::from("/tmp/r")),
            pid_file: Some(PathBuf::from("/tmp/p")),
            exit_after: Some(Duration::from_secs(2)),
            exit_code: Some(0),
            ignore_term: true,
            flood: Some(100_000_000),
            spawn_child: true,
            print: vec!["hello".into(), "world".into()],
            ..Options::default()
        };
        assert_eq!(options, Ok(expected));
        assert!(args("--help", None).is_ok_and(|o| o.help));
    }

    #[test]
    fn the_port_falls_back_to_the_environment() {
        assert_eq!(args("", Some("9000")).map(|o| o.port), Ok(Some(9000)));
        assert_eq!(args("--port 1", Some("9000")).map(|o| o.port), Ok(Some(1)));
        assert!(args("", Some("nope")).is_err());
    }

    #[test]
    fn bad_flags_are_rejected() {
        assert_eq!(
            args("--bogus 1", None),
            Err("unknown flag `--bogus`".into())
        );
        for bad in [
            "--bogus",
            "extra",
            "--port",
            "--port 70000",
            "--status 42",
            "--delay soon",
            "--exit-code x",
            "--ignore-term=yes",
        ] {
            assert!(args(bad, None).is_err(), "{bad:?} should be rejected");
        }
    }
}
