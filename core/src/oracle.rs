//! The oracle: the only door from a strategy to its evaluator. It counts queries, enforces the
//! budget, answers repeats from a cache and journals every evaluation as it happens.

use std::collections::{HashMap, VecDeque};
use std::fs::{File, OpenOptions};
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
    /// Records of an interrupted run, answered in order instead of evaluating again.
    replay: VecDeque<Record>,
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
            replay: VecDeque::new(),
        }
    }

    /// Resumes an interrupted run: the strategy, rerun with the same seed, makes the same
    /// queries again, and the first `records.len()` new queries are answered from `records`
    /// without evaluating (no query is spent twice). A query that differs from the record at
    /// its position is an error: the history belongs to another config or seed.
    pub fn with_replay(mut self, records: Vec<Record>) -> Self {
        self.replay = records.into();
        self
    }

    /// Starts from the evaluations of an interrupted run up to its last checkpoint: they count
    /// as spent and answer repeats, exactly as if this oracle had made them.
    pub fn with_restored(mut self, records: Vec<Record>) -> Self {
        for record in records {
            self.cost_seconds += record.measurement.cost_seconds;
            self.cache.insert(record.key.clone(), record.measurement.clone());
            self.history.push(record);
        }
        self
    }

    /// Appends new evaluations to an existing journal at `path` (see [`Oracle::with_journal`]).
    pub fn with_appending_journal(mut self, path: &Path) -> Result<Self> {
        let file = OpenOptions::new().append(true).create(true).open(path).map_err(|e| Error::io(path, e))?;
        self.journal = Some((path.to_path_buf(), BufWriter::new(file)));
        Ok(self)
    }

    /// Records still to be replayed.
    pub fn replay_left(&self) -> usize {
        self.replay.len()
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
        let replayed = match self.replay.pop_front() {
            Some(record) if record.key == key => Some(record),
            Some(record) => {
                return Err(Error::Evaluation(format!(
                    "cannot resume: query {} of the saved history is {} but the search now asks for {arch}; \
                     the history was written with another config, seed or version",
                    self.history.len() + 1,
                    record.arch
                )))
            }
            None => None,
        };
        let measurement = match &replayed {
            Some(record) => record.measurement.clone(),
            None => self.evaluator.evaluate(arch, &key)?,
        };
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
        if let (None, Some((path, writer))) = (&replayed, &mut self.journal) {
            // Flushed and synced before the strategy sees the result, so that a crash never
            // loses an evaluation that was used.
            let line = serde_json::to_string(&record).expect("records serialise") + "\n";
            let failpoint = crate::checkpoint::failpoint::get();
            if failpoint == Some(crate::checkpoint::failpoint::Point::TornQuery(record.query)) {
                let _ = writer.flush();
                crate::checkpoint::failpoint::tear(writer.get_mut(), line.as_bytes());
            }
            writer
                .write_all(line.as_bytes())
                .and_then(|_| writer.flush())
                .and_then(|_| writer.get_ref().sync_data())
                .map_err(|e| Error::io(path.clone(), e))?;
            if failpoint == Some(crate::checkpoint::failpoint::Point::AfterQuery(record.query)) {
                crate::checkpoint::failpoint::crash();
            }
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

/// Reads a `history.jsonl` written by an [`Oracle`]. A torn last line (a write cut short by a
/// crash) is dropped and reported in the second value; a malformed line elsewhere is an error.
pub fn read_history(path: &Path) -> Result<(Vec<Record>, Option<String>)> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut records = Vec::new();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut warning = None;
    for (i, line) in lines.iter().enumerate() {
        let complete = line.ends_with('\n');
        match serde_json::from_str::<Record>(line.trim_end()) {
            Ok(record) if complete => {
                if record.query != records.len() + 1 {
                    return Err(Error::data(path, format!("line {}: expected query {}, found {}", i + 1, records.len() + 1, record.query)));
                }
                records.push(record);
            }
            _ if i + 1 == lines.len() => {
                warning = Some(format!(
                    "{}: discarded the torn last line {} ({} bytes), written when the run was interrupted",
                    path.display(),
                    i + 1,
                    line.len()
                ));
            }
            Ok(_) => {
                return Err(Error::data(path, format!("line {}: the line has no end, but more lines follow", i + 1)));
            }
            Err(e) => {
                // Only the last line can be torn by a crash; a bad line before it means the file
                // was damaged or edited, or was written by an incompatible version.
                return Err(Error::data(
                    path,
                    format!(
                        "line {}: not a valid history record ({e}); only a torn last line can be \
                         discarded, so the file is damaged (or from another seminas version)",
                        i + 1
                    ),
                ));
            }
        }
    }
    Ok((records, warning))
}

/// Rewrites `path` to hold exactly `records` (used to drop a torn line before appending).
pub fn rewrite_history(path: &Path, records: &[Record]) -> Result<()> {
    let mut text = String::new();
    for r in records {
        text.push_str(&serde_json::to_string(r).expect("records serialise"));
        text.push('\n');
    }
    crate::checkpoint::write_durably(path, text.as_bytes())
}

#[cfg(test)]
mod history_tests {
    use super::*;

    fn line(query: usize) -> String {
        let record = Record {
            query,
            iteration: 0,
            arch: Arch::new(format!("a{query}")),
            key: format!("a{query}"),
            measurement: Measurement { signal: query as f64, report: Default::default(), cost_seconds: 1.0 },
            predicted: None,
            best_signal: query as f64,
        };
        format!("{}\n", serde_json::to_string(&record).unwrap())
    }

    #[test]
    fn torn_last_line_is_dropped_and_damaged_lines_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        let (l1, l2, l3) = (line(1), line(2), line(3));

        std::fs::write(&path, format!("{l1}{l2}{}", &l3[..l3.len() / 2])).unwrap();
        let (records, warning) = read_history(&path).unwrap();
        assert_eq!(records.len(), 2);
        assert!(warning.unwrap().contains("torn last line 3"));

        std::fs::write(&path, format!("{l1}{}\n{l3}", &l2[..l2.len() / 2])).unwrap();
        let err = read_history(&path).unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("damaged"), "{err}");

        std::fs::write(&path, format!("{l1}{l3}")).unwrap();
        let err = read_history(&path).unwrap_err().to_string();
        assert!(err.contains("line 2: expected query 2, found 3"), "{err}");
    }
}
