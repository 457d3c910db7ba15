//! Predictor quality: fit the controller on part of a table (optionally with pseudo-labelled
//! architectures) and measure rank correlation on held-out architectures.

use serde::Serialize;

use crate::strategies::semi::{train_semi_supervised, SemiSupervised};
use crate::{stats, Arch, Controller, Result, SearchSpace};

/// What `seminas predictor eval` prints.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PredictorReport {
    /// Labelled training architectures.
    pub train: usize,
    /// Pseudo-labelled architectures used.
    pub unlabeled: usize,
    /// Held-out architectures.
    pub test: usize,
    /// Kendall's tau-b between predictions and true signals on the held-out set.
    pub kendall_tau: f64,
    /// Spearman's rho on the held-out set.
    pub spearman_rho: f64,
    /// Root mean squared error in signal units on the held-out set.
    pub rmse: f64,
    /// Wall time of training and prediction.
    pub seconds: f64,
}

/// Trains `controller` on `train` as the strategies do and scores it on `test`.
pub fn evaluate_predictor(
    controller: &mut dyn Controller,
    space: &dyn SearchSpace,
    train: &[(Arch, f64)],
    test: &[(Arch, f64)],
    settings: &SemiSupervised,
    rng: &mut dyn rand::RngCore,
) -> Result<PredictorReport> {
    let started = std::time::Instant::now();
    let (normalizer, combined) = train_semi_supervised(controller, space, train, settings, rng)?;
    let tokens = test.iter().map(|(a, _)| space.encode(a)).collect::<Result<Vec<_>>>()?;
    let predicted: Vec<f64> = controller.predict(&tokens)?.into_iter().map(|p| normalizer.inverse(p)).collect();
    let truth: Vec<f64> = test.iter().map(|(_, s)| *s).collect();
    Ok(PredictorReport {
        train: train.len(),
        unlabeled: combined.iter().filter(|c| !c.labelled).count(),
        test: test.len(),
        kendall_tau: stats::kendall_tau(&predicted, &truth),
        spearman_rho: stats::spearman_rho(&predicted, &truth),
        rmse: stats::rmse(&predicted, &truth),
        seconds: started.elapsed().as_secs_f64(),
    })
}
