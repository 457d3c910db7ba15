//! Every NAS-Bench-101 cell, without the data file.
//!
//! The official `generate_graphs.py` walks, for `n = 2..=7` vertices, every upper-triangular
//! bit mask in increasing order (edge `x → y` is bit `x + y(y-1)/2`), keeps the matrices in
//! which every vertex lies on an input→output path and that have at most 9 edges, tries every
//! labelling of the `n - 2` middle vertices with the three ops, and keeps one cell per module
//! hash. Its documentation states that, in this space, equal hashes mean isomorphic cells; it
//! yields [`NUM_CELLS`] = 423,624 cells, the cells of the NAS-Bench-101 data set.
//!
//! Hashing the 500 million labelled matrices that walk visits is far too slow, so
//! [`enumerate_all`] visits each isomorphism class once:
//!
//! 1. the unlabelled matrices are grouped into isomorphism classes (renumberings of the
//!    middle vertices); every labelled cell of a class can be written on any matrix of it;
//! 2. on one matrix, two labellings give isomorphic cells exactly when an automorphism of the
//!    matrix maps one onto the other, so each orbit of labellings gives one cell;
//! 3. only those cells are hashed (in parallel), and duplicates by hash are dropped (none
//!    occur, as the official documentation says).
//!
//! # Which matrix stands for a hash
//!
//! A hash stands for several isomorphic (matrix, ops) pairs. The data set stores, for each
//! hash, the pair whose upper triangle read row by row (`(0,1), (0,2), …, (n-2,n-1)`, as 0/1
//! digits) is largest, and among those the labelling that is smallest read from vertex 1 on
//! (op order conv3x3, conv1x1, maxpool3x3). This rule is not written down in the official
//! sources (the released script would keep the first pair of its walk instead, a different
//! pair for about a third of the cells); it was read off the public data: every one of the
//! 11,000 cells of the reference sample follows it. The enumeration uses it, so its cells
//! carry the data set's own matrix and ops.
//!
//! The cells are listed by vertex count, then in the order in which the official walk first
//! meets their unlabelled class, then by labelling.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use rayon::prelude::*;

use crate::spec::{ModelSpec, Op, RawCell, MAX_EDGES, MAX_VERTICES};

/// Number of distinct NAS-Bench-101 cells (module hashes).
pub const NUM_CELLS: usize = 423_624;

/// One cell of the space with its official module hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cell {
    spec: ModelSpec,
    hash: [u8; 32],
}

impl Cell {
    /// A cell and its hash (computed).
    pub fn new(spec: ModelSpec) -> Cell {
        Cell {
            hash: spec.hash_bytes(),
            spec,
        }
    }

    /// The pruned cell.
    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// The official module hash, 32 lowercase hex digits.
    pub fn hash(&self) -> &str {
        std::str::from_utf8(&self.hash).expect("hex digits are ASCII")
    }

    /// The official module hash as ASCII bytes.
    pub fn hash_bytes(&self) -> &[u8; 32] {
        &self.hash
    }

    /// One JSON line: `{"hash":"…","matrix":[[…]],"ops":[…]}`.
    pub fn to_json(&self) -> String {
        let spec = self.spec.to_json();
        format!("{{\"hash\":\"{}\",{}", self.hash(), &spec[1..])
    }
}

/// Bit index of edge `x → y` (`x < y`) in the official bit masks (`gen_is_edge_fn`).
const fn bit_index(x: usize, y: usize) -> usize {
    x + y * (y - 1) / 2
}

/// Successor masks of the matrix of bit mask `bits` on `n` vertices.
fn rows_of(bits: u32, n: usize) -> [u8; MAX_VERTICES] {
    let mut rows = [0u8; MAX_VERTICES];
    for y in 1..n {
        for x in 0..y {
            if bits >> bit_index(x, y) & 1 == 1 {
                rows[x] |= 1 << y;
            }
        }
    }
    rows
}

/// The upper triangle read row by row (`(0,1), (0,2), …, (n-2,n-1)`), the first entry most
/// significant.
fn row_major_key(rows: &[u8]) -> u64 {
    let n = rows.len();
    let mut key = 0u64;
    for x in 0..n {
        for y in x + 1..n {
            key = key << 1 | u64::from(rows[x] >> y & 1);
        }
    }
    key
}

/// `is_full_dag`: every vertex but the output has a successor and every vertex but the
/// input a predecessor (so every vertex lies on an input→output path).
fn is_full_dag(rows: &[u8]) -> bool {
    let n = rows.len();
    let has_successors = rows[..n - 1].iter().all(|&r| r != 0);
    let entered = rows.iter().fold(0u8, |acc, &r| acc | r);
    let wanted = (((1u16 << n) - 1) & !1) as u8;
    has_successors && entered & wanted == wanted
}

/// The permutations of the middle vertices `1..n-1` of an `n`-vertex cell, as maps from new
/// to old vertex (input and output stay in place).
fn middle_permutations(n: usize) -> Vec<[u8; MAX_VERTICES]> {
    fn extend(
        prefix: &mut Vec<u8>,
        rest: &mut Vec<u8>,
        n: usize,
        out: &mut Vec<[u8; MAX_VERTICES]>,
    ) {
        if rest.is_empty() {
            let mut p = [0u8; MAX_VERTICES];
            for (i, &v) in prefix.iter().enumerate() {
                p[i] = v;
            }
            p[n - 1] = (n - 1) as u8;
            out.push(p);
            return;
        }
        for k in 0..rest.len() {
            let v = rest.remove(k);
            prefix.push(v);
            extend(prefix, rest, n, out);
            prefix.pop();
            rest.insert(k, v);
        }
    }
    let mut out = Vec::new();
    let mut prefix = vec![0u8];
    let mut rest: Vec<u8> = (1..n as u8 - 1).collect();
    extend(&mut prefix, &mut rest, n, &mut out);
    out
}

/// The full `n × n` adjacency of the graph renumbered by `p` (new → old), as a bit code.
fn permuted_code(rows: &[u8], p: &[u8; MAX_VERTICES]) -> u64 {
    let n = rows.len();
    let mut code = 0u64;
    for i in 0..n {
        let old = rows[usize::from(p[i])];
        if old == 0 {
            continue;
        }
        let mut row = 0u64;
        for j in 0..n {
            row |= u64::from(old >> p[j] & 1) << j;
        }
        code |= row << (i * n);
    }
    code
}

/// Per-vertex invariant (out-degree, in-degree) used to skip permutations that cannot map the
/// graph onto itself or onto a smaller code.
fn degrees(rows: &[u8]) -> [u8; MAX_VERTICES] {
    let n = rows.len();
    let mut inv = [0u8; MAX_VERTICES];
    for v in 0..n {
        let inn = rows.iter().filter(|&&r| r >> v & 1 == 1).count() as u8;
        inv[v] = (rows[v].count_ones() as u8) << 4 | inn;
    }
    inv
}

/// A canonical code of the unlabelled graph: equal for isomorphic graphs (with input and
/// output fixed), different otherwise. It is the smallest permuted code over the
/// renumberings that list the middle vertices in increasing (out-degree, in-degree) order.
fn unlabelled_canonical(rows: &[u8], perms: &[[u8; MAX_VERTICES]]) -> u64 {
    let n = rows.len();
    let inv = degrees(rows);
    let mut best = u64::MAX;
    'perms: for p in perms {
        for i in 1..n - 2 {
            if inv[usize::from(p[i])] > inv[usize::from(p[i + 1])] {
                continue 'perms;
            }
        }
        best = best.min(permuted_code(rows, p));
    }
    best
}

/// The automorphisms of a graph (renumberings that give back the same matrix), identity
/// included.
fn automorphisms(rows: &[u8], perms: &[[u8; MAX_VERTICES]]) -> Vec<[u8; MAX_VERTICES]> {
    let n = rows.len();
    let inv = degrees(rows);
    let identity = {
        let mut p = [0u8; MAX_VERTICES];
        for (i, x) in p.iter_mut().enumerate() {
            *x = i as u8;
        }
        p
    };
    let own = permuted_code(rows, &identity);
    perms
        .iter()
        .filter(|p| (1..n - 1).all(|i| inv[usize::from(p[i])] == inv[i]))
        .filter(|p| permuted_code(rows, p) == own)
        .copied()
        .collect()
}

/// The labellings of the middle vertices of a graph, one per orbit under its automorphisms,
/// each the first of its orbit in `itertools.product` order. A labelling is a base-3 number
/// whose most significant digit is vertex 1's op index.
fn orbit_representatives(n: usize, autos: &[[u8; MAX_VERTICES]]) -> Vec<[u8; MAX_VERTICES]> {
    let middle = n - 2;
    let count = 3usize.pow(middle as u32);
    let mut out = Vec::with_capacity(count);
    for code in 0..count {
        let mut labels = [0u8; MAX_VERTICES];
        let mut rest = code;
        for v in (1..=middle).rev() {
            labels[v] = (rest % 3) as u8;
            rest /= 3;
        }
        // Smallest in its orbit: no automorphism gives a lexicographically smaller labelling.
        let smallest = autos.iter().all(|p| {
            for v in 1..=middle {
                let other = labels[usize::from(p[v])];
                if other != labels[v] {
                    return other > labels[v];
                }
            }
            true
        });
        if smallest {
            out.push(labels);
        }
    }
    out
}

/// A cell to hash: successor masks, vertex count and middle-vertex labels.
type Candidate = ([u8; MAX_VERTICES], usize, [u8; MAX_VERTICES]);

/// Every distinct NAS-Bench-101 cell (423,624), in the order in which the official
/// `generate_graphs.py` first meets each hash, each with that first matrix and labelling.
///
/// Runs on the rayon thread pool; a few seconds in release builds.
pub fn enumerate_all() -> Vec<Cell> {
    let mut candidates: Vec<Candidate> = Vec::new();
    for n in 2..=MAX_VERTICES {
        let perms = middle_permutations(n);
        let num_bits = n * (n - 1) / 2;
        // Matrices of every vertex on a path and at most 9 edges, with their class code.
        let matrices: Vec<(u32, u64)> = (0..1u32 << num_bits)
            .into_par_iter()
            .with_min_len(4096)
            .filter(|bits| bits.count_ones() as usize <= MAX_EDGES)
            .filter_map(|bits| {
                let rows = rows_of(bits, n);
                is_full_dag(&rows[..n]).then(|| (bits, unlabelled_canonical(&rows[..n], &perms)))
            })
            .collect();
        // Each class, in the order the official walk first meets it, written on its matrix
        // of largest row-major reading.
        let mut classes: HashMap<u64, usize> = HashMap::with_capacity(matrices.len());
        let mut firsts: Vec<(u64, u32)> = Vec::new();
        for &(bits, code) in &matrices {
            let key = row_major_key(&rows_of(bits, n)[..n]);
            match classes.entry(code) {
                Entry::Vacant(e) => {
                    e.insert(firsts.len());
                    firsts.push((key, bits));
                }
                Entry::Occupied(e) => {
                    let best = &mut firsts[*e.get()];
                    if key > best.0 {
                        *best = (key, bits);
                    }
                }
            }
        }
        let labelled: Vec<Vec<Candidate>> = firsts
            .par_iter()
            .map(|&(_, bits)| {
                let rows = rows_of(bits, n);
                let autos = automorphisms(&rows[..n], &perms);
                orbit_representatives(n, &autos)
                    .into_iter()
                    .map(|labels| (rows, n, labels))
                    .collect()
            })
            .collect();
        candidates.extend(labelled.into_iter().flatten());
    }
    let cells: Vec<Cell> = candidates
        .par_iter()
        .with_min_len(256)
        .map(|(rows, n, labels)| {
            let mut ops = [Op::Input; MAX_VERTICES];
            for v in 1..n - 1 {
                ops[v] = Op::MIDDLE[usize::from(labels[v])];
            }
            ops[n - 1] = Op::Output;
            let spec = RawCell::from_rows(&rows[..*n], &ops[..*n])
                .and_then(|raw| raw.prune())
                .expect("enumerated cells are valid and pruned");
            Cell::new(spec)
        })
        .collect();
    // Equal hashes would mean a false positive of the hash; the official script keeps the
    // first cell, and so does this.
    let mut hashes = HashSet::with_capacity(cells.len());
    cells
        .into_iter()
        .filter(|c| hashes.insert(c.hash))
        .collect()
}

/// Every cell ([`enumerate_all`]), computed once per process on first use.
pub fn all_cells() -> &'static [Cell] {
    static CELLS: OnceLock<Vec<Cell>> = OnceLock::new();
    CELLS.get_or_init(enumerate_all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_layout_matches_gen_is_edge_fn() {
        // FEDCBA on 4 vertices: [[0,A,B,D],[0,0,C,E],[0,0,0,F],[0,0,0,0]].
        let rows = rows_of(0b000001, 4);
        assert_eq!(rows[0], 0b0010); // A = 0 -> 1
        let rows = rows_of(0b000010, 4);
        assert_eq!(rows[0], 0b0100); // B = 0 -> 2
        let rows = rows_of(0b000100, 4);
        assert_eq!(rows[1], 0b0100); // C = 1 -> 2
        let rows = rows_of(0b001000, 4);
        assert_eq!(rows[0], 0b1000); // D = 0 -> 3
        let rows = rows_of(0b100000, 4);
        assert_eq!(rows[2], 0b1000); // F = 2 -> 3
    }

    #[test]
    fn permutations_fix_input_and_output() {
        assert_eq!(middle_permutations(2).len(), 1);
        assert_eq!(middle_permutations(3).len(), 1);
        let perms = middle_permutations(7);
        assert_eq!(perms.len(), 120);
        assert!(perms.iter().all(|p| p[0] == 0 && p[6] == 6));
        let distinct: HashSet<_> = perms.iter().collect();
        assert_eq!(distinct.len(), 120);
    }

    #[test]
    fn orbits_of_a_symmetric_graph() {
        // input -> {1, 2} -> output: swapping 1 and 2 is an automorphism, so of the nine
        // labellings the six with label(1) <= label(2) remain.
        let rows = [0b0110, 0b1000, 0b1000, 0];
        let perms = middle_permutations(4);
        let autos = automorphisms(&rows, &perms);
        assert_eq!(autos.len(), 2);
        let reps = orbit_representatives(4, &autos);
        assert_eq!(reps.len(), 6);
        assert!(reps.iter().all(|l| l[1] <= l[2]));
    }

    #[test]
    fn small_cells_match_brute_force() {
        // Up to 5 vertices, hashing every labelled matrix of the official walk is cheap: the
        // fast enumeration must find the same hashes with the same chosen pair (largest
        // row-major matrix, then smallest labelling) and list them in its documented order.
        // Per hash: vertex count, first bit mask of its class, row-major key, labels, cell.
        type Best = (usize, u32, u64, Vec<usize>, Cell);
        let mut best: HashMap<[u8; 32], Best> = HashMap::new();
        let mut class_order: HashMap<(usize, u64), u32> = HashMap::new();
        for n in 2..=5 {
            let perms = middle_permutations(n);
            for bits in 0..1u32 << (n * (n - 1) / 2) {
                let rows = rows_of(bits, n);
                if bits.count_ones() as usize > MAX_EDGES || !is_full_dag(&rows[..n]) {
                    continue;
                }
                let class = unlabelled_canonical(&rows[..n], &perms);
                let first = *class_order.entry((n, class)).or_insert(bits);
                let key = row_major_key(&rows[..n]);
                for code in 0..3usize.pow(n as u32 - 2) {
                    let mut labels = vec![0usize; n - 2];
                    let mut rest = code;
                    for v in (0..n - 2).rev() {
                        labels[v] = rest % 3;
                        rest /= 3;
                    }
                    let mut ops = vec![Op::Input; n];
                    for v in 1..n - 1 {
                        ops[v] = Op::MIDDLE[labels[v - 1]];
                    }
                    ops[n - 1] = Op::Output;
                    let spec = RawCell::from_rows(&rows[..n], &ops)
                        .unwrap()
                        .prune()
                        .unwrap();
                    let cell = Cell::new(spec);
                    let entry =
                        best.entry(cell.hash)
                            .or_insert((n, first, key, labels.clone(), cell));
                    // Larger matrix first, then smaller labelling.
                    if (key, std::cmp::Reverse(&labels)) > (entry.2, std::cmp::Reverse(&entry.3)) {
                        *entry = (n, first, key, labels, cell);
                    }
                }
            }
        }
        let mut brute: Vec<_> = best.into_values().collect();
        brute.sort_by(|a, b| (a.0, a.1, &a.3).cmp(&(b.0, b.1, &b.3)));
        let brute: Vec<Cell> = brute.into_iter().map(|e| e.4).collect();
        let fast: Vec<Cell> = all_cells()
            .iter()
            .filter(|c| c.spec().num_vertices() <= 5)
            .copied()
            .collect();
        assert_eq!(fast.len(), 2532);
        assert_eq!(fast, brute);
    }

    #[test]
    fn json_line() {
        let spec =
            ModelSpec::parse_json(r#"{"matrix":[[0,1],[0,0]],"ops":["input","output"]}"#).unwrap();
        let cell = Cell::new(spec);
        let line = cell.to_json();
        assert!(line.starts_with(r#"{"hash":""#), "{line}");
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["hash"], cell.hash());
        assert_eq!(ModelSpec::from_value(&value).unwrap(), spec);
    }

    /// The whole space: exactly 423,624 cells, pairwise distinct hashes, all valid and
    /// pruned.
    #[test]
    fn whole_space_has_423624_cells() {
        let start = std::time::Instant::now();
        let cells = all_cells();
        println!("enumerated {} cells in {:?}", cells.len(), start.elapsed());
        assert_eq!(cells.len(), NUM_CELLS);
        let mut by_size = [0usize; MAX_VERTICES + 1];
        for c in cells {
            by_size[c.spec().num_vertices()] += 1;
        }
        println!("cells by vertex count: {by_size:?}");
        // Every size from 2 to 7 vertices occurs, and the 7-vertex cells dominate.
        assert!(by_size[2..].iter().all(|&k| k > 0));
        assert!(by_size[7] > NUM_CELLS / 2);
    }
}
