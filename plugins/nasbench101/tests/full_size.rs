//! The reader on a full-size synthetic data file: all 423,624 cells, three runs each, in the
//! official format (about 515 MB, the size and record layout of `nasbench_only108.tfrecord`).
//!
//! The file goes to cargo's per-target temporary folder and is removed afterwards. Timings are
//! printed (`cargo test --release -p seminas-nasbench101 --test full_size -- --nocapture`).

use std::path::{Path, PathBuf};
use std::time::Instant;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use seminas_nasbench101::data::{self, synthetic, tfrecord, CacheMode, NasBench101Data};
use seminas_nasbench101::spec::{Op, RawCell};
use seminas_nasbench101::{all_cells, NUM_CELLS};

struct Folder(PathBuf);

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn folder() -> Folder {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("nasbench101-full-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    Folder(dir)
}

#[test]
fn full_size_fixture_reads_back() {
    let dir = folder();
    let path = dir.0.join("nasbench_synthetic.tfrecord");

    let start = Instant::now();
    let cells = all_cells();
    println!(
        "enumeration: {} cells in {:.2?}",
        cells.len(),
        start.elapsed()
    );
    assert_eq!(cells.len(), NUM_CELLS);

    let start = Instant::now();
    let written = synthetic::write(&path, cells, &[108], 3).unwrap();
    println!(
        "fixture: {} records, {:.1} MB written in {:.2?}",
        written.records,
        written.bytes as f64 / 1e6,
        start.elapsed()
    );
    assert_eq!(written.records, 3 * NUM_CELLS as u64);

    // Cold: every record's CRCs, payload and hash, then the cache is written.
    let cold = NasBench101Data::open(&path).unwrap();
    println!(
        "cold load (parse + cache): {:.2} s",
        cold.load_info().seconds
    );
    assert!(!cold.load_info().from_cache);
    assert_eq!(cold.len(), NUM_CELLS);
    assert_eq!(cold.records(), 3 * NUM_CELLS as u64);
    assert_eq!(cold.epochs(), &[108]);
    drop(cold);

    // Cached.
    let data = NasBench101Data::open(&path).unwrap();
    println!("cached load: {:.3} s", data.load_info().seconds);
    assert!(data.load_info().from_cache);
    assert_eq!(data.len(), NUM_CELLS);

    // Every cell is found, by hash and by canonical code, with its matrix, ops and runs.
    let start = Instant::now();
    let wrong = cells
        .par_iter()
        .enumerate()
        .filter(|(k, cell)| {
            let Some(i) = data.find(cell.hash()) else {
                return true;
            };
            i != *k
                || data.find_spec(cell.spec()) != Some(i)
                || data.spec(i) != *cell.spec()
                || data.params(i) != synthetic::params(cell.hash())
                || data.runs(i, 0).count() != 3
                || data
                    .runs(i, 0)
                    .enumerate()
                    .any(|(r, run)| run != synthetic::expected_run(cell.hash(), 108, r))
        })
        .count();
    assert_eq!(wrong, 0, "cells read back wrong");
    println!("checked every cell in {:.2?}", start.elapsed());

    // Query throughput on one core: prune, canonical lookup, run choice. The cells are given as
    // raw 7-vertex cells (padded with dangling vertices, so that pruning has work to do).
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut raws: Vec<RawCell> = cells
        .iter()
        .step_by(2)
        .map(|c| {
            let pad = 7 - c.spec().num_vertices();
            c.spec().padded(&vec![Op::Conv3x3; pad])
        })
        .collect();
    raws.shuffle(&mut rng);
    let start = Instant::now();
    let mut acc = 0.0;
    for raw in &raws {
        let spec = raw.prune().unwrap();
        acc += data
            .query(&spec, 108, false, &mut rng)
            .unwrap()
            .evaluation
            .validation_accuracy;
    }
    let qps = raws.len() as f64 / start.elapsed().as_secs_f64();
    println!(
        "query throughput: {qps:.0} queries/s on one core ({} queries)",
        raws.len()
    );
    assert!(acc > 0.0);
    if !cfg!(debug_assertions) {
        assert!(qps > 200_000.0, "{qps:.0} queries/s");
    }

    // Best mean test accuracy, from the formula.
    let e = data.epoch_index(108).unwrap();
    let (_, best) = data.best_test_accuracy(e).unwrap();
    let want = cells
        .par_iter()
        .map(|c| {
            (0..3)
                .map(|r| synthetic::expected_run(c.hash(), 108, r).end.test_accuracy)
                .sum::<f64>()
                / 3.0
        })
        .reduce(|| f64::MIN, f64::max);
    assert_eq!(best, want);
    drop(data);

    // One corrupted byte anywhere in the half-gigabyte is found and named.
    let bytes = std::fs::read(&path).unwrap();
    let at = rng.random_range(bytes.len() / 4..bytes.len() / 2);
    let frame = tfrecord::Frames::new(&bytes)
        .map(Result::unwrap)
        .find(|f| f.offset as usize <= at && at < (f.offset + f.len) as usize + 16)
        .unwrap();
    let mut bad = bytes;
    bad[at] ^= 0x01;
    std::fs::write(&path, &bad).unwrap();
    drop(bad);
    let err = NasBench101Data::open_with(&path, CacheMode::Off)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!(
            "record {} at byte offset {}",
            frame.index, frame.offset
        )) && err.contains("CRC"),
        "byte {at}: {err}"
    );
    // The cache written for the good file is not used for the changed one: the default load
    // sees that the file changed, parses it again and finds the bad byte too.
    assert!(data::cache_path(&path).exists());
    let err = NasBench101Data::open(&path).unwrap_err().to_string();
    assert!(err.contains("CRC"), "cached load of the changed file: {err}");
}
