//! Joint training of encoder, predictor and decoder.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Int, Tensor, TensorData};
use rand::seq::SliceRandom;

use super::{NaoController, Noise};
use crate::{Example, FitReport, Result};

/// Sums the squared norms of all parameter gradients.
struct SquaredNorm<'a> {
    grads: &'a GradientsParams,
    parts: Vec<Tensor<1>>,
}

impl ModuleVisitor for SquaredNorm<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.get::<D>(param.id) {
            self.parts.push(g.powi_scalar(2).sum());
        }
    }
}

/// Multiplies all parameter gradients by a factor.
struct ScaleGrads<'a> {
    grads: &'a mut GradientsParams,
    factor: f32,
}

impl ModuleVisitor for ScaleGrads<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.remove::<D>(param.id) {
            self.grads.register(param.id, g * self.factor);
        }
    }
}

impl NaoController {
    /// Clips the global gradient norm to `grad_bound`, as `clip_grad_norm_` does.
    fn clip(&self, grads: &mut GradientsParams) {
        let mut norm = SquaredNorm { grads, parts: Vec::new() };
        self.model.visit(&mut norm);
        if norm.parts.is_empty() {
            return;
        }
        let total = Tensor::cat(norm.parts, 0).sum().sqrt().into_scalar::<f32>();
        let bound = self.settings.grad_bound;
        if total.is_finite() && total > bound {
            self.model.visit(&mut ScaleGrads { grads, factor: bound / (total + 1e-6) });
        }
    }

    pub(super) fn train(&mut self, examples: &[Example], epochs: usize) -> Result<FitReport> {
        for e in examples {
            self.check(&e.tokens)?;
        }
        let mut report = FitReport { epochs, ..FitReport::default() };
        if examples.is_empty() || epochs == 0 {
            return Ok(report);
        }
        let length = self.encoding.length();
        let lambda = self.settings.trade_off;
        if let Some(state) = &mut self.fused {
            // The Burn copy of the weights goes stale.
            state.synced = std::sync::OnceLock::new();
        }
        let bar = crate::progress::bar(epochs, "controller training");
        let mut order: Vec<usize> = (0..examples.len()).collect();
        for epoch in 0..epochs {
            order.shuffle(&mut self.rng);
            let last = epoch + 1 == epochs;
            let (mut score_sum, mut rec_sum, mut seen) = (0.0, 0.0, 0usize);
            for batch in order.chunks(self.settings.batch_size) {
                let seqs: Vec<&[usize]> = batch.iter().map(|&i| examples[i].tokens.as_slice()).collect();
                let scores: Vec<f32> = batch.iter().map(|&i| examples[i].score).collect();
                if let Some(state) = &mut self.fused {
                    let (score, rec) = state.engine.train_step(&seqs, &scores, &self.settings, &mut self.rng);
                    report.steps += 1;
                    if last {
                        score_sum += score * batch.len() as f64;
                        rec_sum += rec * batch.len() as f64;
                        seen += batch.len();
                    }
                    continue;
                }
                let tokens = self.tokens(&seqs, &self.device);
                // Teacher forcing: the decoder reads the target shifted right behind token 0.
                let shifted: Vec<i64> = seqs
                    .iter()
                    .flat_map(|s| std::iter::once(0).chain(s[..length - 1].iter().map(|&t| t as i64)))
                    .collect();
                let decoder_inputs =
                    Tensor::<2, Int>::from_data(TensorData::new(shifted, [batch.len(), length]), &self.device);
                let scores = Tensor::<1>::from_data(TensorData::new(scores, [batch.len()]), &self.device);
                let mut noise = Noise { p: self.settings.dropout, rng: &mut self.rng };
                let losses = self.model.losses(tokens, decoder_inputs, scores, &mut noise);
                let loss = losses.score.clone() * lambda + losses.reconstruction.clone() * (1.0 - lambda);
                let mut grads = GradientsParams::from_grads(loss.backward(), &self.model);
                self.clip(&mut grads);
                self.model = self.optim.step(self.settings.lr, self.model.clone(), grads);
                report.steps += 1;
                if last {
                    score_sum += losses.score.into_scalar::<f32>() as f64 * batch.len() as f64;
                    rec_sum += losses.reconstruction.into_scalar::<f32>() as f64 * batch.len() as f64;
                    seen += batch.len();
                }
            }
            if last {
                report.score_loss = score_sum / seen as f64;
                report.reconstruction_loss = rec_sum / seen as f64;
            }
            bar.inc(1);
        }
        bar.finish_and_clear();
        if !report.score_loss.is_finite() || !report.reconstruction_loss.is_finite() {
            return Err(crate::Error::Controller(format!(
                "training diverged (score loss {}, reconstruction loss {})",
                report.score_loss, report.reconstruction_loss
            )));
        }
        Ok(report)
    }
}
