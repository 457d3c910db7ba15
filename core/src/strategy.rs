//! Strategies: the search loops.

use std::sync::Arc;

use rand_chacha::ChaCha8Rng;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::{Arch, Checkpointer, Controller, Error, Oracle, Record, Restored, Result, SearchSpace};

/// Builds a fresh, untrained controller for the space's encoding.
pub type ControllerBuilder<'a> = dyn Fn() -> Result<Box<dyn Controller>> + 'a;

/// Everything a strategy works with during one search.
pub struct SearchContext<'a> {
    /// The space searched.
    pub space: Arc<dyn SearchSpace>,
    /// The only way to evaluate: counts queries and enforces the budget.
    pub oracle: &'a mut Oracle,
    /// Builds controllers, for strategies that use one.
    pub controller: &'a ControllerBuilder<'a>,
    /// The search's random generator; strategies draw all randomness from it.
    pub rng: &'a mut ChaCha8Rng,
    /// Where [`SearchContext::checkpoint`] saves and [`SearchContext::restore`] restores.
    pub checkpoints: &'a mut Checkpointer,
}

impl SearchContext<'_> {
    /// Saves a checkpoint at an iteration boundary: `iteration`, the strategy's `state`, the
    /// search's random generator and `controller`'s state. A strategy that checkpoints must call
    /// [`SearchContext::restore`] before its first query.
    pub fn checkpoint<S: Serialize>(
        &mut self,
        iteration: usize,
        state: &S,
        controller: Option<&dyn Controller>,
    ) -> Result<()> {
        self.checkpoints.save(self.oracle.history(), iteration, self.rng, state, controller)
    }

    /// The last checkpoint of the interrupted run this search resumes, if any; the search's
    /// random generator is restored from it. The evaluations up to the checkpoint are already
    /// in the oracle's history; the strategy continues from the saved state.
    pub fn restore<S: DeserializeOwned>(&mut self) -> Result<Option<Restored<S>>> {
        self.checkpoints.restore(self.rng)
    }
}

/// A search strategy.
///
/// `search` evaluates architectures through `ctx.oracle` until it is done or the budget is
/// spent (the oracle refuses queries past it, so no strategy can exceed its budget). The
/// history and the best architecture are read from the oracle afterwards; see [`run_search`].
///
/// Resumable runs: a strategy may call [`SearchContext::checkpoint`] at its iteration
/// boundaries; it must then begin with [`SearchContext::restore`] and, when that returns a
/// checkpoint, continue from it instead of starting over. A strategy that never checkpoints
/// still resumes correctly: its run is replayed from the start, the saved evaluations
/// answering its queries.
pub trait Strategy: Send + Sync {
    /// Runs the search.
    fn search(&self, ctx: &mut SearchContext<'_>) -> Result<()>;
}

/// The result of a search.
#[derive(Clone, Debug)]
pub struct SearchOutcome {
    /// Every evaluated architecture, in order.
    pub history: Vec<Record>,
    /// The evaluated architecture with the best search signal.
    pub best: Option<Record>,
}

impl SearchOutcome {
    /// The best architecture.
    pub fn best_arch(&self) -> Option<&Arch> {
        self.best.as_ref().map(|r| &r.arch)
    }
}

/// Runs `strategy` against `oracle` with a seeded generator and returns its outcome. When
/// `checkpoints` holds a loaded checkpoint, the strategy continues from it.
pub fn run_search(
    strategy: &dyn Strategy,
    oracle: &mut Oracle,
    controller: &ControllerBuilder<'_>,
    seed: u64,
    checkpoints: &mut Checkpointer,
) -> Result<SearchOutcome> {
    use rand::SeedableRng;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let space = oracle.space().clone();
    let mut ctx = SearchContext { space, oracle, controller, rng: &mut rng, checkpoints };
    strategy.search(&mut ctx)?;
    if ctx.checkpoints.is_pending() {
        return Err(Error::Evaluation(
            "the strategy never restored the checkpoint it resumed from (a strategy that writes \
             checkpoints must call SearchContext::restore before querying)"
                .into(),
        ));
    }
    Ok(SearchOutcome { history: oracle.history().to_vec(), best: oracle.best().cloned() })
}
