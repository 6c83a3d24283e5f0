//! An entry of the builder: one service as it is being put together from
//! the facts that describe it.

use std::ops::Range;

use foldhash::HashMap;
use weft_model::{Provenance, ServiceId};

#[derive(Debug)]
pub(super) struct Entry {
    pub(super) id: ServiceId,
    pub(super) repository: String,
    pub(super) name: String,
    pub(super) sources: Sources,
    pub(super) image: Option<String>,
    pub(super) command: Option<String>,
    /// Sorted, without repeats.
    pub(super) aliases: Vec<String>,
    /// Sorted, without repeats.
    pub(super) directories: Vec<String>,
    pub(super) provenance: Vec<Provenance>,
}

impl Entry {
    pub(super) fn new(
        id: ServiceId,
        repository: String,
        name: String,
        source: &'static str,
    ) -> Self {
        let mut sources = Sources::default();
        sources.insert(source);
        Entry {
            id,
            repository,
            name,
            sources,
            image: None,
            command: None,
            aliases: Vec::new(),
            directories: Vec::new(),
            provenance: Vec::new(),
        }
    }

    /// Whether the service runs an image of this name (`nginx`, `traefik`).
    pub(super) fn runs(&self, image: &str) -> bool {
        self.image.as_deref().is_some_and(|i| i.contains(image))
    }
}

/// Adds `value` to a sorted vector without repeats.
pub(super) fn insert_sorted(values: &mut Vec<String>, value: &str) {
    if let Err(at) = values.binary_search_by(|v| v.as_str().cmp(value)) {
        values.insert(at, value.to_string());
    }
}

/// Where a service is described: a few names, kept as a set of bits.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Sources(u8);

impl Sources {
    /// Every source, in the order a service lists them.
    const NAMES: [&'static str; 5] = ["compose", "kubernetes", "nginx", "procfile", "weft.yaml"];

    pub(super) fn insert(&mut self, source: &str) {
        let bit = Self::NAMES
            .iter()
            .position(|name| *name == source)
            .expect("a source weft knows");
        self.0 |= 1 << bit;
    }

    pub(super) fn names(self) -> Vec<&'static str> {
        Self::NAMES
            .iter()
            .enumerate()
            .filter(|(bit, _)| self.0 & (1 << bit) != 0)
            .map(|(_, name)| *name)
            .collect()
    }
}

/// The entries in the order of their ids, stable: entries that share an id
/// stay in the order they were made. Entries are made one repository after
/// another (`starts`: where each repository's begin, in order), and the ids
/// of one repository's share its name as their prefix; so each
/// repository's run is sorted on its own and, unless two runs interleave
/// (then all are sorted together), the runs are put in the order of their
/// first ids: a few comparisons per entry rather than a sort of them all.
pub(super) fn id_order(entries: &[Entry], starts: &[usize]) -> Vec<usize> {
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

/// The places of the edges `edge_index` holds (by their ends' entries), in
/// the order of their ends' ranks (`rank`: each entry's place in id order).
/// Ranks run from 0 to the number of entries: the edges are placed by
/// their source's rank (a counting sort), then each source's few are
/// sorted by their target's.
pub(super) fn edge_order(rank: &[usize], edge_index: HashMap<(usize, usize), usize>) -> Vec<usize> {
    let mut starts = vec![0usize; rank.len() + 1];
    for &(from, _) in edge_index.keys() {
        starts[rank[from] + 1] += 1;
    }
    for place in 1..starts.len() {
        starts[place] += starts[place - 1];
    }
    let mut next = starts.clone();
    // (the target's rank, the edge's place)
    let mut keys = vec![(0usize, 0usize); edge_index.len()];
    for ((from, to), index) in edge_index {
        let slot = &mut next[rank[from]];
        keys[*slot] = (rank[to], index);
        *slot += 1;
    }
    for bounds in starts.windows(2) {
        keys[bounds[0]..bounds[1]].sort_unstable();
    }
    keys.into_iter().map(|(_, index)| index).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::SourceKind;

    #[test]
    fn every_source_has_a_bit_and_they_list_in_name_order() {
        // A kind of source added without a bit fails to compile here.
        let name = |kind: SourceKind| match kind {
            SourceKind::Compose
            | SourceKind::Kubernetes
            | SourceKind::Nginx
            | SourceKind::Procfile => kind.as_str(),
        };
        let mut sources = Sources::default();
        assert!(sources.names().is_empty());
        for kind in [
            SourceKind::Procfile,
            SourceKind::Nginx,
            SourceKind::Kubernetes,
            SourceKind::Compose,
        ] {
            sources.insert(name(kind));
        }
        sources.insert("weft.yaml");
        sources.insert("compose");
        let names = sources.names();
        assert_eq!(
            names,
            ["compose", "kubernetes", "nginx", "procfile", "weft.yaml"]
        );
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted, "services list their sources sorted");
    }

    #[test]
    fn sorted_vectors_keep_one_of_each() {
        let mut values = Vec::new();
        for value in ["web", "api", "web", "db", "api"] {
            insert_sorted(&mut values, value);
        }
        assert_eq!(values, ["api", "db", "web"]);
    }

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
