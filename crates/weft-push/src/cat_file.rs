//! One `git cat-file --batch` process for the many small reads of a replay
//! (commit messages, blobs), instead of a process per object.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout};

use crate::error::PushError;
use crate::git::Git;

/// A running `git cat-file --batch`.
#[derive(Debug)]
pub(crate) struct CatFile {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

fn broken(source: std::io::Error) -> PushError {
    PushError::Git {
        command: "cat-file --batch".to_string(),
        code: None,
        stderr: source.to_string(),
    }
}

impl CatFile {
    pub(crate) fn start(git: &Git) -> Result<CatFile, PushError> {
        let mut child = git.command(&["cat-file", "--batch"]).spawn_piped()?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().ok_or_else(|| PushError::Git {
            command: "cat-file --batch".to_string(),
            code: None,
            stderr: "no output pipe".to_string(),
        })?;
        Ok(CatFile {
            child,
            stdin,
            stdout: BufReader::new(stdout),
        })
    }

    /// An object's type and content; `None` when it is missing.
    pub(crate) fn read(&mut self, object: &str) -> Result<Option<(String, Vec<u8>)>, PushError> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| broken(std::io::ErrorKind::BrokenPipe.into()))?;
        writeln!(stdin, "{object}").map_err(broken)?;
        stdin.flush().map_err(broken)?;
        let mut header = String::new();
        self.stdout.read_line(&mut header).map_err(broken)?;
        let mut fields = header.split_whitespace();
        let (_, kind, size) = (fields.next(), fields.next(), fields.next());
        let (Some(kind), Some(size)) = (kind, size) else {
            return Ok(None);
        };
        if kind == "missing" || kind == "ambiguous" {
            return Ok(None);
        }
        let size: usize = size.parse().map_err(|_| {
            broken(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("unexpected header `{}`", header.trim()),
            ))
        })?;
        let mut content = vec![0; size + 1];
        self.stdout.read_exact(&mut content).map_err(broken)?;
        content.pop();
        Ok(Some((kind.to_string(), content)))
    }

    /// A blob's content, empty for `None`.
    pub(crate) fn blob(&mut self, sha: Option<&str>) -> Result<Vec<u8>, PushError> {
        let Some(sha) = sha else {
            return Ok(Vec::new());
        };
        match self.read(sha)? {
            Some((_, content)) => Ok(content),
            None => Err(PushError::Git {
                command: format!("cat-file blob {sha}"),
                code: None,
                stderr: "the object is missing".to_string(),
            }),
        }
    }

    /// A commit's raw text.
    pub(crate) fn commit(&mut self, sha: &str) -> Result<String, PushError> {
        match self.read(sha)? {
            Some((kind, content)) if kind == "commit" => {
                Ok(String::from_utf8_lossy(&content).into_owned())
            }
            _ => Err(PushError::Git {
                command: format!("cat-file commit {sha}"),
                code: None,
                stderr: "not a commit".to_string(),
            }),
        }
    }
}

impl Drop for CatFile {
    fn drop(&mut self) {
        // Closing its input ends it.
        self.stdin.take();
        let _ = self.child.wait();
    }
}
