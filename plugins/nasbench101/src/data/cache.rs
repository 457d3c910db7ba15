//! The binary cache of a parsed data file: one flat, checksummed little-endian image that is
//! memory-mapped on later loads.
//!
//! Layout (version 1; every section starts at a multiple of 8):
//!
//! | bytes | content |
//! |---|---|
//! | 8 | magic `SEMNB101` |
//! | 4, 4 | format version, reserved (0) |
//! | 8, 8, 4, 4 | source file length, modification time (seconds, nanoseconds), reserved |
//! | 8, 8, 4, 4 | cells, records of the source, epoch budgets `E`, reserved |
//! | 8 | total length of the image |
//! | 4·E (padded) | the epoch budgets, ascending |
//! | 8·E | runs per budget |
//! | 32 per cell | module hashes (ASCII hex) |
//! | 16 per cell | cells: vertex count, 7 successor masks, 7 op codes, 0 |
//! | 4 per cell (padded) | trainable parameters (`i32`) |
//! | 4 per cell (padded) | cell indices sorted by hash |
//! | 8 per cell, 4 per cell (padded) | [canonical codes](crate::canonical) sorted, and their cells |
//! | per budget: 4·(cells+1) (padded), 64 per run | first run of each cell; runs (halfway then final evaluation: training time, train, validation and test accuracy, `f64`) |
//! | 4, 4 | CRC-32C of everything before, magic `END1` |

use std::path::Path;

use rayon::prelude::*;

use super::payload::{Evaluation, Run};
use crate::spec::{ModelSpec, Op, RawCell, MAX_VERTICES};

/// Cache format version; bump on any layout change.
pub const VERSION: u32 = 1;
const MAGIC: &[u8; 8] = b"SEMNB101";
const END: &[u8; 4] = b"END1";
const HEADER_LEN: usize = 72;
const RUN_LEN: usize = 64;

/// Identity of the source file the cache was built from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceStamp {
    /// Length in bytes.
    pub len: u64,
    /// Modification time: seconds since the Unix epoch.
    pub mtime_secs: u64,
    /// Modification time: nanoseconds.
    pub mtime_nanos: u32,
}

impl SourceStamp {
    /// The stamp of a file on disk.
    pub fn of(path: &Path) -> std::io::Result<SourceStamp> {
        let meta = std::fs::metadata(path)?;
        let mtime = meta
            .modified()?
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Ok(SourceStamp {
            len: meta.len(),
            mtime_secs: mtime.as_secs(),
            mtime_nanos: mtime.subsec_nanos(),
        })
    }
}

/// Everything a parse produces, before it is laid out.
#[derive(Clone, Debug, Default)]
pub struct Parsed {
    /// Module hashes, in first-appearance order.
    pub hashes: Vec<[u8; 32]>,
    /// Cells, parallel to `hashes`.
    pub specs: Vec<ModelSpec>,
    /// Trainable parameters, parallel to `hashes`.
    pub params: Vec<i32>,
    /// Epoch budgets, ascending.
    pub epochs: Vec<u32>,
    /// Per budget: the runs as (cell index, run), sorted by cell index, file order within a
    /// cell.
    pub runs: Vec<Vec<(u32, Run)>>,
    /// Records read.
    pub records: u64,
}

fn pad8(out: &mut Vec<u8>) {
    while out.len() % 8 != 0 {
        out.push(0);
    }
}

/// Lays out a parse as a cache image.
pub fn build(parsed: &Parsed, stamp: SourceStamp) -> Vec<u8> {
    let cells = parsed.hashes.len();
    let total_runs: usize = parsed.runs.iter().map(Vec::len).sum();
    let mut out = Vec::with_capacity(HEADER_LEN + cells * 100 + total_runs * (RUN_LEN + 4));
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&stamp.len.to_le_bytes());
    out.extend_from_slice(&stamp.mtime_secs.to_le_bytes());
    out.extend_from_slice(&stamp.mtime_nanos.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(cells as u64).to_le_bytes());
    out.extend_from_slice(&parsed.records.to_le_bytes());
    out.extend_from_slice(&(parsed.epochs.len() as u32).to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&0u64.to_le_bytes()); // total length, patched below
    debug_assert_eq!(out.len(), HEADER_LEN);
    for e in &parsed.epochs {
        out.extend_from_slice(&e.to_le_bytes());
    }
    pad8(&mut out);
    for runs in &parsed.runs {
        out.extend_from_slice(&(runs.len() as u64).to_le_bytes());
    }
    for h in &parsed.hashes {
        out.extend_from_slice(h);
    }
    for spec in &parsed.specs {
        let mut rec = [0u8; 16];
        rec[0] = spec.num_vertices() as u8;
        rec[1..1 + spec.num_vertices()].copy_from_slice(spec.rows());
        for (i, &op) in spec.ops().iter().enumerate() {
            rec[8 + i] = op.code();
        }
        out.extend_from_slice(&rec);
    }
    for p in &parsed.params {
        out.extend_from_slice(&p.to_le_bytes());
    }
    pad8(&mut out);
    let mut by_hash: Vec<u32> = (0..cells as u32).collect();
    by_hash.sort_unstable_by_key(|&i| parsed.hashes[i as usize]);
    for i in by_hash {
        out.extend_from_slice(&i.to_le_bytes());
    }
    pad8(&mut out);
    let mut codes: Vec<(u64, u32)> = parsed
        .specs
        .par_iter()
        .enumerate()
        .map(|(i, spec)| (crate::canonical::canonical_code(spec), i as u32))
        .collect();
    codes.par_sort_unstable();
    for (code, _) in &codes {
        out.extend_from_slice(&code.to_le_bytes());
    }
    for (_, i) in &codes {
        out.extend_from_slice(&i.to_le_bytes());
    }
    pad8(&mut out);
    for runs in &parsed.runs {
        let mut next = 0usize;
        for cell in 0..=cells {
            while next < runs.len() && (runs[next].0 as usize) < cell {
                next += 1;
            }
            out.extend_from_slice(&(next as u32).to_le_bytes());
        }
        pad8(&mut out);
        for (_, run) in runs {
            for e in [&run.halfway, &run.end] {
                for x in [
                    e.training_time,
                    e.train_accuracy,
                    e.validation_accuracy,
                    e.test_accuracy,
                ] {
                    out.extend_from_slice(&x.to_le_bytes());
                }
            }
        }
    }
    let total = (out.len() + 8) as u64;
    out[64..72].copy_from_slice(&total.to_le_bytes());
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(END);
    out
}

/// Where each section of an image starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Number of cells.
    pub cells: usize,
    /// Records of the source file.
    pub records: u64,
    /// Epoch budgets, ascending.
    pub epochs: Vec<u32>,
    /// Runs per budget.
    pub runs: Vec<usize>,
    /// The source file's stamp.
    pub stamp: SourceStamp,
    hashes: usize,
    specs: usize,
    params: usize,
    by_hash: usize,
    codes: usize,
    code_cells: usize,
    /// Per budget: (offsets section, runs section).
    run_sections: Vec<(usize, usize)>,
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

fn f64_at(bytes: &[u8], at: usize) -> f64 {
    f64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

fn up8(x: usize) -> usize {
    x.div_ceil(8) * 8
}

impl Layout {
    /// Checks an image (magic, version, length, checksum) and finds its sections. The error
    /// says why the image cannot be used.
    pub fn read(bytes: &[u8]) -> Result<Layout, String> {
        if bytes.len() < HEADER_LEN + 8 || &bytes[..8] != MAGIC {
            return Err("not a seminas NAS-Bench-101 cache".into());
        }
        let version = u32_at(bytes, 8);
        if version != VERSION {
            return Err(format!(
                "cache format version {version}, this build reads {VERSION}"
            ));
        }
        let total = u64_at(bytes, 64);
        if total != bytes.len() as u64 {
            return Err(format!(
                "cache is {} bytes, its header says {total}",
                bytes.len()
            ));
        }
        let body = bytes.len() - 8;
        if &bytes[body + 4..] != END {
            return Err("cache end marker missing".into());
        }
        let stored = u32_at(bytes, body);
        let computed = crc32c::crc32c(&bytes[..body]);
        if stored != computed {
            return Err(format!(
                "cache checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"
            ));
        }
        let stamp = SourceStamp {
            len: u64_at(bytes, 16),
            mtime_secs: u64_at(bytes, 24),
            mtime_nanos: u32_at(bytes, 32),
        };
        let cells = u64_at(bytes, 40) as usize;
        let records = u64_at(bytes, 48);
        let num_epochs = u32_at(bytes, 56) as usize;
        let mut at = HEADER_LEN;
        let need = |at: usize, len: usize| -> Result<(), String> {
            if at.checked_add(len).is_none_or(|end| end > body) {
                Err("cache sections overrun the image".into())
            } else {
                Ok(())
            }
        };
        need(at, 4 * num_epochs)?;
        let epochs: Vec<u32> = (0..num_epochs).map(|i| u32_at(bytes, at + 4 * i)).collect();
        at = up8(at + 4 * num_epochs);
        need(at, 8 * num_epochs)?;
        let runs: Vec<usize> = (0..num_epochs)
            .map(|i| u64_at(bytes, at + 8 * i) as usize)
            .collect();
        at += 8 * num_epochs;
        let hashes = at;
        need(at, 32 * cells)?;
        at += 32 * cells;
        let specs = at;
        need(at, 16 * cells)?;
        at += 16 * cells;
        let params = at;
        need(at, 4 * cells)?;
        at = up8(at + 4 * cells);
        let by_hash = at;
        need(at, 4 * cells)?;
        at = up8(at + 4 * cells);
        let codes = at;
        need(at, 8 * cells)?;
        at += 8 * cells;
        let code_cells = at;
        need(at, 4 * cells)?;
        at = up8(at + 4 * cells);
        let mut run_sections = Vec::with_capacity(num_epochs);
        for &count in &runs {
            let offsets = at;
            need(at, 4 * (cells + 1))?;
            at = up8(at + 4 * (cells + 1));
            let section = at;
            need(at, RUN_LEN * count)?;
            at += RUN_LEN * count;
            run_sections.push((offsets, section));
        }
        if at != body {
            return Err("cache sections do not fill the image".into());
        }
        Ok(Layout {
            cells,
            records,
            epochs,
            runs,
            stamp,
            hashes,
            specs,
            params,
            by_hash,
            codes,
            code_cells,
            run_sections,
        })
    }

    /// The hash of cell `i` (ASCII hex).
    pub fn hash<'a>(&self, bytes: &'a [u8], i: usize) -> &'a [u8; 32] {
        let at = self.hashes + 32 * i;
        bytes[at..at + 32].try_into().expect("32 bytes")
    }

    /// The cell `i`.
    pub fn spec(&self, bytes: &[u8], i: usize) -> Result<ModelSpec, String> {
        let at = self.specs + 16 * i;
        let rec = &bytes[at..at + 16];
        let n = usize::from(rec[0]);
        if !(2..=MAX_VERTICES).contains(&n) {
            return Err(format!("cell {i} has {n} vertices"));
        }
        let mut ops = [Op::Input; MAX_VERTICES];
        for v in 0..n {
            ops[v] = Op::from_code(rec[8 + v]).ok_or_else(|| format!("cell {i} has a bad op code"))?;
        }
        RawCell::from_rows(&rec[1..1 + n], &ops[..n])
            .and_then(|raw| raw.prune())
            .map_err(|e| format!("cell {i}: {e}"))
    }

    /// Trainable parameters of cell `i`.
    pub fn params(&self, bytes: &[u8], i: usize) -> i32 {
        u32_at(bytes, self.params + 4 * i) as i32
    }

    /// The index of the cell with `hash`, by binary search.
    pub fn find(&self, bytes: &[u8], hash: &[u8]) -> Option<usize> {
        let (mut lo, mut hi) = (0, self.cells);
        while lo < hi {
            let mid = (lo + hi) / 2;
            let i = u32_at(bytes, self.by_hash + 4 * mid) as usize;
            match self.hash(bytes, i).as_slice().cmp(hash) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(i),
            }
        }
        None
    }

    /// The index of the cell with canonical code `code`, by binary search.
    pub fn find_code(&self, bytes: &[u8], code: u64) -> Option<usize> {
        let (mut lo, mut hi) = (0, self.cells);
        while lo < hi {
            let mid = (lo + hi) / 2;
            match u64_at(bytes, self.codes + 8 * mid).cmp(&code) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => {
                    return Some(u32_at(bytes, self.code_cells + 4 * mid) as usize)
                }
            }
        }
        None
    }

    /// The runs of cell `i` at budget index `e`, as a range of run indices.
    pub fn run_range(&self, bytes: &[u8], e: usize, i: usize) -> std::ops::Range<usize> {
        let offsets = self.run_sections[e].0;
        let start = u32_at(bytes, offsets + 4 * i) as usize;
        let end = u32_at(bytes, offsets + 4 * (i + 1)) as usize;
        let count = self.runs[e];
        start.min(count)..end.clamp(start, count)
    }

    /// Run `r` of budget index `e`.
    pub fn run(&self, bytes: &[u8], e: usize, r: usize) -> Run {
        let at = self.run_sections[e].1 + RUN_LEN * r;
        let eval = |at: usize| Evaluation {
            training_time: f64_at(bytes, at),
            train_accuracy: f64_at(bytes, at + 8),
            validation_accuracy: f64_at(bytes, at + 16),
            test_accuracy: f64_at(bytes, at + 24),
        };
        Run {
            halfway: eval(at),
            end: eval(at + 32),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed() -> Parsed {
        let a =
            ModelSpec::parse_json(r#"{"matrix":[[0,1],[0,0]],"ops":["input","output"]}"#).unwrap();
        let b = ModelSpec::parse_json(
            r#"{"matrix":[[0,1,0],[0,0,1],[0,0,0]],"ops":["input","conv1x1-bn-relu","output"]}"#,
        )
        .unwrap();
        let run = |x: f64| Run {
            halfway: Evaluation {
                training_time: x,
                train_accuracy: 0.1,
                validation_accuracy: 0.2,
                test_accuracy: 0.3,
            },
            end: Evaluation {
                training_time: 2.0 * x,
                train_accuracy: 0.4,
                validation_accuracy: 0.5,
                test_accuracy: 0.6,
            },
        };
        Parsed {
            hashes: vec![b.hash_bytes(), a.hash_bytes()],
            specs: vec![b, a],
            params: vec![7, -1],
            epochs: vec![4, 108],
            runs: vec![
                vec![(0, run(1.0))],
                vec![(0, run(2.0)), (0, run(3.0)), (1, run(4.0))],
            ],
            records: 4,
        }
    }

    #[test]
    fn image_round_trip() {
        let p = parsed();
        let stamp = SourceStamp {
            len: 99,
            mtime_secs: 5,
            mtime_nanos: 6,
        };
        let image = build(&p, stamp);
        assert_eq!(image.len() % 8, 0);
        let layout = Layout::read(&image).unwrap();
        assert_eq!(layout.cells, 2);
        assert_eq!(layout.records, 4);
        assert_eq!(layout.epochs, vec![4, 108]);
        assert_eq!(layout.runs, vec![1, 3]);
        assert_eq!(layout.stamp, stamp);
        for i in 0..2 {
            assert_eq!(layout.hash(&image, i), &p.hashes[i]);
            assert_eq!(layout.spec(&image, i).unwrap(), p.specs[i]);
            assert_eq!(layout.params(&image, i), p.params[i]);
            assert_eq!(layout.find(&image, &p.hashes[i]), Some(i));
            let code = crate::canonical::canonical_code(&p.specs[i]);
            assert_eq!(layout.find_code(&image, code), Some(i));
        }
        assert_eq!(layout.find(&image, &[b'0'; 32]), None);
        assert_eq!(layout.run_range(&image, 0, 0), 0..1);
        assert_eq!(layout.run_range(&image, 0, 1), 1..1);
        assert_eq!(layout.run_range(&image, 1, 0), 0..2);
        assert_eq!(layout.run_range(&image, 1, 1), 2..3);
        assert_eq!(layout.run(&image, 1, 2), p.runs[1][2].1);
        assert_eq!(layout.run(&image, 0, 0), p.runs[0][0].1);
    }

    #[test]
    fn damaged_images_are_refused() {
        let image = build(
            &parsed(),
            SourceStamp {
                len: 1,
                mtime_secs: 2,
                mtime_nanos: 3,
            },
        );
        for i in (0..image.len()).step_by(7) {
            let mut bad = image.clone();
            bad[i] ^= 0x04;
            assert!(Layout::read(&bad).is_err(), "byte {i}");
        }
        assert!(Layout::read(&image[..image.len() - 8]).is_err());
        assert!(Layout::read(b"short").is_err());
    }
}
