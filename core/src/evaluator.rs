//! Evaluators: what a query of an architecture returns.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Arch, Result};

/// The outcome of evaluating one architecture.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// The value strategies maximise (e.g. validation accuracy).
    pub signal: f64,
    /// Metrics reported but never seen by strategies (e.g. test accuracy), by name.
    #[serde(default)]
    pub report: BTreeMap<String, f64>,
    /// What the evaluation cost, in seconds of training (real or tabulated).
    #[serde(default)]
    pub cost_seconds: f64,
}

/// Facts about a benchmark that let summaries print regret and ranking, as the paper's
/// Table 1 does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BenchmarkFacts {
    /// The report metric the facts refer to (e.g. `test_acc`).
    pub metric: String,
    /// The best value of `metric` over the whole benchmark.
    pub optimum: f64,
    /// Number of architectures in the benchmark.
    pub size: usize,
}

/// Maps an architecture to a [`Measurement`].
///
/// Required: [`evaluate`](Self::evaluate). Provided: [`facts`](Self::facts),
/// [`rank`](Self::rank), [`members`](Self::members).
///
/// Evaluators do not count queries themselves: the [`Oracle`](crate::Oracle) in front of them
/// counts each distinct canonical architecture once and answers repeats from its cache, so
/// `evaluate` is called at most once per canonical key in a search.
pub trait Evaluator: Send {
    /// Evaluates a valid architecture. An architecture the evaluator cannot answer (e.g. one
    /// absent from a table) is an error naming it.
    fn evaluate(&mut self, arch: &Arch, key: &str) -> Result<Measurement>;

    /// Benchmark facts, where the evaluator knows them (tables do, training does not).
    fn facts(&self) -> Option<BenchmarkFacts> {
        None
    }

    /// 1-based rank of `key` by the facts' metric (1 = best), where known.
    fn rank(&self, _key: &str) -> Option<usize> {
        None
    }

    /// The finite set of architectures this evaluator can answer, if it is finite. Searches
    /// over such an evaluator sample only from this set.
    fn members(&self) -> Option<Vec<Arch>> {
        None
    }
}
