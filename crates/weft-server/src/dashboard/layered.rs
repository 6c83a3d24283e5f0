//! A layered drawing of the service graph, done on the server: one column
//! per deployment phase (what starts first on the left), nodes ordered in
//! each column to keep edges short and crossings few.
//!
//! How it works: the columns are the plan's phases, so every required edge
//! points from a later column to an earlier one. Inside a column, nodes
//! start in (repository, name) order, then a few sweeps of the barycentre
//! heuristic (Sugiyama's second step) move each node towards the mean
//! position of its neighbours in the columns already placed, left to right
//! and back. Each sweep is O(edges + nodes log nodes), so a thousand
//! services lay out in milliseconds. Ties keep the previous order, so the
//! drawing is the same every time.

/// The layout's input: each node's column and starting rank, and the edges
/// as pairs of node indices.
#[derive(Debug, Clone)]
pub(crate) struct Layering {
    pub(crate) columns: Vec<Vec<usize>>,
    pub(crate) edges: Vec<(usize, usize)>,
}

/// Where each node goes: its column and its row in that column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Placement {
    pub(crate) column: Vec<usize>,
    pub(crate) row: Vec<usize>,
    /// The most rows any column has.
    pub(crate) rows: usize,
}

const SWEEPS: usize = 4;

/// Orders each column to shorten edges. `layering.columns` must hold every
/// node index below the count exactly once.
pub(crate) fn place(layering: &Layering, nodes: usize) -> Placement {
    let mut column = vec![0; nodes];
    let mut row = vec![0; nodes];
    for (c, members) in layering.columns.iter().enumerate() {
        for (r, &node) in members.iter().enumerate() {
            column[node] = c;
            row[node] = r;
        }
    }
    let mut neighbours: Vec<Vec<usize>> = vec![Vec::new(); nodes];
    for &(a, b) in &layering.edges {
        if a != b && column[a] != column[b] {
            neighbours[a].push(b);
            neighbours[b].push(a);
        }
    }
    let mut columns = layering.columns.clone();
    for sweep in 0..SWEEPS {
        let forward = sweep % 2 == 0;
        let order: Vec<usize> = if forward {
            (1..columns.len()).collect()
        } else {
            (0..columns.len().saturating_sub(1)).rev().collect()
        };
        for c in order {
            // The mean row of the neighbours in the column just placed
            // (the one before in this sweep's direction); nodes with none
            // keep their place.
            let reference = if forward { c - 1 } else { c + 1 };
            let mut keyed: Vec<(f64, usize, usize)> = columns[c]
                .iter()
                .enumerate()
                .map(|(current, &node)| {
                    let (sum, count) = neighbours[node]
                        .iter()
                        .filter(|&&other| column[other] == reference)
                        .fold((0.0, 0usize), |(sum, count), &other| {
                            (sum + row[other] as f64, count + 1)
                        });
                    let key = if count == 0 {
                        current as f64
                    } else {
                        sum / count as f64
                    };
                    (key, current, node)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            columns[c] = keyed.into_iter().map(|(_, _, node)| node).collect();
            for (r, &node) in columns[c].iter().enumerate() {
                row[node] = r;
            }
        }
    }
    let rows = columns.iter().map(Vec::len).max().unwrap_or(0);
    Placement { column, row, rows }
}

/// How many pairs of edges between the same two adjacent columns cross.
#[cfg(test)]
pub(crate) fn crossings(placement: &Placement, edges: &[(usize, usize)]) -> usize {
    let spans: Vec<(usize, usize, usize)> = edges
        .iter()
        .filter_map(|&(a, b)| {
            let (ca, cb) = (placement.column[a], placement.column[b]);
            let (left, right) = if ca < cb { (a, b) } else { (b, a) };
            (ca.abs_diff(cb) == 1).then(|| {
                (
                    placement.column[left],
                    placement.row[left],
                    placement.row[right],
                )
            })
        })
        .collect();
    let mut count = 0;
    for (i, x) in spans.iter().enumerate() {
        for y in &spans[i + 1..] {
            if x.0 == y.0 && ((x.1 < y.1 && x.2 > y.2) || (x.1 > y.1 && x.2 < y.2)) {
                count += 1;
            }
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweeps_undo_a_crossing() {
        // Column 0: a(0) b(1); column 1: c(2) needs b, d(3) needs a.
        let layering = Layering {
            columns: vec![vec![0, 1], vec![2, 3]],
            edges: vec![(2, 1), (3, 0)],
        };
        let before = Placement {
            column: vec![0, 0, 1, 1],
            row: vec![0, 1, 0, 1],
            rows: 2,
        };
        assert_eq!(crossings(&before, &layering.edges), 1);
        let after = place(&layering, 4);
        assert_eq!(crossings(&after, &layering.edges), 0);
        assert_eq!(after.rows, 2);
    }

    #[test]
    fn the_drawing_is_the_same_every_time() {
        let layering = Layering {
            columns: vec![vec![0, 1, 2], vec![3, 4, 5], vec![6]],
            edges: vec![(3, 2), (4, 0), (5, 1), (6, 3), (6, 5)],
        };
        let first = place(&layering, 7);
        for _ in 0..5 {
            assert_eq!(place(&layering, 7), first);
        }
        let mut seen = first.row.clone();
        seen.sort_unstable();
        assert_eq!(seen, vec![0, 0, 0, 1, 1, 2, 2]);
    }
}
