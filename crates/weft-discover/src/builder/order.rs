//! The order of the model's services (by id) and edges (by their ends'
//! places in it), found without sorting them all.

use std::ops::Range;

use foldhash::HashMap;

use super::entry::Entry;

/// The entries in the order of their ids, stable: entries that share an id
/// stay in the order they were made.
///
/// Entries are named one repository after another (`starts`: where each
/// repository's entries begin, in order; the last run also holds those made
/// after naming, such as synthetic nginx services and services only
/// weft.yaml defines), and the ids of one repository's entries share its
/// name as their prefix. So each run is sorted on its own and, unless two
/// runs interleave (then all are sorted together), the runs are put in the
/// order of their first ids: a few comparisons per entry rather than a sort
/// of them all.
pub(super) fn id_order(entries: &[Entry], starts: &[usize]) -> Vec<usize> {
    debug_assert!(starts.is_sorted(), "runs begin in order");
    let id = |entry: usize| &entries[entry].id;
    let bounds: Vec<usize> = [0]
        .into_iter()
        .chain(starts.iter().copied())
        .chain([entries.len()])
        .collect();
    let mut runs: Vec<Range<usize>> = bounds
        .windows(2)
        .filter(|pair| pair[0] < pair[1])
        .map(|pair| pair[0]..pair[1])
        .collect();
    let mut order: Vec<usize> = (0..entries.len()).collect();
    for run in &runs {
        order[run.clone()].sort_by(|&a, &b| id(a).cmp(id(b)));
    }
    runs.sort_by(|a, b| id(order[a.start]).cmp(id(order[b.start])));
    let apart = runs
        .windows(2)
        .all(|pair| id(order[pair[0].end - 1]) < id(order[pair[1].start]));
    if apart {
        return runs
            .iter()
            .flat_map(|run| order[run.clone()].iter().copied())
            .collect();
    }
    // Each run sorted, the runs in the order they were made: a stable sort
    // keeps the entries of one id in the order they were made.
    order.sort_by(|&a, &b| id(a).cmp(id(b)));
    order
}

/// The places of the edges `edge_index` holds (keyed by the entries at
/// their ends), in the order of their ends' ranks. `rank` gives each
/// entry's place in id order: a permutation of `0..rank.len()`, which every
/// end is below. The edges are placed by their source's rank (a counting
/// sort), then each source's few are sorted by their target's.
pub(super) fn edge_order(rank: &[usize], edge_index: HashMap<(usize, usize), usize>) -> Vec<usize> {
    // Where each source's edges begin.
    let mut buckets = vec![0usize; rank.len() + 1];
    for &(from, _) in edge_index.keys() {
        buckets[rank[from] + 1] += 1;
    }
    for place in 1..buckets.len() {
        buckets[place] += buckets[place - 1];
    }
    let mut next = buckets.clone();
    // (the target's rank, the edge's place)
    let mut keys = vec![(0usize, 0usize); edge_index.len()];
    for ((from, to), index) in edge_index {
        let slot = &mut next[rank[from]];
        keys[*slot] = (rank[to], index);
        *slot += 1;
    }
    for bounds in buckets.windows(2) {
        keys[bounds[0]..bounds[1]].sort_unstable();
    }
    keys.into_iter().map(|(_, index)| index).collect()
}

#[cfg(test)]
mod tests {
    use weft_model::ServiceId;

    use super::*;

    fn entries(ids: &[&str]) -> Vec<Entry> {
        ids.iter()
            .map(|id| {
                Entry::new(
                    ServiceId::from(*id),
                    String::new(),
                    String::new(),
                    "compose",
                )
            })
            .collect()
    }

    /// What `id_order` must equal: a stable sort of the entries by id.
    fn sorted(entries: &[Entry]) -> Vec<usize> {
        let mut order: Vec<usize> = (0..entries.len()).collect();
        order.sort_by(|&a, &b| entries[a].id.cmp(&entries[b].id));
        order
    }

    #[test]
    fn runs_that_do_not_interleave_are_put_in_order_whole() {
        // Repositories listed out of id order (`a-b/…` sorts before `a/…`),
        // each run unsorted, an empty run, and entries made after the last.
        let entries = entries(&["a/web", "a/api", "a-b/x", "a-b/db", "z/one"]);
        let order = id_order(&entries, &[0, 2, 2, 4]);
        assert_eq!(order, [3, 2, 1, 0, 4]);
        assert_eq!(order, sorted(&entries));
    }

    #[test]
    fn runs_that_interleave_or_share_ids_keep_the_order_they_were_made() {
        // A run whose ids fall between another's, and one id made twice.
        let entries = entries(&["r/b", "r/d", "x/q", "r/c", "r/b", "a/a"]);
        let order = id_order(&entries, &[0, 2, 3]);
        assert_eq!(order, [5, 0, 4, 3, 1, 2]);
        assert_eq!(order, sorted(&entries));
    }

    #[test]
    fn an_id_made_again_in_a_later_run_stays_after_the_first() {
        // The later run starts lower but ends on the earlier run's id.
        let entries = entries(&["s/b", "s/a", "s/b"]);
        assert_eq!(id_order(&entries, &[0, 1]), [1, 0, 2]);
    }

    proptest::proptest! {
        #[test]
        fn the_order_is_a_stable_sort_by_id(
            // Few letters, so that ids repeat and runs interleave.
            ids in proptest::collection::vec("[ab]{0,2}", 0..24),
            cuts in proptest::collection::vec(0usize..24, 0..6),
        ) {
            let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
            let entries = entries(&ids);
            let mut starts: Vec<usize> = cuts.into_iter().map(|c| c.min(ids.len())).collect();
            starts.sort_unstable();
            proptest::prop_assert_eq!(id_order(&entries, &starts), sorted(&entries));
        }

        #[test]
        fn edges_come_in_the_order_of_their_ends_ranks(
            n in 1usize..12,
            pairs in proptest::collection::btree_set((0usize..12, 0usize..12), 0..40),
            seed in proptest::prelude::any::<u64>(),
        ) {
            // A permutation of 0..n for the ranks, and the edges among n entries.
            let mut rank: Vec<usize> = (0..n).collect();
            let mut state = seed | 1;
            for i in (1..n).rev() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                rank.swap(i, (state % (i as u64 + 1)) as usize);
            }
            let pairs: Vec<(usize, usize)> =
                pairs.into_iter().filter(|&(a, b)| a < n && b < n).collect();
            let edge_index: HashMap<(usize, usize), usize> =
                pairs.iter().enumerate().map(|(index, &pair)| (pair, index)).collect();
            let mut expected: Vec<usize> = (0..pairs.len()).collect();
            expected.sort_by_key(|&index| (rank[pairs[index].0], rank[pairs[index].1]));
            proptest::prop_assert_eq!(edge_order(&rank, edge_index), expected);
        }
    }
}
