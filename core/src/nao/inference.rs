//! Prediction and gradient-ascent generation.

use burn::module::Module;
use burn::tensor::{Int, Tensor, TensorData};
use rand::SeedableRng;

use super::fused::FusedAscent;
use super::{Decoder, NaoController, NaoModel, Noise};
use crate::{Result, Token};

/// Encoder outputs and their score gradient (with the Burn engine, also the inference decoder).
/// One is made per proposal, so the size of the Burn variant does not matter.
#[allow(clippy::large_enum_variant)]
pub(super) enum Ascent {
    Burn { outputs: Tensor<3>, gradient: Tensor<3>, decoder: Decoder },
    Fused(FusedAscent),
}

/// Sequences per forward pass when predicting.
const PREDICT_CHUNK: usize = 2000;

fn normalize<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let norm = x.clone().powi_scalar(2).sum_dim(D - 1).sqrt().clamp_min(1e-12);
    x / norm
}

impl NaoController {
    pub(super) fn predict_scores(&self, sequences: &[Vec<Token>]) -> Result<Vec<f32>> {
        for s in sequences {
            self.check(s)?;
        }
        if let Some(state) = &self.fused {
            return Ok(state.engine.predict(sequences));
        }
        let model: NaoModel = self.model.valid();
        let device = self.device.clone().without_autodiff();
        let mut out = Vec::with_capacity(sequences.len());
        for chunk in sequences.chunks(PREDICT_CHUNK) {
            let seqs: Vec<&[Token]> = chunk.iter().map(Vec::as_slice).collect();
            let scores = model.predict(self.tokens(&seqs, &device));
            out.extend(scores.into_data().try_into_vec::<f32>().map_err(|e| crate::Error::Controller(format!("{e:?}")))?);
        }
        Ok(out)
    }

    /// Moves each seed's encoder outputs along the gradient of its predicted score by
    /// eta = step_size, 2 step_size, ... and decodes, until `wanted` candidates were accepted.
    pub(super) fn generate(
        &mut self,
        seeds: &[Vec<Token>],
        wanted: usize,
        accept: &mut dyn FnMut(&[Token]) -> bool,
    ) -> Result<Vec<Vec<Token>>> {
        let mut kept = Vec::new();
        if seeds.is_empty() || wanted == 0 {
            return Ok(kept);
        }
        let ascent = self.ascent(seeds)?;
        let step = self.settings.step_size.max(f32::EPSILON);
        let mut eta = step;
        while kept.len() < wanted && eta <= self.settings.max_step_size {
            for candidate in self.decode_moved(&ascent, eta)? {
                if kept.len() < wanted && accept(&candidate) {
                    kept.push(candidate);
                }
            }
            eta += step;
        }
        Ok(kept)
    }

    /// One gradient-ascent step of size `eta` from each seed, decoded: one sequence per seed.
    pub fn ascend(&self, seeds: &[Vec<Token>], eta: f32) -> Result<Vec<Vec<Token>>> {
        let ascent = self.ascent(seeds)?;
        self.decode_moved(&ascent, eta)
    }

    /// Encoder outputs of `seeds` and the gradient of the predicted score with respect to them
    /// (independent of eta, so computed once per proposal).
    pub(super) fn ascent(&self, seeds: &[Vec<Token>]) -> Result<Ascent> {
        for s in seeds {
            self.check(s)?;
        }
        if let Some(state) = &self.fused {
            return Ok(Ascent::Fused(state.engine.ascent(seeds)));
        }
        let seqs: Vec<&[Token]> = seeds.iter().map(Vec::as_slice).collect();
        let mut quiet = Noise { p: 0.0, rng: &mut rand_chacha::ChaCha8Rng::seed_from_u64(0) };
        let encoded = self.model.encoder.forward(self.tokens(&seqs, &self.device), &mut quiet);
        let outputs = encoded.outputs.detach().require_grad();
        let embedding = normalize(outputs.clone().mean_dim(1).squeeze_dim::<2>(1));
        let predicted = self.model.predictor.forward(embedding, &mut quiet);
        let grads = predicted.sum().backward();
        let gradient = outputs
            .grad(&grads)
            .ok_or_else(|| crate::Error::Controller("no gradient reached the encoder outputs".into()))?;
        Ok(Ascent::Burn { outputs: outputs.inner(), gradient, decoder: self.model.valid().decoder })
    }

    pub(super) fn decode_moved(&self, ascent: &Ascent, eta: f32) -> Result<Vec<Vec<Token>>> {
        match ascent {
            Ascent::Burn { outputs, gradient, decoder } => {
                let moved = normalize(outputs.clone() + gradient.clone() * eta);
                let embedding = normalize(moved.clone().mean_dim(1).squeeze_dim::<2>(1));
                self.decode(decoder, &moved, &embedding)
            }
            Ascent::Fused(ascent) => {
                let state = self.fused.as_ref().expect("a fused ascent comes from the fused engine");
                Ok(state.engine.decode_moved(ascent, eta, &self.encoding.allowed))
            }
        }
    }

    /// Greedy autoregressive decoding, restricted at each position to the tokens the
    /// encoding allows there.
    fn decode(&self, decoder: &Decoder, context: &Tensor<3>, embedding: &Tensor<2>) -> Result<Vec<Vec<Token>>> {
        let [batch, _, _] = context.dims();
        let device = context.device();
        let vocab = self.encoding.vocab_size;
        let mut state = Decoder::init_state(embedding);
        let mut previous = Tensor::<1, Int>::zeros([batch], &device);
        let mut sequences = vec![Vec::with_capacity(self.encoding.length()); batch];
        for allowed in &self.encoding.allowed {
            let (logits, next) = decoder.step(previous, state, context);
            state = next;
            let logits = logits.into_data().try_into_vec::<f32>().map_err(|e| crate::Error::Controller(format!("{e:?}")))?;
            let mut chosen = Vec::with_capacity(batch);
            for (b, seq) in sequences.iter_mut().enumerate() {
                let row = &logits[b * vocab..(b + 1) * vocab];
                let best = allowed
                    .iter()
                    .copied()
                    .max_by(|&x, &y| row[x].total_cmp(&row[y]).then(y.cmp(&x)))
                    .unwrap_or(0);
                seq.push(best);
                chosen.push(best as i64);
            }
            previous = Tensor::from_data(TensorData::new(chosen, [batch]), &device);
        }
        Ok(sequences)
    }
}

impl NaoController {
    /// Encodes and greedily decodes `sequences` without moving the embedding: the
    /// autoencoder's reconstruction, used to check that the decoder learned the encoding.
    pub fn reconstruct(&self, sequences: &[Vec<Token>]) -> Result<Vec<Vec<Token>>> {
        for s in sequences {
            self.check(s)?;
        }
        if let Some(state) = &self.fused {
            return Ok(state.engine.reconstruct(sequences, &self.encoding.allowed));
        }
        let model: NaoModel = self.model.valid();
        let device = self.device.clone().without_autodiff();
        let mut out = Vec::with_capacity(sequences.len());
        for chunk in sequences.chunks(PREDICT_CHUNK) {
            let seqs: Vec<&[Token]> = chunk.iter().map(Vec::as_slice).collect();
            let mut quiet = Noise { p: 0.0, rng: &mut rand_chacha::ChaCha8Rng::seed_from_u64(0) };
            let encoded = model.encoder.forward(self.tokens(&seqs, &device), &mut quiet);
            out.extend(self.decode(&model.decoder, &encoded.outputs, &encoded.embedding)?);
        }
        Ok(out)
    }
}
