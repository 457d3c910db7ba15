//! The NAO controller on Burn: encoder, predictor and decoder trained jointly, and
//! gradient-ascent generation of new architectures (Luo et al. 2018; SemiNAS, Algorithm 1).
//!
//! Two engines compute the same network: Burn (`model.rs`, any device) and a hand-written,
//! single-threaded CPU engine (`fused.rs`), several times faster for these tiny tensors, used
//! on the `flex` CPU device by default (see [`NaoEngine`]).

mod fused;
mod inference;
mod model;
mod state;
mod training;

use std::sync::OnceLock;

pub use model::{Decoder, DecoderState, Encoded, Encoder, Losses, NaoModel, NaoModelConfig, Noise, Predictor};

use burn::module::Module;
use burn::optim::{AdamConfig, ModuleOptimizer, decay::WeightDecayConfig};
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use fused::{Dims, Fused};

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
    /// Which implementation computes the network: `"auto"` (default: the fused CPU engine on
    /// the `flex` device, Burn on every other device), `"burn"` or `"fused"`.
    pub engine: NaoEngine,
}

/// The implementation that trains and runs the network (`engine` in `[controller.nao]`).
///
/// Both compute the same network from the same seeded weights; they differ only in rounding.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NaoEngine {
    /// The fused engine on the `flex` CPU device, Burn on every other device.
    #[default]
    Auto,
    /// Burn tensors with autodiff, on the controller's device.
    Burn,
    /// The hand-written single-threaded CPU engine, whatever the device (the Burn model on the
    /// device is then only a copy of the weights, refreshed when [`NaoController::model`] is
    /// called).
    Fused,
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
            engine: NaoEngine::Auto,
        }
    }
}

impl crate::Settings for NaoSettings {
    /// Checks that every value gives a controller that trains and generates.
    fn validate(&self, checks: &crate::Checks) -> Result<()> {
        checks.at_least("hidden_size", self.hidden_size, 1)?;
        checks.at_least("mlp_hidden_size", self.mlp_hidden_size, 1)?;
        checks.at_least("batch_size", self.batch_size, 1)?;
        checks.below("dropout", self.dropout, 0.0, 1.0)?;
        checks.positive("lr", self.lr)?;
        checks.non_negative("l2_reg", self.l2_reg)?;
        checks.positive("grad_bound", self.grad_bound as f64)?;
        checks.within("trade_off", self.trade_off, 0.0, 1.0)?;
        checks.positive("step_size", self.step_size as f64)?;
        checks.not_below("max_step_size", self.max_step_size as f64, "step_size", self.step_size as f64)
    }
}

/// Adam with L2 weight decay, as the official NAO code trains its controller.
fn adam(settings: &NaoSettings) -> ModuleOptimizer {
    AdamConfig::new()
        .with_epsilon(1e-8)
        .with_weight_decay(Some(WeightDecayConfig::new(settings.l2_reg as f32)))
        .init()
}

/// The NAO encoder-predictor-decoder controller.
pub struct NaoController {
    settings: NaoSettings,
    encoding: Encoding,
    /// The Burn network: the weights with the Burn engine; with the fused engine, the initial
    /// weights (a template for [`NaoController::model`]).
    model: NaoModel,
    optim: ModuleOptimizer,
    /// The fused engine, when in use; it then holds the current weights.
    fused: Option<FusedState>,
    rng: ChaCha8Rng,
    device: Device,
}

/// The fused engine and a Burn copy of its weights, made on demand.
struct FusedState {
    engine: Fused,
    synced: OnceLock<NaoModel>,
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
        let use_fused = match settings.engine {
            NaoEngine::Auto => *device == Device::flex(),
            NaoEngine::Burn => false,
            NaoEngine::Fused => true,
        };
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
        let optim = adam(&settings);
        let fused = use_fused.then(|| {
            let dims = Dims::new(
                encoding.vocab_size,
                encoding.length(),
                settings.hidden_size,
                settings.mlp_hidden_size,
                settings.mlp_layers,
            );
            FusedState { engine: Fused::from_model(&model, dims), synced: OnceLock::new() }
        });
        Ok(NaoController { settings, encoding, model, optim, fused, rng, device })
    }

    /// Builds from a `[controller.nao]` component.
    pub fn from_component(component: &Component, encoding: &Encoding) -> Result<Self> {
        let settings: NaoSettings = component.settings()?;
        let device = component.device.device()?;
        Self::new(settings, encoding.clone(), &device, component.seed ^ 0x6e61_6f00)
    }

    /// The settings in use.
    pub fn settings(&self) -> &NaoSettings {
        &self.settings
    }

    /// The network (for inspection and benchmarks), with the current weights.
    pub fn model(&self) -> &NaoModel {
        match &self.fused {
            Some(state) => state.synced.get_or_init(|| state.engine.to_model(self.model.clone())),
            None => &self.model,
        }
    }

    /// The engine in use (`Burn` or `Fused`, never `Auto`).
    pub fn engine(&self) -> NaoEngine {
        if self.fused.is_some() {
            NaoEngine::Fused
        } else {
            NaoEngine::Burn
        }
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

    fn save_state(&self) -> Result<Option<serde_json::Value>> {
        self.save().map(Some)
    }

    fn load_state(&mut self, state: serde_json::Value) -> Result<()> {
        self.load(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoding() -> Encoding {
        // Alternating "edge" positions (tokens 1-2) and "op" positions (tokens 3-5).
        Encoding { vocab_size: 6, allowed: (0..8).map(|i| if i % 2 == 0 { vec![1, 2] } else { vec![3, 4, 5] }).collect() }
    }

    fn examples() -> Vec<Example> {
        // Score = number of "2" tokens, a learnable function of the sequence.
        (0..64u32)
            .map(|i| {
                let tokens: Vec<Token> =
                    (0..8).map(|p| if p % 2 == 0 { 1 + ((i >> (p / 2)) & 1) as usize } else { 3 + (i as usize + p) % 3 }).collect();
                let score = tokens.iter().filter(|&&t| t == 2).count() as f32 - 2.0;
                Example { tokens, score }
            })
            .collect()
    }

    fn controller(seed: u64) -> NaoController {
        let settings = NaoSettings { batch_size: 32, dropout: 0.0, lr: 0.01, ..NaoSettings::default() };
        NaoController::new(settings, encoding(), &Device::flex(), seed).unwrap()
    }

    #[test]
    fn training_lowers_both_losses() {
        let mut c = controller(0);
        let data = examples();
        let first = c.fit(&data, 1).unwrap();
        let later = c.fit(&data, 60).unwrap();
        assert!(later.score_loss < first.score_loss * 0.5, "{first:?} -> {later:?}");
        assert!(later.reconstruction_loss < first.reconstruction_loss * 0.5, "{first:?} -> {later:?}");
        assert_eq!(later.steps, 120);
    }

    #[test]
    fn predict_and_propose_shapes() {
        let mut c = controller(1);
        let data = examples();
        c.fit(&data, 5).unwrap();
        let seqs: Vec<Vec<Token>> = data.iter().map(|e| e.tokens.clone()).collect();
        assert_eq!(c.predict(&seqs).unwrap().len(), 64);
        let mut offered = 0;
        let kept = c
            .propose(&seqs[..10], 3, &mut |s| {
                offered += 1;
                assert_eq!(s.len(), 8);
                for (p, t) in s.iter().enumerate() {
                    assert!(encoding().allowed[p].contains(t), "token {t} not allowed at {p}");
                }
                offered % 2 == 0
            })
            .unwrap();
        assert_eq!(kept.len(), 3);
        assert!(c.predict(&[vec![0; 3]]).is_err(), "wrong length is an error");
    }

    #[test]
    fn same_seed_same_weights_and_training() {
        let data = examples();
        let (mut a, mut b) = (controller(5), controller(5));
        assert_eq!(a.fit(&data, 3).unwrap(), b.fit(&data, 3).unwrap());
        let seqs: Vec<Vec<Token>> = data.iter().map(|e| e.tokens.clone()).collect();
        assert_eq!(a.predict(&seqs).unwrap(), b.predict(&seqs).unwrap());
    }
}
