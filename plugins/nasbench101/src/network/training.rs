//! Training a network from scratch with the NAS-Bench-101 recipe, and measuring it.

use std::time::Instant;

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::{GradientsParams, ModuleOptimizer, RmsPropConfig};
use burn::tensor::{Device, Tensor};
use indicatif::ProgressBar;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::data::{ImageBatch, ImageDataset, ImageSet};
use super::model::{Network, NetworkConfig};

/// Learning-rate schedule over the training steps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LrSchedule {
    /// Cosine decay from the base rate to 0 by step (`COSINE_BY_STEP`, the default).
    #[default]
    Cosine,
    /// The base rate throughout.
    Constant,
}

/// How a network is trained: the NAS-Bench-101 recipe by default (RMSProp with momentum 0.9,
/// decay 0.9 and epsilon 1.0, learning rate 0.1 with cosine decay by step, weight decay 1e-4 on
/// every trainable variable, batch 256).
#[derive(Clone, Debug, PartialEq)]
pub struct TrainingConfig {
    /// Optimisation steps (one batch each).
    pub steps: usize,
    /// Images per training batch (default 256).
    pub batch_size: usize,
    /// Base learning rate (default 0.1).
    pub learning_rate: f64,
    /// Learning-rate schedule (default cosine).
    pub lr_schedule: LrSchedule,
    /// RMSProp momentum (default 0.9).
    pub momentum: f64,
    /// RMSProp decay of the squared-gradient average (default 0.9, TensorFlow's).
    pub rms_decay: f64,
    /// RMSProp epsilon (default 1.0, as the official trainer sets it).
    pub epsilon: f64,
    /// L2 weight decay (default 1e-4).
    pub weight_decay: f64,
    /// Random crops and flips of training images (default off; the CIFAR-10 evaluator turns it
    /// on).
    pub augment: bool,
    /// Images per evaluation batch (default 1000).
    pub eval_batch_size: usize,
    /// Seed of the batch order and augmentation.
    pub seed: u64,
}

impl TrainingConfig {
    /// The NAS-Bench-101 recipe for `steps` steps.
    pub fn new(steps: usize) -> Self {
        TrainingConfig {
            steps,
            batch_size: 256,
            learning_rate: 0.1,
            lr_schedule: LrSchedule::Cosine,
            momentum: 0.9,
            rms_decay: 0.9,
            epsilon: 1.0,
            weight_decay: 1e-4,
            augment: false,
            eval_batch_size: 1000,
            seed: 0,
        }
    }

    /// Steps of `epochs` passes over `train_images` images, as the official trainer counts them
    /// (`int(epochs * images / batch_size)`, at least 1).
    pub fn steps_for_epochs(epochs: f64, train_images: usize, batch_size: usize) -> usize {
        ((epochs * train_images as f64 / batch_size as f64) as usize).max(1)
    }

    /// Learning rate at `step` (0-based).
    pub fn learning_rate_at(&self, step: usize) -> f64 {
        match self.lr_schedule {
            LrSchedule::Constant => self.learning_rate,
            LrSchedule::Cosine => {
                let progress = step as f64 / self.steps.max(1) as f64;
                0.5 * self.learning_rate * (1.0 + (std::f64::consts::PI * progress).cos())
            }
        }
    }

    fn optimizer(&self) -> ModuleOptimizer {
        RmsPropConfig::new()
            .with_alpha(self.rms_decay as f32)
            .with_momentum(self.momentum as f32)
            .with_epsilon(self.epsilon as f32)
            .with_weight_decay(
                (self.weight_decay > 0.0).then(|| WeightDecayConfig::new(self.weight_decay as f32)),
            )
            .init()
    }
}

/// A network being trained: the model on an autodiff device and its optimiser state.
pub struct Trainer {
    model: Network,
    optim: ModuleOptimizer,
    config: TrainingConfig,
    step: usize,
}

impl Trainer {
    /// Builds the network of `network` on `device` (made an autodiff device here).
    pub fn new(network: &NetworkConfig, config: TrainingConfig, device: &Device) -> Self {
        let device = device.clone().autodiff();
        Trainer {
            model: network.init(&device),
            optim: config.optimizer(),
            config,
            step: 0,
        }
    }

    /// The device training runs on (an autodiff device).
    pub fn device(&self) -> Device {
        self.model
            .devices()
            .into_iter()
            .next()
            .expect("the network has parameters")
    }

    /// The network with its current weights.
    pub fn model(&self) -> &Network {
        &self.model
    }

    /// Steps taken so far.
    pub fn steps_taken(&self) -> usize {
        self.step
    }

    /// One optimisation step on `batch` (on the training device); returns the batch's mean
    /// cross-entropy before the step.
    pub fn step(&mut self, batch: ImageBatch) -> f64 {
        f64::from(self.step_lazy(batch).into_scalar::<f32>())
    }

    /// [`step`](Self::step) without reading the loss back, so that a GPU can queue steps.
    pub fn step_lazy(&mut self, batch: ImageBatch) -> Tensor<1> {
        let logits = self.model.forward(batch.images);
        let loss = CrossEntropyLossConfig::new()
            .init(&logits.device())
            .forward(logits, batch.targets);
        let grads = GradientsParams::from_grads(loss.backward(), &self.model);
        let lr = self.config.learning_rate_at(self.step);
        self.model = self.optim.step(lr, self.model.clone(), grads);
        self.step += 1;
        loss.detach()
    }
}

/// Training speed of a network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    /// Timed steps.
    pub steps: usize,
    /// Images per step.
    pub batch_size: usize,
    /// Wall time of the timed steps.
    pub seconds: f64,
    /// Training images per second.
    pub images_per_second: f64,
    /// Loss of the last step (finite when training works).
    pub last_loss: f64,
}

/// Trains `network` on a stream of generated batches of `size` x `size` images (four distinct
/// batches, cycled): `warmup` untimed steps, then `steps` timed ones.
pub fn throughput(
    network: &NetworkConfig,
    config: &TrainingConfig,
    size: usize,
    warmup: usize,
    steps: usize,
    device: &Device,
) -> Throughput {
    let mut trainer = Trainer::new(network, config.clone(), device);
    let device = trainer.device();
    let batches: Vec<ImageBatch> = (0..4)
        .map(|i| {
            ImageBatch::synthetic(
                config.batch_size,
                network.input_channels,
                size,
                network.classes,
                i,
                &device,
            )
        })
        .collect();
    let mut last = None;
    for i in 0..warmup {
        last = Some(trainer.step(batches[i % 4].clone()));
    }
    let started = Instant::now();
    let mut loss = None;
    for i in 0..steps {
        loss = Some(trainer.step_lazy(batches[i % 4].clone()));
    }
    // Reading the last loss waits for every queued step.
    let last_loss = loss.map_or(last.unwrap_or(f64::NAN), |l| {
        f64::from(l.into_scalar::<f32>())
    });
    let seconds = started.elapsed().as_secs_f64();
    Throughput {
        steps,
        batch_size: config.batch_size,
        seconds,
        images_per_second: (steps * config.batch_size) as f64 / seconds.max(1e-9),
        last_loss,
    }
}

/// What training and evaluating one network gave.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainReport {
    /// Accuracy on the validation images.
    pub validation_accuracy: f64,
    /// Accuracy on the test images.
    pub test_accuracy: f64,
    /// Mean training loss over the last tenth of the steps (at least one).
    pub final_loss: f64,
    /// Whether the loss became infinite or NaN (training stopped there).
    pub diverged: bool,
    /// Trainable parameters.
    pub params: usize,
    /// Steps taken.
    pub steps: usize,
    /// Wall time of training and evaluation.
    pub seconds: f64,
    /// Training images per second.
    pub images_per_second: f64,
}

/// Accuracy of `model` (an inference model) on `set`.
pub fn accuracy(
    model: &Network,
    data: &ImageDataset,
    set: &ImageSet,
    batch_size: usize,
    device: &Device,
) -> f64 {
    let indices: Vec<usize> = (0..set.len()).collect();
    let mut correct = 0usize;
    for chunk in indices.chunks(batch_size.max(1)) {
        let batch = data.batch(set, chunk, None, device);
        let predicted = model.forward(batch.images).argmax(1).reshape([chunk.len()]);
        let hits: Tensor<1> = predicted.equal(batch.targets).float();
        correct += hits.sum().into_scalar::<f32>().round() as usize;
    }
    correct as f64 / set.len().max(1) as f64
}

/// Trains `network` on `data` as `config` says, then measures validation and test accuracy
/// (with batch norm's running statistics). `progress` advances once per step.
pub fn train(
    network: &NetworkConfig,
    data: &ImageDataset,
    config: &TrainingConfig,
    device: &Device,
    progress: Option<&ProgressBar>,
) -> TrainReport {
    let started = Instant::now();
    let mut trainer = Trainer::new(network, config.clone(), device);
    let train_device = trainer.device();
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut order: Vec<usize> = (0..data.train.len()).collect();
    let mut cursor = order.len();
    let tail = (config.steps / 10).max(1);
    let (mut tail_loss, mut tail_steps) = (0.0, 0usize);
    let mut diverged = false;
    let mut batch_indices = Vec::with_capacity(config.batch_size);
    for step in 0..config.steps {
        // A shuffled stream over epochs: a batch may straddle two epochs, as a repeated,
        // shuffled input pipeline gives them.
        batch_indices.clear();
        while batch_indices.len() < config.batch_size {
            if cursor == order.len() {
                order.shuffle(&mut rng);
                cursor = 0;
            }
            let take = (config.batch_size - batch_indices.len()).min(order.len() - cursor);
            batch_indices.extend_from_slice(&order[cursor..cursor + take]);
            cursor += take;
        }
        let augment = config.augment.then_some(&mut rng as &mut dyn rand::RngCore);
        let batch = data.batch(&data.train, &batch_indices, augment, &train_device);
        let loss = trainer.step(batch);
        if !loss.is_finite() {
            diverged = true;
            break;
        }
        if step + tail >= config.steps {
            tail_loss += loss;
            tail_steps += 1;
        }
        if let Some(bar) = progress {
            bar.inc(1);
        }
    }
    let train_seconds = started.elapsed().as_secs_f64();
    let model = trainer.model.valid();
    let eval_device = train_device.inner();
    let validation_accuracy = accuracy(
        &model,
        data,
        &data.validation,
        config.eval_batch_size,
        &eval_device,
    );
    let test_accuracy = accuracy(
        &model,
        data,
        &data.test,
        config.eval_batch_size,
        &eval_device,
    );
    TrainReport {
        validation_accuracy,
        test_accuracy,
        final_loss: if tail_steps > 0 {
            tail_loss / tail_steps as f64
        } else {
            f64::NAN
        },
        diverged,
        params: model.trainable_params(),
        steps: trainer.step,
        seconds: started.elapsed().as_secs_f64(),
        images_per_second: (trainer.step * config.batch_size) as f64 / train_seconds.max(1e-9),
    }
}
