//! The waiting queue of a branch on the remote:
//! `refs/weft/waiting/<branch>/<since>-<host>-<pid>-<random>`, where `since`
//! (milliseconds, 13 digits) orders the queue by name.
//!
//! A waiter's ref points at a commit whose message is a JSON
//! [`QueueRecord`] and whose parent is the waiter's HEAD, so the commits it
//! waits to land travel with it. The holder of the lock may land them with
//! its own (batching): it replays them onto the branch by the same path
//! policies and, in the same atomic push that lands the branch, deletes the
//! waiter's ref (under a lease on the waiter's sha) and leaves a receipt
//! under the same name in `refs/weft/receipts/`. The waiter sees the receipt
//! at its next look and stops there. Receipts are deleted by later holders
//! once they are a minute old (or by `weft push cleanup`). Since a waiter
//! takes the lock only in a push that deletes its ref under the same lease,
//! its commits are landed once: by itself or by a holder, never both.

use serde::{Deserialize, Serialize};

use crate::holder::Holder;
use crate::rebase::Resolution;
use crate::report::LandedCommit;

/// Where waiters announce themselves.
pub const WAITING_NAMESPACE: &str = "refs/weft/waiting/";
/// Where holders leave receipts: `refs/weft/receipts/<branch>/<name>`, the
/// name of the waiting ref it replaces.
pub const RECEIPT_NAMESPACE: &str = "refs/weft/receipts/";

/// A waiter, as its ref records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitRecord {
    pub branch: String,
    pub holder: Holder,
    /// When it started waiting (milliseconds since the Unix epoch).
    pub since: u64,
    /// When it gives up; after that the ref is stale.
    pub expires_at: u64,
    /// Whether the lock holder may land its commits (its HEAD is the
    /// record's parent).
    #[serde(default)]
    pub batch: bool,
    /// The waiter's HEAD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<String>,
}

/// What a holder leaves in a waiter's ref once it landed the waiter's
/// commits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub branch: String,
    /// The holder that landed them.
    pub landed_by: Holder,
    /// Its lock's token.
    pub token: Option<u64>,
    pub at: u64,
    /// The waiter's last commit as it landed (the receipt's parent).
    pub head: String,
    /// The branch after the landing push.
    pub tip: String,
    /// The waiter's commits as they landed, oldest first.
    pub commits: Vec<LandedCommit>,
    /// Conflicts resolved in them.
    #[serde(default)]
    pub conflicts: Vec<Resolution>,
}

/// The JSON message of a queue ref: a waiter or a receipt.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueRecord {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<WaitRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub landed: Option<Receipt>,
}

/// The receipt that replaces a waiting ref.
pub(crate) fn receipt_ref(waiting: &str) -> String {
    match waiting.strip_prefix(WAITING_NAMESPACE) {
        Some(rest) => format!("{RECEIPT_NAMESPACE}{rest}"),
        None => waiting.to_string(),
    }
}

/// `refs/weft/receipts/<branch>/`.
pub(crate) fn receipt_prefix(branch: &str) -> String {
    format!("{RECEIPT_NAMESPACE}{branch}/")
}

/// `refs/weft/waiting/<branch>/`.
pub(crate) fn prefix(branch: &str) -> String {
    format!("{WAITING_NAMESPACE}{branch}/")
}

/// The name of a queue entry of `branch`, if `reference` is one (and not
/// one of a branch nested below it).
pub(crate) fn entry_name<'a>(branch: &str, reference: &'a str) -> Option<&'a str> {
    let name = reference
        .strip_prefix(WAITING_NAMESPACE)?
        .strip_prefix(branch)?;
    let name = name.strip_prefix('/')?;
    (!name.contains('/') && since_of(name).is_some()).then_some(name)
}

/// A ref name for a new waiter: `<since>-<host>-<pid>-<random>`.
pub(crate) fn new_name(since: u64, holder: &Holder) -> String {
    let host: String = holder
        .host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!(
        "{since:013}-{host}-{}-{:08x}",
        holder.pid,
        fastrand::u32(..)
    )
}

/// When the waiter named `name` started waiting.
pub(crate) fn since_of(name: &str) -> Option<u64> {
    let digits = name.get(..13)?;
    if name.as_bytes().get(13) != Some(&b'-') {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_order_by_time_and_parse_back() {
        let holder = Holder {
            host: "runner.local".to_string(),
            pid: 7,
            ..Holder::default()
        };
        let early = new_name(999, &holder);
        let late = new_name(1_700_000_000_000, &holder);
        assert!(early < late);
        assert!(early.starts_with("0000000000999-runner-local-7-"));
        assert_eq!(since_of(&late), Some(1_700_000_000_000));
        let reference = format!("{}{late}", prefix("main"));
        assert_eq!(entry_name("main", &reference), Some(late.as_str()));
        let nested = format!("{}{late}", prefix("main/x"));
        assert_eq!(entry_name("main", &nested), None);
        assert_eq!(entry_name("main/x", &nested), Some(late.as_str()));
    }
}
