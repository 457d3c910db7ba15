//! The `nasbench101-train` evaluator: every query trains the cell's network from scratch.

use std::collections::BTreeMap;
use std::sync::Arc;

use burn::tensor::Device;
use seminas_core::{Arch, Component, Error, Evaluator, Measurement, Result, SearchSpace};
use serde::{Deserialize, Serialize};

use super::data::{DatasetSource, ImageDataset, Limits};
use super::model::{NetworkConfig, BN_MOMENTUM};
use super::training::{train, LrSchedule, TrainReport, TrainingConfig};
use crate::spec::ModelSpec;

/// Registry key of the evaluator.
pub const TRAIN_EVALUATOR_NAME: &str = "nasbench101-train";

pub(crate) const DESCRIPTION: &str =
    "trains each NAS-Bench-101 cell from scratch (Burn; NAS-Bench-101 network and recipe) on \
     digits (embedded), IDX (MNIST/Fashion-MNIST) or CIFAR-10: validation accuracy as signal, \
     test_acc, params, wall time as cost";

pub(crate) const EXAMPLE: &str =
    "dataset = \"digits\"        # \"digits\" | { idx = \"DIR\" } | { cifar10 = \"DIR\" }\n\
     stacks = 1                 # paper: 3\n\
     cells = 1                  # per stack; paper: 3\n\
     channels = 16              # stem channels; paper: 128\n\
     steps = 200                # or epochs = 108 (the paper's)\n\
     batch_size = 64            # paper: 256\n\
     learning_rate = 0.1\n\
     bn_momentum = 0.9          # paper: 0.997 (too slow for short runs)";

/// Settings of `[evaluator.nasbench101-train]`; unknown keys are errors. Every default is the
/// NAS-Bench-101 paper's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainSettings {
    /// Images: `"digits"` (embedded, default), `{ idx = "DIR" }` or `{ cifar10 = "DIR" }`;
    /// relative paths are taken from the config file's folder and `${VAR}` is expanded.
    pub dataset: DatasetSource,
    /// Most training images used (default all).
    pub train_images: Option<usize>,
    /// Most validation images used (default all).
    pub validation_images: Option<usize>,
    /// Most test images used (default all).
    pub test_images: Option<usize>,
    /// Random crops and flips (default: on for CIFAR-10, off otherwise).
    pub augment: Option<bool>,
    /// Stacks of cells (default 3).
    pub stacks: usize,
    /// Cells per stack (default 3).
    pub cells: usize,
    /// Stem channels (default 128).
    pub channels: usize,
    /// Training steps; exclusive with `epochs`.
    pub steps: Option<usize>,
    /// Training epochs (default 108 when `steps` is not given).
    pub epochs: Option<f64>,
    /// Batch size (default 256).
    pub batch_size: usize,
    /// Base learning rate (default 0.1).
    pub learning_rate: f64,
    /// `cosine` (by step, default) or `constant`.
    pub lr_schedule: LrSchedule,
    /// RMSProp momentum (default 0.9).
    pub momentum: f64,
    /// RMSProp squared-gradient decay (default 0.9).
    pub rms_decay: f64,
    /// RMSProp epsilon (default 1.0).
    pub epsilon: f64,
    /// L2 weight decay (default 1e-4).
    pub weight_decay: f64,
    /// Batch-norm decay, TensorFlow's convention (default 0.997).
    pub bn_momentum: f64,
    /// Evaluation batch size (default 1000).
    pub eval_batch_size: usize,
}

impl Default for TrainSettings {
    fn default() -> Self {
        let recipe = TrainingConfig::new(0);
        TrainSettings {
            dataset: DatasetSource::Digits,
            train_images: None,
            validation_images: None,
            test_images: None,
            augment: None,
            stacks: 3,
            cells: 3,
            channels: 128,
            steps: None,
            epochs: None,
            batch_size: recipe.batch_size,
            learning_rate: recipe.learning_rate,
            lr_schedule: recipe.lr_schedule,
            momentum: recipe.momentum,
            rms_decay: recipe.rms_decay,
            epsilon: recipe.epsilon,
            weight_decay: recipe.weight_decay,
            bn_momentum: BN_MOMENTUM,
            eval_batch_size: recipe.eval_batch_size,
        }
    }
}

/// Trains every queried cell from scratch and measures it.
///
/// The signal is validation accuracy; the report holds `test_acc`, `val_acc`, `params`,
/// `train_loss` and `diverged`; the cost is the wall time. Each cell's weights, batch order and
/// augmentation are seeded by the search seed and the cell's hash, so on the CPU an evaluation
/// does not depend on what was evaluated before.
pub struct TrainEvaluator {
    data: Arc<ImageDataset>,
    settings: TrainSettings,
    steps: usize,
    device: Device,
    seed: u64,
    progress: bool,
}

fn check(prefix: &str, key: &str, ok: bool, message: impl FnOnce() -> String) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::config(format!("{prefix}.{key}"), message()))
    }
}

impl TrainEvaluator {
    /// Builds from a `[evaluator.nasbench101-train]` component: checks the settings and loads
    /// the data set.
    pub fn from_component(component: &Component, space: &Arc<dyn SearchSpace>) -> Result<Self> {
        let mut settings: TrainSettings = component.parse()?;
        let prefix = component.prefix();
        if space.name() != crate::SPACE_NAME {
            return Err(Error::config(
                "search.space",
                format!(
                    "the `{TRAIN_EVALUATOR_NAME}` evaluator trains NAS-Bench-101 cells; set space = \"{}\", not `{}`",
                    crate::SPACE_NAME,
                    space.name()
                ),
            ));
        }
        settings.dataset = match &settings.dataset {
            DatasetSource::Digits => DatasetSource::Digits,
            DatasetSource::Idx(p) => {
                DatasetSource::Idx(component.resolve_path("dataset.idx", &p.to_string_lossy())?)
            }
            DatasetSource::Cifar10(p) => DatasetSource::Cifar10(
                component.resolve_path("dataset.cifar10", &p.to_string_lossy())?,
            ),
        };
        let s = &settings;
        check(
            &prefix,
            "steps",
            !(s.steps.is_some() && s.epochs.is_some()),
            || "give either steps or epochs, not both".into(),
        )?;
        check(&prefix, "steps", s.steps != Some(0), || {
            "must be at least 1".into()
        })?;
        check(
            &prefix,
            "epochs",
            s.epochs.is_none_or(|e| e.is_finite() && e > 0.0),
            || "must be a positive number".into(),
        )?;
        check(&prefix, "batch_size", s.batch_size > 0, || {
            "must be at least 1".into()
        })?;
        check(&prefix, "eval_batch_size", s.eval_batch_size > 0, || {
            "must be at least 1".into()
        })?;
        check(
            &prefix,
            "learning_rate",
            s.learning_rate.is_finite() && s.learning_rate > 0.0,
            || "must be positive".into(),
        )?;
        check(
            &prefix,
            "momentum",
            (0.0..1.0).contains(&s.momentum),
            || "must be in [0, 1)".into(),
        )?;
        check(
            &prefix,
            "rms_decay",
            (0.0..1.0).contains(&s.rms_decay),
            || "must be in [0, 1)".into(),
        )?;
        check(&prefix, "epsilon", s.epsilon > 0.0, || {
            "must be positive".into()
        })?;
        check(&prefix, "weight_decay", s.weight_decay >= 0.0, || {
            "must be at least 0".into()
        })?;
        // The network settings are checked on a cell that exists in every space: input to output.
        let probe = ModelSpec::from_matrix(&[[0u8, 1], [0, 0]], &["input", "output"])
            .expect("a valid cell");
        network_config(s, probe, 1, 10, 0)
            .validate()
            .map_err(|e| match e {
                Error::Config { message, .. } => Error::config(prefix.clone(), message),
                other => other,
            })?;
        let limits = Limits {
            train: s.train_images,
            validation: s.validation_images,
            test: s.test_images,
        };
        let data = settings.dataset.load(limits).map_err(|e| match e {
            Error::Config { message, .. } => Error::config(format!("{prefix}.dataset"), message),
            other => other,
        })?;
        let steps = match (s.steps, s.epochs) {
            (Some(steps), _) => steps,
            (None, epochs) => TrainingConfig::steps_for_epochs(
                epochs.unwrap_or(108.0),
                data.train.len(),
                s.batch_size,
            ),
        };
        let device = component.device.device()?;
        Ok(TrainEvaluator {
            data: Arc::new(data),
            settings,
            steps,
            device,
            seed: component.seed,
            progress: true,
        })
    }

    /// Hides the per-architecture progress bar.
    pub fn without_progress(mut self) -> Self {
        self.progress = false;
        self
    }

    /// The loaded data set.
    pub fn data(&self) -> &ImageDataset {
        &self.data
    }

    /// Training steps per architecture.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// The network configuration of `spec` for this evaluator's data.
    pub fn network(&self, spec: ModelSpec, seed: u64) -> NetworkConfig {
        network_config(
            &self.settings,
            spec,
            self.data.channels,
            self.data.classes,
            seed,
        )
    }

    /// The training configuration for one architecture.
    pub fn training(&self, seed: u64) -> TrainingConfig {
        let s = &self.settings;
        TrainingConfig {
            steps: self.steps,
            batch_size: s.batch_size,
            learning_rate: s.learning_rate,
            lr_schedule: s.lr_schedule,
            momentum: s.momentum,
            rms_decay: s.rms_decay,
            epsilon: s.epsilon,
            weight_decay: s.weight_decay,
            augment: s
                .augment
                .unwrap_or(matches!(s.dataset, DatasetSource::Cifar10(_))),
            eval_batch_size: s.eval_batch_size,
            seed,
        }
    }

    /// Trains and measures one cell.
    pub fn train_spec(&self, spec: &ModelSpec) -> TrainReport {
        let seed = arch_seed(self.seed, &spec.hash());
        let bar = self.progress.then(|| {
            seminas_core::progress::bar(self.steps, &format!("training {}", &spec.hash()[..8]))
        });
        let report = train(
            &self.network(*spec, seed),
            &self.data,
            &self.training(seed ^ 0x7261_696e),
            &self.device,
            bar.as_ref(),
        );
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        report
    }
}

fn network_config(
    s: &TrainSettings,
    spec: ModelSpec,
    input_channels: usize,
    classes: usize,
    seed: u64,
) -> NetworkConfig {
    NetworkConfig::new(spec)
        .with_stacks(s.stacks)
        .with_cells(s.cells)
        .with_channels(s.channels)
        .with_input_channels(input_channels)
        .with_classes(classes)
        .with_bn_momentum(s.bn_momentum)
        .with_seed(seed)
}

/// A seed for one architecture: the search seed mixed with the cell's hash.
fn arch_seed(seed: u64, hash: &str) -> u64 {
    let mut z = seed ^ 0x6e62_3130_3174_726e;
    for chunk in hash.as_bytes().chunks(8) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        z = (z ^ u64::from_le_bytes(word)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        z ^= z >> 29;
    }
    z
}

impl Evaluator for TrainEvaluator {
    fn evaluate(&mut self, arch: &Arch, _key: &str) -> Result<Measurement> {
        let spec = ModelSpec::parse_json(arch.as_str())
            .map_err(|e| Error::InvalidArchitecture(format!("{arch}: {e}")))?;
        let r = self.train_spec(&spec);
        let mut report = BTreeMap::new();
        report.insert("test_acc".to_string(), r.test_accuracy);
        report.insert("val_acc".to_string(), r.validation_accuracy);
        report.insert("params".to_string(), r.params as f64);
        // JSON has no NaN: a run that diverged before its last tenth has no final loss.
        if r.final_loss.is_finite() {
            report.insert("train_loss".to_string(), r.final_loss);
        }
        report.insert("diverged".to_string(), if r.diverged { 1.0 } else { 0.0 });
        Ok(Measurement {
            signal: r.validation_accuracy,
            report,
            cost_seconds: r.seconds,
        })
    }
}
