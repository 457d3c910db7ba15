//! Controllers: learned models over token sequences that predict and propose.

use crate::{Result, Token};

/// One training example: an encoded architecture and its (normalised) score.
#[derive(Clone, Debug, PartialEq)]
pub struct Example {
    /// The encoded architecture (see [`SearchSpace::encode`](crate::SearchSpace::encode)).
    pub tokens: Vec<Token>,
    /// Its score, already normalised by the caller.
    pub score: f32,
}

/// Statistics of one [`Controller::fit`] call.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FitReport {
    /// Epochs run.
    pub epochs: usize,
    /// Optimiser steps run.
    pub steps: usize,
    /// Mean score loss (MSE) of the last epoch.
    pub score_loss: f64,
    /// Mean reconstruction loss (NLL) of the last epoch.
    pub reconstruction_loss: f64,
}

/// A learned model over encoded architectures.
///
/// Call protocol: `fit` first (it may be called again with more data: training continues from
/// the current weights, as NAO does between iterations), then any number of `predict` and
/// `propose` calls. `predict` before any `fit` uses untrained weights.
pub trait Controller: Send {
    /// Trains on `examples` for `epochs` passes.
    fn fit(&mut self, examples: &[Example], epochs: usize) -> Result<FitReport>;

    /// Predicts a score for each sequence, in the units of the training scores.
    fn predict(&self, sequences: &[Vec<Token>]) -> Result<Vec<f32>>;

    /// Proposes up to `wanted` new sequences from `seeds` (e.g. by gradient ascent in the
    /// embedding space). Each candidate is offered to `accept`, which returns `true` to keep
    /// it (valid and new); only kept candidates are returned, in the order they were kept.
    fn propose(
        &mut self,
        seeds: &[Vec<Token>],
        wanted: usize,
        accept: &mut dyn FnMut(&[Token]) -> bool,
    ) -> Result<Vec<Vec<Token>>>;

    /// The complete training state (weights, optimiser state, random generator) for a
    /// checkpoint, such that [`Controller::load_state`] on a freshly built controller continues
    /// exactly as this one would. `None` (the default) means this controller cannot save it: a
    /// strategy using it then writes no checkpoints and an interrupted run resumes by replaying
    /// its history from the start.
    fn save_state(&self) -> Result<Option<serde_json::Value>> {
        Ok(None)
    }

    /// Restores a state saved by [`Controller::save_state`].
    fn load_state(&mut self, _state: serde_json::Value) -> Result<()> {
        Err(crate::Error::Controller("this controller cannot restore a saved state".into()))
    }
}
