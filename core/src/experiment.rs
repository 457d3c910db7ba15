//! Experiments: many independent searches per method, run in parallel, summarised as the
//! paper's Table 1 and figures. Finished trials are kept on disk and never rerun.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::{prepare, stats, Config, Error, Record, Registry, Result};

/// One compared method: a strategy, possibly with one setting overridden (a sweep point).
#[derive(Clone, Debug, PartialEq)]
pub struct Method {
    /// Label in tables and plots, e.g. `seminas-nao` or `seminas-nao m=100`.
    pub label: String,
    /// Strategy registry key.
    pub strategy: String,
    /// Overridden setting and value, for sweep points.
    pub setting: Option<(String, toml::Value)>,
}

/// The methods of an experiment config: its strategies, then every sweep point.
pub fn methods(config: &Config) -> Vec<Method> {
    let section = config.experiment.clone().unwrap_or_default();
    let mut out: Vec<Method> = if section.strategies.is_empty() {
        vec![config.search.strategy.clone()]
    } else {
        section.strategies.clone()
    }
    .into_iter()
    .map(|s| Method { label: s.clone(), strategy: s, setting: None })
    .collect();
    for sweep in &section.sweep {
        for value in &sweep.values {
            out.push(Method {
                label: format!("{} {}={}", sweep.strategy, sweep.key, value),
                strategy: sweep.strategy.clone(),
                setting: Some((sweep.key.clone(), value.clone())),
            });
        }
    }
    out
}

/// One finished trial, a row of `trials.csv`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrialResult {
    /// Method label.
    pub method: String,
    /// Strategy registry key.
    pub strategy: String,
    /// Seed.
    pub seed: u64,
    /// Queries spent.
    pub queries: usize,
    /// Best search signal.
    pub best_signal: f64,
    /// The report metric of the best architecture (the benchmark's facts metric, else the
    /// search signal).
    pub best_report: f64,
    /// Gap to the benchmark optimum, where known.
    pub regret: Option<f64>,
    /// Rank in the benchmark, where known.
    pub rank: Option<usize>,
    /// Wall time in seconds.
    pub wall_seconds: f64,
    /// Best-so-far report metric after each query (for the convergence plot).
    pub curve: Vec<f64>,
}

fn trial_config(base: &Config, method: &Method, seed: u64) -> Config {
    let mut config = base.clone();
    config.search.strategy = method.strategy.clone();
    config.search.seed = seed;
    if let Some((key, value)) = &method.setting {
        config.strategy.entry(method.strategy.clone()).or_default().insert(key.clone(), value.clone());
    }
    config
}

fn report_metric(record: &Record, metric: Option<&str>) -> f64 {
    match metric {
        Some(m) if m != "signal" => record.measurement.report.get(m).copied().unwrap_or(record.measurement.signal),
        _ => record.measurement.signal,
    }
}

fn label_dir(label: &str) -> String {
    label.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '_' }).collect()
}

fn run_trial(registry: &Registry, base: &Config, method: &Method, seed: u64, dir: &Path) -> Result<TrialResult> {
    let result_path = dir.join("trial.json");
    let config = trial_config(base, method, seed);
    // A trial folder left by another configuration (another budget, setting or sweep) must not
    // be mixed into this experiment's results.
    let config_path = dir.join("config.toml");
    if let Ok(saved) = std::fs::read_to_string(&config_path) {
        if saved != config.to_toml() {
            return Err(Error::data(
                &config_path,
                "this trial was run with another configuration than the experiment's; \
                 use another --out folder, or delete this trial's folder to run it again",
            ));
        }
    }
    if result_path.exists() {
        let text = std::fs::read_to_string(&result_path).map_err(|e| Error::io(&result_path, e))?;
        return serde_json::from_str::<TrialResult>(&text).map_err(|e| {
            Error::data(&result_path, format!("not a finished trial of this version ({e}); delete it to rerun the trial"))
        });
    }
    let prepared = prepare(registry, config)?;
    // An unfinished trial continues from its history instead of starting over.
    let (summary, history) =
        if dir.join("history.jsonl").exists() { prepared.resume(dir)? } else { prepared.run(Some(dir))? };
    let metric = summary.facts.as_ref().map(|f| f.metric.clone());
    let mut curve = Vec::with_capacity(history.len());
    let mut best: Option<&Record> = None;
    for r in &history {
        if best.is_none_or(|b| r.measurement.signal > b.measurement.signal) {
            best = Some(r);
        }
        curve.push(report_metric(best.unwrap(), metric.as_deref()));
    }
    let best = summary.best.as_ref();
    let result = TrialResult {
        method: method.label.clone(),
        strategy: method.strategy.clone(),
        seed,
        queries: summary.queries,
        best_signal: best.map_or(f64::NAN, |b| b.signal),
        best_report: curve.last().copied().unwrap_or(f64::NAN),
        regret: best.and_then(|b| b.regret),
        rank: best.and_then(|b| b.rank),
        wall_seconds: summary.wall_seconds,
        curve,
    };
    // Written last: its presence marks the trial finished.
    let text = serde_json::to_string(&result).expect("results serialise");
    crate::checkpoint::write_durably(&result_path, text.as_bytes())?;
    Ok(result)
}

/// Runs `trials` seeds (0..trials) of every method of `config`, `jobs` at a time, into `out`.
/// Trials already finished in `out` are read back, not rerun. Settings, data and a folder of
/// another configuration are checked before anything is written; then `out` gets
/// `config.toml` and [`PLAN_FILE`] (what `experiment --resume` reads) and the trials.
pub fn run_experiment(registry: &Registry, config: &Config, trials: usize, jobs: usize, out: &Path) -> Result<Vec<TrialResult>> {
    check_experiment(registry, config, out)?;
    let methods = methods(config);
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    // What `experiment --resume` needs: the config and the trial count.
    let config_path = out.join("config.toml");
    std::fs::write(&config_path, config.to_toml()).map_err(|e| Error::io(&config_path, e))?;
    let plan_path = out.join(PLAN_FILE);
    let plan = serde_json::to_string(&Plan { trials }).expect("plans serialise");
    std::fs::write(&plan_path, plan).map_err(|e| Error::io(&plan_path, e))?;
    let tasks: Vec<(usize, u64)> = (0..methods.len()).flat_map(|m| (0..trials as u64).map(move |s| (m, s))).collect();
    let bar = crate::progress::bar(tasks.len(), "trials");
    let next = Mutex::new(0usize);
    let results: Mutex<Vec<Option<TrialResult>>> = Mutex::new(vec![None; tasks.len()]);
    let failure: Mutex<Option<Error>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| loop {
                let i = {
                    let mut n = next.lock().unwrap();
                    if *n >= tasks.len() || failure.lock().unwrap().is_some() {
                        return;
                    }
                    *n += 1;
                    *n - 1
                };
                let (m, seed) = tasks[i];
                let method = &methods[m];
                let dir = out.join("trials").join(label_dir(&method.label)).join(format!("seed{seed}"));
                match run_trial(registry, config, method, seed, &dir) {
                    Ok(r) => results.lock().unwrap()[i] = Some(r),
                    Err(e) => {
                        *failure.lock().unwrap() = Some(Error::Evaluation(format!("{} seed {seed}: {e}", method.label)));
                        return;
                    }
                }
                bar.inc(1);
            });
        }
    });
    bar.finish_and_clear();
    if let Some(e) = failure.into_inner().unwrap() {
        return Err(e);
    }
    let results: Vec<TrialResult> = results.into_inner().unwrap().into_iter().flatten().collect();
    write_outputs(config, &methods, &results, out)?;
    Ok(results)
}

/// The file beside an experiment's `config.toml` that records its trial count.
pub const PLAN_FILE: &str = "experiment.json";

#[derive(Serialize, Deserialize)]
struct Plan {
    trials: usize,
}

/// The trial count of the experiment started in `dir` (from its [`PLAN_FILE`]).
pub fn planned_trials(dir: &Path) -> Result<usize> {
    let path = dir.join(PLAN_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let plan: Plan = serde_json::from_str(&text)
        .map_err(|e| Error::data(&path, format!("not an experiment plan ({e}); expected {{\"trials\": N}}")))?;
    Ok(plan.trials)
}

/// Checks an experiment before anything is written: every method's settings, the controller,
/// space and evaluator (through a full [`prepare`](crate::prepare) of the first method), and
/// that `out` holds no experiment of another configuration (whose trials it would mix with).
fn check_experiment(registry: &Registry, config: &Config, out: &Path) -> Result<()> {
    let methods = methods(config);
    for (i, m) in methods.iter().enumerate() {
        let probe = trial_config(config, m, 0);
        if i == 0 {
            crate::prepare(registry, probe)?;
        } else {
            registry.build_strategy(&probe.component(crate::ComponentKind::Strategy, &probe.search.strategy))?;
        }
    }
    let saved_path = out.join("config.toml");
    if saved_path.exists() {
        let saved = Config::load(&saved_path)?;
        if saved.to_toml() != config.to_toml() {
            return Err(Error::config(
                "--out",
                format!(
                    "{} holds an experiment with another configuration (its config.toml differs); \
                     continue it with `seminas experiment --resume {}` or choose another --out",
                    out.display(),
                    out.display()
                ),
            ));
        }
    }
    Ok(())
}

/// One row of `report.md`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MethodSummary {
    /// Method label.
    pub method: String,
    /// Trials.
    pub trials: usize,
    /// Mean queries.
    pub queries: f64,
    /// Mean report metric of the best architectures.
    pub mean: f64,
    /// Its standard deviation.
    pub sd: f64,
    /// Mean regret, where known.
    pub regret: Option<f64>,
    /// Mean rank, where known.
    pub rank: Option<f64>,
    /// 99% confidence interval of the mean (Student's t).
    pub ci99: (f64, f64),
}

/// Per-method summaries in method order.
pub fn summarise(methods: &[Method], results: &[TrialResult]) -> Vec<MethodSummary> {
    methods
        .iter()
        .filter_map(|m| {
            let rows: Vec<&TrialResult> = results.iter().filter(|r| r.method == m.label).collect();
            if rows.is_empty() {
                return None;
            }
            let values: Vec<f64> = rows.iter().map(|r| r.best_report).collect();
            let (mean, sd) = (stats::mean(&values), stats::std_dev(&values));
            let half = stats::mean_ci_half_width(&values, 0.99);
            let regrets: Vec<f64> = rows.iter().filter_map(|r| r.regret).collect();
            let ranks: Vec<f64> = rows.iter().filter_map(|r| r.rank.map(|x| x as f64)).collect();
            Some(MethodSummary {
                method: m.label.clone(),
                trials: rows.len(),
                queries: stats::mean(&rows.iter().map(|r| r.queries as f64).collect::<Vec<_>>()),
                mean,
                sd,
                regret: (regrets.len() == rows.len()).then(|| stats::mean(&regrets)),
                rank: (ranks.len() == rows.len()).then(|| stats::mean(&ranks)),
                ci99: (mean - half, mean + half),
            })
        })
        .collect()
}

fn write_outputs(config: &Config, methods: &[Method], results: &[TrialResult], out: &Path) -> Result<()> {
    let csv_path = out.join("trials.csv");
    let mut csv = std::fs::File::create(&csv_path).map_err(|e| Error::io(&csv_path, e))?;
    let opt = |x: Option<String>| x.unwrap_or_default();
    let mut text = String::from("method,strategy,seed,queries,best_signal,best_report,regret,rank,wall_seconds\n");
    for r in results {
        text.push_str(&format!(
            "{},{},{},{},{},{},{},{},{:.3}\n",
            csv_field(&r.method),
            r.strategy,
            r.seed,
            r.queries,
            r.best_signal,
            r.best_report,
            opt(r.regret.map(|x| x.to_string())),
            opt(r.rank.map(|x| x.to_string())),
            r.wall_seconds
        ));
    }
    csv.write_all(text.as_bytes()).map_err(|e| Error::io(&csv_path, e))?;
    let summaries = summarise(methods, results);
    let mut md = format!(
        "# Experiment: {} on {} ({})\n\n| Method | #Queries | Mean | SD | Mean regret | Mean ranking | 99% CI of the mean | Trials |\n|---|---|---|---|---|---|---|---|\n",
        config.search.space, config.search.evaluator, config.search.budget
    );
    for s in &summaries {
        md.push_str(&format!(
            "| {} | {:.0} | {:.4} | {:.4} | {} | {} | [{:.4}, {:.4}] | {} |\n",
            s.method,
            s.queries,
            s.mean,
            s.sd,
            s.regret.map_or("-".into(), |x| format!("{x:.4}")),
            s.rank.map_or("-".into(), |x| format!("{x:.1}")),
            s.ci99.0,
            s.ci99.1,
            s.trials
        ));
    }
    let md_path = out.join("report.md");
    std::fs::write(&md_path, md).map_err(|e| Error::io(&md_path, e))?;
    crate::plots::write_plots(config, methods, results, &summaries, out)
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

/// Per-method trial results, for plotting.
pub fn by_method<'a>(methods: &[Method], results: &'a [TrialResult]) -> BTreeMap<String, Vec<&'a TrialResult>> {
    let mut map = BTreeMap::new();
    for m in methods {
        map.insert(m.label.clone(), results.iter().filter(|r| r.method == m.label).collect());
    }
    map
}

/// Where a trial of `method` with `seed` keeps its files.
pub fn trial_dir(out: &Path, method: &Method, seed: u64) -> PathBuf {
    out.join("trials").join(label_dir(&method.label)).join(format!("seed{seed}"))
}
