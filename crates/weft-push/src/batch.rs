//! Landing the commits of those waiting in line together with our own:
//! the holder of the lock fetches the branch's queue, replays each
//! waiter's commits (oldest waiter first) onto its own by the path policies,
//! and writes a receipt for each into the landing push (see `queue`).
//!
//! Only what the replay in the object database can do is batched: a
//! waiter whose commits need a `regenerate`, hit a `fail` policy, or cannot
//! be replayed there is left in line, to land (or fail) on its own.

use std::collections::HashSet;
use std::path::Path;

use crate::error::PushError;
use crate::git::Git;
use crate::holder::Holder;
use crate::interrupt::Interrupt;
use crate::objects::Objects;
use crate::queue::{self, QueueRecord, Receipt};
use crate::remote::Lease;
use crate::replay::{Replayed, linear_commits, replay_commits};
use crate::settings::PolicyRules;

/// How old a receipt is before a holder deletes it (its waiter reads it
/// within a look or two).
const RECEIPT_KEPT_SECONDS: u64 = 60;

/// One waiter whose commits ride along.
#[derive(Debug, Clone)]
pub(crate) struct BatchEntry {
    /// Its waiting ref, and the sha the receipt replaces.
    pub(crate) reference: String,
    pub(crate) sha: String,
    pub(crate) waiter: Holder,
    pub(crate) replayed: Replayed,
}

/// The commits to land: ours, then the batched waiters'.
#[derive(Debug)]
pub(crate) struct Batch {
    /// The last commit.
    pub(crate) tip: String,
    pub(crate) entries: Vec<BatchEntry>,
    /// Receipts old enough to delete in the same push (ref, sha).
    pub(crate) old_receipts: Vec<(String, String)>,
    /// The object writers the receipts are written with.
    pub(crate) objects: Option<Objects>,
}

/// Where to batch, and how much.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchRequest<'a> {
    pub(crate) remote: &'a str,
    pub(crate) branch: &'a str,
    /// Our rebased HEAD.
    pub(crate) head: &'a str,
    pub(crate) rules: &'a PolicyRules,
    pub(crate) limit: usize,
}

/// Collects the waiters whose commits can land on top of `request.head`.
/// Batching is best effort: a failure to read the queue batches nothing.
/// Waiters who join the line while the first ones are replayed are looked
/// at too (a few passes), so that one landing takes as many as it can.
pub(crate) fn collect(
    git: &Git,
    git_dir: &Path,
    request: &BatchRequest<'_>,
    interrupt: &Interrupt,
) -> Result<Batch, PushError> {
    let mut batch = Batch {
        tip: request.head.to_string(),
        entries: Vec::new(),
        old_receipts: Vec::new(),
        objects: None,
    };
    let mut tip_tree = git.line(&["rev-parse", &format!("{}^{{tree}}", request.head)])?;
    let mut objects = Objects::start(git, git_dir)?;
    let mut seen: HashSet<String> = HashSet::new();
    for pass in 0..PASSES {
        let Some(waiting) = fetch_queue(git, &mut objects, request, pass == 0, &mut batch)? else {
            break;
        };
        let fresh: Vec<(String, String)> = waiting
            .into_iter()
            .filter(|(reference, _)| seen.insert(reference.clone()))
            .collect();
        if fresh.is_empty() {
            break;
        }
        for (reference, sha) in fresh {
            if batch.entries.len() >= request.limit {
                batch.objects = Some(objects);
                return Ok(batch);
            }
            interrupt.check()?;
            let Some((waiter, head)) = waiter_of(&mut objects, request.branch, &sha)? else {
                continue;
            };
            let Some(commits) = linear_commits(git, &[&head, "--not", &batch.tip])? else {
                continue;
            };
            if commits.is_empty() {
                continue;
            }
            match replay_commits(
                git,
                &mut objects,
                git_dir,
                &commits,
                &batch.tip,
                &tip_tree,
                request.rules,
                interrupt,
            ) {
                Ok(Some(replayed)) => {
                    tracing::info!(waiter = %waiter, commits = replayed.commits.len(), "landing a waiter's commits with ours");
                    batch.tip = replayed.tip.clone();
                    tip_tree = replayed.tip_tree.clone();
                    batch.entries.push(BatchEntry {
                        reference,
                        sha,
                        waiter,
                        replayed,
                    });
                }
                Ok(None) => {
                    tracing::debug!(%reference, "left in line: needs the git rebase path");
                }
                Err(error @ PushError::Interrupted { .. }) => return Err(error),
                Err(error) => {
                    tracing::debug!(%reference, %error, "left in line: it lands on its own");
                }
            }
        }
    }
    batch.objects = Some(objects);
    Ok(batch)
}

/// How many times the queue is read for one landing.
const PASSES: usize = 3;

/// Looks at the branch's queue and fetches the records (and commits) of
/// those waiting; the first time, also notes the receipts old enough to
/// delete. Returns the waiting refs in line order, or `None` when the queue
/// cannot be read.
fn fetch_queue(
    git: &Git,
    objects: &mut Objects,
    request: &BatchRequest<'_>,
    with_receipts: bool,
    batch: &mut Batch,
) -> Result<Option<Vec<(String, String)>>, PushError> {
    let queue_pattern = format!("{}*", queue::prefix(request.branch));
    let receipt_prefix = queue::receipt_prefix(request.branch);
    let receipts_pattern = format!("{receipt_prefix}*");
    let mut patterns = vec![queue_pattern.as_str()];
    if with_receipts {
        patterns.push(receipts_pattern.as_str());
    }
    let Ok(listed) = crate::remote::list(git, request.remote, &patterns) else {
        return Ok(None);
    };
    let mut waiting: Vec<(String, String)> = listed
        .iter()
        .filter(|(_, name)| queue::entry_name(request.branch, name).is_some())
        .map(|(sha, name)| (name.clone(), sha.clone()))
        .collect();
    waiting.sort();
    if waiting.is_empty() {
        return Ok(Some(waiting));
    }
    let receipts: Vec<(String, String)> = if with_receipts {
        listed
            .iter()
            .filter(|(_, name)| name.starts_with(&receipt_prefix))
            .map(|(sha, name)| (name.clone(), sha.clone()))
            .collect()
    } else {
        Vec::new()
    };
    // Fetch by sha: the tips are advertised, and no local ref is written.
    let mut wanted = Vec::new();
    for (_, sha) in waiting.iter().chain(&receipts) {
        if objects.cat.read(sha)?.is_none() {
            wanted.push(sha.clone());
        }
    }
    if !wanted.is_empty() {
        let mut arguments = vec![
            "fetch",
            "--quiet",
            "--no-tags",
            "--no-write-fetch-head",
            "--no-recurse-submodules",
            "--no-show-forced-updates",
            "--refmap=",
            request.remote,
        ];
        arguments.extend(wanted.iter().map(String::as_str));
        let fetched = git.run(&arguments)?;
        if !fetched.success {
            tracing::debug!(stderr = %fetched.stderr.trim(), "could not fetch the queue; batching nothing more");
            return Ok(None);
        }
    }
    let now = crate::git_lock::now_ms() / 1000;
    for (reference, sha) in receipts {
        let Ok(raw) = objects.cat.commit(&sha) else {
            continue;
        };
        let written = raw
            .lines()
            .take_while(|line| !line.is_empty())
            .find_map(|line| line.strip_prefix("committer "))
            .and_then(|ident| ident.rsplit(' ').nth(1))
            .and_then(|seconds| seconds.parse::<u64>().ok());
        if written.is_some_and(|written| written.saturating_add(RECEIPT_KEPT_SECONDS) < now) {
            batch.old_receipts.push((reference, sha));
        }
    }
    Ok(Some(waiting))
}

/// The waiter a queue record describes, and its HEAD, if it may be batched.
fn waiter_of(
    objects: &mut Objects,
    branch: &str,
    sha: &str,
) -> Result<Option<(Holder, String)>, PushError> {
    let raw = objects.cat.commit(sha)?;
    let (headers, message) = raw.split_once("\n\n").unwrap_or((&raw, ""));
    let Ok(record) = serde_json::from_str::<QueueRecord>(message.trim()) else {
        return Ok(None);
    };
    let Some(waiting) = record.waiting else {
        return Ok(None);
    };
    let Some(head) = waiting
        .head
        .filter(|_| waiting.batch && waiting.branch == branch)
    else {
        return Ok(None);
    };
    let parent_is_head = headers
        .lines()
        .any(|line| line.strip_prefix("parent ") == Some(head.as_str()));
    Ok(parent_is_head.then_some((waiting.holder, head)))
}

/// The receipts of a batch (each replacing its waiting ref) and the
/// deletion of old receipts, as refspecs and leases for the landing push.
pub(crate) fn receipts(
    git: &Git,
    git_dir: &Path,
    batch: &mut Batch,
    branch: &str,
    holder: &Holder,
    token: Option<u64>,
) -> Result<Vec<(String, Lease)>, PushError> {
    let mut updates: Vec<(String, Lease)> = batch
        .old_receipts
        .iter()
        .map(|(reference, sha)| {
            (
                format!(":{reference}"),
                Lease::new(reference.clone(), Some(sha)),
            )
        })
        .collect();
    if batch.entries.is_empty() {
        return Ok(updates);
    }
    let mut objects = match batch.objects.take() {
        Some(objects) => objects,
        None => Objects::start(git, git_dir)?,
    };
    let tree = objects.empty_tree()?;
    let now = crate::git_lock::now_ms();
    let identity = format!("weft push <weft-push@localhost> {} +0000", now / 1000);
    for entry in &batch.entries {
        let record = QueueRecord {
            waiting: None,
            landed: Some(Receipt {
                branch: branch.to_string(),
                landed_by: holder.clone(),
                token,
                at: now,
                head: entry.replayed.tip.clone(),
                tip: batch.tip.clone(),
                commits: entry.replayed.commits.clone(),
                conflicts: entry.replayed.resolutions.clone(),
            }),
        };
        let message = serde_json::to_string(&record).map_err(|error| PushError::Unsafe {
            reason: format!("cannot write a receipt: {error}"),
        })?;
        let sha = objects.commit_text(&format!(
            "tree {tree}\nparent {}\nauthor {identity}\ncommitter {identity}\n\n{message}",
            entry.replayed.tip
        ))?;
        let receipt_ref = queue::receipt_ref(&entry.reference);
        updates.push((
            format!(":{}", entry.reference),
            Lease::new(entry.reference.clone(), Some(&entry.sha)),
        ));
        updates.push((
            format!("{sha}:{receipt_ref}"),
            Lease::new(receipt_ref, None),
        ));
    }
    Ok(updates)
}
