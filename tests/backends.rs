//! Burn's libtorch backend computes what the default flex backend computes (feature
//! `libtorch`; run with `cargo test -p seminas-tests --features libtorch -- backends`).

use rand::SeedableRng;
use seminas_core::nao::{NaoController, NaoEngine, NaoSettings};
use seminas_core::{Component, ComponentKind, Controller, DeviceSpec, Example, SearchSpace};
use seminas_tests::registry;

/// 300 NAS-Bench-201 cells with a score that depends on their operations, so that the
/// predictor has something to learn (no reference data needed).
fn examples() -> (std::sync::Arc<dyn SearchSpace>, Vec<Example>) {
    let space = registry()
        .build_space(&Component::new(ComponentKind::Space, "nasbench201"))
        .unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let examples = (0..300)
        .map(|_| {
            let arch = space.sample(&mut rng);
            let tokens = space.encode(&arch).unwrap();
            let score = tokens
                .iter()
                .enumerate()
                .map(|(i, &t)| ((i + 1) * t) as f32)
                .sum::<f32>()
                / 100.0
                - 1.0;
            Example { tokens, score }
        })
        .collect();
    (space, examples)
}

fn trained(device: DeviceSpec, engine: NaoEngine) -> (f64, Vec<f32>, Vec<Vec<usize>>) {
    let (space, examples) = examples();
    let settings = NaoSettings {
        engine,
        ..NaoSettings::default()
    };
    let mut controller =
        NaoController::new(settings, space.encoding(), &device.device().unwrap(), 7).unwrap();
    assert_eq!(controller.engine(), engine);
    let report = controller.fit(&examples, 5).unwrap();
    let tokens: Vec<Vec<usize>> = examples.iter().map(|e| e.tokens.clone()).collect();
    let predictions = controller.predict(&tokens).unwrap();
    let rebuilt = controller.reconstruct(&tokens[..50]).unwrap();
    (report.score_loss, predictions, rebuilt)
}

#[test]
fn libtorch_cpu_training_agrees_with_flex() {
    // Same seed, same initial weights, same dropout masks and batches: 15 Adam steps on each
    // backend must land on the same network up to float rounding.
    let (flex_loss, flex_pred, flex_rebuilt) = trained(DeviceSpec::Flex, NaoEngine::Burn);
    let (torch_loss, torch_pred, torch_rebuilt) = trained(DeviceSpec::Libtorch, NaoEngine::Burn);
    println!("score loss after 5 epochs: flex {flex_loss:.6}, libtorch {torch_loss:.6}");
    assert!(
        (flex_loss - torch_loss).abs() < 1e-3,
        "score losses differ: flex {flex_loss}, libtorch {torch_loss}"
    );
    let worst = flex_pred
        .iter()
        .zip(&torch_pred)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    println!("largest prediction difference over 300 cells: {worst:.2e}");
    assert!(worst < 1e-3, "predictions differ by up to {worst}");
    let same = flex_rebuilt
        .iter()
        .zip(&torch_rebuilt)
        .filter(|(a, b)| a == b)
        .count();
    assert!(same >= 48, "only {same} of 50 reconstructions agree");
}

#[test]
fn libtorch_cpu_training_agrees_with_the_fused_engine() {
    let (fused_loss, fused_pred, _) = trained(DeviceSpec::Flex, NaoEngine::Fused);
    let (torch_loss, torch_pred, _) = trained(DeviceSpec::Libtorch, NaoEngine::Burn);
    assert!(
        (fused_loss - torch_loss).abs() < 1e-3,
        "score losses differ: fused {fused_loss}, libtorch {torch_loss}"
    );
    let worst = fused_pred
        .iter()
        .zip(&torch_pred)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-3, "predictions differ by up to {worst}");
}
