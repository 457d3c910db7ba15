//! `seminas-nao` (Algorithm 1 of the paper) and its baseline `nao` (the same without
//! unlabelled architectures).

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::semi::{train_semi_supervised, SemiSupervised};
use crate::{Answer, Arch, Result, SearchContext, Strategy};

/// Settings of `seminas-nao` (`[strategy.seminas-nao]`) and `nao` (`[strategy.nao]`).
///
/// Defaults are the paper's first NAS-Bench-101 setting (N=100, M=10000, up-sampling 100,
/// K=100, 100 new architectures per iteration; with a budget of 300 that is L=2) and the
/// official code's epochs. `nao` defaults to M=0 and no up-sampling.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SemiNasSettings {
    /// N: randomly sampled architectures evaluated first.
    pub n: usize,
    /// M: unlabelled architectures pseudo-labelled per iteration.
    pub m: usize,
    /// Up-sampling ratio of the labelled set in the combined training set.
    pub up_sample: usize,
    /// K: top architectures of the combined set used as gradient-ascent seeds.
    pub k: usize,
    /// New architectures generated and evaluated per iteration.
    pub new_per_iteration: usize,
    /// L: iterations; absent means "until the budget is spent".
    pub iterations: Option<usize>,
    /// Controller epochs on the labelled set (line 5).
    pub pretrain_epochs: usize,
    /// Controller epochs on the combined set (line 8).
    pub epochs: usize,
    /// When gradient ascent finds fewer new architectures than asked, evaluate random ones in
    /// their place so that the budget is used (marked with no prediction in the history).
    pub fill_with_random: bool,
}

impl SemiNasSettings {
    /// Defaults of `seminas-nao`.
    pub fn seminas() -> Self {
        SemiNasSettings {
            n: 100,
            m: 10_000,
            up_sample: 100,
            k: 100,
            new_per_iteration: 100,
            iterations: None,
            pretrain_epochs: 1000,
            epochs: 500,
            fill_with_random: true,
        }
    }

    /// Defaults of `nao`.
    pub fn nao() -> Self {
        SemiNasSettings { m: 0, up_sample: 1, epochs: 0, ..Self::seminas() }
    }
}

impl crate::Settings for SemiNasSettings {
    /// Checks that every value can drive a search (e.g. no iteration that generates nothing).
    fn validate(&self, checks: &crate::Checks) -> Result<()> {
        checks.at_least("n", self.n, 1)?;
        checks.at_least("up_sample", self.up_sample, 1)?;
        checks.at_least("k", self.k, 1)?;
        checks.at_least("new_per_iteration", self.new_per_iteration, 1)?;
        if let Some(l) = self.iterations {
            checks.at_least("iterations", l, 1)?;
        }
        Ok(())
    }
}

impl Default for SemiNasSettings {
    fn default() -> Self {
        Self::seminas()
    }
}

/// The SemiNAS-NAO strategy (with `m = 0`: NAO).
pub struct SemiNas {
    settings: SemiNasSettings,
}

impl SemiNas {
    /// A strategy with these settings.
    pub fn new(settings: SemiNasSettings) -> Self {
        SemiNas { settings }
    }
}

impl Strategy for SemiNas {
    fn search(&self, ctx: &mut SearchContext<'_>) -> Result<()> {
        let s = &self.settings;
        let space = ctx.space.clone();
        let mut controller = (ctx.controller)()?;
        // The labelled pool is the oracle's history, so a checkpoint needs only the iteration,
        // the generator and the controller.
        let mut iteration = match ctx.restore::<()>()? {
            Some(restored) => {
                if let Some(state) = restored.controller {
                    controller.load_state(state)?;
                }
                restored.iteration
            }
            None => {
                // Lines 2-3: N random architectures, evaluated.
                super::random::evaluate_random(ctx, s.n, 0)?;
                ctx.checkpoint(0, &(), Some(controller.as_ref()))?;
                0
            }
        };
        let semi = SemiSupervised { m: s.m, up_sample: s.up_sample, pretrain_epochs: s.pretrain_epochs, epochs: s.epochs };
        while ctx.oracle.remaining() > 0 && s.iterations.is_none_or(|l| iteration < l) {
            iteration += 1;
            let labelled: Vec<(Arch, f64)> =
                ctx.oracle.history().iter().map(|r| (r.arch.clone(), r.measurement.signal)).collect();
            // Lines 5-8.
            let (normalizer, combined) =
                train_semi_supervised(controller.as_mut(), space.as_ref(), &labelled, &semi, ctx.rng)?;
            // Line 9: top K of the combined set as seeds, then gradient ascent.
            let seeds: Vec<Vec<usize>> = combined.iter().take(s.k).map(|c| c.tokens.clone()).collect();
            let wanted = s.new_per_iteration.min(ctx.oracle.remaining());
            let mut chosen: HashSet<String> = HashSet::new();
            let mut fresh: Vec<Arch> = Vec::with_capacity(wanted);
            let oracle = &*ctx.oracle;
            let proposals = controller.propose(&seeds, wanted, &mut |tokens| {
                let Ok(arch) = space.decode(tokens) else { return false };
                let Ok(key) = space.key(&arch) else { return false };
                if oracle.knows(&arch) || !chosen.insert(key) {
                    return false;
                }
                fresh.push(arch);
                true
            })?;
            debug_assert_eq!(proposals.len(), fresh.len());
            let predictions = controller.predict(&proposals)?;
            // Line 10: evaluate them.
            for (arch, predicted) in fresh.iter().zip(predictions) {
                if let Answer::OverBudget =
                    ctx.oracle.query(arch, iteration, Some(normalizer.inverse(predicted)))?
                {
                    return Ok(());
                }
            }
            if fresh.len() < wanted {
                if s.fill_with_random {
                    super::random::evaluate_random(ctx, wanted - fresh.len(), iteration)?;
                } else if fresh.is_empty() {
                    // Nothing new can be generated: further iterations would repeat this one.
                    break;
                }
            }
            ctx.checkpoint(iteration, &(), Some(controller.as_ref()))?;
        }
        Ok(())
    }
}
