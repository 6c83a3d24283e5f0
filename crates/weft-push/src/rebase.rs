//! Rebasing the local commits onto the remote branch, resolving each
//! conflict by the path's policy.
//!
//! During a rebase git's sides are the reverse of the pusher's: stage 2
//! ("ours", `--ours`) is the remote branch with the commits replayed so far,
//! and stage 3 ("theirs", `--theirs`) is the pusher's commit being replayed.
//! weft names them from the pusher's side: *mine* is stage 3, *theirs* is
//! stage 2; nobody using weft has to remember the swap.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::backup::rebase_in_progress;
use crate::error::PushError;
use crate::git::{Git, GitOutput, split_nul};
use crate::interrupt::Interrupt;
use crate::remote::first_line;
use crate::settings::{PathPolicy, PolicyRules, PolicySource};
use crate::union;

/// One conflict weft resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Resolution {
    /// The path, relative to the repository root.
    pub path: String,
    /// `mine`, `theirs`, `union` or `regenerate`.
    pub policy: String,
    /// The command of `regenerate`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// The glob that chose the policy, or the default that did.
    pub source: PolicySource,
    /// The local commit being replayed (`abc1234 subject`).
    pub commit: String,
    /// What the resolution came to: `kept mine`, `deleted` …
    pub outcome: String,
}

/// One entry of a conflicting path's stages.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    mode: String,
    sha: String,
}

/// The three sides of a conflicting path.
#[derive(Debug, Clone, Default)]
struct Sides {
    base: Option<Entry>,
    /// Stage 2: the remote branch's version.
    theirs: Option<Entry>,
    /// Stage 3: the pusher's version.
    mine: Option<Entry>,
}

/// Rebases HEAD onto `onto`, resolving conflicts by `rules`. On error the
/// rebase may be left stopped: the caller aborts it and restores the backup.
pub(crate) fn rebase(
    git: &Git,
    git_dir: &Path,
    onto: &str,
    rules: &PolicyRules,
    replay: bool,
    interrupt: &Interrupt,
) -> Result<Vec<Resolution>, PushError> {
    if replay
        && let Some(resolutions) = crate::replay::replay(git, git_dir, onto, rules, interrupt)?
    {
        return Ok(resolutions);
    }
    let mut resolutions = Vec::new();
    let mut output = git.run(&["rebase", "--empty=drop", "--no-autosquash", onto])?;
    loop {
        if output.success && !rebase_in_progress(git_dir) {
            return Ok(resolutions);
        }
        interrupt.check()?;
        if !rebase_in_progress(git_dir) {
            return Err(PushError::RebaseStopped {
                message: stopped_because(&output),
            });
        }
        let conflicts = conflicting_paths(git)?;
        if conflicts.is_empty() {
            return Err(PushError::RebaseStopped {
                message: stopped_because(&output),
            });
        }
        let commit = git
            .line(&["log", "-1", "--format=%h %s", "REBASE_HEAD"])
            .unwrap_or_else(|_| "the commit being replayed".to_string());
        resolutions.extend(resolve_all(git, git_dir, &conflicts, rules, &commit)?);
        interrupt.check()?;
        output = git.run(&["rebase", "--continue"])?;
    }
}

fn stopped_because(output: &GitOutput) -> String {
    let message = first_line(&output.stderr);
    if message.is_empty() {
        first_line(&output.stdout)
    } else {
        message
    }
}

/// The conflicting paths and their stages (`git ls-files -u`).
fn conflicting_paths(git: &Git) -> Result<BTreeMap<String, Sides>, PushError> {
    let output = git.ok(&["ls-files", "-u", "-z"])?;
    let mut paths: BTreeMap<String, Sides> = BTreeMap::new();
    for record in split_nul(&output) {
        let Some((info, path)) = record.split_once('\t') else {
            continue;
        };
        let mut fields = info.split_whitespace();
        let (Some(mode), Some(sha), Some(stage)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let entry = Entry {
            mode: mode.to_string(),
            sha: sha.to_string(),
        };
        let sides = paths.entry(path.to_string()).or_default();
        match stage {
            "1" => sides.base = Some(entry),
            "2" => sides.theirs = Some(entry),
            "3" => sides.mine = Some(entry),
            _ => {}
        }
    }
    Ok(paths)
}

/// Resolves every conflicting path of one stop, or fails on the first
/// `fail` policy before touching anything.
fn resolve_all(
    git: &Git,
    git_dir: &Path,
    conflicts: &BTreeMap<String, Sides>,
    rules: &PolicyRules,
    commit: &str,
) -> Result<Vec<Resolution>, PushError> {
    let planned: Vec<(&String, &Sides, &PathPolicy, PolicySource)> = conflicts
        .iter()
        .map(|(path, sides)| {
            let (policy, source) = rules.policy_for(path);
            (path, sides, policy, source)
        })
        .collect();
    if let Some((path, _, _, source)) = planned
        .iter()
        .find(|(_, _, policy, _)| **policy == PathPolicy::Fail)
    {
        return Err(PushError::ConflictPolicyFail {
            path: (*path).clone(),
            commit: commit.to_string(),
            rule: match source {
                PolicySource::Rule(glob) => Some(glob.clone()),
                _ => None,
            },
        });
    }
    let mut resolutions = Vec::new();
    let mut regenerate: BTreeMap<&str, Vec<(&String, &Sides, PolicySource)>> = BTreeMap::new();
    for (path, sides, policy, source) in planned {
        let outcome = match policy {
            PathPolicy::Mine => take(git, path, sides.mine.as_ref(), "mine")?,
            PathPolicy::Theirs => take(git, path, sides.theirs.as_ref(), "theirs")?,
            PathPolicy::Union => union_path(git, git_dir, path, sides)?,
            PathPolicy::Regenerate { command } => {
                regenerate
                    .entry(command.as_str())
                    .or_default()
                    .push((path, sides, source));
                continue;
            }
            PathPolicy::Fail => fail_policy(path)?,
        };
        tracing::info!(path, policy = policy.name(), %outcome, "resolved a conflict");
        resolutions.push(Resolution {
            path: path.clone(),
            policy: policy.name().to_string(),
            command: None,
            source,
            commit: commit.to_string(),
            outcome,
        });
    }
    for (command, paths) in regenerate {
        let names: Vec<String> = paths.iter().map(|(path, _, _)| (*path).clone()).collect();
        for (path, sides, _) in &paths {
            take(git, path, sides.theirs.as_ref(), "theirs")?;
        }
        run_generator(git, command, &names)?;
        for (path, _, source) in paths {
            tracing::info!(path, command, "regenerated a conflicting path");
            resolutions.push(Resolution {
                path: path.clone(),
                policy: "regenerate".to_string(),
                command: Some(command.to_string()),
                source,
                commit: commit.to_string(),
                outcome: "regenerated".to_string(),
            });
        }
    }
    Ok(resolutions)
}

fn fail_policy(path: &str) -> Result<String, PushError> {
    Err(PushError::Unresolvable {
        path: path.to_string(),
        policy: "fail".to_string(),
        reason: "the policy is `fail`".to_string(),
    })
}

/// Resolves a path to one side's version, or deletes it when that side
/// deleted it.
fn take(git: &Git, path: &str, side: Option<&Entry>, name: &str) -> Result<String, PushError> {
    match side {
        Some(_) => {
            // `--theirs` is stage 3 (mine) and `--ours` stage 2 (theirs)
            // during a rebase.
            let flag = if name == "mine" { "--theirs" } else { "--ours" };
            literal(git, &["checkout", flag, "--", path])?;
            literal(git, &["add", "--", path])?;
            Ok(format!("kept {name}"))
        }
        None => {
            literal(git, &["rm", "-q", "-f", "--ignore-unmatch", "--", path])?;
            Ok(format!("deleted, as {name} deleted it"))
        }
    }
}

/// Runs git with pathspecs taken literally (a path may hold `*` or `[`).
fn literal(git: &Git, arguments: &[&str]) -> Result<String, PushError> {
    git.command(arguments)
        .env("GIT_LITERAL_PATHSPECS", "1")
        .ok()
}

fn blob(git: &Git, entry: Option<&Entry>) -> Result<Vec<u8>, PushError> {
    match entry {
        Some(entry) => git.command(&["cat-file", "blob", &entry.sha]).bytes(),
        None => Ok(Vec::new()),
    }
}

/// The union of both sides' lines (see [`crate::union`]).
fn union_path(git: &Git, git_dir: &Path, path: &str, sides: &Sides) -> Result<String, PushError> {
    let unresolvable = |reason: &str| PushError::Unresolvable {
        path: path.to_string(),
        policy: "union".to_string(),
        reason: reason.to_string(),
    };
    for entry in [&sides.base, &sides.theirs, &sides.mine]
        .into_iter()
        .flatten()
    {
        if entry.mode == "120000" || entry.mode == "160000" {
            return Err(unresolvable("it is a symbolic link or a submodule"));
        }
    }
    let (base, theirs, mine) = (
        blob(git, sides.base.as_ref())?,
        blob(git, sides.theirs.as_ref())?,
        blob(git, sides.mine.as_ref())?,
    );
    if [&base, &theirs, &mine].iter().any(|b| union::is_binary(b)) {
        return Err(unresolvable("it is a binary file"));
    }
    let resolved = union::merge(git, git_dir, path, &base, &theirs, &mine)?;
    let file = git.directory().join(path);
    if resolved.is_empty() && (sides.mine.is_none() || sides.theirs.is_none()) {
        literal(git, &["rm", "-q", "-f", "--ignore-unmatch", "--", path])?;
        return Ok("deleted: no line is left".to_string());
    }
    if let Some(parent) = file.parent() {
        fs_err::create_dir_all(parent).map_err(PushError::io(parent))?;
    }
    fs_err::write(&file, &resolved).map_err(PushError::io(&file))?;
    let executable = sides
        .mine
        .as_ref()
        .or(sides.theirs.as_ref())
        .is_some_and(|entry| entry.mode == "100755");
    set_executable(&file, executable)?;
    literal(git, &["add", "--", path])?;
    Ok("kept the lines of both".to_string())
}

fn set_executable(file: &Path, executable: bool) -> Result<(), PushError> {
    use std::os::unix::fs::PermissionsExt;
    let metadata = fs_err::metadata(file).map_err(PushError::io(file))?;
    let mut permissions = metadata.permissions();
    let mode = permissions.mode();
    let wanted = if executable {
        mode | 0o111
    } else {
        mode & !0o111
    };
    if wanted != mode {
        permissions.set_mode(wanted);
        fs_err::set_permissions(file, permissions).map_err(PushError::io(file))?;
    }
    Ok(())
}

/// Runs a `regenerate` command in the repository root, stages the paths it
/// regenerates, and puts back any other tracked file it changed (the rebase
/// cannot go on with unstaged changes).
fn run_generator(git: &Git, command: &str, paths: &[String]) -> Result<(), PushError> {
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(git.directory())
        .env("WEFT_PUSH_PATHS", paths.join("\n"))
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|source| PushError::Regenerate {
            command: command.to_string(),
            paths: paths.to_vec(),
            code: None,
            stderr: source.to_string(),
        })?;
    if !output.status.success() {
        return Err(PushError::Regenerate {
            command: command.to_string(),
            paths: paths.to_vec(),
            code: output.status.code(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    let mut add = vec!["add", "-A", "--"];
    add.extend(paths.iter().map(String::as_str));
    literal(git, &add)?;
    let others = git.ok(&["diff", "--name-only", "-z"])?;
    let others: Vec<&str> = split_nul(&others).collect();
    if !others.is_empty() {
        tracing::warn!(command, files = ?others, "the regenerate command changed other tracked files; they are put back");
        let mut checkout = vec!["checkout", "--"];
        checkout.extend(others.iter().copied());
        literal(git, &checkout)?;
    }
    Ok(())
}
