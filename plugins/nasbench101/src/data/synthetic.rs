//! Synthetic data files in the official format, for tests and benchmarks.
//!
//! [`write`] produces a `.tfrecord` laid out like the official release (one record per run,
//! the same JSON payload and `nasbench.ModelMetrics` protobuf, about the same record size), with
//! metrics given by a fixed formula of the cell's hash, the epoch budget and the run index
//! ([`metrics`]). Written from [`all_cells`](crate::enumerate::all_cells), it has the size and
//! record layout of `nasbench_only108.tfrecord` (423,624 cells × 3 runs) without its numbers.

use std::io::{self, Write};
use std::path::Path;

use rayon::prelude::*;

use super::metrics::{EvaluationData, ModelMetrics};
use super::payload::{self, Evaluation, Run};
use super::tfrecord;
use crate::enumerate::Cell;

/// Two numbers in `[0, 1)` drawn from a hash: its first and second 8 hex digits over `2^32`.
fn hash_fractions(hash: &str) -> (f64, f64) {
    let part = |s: &str| u32::from_str_radix(s, 16).unwrap_or(0) as f64 / 4_294_967_296.0;
    (part(&hash[..8]), part(&hash[8..16]))
}

/// Trainable parameters of a cell in synthetic files.
pub fn params(hash: &str) -> i32 {
    let (_, v) = hash_fractions(hash);
    227_274 + (v * 49_000_000.0) as i32
}

/// The run the reader should return for `hash` at `epochs`, run `run` (what [`metrics`]
/// encodes at the halfway and final evaluations).
pub fn expected_run(hash: &str, epochs: u32, run: usize) -> Run {
    let (u, v) = hash_fractions(hash);
    let scale = 0.5 + 0.5 * f64::from(epochs) / 108.0;
    let valid = (0.80 + 0.14 * u + 0.001 * run as f64) * scale;
    let time = (100.0 + 3000.0 * v) * f64::from(epochs) / 108.0 + run as f64;
    let end = Evaluation {
        training_time: time,
        train_accuracy: (valid + 0.05).min(1.0),
        validation_accuracy: valid,
        test_accuracy: valid - 0.004,
    };
    let halfway = Evaluation {
        training_time: time / 2.0,
        train_accuracy: end.train_accuracy - 0.05,
        validation_accuracy: valid - 0.05,
        test_accuracy: end.test_accuracy - 0.05,
    };
    Run { halfway, end }
}

/// The metrics protobuf of one synthetic run: evaluations at the start, halfway and end.
pub fn metrics(hash: &str, epochs: u32, run: usize) -> ModelMetrics {
    let r = expected_run(hash, epochs, run);
    let point = |epoch: f64, e: &Evaluation| EvaluationData {
        current_epoch: Some(epoch),
        training_time: Some(e.training_time),
        train_accuracy: Some(e.train_accuracy),
        validation_accuracy: Some(e.validation_accuracy),
        test_accuracy: Some(e.test_accuracy),
        checkpoint_path: None,
    };
    let start = Evaluation {
        training_time: 0.0,
        train_accuracy: 0.1,
        validation_accuracy: 0.1,
        test_accuracy: 0.1,
    };
    ModelMetrics {
        evaluation_data: vec![
            point(0.0, &start),
            point(f64::from(epochs) / 2.0, &r.halfway),
            point(f64::from(epochs), &r.end),
        ],
        trainable_parameters: Some(params(hash)),
        total_time: Some(r.end.training_time + 60.0),
    }
}

/// What [`write`] wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Written {
    /// Records.
    pub records: u64,
    /// Bytes.
    pub bytes: u64,
}

/// Writes a synthetic data file: for each cell, each budget of `epochs` and `runs` runs, one
/// record (cells in the given order, runs of a cell together).
pub fn write(path: &Path, cells: &[Cell], epochs: &[u32], runs: usize) -> io::Result<Written> {
    let file = std::fs::File::create(path)?;
    let mut out = io::BufWriter::with_capacity(1 << 20, file);
    let mut written = Written {
        records: 0,
        bytes: 0,
    };
    for chunk in cells.chunks(1 << 14) {
        let parts: Vec<Vec<u8>> = chunk
            .par_chunks(256)
            .map(|cells| {
                let mut buf = Vec::with_capacity(cells.len() * epochs.len() * runs * 420);
                for cell in cells {
                    for &e in epochs {
                        for r in 0..runs {
                            let text = payload::format(
                                cell.hash(),
                                e,
                                cell.spec(),
                                &metrics(cell.hash(), e, r),
                            );
                            tfrecord::frame_into(&mut buf, text.as_bytes());
                        }
                    }
                }
                buf
            })
            .collect();
        for part in parts {
            out.write_all(&part)?;
            written.bytes += part.len() as u64;
        }
        written.records += (chunk.len() * epochs.len() * runs) as u64;
    }
    out.flush()?;
    Ok(written)
}
