//! Talking to the remote: listing refs, fetching the branch, and atomic
//! pushes under `--force-with-lease` with their porcelain results read back
//! ref by ref.

use crate::error::PushError;
use crate::git::Git;

/// Where the fetched remote branch is kept, out of the way of the user's
/// remote-tracking refs (a successful push updates those itself).
pub(crate) const FETCHED_NAMESPACE: &str = "refs/weft/fetched/";

/// One line of `git push --porcelain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RefUpdate {
    /// ` ` fast-forward, `+` forced, `-` deleted, `*` new, `=` up to date,
    /// `!` rejected.
    pub(crate) flag: char,
    pub(crate) to: String,
    /// `[rejected] (stale info)`, `[remote rejected] (reason)`, `abc..def`.
    pub(crate) summary: String,
}

impl RefUpdate {
    pub(crate) fn rejected(&self) -> bool {
        self.flag == '!'
    }

    /// Whether the ref was not at the value the lease expected (someone else
    /// changed it).
    pub(crate) fn lease_broken(&self) -> bool {
        self.rejected()
            && [
                "stale info",
                "incorrect old value",
                "but expected",
                "reference is missing",
                "non-fast-forward",
                "fetch first",
                "already exists",
            ]
            .iter()
            .any(|needle| self.summary.contains(needle))
    }

    /// Collateral damage of `--atomic`: this ref was fine, another was not.
    pub(crate) fn atomic_collateral(&self) -> bool {
        (self.summary.contains("atomic push failed")
            || self.summary.contains("atomic transaction failed"))
            && !self.summary.contains(" - ")
    }

    /// A refusal that trying again will not change (a pre-receive hook, a
    /// protected branch, no permission).
    pub(crate) fn refused_for_good(&self) -> bool {
        let summary = self.summary.to_ascii_lowercase();
        self.rejected()
            && summary.contains("remote rejected")
            && [
                "hook declined",
                "protected",
                "denied",
                "permission",
                "not allowed",
            ]
            .iter()
            .any(|needle| summary.contains(needle))
    }
}

/// What a push came to.
#[derive(Debug)]
pub(crate) enum PushResult {
    /// Every ref was updated.
    Done,
    /// The remote answered, and refused some refs (all of them, with
    /// `--atomic`).
    Refused(Vec<RefUpdate>),
    /// No answer per ref: the remote could not be reached, or refused the
    /// whole push.
    Failed { message: String },
}

/// `git ls-remote` of some patterns: (sha, ref name) pairs.
pub(crate) fn list(
    git: &Git,
    remote: &str,
    patterns: &[&str],
) -> Result<Vec<(String, String)>, PushError> {
    let mut arguments = vec!["ls-remote", "--refs", remote];
    arguments.extend_from_slice(patterns);
    let output = git.run(&arguments)?;
    if !output.success {
        return Err(PushError::Transient {
            message: first_line(&output.stderr),
        });
    }
    Ok(output
        .stdout
        .lines()
        .filter_map(|line| {
            let (sha, name) = line.split_once('\t')?;
            Some((sha.trim().to_string(), name.trim().to_string()))
        })
        .collect())
}

/// Fetches `refs/heads/<branch>` into weft's own namespace; `None` when the
/// remote has no such branch yet.
pub(crate) fn fetch_branch(
    git: &Git,
    remote: &str,
    branch: &str,
) -> Result<Option<String>, PushError> {
    let local = format!("{FETCHED_NAMESPACE}{branch}");
    let refspec = format!("+refs/heads/{branch}:{local}");
    let output = git.run(&[
        "fetch",
        "--quiet",
        "--no-tags",
        "--no-write-fetch-head",
        "--no-recurse-submodules",
        "--no-show-forced-updates",
        // Only the refspec given: no opportunistic update of the user's
        // remote-tracking refs, so a rollback leaves every ref as it was.
        "--refmap=",
        remote,
        &refspec,
    ])?;
    if output.success {
        return git.resolve(&local);
    }
    if output.stderr.contains("couldn't find remote ref") {
        let _ = git.run(&["update-ref", "-d", &local]);
        return Ok(None);
    }
    Err(PushError::Transient {
        message: first_line(&output.stderr),
    })
}

/// Fetches the objects of one remote ref (a lock record) without writing a
/// local ref. Returns false when the remote has no such ref.
pub(crate) fn fetch_objects(git: &Git, remote: &str, reference: &str) -> Result<bool, PushError> {
    let output = git.run(&[
        "fetch",
        "--quiet",
        "--no-tags",
        "--no-write-fetch-head",
        "--no-recurse-submodules",
        "--no-show-forced-updates",
        // Only the refspec given: no opportunistic update of the user's
        // remote-tracking refs, so a rollback leaves every ref as it was.
        "--refmap=",
        remote,
        reference,
    ])?;
    if output.success {
        return Ok(true);
    }
    if output.stderr.contains("couldn't find remote ref") {
        return Ok(false);
    }
    Err(PushError::Transient {
        message: first_line(&output.stderr),
    })
}

/// One ref a push must find at an expected value: a sha, or `None` for
/// "must not exist".
#[derive(Debug, Clone)]
pub(crate) struct Lease {
    pub(crate) reference: String,
    pub(crate) expected: Option<String>,
}

impl Lease {
    pub(crate) fn new(reference: impl Into<String>, expected: Option<&str>) -> Self {
        Lease {
            reference: reference.into(),
            expected: expected.map(str::to_string),
        }
    }
}

/// Options of one push.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PushOptions {
    /// All refs or none.
    pub(crate) atomic: bool,
    /// Run the user's pre-push hook (for the user's commits, not for weft's
    /// own refs).
    pub(crate) hooks: bool,
}

/// `git push --porcelain` of some refspecs under explicit leases.
pub(crate) fn push(
    git: &Git,
    remote: &str,
    refspecs: &[String],
    leases: &[Lease],
    options: PushOptions,
) -> Result<PushResult, PushError> {
    let mut arguments: Vec<String> = vec!["push".into(), "--porcelain".into()];
    if options.atomic {
        arguments.push("--atomic".into());
    }
    if !options.hooks {
        arguments.push("--no-verify".into());
    }
    for lease in leases {
        arguments.push(format!(
            "--force-with-lease={}:{}",
            lease.reference,
            lease.expected.as_deref().unwrap_or("")
        ));
    }
    arguments.push(remote.to_string());
    arguments.extend(refspecs.iter().cloned());
    let output = git.run(&arguments)?;
    let mut updates = parse_porcelain(&output.stdout);
    // With `--atomic` the remote reports every ref as "atomic transaction
    // failed" and says in its error output which ref was not as expected.
    for update in &mut updates {
        let quoted = format!("'{}'", update.to);
        if let Some(line) = output.stderr.lines().find(|line| line.contains(&quoted)) {
            update.summary.push_str(" - ");
            update
                .summary
                .push_str(line.trim_start_matches("remote: ").trim());
        }
    }
    if output.success && updates.iter().all(|u| !u.rejected()) {
        return Ok(PushResult::Done);
    }
    if updates.iter().any(RefUpdate::rejected) {
        return Ok(PushResult::Refused(updates));
    }
    let mut message = first_line(&output.stderr);
    if message.is_empty() {
        message = format!("git push exited with {:?}", output.code);
    }
    Ok(PushResult::Failed { message })
}

/// Reads the ref lines of `git push --porcelain`.
pub(crate) fn parse_porcelain(stdout: &str) -> Vec<RefUpdate> {
    stdout
        .lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, '\t');
            let flag = parts.next()?;
            let refs = parts.next()?;
            let summary = parts.next().unwrap_or_default();
            let mut flag_chars = flag.chars();
            let flag = flag_chars.next()?;
            if flag_chars.next().is_some() || !" +-*=!".contains(flag) {
                return None;
            }
            let (_, to) = refs.split_once(':')?;
            Some(RefUpdate {
                flag,
                to: to.to_string(),
                summary: summary.to_string(),
            })
        })
        .collect()
}

/// Whether a failure to reach the remote is one a retry cannot fix
/// (authentication, a missing repository).
pub(crate) fn failure_is_permanent(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    [
        "authentication failed",
        "permission denied",
        "repository not found",
        "does not appear to be a git repository",
        "does not support --atomic",
        "403",
        "could not read username",
    ]
    .iter()
    .any(|needle| message.contains(needle))
}

/// The most telling line of git's standard error.
pub(crate) fn first_line(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("hint:"))
        .collect();
    lines
        .iter()
        .find(|l| l.starts_with("fatal:") || l.starts_with("error:"))
        .or(lines.first())
        .map(|l| l.to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_porcelain_lines() {
        let stdout = "To /tmp/remote.git\n!\tabc:refs/heads/main\t[rejected] (stale info)\n!\t:refs/weft/locks/main\t[rejected] (atomic push failed)\n \tabc:refs/heads/x\t111..222\nDone\n";
        let updates = parse_porcelain(stdout);
        assert_eq!(updates.len(), 3);
        assert!(updates[0].lease_broken());
        assert!(updates[1].atomic_collateral() && !updates[1].lease_broken());
        assert_eq!(updates[1].to, "refs/weft/locks/main");
        assert!(!updates[2].rejected());
    }

    #[test]
    fn a_remote_side_lease_failure_is_a_broken_lease() {
        let update = RefUpdate {
            flag: '!',
            to: "refs/heads/main".into(),
            summary: "[remote rejected] (atomic transaction failed) - error: cannot lock ref 'refs/heads/main': is at 1 but expected 2".into(),
        };
        assert!(update.lease_broken() && !update.atomic_collateral());
    }

    #[test]
    fn tells_lasting_refusals() {
        let update = RefUpdate {
            flag: '!',
            to: "refs/heads/main".into(),
            summary: "[remote rejected] (pre-receive hook declined)".into(),
        };
        assert!(update.refused_for_good());
        assert!(failure_is_permanent(
            "fatal: Authentication failed for 'https://x'"
        ));
        assert!(!failure_is_permanent("fatal: the remote end hung up"));
    }
}
