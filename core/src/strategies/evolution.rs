//! `re`: regularized evolution (Real et al. 2019), and `seminas-re`: the same with children
//! screened by the semi-supervised predictor before evaluation.

use std::collections::{HashSet, VecDeque};

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::semi::{train_semi_supervised, SemiSupervised};
use crate::{Answer, Arch, Result, SearchContext, Strategy};

/// Draws after which a generation that yields no new architecture ends the search.
const MAX_STALE: usize = 10_000;

/// Settings of `re` (`[strategy.re]`). Defaults follow the NAS-Bench-101 paper's
/// regularized-evolution baseline (population 100, tournament 10).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvolutionSettings {
    /// P: population size (the first P architectures are random).
    pub population: usize,
    /// S: tournament sample size.
    pub sample: usize,
}

impl crate::Settings for EvolutionSettings {
    /// Checks that every value can drive a search.
    fn validate(&self, checks: &crate::Checks) -> Result<()> {
        checks.at_least("population", self.population, 1)?;
        checks.at_least("sample", self.sample, 1)?;
        checks.at_most("sample", self.sample, "population", self.population)
    }
}

impl Default for EvolutionSettings {
    fn default() -> Self {
        EvolutionSettings { population: 100, sample: 10 }
    }
}

#[derive(Clone, Serialize, Deserialize)]
struct Member {
    arch: Arch,
    signal: f64,
}

/// What regularized evolution checkpoints besides the generator: the population, oldest first.
#[derive(Serialize, Deserialize)]
struct EvolutionState {
    population: VecDeque<Member>,
    stale: usize,
}

/// Picks the best of `sample` members drawn uniformly with replacement.
fn tournament<'a>(population: &'a VecDeque<Member>, sample: usize, rng: &mut dyn rand::RngCore) -> &'a Member {
    (0..sample.max(1))
        .map(|_| &population[rng.random_range(0..population.len())])
        .max_by(|a, b| a.signal.total_cmp(&b.signal))
        .expect("non-empty population")
}

/// Fills the population with random evaluated architectures.
fn initial_population(ctx: &mut SearchContext<'_>, size: usize) -> Result<VecDeque<Member>> {
    super::random::evaluate_random(ctx, size, 0)?;
    Ok(ctx
        .oracle
        .history()
        .iter()
        .map(|r| Member { arch: r.arch.clone(), signal: r.measurement.signal })
        .collect())
}

/// Regularized evolution.
pub struct RegularizedEvolution {
    settings: EvolutionSettings,
}

impl RegularizedEvolution {
    /// A strategy with these settings.
    pub fn new(settings: EvolutionSettings) -> Self {
        RegularizedEvolution { settings }
    }
}

impl Strategy for RegularizedEvolution {
    fn search(&self, ctx: &mut SearchContext<'_>) -> Result<()> {
        let size = self.settings.population.max(1);
        let (mut cycle, mut population, mut stale) = match ctx.restore::<EvolutionState>()? {
            Some(r) => (r.iteration, r.state.population, r.state.stale),
            None => {
                let population = initial_population(ctx, size)?;
                ctx.checkpoint(0, &EvolutionState { population: population.clone(), stale: 0 }, None)?;
                (0, population, 0)
            }
        };
        let mut children = 0;
        while ctx.oracle.remaining() > 0 && !population.is_empty() && stale < MAX_STALE {
            // One checkpoint per population's worth of children: generations are single queries.
            if children == size {
                children = 0;
                cycle += 1;
                ctx.checkpoint(cycle, &EvolutionState { population: population.clone(), stale }, None)?;
            }
            children += 1;
            let parent = tournament(&population, self.settings.sample, ctx.rng).arch.clone();
            let child = ctx.space.mutate(&parent, ctx.rng);
            let generation = ctx.oracle.spent();
            let signal = match ctx.oracle.query(&child, generation, None)? {
                Answer::New(m) => {
                    stale = 0;
                    m.signal
                }
                // A repeated child costs nothing and still ages the population, as in Real et al.
                Answer::Known(m) => {
                    stale += 1;
                    m.signal
                }
                Answer::OverBudget => break,
            };
            population.push_back(Member { arch: child, signal });
            population.pop_front();
        }
        Ok(())
    }
}

/// Settings of `seminas-re` (`[strategy.seminas-re]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SemiEvolutionSettings {
    /// P: population size (the first P architectures are random).
    pub population: usize,
    /// S: tournament sample size.
    pub sample: usize,
    /// Mutated children proposed per generation and scored by the predictor.
    pub children: usize,
    /// Best-predicted children evaluated per generation.
    pub evaluate: usize,
    /// M: unlabelled architectures pseudo-labelled each time the predictor is trained.
    pub m: usize,
    /// Up-sampling ratio of the labelled set.
    pub up_sample: usize,
    /// Predictor epochs on the labelled set.
    pub pretrain_epochs: usize,
    /// Predictor epochs on the combined set.
    pub epochs: usize,
}

impl crate::Settings for SemiEvolutionSettings {
    /// Checks that every value can drive a search.
    fn validate(&self, checks: &crate::Checks) -> Result<()> {
        checks.at_least("population", self.population, 1)?;
        checks.at_least("sample", self.sample, 1)?;
        checks.at_most("sample", self.sample, "population", self.population)?;
        checks.at_least("children", self.children, 1)?;
        checks.at_least("evaluate", self.evaluate, 1)?;
        checks.at_most("evaluate", self.evaluate, "children", self.children)?;
        checks.at_least("up_sample", self.up_sample, 1)
    }
}

impl Default for SemiEvolutionSettings {
    fn default() -> Self {
        SemiEvolutionSettings {
            population: 100,
            sample: 10,
            children: 100,
            evaluate: 10,
            m: 10_000,
            up_sample: 10,
            pretrain_epochs: 1000,
            epochs: 500,
        }
    }
}

/// Regularized evolution whose children are screened by the semi-supervised predictor.
pub struct SemiEvolution {
    settings: SemiEvolutionSettings,
}

impl SemiEvolution {
    /// A strategy with these settings.
    pub fn new(settings: SemiEvolutionSettings) -> Self {
        SemiEvolution { settings }
    }
}

impl Strategy for SemiEvolution {
    fn search(&self, ctx: &mut SearchContext<'_>) -> Result<()> {
        let s = &self.settings;
        let space = ctx.space.clone();
        let mut controller = (ctx.controller)()?;
        let (mut generation, mut population) = match ctx.restore::<EvolutionState>()? {
            Some(r) => {
                if let Some(state) = r.controller {
                    controller.load_state(state)?;
                }
                (r.iteration, r.state.population)
            }
            None => (0, initial_population(ctx, s.population.max(1))?),
        };
        let semi = SemiSupervised { m: s.m, up_sample: s.up_sample, pretrain_epochs: s.pretrain_epochs, epochs: s.epochs };
        while ctx.oracle.remaining() > 0 && !population.is_empty() {
            let state = EvolutionState { population: population.clone(), stale: 0 };
            ctx.checkpoint(generation, &state, Some(controller.as_ref()))?;
            generation += 1;
            let labelled: Vec<(Arch, f64)> =
                ctx.oracle.history().iter().map(|r| (r.arch.clone(), r.measurement.signal)).collect();
            let (normalizer, _) = train_semi_supervised(controller.as_mut(), space.as_ref(), &labelled, &semi, ctx.rng)?;
            // Propose distinct, unevaluated children from independent tournaments.
            let mut keys = HashSet::new();
            let mut children = Vec::with_capacity(s.children);
            let mut draws = 0;
            while children.len() < s.children.max(1) && draws < MAX_STALE {
                draws += 1;
                let parent = tournament(&population, s.sample, ctx.rng);
                let child = space.mutate(&parent.arch, ctx.rng);
                if ctx.oracle.knows(&child) || !keys.insert(space.key(&child)?) {
                    continue;
                }
                children.push(child);
            }
            if children.is_empty() {
                break;
            }
            let tokens = children.iter().map(|c| space.encode(c)).collect::<Result<Vec<_>>>()?;
            let predicted = controller.predict(&tokens)?;
            let mut order: Vec<usize> = (0..children.len()).collect();
            order.sort_by(|&a, &b| predicted[b].total_cmp(&predicted[a]));
            for &i in order.iter().take(s.evaluate.max(1)) {
                let prediction = Some(normalizer.inverse(predicted[i]));
                match ctx.oracle.query(&children[i], generation, prediction)? {
                    Answer::New(m) | Answer::Known(m) => {
                        population.push_back(Member { arch: children[i].clone(), signal: m.signal });
                        population.pop_front();
                    }
                    Answer::OverBudget => return Ok(()),
                }
            }
        }
        Ok(())
    }
}
