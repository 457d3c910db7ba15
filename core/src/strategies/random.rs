//! `random`: random search, and the random sampling the other strategies start from.

use crate::{Answer, Result, SearchContext, Strategy};

/// Consecutive draws of already evaluated architectures after which the space is taken to be
/// exhausted.
const MAX_REPEATS: usize = 10_000;

/// Evaluates up to `count` new random architectures, recorded under `iteration`. Stops early
/// when the budget is spent or the space seems exhausted. Returns how many were evaluated.
pub fn evaluate_random(ctx: &mut SearchContext<'_>, count: usize, iteration: usize) -> Result<usize> {
    let mut evaluated = 0;
    let mut repeats = 0;
    while evaluated < count && repeats < MAX_REPEATS {
        let arch = ctx.space.sample(ctx.rng);
        match ctx.oracle.query(&arch, iteration, None)? {
            Answer::New(_) => {
                evaluated += 1;
                repeats = 0;
            }
            Answer::Known(_) => repeats += 1,
            Answer::OverBudget => break,
        }
    }
    Ok(evaluated)
}

/// Random search: uniform samples until the budget is spent.
pub struct RandomSearch;

/// Random search checkpoints (its generator) after every this many evaluations.
const CHECKPOINT_EVERY: usize = 25;

impl Strategy for RandomSearch {
    fn search(&self, ctx: &mut SearchContext<'_>) -> Result<()> {
        let mut chunk = ctx.restore::<()>()?.map_or(0, |r| r.iteration);
        while ctx.oracle.remaining() > 0 {
            let wanted = CHECKPOINT_EVERY.min(ctx.oracle.remaining());
            if evaluate_random(ctx, wanted, 0)? < wanted {
                break;
            }
            chunk += 1;
            ctx.checkpoint(chunk, &(), None)?;
        }
        Ok(())
    }
}
