//! The oracle: the only door from a strategy to its evaluator. It counts queries, enforces the
//! budget, answers repeats from a cache and journals every evaluation as it happens.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::{Arch, Error, Evaluator, Measurement, Result, SearchSpace};

/// One evaluated architecture in a search history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// 1-based query number.
    pub query: usize,
    /// Strategy iteration that proposed it (0 = initial random architectures).
    pub iteration: usize,
    /// The architecture, in its space's notation.
    pub arch: Arch,
    /// Its canonical key.
    pub key: String,
    /// The measurement returned by the evaluator.
    pub measurement: Measurement,
    /// The controller's prediction for it, where there was one (normalised units).
    pub predicted: Option<f64>,
    /// Best search signal so far, including this one.
    pub best_signal: f64,
}

/// Answer to a query.
#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    /// Evaluated now: it cost one query.
    New(Measurement),
    /// Evaluated before in this search: free.
    Known(Measurement),
    /// The budget is spent; nothing was evaluated.
    OverBudget,
}

impl Answer {
    /// The measurement, if there is one.
    pub fn measurement(&self) -> Option<&Measurement> {
        match self {
            Answer::New(m) | Answer::Known(m) => Some(m),
            Answer::OverBudget => None,
        }
    }
}

/// Counts, caches and journals queries for one search.
pub struct Oracle {
    space: Arc<dyn SearchSpace>,
    evaluator: Box<dyn Evaluator>,
    budget: usize,
    cache: HashMap<String, Measurement>,
    history: Vec<Record>,
    journal: Option<(PathBuf, BufWriter<File>)>,
    cost_seconds: f64,
}

impl Oracle {
    /// An oracle allowing `budget` distinct evaluations.
    pub fn new(space: Arc<dyn SearchSpace>, evaluator: Box<dyn Evaluator>, budget: usize) -> Self {
        Oracle {
            space,
            evaluator,
            budget,
            cache: HashMap::new(),
            history: Vec::new(),
            journal: None,
            cost_seconds: 0.0,
        }
    }

    /// Writes each new evaluation to `path` (JSON lines), flushed before the strategy sees it.
    pub fn with_journal(mut self, path: &Path) -> Result<Self> {
        let file = File::create(path).map_err(|e| Error::io(path, e))?;
        self.journal = Some((path.to_path_buf(), BufWriter::new(file)));
        Ok(self)
    }

    /// Queries `arch`. Repeats of an already evaluated canonical architecture are free;
    /// a new one past the budget is not evaluated.
    pub fn query(&mut self, arch: &Arch, iteration: usize, predicted: Option<f64>) -> Result<Answer> {
        let key = self.space.key(arch)?;
        if let Some(m) = self.cache.get(&key) {
            return Ok(Answer::Known(m.clone()));
        }
        if self.remaining() == 0 {
            return Ok(Answer::OverBudget);
        }
        let measurement = self.evaluator.evaluate(arch, &key)?;
        if !measurement.signal.is_finite() {
            return Err(Error::Evaluation(format!(
                "{arch}: the evaluator returned a non-finite search signal {}",
                measurement.signal
            )));
        }
        self.cost_seconds += measurement.cost_seconds;
        let best_signal = self
            .history
            .last()
            .map_or(measurement.signal, |r| r.best_signal.max(measurement.signal));
        let record = Record {
            query: self.history.len() + 1,
            iteration,
            arch: arch.clone(),
            key: key.clone(),
            measurement: measurement.clone(),
            predicted,
            best_signal,
        };
        if let Some((path, writer)) = &mut self.journal {
            let line = serde_json::to_string(&record).expect("records serialise");
            writeln!(writer, "{line}")
                .and_then(|_| writer.flush())
                .map_err(|e| Error::io(path.clone(), e))?;
        }
        self.history.push(record);
        self.cache.insert(key, measurement.clone());
        Ok(Answer::New(measurement))
    }

    /// Whether `arch` was evaluated already in this search.
    pub fn knows(&self, arch: &Arch) -> bool {
        self.space.key(arch).is_ok_and(|k| self.cache.contains_key(&k))
    }

    /// Queries left.
    pub fn remaining(&self) -> usize {
        self.budget.saturating_sub(self.history.len())
    }

    /// Queries spent.
    pub fn spent(&self) -> usize {
        self.history.len()
    }

    /// The query budget.
    pub fn budget(&self) -> usize {
        self.budget
    }

    /// Total evaluation cost in seconds.
    pub fn cost_seconds(&self) -> f64 {
        self.cost_seconds
    }

    /// Every evaluation so far, in order.
    pub fn history(&self) -> &[Record] {
        &self.history
    }

    /// The evaluated record with the highest search signal (first one on ties).
    pub fn best(&self) -> Option<&Record> {
        self.history.iter().fold(None, |best: Option<&Record>, r| match best {
            Some(b) if b.measurement.signal >= r.measurement.signal => Some(b),
            _ => Some(r),
        })
    }

    /// The evaluator behind the oracle, for benchmark facts.
    pub fn evaluator(&self) -> &dyn Evaluator {
        self.evaluator.as_ref()
    }

    /// The search space.
    pub fn space(&self) -> &Arc<dyn SearchSpace> {
        &self.space
    }
}
