//! The fast rebase: the local commits are replayed onto the remote branch
//! in the object database (`git merge-tree --write-tree`, one commit at a
//! time), conflicts resolved by policy from the blobs alone, and the
//! working tree is moved once, at the end. Nothing is half-done at any
//! point: until the last step the branch, index and files are untouched.
//!
//! It covers the common case. Anything else — a `regenerate` policy (the
//! generator needs a working tree), renames or directory conflicts, merge
//! commits, signed commits, a git without `merge-tree --write-tree` — is
//! handed back (`Ok(None)`) to the `git rebase` path before anything
//! changed.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::PushError;
use crate::git::Git;
use crate::interrupt::Interrupt;
use crate::objects::{Objects, TreeEntry};
use crate::rebase::Resolution;
use crate::report::LandedCommit;
use crate::settings::{PathPolicy, PolicyRules, PolicySource};
use crate::union;

/// One side of a conflicting path in `merge-tree`'s output.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    mode: String,
    sha: String,
}

#[derive(Debug, Clone, Default)]
struct Sides {
    base: Option<Entry>,
    /// Stage 2: the remote branch (with the commits replayed so far).
    theirs: Option<Entry>,
    /// Stage 3: the pusher's commit.
    mine: Option<Entry>,
}

/// What `merge-tree` said about one commit.
struct Merge {
    tree: String,
    conflicts: BTreeMap<String, Sides>,
    /// Conflict kinds other than content, modify/delete and add/add.
    unusual: bool,
}

/// Conflict kinds resolved from the stages of one path.
const PLAIN_CONFLICTS: &[&str] = &[
    "CONFLICT (contents)",
    "CONFLICT (modify/delete)",
    "CONFLICT (add/add)",
];

/// Commits replayed onto a new base.
#[derive(Debug, Clone)]
pub(crate) struct Replayed {
    /// The last commit (the base itself when every commit was dropped).
    pub(crate) tip: String,
    pub(crate) tip_tree: String,
    /// The new commits, oldest first (commits left empty are dropped).
    pub(crate) commits: Vec<LandedCommit>,
    pub(crate) resolutions: Vec<Resolution>,
}

/// `range`'s commits (oldest first) with their single parent; `None` when
/// one is a root commit or a merge.
pub(crate) fn linear_commits(
    git: &Git,
    range: &[&str],
) -> Result<Option<Vec<(String, String)>>, PushError> {
    let mut arguments = vec!["rev-list", "--reverse", "--parents"];
    arguments.extend_from_slice(range);
    let listing = git.ok(&arguments)?;
    let mut commits = Vec::new();
    for line in listing.lines() {
        let mut shas = line.split_whitespace();
        let (Some(commit), Some(parent), None) = (shas.next(), shas.next(), shas.next()) else {
            return Ok(None);
        };
        commits.push((commit.to_string(), parent.to_string()));
    }
    Ok(Some(commits))
}

/// Whether commits must be signed (the replay cannot sign them).
pub(crate) fn signing(git: &Git) -> Result<bool, PushError> {
    let output = git.run(&["config", "--type=bool", "commit.gpgSign"])?;
    Ok(output.stdout.trim() == "true")
}

/// Replays `onto..HEAD` onto `onto` and moves the branch, index and files
/// there at the end; `Ok(None)` when the `git rebase` path must do it.
pub(crate) fn replay(
    git: &Git,
    git_dir: &Path,
    onto: &str,
    rules: &PolicyRules,
    interrupt: &Interrupt,
) -> Result<Option<Vec<Resolution>>, PushError> {
    if signing(git)? {
        return Ok(None);
    }
    let range = format!("{onto}..HEAD");
    let Some(commits) = linear_commits(git, &[&range])? else {
        return Ok(None);
    };
    let head = git.line(&["rev-parse", "HEAD"])?;
    let onto_tree = git.line(&["rev-parse", &format!("{onto}^{{tree}}")])?;
    let mut objects = Objects::start(git, git_dir)?;
    let Some(replayed) = replay_commits(
        git,
        &mut objects,
        git_dir,
        &commits,
        onto,
        &onto_tree,
        rules,
        interrupt,
    )?
    else {
        return Ok(None);
    };
    interrupt.check()?;
    move_head(git, &head, &replayed.tip, &replayed.tip_tree, onto)?;
    Ok(Some(replayed.resolutions))
}

/// Moves HEAD (and its branch), the index and the files from `head` to
/// `tip`; the working tree must be clean.
pub(crate) fn move_head(
    git: &Git,
    head: &str,
    tip: &str,
    tip_tree: &str,
    onto: &str,
) -> Result<(), PushError> {
    let output = git.run(&["read-tree", "-m", "-u", "HEAD", tip_tree])?;
    if !output.success {
        return Err(PushError::RebaseStopped {
            message: crate::remote::first_line(&output.stderr),
        });
    }
    let message = format!("weft push: rebase onto {onto}");
    git.ok(&["update-ref", "-m", &message, "HEAD", tip, head])?;
    Ok(())
}

/// Replays commits (each with its parent) onto `onto` in the object
/// database only; `Ok(None)` when one of them needs the `git rebase` path.
#[expect(
    clippy::too_many_arguments,
    reason = "the replay's inputs; bundling them would only rename them"
)]
pub(crate) fn replay_commits(
    git: &Git,
    objects: &mut Objects,
    git_dir: &Path,
    commits: &[(String, String)],
    onto: &str,
    onto_tree: &str,
    rules: &PolicyRules,
    interrupt: &Interrupt,
) -> Result<Option<Replayed>, PushError> {
    let mut tip = onto.to_string();
    let mut tip_tree = onto_tree.to_string();
    let mut resolutions = Vec::new();
    let mut landed = Vec::new();
    for (commit, parent) in commits {
        interrupt.check()?;
        let Some(merge) = merge_tree(git, parent, &tip, commit)? else {
            return Ok(None);
        };
        if merge.unusual {
            return Ok(None);
        }
        let raw = objects.cat.commit(commit)?;
        let Some(metadata) = Metadata::parse(&raw).filter(|m| m.encoding.is_none()) else {
            return Ok(None);
        };
        let tree = if merge.conflicts.is_empty() {
            merge.tree
        } else {
            let description = format!(
                "{} {}",
                commit.get(..7).unwrap_or(commit),
                metadata.message.lines().next().unwrap_or_default()
            );
            let planned: Vec<(&String, &Sides, &PathPolicy, PolicySource)> = merge
                .conflicts
                .iter()
                .map(|(path, sides)| {
                    let (policy, source) = rules.policy_for(path);
                    (path, sides, policy, source)
                })
                .collect();
            if planned
                .iter()
                .any(|(_, _, policy, _)| matches!(policy, PathPolicy::Regenerate { .. }))
            {
                return Ok(None);
            }
            if let Some((path, _, _, source)) = planned
                .iter()
                .find(|(_, _, policy, _)| **policy == PathPolicy::Fail)
            {
                return Err(PushError::ConflictPolicyFail {
                    path: (*path).clone(),
                    commit: description,
                    rule: match source {
                        PolicySource::Rule(glob) => Some(glob.clone()),
                        _ => None,
                    },
                });
            }
            let mut replacements = Vec::new();
            for (path, sides, policy, source) in planned {
                let (entry, outcome) = match policy {
                    PathPolicy::Mine => take(sides.mine.as_ref(), "mine"),
                    PathPolicy::Theirs => take(sides.theirs.as_ref(), "theirs"),
                    PathPolicy::Union => union_entry(git, objects, git_dir, path, sides)?,
                    PathPolicy::Fail | PathPolicy::Regenerate { .. } => return Ok(None),
                };
                tracing::info!(path, policy = policy.name(), %outcome, "resolved a conflict");
                resolutions.push(Resolution {
                    path: path.clone(),
                    policy: policy.name().to_string(),
                    command: None,
                    source,
                    commit: description.clone(),
                    outcome,
                });
                replacements.push((path.clone(), entry));
            }
            let changes: Vec<(String, Option<TreeEntry>)> = replacements
                .into_iter()
                .map(|(path, entry)| {
                    (
                        path,
                        entry.map(|entry| TreeEntry {
                            mode: entry.mode,
                            sha: entry.sha,
                        }),
                    )
                })
                .collect();
            objects.rewrite_tree(&merge.tree, &changes)?
        };
        if tree == tip_tree {
            tracing::debug!(commit, "dropping a commit left empty");
            continue;
        }
        let author = format!(
            "{} <{}> {}",
            metadata.author_name, metadata.author_email, metadata.author_date
        );
        tip = objects.commit(&tree, &tip, &author, &metadata.message)?;
        tip_tree = tree;
        landed.push(LandedCommit {
            sha: tip.clone(),
            subject: metadata
                .message
                .lines()
                .next()
                .unwrap_or_default()
                .to_string(),
        });
    }
    Ok(Some(Replayed {
        tip,
        tip_tree,
        commits: landed,
        resolutions,
    }))
}

/// Runs `git merge-tree` for one commit; `None` when this git cannot.
fn merge_tree(
    git: &Git,
    parent: &str,
    onto: &str,
    commit: &str,
) -> Result<Option<Merge>, PushError> {
    let base = format!("--merge-base={parent}");
    let output = git.run(&["merge-tree", "--write-tree", "-z", &base, onto, commit])?;
    if !matches!(output.code, Some(0 | 1)) {
        tracing::debug!(stderr = %output.stderr.trim(), "git merge-tree cannot replay; using git rebase");
        return Ok(None);
    }
    let mut fields = output.stdout.split('\0');
    let tree = fields.next().unwrap_or_default().to_string();
    let mut conflicts: BTreeMap<String, Sides> = BTreeMap::new();
    if output.code == Some(0) {
        return Ok(Some(Merge {
            tree,
            conflicts,
            unusual: false,
        }));
    }
    for field in fields.by_ref() {
        if field.is_empty() {
            break;
        }
        let Some((info, path)) = field.split_once('\t') else {
            return Ok(None);
        };
        let mut parts = info.split_whitespace();
        let (Some(mode), Some(sha), Some(stage)) = (parts.next(), parts.next(), parts.next())
        else {
            return Ok(None);
        };
        let entry = Some(Entry {
            mode: mode.to_string(),
            sha: sha.to_string(),
        });
        let sides = conflicts.entry(path.to_string()).or_default();
        match stage {
            "1" => sides.base = entry,
            "2" => sides.theirs = entry,
            "3" => sides.mine = entry,
            _ => return Ok(None),
        }
    }
    // Informational messages: <number of paths>, the paths, a type, a message.
    let mut unusual = false;
    let rest: Vec<&str> = fields.collect();
    let mut index = 0;
    while index < rest.len() {
        let Ok(count) = rest[index].parse::<usize>() else {
            break;
        };
        let kind = rest.get(index + 1 + count).copied().unwrap_or_default();
        if kind.starts_with("CONFLICT") && !PLAIN_CONFLICTS.contains(&kind) {
            unusual = true;
        }
        index += count + 3;
    }
    Ok(Some(Merge {
        tree,
        conflicts,
        unusual,
    }))
}

fn take(side: Option<&Entry>, name: &str) -> (Option<Entry>, String) {
    match side {
        Some(entry) => (Some(entry.clone()), format!("kept {name}")),
        None => (None, format!("deleted, as {name} deleted it")),
    }
}

fn union_entry(
    git: &Git,
    objects: &mut Objects,
    git_dir: &Path,
    path: &str,
    sides: &Sides,
) -> Result<(Option<Entry>, String), PushError> {
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
    let sha = |entry: &Option<Entry>| entry.as_ref().map(|e| e.sha.clone());
    let (base, theirs, mine) = (
        objects.cat.blob(sha(&sides.base).as_deref())?,
        objects.cat.blob(sha(&sides.theirs).as_deref())?,
        objects.cat.blob(sha(&sides.mine).as_deref())?,
    );
    if [&base, &theirs, &mine].iter().any(|b| union::is_binary(b)) {
        return Err(unresolvable("it is a binary file"));
    }
    let resolved = union::merge(git, git_dir, path, &base, &theirs, &mine)?;
    if resolved.is_empty() && (sides.mine.is_none() || sides.theirs.is_none()) {
        return Ok((None, "deleted: no line is left".to_string()));
    }
    let sha = objects.blob(&resolved)?;
    let mode = sides
        .mine
        .as_ref()
        .or(sides.theirs.as_ref())
        .map_or_else(|| "100644".to_string(), |entry| entry.mode.clone());
    Ok((
        Some(Entry { mode, sha }),
        "kept the lines of both".to_string(),
    ))
}

/// What a replayed commit keeps of the original.
struct Metadata {
    author_name: String,
    author_email: String,
    author_date: String,
    encoding: Option<String>,
    message: String,
}

impl Metadata {
    /// Reads `git cat-file commit` output.
    fn parse(raw: &str) -> Option<Metadata> {
        let (headers, message) = raw.split_once("\n\n").unwrap_or((raw, ""));
        let mut author = None;
        let mut encoding = None;
        for line in headers.lines() {
            if let Some(ident) = line.strip_prefix("author ") {
                author = Some(ident);
            } else if let Some(value) = line.strip_prefix("encoding ") {
                encoding = Some(value.to_string());
            }
        }
        let author = author?;
        let open = author.find(" <")?;
        let close = author.rfind('>')?;
        Some(Metadata {
            author_name: author[..open].to_string(),
            author_email: author.get(open + 2..close)?.to_string(),
            author_date: author.get(close + 1..)?.trim().to_string(),
            encoding,
            message: message.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_commit_metadata() {
        let raw = "tree abc\nparent def\nauthor Ada Lovelace <ada@example.org> 1700000000 +0100\ncommitter X <x@y> 1 +0000\n\nSubject line\n\nBody.\n";
        let metadata = Metadata::parse(raw).unwrap();
        assert_eq!(metadata.author_name, "Ada Lovelace");
        assert_eq!(metadata.author_email, "ada@example.org");
        assert_eq!(metadata.author_date, "1700000000 +0100");
        assert_eq!(metadata.message, "Subject line\n\nBody.\n");
        assert_eq!(metadata.encoding, None);
    }
}
