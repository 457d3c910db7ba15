//! Reader tests on synthetic files in the official format.

use std::time::Instant;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::enumerate::{all_cells, Cell};

/// `count` cells spread over the whole enumeration (every size of cell included).
fn spread(count: usize) -> Vec<Cell> {
    let cells = all_cells();
    let step = cells.len() / count;
    cells
        .iter()
        .step_by(step.max(1))
        .take(count)
        .copied()
        .collect()
}

fn write_fixture(dir: &Path, name: &str, cells: &[Cell], epochs: &[u32], runs: usize) -> PathBuf {
    let path = dir.join(name);
    let start = Instant::now();
    let written = synthetic::write(&path, cells, epochs, runs).unwrap();
    println!(
        "{name}: wrote {} records, {:.1} MB in {:.2?}",
        written.records,
        written.bytes as f64 / 1e6,
        start.elapsed()
    );
    assert_eq!(written.records, (cells.len() * epochs.len() * runs) as u64);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), written.bytes);
    path
}

/// Every cell is found with its matrix, ops, parameters and runs; nothing else is there.
fn check_contents(data: &NasBench101Data, cells: &[Cell], epochs: &[u32], runs: usize) {
    assert_eq!(data.len(), cells.len());
    assert_eq!(data.epochs(), epochs);
    assert_eq!(data.records(), (cells.len() * epochs.len() * runs) as u64);
    let bad: Vec<String> = cells
        .par_iter()
        .enumerate()
        .filter_map(|(k, cell)| {
            let i = data.find(cell.hash())?;
            let ok = i == k
                && data.find_spec(cell.spec()) == Some(i)
                && data.hash(i) == cell.hash()
                && data.spec(i) == *cell.spec()
                && data.params(i) == synthetic::params(cell.hash())
                && epochs.iter().enumerate().all(|(e, &budget)| {
                    let got: Vec<Run> = data.runs(i, e).collect();
                    got.len() == runs
                        && got
                            .iter()
                            .enumerate()
                            .all(|(r, run)| *run == synthetic::expected_run(cell.hash(), budget, r))
                });
            (!ok).then(|| cell.hash().to_string())
        })
        .collect();
    assert!(
        bad.is_empty(),
        "{} cells read back wrong, e.g. {:?}",
        bad.len(),
        bad.first()
    );
    let found = cells
        .par_iter()
        .filter(|c| data.find(c.hash()).is_some())
        .count();
    assert_eq!(found, cells.len(), "every cell is found");
}

fn fixture_round_trip(count: usize) {
    let dir = tempfile::tempdir().unwrap();
    let cells = spread(count);
    let path = write_fixture(dir.path(), "fixture.tfrecord", &cells, &[108], 3);

    let cold = NasBench101Data::open(&path).unwrap();
    let info = cold.load_info().clone();
    println!(
        "{count} cells: cold load (parse, every CRC, write cache) {:.2} s",
        info.seconds
    );
    assert!(!info.from_cache);
    assert_eq!(info.cache.as_deref(), Some(cache_path(&path).as_path()));
    assert!(info.cache_note.is_none(), "{:?}", info.cache_note);
    check_contents(&cold, &cells, &[108], 3);

    let warm = NasBench101Data::open(&path).unwrap();
    println!(
        "{count} cells: cached load {:.3} s",
        warm.load_info().seconds
    );
    assert!(warm.load_info().from_cache);
    check_contents(&warm, &cells, &[108], 3);

    // The best mean test accuracy is the formula's, at the cell of largest first hash digits.
    let e = warm.epoch_index(108).unwrap();
    let (best, acc) = warm.best_test_accuracy(e).unwrap();
    let want = cells
        .iter()
        .map(|c| {
            (0..3)
                .map(|r| synthetic::expected_run(c.hash(), 108, r).end.test_accuracy)
                .sum::<f64>()
                / 3.0
        })
        .fold(f64::MIN, f64::max);
    assert_eq!(acc, want);
    assert_eq!(warm.mean_test_accuracy(best, e), Some(acc));
}

/// A 20,000-cell fixture (the full-size one is `tests/full_size.rs`).
#[test]
fn fixture_of_20000_cells_reads_back() {
    fixture_round_trip(20_000);
}

#[test]
fn all_epoch_budgets_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let cells = spread(300);
    let epochs = [4, 12, 36, 108];
    let path = write_fixture(dir.path(), "full.tfrecord", &cells, &epochs, 3);
    let data = NasBench101Data::open_with(&path, CacheMode::Off).unwrap();
    check_contents(&data, &cells, &epochs, 3);
    assert!(data.load_info().cache.is_none());
    assert!(!cache_path(&path).exists());
    let err = data.epoch_index(200).unwrap_err().to_string();
    assert!(
        err.contains("200") && err.contains("[4, 12, 36, 108]"),
        "{err}"
    );
}

/// Index of the record holding byte `at`.
fn record_at(data: &[u8], at: u64) -> (u64, u64) {
    tfrecord::Frames::new(data)
        .map(Result::unwrap)
        .find(|f| f.offset <= at && at < f.offset + f.len + 16)
        .map(|f| (f.index, f.offset))
        .unwrap()
}

#[test]
fn corrupted_and_truncated_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cells = spread(500);
    let path = write_fixture(dir.path(), "good.tfrecord", &cells, &[108], 3);
    let bytes = std::fs::read(&path).unwrap();
    // One flipped bit anywhere is caught, and named by record and offset.
    for at in [
        0u64,
        5,
        9,
        13,
        200,
        bytes.len() as u64 / 2,
        bytes.len() as u64 - 2,
    ] {
        let mut bad = bytes.clone();
        bad[at as usize] ^= 0x10;
        let bad_path = dir.path().join("bad.tfrecord");
        std::fs::write(&bad_path, &bad).unwrap();
        let err = NasBench101Data::open_with(&bad_path, CacheMode::Off)
            .unwrap_err()
            .to_string();
        let (index, offset) = record_at(&bytes, at);
        assert!(
            err.contains(&format!("record {index} at byte offset {offset}")),
            "byte {at}: {err}"
        );
        assert!(err.contains("CRC"), "{err}");
        assert!(err.contains("bad.tfrecord"), "{err}");
    }
    // A cut file names the record it cuts.
    let cut = bytes.len() - 100;
    let cut_path = dir.path().join("cut.tfrecord");
    std::fs::write(&cut_path, &bytes[..cut]).unwrap();
    let err = NasBench101Data::open_with(&cut_path, CacheMode::Off)
        .unwrap_err()
        .to_string();
    let (index, offset) = record_at(&bytes, cut as u64);
    assert!(
        err.contains(&format!("record {index} at byte offset {offset}"))
            && err.contains("truncated"),
        "{err}"
    );
    // An empty or missing file.
    let empty = dir.path().join("empty.tfrecord");
    std::fs::write(&empty, b"").unwrap();
    assert!(NasBench101Data::open(&empty)
        .unwrap_err()
        .to_string()
        .contains("empty"));
    let missing = NasBench101Data::open(&dir.path().join("missing.tfrecord"))
        .unwrap_err()
        .to_string();
    assert!(
        missing.contains("nasbench_only108.tfrecord") && missing.contains("seminas data fetch"),
        "{missing}"
    );
    // A payload with a valid CRC but a bad body is named too.
    let mut w = tfrecord::Writer::new(Vec::new());
    w.write(
        payload::format(
            cells[0].hash(),
            108,
            cells[0].spec(),
            &synthetic::metrics(cells[0].hash(), 108, 0),
        )
        .as_bytes(),
    )
    .unwrap();
    w.write(b"[\"nothex\", 108]").unwrap();
    let odd = dir.path().join("odd.tfrecord");
    std::fs::write(&odd, w.finish().unwrap()).unwrap();
    let err = NasBench101Data::open_with(&odd, CacheMode::Off)
        .unwrap_err()
        .to_string();
    assert!(err.contains("record 1 at byte offset"), "{err}");
    // A cell stored under another cell's hash is refused.
    let mut w = tfrecord::Writer::new(Vec::new());
    w.write(
        payload::format(
            cells[1].hash(),
            108,
            cells[0].spec(),
            &synthetic::metrics(cells[1].hash(), 108, 0),
        )
        .as_bytes(),
    )
    .unwrap();
    let wrong = dir.path().join("wrong.tfrecord");
    std::fs::write(&wrong, w.finish().unwrap()).unwrap();
    let err = NasBench101Data::open_with(&wrong, CacheMode::Off)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(cells[0].hash()) && err.contains(cells[1].hash()),
        "{err}"
    );
}

#[test]
fn stale_or_damaged_caches_are_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let cells = spread(200);
    let path = write_fixture(dir.path(), "data.tfrecord", &cells, &[108], 3);
    let first = NasBench101Data::open(&path).unwrap();
    assert!(!first.load_info().from_cache);
    assert!(NasBench101Data::open(&path).unwrap().load_info().from_cache);

    // A damaged cache is reported and replaced.
    let cache = cache_path(&path);
    let mut image = std::fs::read(&cache).unwrap();
    let mid = image.len() / 2;
    image[mid] ^= 1;
    std::fs::write(&cache, &image).unwrap();
    let again = NasBench101Data::open(&path).unwrap();
    assert!(!again.load_info().from_cache);
    assert!(
        again
            .load_info()
            .cache_note
            .as_deref()
            .unwrap()
            .contains("checksum"),
        "{:?}",
        again.load_info()
    );
    assert!(NasBench101Data::open(&path).unwrap().load_info().from_cache);

    // A changed data file invalidates the cache.
    let fewer = &cells[..100];
    synthetic::write(&path, fewer, &[108], 2).unwrap();
    let changed = NasBench101Data::open(&path).unwrap();
    assert!(!changed.load_info().from_cache);
    assert_eq!(changed.len(), 100);

    // Rebuild ignores a good cache.
    let rebuilt = NasBench101Data::open_with(&path, CacheMode::Rebuild).unwrap();
    assert!(!rebuilt.load_info().from_cache);

    // Shared loads return the same data until the file changes.
    let a = NasBench101Data::open_shared(&path).unwrap();
    let b = NasBench101Data::open_shared(&path).unwrap();
    assert!(Arc::ptr_eq(&a, &b));
}

#[test]
fn queries_follow_the_official_api() {
    let dir = tempfile::tempdir().unwrap();
    let cells = spread(1000);
    let path = write_fixture(dir.path(), "q.tfrecord", &cells, &[108], 3);
    let data = NasBench101Data::open_with(&path, CacheMode::Off).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let cell = cells[700];
    let q = data.query(cell.spec(), 108, false, &mut rng).unwrap();
    assert_eq!(q.hash, cell.hash());
    assert_eq!(q.runs, 3);
    assert_eq!(
        q.evaluation,
        synthetic::expected_run(cell.hash(), 108, q.run).end
    );
    let mean = (0..3)
        .map(|r| {
            synthetic::expected_run(cell.hash(), 108, r)
                .end
                .test_accuracy
        })
        .sum::<f64>()
        / 3.0;
    assert!((q.mean_test_accuracy - mean).abs() < 1e-15);
    let half = data.query(cell.spec(), 108, true, &mut rng).unwrap();
    assert_eq!(
        half.evaluation,
        synthetic::expected_run(cell.hash(), 108, half.run).halfway
    );
    // Every run comes up, as chosen by the seeded generator.
    let mut seen = [0usize; 3];
    for _ in 0..300 {
        seen[data.query(cell.spec(), 108, false, &mut rng).unwrap().run] += 1;
    }
    assert!(seen.iter().all(|&k| k > 60), "{seen:?}");
    // An isomorphic notation of the cell is the same query.
    let spec = cell.spec();
    let n = spec.num_vertices();
    if n > 3 {
        // Reverse the middle vertices where that keeps the matrix upper-triangular, else skip.
        let perm: Vec<usize> = (0..n)
            .map(|v| if v == 0 || v == n - 1 { v } else { n - 1 - v })
            .collect();
        let matrix: Vec<Vec<u8>> = (0..n)
            .map(|i| {
                (0..n)
                    .map(|j| u8::from(spec.has_edge(perm[i], perm[j])))
                    .collect()
            })
            .collect();
        let ops: Vec<&str> = (0..n).map(|i| spec.ops()[perm[i]].label()).collect();
        if let Ok(other) = ModelSpec::from_matrix(&matrix, &ops) {
            assert_eq!(
                data.query(&other, 108, false, &mut rng).unwrap().index,
                q.index
            );
        }
    }
    // A valid cell outside the file is an error naming its hash.
    let absent = all_cells()
        .iter()
        .find(|c| data.find(c.hash()).is_none())
        .unwrap();
    let err = data
        .query(absent.spec(), 108, false, &mut rng)
        .unwrap_err()
        .to_string();
    assert!(err.contains(absent.hash()), "{err}");
    assert!(data.query(cell.spec(), 12, false, &mut rng).is_err());
}
