//! Controller speed: one training step (batch 100, sequence 27) at hidden sizes 16 and 64,
//! and pseudo-labelling of 10,000 sequences, on NAS-Bench-101 encodings, on the `flex` CPU
//! device: with the default engine there (the fused CPU engine, ids `flex_...`) and with
//! `engine = "burn"` for comparison (ids `flex_burn_...`).

use criterion::{criterion_group, criterion_main, Criterion};
use rand::SeedableRng;
use seminas_core::nao::{NaoController, NaoEngine, NaoSettings};
use seminas_core::{Component, ComponentKind, Controller, Example, Registry, SearchSpace};

use seminas_nasbench101 as _;

fn space() -> std::sync::Arc<dyn SearchSpace> {
    Registry::with_builtin()
        .unwrap()
        .build_space(&Component::new(ComponentKind::Space, "nasbench101"))
        .unwrap()
}

fn sequences(space: &dyn SearchSpace, count: usize) -> Vec<Vec<usize>> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    (0..count).map(|_| space.encode(&space.sample(&mut rng)).unwrap()).collect()
}

fn training_step(c: &mut Criterion) {
    let space = space();
    let device = seminas_core::DeviceSpec::Flex.device().unwrap();
    let examples: Vec<Example> = sequences(space.as_ref(), 100)
        .into_iter()
        .enumerate()
        .map(|(i, tokens)| Example { tokens, score: (i as f32 / 50.0) - 1.0 })
        .collect();
    let mut group = c.benchmark_group("controller_train_step");
    for (engine, label) in [(NaoEngine::Auto, "flex"), (NaoEngine::Burn, "flex_burn")] {
        for hidden in [16, 64] {
            let settings = NaoSettings { hidden_size: hidden, engine, ..NaoSettings::default() };
            let mut controller = NaoController::new(settings, space.encoding(), &device, 0).unwrap();
            group.bench_function(format!("{label}_batch100_len27_hidden{hidden}"), |b| {
                b.iter(|| controller.fit(&examples, 1).unwrap())
            });
        }
    }
    group.finish();
}

fn pseudo_labelling(c: &mut Criterion) {
    let space = space();
    let device = seminas_core::DeviceSpec::Flex.device().unwrap();
    let seqs = sequences(space.as_ref(), 10_000);
    let mut group = c.benchmark_group("controller_predict");
    group.sample_size(10);
    for (engine, label) in [(NaoEngine::Auto, "flex"), (NaoEngine::Burn, "flex_burn")] {
        let settings = NaoSettings { engine, ..NaoSettings::default() };
        let controller = NaoController::new(settings, space.encoding(), &device, 0).unwrap();
        group.bench_function(format!("{label}_10000_sequences_hidden16"), |b| {
            b.iter(|| controller.predict(&seqs).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, training_step, pseudo_labelling);
criterion_main!(benches);
