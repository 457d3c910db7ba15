//! The `nasbench101` evaluator: queries of the official data file.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use seminas_core::{
    Arch, BenchmarkFacts, Component, Error, Evaluator, Measurement, Result, SearchSpace,
};
use serde::Deserialize;

use crate::data::NasBench101Data;

/// Registry key of the evaluator.
pub const EVALUATOR_NAME: &str = "nasbench101";

pub(crate) const DESCRIPTION: &str =
    "NAS-Bench-101 data set (official .tfrecord, no TensorFlow): one seeded random run per \
     cell, validation accuracy as signal, mean test accuracy (test_acc), training time as cost; \
     cached after the first load";

pub(crate) const EXAMPLE: &str =
    "path = \"${NASBENCH101_TFRECORD}\"  # nasbench_only108.tfrecord or nasbench_full.tfrecord\n\
     epochs = 108                       # 4, 12, 36 (full file only) or 108\n\
     stop_halfway = false               # answer with the halfway evaluation";

fn default_epochs() -> u32 {
    108
}

/// Settings of `[evaluator.nasbench101]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EvaluatorSettings {
    /// The data file (`${VAR}` expanded, relative to the config file).
    pub path: String,
    /// Epoch budget queried (default 108).
    #[serde(default = "default_epochs")]
    pub epochs: u32,
    /// Answer with the evaluation halfway through training, as the official
    /// `query(..., stop_halfway=True)` (default false).
    #[serde(default)]
    pub stop_halfway: bool,
}

/// Answers queries from the NAS-Bench-101 data set, as the official `api.NASBench.query` does.
///
/// Each evaluation picks one of the cell's runs with a generator seeded by the evaluator's seed
/// and the cell's hash: its validation accuracy is the signal and its training time the cost.
/// The choice depends on nothing else (not on the order of queries), so a resumed search that
/// answers its earlier queries from the history gets the same runs for its later ones. The report holds
/// `test_acc` (mean test accuracy over the runs, what the SemiNAS paper reports), `run_test_acc`
/// (the chosen run's) and `params`. Facts and ranks are by mean test accuracy.
pub struct NasBench101Evaluator {
    data: Arc<NasBench101Data>,
    epochs: u32,
    epoch_index: usize,
    stop_halfway: bool,
    seed: u64,
}

impl NasBench101Evaluator {
    /// An evaluator over loaded data; `seed` fixes the choice of runs.
    pub fn new(
        data: Arc<NasBench101Data>,
        epochs: u32,
        stop_halfway: bool,
        seed: u64,
    ) -> Result<Self> {
        let epoch_index = data.epoch_index(epochs)?;
        Ok(NasBench101Evaluator {
            data,
            epochs,
            epoch_index,
            stop_halfway,
            // Offset so that the run choices do not mirror a strategy seeded with the same seed.
            seed: seed ^ 0x6e62_3130_315f_7275,
        })
    }

    /// The generator that picks `key`'s run: a function of the seed and the key only.
    fn run_chooser(&self, key: &str) -> ChaCha8Rng {
        // FNV-1a: stable across builds and platforms, unlike std's hasher.
        let key_hash = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
        ChaCha8Rng::seed_from_u64(self.seed ^ key_hash)
    }

    /// Loads the data file (shared within the process) and builds the evaluator.
    pub fn load(path: &Path, epochs: u32, stop_halfway: bool, seed: u64) -> Result<Self> {
        let data = NasBench101Data::open_shared(path)?;
        if let Some(note) = &data.load_info().cache_note {
            eprintln!("note: {note}");
        }
        Self::new(data, epochs, stop_halfway, seed)
    }

    /// Builds from a `[evaluator.nasbench101]` component.
    pub fn from_component(component: &Component, space: &Arc<dyn SearchSpace>) -> Result<Self> {
        let settings: EvaluatorSettings = component.parse()?;
        if space.name() != crate::SPACE_NAME {
            return Err(Error::config(
                "search.space",
                format!(
                    "the `{EVALUATOR_NAME}` evaluator answers NAS-Bench-101 cells; set space = \"{}\", not `{}`",
                    crate::SPACE_NAME,
                    space.name()
                ),
            ));
        }
        let path = component.resolve_path("path", &settings.path)?;
        let data = NasBench101Data::open_shared(&path)?;
        if let Some(note) = &data.load_info().cache_note {
            eprintln!("note: {note}");
        }
        if data.epoch_index(settings.epochs).is_err() {
            return Err(Error::config(
                format!("{}.epochs", component.prefix()),
                format!(
                    "{} has no runs at {} epochs; it has {:?}",
                    path.display(),
                    settings.epochs,
                    data.epochs()
                ),
            ));
        }
        Self::new(data, settings.epochs, settings.stop_halfway, component.seed)
    }

    /// The data set.
    pub fn data(&self) -> &Arc<NasBench101Data> {
        &self.data
    }

    /// The epoch budget queried.
    pub fn epochs(&self) -> u32 {
        self.epochs
    }
}

impl Evaluator for NasBench101Evaluator {
    fn evaluate(&mut self, arch: &Arch, key: &str) -> Result<Measurement> {
        let index = self.data.find(key).ok_or_else(|| {
            Error::Evaluation(format!(
                "{arch} (hash {key}) is not in the NAS-Bench-101 data set {}",
                self.data.load_info().source.display()
            ))
        })?;
        let mut rng = self.run_chooser(key);
        let q = self
            .data
            .query_index(index, self.epochs, self.stop_halfway, &mut rng)?;
        let mut report = BTreeMap::new();
        report.insert("test_acc".to_string(), q.mean_test_accuracy);
        report.insert("run_test_acc".to_string(), q.evaluation.test_accuracy);
        report.insert("params".to_string(), f64::from(q.params));
        Ok(Measurement {
            signal: q.evaluation.validation_accuracy,
            report,
            cost_seconds: q.evaluation.training_time,
        })
    }

    fn facts(&self) -> Option<BenchmarkFacts> {
        let (_, optimum) = self.data.best_test_accuracy(self.epoch_index)?;
        Some(BenchmarkFacts {
            metric: "test_acc".into(),
            optimum,
            size: self.data.len(),
        })
    }

    fn rank(&self, key: &str) -> Option<usize> {
        let i = self.data.find(key)?;
        Some(self.data.ranking(self.epoch_index).ranks[i] as usize)
    }

    /// Every cell of the file, in file order.
    fn members(&self) -> Option<Vec<Arch>> {
        Some(
            (0..self.data.len())
                .into_par_iter()
                .with_min_len(4096)
                .map(|i| Arch::new(self.data.spec(i).to_json()))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use seminas_core::{ComponentKind, Config, Registry};

    use super::*;
    use crate::data::synthetic;
    use crate::enumerate::{all_cells, Cell};
    use crate::NasBench101Space;

    fn fixture(dir: &Path, count: usize, epochs: &[u32]) -> (PathBuf, Vec<Cell>) {
        let cells: Vec<Cell> = all_cells()
            .iter()
            .step_by(all_cells().len() / count)
            .take(count)
            .copied()
            .collect();
        let path = dir.join("nb101.tfrecord");
        synthetic::write(&path, &cells, epochs, 3).unwrap();
        (path, cells)
    }

    fn build(path: &Path, extra: &str, seed: u64) -> Result<Box<dyn Evaluator>> {
        let registry = Registry::with_builtin().unwrap();
        let space: Arc<dyn SearchSpace> = Arc::new(NasBench101Space::new());
        let component = Component::new(ComponentKind::Evaluator, EVALUATOR_NAME)
            .with_toml(&format!("path = {:?}\n{extra}", path.display().to_string()))
            .unwrap()
            .with_seed(seed);
        registry.build_evaluator(&component, &space)
    }

    #[test]
    fn answers_like_the_official_query() {
        let dir = tempfile::tempdir().unwrap();
        let (path, cells) = fixture(dir.path(), 2000, &[108]);
        let space = NasBench101Space::new();
        let mut evaluator = build(&path, "", 1).unwrap();
        let cell = cells[1234];
        let arch = space.arch(cell.spec());
        let key = space.key(&arch).unwrap();
        assert_eq!(key, cell.hash());
        let m = evaluator.evaluate(&arch, &key).unwrap();
        let runs: Vec<_> = (0..3)
            .map(|r| synthetic::expected_run(cell.hash(), 108, r))
            .collect();
        let chosen = runs
            .iter()
            .position(|r| r.end.validation_accuracy == m.signal)
            .expect("one of the runs");
        assert_eq!(m.cost_seconds, runs[chosen].end.training_time);
        assert_eq!(m.report["run_test_acc"], runs[chosen].end.test_accuracy);
        let mean = runs.iter().map(|r| r.end.test_accuracy).sum::<f64>() / 3.0;
        assert!((m.report["test_acc"] - mean).abs() < 1e-15);
        assert_eq!(
            m.report["params"],
            f64::from(synthetic::params(cell.hash()))
        );

        // The same seed picks the same runs, whatever the order of the queries (a resumed
        // search relies on it); other seeds pick others.
        let sampled: Vec<Cell> = cells.iter().step_by(50).copied().collect();
        let picks = |seed: u64, reversed: bool| {
            let mut e = build(&path, "", seed).unwrap();
            let mut order: Vec<&Cell> = sampled.iter().collect();
            if reversed {
                order.reverse();
            }
            let mut signals: Vec<(&str, f64)> = order
                .into_iter()
                .map(|c| (c.hash(), e.evaluate(&space.arch(c.spec()), c.hash()).unwrap().signal))
                .collect();
            signals.sort_by(|a, b| a.0.cmp(b.0));
            signals
        };
        assert_eq!(picks(3, false), picks(3, true));
        assert_ne!(picks(3, false), picks(4, false));
        // Repeated queries of one cell with one evaluator give the same run.
        let again = evaluator.evaluate(&arch, &key).unwrap();
        assert_eq!(again.signal, m.signal);

        // Facts and ranks by mean test accuracy.
        let facts = evaluator.facts().unwrap();
        assert_eq!(facts.metric, "test_acc");
        assert_eq!(facts.size, 2000);
        let means: Vec<(f64, &str)> = cells
            .iter()
            .map(|c| {
                (
                    (0..3)
                        .map(|r| synthetic::expected_run(c.hash(), 108, r).end.test_accuracy)
                        .sum::<f64>()
                        / 3.0,
                    c.hash(),
                )
            })
            .collect();
        let best = means.iter().max_by(|a, b| a.0.total_cmp(&b.0)).unwrap();
        assert_eq!(facts.optimum, best.0);
        assert_eq!(evaluator.rank(best.1), Some(1));
        let worst = means.iter().min_by(|a, b| a.0.total_cmp(&b.0)).unwrap();
        assert_eq!(evaluator.rank(worst.1), Some(2000));
        assert_eq!(evaluator.rank("0123"), None);

        // Members: every cell, keyed as the space keys them.
        let members = evaluator.members().unwrap();
        assert_eq!(members.len(), 2000);
        for (arch, cell) in members.iter().zip(&cells).step_by(50) {
            assert_eq!(space.key(arch).unwrap(), cell.hash());
        }

        // A valid cell outside the file is an error naming its hash.
        let absent = all_cells().iter().find(|c| !cells.contains(c)).unwrap();
        let err = evaluator
            .evaluate(&space.arch(absent.spec()), absent.hash())
            .unwrap_err()
            .to_string();
        assert!(err.contains(absent.hash()), "{err}");
    }

    #[test]
    fn settings_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = fixture(dir.path(), 100, &[12, 108]);
        assert!(build(&path, "epochs = 12\nstop_halfway = true", 0).is_ok());
        let err = build(&path, "epochs = 36", 0).err().unwrap().to_string();
        assert!(
            err.contains("evaluator.nasbench101.epochs") && err.contains("[12, 108]"),
            "{err}"
        );
        let err = build(&path, "epoch = 36", 0).err().unwrap().to_string();
        assert!(err.contains("epoch"), "{err}");
        let err = build(&dir.path().join("absent.tfrecord"), "", 0)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("absent.tfrecord") && err.contains("storage.googleapis.com"),
            "{err}"
        );
        // Another space is refused.
        struct Other(NasBench101Space);
        impl SearchSpace for Other {
            fn name(&self) -> &str {
                "other"
            }
            fn sample(&self, rng: &mut dyn rand::RngCore) -> Arch {
                self.0.sample(rng)
            }
            fn key(&self, arch: &Arch) -> Result<String> {
                self.0.key(arch)
            }
            fn encoding(&self) -> seminas_core::Encoding {
                self.0.encoding()
            }
            fn encode(&self, arch: &Arch) -> Result<Vec<seminas_core::Token>> {
                self.0.encode(arch)
            }
            fn decode(&self, tokens: &[seminas_core::Token]) -> Result<Arch> {
                self.0.decode(tokens)
            }
            fn mutate(&self, arch: &Arch, rng: &mut dyn rand::RngCore) -> Arch {
                self.0.mutate(arch, rng)
            }
        }
        let registry = Registry::with_builtin().unwrap();
        let other: Arc<dyn SearchSpace> = Arc::new(Other(NasBench101Space::new()));
        let component = Component::new(ComponentKind::Evaluator, EVALUATOR_NAME)
            .with_toml(&format!("path = {:?}", path.display().to_string()))
            .unwrap();
        let err = registry
            .build_evaluator(&component, &other)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("search.space"), "{err}");
    }

    #[test]
    fn searches_run_on_the_data_set() {
        let dir = tempfile::tempdir().unwrap();
        let (path, cells) = fixture(dir.path(), 3000, &[108]);
        let registry = Registry::with_builtin().unwrap();
        for strategy in ["random", "re"] {
            let text = format!(
                "[search]\nspace = 'nasbench101'\nevaluator = 'nasbench101'\nstrategy = '{strategy}'\n\
                 budget = 60\nseed = 2\n\n[evaluator.nasbench101]\npath = {:?}\n\n\
                 [strategy.re]\npopulation = 20\nsample = 5\n",
                path.display().to_string()
            );
            let config = Config::parse(&text).unwrap();
            let prepared = seminas_core::prepare(&registry, config).unwrap();
            let (summary, records) = prepared.run(None).unwrap();
            assert_eq!(records.len(), 60, "{strategy}");
            let best = summary.best.unwrap();
            assert!(best.rank.unwrap() >= 1 && best.rank.unwrap() <= cells.len());
            assert!(best.regret.unwrap() >= 0.0);
            assert_eq!(summary.facts.unwrap().size, 3000);
        }
    }
}
