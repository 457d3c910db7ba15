//! Strategies compared on the same footing: the wall time of a full search per strategy on the
//! NAS-Bench-201 table (CIFAR-10, budget 100, seed 0, the small settings of
//! `examples/configs/nasbench201-*.toml`), and gradient-ascent generation of 100 new
//! architectures by a trained controller.
//!
//! The table is `${SEMINAS_REFERENCE_DATA}/nasbench201/nats_bench.csv` when that file exists;
//! otherwise a generated table of all 15,625 cells in the same format (accuracies from a fixed
//! additive model of the operations plus deterministic noise), so that `cargo bench` runs
//! without reference data. The benchmark names say which table was used.

use std::collections::HashSet;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use rand::SeedableRng;
use seminas_core::nao::{NaoController, NaoSettings};
use seminas_core::{Component, ComponentKind, Config, Controller, Example, Registry, SearchSpace};
use seminas_nasbench201::{Cell, OPS};

/// The reference table, or a generated one; and which it is.
fn table() -> (PathBuf, &'static str) {
    if let Some(dir) = std::env::var_os("SEMINAS_REFERENCE_DATA") {
        let path = PathBuf::from(dir).join("nasbench201/nats_bench.csv");
        if path.is_file() {
            return (path, "reference");
        }
    }
    let path = std::env::temp_dir().join(format!("seminas-bench-nb201-generated-{}.csv", std::process::id()));
    // Contribution of each operation to the accuracy (none, skip, conv1x1, conv3x3, pool).
    const WEIGHT: [f64; OPS.len()] = [-2.5, 0.5, 2.0, 3.5, 0.2];
    let mut text = String::from(
        "CIFAR10TestAccuracy200Epochs,CIFAR100TestAccuracy200Epochs,ImageNetTestAccuracy200Epochs,\
         ArchitectureString,UniqueString\n",
    );
    for (index, cell) in Cell::all().enumerate() {
        let base: f64 = cell.ops().iter().enumerate().map(|(e, &op)| WEIGHT[op] * (1.0 + e as f64 / 10.0)).sum();
        let noise = (splitmix(index as u64) >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
        let acc = (70.0 + base + 2.0 * noise).clamp(10.0, 95.0);
        text.push_str(&format!("{acc},{},{},{cell},{cell}\n", acc - 25.0, acc - 50.0));
    }
    std::fs::write(&path, text).expect("the temporary folder is writable");
    (path, "generated")
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

const SETTINGS: &str = r#"
[strategy.seminas-nao]
n = 40
m = 1000
up_sample = 10
k = 40
new_per_iteration = 30
pretrain_epochs = 100
epochs = 10

[strategy.nao]
n = 40
k = 40
new_per_iteration = 30
pretrain_epochs = 100

[strategy.seminas-re]
population = 40
sample = 10
children = 100
evaluate = 20
m = 1000
up_sample = 10
pretrain_epochs = 100
epochs = 10

[strategy.re]
population = 40
sample = 10
"#;

fn full_search(c: &mut Criterion) {
    let (path, which) = table();
    let registry = Registry::with_builtin().unwrap();
    let mut group = c.benchmark_group(format!("search_nasbench201_{which}_budget100"));
    group.sample_size(10);
    for strategy in ["random", "re", "nao", "seminas-nao", "seminas-re"] {
        let text = format!(
            "[search]\nspace = 'nasbench201'\nevaluator = 'nasbench201'\nstrategy = '{strategy}'\nbudget = 100\n\
             seed = 0\n\n[evaluator.nasbench201]\npath = '{}'\ndataset = 'cifar10'\n{SETTINGS}",
            path.display()
        );
        let config = Config::parse(&text).unwrap();
        group.bench_function(strategy, |b| {
            b.iter_batched(
                // Loading the table is not part of the search.
                || seminas_core::prepare(&registry, config.clone()).unwrap(),
                |prepared| prepared.run(None).unwrap(),
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
    if which == "generated" {
        let _ = std::fs::remove_file(path);
    }
}

fn generation(c: &mut Criterion) {
    let registry = Registry::with_builtin().unwrap();
    let space = registry.build_space(&Component::new(ComponentKind::Space, "nasbench201")).unwrap();
    let device = seminas_core::DeviceSpec::Flex.device().unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let examples: Vec<Example> = (0..100)
        .map(|i| Example { tokens: space.encode(&space.sample(&mut rng)).unwrap(), score: i as f32 / 50.0 - 1.0 })
        .collect();
    let mut controller = NaoController::new(NaoSettings::default(), space.encoding(), &device, 0).unwrap();
    controller.fit(&examples, 100).unwrap();
    let seeds: Vec<Vec<usize>> = examples.iter().map(|e| e.tokens.clone()).collect();
    let mut group = c.benchmark_group("controller_generate");
    group.sample_size(10);
    group.bench_function("flex_nasbench201_100_new_architectures_hidden16", |b| {
        b.iter(|| {
            let mut seen: HashSet<String> = seeds.iter().filter_map(|t| key(space.as_ref(), t)).collect();
            let mut accept = |tokens: &[usize]| key(space.as_ref(), tokens).is_some_and(|k| seen.insert(k));
            controller.propose(&seeds, 100, &mut accept).unwrap()
        })
    });
    group.finish();
}

fn key(space: &dyn SearchSpace, tokens: &[usize]) -> Option<String> {
    space.decode(tokens).ok().and_then(|arch| space.key(&arch).ok())
}

criterion_group!(benches, full_search, generation);
criterion_main!(benches);
