//! What the engine's transactions left in the resources they locked, kept
//! with its connection, so that a batch over those resources can be decided
//! before its transaction begins and be written in one round trip instead
//! of two.
//!
//! A batch decided from the cache is only as good as the cache, so its
//! round trip checks it first, and on any difference fails before anything
//! is written: the transaction is rolled back and the batch is loaded and
//! decided again as usual. So a batch decided from the cache decides what
//! it would have decided from a load. How it checks depends on the
//! backend.
//!
//! On PostgreSQL, after locking the batch's resources, the write's
//! statement first compares the rows the batch would have loaded (its
//! resources, their leases and waiters, and any lease or waiter whose id a
//! claim gives) with those the cache holds, by id and `xmin`. A row's
//! `xmin` is the transaction that wrote its version: any change by anyone (another
//! replica's engine, a renewal, a cancelled wait, a resource deleted or
//! made again) gives a row another one, or adds or removes a row. Locked,
//! the rows cannot change until the commit. The versions come from the
//! transactions themselves: those of the rows a batch loaded, and for each
//! row it wrote, its own transaction id. This relies on what the engine's
//! writes already rely on: that `changes` in `sql/changes.rs` writes every
//! change a batch makes to a row (a lease is only ever added or removed; of
//! a waiter, only its lease and heartbeat change). A resource is used from
//! the cache only within a minute of its last batch: a row's `xmin` is a
//! 32-bit counter, and for a row changed by another writer to show the kept
//! value again, four billion transactions would have to pass between two
//! uses.
//!
//! On SQLite a row's version is the database's: the connection's
//! `data_version`, which moves when another connection (of this process or
//! another) commits, and never for the connection's own commits. The cache
//! keeps only rows read or written at the latest version its transactions
//! saw (`at_version`), and a batch from the cache begins its transaction
//! (`BEGIN IMMEDIATE`, which holds off every other writer until the
//! commit) and checks that the version is still that one. What that cannot
//! see are the rows a claim's request id names on another resource, which
//! the engine's own batches may have written: the check looks for those
//! too. Any commit by another connection (a renewal, a cancelled wait, a
//! deployment) fails the check, and empties the cache; checkpoints do not.
//! (`data_version` is a 32-bit counter too: the minute bound covers it.)

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use super::sql::{Check, json_text, row_version, row_versions};
use super::{Batch, Loaded, Op, Slot};

/// The most resources kept; past it the cache starts again.
const MAX_RESOURCES: usize = 4096;

/// How long after its last batch a resource is used from the cache.
const MAX_AGE: Duration = Duration::from_secs(60);

/// How long after its last commit the connection's cache is used. The
/// first round trip of a batch from the cache commits: should the server
/// have gone away meanwhile without a word (a crash, a cut network), its
/// error could not tell whether the commit was made. A connection idle
/// longer is tried with a batch's load first, which commits nothing.
const FRESH: Duration = Duration::from_secs(1);

/// How long resources whose check found them changed are not kept. Another
/// replica that takes turns on them with this one would change them
/// between any two of its batches: each batch from the cache would cost
/// the failed round trip and the rollback on top of the load.
const CONTENDED: Duration = Duration::from_secs(1);

/// The version of each row `ids` names: `xid` for those in `written`, else
/// the one `loaded` has; `None` if one has none.
fn versions_of<'a>(
    ids: impl Iterator<Item = &'a String>,
    written: &BTreeSet<String>,
    loaded: &HashMap<String, String>,
    xid: &str,
) -> Option<HashMap<String, String>> {
    ids.map(|id| {
        let version = if written.contains(id) {
            xid.to_owned()
        } else {
            loaded.get(id)?.clone()
        };
        Some((id.clone(), version))
    })
    .collect()
}

/// The ids of the leases and of the waiters a batch's write inserted or
/// updated. (Two sets: a granted waiter's lease has the waiter's id.)
#[derive(Debug, Default)]
pub(super) struct Written {
    pub(super) leases: BTreeSet<String>,
    pub(super) waiters: BTreeSet<String>,
}

/// The version of each row of a slot, as text: its `xmin` (PostgreSQL), or
/// the database's `data_version` (SQLite).
#[derive(Debug, Clone, Default)]
pub(super) struct Versions {
    pub(super) resource: Option<String>,
    pub(super) leases: HashMap<String, String>,
    pub(super) waiters: HashMap<String, String>,
}

#[derive(Debug, Clone)]
struct Entry {
    slot: Slot,
    versions: Versions,
    /// When it was kept.
    at: Instant,
}

/// The committed state of resources the engine locked, by resource id.
#[derive(Debug, Default)]
pub(super) struct Cache {
    entries: HashMap<String, Entry>,
    /// Lease id → resource id, for releases.
    leases: HashMap<String, String>,
    /// When the connection last committed a batch.
    committed: Option<Instant>,
    /// Resources another writer changed, and until when they are not kept.
    contended: HashMap<String, Instant>,
    /// SQLite: the version of the database every kept row was read or
    /// written at (see `at_version`).
    database: Option<String>,
}

impl Cache {
    /// A batch of `ops` over the cached state, and what its round trip
    /// checks, if the cache holds every resource they name and every lease
    /// they give back. With `fresh`, only within [`FRESH`] of the
    /// connection's last commit (a server's connection, which can go away
    /// without a word; not SQLite's).
    pub(super) fn batch(&self, ops: &[Op], now: i64, fresh: bool) -> Option<(Batch, Check)> {
        if fresh && self.committed?.elapsed() > FRESH {
            return None;
        }
        let mut resources = BTreeSet::new();
        let mut by_id = Vec::new();
        for op in ops {
            let resource = match op {
                Op::Acquire(claim) => {
                    by_id.extend(claim.request.request.as_deref());
                    claim.request.resource.to_string()
                }
                Op::Release(lease) => self.leases.get(lease)?.clone(),
            };
            if self.entries.get(&resource)?.at.elapsed() > MAX_AGE {
                return None;
            }
            resources.insert(resource);
        }
        let mut batch = Batch::new(now);
        let mut expected = Vec::new();
        for id in &resources {
            let entry = self.entries.get(id)?;
            if self.database.is_none() {
                let versions = &entry.versions;
                expected.push(row_version('r', id, versions.resource.as_deref()?));
                for lease in &entry.slot.leases {
                    expected.push(row_version('l', &lease.id, versions.leases.get(&lease.id)?));
                }
                for waiter in &entry.slot.waiters {
                    expected.push(row_version(
                        'w',
                        &waiter.id,
                        versions.waiters.get(&waiter.id)?,
                    ));
                }
            }
            batch.slots.insert(id.clone(), entry.slot.clone());
        }
        batch.remember(|id| Some(self.entries.get(id)?.versions.clone()));
        let resources: Vec<String> = resources.into_iter().collect();
        let check = Check {
            // (Writing a list of strings does not fail.)
            ids: json_text(&resources).ok()?,
            resources,
            by_id: by_id.into_iter().map(str::to_owned).collect(),
            expected: row_versions(expected),
            version: self.database.clone(),
        };
        Some((batch, check))
    }

    /// SQLite, where a row's version is the database's: notes that the
    /// connection's transaction read and wrote at `version`, forgetting
    /// what was kept at another (another connection committed since).
    pub(super) fn at_version(&mut self, version: &str) {
        if self.database.as_deref() != Some(version) {
            self.clear();
            self.database = Some(version.to_owned());
        }
    }

    /// Keeps what the committed transaction `xid` left in the slots of a
    /// batch: each row's version is `xid` for the rows it wrote (`written`:
    /// the leases and waiters inserted or updated, and a resource whose
    /// fence moved), else the one it loaded. A slot with a row of no known
    /// version (a load that did not read them) is not kept.
    pub(super) fn committed_batch(
        &mut self,
        slots: BTreeMap<String, Slot>,
        loaded: &BTreeMap<String, Loaded>,
        written: &Written,
        xid: &str,
    ) {
        for (id, slot) in slots {
            let Some(loaded) = loaded.get(&id) else {
                self.forget(&id);
                continue;
            };
            let resource = if slot.resource.fence != loaded.fence {
                Some(xid.to_owned())
            } else {
                loaded.versions.resource.clone()
            };
            let leases = versions_of(
                slot.leases.iter().map(|lease| &lease.id),
                &written.leases,
                &loaded.versions.leases,
                xid,
            );
            let waiters = versions_of(
                slot.waiters.iter().map(|waiter| &waiter.id),
                &written.waiters,
                &loaded.versions.waiters,
                xid,
            );
            match (resource, leases, waiters) {
                (Some(resource), Some(leases), Some(waiters)) => {
                    let versions = Versions {
                        resource: Some(resource),
                        leases,
                        waiters,
                    };
                    self.keep(id, slot, versions);
                }
                _ => self.forget(&id),
            }
        }
    }

    /// Keeps what a committed batch left in `resource`.
    fn keep(&mut self, resource: String, slot: Slot, versions: Versions) {
        self.forget(&resource);
        if let Some(until) = self.contended.get(&resource) {
            if Instant::now() < *until {
                return;
            }
            self.contended.remove(&resource);
        }
        if self.entries.len() >= MAX_RESOURCES {
            self.clear();
        }
        for lease in &slot.leases {
            self.leases.insert(lease.id.clone(), resource.clone());
        }
        self.entries.insert(
            resource,
            Entry {
                slot,
                versions,
                at: Instant::now(),
            },
        );
    }

    fn forget(&mut self, resource: &str) {
        if let Some(entry) = self.entries.remove(resource) {
            for lease in &entry.slot.leases {
                self.leases.remove(&lease.id);
            }
        }
    }

    /// Notes that the connection committed a batch.
    pub(super) fn committed(&mut self) {
        self.committed = Some(Instant::now());
    }

    /// Forgets everything, after a check found `resources` changed by
    /// another writer: they are not kept for a while (PostgreSQL, where the
    /// check finds the rows that changed).
    pub(super) fn stale(&mut self, resources: &[String]) {
        self.clear();
        let now = Instant::now();
        self.contended.retain(|_, until| now < *until);
        let until = now + CONTENDED;
        if self.contended.len() < MAX_RESOURCES {
            self.contended
                .extend(resources.iter().map(|resource| (resource.clone(), until)));
        }
    }

    pub(super) fn clear(&mut self) {
        self.entries.clear();
        self.leases.clear();
        self.database = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Resource, ResourceId};

    fn slot(id: &str) -> Slot {
        Slot {
            resource: Resource {
                id: ResourceId::parse(id).expect("resource id"),
                kind: "lock".to_owned(),
                identifier: id.trim_start_matches("lock:").to_owned(),
                capacity: 1,
                metadata: serde_json::Value::Null,
                fence: 0,
            },
            leases: Vec::new(),
            waiters: Vec::new(),
        }
    }

    fn versions() -> Versions {
        Versions {
            resource: Some("7".to_owned()),
            ..Versions::default()
        }
    }

    /// What the check on PostgreSQL compares: rows in byte order (as
    /// `COLLATE "C"` sorts them), each read one way however its id runs on
    /// into the next row's text.
    #[test]
    fn row_versions_are_in_byte_order_and_read_one_way() {
        assert_eq!(row_version('l', "ab:c", "12"), "l12,4:ab:c");
        assert_eq!(
            row_versions(vec![
                row_version('w', "b", "1"),
                row_version('r', "lock:é", "1"),
                row_version('r', "lock:z", "1"),
                row_version('l', "a", "1"),
            ]),
            "l1,1:ar1,6:lock:zr1,6:lock:éw1,1:b"
        );
        // Without the id's length, two rows would read as one (`r7:a` and
        // `r7:b` as `r7:ar7:b`).
        assert_ne!(
            row_versions(vec![row_version('r', "a", "7"), row_version('r', "b", "7")]),
            row_versions(vec![row_version('r', "ar7:b", "7")])
        );
    }

    #[test]
    fn a_resource_another_writer_changed_is_not_kept_for_a_while() {
        let mut cache = Cache::default();
        cache.keep("lock:x".to_owned(), slot("lock:x"), versions());
        cache.keep("lock:y".to_owned(), slot("lock:y"), versions());
        cache.stale(&["lock:x".to_owned()]);
        assert!(
            cache.entries.is_empty(),
            "a failed check forgets everything"
        );
        cache.keep("lock:x".to_owned(), slot("lock:x"), versions());
        cache.keep("lock:y".to_owned(), slot("lock:y"), versions());
        assert!(!cache.entries.contains_key("lock:x"), "contended: not kept");
        assert!(cache.entries.contains_key("lock:y"));
    }
}
