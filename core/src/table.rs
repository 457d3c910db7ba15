//! The generic table evaluator: answers queries from a file of already evaluated
//! architectures (JSON lines or CSV).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use crate::{Arch, BenchmarkFacts, Component, Error, Evaluator, Measurement, Result, SearchSpace};

/// Settings of the `table` evaluator (`[evaluator.table]`).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TableSettings {
    /// The table file: `.jsonl` (one JSON object a line) or `.csv` (with a header).
    pub path: String,
    /// Column holding the architecture; when absent the space reads the whole record
    /// (e.g. NAS-Bench-101 lines with `matrix` and `ops`).
    #[serde(default)]
    pub arch_column: Option<String>,
    /// Column of the search signal; dots reach into nested objects (`val_acc.108`).
    pub signal: String,
    /// Report metrics: name = column.
    #[serde(default)]
    pub report: BTreeMap<String, String>,
    /// Column of the evaluation cost in seconds (default: none, cost 0).
    #[serde(default)]
    pub cost: Option<String>,
    /// Report metric (a key of `report`, or `signal`) used for the optimum, regret and rank
    /// (default: the first report metric, else the signal).
    #[serde(default)]
    pub rank_by: Option<String>,
}

/// One row, parsed.
#[derive(Clone, Debug)]
struct Row {
    arch: Arch,
    measurement: Measurement,
}

/// Answers queries from a table; see [`TableSettings`].
#[derive(Clone)]
pub struct TableEvaluator {
    rows: Arc<Vec<Row>>,
    by_key: Arc<HashMap<String, usize>>,
    ranks: Arc<HashMap<String, usize>>,
    facts: BenchmarkFacts,
}

fn lookup<'a>(record: &'a serde_json::Value, path: &str) -> Option<&'a serde_json::Value> {
    if let Some(v) = record.get(path) {
        return Some(v);
    }
    path.split('.').try_fold(record, |v, part| v.get(part))
}

fn number(record: &serde_json::Value, column: &str, file: &Path, line: usize) -> Result<f64> {
    let value = lookup(record, column)
        .ok_or_else(|| Error::data(file, format!("line {line}: no column `{column}`")))?;
    let parsed = match value {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    parsed
        .filter(|x| x.is_finite())
        .ok_or_else(|| Error::data(file, format!("line {line}: column `{column}` should be a finite number, found {value}")))
}

fn read_records(path: &Path) -> Result<Vec<(usize, serde_json::Value)>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let is_csv = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    if is_csv {
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let headers = reader
            .headers()
            .map_err(|e| Error::data(path, format!("cannot read the CSV header: {e}")))?
            .clone();
        let mut out = Vec::new();
        for (i, row) in reader.records().enumerate() {
            let line = i + 2;
            let row = row.map_err(|e| Error::data(path, format!("line {line}: {e}")))?;
            let object: serde_json::Map<String, serde_json::Value> = headers
                .iter()
                .zip(row.iter())
                .map(|(h, v)| (h.to_string(), serde_json::Value::String(v.to_string())))
                .collect();
            out.push((line, serde_json::Value::Object(object)));
        }
        Ok(out)
    } else {
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                serde_json::from_str(l)
                    .map(|v| (i + 1, v))
                    .map_err(|e| Error::data(path, format!("line {}: not a JSON object: {e}", i + 1)))
            })
            .collect()
    }
}

impl TableEvaluator {
    /// Loads the table at `path` for `space`.
    pub fn load(space: &dyn SearchSpace, path: &Path, settings: &TableSettings) -> Result<Self> {
        if !path.exists() {
            return Err(Error::data(
                path,
                "table file not found (expected JSON lines or CSV with one evaluated architecture a row)",
            ));
        }
        let records = read_records(path)?;
        if records.is_empty() {
            return Err(Error::data(path, "the table has no rows"));
        }
        let rank_by = settings
            .rank_by
            .clone()
            .or_else(|| settings.report.keys().next().cloned())
            .unwrap_or_else(|| "signal".into());
        if rank_by != "signal" && !settings.report.contains_key(&rank_by) {
            return Err(Error::config(
                "evaluator.table.rank_by",
                format!("`{rank_by}` is neither `signal` nor a key of `report`"),
            ));
        }
        let mut rows = Vec::with_capacity(records.len());
        let mut by_key = HashMap::with_capacity(records.len());
        for (line, record) in &records {
            let arch = space
                .from_record(record, settings.arch_column.as_deref())
                .map_err(|e| Error::data(path, format!("line {line}: {e}")))?;
            let key = space.key(&arch).map_err(|e| Error::data(path, format!("line {line}: {e}")))?;
            let signal = number(record, &settings.signal, path, *line)?;
            let report = settings
                .report
                .iter()
                .map(|(name, column)| Ok((name.clone(), number(record, column, path, *line)?)))
                .collect::<Result<BTreeMap<_, _>>>()?;
            let cost_seconds = match &settings.cost {
                Some(column) => number(record, column, path, *line)?,
                None => 0.0,
            };
            // A repeated architecture keeps its first row, as the file's author listed it.
            by_key.entry(key).or_insert(rows.len());
            rows.push(Row { arch, measurement: Measurement { signal, report, cost_seconds } });
        }
        let metric_of = |m: &Measurement| if rank_by == "signal" { m.signal } else { m.report[&rank_by] };
        let mut order: Vec<(&String, f64)> = by_key.iter().map(|(k, &i)| (k, metric_of(&rows[i].measurement))).collect();
        order.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        let optimum = order[0].1;
        let ranks = order
            .iter()
            .zip(crate::stats::competition_ranks(order.iter().map(|(_, v)| *v)))
            .map(|((k, _), rank)| ((*k).clone(), rank))
            .collect();
        let facts = BenchmarkFacts { metric: rank_by, optimum, size: by_key.len() };
        Ok(TableEvaluator { rows: Arc::new(rows), by_key: Arc::new(by_key), ranks: Arc::new(ranks), facts })
    }

    /// Builds from a `[evaluator.table]` component.
    pub fn from_component(component: &Component, space: &Arc<dyn SearchSpace>) -> Result<Self> {
        let settings: TableSettings = component.parse()?;
        let path: PathBuf = component.resolve_path("path", &settings.path)?;
        Self::load(space.as_ref(), &path, &settings)
    }

    /// Number of distinct architectures.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// Whether the table is empty (never, once loaded).
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}

impl Evaluator for TableEvaluator {
    fn evaluate(&mut self, arch: &Arch, key: &str) -> Result<Measurement> {
        self.by_key
            .get(key)
            .map(|&i| self.rows[i].measurement.clone())
            .ok_or_else(|| Error::Evaluation(format!("{arch} (key {key}) is not in the table")))
    }

    fn facts(&self) -> Option<BenchmarkFacts> {
        Some(self.facts.clone())
    }

    fn rank(&self, key: &str) -> Option<usize> {
        self.ranks.get(key).copied()
    }

    fn members(&self) -> Option<Vec<Arch>> {
        let mut first: Vec<usize> = self.by_key.values().copied().collect();
        first.sort_unstable();
        Some(first.into_iter().map(|i| self.rows[i].arch.clone()).collect())
    }
}
