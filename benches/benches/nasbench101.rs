//! NAS-Bench-101 data set speed on a full-size generated data file (all 423,624 cells, three
//! runs each, the record layout and size of `nasbench_only108.tfrecord`): enumeration of the
//! space, parsing the file (both CRCs of every record, protobuf metrics, hashes), loading the
//! binary cache, and query throughput (prune + canonical lookup + run choice) on one core.
//!
//! `cargo bench -p seminas-benches --bench nasbench101` (writes ~515 MB to a temporary folder
//! under the target folder, removed afterwards).

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use seminas_nasbench101::data::{synthetic, CacheMode, NasBench101Data};
use seminas_nasbench101::spec::{Op, RawCell};
use seminas_nasbench101::{all_cells, enumerate_all, NUM_CELLS};

/// A temporary folder removed when dropped.
struct Folder(PathBuf);

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn nasbench101(c: &mut Criterion) {
    let mut group = c.benchmark_group("nasbench101");
    group.sample_size(10);

    group.bench_function("enumerate_423624_cells", |b| {
        b.iter(|| {
            let cells = enumerate_all();
            assert_eq!(cells.len(), NUM_CELLS);
        })
    });

    let dir = Folder(
        std::env::temp_dir().join(format!("seminas-bench-nasbench101-{}", std::process::id())),
    );
    std::fs::create_dir_all(&dir.0).unwrap();
    let path = dir.0.join("nasbench_generated.tfrecord");
    let cells = all_cells();
    let written = synthetic::write(&path, cells, &[108], 3).unwrap();
    assert_eq!(written.records, 3 * NUM_CELLS as u64);

    group.throughput(Throughput::Bytes(written.bytes));
    group.bench_function("parse_full_size_tfrecord", |b| {
        b.iter(|| {
            let data = NasBench101Data::open_with(&path, CacheMode::Off).unwrap();
            assert_eq!(data.len(), NUM_CELLS);
        })
    });
    // Writes the cache once, then times loads from it.
    drop(NasBench101Data::open_with(&path, CacheMode::Rebuild).unwrap());
    group.bench_function("load_from_cache", |b| {
        b.iter(|| {
            let data = NasBench101Data::open(&path).unwrap();
            assert!(data.load_info().from_cache);
        })
    });

    // Queries of raw 7-vertex cells (smaller cells padded with dangling vertices, so that
    // pruning has work to do), in random order.
    let data = NasBench101Data::open(&path).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut raws: Vec<RawCell> = cells
        .iter()
        .step_by(40)
        .map(|c| {
            c.spec()
                .padded(&vec![Op::Conv3x3; 7 - c.spec().num_vertices()])
        })
        .collect();
    raws.shuffle(&mut rng);
    group.sample_size(20);
    group.throughput(Throughput::Elements(raws.len() as u64));
    group.bench_function("query_prune_hash_lookup", |b| {
        b.iter(|| {
            let mut total = 0.0;
            for raw in &raws {
                let spec = raw.prune().unwrap();
                total += data
                    .query(&spec, 108, false, &mut rng)
                    .unwrap()
                    .evaluation
                    .validation_accuracy;
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, nasbench101);
criterion_main!(benches);
