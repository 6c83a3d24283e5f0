//! Service output: read from the child's pipes without ever blocking it, kept
//! in a bounded in-memory ring per service, appended to a rotated log file
//! under `.weft/logs/`, and broadcast to live followers.
//!
//! Followers (the terminal, `weft logs -f`, log probes) read from bounded
//! broadcast channels: one that falls behind loses the oldest lines, is told
//! how many, and never slows the child or the other services down.

use std::collections::VecDeque;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::broadcast;

use crate::settings::LogSettings;
use crate::state::now_ms;

/// Longer lines are split: no single line can hold much memory.
pub const MAX_LINE: usize = 8 * 1024;
/// Lines a follower may fall behind before it loses the oldest.
pub const FOLLOW_CAPACITY: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    Stdout,
    Stderr,
    /// A line weft itself adds: started, exited, restarting.
    Weft,
}

impl Stream {
    fn letter(self) -> char {
        match self {
            Stream::Stdout => 'o',
            Stream::Stderr => 'e',
            Stream::Weft => 'w',
        }
    }

    fn from_letter(letter: &str) -> Option<Stream> {
        match letter {
            "o" => Some(Stream::Stdout),
            "e" => Some(Stream::Stderr),
            "w" => Some(Stream::Weft),
            _ => None,
        }
    }
}

/// One line of a service's output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// The service's index in the launch settings.
    pub service: usize,
    pub stream: Stream,
    /// Milliseconds since the Unix epoch.
    pub at_ms: u64,
    pub text: String,
}

/// The output of one service.
#[derive(Debug)]
pub struct Output {
    service: usize,
    inner: Mutex<Inner>,
    /// This service's lines only: log probes read here, so another service's
    /// flood never crowds them out. Made when first followed: most services
    /// never are, and a thousand idle channels cost 40 MB.
    own: OnceLock<broadcast::Sender<Arc<LogLine>>>,
    /// Every service's lines: the terminal and `weft logs -f`.
    all: broadcast::Sender<Arc<LogLine>>,
}

#[derive(Debug)]
struct Inner {
    ring: VecDeque<Arc<LogLine>>,
    bytes: usize,
    file: Option<LogFile>,
    settings: LogSettings,
}

#[derive(Debug)]
struct LogFile {
    path: PathBuf,
    file: std::fs::File,
    size: u64,
}

impl Output {
    pub fn new(
        service: usize,
        log_path: Option<PathBuf>,
        settings: LogSettings,
        all: broadcast::Sender<Arc<LogLine>>,
    ) -> Self {
        let file = log_path.and_then(|path| match LogFile::open(path.clone()) {
            Ok(file) => Some(file),
            Err(error) => {
                tracing::warn!("cannot write the log file {}: {error}", path.display());
                None
            }
        });
        Output {
            service,
            inner: Mutex::new(Inner {
                ring: VecDeque::new(),
                bytes: 0,
                file,
                settings,
            }),
            own: OnceLock::new(),
            all,
        }
    }

    /// Follows this service's lines from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<LogLine>> {
        self.own
            .get_or_init(|| broadcast::channel(1024).0)
            .subscribe()
    }

    /// The lines still in memory, oldest first.
    pub fn recent(&self, limit: usize) -> Vec<Arc<LogLine>> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let skip = inner.ring.len().saturating_sub(limit);
        inner.ring.iter().skip(skip).cloned().collect()
    }

    /// Records a line weft itself says about the service.
    pub fn note(&self, text: impl Into<String>) {
        self.push(Stream::Weft, now_ms(), vec![text.into()]);
    }

    fn push(&self, stream: Stream, at_ms: u64, lines: Vec<String>) {
        let lines: Vec<Arc<LogLine>> = lines
            .into_iter()
            .map(|text| {
                Arc::new(LogLine {
                    service: self.service,
                    stream,
                    at_ms,
                    text,
                })
            })
            .collect();
        {
            let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            let inner = &mut *inner;
            if let Some(file) = &mut inner.file
                && let Err(error) = file.append(&lines, &inner.settings)
            {
                tracing::warn!("cannot write the log file {}: {error}", file.path.display());
                inner.file = None;
            }
            for line in &lines {
                inner.bytes += line.text.len();
                inner.ring.push_back(line.clone());
            }
            while inner.ring.len() > inner.settings.lines
                || (inner.bytes > inner.settings.bytes && inner.ring.len() > 1)
            {
                if let Some(old) = inner.ring.pop_front() {
                    inner.bytes -= old.text.len();
                }
            }
        }
        for line in lines {
            // No receivers is fine: nobody follows.
            if let Some(own) = self.own.get() {
                let _ = own.send(line.clone());
            }
            let _ = self.all.send(line);
        }
    }

    /// Reads `pipe` to its end, line by line. A read chunk shares one time stamp.
    ///
    /// The buffer starts small and grows to a pipe's whole capacity only for a
    /// service that fills it: a thousand quiet services hold 4 KiB each, a
    /// flooding one reads 64 KiB at a time.
    pub async fn pump(self: Arc<Self>, mut pipe: impl AsyncRead + Unpin, stream: Stream) {
        let mut buffer = vec![0u8; 4 * 1024];
        let mut partial: Vec<u8> = Vec::new();
        loop {
            let read = match pipe.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(read) => read,
            };
            let full = read == buffer.len();
            let mut lines = Vec::new();
            let mut rest = &buffer[..read];
            while let Some(end) = rest.iter().position(|&b| b == b'\n') {
                partial.extend_from_slice(&rest[..end]);
                lines.push(take_line(&mut partial));
                rest = &rest[end + 1..];
            }
            partial.extend_from_slice(rest);
            while partial.len() >= MAX_LINE {
                let tail = partial.split_off(MAX_LINE);
                lines.push(take_line(&mut partial));
                partial = tail;
            }
            if !lines.is_empty() {
                self.push(stream, now_ms(), lines);
            }
            if full && buffer.len() < 64 * 1024 {
                buffer.resize(buffer.len() * 4, 0);
            }
        }
        if !partial.is_empty() {
            self.push(stream, now_ms(), vec![take_line(&mut partial)]);
        }
    }
}

fn take_line(bytes: &mut Vec<u8>) -> String {
    if bytes.last() == Some(&b'\r') {
        bytes.pop();
    }
    let line = String::from_utf8_lossy(bytes).into_owned();
    bytes.clear();
    line
}

impl LogFile {
    fn open(path: PathBuf) -> std::io::Result<Self> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let file = std::fs::File::options()
            .create(true)
            .append(true)
            .open(&path)?;
        let size = file.metadata()?.len();
        Ok(LogFile { path, file, size })
    }

    /// Writes a read chunk's lines with one `write` (a buffer held between
    /// chunks would be 64 KiB per service, idle or not), rotating between
    /// lines: one chunk may hold many files' worth.
    fn append(&mut self, lines: &[Arc<LogLine>], settings: &LogSettings) -> std::io::Result<()> {
        let mut out = Vec::with_capacity(lines.iter().map(|l| l.text.len() + 24).sum());
        for line in lines {
            let start = out.len();
            writeln!(out, "{} {} {}", line.at_ms, line.stream.letter(), line.text)?;
            self.size += (out.len() - start) as u64;
            if self.size >= settings.file_size {
                self.file.write_all(&out)?;
                out.clear();
                self.rotate(settings.files)?;
            }
        }
        self.file.write_all(&out)
    }

    /// `x.log` → `x.log.1` → … → `x.log.N`, the oldest dropped.
    fn rotate(&mut self, keep: usize) -> std::io::Result<()> {
        if keep == 0 {
            std::fs::remove_file(&self.path)?;
        } else {
            for n in (1..keep).rev() {
                let from = rotated(&self.path, n);
                if from.exists() {
                    std::fs::rename(&from, rotated(&self.path, n + 1))?;
                }
            }
            std::fs::rename(&self.path, rotated(&self.path, 1))?;
        }
        *self = LogFile::open(self.path.clone())?;
        Ok(())
    }
}

fn rotated(path: &Path, n: usize) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

/// The log file of a service: `.weft/logs/<repository>/<service>.log`.
pub fn log_path(state_dir: &Path, id: &str) -> PathBuf {
    state_dir.join("logs").join(format!("{id}.log"))
}

/// Reads a service's log files, oldest first, from `since_ms` on.
pub fn read_log_files(path: &Path, service: usize, since_ms: u64) -> Vec<LogLine> {
    let mut files: Vec<PathBuf> = (1..=64)
        .map(|n| rotated(path, n))
        .take_while(|p| p.exists())
        .collect();
    files.reverse();
    files.push(path.to_path_buf());
    let mut lines = Vec::new();
    for file in files {
        let Ok(file) = std::fs::File::open(&file) else {
            continue;
        };
        for line in std::io::BufReader::new(file)
            .split(b'\n')
            .map_while(Result::ok)
        {
            let text = String::from_utf8_lossy(&line);
            let mut parts = text.splitn(3, ' ');
            let (Some(at), Some(stream), text) = (parts.next(), parts.next(), parts.next()) else {
                continue;
            };
            let (Ok(at_ms), Some(stream)) = (at.parse::<u64>(), Stream::from_letter(stream)) else {
                continue;
            };
            if at_ms >= since_ms {
                lines.push(LogLine {
                    service,
                    stream,
                    at_ms,
                    text: text.unwrap_or_default().to_string(),
                });
            }
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> LogSettings {
        LogSettings {
            lines: 3,
            bytes: 1 << 20,
            file_size: 200,
            files: 2,
        }
    }

    #[tokio::test]
    async fn lines_are_split_kept_bounded_and_rotated_to_disk() {
        let directory = tempfile::tempdir().unwrap();
        let path = log_path(directory.path(), "api/web");
        let (all, _) = broadcast::channel(16);
        let output = Arc::new(Output::new(0, Some(path.clone()), settings(), all));
        let mut text = String::new();
        for n in 0..20 {
            text.push_str(&format!("line {n:02} with some padding to rotate\r\n"));
        }
        text.push_str("no newline at the end");
        output.clone().pump(text.as_bytes(), Stream::Stdout).await;
        let recent: Vec<String> = output.recent(10).iter().map(|l| l.text.clone()).collect();
        assert_eq!(
            recent,
            [
                "line 18 with some padding to rotate",
                "line 19 with some padding to rotate",
                "no newline at the end"
            ]
        );
        assert!(rotated(&path, 1).exists());
        assert!(
            !rotated(&path, 3).exists(),
            "only two rotated files are kept"
        );
        let on_disk = read_log_files(&path, 0, 0);
        assert_eq!(on_disk.last().unwrap().text, "no newline at the end");
        assert!(on_disk.len() < 21, "the oldest file was dropped");
        assert!(
            on_disk
                .windows(2)
                .all(|w| w[0].text < w[1].text || w[1].text.starts_with("no"))
        );
    }

    #[tokio::test]
    async fn long_lines_are_split() {
        let (all, _) = broadcast::channel(16);
        let output = Arc::new(Output::new(0, None, settings(), all));
        let long = "x".repeat(MAX_LINE * 2 + 5);
        output.clone().pump(long.as_bytes(), Stream::Stderr).await;
        let lengths: Vec<usize> = output.recent(10).iter().map(|l| l.text.len()).collect();
        assert_eq!(lengths, [MAX_LINE, MAX_LINE, 5]);
    }
}
