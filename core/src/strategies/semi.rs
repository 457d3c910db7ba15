//! The semi-supervised predictor training shared by `seminas-nao`, `nao`, `seminas-re` and
//! `seminas predictor eval` (Algorithm 1, lines 5-8).

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::{Arch, Controller, Example, Result, SearchSpace, Token};

/// Maps search signals to zero mean and unit variance over the labelled set, as the controller
/// is trained on normalised scores.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Normalizer {
    /// Mean of the labelled signals.
    pub mean: f64,
    /// Standard deviation of the labelled signals (1 when they are all equal).
    pub std: f64,
}

impl Normalizer {
    /// Fits on `signals`.
    pub fn fit(signals: &[f64]) -> Self {
        let mean = crate::stats::mean(signals);
        let std = crate::stats::std_dev(signals);
        Normalizer { mean, std: if std > 1e-12 { std } else { 1.0 } }
    }

    /// Signal to normalised score.
    pub fn forward(&self, signal: f64) -> f32 {
        ((signal - self.mean) / self.std) as f32
    }

    /// Normalised score to signal.
    pub fn inverse(&self, score: f32) -> f64 {
        score as f64 * self.std + self.mean
    }
}

/// Settings of the semi-supervised predictor (shared by the controller-based strategies).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SemiSupervised {
    /// Unlabelled architectures pseudo-labelled per iteration (M; 0 disables, giving NAO).
    pub m: usize,
    /// How many times the labelled set is repeated in the combined set (up-sampling ratio).
    pub up_sample: usize,
    /// Epochs on the labelled set alone (line 5).
    pub pretrain_epochs: usize,
    /// Epochs on the combined set (line 8).
    pub epochs: usize,
}

/// One member of the combined set D̃ (without up-sampling duplicates).
#[derive(Clone, Debug)]
pub struct Scored {
    /// The architecture.
    pub arch: Arch,
    /// Its encoding.
    pub tokens: Vec<Token>,
    /// Normalised score: true for labelled members, predicted for pseudo-labelled ones.
    pub score: f32,
    /// Whether the score was measured.
    pub labelled: bool,
}

/// Draws up to `m` distinct valid architectures whose keys are not in `exclude`.
pub fn sample_unlabelled(
    space: &dyn SearchSpace,
    m: usize,
    exclude: &HashSet<String>,
    rng: &mut dyn rand::RngCore,
) -> Vec<Arch> {
    let mut seen = HashSet::with_capacity(m);
    let mut out = Vec::with_capacity(m);
    // A finite space may hold fewer than m new architectures: stop after enough misses.
    let mut misses = 0usize;
    while out.len() < m && misses < 20 * m.max(50) {
        let arch = space.sample(rng);
        let fresh = space.key(&arch).is_ok_and(|key| !exclude.contains(&key) && seen.insert(key));
        if fresh {
            out.push(arch);
        } else {
            misses += 1;
        }
    }
    out
}

/// Trains `controller` on `labelled` (architecture, signal) pairs, then pseudo-labels
/// `settings.m` fresh architectures and trains on both (labelled up-sampled). Returns the
/// normaliser and the combined set, best first.
pub fn train_semi_supervised(
    controller: &mut dyn Controller,
    space: &dyn SearchSpace,
    labelled: &[(Arch, f64)],
    settings: &SemiSupervised,
    rng: &mut dyn rand::RngCore,
) -> Result<(Normalizer, Vec<Scored>)> {
    let signals: Vec<f64> = labelled.iter().map(|(_, s)| *s).collect();
    let normalizer = Normalizer::fit(&signals);
    let mut combined = Vec::with_capacity(labelled.len() + settings.m);
    let mut keys = HashSet::with_capacity(labelled.len());
    for (arch, signal) in labelled {
        keys.insert(space.key(arch)?);
        combined.push(Scored {
            arch: arch.clone(),
            tokens: space.encode(arch)?,
            score: normalizer.forward(*signal),
            labelled: true,
        });
    }
    let examples: Vec<Example> =
        combined.iter().map(|s| Example { tokens: s.tokens.clone(), score: s.score }).collect();
    controller.fit(&examples, settings.pretrain_epochs)?;
    if settings.m > 0 {
        let unlabelled = sample_unlabelled(space, settings.m, &keys, rng);
        let tokens = unlabelled.iter().map(|a| space.encode(a)).collect::<Result<Vec<_>>>()?;
        let predicted = controller.predict(&tokens)?;
        let mut all: Vec<Example> = Vec::with_capacity(examples.len() * settings.up_sample.max(1) + tokens.len());
        for _ in 0..settings.up_sample.max(1) {
            all.extend(examples.iter().cloned());
        }
        for ((arch, tokens), score) in unlabelled.into_iter().zip(tokens).zip(predicted) {
            all.push(Example { tokens: tokens.clone(), score });
            combined.push(Scored { arch, tokens, score, labelled: false });
        }
        controller.fit(&all, settings.epochs)?;
    } else if settings.epochs > 0 {
        let mut all = Vec::with_capacity(examples.len() * settings.up_sample.max(1));
        for _ in 0..settings.up_sample.max(1) {
            all.extend(examples.iter().cloned());
        }
        controller.fit(&all, settings.epochs)?;
    }
    combined.sort_by(|a, b| b.score.total_cmp(&a.score));
    Ok((normalizer, combined))
}
