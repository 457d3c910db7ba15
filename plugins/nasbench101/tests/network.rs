//! The NAS-Bench-101 network and the `nasbench101-train` evaluator.

use std::path::PathBuf;
use std::sync::Arc;

use burn::tensor::{Device, Tensor, TensorData};
use seminas_core::{Arch, Component, ComponentKind, Evaluator, Registry, SearchSpace};
use seminas_nasbench101::network::{
    DatasetSource, Limits, NetworkConfig, Trainer, TrainingConfig, TRAIN_EVALUATOR_NAME,
};
use seminas_nasbench101::{ModelSpec, NasBench101Space};

/// `sample-11k.jsonl` of the reference data, or `None` (with a note) when the variable is unset.
fn sample() -> Option<Vec<serde_json::Value>> {
    let Some(dir) = std::env::var_os("SEMINAS_REFERENCE_DATA") else {
        println!("skipped: SEMINAS_REFERENCE_DATA not set");
        return None;
    };
    let path = PathBuf::from(dir).join("nasbench101/sample-11k.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Some(
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
    )
}

#[test]
fn parameter_counts_match_the_sample() {
    let Some(records) = sample() else { return };
    assert_eq!(records.len(), 11_000);
    let device = Device::flex();
    let mut built = 0;
    for (i, r) in records.iter().enumerate() {
        let spec = ModelSpec::from_value(r).unwrap();
        let want = r["params"].as_u64().unwrap() as usize;
        let config = NetworkConfig::new(spec);
        assert_eq!(config.num_params(), want, "line {}: {}", i + 1, r["hash"]);
        // The built module agrees (weights are lazy: counting draws nothing).
        if i % 40 == 0 {
            assert_eq!(
                config.init(&device).trainable_params(),
                want,
                "line {}: {}",
                i + 1,
                r["hash"]
            );
            built += 1;
        }
    }
    assert!(built >= 200, "{built}");
    println!("11000 analytic and {built} built parameter counts match");
}

fn spec(matrix: &[&[u8]], ops: &[&str]) -> ModelSpec {
    ModelSpec::from_matrix(matrix, ops).unwrap()
}

/// A cell with every op, a truncated edge (three vertices share 16 output channels as 6, 5, 5,
/// and vertex 1 with 6 channels feeds vertex 2 with 5), a max-pool fed by a projection and a
/// vertex, and the input added to the output.
fn every_op() -> ModelSpec {
    spec(
        &[
            &[0, 1, 0, 1, 0, 1],
            &[0, 0, 1, 0, 0, 1],
            &[0, 0, 0, 1, 0, 1],
            &[0, 0, 0, 0, 1, 0],
            &[0, 0, 0, 0, 0, 1],
            &[0, 0, 0, 0, 0, 0],
        ],
        &[
            "input",
            "conv3x3-bn-relu",
            "conv1x1-bn-relu",
            "maxpool3x3",
            "conv3x3-bn-relu",
            "output",
        ],
    )
}

fn images(batch: usize, channels: usize, size: usize, device: &Device) -> Tensor<4> {
    let n = batch * channels * size * size;
    let values: Vec<f32> = (0..n)
        .map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0)
        .collect();
    Tensor::from_data(
        TensorData::new(values, [batch, channels, size, size]),
        device,
    )
}

#[test]
fn forward_on_every_op_type() {
    let device = Device::flex();
    let cells = [
        every_op(),
        // Input straight to output: a projection only.
        spec(&[&[0, 1], &[0, 0]], &["input", "output"]),
        // One op of each kind alone.
        spec(
            &[&[0, 1, 0], &[0, 0, 1], &[0, 0, 0]],
            &["input", "conv3x3-bn-relu", "output"],
        ),
        spec(
            &[&[0, 1, 0], &[0, 0, 1], &[0, 0, 0]],
            &["input", "conv1x1-bn-relu", "output"],
        ),
        spec(
            &[&[0, 1, 0], &[0, 0, 1], &[0, 0, 0]],
            &["input", "maxpool3x3", "output"],
        ),
    ];
    for cell in cells {
        // Two stacks: 7x7 is max-pooled to 4x4 as TensorFlow's "same" padding does.
        let config = NetworkConfig::new(cell)
            .with_stacks(2)
            .with_cells(2)
            .with_channels(16);
        let network = config.init(&device);
        assert_eq!(
            network.trainable_params(),
            config.num_params(),
            "{}",
            cell.to_json()
        );
        let logits = network.forward(images(3, 3, 7, &device));
        assert_eq!(logits.dims(), [3, 10]);
        let values = logits.into_data().try_to_vec::<f32>().unwrap();
        assert!(values.iter().all(|v| v.is_finite()), "{}", cell.to_json());
        // Different images give different logits: the cell passes information through.
        assert!(values[..10] != values[10..20], "{}", cell.to_json());
    }
}

#[test]
fn seeds_fix_the_weights() {
    let device = Device::flex();
    let forward = |seed: u64| {
        let network = NetworkConfig::new(every_op())
            .with_stacks(1)
            .with_cells(1)
            .with_channels(8)
            .with_seed(seed);
        network
            .init(&device)
            .forward(images(2, 3, 6, &device))
            .into_data()
            .try_to_vec::<f32>()
            .unwrap()
    };
    assert_eq!(forward(5), forward(5));
    assert_ne!(forward(5), forward(6));
}

#[test]
fn one_training_step_lowers_the_loss() {
    two_steps_on(Device::flex());
}

/// The same network trains on Burn's libtorch CPU backend (feature `libtorch`).
#[cfg(feature = "libtorch")]
#[test]
fn libtorch_cpu_training_step_lowers_the_loss() {
    let device = seminas_core::DeviceSpec::Libtorch.device().unwrap();
    two_steps_on(device);
}

fn two_steps_on(device: Device) {
    let data = DatasetSource::Digits.load(Limits::default()).unwrap();
    let network = NetworkConfig::new(every_op())
        .with_stacks(1)
        .with_cells(1)
        .with_channels(16)
        .with_input_channels(1);
    let mut config = TrainingConfig::new(1);
    config.lr_schedule = seminas_nasbench101::network::LrSchedule::Constant;
    config.learning_rate = 0.01;
    let mut trainer = Trainer::new(&network, config, &device);
    let indices: Vec<usize> = (0..128).collect();
    let batch = data.batch(&data.train, &indices, None, &trainer.device());
    let before = trainer.step(batch.clone());
    let after = trainer.step(batch);
    assert!(after < before, "loss {before} -> {after}");
    assert_eq!(trainer.steps_taken(), 2);
}

fn evaluator(toml: &str, seed: u64) -> seminas_core::Result<Box<dyn Evaluator>> {
    let registry = Registry::with_builtin().unwrap();
    let space: Arc<dyn SearchSpace> = Arc::new(NasBench101Space::new());
    let component = Component::new(ComponentKind::Evaluator, TRAIN_EVALUATOR_NAME)
        .with_toml(toml)?
        .with_seed(seed);
    registry.build_evaluator(&component, &space)
}

const SMALL: &str =
    "stacks = 1\ncells = 1\nchannels = 16\nsteps = 120\nbatch_size = 64\nbn_momentum = 0.9\n";

#[test]
fn evaluator_trains_digits_deterministically() {
    let space = NasBench101Space::new();
    let arch = Arch::new(every_op().to_json());
    let key = space.key(&arch).unwrap();
    let run = |seed| {
        evaluator(SMALL, seed)
            .unwrap()
            .evaluate(&arch, &key)
            .unwrap()
    };
    let a = run(1);
    let b = run(1);
    assert_eq!(a.signal, b.signal);
    assert_eq!(a.report, b.report);
    assert!(a.signal > 0.6, "validation accuracy {}", a.signal);
    assert!(a.report["test_acc"] > 0.6, "{:?}", a.report);
    assert_eq!(a.report["val_acc"], a.signal);
    assert_eq!(a.report["diverged"], 0.0);
    let params = NetworkConfig::new(every_op())
        .with_stacks(1)
        .with_cells(1)
        .with_channels(16)
        .with_input_channels(1);
    assert_eq!(a.report["params"], params.num_params() as f64);
    assert!(a.cost_seconds > 0.0);
    let c = run(2);
    assert_ne!(a.report["train_loss"], c.report["train_loss"]);
}

#[test]
fn evaluator_settings_are_checked() {
    let err = |toml: &str| evaluator(toml, 0).err().expect("an error").to_string();
    let e = err("stepz = 3");
    assert!(e.contains("stepz"), "{e}");
    let e = err("steps = 3\nepochs = 2.0");
    assert!(
        e.contains("evaluator.nasbench101-train.steps") && e.contains("not both"),
        "{e}"
    );
    let e = err("channels = 4");
    assert!(
        e.contains("evaluator.nasbench101-train") && e.contains("at least 5"),
        "{e}"
    );
    let e = err("momentum = 1.5");
    assert!(e.contains("evaluator.nasbench101-train.momentum"), "{e}");
    let e = err("dataset = 'mnist'");
    assert!(e.contains("evaluator.nasbench101-train.dataset"), "{e}");
    let e = err("dataset = { idx = '/surely/absent' }");
    assert!(
        e.contains("/surely/absent/train-images-idx3-ubyte") && e.contains("IDX"),
        "{e}"
    );
    let e = err("dataset = { cifar10 = '/surely/absent' }");
    assert!(
        e.contains("/surely/absent/data_batch_1.bin") && e.contains("CIFAR-10"),
        "{e}"
    );
    let e = err("train_images = 0");
    assert!(e.contains("every split needs images"), "{e}");
    // The registered example builds.
    let registry = Registry::with_builtin().unwrap();
    let listing = registry
        .listings()
        .into_iter()
        .find(|l| l.name == TRAIN_EVALUATOR_NAME)
        .unwrap();
    assert!(evaluator(&listing.example, 0).is_ok());
}
