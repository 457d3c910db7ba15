//! The `nasbench201` evaluator: answers queries from the NATS-Bench topology table
//! (`nats_bench.csv`, all 15,625 cells with their 200-epoch test accuracies).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use seminas_core::{Arch, BenchmarkFacts, Component, Error, Evaluator, Measurement, Result, SearchSpace};
use serde::Deserialize;

use crate::cell::Cell;

/// Default table path: the shared reference data.
pub const DEFAULT_PATH: &str = "${SEMINAS_REFERENCE_DATA}/nasbench201/nats_bench.csv";

/// The report metric (and the facts' metric): the chosen data set's test accuracy, percent.
pub const METRIC: &str = "test_acc";

/// Column holding the architecture string.
pub const ARCH_COLUMN: &str = "ArchitectureString";

/// The data sets of the table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize)]
pub enum Dataset {
    /// CIFAR-10 (column `CIFAR10TestAccuracy200Epochs`).
    #[default]
    #[serde(rename = "cifar10")]
    Cifar10,
    /// CIFAR-100 (column `CIFAR100TestAccuracy200Epochs`).
    #[serde(rename = "cifar100")]
    Cifar100,
    /// ImageNet16-120 (column `ImageNetTestAccuracy200Epochs`).
    #[serde(rename = "imagenet16-120")]
    ImageNet16_120,
}

impl Dataset {
    /// Every data set, in column order.
    pub const ALL: [Dataset; 3] = [Dataset::Cifar10, Dataset::Cifar100, Dataset::ImageNet16_120];

    /// The config name: `cifar10`, `cifar100` or `imagenet16-120`.
    pub fn name(self) -> &'static str {
        match self {
            Dataset::Cifar10 => "cifar10",
            Dataset::Cifar100 => "cifar100",
            Dataset::ImageNet16_120 => "imagenet16-120",
        }
    }

    /// The CSV column of its 200-epoch test accuracy.
    pub fn column(self) -> &'static str {
        match self {
            Dataset::Cifar10 => "CIFAR10TestAccuracy200Epochs",
            Dataset::Cifar100 => "CIFAR100TestAccuracy200Epochs",
            Dataset::ImageNet16_120 => "ImageNetTestAccuracy200Epochs",
        }
    }

    fn slot(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Dataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Settings of the `nasbench201` evaluator (`[evaluator.nasbench201]`).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Nb201Settings {
    /// The table file (default [`DEFAULT_PATH`]); `${VAR}` expands, relative paths are taken
    /// from the config file's folder.
    pub path: String,
    /// The data set whose test accuracy is the signal (default `cifar10`).
    pub dataset: Dataset,
}

impl Default for Nb201Settings {
    fn default() -> Self {
        Nb201Settings { path: DEFAULT_PATH.into(), dataset: Dataset::default() }
    }
}

/// One row of the table.
#[derive(Clone, Debug, PartialEq)]
pub struct TableRow {
    /// The architecture, in canonical notation.
    pub arch: Arch,
    /// Line of the file it came from (1 = header).
    pub line: u64,
    test_acc: [f64; 3],
}

impl TableRow {
    /// 200-epoch test accuracy (percent) on `dataset`.
    pub fn test_acc(&self, dataset: Dataset) -> f64 {
        self.test_acc[dataset.slot()]
    }
}

/// The loaded NAS-Bench-201 table: every row, an index by architecture string and, per data
/// set, the rank of every row. Immutable once loaded; share it with [`Nb201Table::shared`].
#[derive(Debug)]
pub struct Nb201Table {
    path: PathBuf,
    rows: Vec<TableRow>,
    by_key: HashMap<String, usize>,
    /// `ranks[dataset][row]`: 1-based rank by test accuracy, descending (ties by string).
    ranks: [Vec<usize>; 3],
    /// Row of the best architecture per data set.
    best: [usize; 3],
}

const EXPECTED: &str = "expected the NATS-Bench topology CSV (NAS-Bench-201) with header \
    CIFAR10TestAccuracy200Epochs,CIFAR100TestAccuracy200Epochs,ImageNetTestAccuracy200Epochs,\
    ArchitectureString,UniqueString";

fn csv_error(path: &Path, e: &csv::Error) -> Error {
    match e.position() {
        Some(p) => Error::data(path, format!("line {}: {e}", p.line())),
        None => Error::data(path, format!("cannot read the CSV: {e}")),
    }
}

impl Nb201Table {
    /// Reads and checks the table at `path` (no caching; see [`shared`](Self::shared)).
    ///
    /// A missing file, a header without the needed columns, a row whose architecture string
    /// or accuracy is malformed (named by line and column), a repeated architecture or an
    /// empty table is an [`Error::Data`].
    pub fn load(path: &Path) -> Result<Nb201Table> {
        if !path.is_file() {
            return Err(Error::data(
                path,
                format!(
                    "NAS-Bench-201 table not found ({EXPECTED}; set SEMINAS_REFERENCE_DATA to the shared \
                     reference data folder or `path` in [evaluator.nasbench201])"
                ),
            ));
        }
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(std::io::BufReader::new(file));
        let headers = reader.headers().map_err(|e| csv_error(path, &e))?.clone();
        let column = |name: &str| {
            headers
                .iter()
                .position(|h| h.trim() == name)
                .ok_or_else(|| Error::data(path, format!("line 1: the header has no column `{name}` ({EXPECTED})")))
        };
        let arch_col = column(ARCH_COLUMN)?;
        let acc_cols = [
            column(Dataset::Cifar10.column())?,
            column(Dataset::Cifar100.column())?,
            column(Dataset::ImageNet16_120.column())?,
        ];

        let mut rows: Vec<TableRow> = Vec::with_capacity(crate::NUM_CELLS);
        let mut by_key: HashMap<String, usize> = HashMap::with_capacity(crate::NUM_CELLS);
        let mut record = csv::StringRecord::new();
        loop {
            match reader.read_record(&mut record) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => return Err(csv_error(path, &e)),
            }
            let line = record.position().map_or(rows.len() as u64 + 2, |p| p.line());
            let text = &record[arch_col];
            let cell = Cell::parse(text)
                .map_err(|e| Error::data(path, format!("line {line}, column `{ARCH_COLUMN}`: {e}")))?;
            let mut test_acc = [0.0; 3];
            for (slot, (&col, dataset)) in acc_cols.iter().zip(Dataset::ALL).enumerate() {
                let raw = &record[col];
                test_acc[slot] =
                    raw.trim().parse::<f64>().ok().filter(|x| (0.0..=100.0).contains(x)).ok_or_else(|| {
                        Error::data(
                            path,
                            format!(
                                "line {line}, column `{}`: expected an accuracy in percent (0 to 100), found `{raw}`",
                                dataset.column()
                            ),
                        )
                    })?;
            }
            let key = cell.to_string();
            if let Some(&first) = by_key.get(&key) {
                return Err(Error::data(
                    path,
                    format!(
                        "line {line}, column `{ARCH_COLUMN}`: architecture {key} repeats line {}",
                        rows[first].line
                    ),
                ));
            }
            by_key.insert(key.clone(), rows.len());
            rows.push(TableRow { arch: Arch::new(key), line, test_acc });
        }
        if rows.is_empty() {
            return Err(Error::data(path, format!("the table has no rows ({EXPECTED})")));
        }

        let mut ranks: [Vec<usize>; 3] = Default::default();
        let mut best = [0; 3];
        for dataset in Dataset::ALL {
            let d = dataset.slot();
            let mut order: Vec<usize> = (0..rows.len()).collect();
            order.sort_by(|&a, &b| {
                rows[b].test_acc[d].total_cmp(&rows[a].test_acc[d]).then_with(|| rows[a].arch.cmp(&rows[b].arch))
            });
            let mut rank = vec![0; rows.len()];
            let shared = seminas_core::stats::competition_ranks(order.iter().map(|&row| rows[row].test_acc[d]));
            for (&row, r) in order.iter().zip(shared) {
                rank[row] = r;
            }
            best[d] = order[0];
            ranks[d] = rank;
        }
        Ok(Nb201Table { path: path.to_path_buf(), rows, by_key, ranks, best })
    }

    /// The table at `path`, parsed once per process: later calls for the same file (same
    /// canonical path, size and modification time) share the first one's table.
    pub fn shared(path: &Path) -> Result<Arc<Nb201Table>> {
        type Cache = Mutex<HashMap<(PathBuf, u64, Option<SystemTime>), Arc<Nb201Table>>>;
        static CACHE: OnceLock<Cache> = OnceLock::new();
        if !path.is_file() {
            // Let `load` report the missing file.
            return Nb201Table::load(path).map(Arc::new);
        }
        let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        let key = (canonical, meta.len(), meta.modified().ok());
        // Holding the lock while parsing makes concurrent builders wait for one parse.
        let mut cache = CACHE.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
        if let Some(table) = cache.get(&key) {
            return Ok(Arc::clone(table));
        }
        let table = Arc::new(Nb201Table::load(path)?);
        cache.insert(key, Arc::clone(&table));
        Ok(table)
    }

    /// The file it was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of rows (distinct architectures).
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Always false: loading rejects empty tables.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Every row, in file order.
    pub fn rows(&self) -> &[TableRow] {
        &self.rows
    }

    /// The row of the architecture whose canonical string is `key`.
    pub fn get(&self, key: &str) -> Option<&TableRow> {
        self.by_key.get(key).map(|&i| &self.rows[i])
    }

    /// 1-based rank of `key` on `dataset` by test accuracy (1 = best; ties by string).
    pub fn rank(&self, key: &str, dataset: Dataset) -> Option<usize> {
        self.by_key.get(key).map(|&i| self.ranks[dataset.slot()][i])
    }

    /// The best row on `dataset`.
    pub fn best(&self, dataset: Dataset) -> &TableRow {
        &self.rows[self.best[dataset.slot()]]
    }

    /// The best test accuracy on `dataset` over the table.
    pub fn optimum(&self, dataset: Dataset) -> f64 {
        self.best(dataset).test_acc(dataset)
    }
}

/// Answers queries from a [`Nb201Table`] for one data set: the signal and the `test_acc`
/// report are that data set's 200-epoch test accuracy (percent); cost 0.
#[derive(Clone, Debug)]
pub struct Nb201Evaluator {
    table: Arc<Nb201Table>,
    dataset: Dataset,
}

impl Nb201Evaluator {
    /// An evaluator over `table` for `dataset`.
    pub fn new(table: Arc<Nb201Table>, dataset: Dataset) -> Self {
        Nb201Evaluator { table, dataset }
    }

    /// Builds from `[evaluator.nasbench201]`, loading (or reusing) the table, and checks that
    /// `space` accepts the table's architectures.
    pub fn from_component(component: &Component, space: &Arc<dyn SearchSpace>) -> Result<Self> {
        let settings: Nb201Settings = component.parse()?;
        let path = component.resolve_path("path", &settings.path)?;
        let table = Nb201Table::shared(&path)?;
        let first = &table.rows[0].arch;
        if let Err(e) = space.validate(first) {
            return Err(Error::config(
                component.prefix(),
                format!(
                    "the `{}` evaluator needs the `{}` space, but space `{}` rejects the table's first architecture: {e}",
                    component.name,
                    crate::NAME,
                    space.name()
                ),
            ));
        }
        Ok(Nb201Evaluator::new(table, settings.dataset))
    }

    /// The shared table.
    pub fn table(&self) -> &Arc<Nb201Table> {
        &self.table
    }

    /// The data set whose accuracy is the signal.
    pub fn dataset(&self) -> Dataset {
        self.dataset
    }
}

impl Evaluator for Nb201Evaluator {
    fn evaluate(&mut self, arch: &Arch, key: &str) -> Result<Measurement> {
        let row = self.table.get(key).or_else(|| self.table.get(arch.as_str())).ok_or_else(|| {
            Error::Evaluation(format!(
                "{arch} (key {key}) is not in the NAS-Bench-201 table {}",
                self.table.path.display()
            ))
        })?;
        let acc = row.test_acc(self.dataset);
        Ok(Measurement { signal: acc, report: BTreeMap::from([(METRIC.to_string(), acc)]), cost_seconds: 0.0 })
    }

    fn facts(&self) -> Option<BenchmarkFacts> {
        Some(BenchmarkFacts {
            metric: METRIC.into(),
            optimum: self.table.optimum(self.dataset),
            size: self.table.len(),
        })
    }

    fn rank(&self, key: &str) -> Option<usize> {
        self.table.rank(key, self.dataset)
    }

    fn members(&self) -> Option<Vec<Arch>> {
        Some(self.table.rows.iter().map(|r| r.arch.clone()).collect())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use seminas_core::ComponentKind;

    use super::*;
    use crate::{Nb201Space, NUM_CELLS};

    /// The reference table, or `None` (after saying so) when SEMINAS_REFERENCE_DATA is unset.
    fn reference() -> Option<PathBuf> {
        match std::env::var_os("SEMINAS_REFERENCE_DATA") {
            Some(dir) => Some(PathBuf::from(dir).join("nasbench201/nats_bench.csv")),
            None => {
                println!("skipped: SEMINAS_REFERENCE_DATA not set");
                None
            }
        }
    }

    fn space() -> Arc<dyn SearchSpace> {
        Arc::new(Nb201Space::new())
    }

    fn component(toml: &str) -> Component {
        Component::new(ComponentKind::Evaluator, "nasbench201").with_toml(toml).unwrap()
    }

    const HEADER: &str = "CIFAR10TestAccuracy200Epochs,CIFAR100TestAccuracy200Epochs,ImageNetTestAccuracy200Epochs,ArchitectureString,UniqueString";
    const A: &str = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|";
    const B: &str = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|";
    const C: &str = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|";

    fn write_table(body: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
        write!(file, "{body}").unwrap();
        file.flush().unwrap();
        file
    }

    fn small() -> tempfile::NamedTempFile {
        write_table(&format!("{HEADER}\n90.5,70.0,40.0,{A},x\n10.0,1.0,0.8,{B},y\n85.0,71.5,41.0,{C},z\n"))
    }

    fn load_error(body: &str) -> String {
        let file = write_table(body);
        Nb201Table::load(file.path()).unwrap_err().to_string()
    }

    #[test]
    fn reference_table_loads_with_known_optima() {
        let Some(path) = reference() else { return };
        let table = Nb201Table::load(&path).unwrap();
        assert_eq!(table.len(), NUM_CELLS);
        for cell in Cell::all() {
            assert!(table.get(&cell.to_string()).is_some(), "{cell} missing");
        }
        for (dataset, optimum) in
            [(Dataset::Cifar10, 94.373), (Dataset::Cifar100, 73.513), (Dataset::ImageNet16_120, 47.311)]
        {
            assert!((table.optimum(dataset) - optimum).abs() < 5e-4, "{dataset}: {}", table.optimum(dataset));
            let best = table.best(dataset);
            assert_eq!(table.rank(best.arch.as_str(), dataset), Some(1));
            // Competition ranks: a cell's rank is 1 + the number of cells with a strictly
            // higher test accuracy, so equal accuracies share a rank.
            let d = dataset.slot();
            let mut accs: Vec<f64> = table.rows().iter().map(|r| r.test_acc[d]).collect();
            accs.sort_by(|a, b| b.total_cmp(a));
            for row in table.rows().iter().step_by(97) {
                let better = accs.partition_point(|&a| a > row.test_acc[d]);
                assert_eq!(table.rank(row.arch.as_str(), dataset), Some(better + 1), "{}", row.arch);
            }
        }
    }

    #[test]
    fn reference_evaluator_per_dataset() {
        let Some(path) = reference() else { return };
        for (name, optimum) in [("cifar10", 94.373), ("cifar100", 73.513), ("imagenet16-120", 47.311)] {
            let toml = format!("path = {:?}\ndataset = {name:?}", path.display().to_string());
            let mut evaluator = Nb201Evaluator::from_component(&component(&toml), &space()).unwrap();
            assert_eq!(evaluator.dataset().name(), name);
            let facts = evaluator.facts().unwrap();
            assert_eq!(facts.metric, "test_acc");
            assert_eq!(facts.size, NUM_CELLS);
            assert!((facts.optimum - optimum).abs() < 5e-4, "{name}: {}", facts.optimum);
            let best = evaluator.table().best(evaluator.dataset()).arch.clone();
            assert_eq!(evaluator.rank(best.as_str()), Some(1));
            let m = evaluator.evaluate(&best, best.as_str()).unwrap();
            assert_eq!(m.signal, facts.optimum);
            assert_eq!(m.report.get("test_acc"), Some(&facts.optimum));
            assert_eq!(m.cost_seconds, 0.0);
            assert_eq!(evaluator.members().unwrap().len(), NUM_CELLS);
        }
    }

    #[test]
    fn default_path_uses_the_environment() {
        let Some(path) = reference() else { return };
        let evaluator = Nb201Evaluator::from_component(&component(""), &space()).unwrap();
        assert_eq!(evaluator.dataset(), Dataset::Cifar10);
        assert_eq!(evaluator.table().len(), NUM_CELLS);
        // Parsed once per process: a second evaluator shares the table.
        let again = Nb201Evaluator::from_component(&component("dataset = \"cifar100\""), &space()).unwrap();
        assert!(Arc::ptr_eq(evaluator.table(), again.table()));
        assert!(Arc::ptr_eq(evaluator.table(), &Nb201Table::shared(&path).unwrap()));
    }

    #[test]
    fn settings_defaults() {
        let s: Nb201Settings = component("").parse().unwrap();
        assert_eq!(s, Nb201Settings::default());
        assert_eq!(s.path, "${SEMINAS_REFERENCE_DATA}/nasbench201/nats_bench.csv");
        assert_eq!(s.dataset, Dataset::Cifar10);
        let s: Nb201Settings = component("dataset = \"imagenet16-120\"").parse().unwrap();
        assert_eq!(s.dataset, Dataset::ImageNet16_120);
    }

    #[test]
    fn unknown_dataset_is_a_config_error() {
        let err = Nb201Evaluator::from_component(&component("dataset = \"svhn\""), &space()).unwrap_err();
        assert!(matches!(err, Error::Config { .. }), "{err:?}");
        let message = err.to_string();
        for needle in ["evaluator.nasbench201.dataset", "svhn", "cifar10", "cifar100", "imagenet16-120"] {
            assert!(message.contains(needle), "{needle} not in: {message}");
        }
    }

    #[test]
    fn unknown_key_is_a_config_error() {
        let message =
            Nb201Evaluator::from_component(&component("datset = \"cifar10\""), &space()).unwrap_err().to_string();
        assert!(message.contains("evaluator.nasbench201") && message.contains("datset"), "{message}");
    }

    #[test]
    fn missing_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no_such_table.csv");
        let toml = format!("path = {:?}", path.display().to_string());
        let err = Nb201Evaluator::from_component(&component(&toml), &space()).unwrap_err();
        assert!(matches!(err, Error::Data { .. }), "{err:?}");
        let message = err.to_string();
        assert!(message.contains("no_such_table.csv"), "{message}");
        assert!(message.contains("not found") && message.contains("ArchitectureString"), "{message}");
    }

    #[test]
    fn unset_variable_is_named() {
        let toml = "path = \"${SEMINAS_NB201_SURELY_UNSET}/x.csv\"";
        let message = Nb201Evaluator::from_component(&component(toml), &space()).unwrap_err().to_string();
        assert!(
            message.contains("evaluator.nasbench201.path") && message.contains("SEMINAS_NB201_SURELY_UNSET"),
            "{message}"
        );
    }

    #[test]
    fn relative_path_resolves_against_config_folder() {
        let file = small();
        let mut c = component("path = \"table.csv\"");
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(file.path(), dir.path().join("table.csv")).unwrap();
        c.base_dir = dir.path().to_path_buf();
        let evaluator = Nb201Evaluator::from_component(&c, &space()).unwrap();
        assert_eq!(evaluator.table().len(), 3);
    }

    #[test]
    fn small_table_answers_ranks_and_members() {
        let file = small();
        let table = Arc::new(Nb201Table::load(file.path()).unwrap());
        assert_eq!(table.len(), 3);
        assert_eq!(table.get(B).unwrap().line, 3);
        let mut c10 = Nb201Evaluator::new(Arc::clone(&table), Dataset::Cifar10);
        let mut c100 = Nb201Evaluator::new(Arc::clone(&table), Dataset::Cifar100);
        assert_eq!(c10.facts().unwrap(), BenchmarkFacts { metric: "test_acc".into(), optimum: 90.5, size: 3 });
        assert_eq!(c100.facts().unwrap().optimum, 71.5);
        assert_eq!((c10.rank(A), c10.rank(C), c10.rank(B)), (Some(1), Some(2), Some(3)));
        assert_eq!((c100.rank(C), c100.rank(A), c100.rank(B)), (Some(1), Some(2), Some(3)));
        assert_eq!(c10.rank("|junk|"), None);
        let m = c100.evaluate(&Arch::new(C), C).unwrap();
        assert_eq!(m.signal, 71.5);
        assert_eq!(m.report, BTreeMap::from([("test_acc".to_string(), 71.5)]));
        let members = c10.members().unwrap();
        assert_eq!(members, vec![Arch::new(A), Arch::new(B), Arch::new(C)]);

        let absent = "|skip_connect~0|+|none~0|none~1|+|none~0|none~1|none~2|";
        let message = c10.evaluate(&Arch::new(absent), absent).unwrap_err().to_string();
        assert!(message.contains(absent) && message.contains("not in the NAS-Bench-201 table"), "{message}");
    }

    #[test]
    fn columns_are_found_by_name() {
        let file = write_table(&format!(
            "UniqueString,ArchitectureString,ImageNetTestAccuracy200Epochs,CIFAR100TestAccuracy200Epochs,CIFAR10TestAccuracy200Epochs\nu,{A},3,2,1\n"
        ));
        let table = Nb201Table::load(file.path()).unwrap();
        let row = table.get(A).unwrap();
        assert_eq!(
            (row.test_acc(Dataset::Cifar10), row.test_acc(Dataset::Cifar100), row.test_acc(Dataset::ImageNet16_120)),
            (1.0, 2.0, 3.0)
        );
    }

    #[test]
    fn malformed_rows_name_line_and_column() {
        let bad_arch = load_error(&format!("{HEADER}\n90,70,40,{A},x\n90,70,40,|none~0|+|none~0|,y\n"));
        assert!(
            bad_arch.contains("line 3, column `ArchitectureString`") && bad_arch.contains("node groups"),
            "{bad_arch}"
        );

        let bad_acc = load_error(&format!("{HEADER}\n90,seventy,40,{A},x\n"));
        assert!(
            bad_acc.contains("line 2, column `CIFAR100TestAccuracy200Epochs`") && bad_acc.contains("seventy"),
            "{bad_acc}"
        );

        let fraction = load_error(&format!("{HEADER}\n90,70,140,{A},x\n"));
        assert!(fraction.contains("line 2, column `ImageNetTestAccuracy200Epochs`"), "{fraction}");

        let nan = load_error(&format!("{HEADER}\nNaN,70,40,{A},x\n"));
        assert!(nan.contains("line 2, column `CIFAR10TestAccuracy200Epochs`"), "{nan}");

        let short = load_error(&format!("{HEADER}\n90,70,40,{A},x\n90,70,{B}\n"));
        assert!(short.contains("line 3"), "{short}");

        let repeated = load_error(&format!("{HEADER}\n90,70,40,{A},x\n91,71,41,{B},y\n92,72,42,{A},z\n"));
        assert!(repeated.contains("line 4") && repeated.contains("repeats line 2"), "{repeated}");

        let no_column = load_error(&format!("CIFAR10TestAccuracy200Epochs,ArchitectureString\n90,{A}\n"));
        assert!(no_column.contains("line 1") && no_column.contains("CIFAR100TestAccuracy200Epochs"), "{no_column}");

        let empty = load_error(&format!("{HEADER}\n"));
        assert!(empty.contains("no rows"), "{empty}");
    }

    #[test]
    fn wrong_space_is_a_config_error() {
        struct Other;
        impl SearchSpace for Other {
            fn name(&self) -> &str {
                "other"
            }
            fn sample(&self, _: &mut dyn rand::RngCore) -> Arch {
                Arch::new("x")
            }
            fn key(&self, arch: &Arch) -> Result<String> {
                Err(Error::InvalidArchitecture(format!("{arch} is not other")))
            }
            fn encoding(&self) -> seminas_core::Encoding {
                seminas_core::Encoding { vocab_size: 2, allowed: vec![vec![1]] }
            }
            fn encode(&self, _: &Arch) -> Result<Vec<seminas_core::Token>> {
                Ok(vec![1])
            }
            fn decode(&self, _: &[seminas_core::Token]) -> Result<Arch> {
                Ok(Arch::new("x"))
            }
            fn mutate(&self, arch: &Arch, _: &mut dyn rand::RngCore) -> Arch {
                arch.clone()
            }
        }
        let file = small();
        let toml = format!("path = {:?}", file.path().display().to_string());
        let other: Arc<dyn SearchSpace> = Arc::new(Other);
        let message = Nb201Evaluator::from_component(&component(&toml), &other).unwrap_err().to_string();
        assert!(message.contains("needs the `nasbench201` space") && message.contains("`other`"), "{message}");
    }
}
