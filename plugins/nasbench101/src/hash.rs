//! The official NAS-Bench-101 module hash (`graph_util.hash_module`).
//!
//! The hash is an MD5-based Weisfeiler-Lehman fingerprint, so isomorphic cells (equal up to a
//! renumbering of vertices) share it:
//! 1. each vertex starts as the MD5 hex digest of the Python tuple text
//!    `(out_degree, in_degree, label)`, e.g. `(2, 0, -1)`;
//! 2. `n` times (for `n` vertices), each vertex becomes the MD5 hex digest of its
//!    predecessors' digests sorted and concatenated, `|`, its successors' digests sorted and
//!    concatenated, `|`, and its own digest;
//! 3. the fingerprint is the MD5 hex digest of the Python list text of the sorted digests,
//!    `['…', '…']`.
//!
//! Labels are `-1` for the input, `-2` for the output, and the index of the op in the
//! canonical list `conv3x3-bn-relu`, `conv1x1-bn-relu`, `maxpool3x3` otherwise.

use md5::{Digest, Md5};

use crate::md5x::Batch;

/// Most vertices [`hash_module`] accepts (rows are byte masks).
pub const MAX_HASH_VERTICES: usize = 8;

type Hex = [u8; 32];

fn hex(digest: &[u8]) -> Hex {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 32];
    for (i, &b) in digest.iter().enumerate() {
        out[2 * i] = DIGITS[usize::from(b >> 4)];
        out[2 * i + 1] = DIGITS[usize::from(b & 15)];
    }
    out
}

/// Appends the decimal text of `x` to `buf` at `len`, returning the new length.
fn push_int(buf: &mut [u8], mut len: usize, x: i64) -> usize {
    if x < 0 {
        buf[len] = b'-';
        len += 1;
    }
    let mut digits = [0u8; 20];
    let mut k = 0;
    let mut u = x.unsigned_abs();
    loop {
        digits[k] = b'0' + (u % 10) as u8;
        k += 1;
        u /= 10;
        if u == 0 {
            break;
        }
    }
    for i in (0..k).rev() {
        buf[len] = digits[i];
        len += 1;
    }
    len
}

/// The official module hash of a graph, as 32 lowercase ASCII hex digits.
///
/// `rows[v]` is the mask of `v`'s successors (bit `w` = edge `v → w`); `labels[v]` is the
/// vertex label (`-1` input, `-2` output, `0..=2` the canonical middle ops). The graph need
/// not be pruned or valid; the official function hashes whatever it is given.
///
/// # Panics
/// If `rows` and `labels` differ in length or have more than [`MAX_HASH_VERTICES`] entries.
pub fn hash_module(rows: &[u8], labels: &[i8]) -> [u8; 32] {
    let n = rows.len();
    assert_eq!(n, labels.len(), "one label per vertex");
    assert!(
        n <= MAX_HASH_VERTICES,
        "at most {MAX_HASH_VERTICES} vertices"
    );

    let mut in_deg = [0i64; MAX_HASH_VERTICES];
    for &row in rows {
        for w in 0..n {
            in_deg[w] += i64::from(row >> w & 1);
        }
    }

    // Every vertex's digest of a round is independent of the others: digest them together.
    let mut batch = Batch::new();
    let mut hashes = [[0u8; 32]; MAX_HASH_VERTICES];
    for v in 0..n {
        // Python's str((out, in, label)).
        let mut text = [0u8; 64];
        let mut len = 0;
        text[len] = b'(';
        len += 1;
        len = push_int(&mut text, len, i64::from((rows[v] & mask(n)).count_ones()));
        text[len..len + 2].copy_from_slice(b", ");
        len += 2;
        len = push_int(&mut text, len, in_deg[v]);
        text[len..len + 2].copy_from_slice(b", ");
        len += 2;
        len = push_int(&mut text, len, i64::from(labels[v]));
        text[len] = b')';
        len += 1;
        let lane = batch.start();
        batch.push(lane, &text[..len]);
    }
    let digests = batch.digest();
    for v in 0..n {
        hashes[v] = hex(&digests[v]);
    }

    const ZERO: Hex = [0; 32];
    for _ in 0..n {
        for v in 0..n {
            let lane = batch.start();
            let mut neighbours: [&Hex; MAX_HASH_VERTICES] = [&ZERO; MAX_HASH_VERTICES];
            // Sorted predecessors.
            let mut k = 0;
            for w in 0..n {
                if rows[w] >> v & 1 == 1 {
                    neighbours[k] = &hashes[w];
                    k += 1;
                }
            }
            neighbours[..k].sort_unstable();
            for h in &neighbours[..k] {
                batch.push(lane, *h);
            }
            batch.push(lane, b"|");
            // Sorted successors.
            let mut k = 0;
            for w in 0..n {
                if rows[v] >> w & 1 == 1 {
                    neighbours[k] = &hashes[w];
                    k += 1;
                }
            }
            neighbours[..k].sort_unstable();
            for h in &neighbours[..k] {
                batch.push(lane, *h);
            }
            batch.push(lane, b"|");
            batch.push(lane, &hashes[v]);
        }
        let digests = batch.digest();
        for v in 0..n {
            hashes[v] = hex(&digests[v]);
        }
    }

    // Python's str(sorted(hashes)): ['a', 'b'].
    let sorted = &mut hashes[..n];
    sorted.sort_unstable();
    let mut md5 = Md5::new();
    md5.update(b"[");
    for (i, h) in sorted.iter().enumerate() {
        if i > 0 {
            md5.update(b", ");
        }
        md5.update(b"'");
        md5.update(h);
        md5.update(b"'");
    }
    md5.update(b"]");
    hex(&md5.finalize())
}

fn mask(n: usize) -> u8 {
    if n >= 8 {
        u8::MAX
    } else {
        (1u8 << n) - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(h: [u8; 32]) -> String {
        String::from_utf8(h.to_vec()).unwrap()
    }

    #[test]
    fn push_int_formats_like_python() {
        let mut buf = [0u8; 32];
        for (x, want) in [
            (0i64, "0"),
            (7, "7"),
            (-2, "-2"),
            (1234, "1234"),
            (-10, "-10"),
        ] {
            let len = push_int(&mut buf, 0, x);
            assert_eq!(std::str::from_utf8(&buf[..len]).unwrap(), want);
        }
    }

    #[test]
    fn readme_example() {
        // ops = input, conv1x1, conv3x3, conv3x3, conv3x3, maxpool, output.
        let matrix = [
            [0, 1, 1, 1, 0, 1, 0],
            [0, 0, 0, 0, 0, 0, 1],
            [0, 0, 0, 0, 0, 0, 1],
            [0, 0, 0, 0, 1, 0, 0],
            [0, 0, 0, 0, 0, 0, 1],
            [0, 0, 0, 0, 0, 0, 1],
            [0, 0, 0, 0, 0, 0, 0],
        ];
        let rows: Vec<u8> = matrix
            .iter()
            .map(|r| r.iter().enumerate().map(|(w, &x)| (x as u8) << w).sum())
            .collect();
        let labels = [-1, 1, 0, 0, 0, 2, -2];
        assert_eq!(
            text(hash_module(&rows, &labels)),
            "28cfc7874f6d200472e1a9dcd8650aa0"
        );
    }

    #[test]
    fn isomorphic_graphs_share_the_hash() {
        // input -> a -> output, input -> b -> output with a, b swapped.
        let rows = [0b0110, 0b1000, 0b1000, 0];
        assert_eq!(
            hash_module(&rows, &[-1, 0, 1, -2]),
            hash_module(&rows, &[-1, 1, 0, -2])
        );
        assert_ne!(
            hash_module(&rows, &[-1, 0, 0, -2]),
            hash_module(&rows, &[-1, 0, 1, -2])
        );
    }
}
