//! The NAO controller on Burn: encoder, predictor and decoder trained jointly, and
//! gradient-ascent generation of new architectures (Luo et al. 2018; SemiNAS, Algorithm 1).

mod inference;
mod model;
mod training;

pub use model::{Decoder, DecoderState, Encoded, Encoder, Losses, NaoModel, NaoModelConfig, Noise, Predictor};

use burn::module::Module;
use burn::optim::{AdamConfig, ModuleOptimizer, decay::WeightDecayConfig};
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::{Component, Controller, Encoding, Example, FitReport, Result, Token};

/// Settings of the `nao` controller (`[controller.nao]`). Defaults are the paper's
/// NAS-Bench-101 settings (section 4.1 and appendix 7.1.1) and the official code's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NaoSettings {
    /// Hidden size of embeddings and LSTMs (default 16).
    pub hidden_size: usize,
    /// Hidden size of the predictor MLP (default 64).
    pub mlp_hidden_size: usize,
    /// Predictor MLP layers before the final linear layer (default 2).
    pub mlp_layers: usize,
    /// Dropout probability while training (default 0.1).
    pub dropout: f64,
    /// Adam learning rate (default 0.001).
    pub lr: f64,
    /// L2 regularisation (Adam weight decay, default 1e-4).
    pub l2_reg: f64,
    /// Global gradient-norm clipping bound (default 5.0).
    pub grad_bound: f32,
    /// Weight lambda of the score loss; the reconstruction loss gets 1 - lambda (default 0.8).
    pub trade_off: f64,
    /// Batch size (default 100).
    pub batch_size: usize,
    /// Step size eta of gradient ascent starts at `step_size` and grows by `step_size` until
    /// enough new architectures are found or it exceeds `max_step_size` (defaults 1 and 100).
    pub step_size: f32,
    /// Largest step size tried (default 100).
    pub max_step_size: f32,
}

impl Default for NaoSettings {
    fn default() -> Self {
        NaoSettings {
            hidden_size: 16,
            mlp_hidden_size: 64,
            mlp_layers: 2,
            dropout: 0.1,
            lr: 0.001,
            l2_reg: 1e-4,
            grad_bound: 5.0,
            trade_off: 0.8,
            batch_size: 100,
            step_size: 1.0,
            max_step_size: 100.0,
        }
    }
}

/// The NAO encoder-predictor-decoder controller.
pub struct NaoController {
    settings: NaoSettings,
    encoding: Encoding,
    model: NaoModel,
    optim: ModuleOptimizer,
    rng: ChaCha8Rng,
    device: Device,
}

impl NaoController {
    /// A controller for `encoding` on `device` (an autodiff device is derived from it), with
    /// weights, dropout and shuffling drawn from `seed`.
    pub fn new(settings: NaoSettings, encoding: Encoding, device: &Device, seed: u64) -> Result<Self> {
        if settings.batch_size == 0 || settings.hidden_size == 0 || settings.mlp_layers == 0 {
            return Err(crate::Error::config(
                "controller.nao",
                "batch_size, hidden_size and mlp_layers must be at least 1",
            ));
        }
        let device = device.clone().autodiff();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let model = NaoModelConfig {
            vocab_size: encoding.vocab_size,
            length: encoding.length(),
            hidden_size: settings.hidden_size,
            mlp_hidden_size: settings.mlp_hidden_size,
            mlp_layers: settings.mlp_layers,
            dropout: settings.dropout,
        }
        .init(&mut rng, &device);
        let optim = AdamConfig::new()
            .with_epsilon(1e-8)
            .with_weight_decay(Some(WeightDecayConfig::new(settings.l2_reg as f32)))
            .init();
        Ok(NaoController { settings, encoding, model, optim, rng, device })
    }

    /// Builds from a `[controller.nao]` component.
    pub fn from_component(component: &Component, encoding: &Encoding) -> Result<Self> {
        let settings: NaoSettings = component.parse()?;
        let device = component.device.device()?;
        Self::new(settings, encoding.clone(), &device, component.seed ^ 0x6e61_6f00)
    }

    /// The settings in use.
    pub fn settings(&self) -> &NaoSettings {
        &self.settings
    }

    /// The network (for inspection and benchmarks).
    pub fn model(&self) -> &NaoModel {
        &self.model
    }

    /// Number of trainable parameters.
    pub fn num_params(&self) -> usize {
        self.model.num_params()
    }

    fn tokens(&self, sequences: &[&[Token]], device: &Device) -> Tensor<2, Int> {
        let length = self.encoding.length();
        let data: Vec<i64> = sequences.iter().flat_map(|s| s.iter().map(|&t| t as i64)).collect();
        Tensor::from_data(TensorData::new(data, [sequences.len(), length]), device)
    }

    fn check(&self, sequence: &[Token]) -> Result<()> {
        if sequence.len() != self.encoding.length() || sequence.iter().any(|&t| t >= self.encoding.vocab_size) {
            return Err(crate::Error::Controller(format!(
                "sequence {sequence:?} does not match the encoding (length {}, vocabulary {})",
                self.encoding.length(),
                self.encoding.vocab_size
            )));
        }
        Ok(())
    }
}

impl Controller for NaoController {
    fn fit(&mut self, examples: &[Example], epochs: usize) -> Result<FitReport> {
        self.train(examples, epochs)
    }

    fn predict(&self, sequences: &[Vec<Token>]) -> Result<Vec<f32>> {
        self.predict_scores(sequences)
    }

    fn propose(
        &mut self,
        seeds: &[Vec<Token>],
        wanted: usize,
        accept: &mut dyn FnMut(&[Token]) -> bool,
    ) -> Result<Vec<Vec<Token>>> {
        self.generate(seeds, wanted, accept)
    }
}
