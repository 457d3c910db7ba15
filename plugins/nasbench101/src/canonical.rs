//! A canonical code of a cell: equal exactly for isomorphic cells.
//!
//! The official module hash takes about 60 MD5 digests for a 7-vertex cell. Looking a cell up
//! in the data set only needs *some* isomorphism-invariant key, and in this space isomorphism
//! and hash agree (the official generator verified that no two non-isomorphic cells share a
//! hash; the enumeration's 423,624 classes and 423,624 hashes confirm it). [`canonical_code`]
//! is such a key, a few hundred nanoseconds to compute: the middle vertices are ordered by
//! (op, out-degree, in-degree), vertices that tie are tried in every order, and the code is
//! the smallest adjacency bit pattern found, with the vertex count and the ops in that order.

use std::sync::OnceLock;

use crate::spec::{ModelSpec, MAX_VERTICES};

const MAX_MIDDLE: usize = MAX_VERTICES - 2;

/// All permutations of `0..m` for `m = 0..=5`.
fn permutations(m: usize) -> &'static [[u8; MAX_MIDDLE]] {
    static TABLE: OnceLock<Vec<Vec<[u8; MAX_MIDDLE]>>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        (0..=MAX_MIDDLE)
            .map(|m| {
                let mut out = Vec::new();
                let mut current = [0u8; MAX_MIDDLE];
                let mut used = [false; MAX_MIDDLE];
                fn go(
                    k: usize,
                    m: usize,
                    cur: &mut [u8; MAX_MIDDLE],
                    used: &mut [bool; MAX_MIDDLE],
                    out: &mut Vec<[u8; MAX_MIDDLE]>,
                ) {
                    if k == m {
                        out.push(*cur);
                        return;
                    }
                    for x in 0..m {
                        if !used[x] {
                            used[x] = true;
                            cur[k] = x as u8;
                            go(k + 1, m, cur, used, out);
                            used[x] = false;
                        }
                    }
                }
                go(0, m, &mut current, &mut used, &mut out);
                out
            })
            .collect()
    });
    &table[m]
}

/// The canonical code of a cell: `canonical_code(a) == canonical_code(b)` exactly when `a` and
/// `b` are isomorphic (the same network with middle vertices numbered differently).
pub fn canonical_code(spec: &ModelSpec) -> u64 {
    let n = spec.num_vertices();
    let rows = spec.rows();
    let ops = spec.ops();
    let mut inv = [0u16; MAX_VERTICES];
    for v in 0..n {
        let inn = rows.iter().filter(|&&r| r >> v & 1 == 1).count() as u16;
        inv[v] = u16::from(ops[v].code()) << 8 | (rows[v].count_ones() as u16) << 4 | inn;
    }
    // Middle vertices sorted by invariant.
    let m = n - 2;
    let mut base = [0u8; MAX_MIDDLE];
    for (k, b) in base[..m].iter_mut().enumerate() {
        *b = (k + 1) as u8;
    }
    base[..m].sort_by_key(|&v| inv[usize::from(v)]);
    let mut order = [0u8; MAX_VERTICES];
    order[n - 1] = (n - 1) as u8;
    let mut best = u64::MAX;
    'perms: for q in permutations(m) {
        for k in 0..m {
            let v = base[usize::from(q[k])];
            if inv[usize::from(v)] != inv[usize::from(base[k])] {
                continue 'perms;
            }
            order[k + 1] = v;
        }
        let mut code = 0u64;
        for i in 0..n {
            let old = rows[usize::from(order[i])];
            let mut row = 0u64;
            for j in 0..n {
                row |= u64::from(old >> order[j] & 1) << j;
            }
            code |= row << (i * n);
        }
        best = best.min(code);
    }
    let mut labels = 0u64;
    for &v in &base[..m] {
        labels = labels << 2 | (u64::from(ops[usize::from(v)].code()) - 1);
    }
    (n as u64) << 59 | labels << 49 | best
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::enumerate::all_cells;

    #[test]
    fn permutation_tables() {
        let counts: Vec<usize> = (0..=5).map(|m| permutations(m).len()).collect();
        assert_eq!(counts, [1, 1, 2, 6, 24, 120]);
    }

    #[test]
    fn isomorphic_cells_share_the_code() {
        let a = ModelSpec::parse_json(
            r#"{"matrix":[[0,1,1,0],[0,0,0,1],[0,0,0,1],[0,0,0,0]],"ops":["input","conv3x3-bn-relu","maxpool3x3","output"]}"#,
        )
        .unwrap();
        let b = ModelSpec::parse_json(
            r#"{"matrix":[[0,1,1,0],[0,0,0,1],[0,0,0,1],[0,0,0,0]],"ops":["input","maxpool3x3","conv3x3-bn-relu","output"]}"#,
        )
        .unwrap();
        assert_ne!(a, b);
        assert_eq!(canonical_code(&a), canonical_code(&b));
        let c = ModelSpec::parse_json(
            r#"{"matrix":[[0,1,0,0],[0,0,1,0],[0,0,0,1],[0,0,0,0]],"ops":["input","conv3x3-bn-relu","maxpool3x3","output"]}"#,
        )
        .unwrap();
        let d = ModelSpec::parse_json(
            r#"{"matrix":[[0,1,0,0],[0,0,1,0],[0,0,0,1],[0,0,0,0]],"ops":["input","maxpool3x3","conv3x3-bn-relu","output"]}"#,
        )
        .unwrap();
        assert_ne!(canonical_code(&c), canonical_code(&d));
    }

    #[test]
    fn codes_separate_the_whole_space_as_hashes_do() {
        // One code per hash over all 423,624 cells, and equal codes for every isomorphic form
        // (random renumberings of the middle vertices that keep the matrix upper-triangular).
        let cells = all_cells();
        let mut codes = HashMap::with_capacity(cells.len());
        for (i, c) in cells.iter().enumerate() {
            assert!(
                codes.insert(canonical_code(c.spec()), i).is_none(),
                "{}",
                c.hash()
            );
        }
        for c in cells.iter().step_by(97) {
            let spec = c.spec();
            let n = spec.num_vertices();
            for q in permutations(n - 2) {
                let perm: Vec<usize> = (0..n)
                    .map(|v| {
                        if v == 0 || v == n - 1 {
                            v
                        } else {
                            usize::from(q[v - 1]) + 1
                        }
                    })
                    .collect();
                let matrix: Vec<Vec<u8>> = (0..n)
                    .map(|i| {
                        (0..n)
                            .map(|j| u8::from(spec.has_edge(perm[i], perm[j])))
                            .collect()
                    })
                    .collect();
                let labels: Vec<&str> = (0..n).map(|i| spec.ops()[perm[i]].label()).collect();
                if let Ok(other) = ModelSpec::from_matrix(&matrix, &labels) {
                    assert_eq!(canonical_code(&other), canonical_code(spec), "{}", c.hash());
                }
            }
        }
    }
}
