//! Running a whole search from a [`Config`]: build every component first (so that a bad
//! config fails before anything is written), then search, journal and summarise.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use crate::{
    run_search, Checkpointer, Component, ComponentKind, Config, Error, Evaluator, Oracle, Record, Registry, RestrictedSpace,
    Result, SearchSpace, Strategy,
};

/// A search with every component built and checked.
pub struct PreparedSearch<'r> {
    registry: &'r Registry,
    config: Config,
    space: Arc<dyn SearchSpace>,
    evaluator: Box<dyn Evaluator>,
    strategy: Box<dyn Strategy>,
}

/// The best architecture of a search, as written to `summary.json`.
#[derive(Clone, Debug, Serialize)]
pub struct BestSummary {
    /// The architecture in its space's notation.
    pub arch: crate::Arch,
    /// A structured view (e.g. matrix, ops and hash).
    pub details: serde_json::Value,
    /// Canonical key.
    pub key: String,
    /// Its search signal.
    pub signal: f64,
    /// Its report metrics.
    pub report: std::collections::BTreeMap<String, f64>,
    /// Query number at which it was found.
    pub query: usize,
    /// Gap to the benchmark optimum of the facts' metric, where known.
    pub regret: Option<f64>,
    /// Rank in the benchmark (1 = best), where known.
    pub rank: Option<usize>,
}

/// What `summary.json` holds.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// Strategy registry key.
    pub strategy: String,
    /// Search space registry key.
    pub space: String,
    /// Evaluator registry key.
    pub evaluator: String,
    /// Seed.
    pub seed: u64,
    /// Query budget.
    pub budget: usize,
    /// Queries spent.
    pub queries: usize,
    /// The best architecture by search signal.
    pub best: Option<BestSummary>,
    /// Benchmark facts, where the evaluator knows them.
    pub facts: Option<crate::BenchmarkFacts>,
    /// Median report metrics of the initial random architectures (iteration 0).
    pub initial_median: std::collections::BTreeMap<String, f64>,
    /// Wall time of the search in seconds.
    pub wall_seconds: f64,
    /// Evaluation cost in seconds (tabulated or measured training time).
    pub cost_seconds: f64,
    /// The resolved configuration.
    pub config: serde_json::Value,
}

/// Builds every component named in `config`. Unknown component tables and bad settings are
/// errors naming the key.
pub fn prepare<'r>(registry: &'r Registry, config: Config) -> Result<PreparedSearch<'r>> {
    for (kind, tables) in [
        (ComponentKind::Space, &config.space),
        (ComponentKind::Evaluator, &config.evaluator),
        (ComponentKind::Strategy, &config.strategy),
        (ComponentKind::Controller, &config.controller),
    ] {
        for name in tables.keys() {
            if !registry.contains(kind, name) {
                return Err(Error::config(
                    format!("{}.{name}", kind.table()),
                    format!("no {} named `{name}` is registered (see `seminas list`)", kind.table()),
                ));
            }
        }
    }
    if config.search.budget == 0 {
        return Err(Error::config("search.budget", "the budget must be at least 1 query"));
    }
    let s = &config.search;
    // Cheap checks first (strategy and controller settings), data loading last.
    let strategy = registry.build_strategy(&config.component(ComponentKind::Strategy, &s.strategy))?;
    // A config may hold the settings of several strategies so that swapping is one line;
    // check them all, since building a strategy only parses its table.
    for name in config.strategy.keys().filter(|n| **n != s.strategy) {
        registry.build_strategy(&config.component(ComponentKind::Strategy, name))?;
    }
    let space = registry.build_space(&config.component(ComponentKind::Space, &s.space))?;
    // Build the controller once now so that its settings and device are checked up front.
    registry.build_controller(&config.component(ComponentKind::Controller, &s.controller), &space.encoding())?;
    let evaluator = registry.build_evaluator(&config.component(ComponentKind::Evaluator, &s.evaluator), &space)?;
    let space: Arc<dyn SearchSpace> = match evaluator.members() {
        Some(members) => Arc::new(RestrictedSpace::new(space, members)?),
        None => space,
    };
    Ok(PreparedSearch { registry, config, space, evaluator, strategy })
}

impl PreparedSearch<'_> {
    /// The search space (restricted to the evaluator's members where it has any).
    pub fn space(&self) -> &Arc<dyn SearchSpace> {
        &self.space
    }

    /// Runs the search. With `out`, writes `config.toml` first, `history.jsonl` as evaluations
    /// happen and `summary.json` at the end.
    pub fn run(self, out: Option<&Path>) -> Result<(Summary, Vec<Record>)> {
        self.run_inner(out, None)
    }

    /// Continues a run interrupted in `out`. The strategy continues from its last checkpoint
    /// (`out/checkpoint.json`: iteration, pools, random generator, controller state); the
    /// evaluations made after it, and without a checkpoint all of them, answer its queries
    /// again from `out/history.jsonl`, so no query is spent twice and the result equals that of
    /// an uninterrupted run. A torn last line is dropped with a warning on stderr; a corrupt
    /// checkpoint or one written by another run is an error.
    pub fn resume(self, out: &Path) -> Result<(Summary, Vec<Record>)> {
        let path = out.join("history.jsonl");
        let records = if path.exists() {
            let (records, warning) = crate::read_history(&path)?;
            if let Some(w) = warning {
                eprintln!("warning: {w}");
            }
            crate::rewrite_history(&path, &records)?;
            records
        } else {
            Vec::new()
        };
        self.run_inner(Some(out), Some(records))
    }

    fn run_inner(self, out: Option<&Path>, replay: Option<Vec<Record>>) -> Result<(Summary, Vec<Record>)> {
        let PreparedSearch { registry, config, space, evaluator, strategy } = self;
        let s = &config.search;
        let mut oracle = Oracle::new(space.clone(), evaluator, s.budget);
        let mut checkpoints = Checkpointer::disabled();
        if let Some(dir) = out {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            checkpoints = Checkpointer::new(dir, &config.to_toml(), &s.strategy, s.seed);
            let journal = dir.join("history.jsonl");
            match replay {
                Some(mut records) => {
                    // Evaluations up to the last checkpoint are restored as made; the strategy
                    // continues from the checkpoint and the later ones answer its queries again.
                    let restored = match checkpoints.load(&records)? {
                        Some(c) => {
                            eprintln!(
                                "{}: continuing from the checkpoint of iteration {} ({} evaluations; {} later ones \
                                 answer the search's queries again)",
                                dir.display(),
                                c.iteration,
                                c.queries,
                                records.len() - c.queries
                            );
                            c.queries
                        }
                        None => 0,
                    };
                    let after = records.split_off(restored);
                    oracle = oracle.with_restored(records).with_replay(after).with_appending_journal(&journal)?;
                }
                None => {
                    // A checkpoint left by an earlier run in this folder belongs to that run.
                    let stale = dir.join(crate::CHECKPOINT_FILE);
                    if stale.exists() {
                        std::fs::remove_file(&stale).map_err(|e| Error::io(&stale, e))?;
                    }
                    let path = dir.join("config.toml");
                    std::fs::write(&path, config.to_toml()).map_err(|e| Error::io(&path, e))?;
                    oracle = oracle.with_journal(&journal)?;
                }
            }
        }
        let controller_component = config.component(ComponentKind::Controller, &s.controller);
        let encoding = space.encoding();
        let build = || registry.build_controller(&controller_component, &encoding);
        let started = Instant::now();
        let outcome = run_search(strategy.as_ref(), &mut oracle, &build, s.seed, &mut checkpoints)?;
        if oracle.replay_left() > 0 {
            return Err(Error::Evaluation(format!(
                "cannot resume: the search ended with {} saved evaluations not asked for again; \
                 the history was written with another config, seed or version",
                oracle.replay_left()
            )));
        }
        let wall_seconds = started.elapsed().as_secs_f64();
        let facts = oracle.evaluator().facts();
        let best = outcome.best.as_ref().map(|r| {
            let metric_value = facts.as_ref().and_then(|f| {
                if f.metric == "signal" { Some(r.measurement.signal) } else { r.measurement.report.get(&f.metric).copied() }
            });
            BestSummary {
                arch: r.arch.clone(),
                details: space.describe(&r.arch),
                key: r.key.clone(),
                signal: r.measurement.signal,
                report: r.measurement.report.clone(),
                query: r.query,
                regret: facts.as_ref().zip(metric_value).map(|(f, v)| f.optimum - v),
                rank: oracle.evaluator().rank(&r.key),
            }
        });
        let initial: Vec<&Record> = outcome.history.iter().filter(|r| r.iteration == 0).collect();
        let mut initial_median = std::collections::BTreeMap::new();
        if !initial.is_empty() {
            let signals: Vec<f64> = initial.iter().map(|r| r.measurement.signal).collect();
            initial_median.insert("signal".to_string(), crate::stats::median(&signals));
            for name in initial[0].measurement.report.keys() {
                let values: Vec<f64> = initial.iter().filter_map(|r| r.measurement.report.get(name).copied()).collect();
                initial_median.insert(name.clone(), crate::stats::median(&values));
            }
        }
        let summary = Summary {
            strategy: s.strategy.clone(),
            space: s.space.clone(),
            evaluator: s.evaluator.clone(),
            seed: s.seed,
            budget: s.budget,
            queries: oracle.spent(),
            best,
            facts,
            initial_median,
            wall_seconds,
            cost_seconds: oracle.cost_seconds(),
            config: serde_json::to_value(&config).expect("configs serialise"),
        };
        if let Some(dir) = out {
            let path = dir.join("summary.json");
            let text = serde_json::to_string_pretty(&summary).expect("summaries serialise");
            std::fs::write(&path, text + "\n").map_err(|e| Error::io(&path, e))?;
        }
        Ok((summary, outcome.history))
    }
}

/// Builds a component of `kind` from TOML text, for tests and tools that work without a file.
pub fn component(kind: ComponentKind, name: &str, toml_text: &str, seed: u64) -> Result<Component> {
    Ok(Component::new(kind, name).with_toml(toml_text)?.with_seed(seed))
}
