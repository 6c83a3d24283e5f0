//! Writing objects through long-running git processes, so that replaying
//! many commits (a batch) spawns a few processes instead of several per
//! commit: `git cat-file --batch` reads, `git mktree --batch` writes trees,
//! `git hash-object --stdin-paths` writes blobs and commits.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout};

use crate::cat_file::CatFile;
use crate::error::PushError;
use crate::git::Git;

/// A git process that answers one line per request.
#[derive(Debug)]
struct LineProcess {
    name: &'static str,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl LineProcess {
    fn start(git: &Git, name: &'static str, arguments: &[&str]) -> Result<Self, PushError> {
        let mut child = git.command(arguments).spawn_piped()?;
        let stdin = child.stdin.take();
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| failed(name, "no output pipe"))?;
        Ok(LineProcess {
            name,
            child,
            stdin,
            stdout: BufReader::new(stdout),
        })
    }

    /// Sends `request` and reads one line back.
    fn ask(&mut self, request: &[u8]) -> Result<String, PushError> {
        let name = self.name;
        let stdin = self.stdin.as_mut().ok_or_else(|| failed(name, "closed"))?;
        stdin
            .write_all(request)
            .and_then(|()| stdin.flush())
            .map_err(|error| failed(name, &error.to_string()))?;
        let mut line = String::new();
        self.stdout
            .read_line(&mut line)
            .map_err(|error| failed(name, &error.to_string()))?;
        let line = line.trim().to_string();
        if line.is_empty() {
            return Err(failed(name, "no answer"));
        }
        Ok(line)
    }
}

impl Drop for LineProcess {
    fn drop(&mut self) {
        self.stdin.take();
        let _ = self.child.wait();
    }
}

fn failed(name: &str, message: &str) -> PushError {
    PushError::Git {
        command: name.to_string(),
        code: None,
        stderr: message.to_string(),
    }
}

/// A change below a tree: the path's components, and the new entry (or
/// none, to remove it).
type Change<'a> = (Vec<&'a [u8]>, Option<&'a TreeEntry>);

/// One entry of a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TreeEntry {
    pub(crate) mode: String,
    pub(crate) sha: String,
}

impl TreeEntry {
    fn kind(&self) -> &'static str {
        match self.mode.as_str() {
            "40000" | "040000" => "tree",
            "160000" => "commit",
            _ => "blob",
        }
    }
}

/// The object reader and writers of one replay; each process starts at
/// its first use.
#[derive(Debug)]
pub(crate) struct Objects {
    git: Git,
    pub(crate) cat: CatFile,
    trees: Option<LineProcess>,
    blobs: Option<LineProcess>,
    commits: Option<LineProcess>,
    scratch: PathBuf,
    committer: Option<String>,
}

impl Objects {
    pub(crate) fn start(git: &Git, git_dir: &Path) -> Result<Objects, PushError> {
        Ok(Objects {
            git: git.clone(),
            cat: CatFile::start(git)?,
            trees: None,
            blobs: None,
            commits: None,
            scratch: git_dir.join(format!("weft-push-object-{}", std::process::id())),
            committer: None,
        })
    }

    fn process<'a>(
        git: &Git,
        slot: &'a mut Option<LineProcess>,
        name: &'static str,
        arguments: &[&str],
    ) -> Result<&'a mut LineProcess, PushError> {
        if slot.is_none() {
            *slot = Some(LineProcess::start(git, name, arguments)?);
        }
        slot.as_mut().ok_or_else(|| failed(name, "not started"))
    }

    fn write_through_file(
        scratch: &Path,
        process: &mut LineProcess,
        content: &[u8],
    ) -> Result<String, PushError> {
        fs_err::write(scratch, content).map_err(PushError::io(scratch))?;
        let mut request = scratch.to_string_lossy().into_owned().into_bytes();
        request.push(b'\n');
        process.ask(&request)
    }

    /// Writes a blob; returns its sha.
    pub(crate) fn blob(&mut self, content: &[u8]) -> Result<String, PushError> {
        let process = Objects::process(
            &self.git,
            &mut self.blobs,
            "hash-object --stdin-paths",
            &["hash-object", "-w", "--no-filters", "--stdin-paths"],
        )?;
        Objects::write_through_file(&self.scratch, process, content)
    }

    /// Writes a commit object given as text.
    pub(crate) fn commit_text(&mut self, text: &str) -> Result<String, PushError> {
        let process = Objects::process(
            &self.git,
            &mut self.commits,
            "hash-object -t commit --stdin-paths",
            &["hash-object", "-w", "-t", "commit", "--stdin-paths"],
        )?;
        Objects::write_through_file(&self.scratch, process, text.as_bytes())
    }

    /// Writes a commit of `tree` on `parent` with an original commit's
    /// author and message, committed by the current user.
    pub(crate) fn commit(
        &mut self,
        tree: &str,
        parent: &str,
        author: &str,
        message: &str,
    ) -> Result<String, PushError> {
        if self.committer.is_none() {
            self.committer = Some(self.git.line(&["var", "GIT_COMMITTER_IDENT"])?);
        }
        let committer = self.committer.clone().unwrap_or_default();
        let text = format!(
            "tree {tree}\nparent {parent}\nauthor {author}\ncommitter {committer}\n\n{message}"
        );
        self.commit_text(&text)
    }

    /// The empty tree.
    pub(crate) fn empty_tree(&mut self) -> Result<String, PushError> {
        self.write_tree(&BTreeMap::new())
    }

    /// The entries of a tree, by name.
    fn entries(&mut self, tree: &str) -> Result<BTreeMap<Vec<u8>, TreeEntry>, PushError> {
        let Some((kind, raw)) = self.cat.read(tree)? else {
            return Err(failed(
                "cat-file --batch",
                &format!("tree {tree} is missing"),
            ));
        };
        if kind != "tree" {
            return Err(failed("cat-file --batch", &format!("{tree} is not a tree")));
        }
        let hash_length = tree.len() / 2;
        let mut entries = BTreeMap::new();
        let mut rest = raw.as_slice();
        while !rest.is_empty() {
            let space = rest
                .iter()
                .position(|&b| b == b' ')
                .ok_or_else(|| failed("cat-file --batch", "a malformed tree"))?;
            let nul = rest
                .iter()
                .position(|&b| b == 0)
                .ok_or_else(|| failed("cat-file --batch", "a malformed tree"))?;
            let mode = String::from_utf8_lossy(&rest[..space]).into_owned();
            let name = rest[space + 1..nul].to_vec();
            let hash = rest
                .get(nul + 1..nul + 1 + hash_length)
                .ok_or_else(|| failed("cat-file --batch", "a malformed tree"))?;
            let sha: String = hash.iter().map(|b| format!("{b:02x}")).collect();
            entries.insert(name, TreeEntry { mode, sha });
            rest = &rest[nul + 1 + hash_length..];
        }
        Ok(entries)
    }

    fn write_tree(&mut self, entries: &BTreeMap<Vec<u8>, TreeEntry>) -> Result<String, PushError> {
        let trees = Objects::process(
            &self.git,
            &mut self.trees,
            "mktree --batch",
            &["mktree", "-z", "--batch"],
        )?;
        let mut request = Vec::new();
        for (name, entry) in entries {
            let mode = if entry.kind() == "tree" {
                "040000"
            } else {
                entry.mode.as_str()
            };
            request
                .extend_from_slice(format!("{mode} {} {}\t", entry.kind(), entry.sha).as_bytes());
            request.extend_from_slice(name);
            request.push(0);
        }
        request.push(0);
        trees.ask(&request)
    }

    /// `tree` with some paths (`a/b/c`) set to an entry or removed.
    pub(crate) fn rewrite_tree(
        &mut self,
        tree: &str,
        changes: &[(String, Option<TreeEntry>)],
    ) -> Result<String, PushError> {
        let changes: Vec<Change<'_>> = changes
            .iter()
            .map(|(path, entry)| {
                (
                    path.as_bytes().split(|&b| b == b'/').collect(),
                    entry.as_ref(),
                )
            })
            .collect();
        match self.rewrite(Some(tree), &changes)? {
            Some(sha) => Ok(sha),
            None => self.empty_tree(),
        }
    }

    fn rewrite(
        &mut self,
        tree: Option<&str>,
        changes: &[Change<'_>],
    ) -> Result<Option<String>, PushError> {
        let mut entries = match tree {
            Some(tree) => self.entries(tree)?,
            None => BTreeMap::new(),
        };
        let mut nested: BTreeMap<&[u8], Vec<Change<'_>>> = BTreeMap::new();
        for (components, entry) in changes {
            match components.as_slice() {
                [] => {}
                [name] => match entry {
                    Some(entry) => {
                        entries.insert(name.to_vec(), (*entry).clone());
                    }
                    None => {
                        entries.remove(*name);
                    }
                },
                [directory, rest @ ..] => nested
                    .entry(directory)
                    .or_default()
                    .push((rest.to_vec(), *entry)),
            }
        }
        for (directory, changes) in nested {
            let current = entries
                .get(directory)
                .filter(|entry| entry.kind() == "tree")
                .map(|entry| entry.sha.clone());
            match self.rewrite(current.as_deref(), &changes)? {
                Some(sha) => {
                    entries.insert(
                        directory.to_vec(),
                        TreeEntry {
                            mode: "40000".to_string(),
                            sha,
                        },
                    );
                }
                None => {
                    entries.remove(directory);
                }
            }
        }
        if entries.is_empty() {
            return Ok(None);
        }
        self.write_tree(&entries).map(Some)
    }
}

impl Drop for Objects {
    fn drop(&mut self) {
        let _ = fs_err::remove_file(&self.scratch);
    }
}
