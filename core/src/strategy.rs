//! Strategies: the search loops.

use std::sync::Arc;

use rand_chacha::ChaCha8Rng;

use crate::{Arch, Controller, Oracle, Record, Result, SearchSpace};

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
}

/// A search strategy.
///
/// `search` evaluates architectures through `ctx.oracle` until it is done or the budget is
/// spent (the oracle refuses queries past it, so no strategy can exceed its budget). The
/// history and the best architecture are read from the oracle afterwards; see [`run_search`].
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

/// Runs `strategy` against `oracle` with a seeded generator and returns its outcome.
pub fn run_search(
    strategy: &dyn Strategy,
    oracle: &mut Oracle,
    controller: &ControllerBuilder<'_>,
    seed: u64,
) -> Result<SearchOutcome> {
    use rand::SeedableRng;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let space = oracle.space().clone();
    let mut ctx = SearchContext { space, oracle, controller, rng: &mut rng };
    strategy.search(&mut ctx)?;
    Ok(SearchOutcome { history: oracle.history().to_vec(), best: oracle.best().cloned() })
}
