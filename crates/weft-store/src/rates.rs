//! The rates the alerts and the metrics report: the operations that
//! finished in a sliding window (the alert window, 15 minutes by default),
//! counted by 10 s bucket and kept.
//!
//! A busy server finishes thousands of operations a second, and the alert
//! loop asks every 15 s. Counting the whole window on every ask read every
//! operation in it again: at a sustained 8,000 a second, a 15-minute window
//! holds 7 million. Now a bucket is counted once it has settled
//! ([`SETTLE_MS`] after it ends) and kept, and each ask counts only the
//! buckets that settled since the last ask and what finished after the
//! last settled one: under a minute of operations, not the window's.
//!
//! What that gives up: an operation whose finish is committed more than
//! [`SETTLE_MS`] after the time it records (a transaction that slow, or a
//! replica whose clock is that far behind the others) is not counted; one
//! removed by another process's clean-up stays counted until its bucket
//! leaves the window (this process's clean-up forgets the kept buckets);
//! and the window's first bucket is left out unless the window starts with
//! it, so a window is short of its length by up to [`BUCKET_MS`].

use std::collections::BTreeMap;
use std::ops::AddAssign;
use std::sync::{Mutex, MutexGuard};

use sqlx::Row;

use crate::error::StoreError;
use crate::store::Store;
use crate::time::now_ms;

/// The length of a bucket.
const BUCKET_MS: i64 = 10_000;

/// How long after a bucket ends it is counted and kept: by then, it is
/// assumed, everything that finished in it has been committed.
const SETTLE_MS: i64 = 30_000;

/// The longest window counted by bucket (8,640 of them); a longer one (the
/// metrics' `timeRange` goes up to a year) is counted afresh on every ask.
const MAX_KEPT_MS: i64 = 24 * 60 * 60 * 1000;

/// Counts of the operations that finished in a window (the alert window,
/// or the range the metrics were asked for).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct WindowRates {
    /// Claims answered: granted, at once or after a wait, or refused.
    pub claims: u64,
    /// Claims that found their resource taken: refused, or granted after a
    /// wait.
    pub contended: u64,
    /// Operations of every kind.
    pub finished: u64,
    pub failed: u64,
    /// Resolutions that succeeded, and their average duration.
    pub resolutions: u64,
    pub resolution_ms: f64,
}

impl WindowRates {
    pub fn conflict_rate(&self) -> f64 {
        if self.claims == 0 {
            0.0
        } else {
            self.contended as f64 / self.claims as f64
        }
    }

    pub fn failure_rate(&self) -> f64 {
        if self.finished == 0 {
            0.0
        } else {
            self.failed as f64 / self.finished as f64
        }
    }
}

/// What finished in one bucket, or in several added up.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Counts {
    finished: u64,
    failed: u64,
    claims: u64,
    conflicts: u64,
    /// Claims granted after a wait.
    waited: u64,
    resolutions: u64,
    resolution_total_ms: i64,
}

impl AddAssign for Counts {
    fn add_assign(&mut self, other: Counts) {
        self.finished += other.finished;
        self.failed += other.failed;
        self.claims += other.claims;
        self.conflicts += other.conflicts;
        self.waited += other.waited;
        self.resolutions += other.resolutions;
        self.resolution_total_ms = self
            .resolution_total_ms
            .saturating_add(other.resolution_total_ms);
    }
}

impl Counts {
    fn rates(self) -> WindowRates {
        WindowRates {
            claims: self.claims,
            // A waited claim is among the claims counted (it was read
            // first, and an operation only ever finishes): only a clean-up
            // between the two reads could make this more.
            contended: (self.conflicts + self.waited).min(self.claims),
            finished: self.finished,
            failed: self.failed,
            resolutions: self.resolutions,
            resolution_ms: if self.resolutions > 0 {
                self.resolution_total_ms as f64 / self.resolutions as f64
            } else {
                0.0
            },
        }
    }
}

/// The settled buckets counted so far, shared by a store's clones.
#[derive(Debug, Default)]
pub(crate) struct KeptRates {
    /// Moves on when the buckets are forgotten: what was counted before
    /// then is not kept.
    generation: u64,
    /// By bucket number (a bucket's start over [`BUCKET_MS`]); buckets in
    /// which nothing finished are left out.
    buckets: BTreeMap<i64, Counts>,
    /// The buckets counted: `from` up to, not including, `to`. Nothing is
    /// counted while they are equal.
    from: i64,
    to: i64,
    /// The longest window asked for, which says how far back to keep.
    longest_ms: i64,
}

impl KeptRates {
    /// Forgets every bucket, to count again from bucket `at`.
    fn forget(&mut self, at: i64) {
        *self = KeptRates {
            generation: self.generation + 1,
            from: at,
            to: at,
            ..KeptRates::default()
        };
    }

    fn sum(&self, from: i64, to: i64) -> Counts {
        total(self.buckets.range(from..to).map(|(_, counts)| *counts))
    }
}

impl Store {
    /// The rates over the last `window_ms`, as the metrics and alerts see
    /// them: the operations that finished in it (see the module's docs).
    pub async fn window_rates(&self, window_ms: i64) -> Result<WindowRates, StoreError> {
        self.window_rates_at(window_ms, now_ms()).await
    }

    /// [`Store::window_rates`] as of `now`.
    pub(crate) async fn window_rates_at(
        &self,
        window_ms: i64,
        now: i64,
    ) -> Result<WindowRates, StoreError> {
        let since = now.saturating_sub(window_ms);
        // The first bucket wholly in the window, and the first not settled.
        let first = since.div_euclid(BUCKET_MS) + i64::from(since.rem_euclid(BUCKET_MS) != 0);
        let unsettled = now.saturating_sub(SETTLE_MS).div_euclid(BUCKET_MS);
        if window_ms > MAX_KEPT_MS || first >= unsettled {
            return Ok(self.count_finished(since, i64::MAX).await?.rates());
        }
        // What to count, decided under the lock and counted without it (two
        // asks at once may count the same buckets: a settled bucket's counts
        // are the same however often it is counted).
        let (generation, older, newer) = {
            let mut kept = lock(&self.kept_rates);
            // Nothing counted yet, the clock gone back, or a gap since the
            // last ask: start again.
            if kept.from == kept.to || unsettled < kept.to || first > kept.to {
                kept.forget(first);
            }
            (
                kept.generation,
                (first < kept.from).then_some((first, kept.from)),
                (kept.to < unsettled).then_some((kept.to, unsettled)),
            )
        };
        let mut counted = Vec::new();
        for (from, to) in [older, newer].into_iter().flatten() {
            let buckets = self.count(from * BUCKET_MS, to * BUCKET_MS, true).await?;
            counted.push((from, to, buckets));
        }
        let closed = {
            let mut kept = lock(&self.kept_rates);
            if kept.generation == generation {
                for (from, to, buckets) in counted {
                    // Only next to what is kept: the buckets in between
                    // would be missing.
                    if to >= kept.from && from <= kept.to {
                        kept.buckets.extend(buckets);
                        kept.from = kept.from.min(from);
                        kept.to = kept.to.max(to);
                    }
                }
                kept.longest_ms = kept.longest_ms.max(window_ms);
                let keep_from = now.saturating_sub(kept.longest_ms).div_euclid(BUCKET_MS);
                if keep_from > kept.from {
                    kept.buckets = kept.buckets.split_off(&keep_from);
                    kept.from = keep_from;
                }
            }
            (kept.generation == generation && kept.from <= first && unsettled <= kept.to)
                .then(|| kept.sum(first, unsettled))
        };
        let mut counts = match closed {
            Some(counts) => counts,
            // Forgotten meanwhile (a clean-up): counted afresh.
            None => {
                self.count_finished(first * BUCKET_MS, unsettled * BUCKET_MS)
                    .await?
            }
        };
        counts += self.count_finished(unsettled * BUCKET_MS, i64::MAX).await?;
        Ok(counts.rates())
    }

    /// Forgets the counted buckets: operations were removed.
    pub(crate) fn forget_rates(&self) {
        lock(&self.kept_rates).forget(0);
    }

    /// What finished from `from` up to `to` (milliseconds), in all.
    async fn count_finished(&self, from: i64, to: i64) -> Result<Counts, StoreError> {
        Ok(total(self.count(from, to, false).await?.into_values()))
    }

    /// What finished from `from` up to `to` (milliseconds): by bucket, or
    /// all of it under the key 0.
    async fn count(
        &self,
        from: i64,
        to: i64,
        by_bucket: bool,
    ) -> Result<BTreeMap<i64, Counts>, StoreError> {
        let (bucket, group) = if by_bucket {
            (
                format!("CAST(finished_at / {BUCKET_MS} AS BIGINT)"),
                "GROUP BY 1",
            )
        } else {
            ("CAST(0 AS BIGINT)".to_owned(), "")
        };
        let mut buckets: BTreeMap<i64, Counts> = BTreeMap::new();
        // A claim that waited took at least as long as its wait (it started
        // when it was queued): one that took no time did not wait. (Not
        // quite for a wait collected by a replica whose clock is behind the
        // granting one's, whose wait is the clocks' difference anyway, or
        // for a "claim" recorded through the operations API, which says
        // what it likes.) Read before the counts: see `Counts::rates`.
        let waited = sqlx::query(&format!(
            "SELECT {bucket} AS bucket, result FROM operations
             WHERE finished_at >= $1 AND finished_at < $2 AND kind = 'claim'
               AND status NOT IN ('active', 'conflict')
               AND (duration_ms IS NULL OR duration_ms <> 0)"
        ))
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        for row in waited {
            let result: Option<String> = row.try_get("result")?;
            let waited = result
                .and_then(|r| serde_json::from_str::<serde_json::Value>(&r).ok())
                .and_then(|r| r.get("waited_ms").and_then(serde_json::Value::as_i64))
                .unwrap_or(0);
            if waited > 0 {
                buckets.entry(row.try_get("bucket")?).or_default().waited += 1;
            }
        }
        let sum = |when: &str, value: &str| {
            format!("CAST(COALESCE(SUM(CASE WHEN {when} THEN {value} ELSE 0 END), 0) AS BIGINT)")
        };
        let resolved = "kind = 'resolution' AND status = 'succeeded'";
        let sql = format!(
            "SELECT {bucket} AS bucket,
                    CAST(COUNT(*) AS BIGINT) AS finished, {} AS failed, {} AS claims,
                    {} AS conflicts, {} AS resolutions, {} AS resolution_total
             FROM operations
             WHERE finished_at >= $1 AND finished_at < $2 AND status <> 'active'
             {group}",
            sum("status = 'failed'", "1"),
            sum("kind = 'claim'", "1"),
            sum("kind = 'claim' AND status = 'conflict'", "1"),
            sum(resolved, "1"),
            sum(resolved, "COALESCE(duration_ms, 0)"),
        );
        let rows = sqlx::query(&sql)
            .bind(from)
            .bind(to)
            .fetch_all(&self.pool)
            .await?;
        for row in rows {
            let count = |column: &str| -> Result<u64, StoreError> {
                let value: i64 = row.try_get(column)?;
                Ok(u64::try_from(value).unwrap_or(0))
            };
            let counts = buckets.entry(row.try_get("bucket")?).or_default();
            counts.finished = count("finished")?;
            counts.failed = count("failed")?;
            counts.claims = count("claims")?;
            counts.conflicts = count("conflicts")?;
            counts.resolutions = count("resolutions")?;
            counts.resolution_total_ms = row.try_get("resolution_total")?;
        }
        Ok(buckets)
    }
}

fn lock(kept: &Mutex<KeptRates>) -> MutexGuard<'_, KeptRates> {
    kept.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn total(counts: impl IntoIterator<Item = Counts>) -> Counts {
    let mut total = Counts::default();
    for one in counts {
        total += one;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LeasePolicy;

    /// An operation as the test wrote it.
    struct Written {
        finished_at: Option<i64>,
        kind: &'static str,
        status: &'static str,
        duration_ms: i64,
        waited_ms: i64,
    }

    async fn write(
        store: &Store,
        rows: &mut Vec<Written>,
        rng: &mut fastrand::Rng,
        from: i64,
        to: i64,
    ) {
        let kind = ["claim", "claim", "claim", "resolution", "analysis"][rng.usize(..5)];
        let status = ["succeeded", "succeeded", "failed", "conflict", "active"][rng.usize(..5)];
        let finished_at = (status != "active").then(|| rng.i64(from..to));
        let duration_ms = if rng.bool() { 0 } else { rng.i64(1..600_000) };
        let waited_ms = if rng.bool() {
            0
        } else {
            rng.i64(1..duration_ms.max(2))
        };
        sqlx::query(
            "INSERT INTO operations (id, kind, status, started_at, finished_at, duration_ms, result)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(crate::types::new_id())
        .bind(kind)
        .bind(status)
        .bind(finished_at.unwrap_or(to) - duration_ms)
        .bind(finished_at)
        .bind(duration_ms)
        .bind(format!(r#"{{"waited_ms":{waited_ms}}}"#))
        .execute(&store.pool)
        .await
        .expect("insert an operation");
        rows.push(Written {
            finished_at,
            kind,
            status,
            duration_ms,
            waited_ms,
        });
    }

    /// The rates counted one row at a time, over what finished at or after
    /// `from`.
    fn expected(rows: &[Written], from: i64) -> WindowRates {
        let mut counts = Counts::default();
        for row in rows
            .iter()
            .filter(|r| r.finished_at.is_some_and(|f| f >= from))
        {
            let claim = row.kind == "claim";
            let resolved = row.kind == "resolution" && row.status == "succeeded";
            counts += Counts {
                finished: 1,
                failed: u64::from(row.status == "failed"),
                claims: u64::from(claim),
                conflicts: u64::from(claim && row.status == "conflict"),
                waited: u64::from(
                    claim && row.status != "conflict" && row.duration_ms != 0 && row.waited_ms > 0,
                ),
                resolutions: u64::from(resolved),
                resolution_total_ms: if resolved { row.duration_ms } else { 0 },
            };
        }
        counts.rates()
    }

    /// Where a window asked for at `now` starts: the first bucket wholly
    /// in it, when its buckets are kept.
    fn start(window_ms: i64, now: i64) -> i64 {
        let since = now - window_ms;
        let first = since.div_euclid(BUCKET_MS) + i64::from(since.rem_euclid(BUCKET_MS) != 0);
        let unsettled = (now - SETTLE_MS).div_euclid(BUCKET_MS);
        let start = if window_ms > MAX_KEPT_MS || first >= unsettled {
            since
        } else {
            first * BUCKET_MS
        };
        assert!(since <= start && start < since + BUCKET_MS);
        start
    }

    /// Random operations, and asks of random windows as time goes on, with
    /// more operations finishing meanwhile (each written within the settle
    /// time of when it says it finished): every answer is what counting
    /// every row gives.
    async fn kept_rates_match_a_full_count(store: Store) {
        let mut rng = fastrand::Rng::with_seed(7);
        let mut rows = Vec::new();
        // Hours before the clock, so that a clean-up removes every one.
        let mut now = now_ms() - 3 * 3_600_000;
        for _ in 0..400 {
            write(&store, &mut rows, &mut rng, now - 26 * 3_600_000, now).await;
        }
        // 30 s and 25 h: counted afresh.
        let windows = [
            30_000,
            60_000,
            5 * 60_000,
            15 * 60_000,
            2 * 3_600_000,
            25 * 3_600_000,
        ];
        for step in 0..60 {
            now += rng.i64(1..45_000);
            for _ in 0..rng.usize(0..6) {
                write(&store, &mut rows, &mut rng, now - SETTLE_MS + 1, now + 1).await;
            }
            if step == 30 {
                store.forget_rates();
            }
            // The clock goes back a minute.
            if step == 45 {
                now -= 60_000;
            }
            let window = windows[rng.usize(..windows.len())];
            let rates = store.window_rates_at(window, now).await.expect("rates");
            assert_eq!(
                rates,
                expected(&rows, start(window, now)),
                "step {step}, window {window} ms, now {now}"
            );
        }
        // Nothing new: asking again counts the same.
        for window in [2 * 3_600_000, 15 * 60_000, 15 * 60_000] {
            let rates = store.window_rates_at(window, now).await.expect("rates");
            assert_eq!(rates, expected(&rows, start(window, now)));
        }
        // An hour on, the buckets that left the longest window are dropped.
        now += 3_600_000 + 5_000;
        let rates = store
            .window_rates_at(2 * 3_600_000, now)
            .await
            .expect("rates");
        assert_eq!(rates, expected(&rows, start(2 * 3_600_000, now)));
        {
            let kept = lock(&store.kept_rates);
            assert!(kept.from < kept.to, "buckets were kept");
            // Kept as far back as the longest window counted by bucket, and
            // no further.
            assert_eq!(kept.longest_ms, 2 * 3_600_000);
            let oldest = (now - kept.longest_ms).div_euclid(BUCKET_MS);
            assert!(oldest <= kept.from && kept.from * BUCKET_MS <= start(2 * 3_600_000, now));
            assert!(kept.buckets.keys().all(|bucket| *bucket >= oldest));
        }
        // A clean-up that removes the finished operations forgets what was
        // counted of them.
        let removed = store.cleanup(Some(0)).await.expect("clean up");
        assert!(removed.operations > 0);
        rows.retain(|row| row.finished_at.is_none());
        let rates = store
            .window_rates_at(2 * 3_600_000, now)
            .await
            .expect("rates");
        assert_eq!(rates, WindowRates::default());
        assert_eq!(rates, expected(&rows, start(2 * 3_600_000, now)));
    }

    #[tokio::test]
    async fn kept_rates_match_a_full_count_on_sqlite() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("state.db").display());
        let store = Store::open(&url, LeasePolicy::default())
            .await
            .expect("open");
        kept_rates_match_a_full_count(store).await;
    }

    #[tokio::test]
    async fn kept_rates_match_a_full_count_on_postgres() {
        let Some(mut postgres) = weft_testkit::Postgres::start("rates::kept_rates") else {
            return;
        };
        let store = Store::open(&postgres.database(), LeasePolicy::default())
            .await
            .expect("open");
        kept_rates_match_a_full_count(store).await;
    }
}
