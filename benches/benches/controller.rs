//! Controller speed: one training step (batch 100, sequence 27) at hidden sizes 16 and 64,
//! and pseudo-labelling of 10,000 sequences, on NAS-Bench-101 encodings, on the `flex` CPU
//! device: with the default engine there (the fused CPU engine, ids `flex_...`) and with
//! `engine = "burn"` for comparison (ids `flex_burn_...`); built with `--features libtorch`,
//! also on Burn's libtorch CPU backend (ids `libtorch_...`), side by side in one run; and on
//! the devices listed in `SEMINAS_BENCH_DEVICES` (comma-separated, e.g. `libtorch-cuda:0`).

use criterion::{criterion_group, criterion_main, Criterion};
use rand::SeedableRng;
use seminas_core::nao::{NaoController, NaoEngine, NaoSettings};
use seminas_core::{
    Component, ComponentKind, Controller, DeviceSpec, Example, Registry, SearchSpace,
};

use seminas_nasbench101 as _;

fn space() -> std::sync::Arc<dyn SearchSpace> {
    Registry::with_builtin()
        .unwrap()
        .build_space(&Component::new(ComponentKind::Space, "nasbench101"))
        .unwrap()
}

fn sequences(space: &dyn SearchSpace, count: usize) -> Vec<Vec<usize>> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    (0..count)
        .map(|_| space.encode(&space.sample(&mut rng)).unwrap())
        .collect()
}

/// The (device, engine) pairs compared, with their benchmark id prefix.
fn variants() -> Vec<(DeviceSpec, NaoEngine, &'static str)> {
    let mut variants = vec![
        (DeviceSpec::Flex, NaoEngine::Auto, "flex"),
        (DeviceSpec::Flex, NaoEngine::Burn, "flex_burn"),
    ];
    if cfg!(feature = "libtorch") {
        variants.push((DeviceSpec::Libtorch, NaoEngine::Burn, "libtorch"));
    }
    // GPUs, e.g. SEMINAS_BENCH_DEVICES=libtorch-cuda:0,cuda:0 (scripts/gpu-check.sh).
    if let Ok(list) = std::env::var("SEMINAS_BENCH_DEVICES") {
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let device: DeviceSpec = name.parse().unwrap_or_else(|e| panic!("SEMINAS_BENCH_DEVICES: {e}"));
            let label: &'static str = Box::leak(name.replace([':', '-'], "_").into_boxed_str());
            variants.push((device, NaoEngine::Burn, label));
        }
    }
    variants
}

fn training_step(c: &mut Criterion) {
    let space = space();
    let examples: Vec<Example> = sequences(space.as_ref(), 100)
        .into_iter()
        .enumerate()
        .map(|(i, tokens)| Example {
            tokens,
            score: (i as f32 / 50.0) - 1.0,
        })
        .collect();
    let mut group = c.benchmark_group("controller_train_step");
    for (device, engine, label) in variants() {
        let device = device.device().unwrap();
        for hidden in [16, 64] {
            let settings = NaoSettings {
                hidden_size: hidden,
                engine,
                ..NaoSettings::default()
            };
            let mut controller =
                NaoController::new(settings, space.encoding(), &device, 0).unwrap();
            group.bench_function(format!("{label}_batch100_len27_hidden{hidden}"), |b| {
                b.iter(|| controller.fit(&examples, 1).unwrap())
            });
        }
    }
    group.finish();
}

fn pseudo_labelling(c: &mut Criterion) {
    let space = space();
    let seqs = sequences(space.as_ref(), 10_000);
    let mut group = c.benchmark_group("controller_predict");
    group.sample_size(10);
    for (device, engine, label) in variants() {
        let device = device.device().unwrap();
        let settings = NaoSettings {
            engine,
            ..NaoSettings::default()
        };
        let controller = NaoController::new(settings, space.encoding(), &device, 0).unwrap();
        group.bench_function(format!("{label}_10000_sequences_hidden16"), |b| {
            b.iter(|| controller.predict(&seqs).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, training_step, pseudo_labelling);
criterion_main!(benches);
