//! The NAS-Bench-101 data set, read from the official `.tfrecord` file without TensorFlow.
//!
//! [`NasBench101Data::open`] reads `nasbench_only108.tfrecord` or `nasbench_full.tfrecord`
//! (see [`OFFICIAL_FILES`]): it checks both CRCs of every record, decodes each payload
//! ([`payload`]) and keeps, per cell, its hash, matrix, ops and parameters and, per epoch
//! budget, every run's halfway and final training time and train, validation and test
//! accuracy. It also recomputes every cell's official hash and compares it with the stored
//! one. The first load writes a compact binary cache next to the data file
//! (`<file>.seminas-cache`, see [`cache`]); later loads memory-map it and check its checksum,
//! well under a second.
//!
//! Queries follow the official `api.NASBench.query`: the cell is pruned and hashed, and one of
//! its runs is returned, chosen by the caller's random generator.

pub mod cache;
pub mod metrics;
pub mod payload;
pub mod synthetic;
pub mod tfrecord;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Instant;

use rand::{Rng, RngCore};
use rayon::prelude::*;
use seminas_core::{Error, Result};

use crate::spec::ModelSpec;
pub use cache::SourceStamp;
pub use payload::{Evaluation, Run};

/// One official data file of the NAS-Bench-101 release, as listed in the README of
/// google-research/nasbench.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OfficialFile {
    /// File name.
    pub name: &'static str,
    /// Download address.
    pub url: &'static str,
    /// Approximate size, as the README gives it.
    pub size: &'static str,
    /// SHA-256 of the file, as the README gives it (lowercase hex).
    pub sha256: &'static str,
    /// Epoch budgets it holds.
    pub epochs: &'static [u32],
}

/// The two official files: `nasbench_only108.tfrecord` (108 epochs) and
/// `nasbench_full.tfrecord` (4, 12, 36 and 108 epochs).
pub const OFFICIAL_FILES: [OfficialFile; 2] = [
    OfficialFile {
        name: "nasbench_only108.tfrecord",
        url: "https://storage.googleapis.com/nasbench/nasbench_only108.tfrecord",
        size: "~499 MB",
        sha256: "4c39c3936e36a85269881d659e44e61a245babcb72cb374eacacf75d0e5f4fd1",
        epochs: &[108],
    },
    OfficialFile {
        name: "nasbench_full.tfrecord",
        url: "https://storage.googleapis.com/nasbench/nasbench_full.tfrecord",
        size: "~1.95 GB",
        sha256: "3d64db8180fb1b0207212f9032205064312b6907a3bbc81eabea10db2f5c7e9c",
        epochs: &[4, 12, 36, 108],
    },
];

/// Best mean test accuracy at 108 epochs in the official data set (94.3176%), for checks.
pub const OFFICIAL_BEST_TEST_ACCURACY: f64 = 0.943176;

/// Records parsed per parallel batch (bounds memory on the 2 GB full file).
const BATCH: usize = 1 << 16;

/// What [`NasBench101Data::open_with`] does with the binary cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CacheMode {
    /// Load the cache when it matches the data file, else parse the file and write it.
    #[default]
    Auto,
    /// Parse the file and (re)write the cache.
    Rebuild,
    /// Parse the file; neither read nor write a cache.
    Off,
}

/// How a load went.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadInfo {
    /// The data file.
    pub source: PathBuf,
    /// The cache file used or written, if any.
    pub cache: Option<PathBuf>,
    /// Whether the data came from the cache.
    pub from_cache: bool,
    /// Why the cache was not used or could not be written, if so.
    pub cache_note: Option<String>,
    /// Seconds the load took.
    pub seconds: f64,
}

enum Image {
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl Image {
    fn bytes(&self) -> &[u8] {
        match self {
            Image::Mapped(m) => m,
            Image::Owned(v) => v,
        }
    }
}

/// The cells ranked by mean final test accuracy at one epoch budget.
#[derive(Clone, Debug, PartialEq)]
pub struct Ranking {
    /// 1-based rank of each cell (1 = best); equal means share a rank ("1224").
    pub ranks: Vec<u32>,
    /// The best cell and its mean test accuracy.
    pub best: Option<(usize, f64)>,
}

/// The loaded data set.
pub struct NasBench101Data {
    image: Image,
    layout: cache::Layout,
    info: LoadInfo,
    rankings: Vec<std::sync::OnceLock<Ranking>>,
}

impl std::fmt::Debug for NasBench101Data {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NasBench101Data")
            .field("source", &self.info.source)
            .field("cells", &self.layout.cells)
            .field("epochs", &self.layout.epochs)
            .finish()
    }
}

/// The result of a query, as the official `api.NASBench.query` returns it, plus the means
/// over all runs.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryResult {
    /// Index of the cell in the data set.
    pub index: usize,
    /// Module hash.
    pub hash: String,
    /// The cell as the data set stores it.
    pub spec: ModelSpec,
    /// Trainable parameters.
    pub params: i32,
    /// Which run was chosen (0-based).
    pub run: usize,
    /// Runs available.
    pub runs: usize,
    /// The chosen run's evaluation (final, or halfway when asked).
    pub evaluation: Evaluation,
    /// Mean test accuracy over the runs (same point of training).
    pub mean_test_accuracy: f64,
    /// Mean validation accuracy over the runs (same point of training).
    pub mean_validation_accuracy: f64,
}

fn data_error(path: &Path, message: impl Into<String>) -> Error {
    Error::data(path, message)
}

/// The cache file of a data file: `<file>.seminas-cache` beside it.
pub fn cache_path(source: &Path) -> PathBuf {
    let mut name = source.file_name().unwrap_or_default().to_os_string();
    name.push(".seminas-cache");
    source.with_file_name(name)
}

impl NasBench101Data {
    /// Loads a data file, using or writing its cache ([`CacheMode::Auto`]).
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_with(path, CacheMode::Auto)
    }

    /// Loads a data file once per process: later calls with the same path share the loaded
    /// data while any holder keeps it.
    pub fn open_shared(path: &Path) -> Result<Arc<Self>> {
        static LOADED: Mutex<Vec<(PathBuf, Weak<NasBench101Data>)>> = Mutex::new(Vec::new());
        let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let mut loaded = LOADED.lock().unwrap_or_else(|e| e.into_inner());
        loaded.retain(|(_, weak)| weak.strong_count() > 0);
        if let Some(data) = loaded
            .iter()
            .find(|(p, _)| *p == key)
            .and_then(|(_, w)| w.upgrade())
        {
            let stamp = SourceStamp::of(path).ok();
            if stamp == Some(data.layout.stamp) {
                return Ok(data);
            }
        }
        let data = Arc::new(Self::open(path)?);
        loaded.retain(|(p, _)| *p != key);
        loaded.push((key, Arc::downgrade(&data)));
        KNOWN
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::downgrade(&data));
        Ok(data)
    }

    /// Loads a data file with the given cache behaviour.
    pub fn open_with(path: &Path, mode: CacheMode) -> Result<Self> {
        let start = Instant::now();
        if !path.is_file() {
            return Err(data_error(
                path,
                format!(
                    "NAS-Bench-101 data file not found. Download {} ({}) or {} ({}) from the \
                     official release, e.g. with `seminas data fetch nasbench101`",
                    OFFICIAL_FILES[0].url,
                    OFFICIAL_FILES[0].size,
                    OFFICIAL_FILES[1].url,
                    OFFICIAL_FILES[1].size
                ),
            ));
        }
        let stamp = SourceStamp::of(path).map_err(|e| Error::io(path, e))?;
        let cache_file = cache_path(path);
        let mut note = None;
        if mode == CacheMode::Auto && cache_file.is_file() {
            match Self::load_cache(&cache_file, stamp) {
                Ok((image, layout)) => {
                    return Ok(NasBench101Data {
                        rankings: layout.epochs.iter().map(|_| Default::default()).collect(),
                        image,
                        layout,
                        info: LoadInfo {
                            source: path.to_path_buf(),
                            cache: Some(cache_file),
                            from_cache: true,
                            cache_note: None,
                            seconds: start.elapsed().as_secs_f64(),
                        },
                    })
                }
                Err(why) => note = Some(format!("cache {} not used: {why}", cache_file.display())),
            }
        }
        let parsed = parse_file(path)?;
        let image = cache::build(&parsed, stamp);
        drop(parsed);
        let layout = cache::Layout::read(&image)
            .map_err(|e| data_error(path, format!("internal cache error: {e}")))?;
        let mut cache = None;
        if mode != CacheMode::Off {
            match write_atomically(&cache_file, &image) {
                Ok(()) => cache = Some(cache_file),
                Err(e) => {
                    let why = format!("could not write the cache {}: {e}", cache_file.display());
                    note = Some(match note {
                        Some(n) => format!("{n}; {why}"),
                        None => why,
                    });
                }
            }
        }
        Ok(NasBench101Data {
            rankings: layout.epochs.iter().map(|_| Default::default()).collect(),
            image: Image::Owned(image),
            layout,
            info: LoadInfo {
                source: path.to_path_buf(),
                cache,
                from_cache: false,
                cache_note: note,
                seconds: start.elapsed().as_secs_f64(),
            },
        })
    }

    fn load_cache(
        cache_file: &Path,
        stamp: SourceStamp,
    ) -> std::result::Result<(Image, cache::Layout), String> {
        let file = std::fs::File::open(cache_file).map_err(|e| e.to_string())?;
        // SAFETY: the map is read-only and private to this process. Another process truncating
        // or rewriting the cache while it is mapped could change the bytes under us; seminas
        // itself only ever replaces caches by renaming a new file over the old one, which
        // leaves existing maps intact.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| e.to_string())?;
        let layout = cache::Layout::read(&map)?;
        if layout.stamp != stamp {
            return Err("the data file changed since the cache was written".into());
        }
        Ok((Image::Mapped(map), layout))
    }

    fn bytes(&self) -> &[u8] {
        self.image.bytes()
    }

    /// How the load went.
    pub fn load_info(&self) -> &LoadInfo {
        &self.info
    }

    /// Number of cells (distinct hashes).
    pub fn len(&self) -> usize {
        self.layout.cells
    }

    /// Whether the file held no cell.
    pub fn is_empty(&self) -> bool {
        self.layout.cells == 0
    }

    /// Records in the source file (one per run).
    pub fn records(&self) -> u64 {
        self.layout.records
    }

    /// Epoch budgets, ascending (`[108]` or `[4, 12, 36, 108]` in the official files).
    pub fn epochs(&self) -> &[u32] {
        &self.layout.epochs
    }

    /// Index of an epoch budget, or an error listing those available.
    pub fn epoch_index(&self, epochs: u32) -> Result<usize> {
        self.layout
            .epochs
            .iter()
            .position(|&e| e == epochs)
            .ok_or_else(|| {
                data_error(
                    &self.info.source,
                    format!(
                        "no runs at {epochs} epochs; the file has {:?}",
                        self.layout.epochs
                    ),
                )
            })
    }

    /// Module hash of cell `i`.
    pub fn hash(&self, i: usize) -> &str {
        std::str::from_utf8(self.layout.hash(self.bytes(), i)).expect("hashes are ASCII")
    }

    /// Cell `i`, as the data set stores it.
    pub fn spec(&self, i: usize) -> ModelSpec {
        self.layout
            .spec(self.bytes(), i)
            .expect("the cache holds valid cells")
    }

    /// Trainable parameters of cell `i`.
    pub fn params(&self, i: usize) -> i32 {
        self.layout.params(self.bytes(), i)
    }

    /// Index of the cell with `hash`.
    pub fn find(&self, hash: &str) -> Option<usize> {
        self.layout.find(self.bytes(), hash.as_bytes())
    }

    /// Index of the cell isomorphic to `spec` (the same network, whatever the numbering of
    /// its vertices), found by [canonical code](crate::canonical::canonical_code) without
    /// hashing.
    pub fn find_spec(&self, spec: &ModelSpec) -> Option<usize> {
        self.layout
            .find_code(self.bytes(), crate::canonical::canonical_code(spec))
    }

    /// The runs of cell `i` at budget index `e` ([`epoch_index`](Self::epoch_index)).
    pub fn runs(&self, i: usize, e: usize) -> impl ExactSizeIterator<Item = Run> + '_ {
        let bytes = self.bytes();
        self.layout
            .run_range(bytes, e, i)
            .map(move |r| self.layout.run(bytes, e, r))
    }

    /// Mean final test accuracy of cell `i` at budget index `e` (`None` without runs).
    pub fn mean_test_accuracy(&self, i: usize, e: usize) -> Option<f64> {
        mean(self.runs(i, e).map(|r| r.end.test_accuracy))
    }

    /// Mean final test accuracy of every cell at budget index `e`.
    pub fn mean_test_accuracies(&self, e: usize) -> Vec<Option<f64>> {
        (0..self.len())
            .into_par_iter()
            .with_min_len(4096)
            .map(|i| self.mean_test_accuracy(i, e))
            .collect()
    }

    /// Highest mean final test accuracy at budget index `e`, with the cell's index.
    pub fn best_test_accuracy(&self, e: usize) -> Option<(usize, f64)> {
        self.ranking(e).best
    }

    /// The cells ranked by mean final test accuracy at budget index `e` (computed once).
    /// Cells without runs at that budget rank last.
    pub fn ranking(&self, e: usize) -> &Ranking {
        self.rankings[e].get_or_init(|| {
            let means = self.mean_test_accuracies(e);
            let mut order: Vec<u32> = (0..self.len() as u32).collect();
            let bytes = self.bytes();
            order.par_sort_unstable_by(|&a, &b| {
                let (ma, mb) = (means[a as usize], means[b as usize]);
                let by_mean = match (ma, mb) {
                    (Some(x), Some(y)) => y.total_cmp(&x),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (None, None) => std::cmp::Ordering::Equal,
                };
                by_mean.then_with(|| {
                    self.layout
                        .hash(bytes, a as usize)
                        .cmp(self.layout.hash(bytes, b as usize))
                })
            });
            let mut ranks = vec![0u32; self.len()];
            let shared = seminas_core::stats::competition_ranks(order.iter().map(|&i| means[i as usize]));
            for (&i, r) in order.iter().zip(shared) {
                ranks[i as usize] = r as u32;
            }
            let best = order
                .first()
                .and_then(|&i| means[i as usize].map(|m| (i as usize, m)));
            Ranking { ranks, best }
        })
    }

    /// Queries a cell like the official `query(spec, epochs, stop_halfway)`: the cell (already
    /// pruned and valid, see [`ModelSpec::from_matrix`]) is hashed and looked up, and one of its
    /// runs is chosen with `rng`. A cell absent from the file is an error naming its hash.
    ///
    /// The lookup goes by [canonical code](crate::canonical::canonical_code), which finds the
    /// cell of the same hash without computing it (the hash is computed only for the error).
    pub fn query(
        &self,
        spec: &ModelSpec,
        epochs: u32,
        stop_halfway: bool,
        rng: &mut dyn RngCore,
    ) -> Result<QueryResult> {
        let index = self.find_spec(spec).ok_or_else(|| {
            Error::Evaluation(format!(
                "cell {} (hash {}) is not in the NAS-Bench-101 data set {}",
                spec.to_json(),
                spec.hash(),
                self.info.source.display()
            ))
        })?;
        self.query_index(index, epochs, stop_halfway, rng)
    }

    /// [`query`](Self::query) by cell index.
    pub fn query_index(
        &self,
        index: usize,
        epochs: u32,
        stop_halfway: bool,
        rng: &mut dyn RngCore,
    ) -> Result<QueryResult> {
        let e = self.epoch_index(epochs)?;
        let point = |r: &Run| if stop_halfway { r.halfway } else { r.end };
        let runs: Vec<Evaluation> = self.runs(index, e).map(|r| point(&r)).collect();
        if runs.is_empty() {
            return Err(Error::Evaluation(format!(
                "cell {} has no run at {epochs} epochs in {}",
                self.hash(index),
                self.info.source.display()
            )));
        }
        let run = rng.random_range(0..runs.len());
        Ok(QueryResult {
            index,
            hash: self.hash(index).to_string(),
            spec: self.spec(index),
            params: self.params(index),
            run,
            runs: runs.len(),
            evaluation: runs[run],
            mean_test_accuracy: mean(runs.iter().map(|r| r.test_accuracy)).expect("runs"),
            mean_validation_accuracy: mean(runs.iter().map(|r| r.validation_accuracy))
                .expect("runs"),
        })
    }
}

/// Data sets loaded with [`NasBench101Data::open_shared`] in this process.
static KNOWN: RwLock<Vec<Weak<NasBench101Data>>> = RwLock::new(Vec::new());

/// The official hash of `spec` if a data set loaded with [`NasBench101Data::open_shared`]
/// (and still alive) holds the cell: found by canonical code, without MD5. The hashes of a
/// data set were checked against its cells when its file was parsed.
pub fn known_hash(spec: &ModelSpec) -> Option<String> {
    let known = KNOWN.read().unwrap_or_else(|e| e.into_inner());
    if known.is_empty() {
        return None;
    }
    let code = crate::canonical::canonical_code(spec);
    known.iter().filter_map(Weak::upgrade).find_map(|data| {
        data.layout
            .find_code(data.bytes(), code)
            .map(|i| data.hash(i).to_string())
    })
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, count) = values.fold((0.0, 0usize), |(s, c), x| (s + x, c + 1));
    (count > 0).then(|| sum / count as f64)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_os_string();
    tmp.push(format!(".tmp{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let result = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Reads a whole data file: every record's CRCs and payload, and every cell's hash (recomputed
/// and compared). Errors name the record index and byte offset.
pub fn parse_file(path: &Path) -> Result<cache::Parsed> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    if len == 0 {
        return Err(data_error(path, "the file is empty"));
    }
    // SAFETY: read-only private map of a file we do not modify; a concurrent writer could
    // only make the CRC checks fail.
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
    parse_bytes(&map).map_err(|message| data_error(path, message))
}

/// Parses a whole data file held in memory; the error names the record.
pub fn parse_bytes(data: &[u8]) -> std::result::Result<cache::Parsed, String> {
    let mut parsed = cache::Parsed::default();
    let mut index: HashMap<[u8; 32], u32> = HashMap::new();
    let mut epoch_runs: Vec<(u32, Vec<(u32, Run)>)> = Vec::new();
    let mut frames = tfrecord::Frames::new(data);
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        batch.clear();
        for frame in frames.by_ref().take(BATCH) {
            batch.push(frame.map_err(|e| e.to_string())?);
        }
        if batch.is_empty() {
            break;
        }
        let records: Vec<std::result::Result<payload::ParsedRecord, String>> = batch
            .par_iter()
            .with_min_len(512)
            .map(|frame| {
                let record = frame.check(data).map_err(|e| e.to_string())?;
                payload::parse(record.payload).map_err(|e| {
                    format!(
                        "record {} at byte offset {}: {e}",
                        frame.index, frame.offset
                    )
                })
            })
            .collect();
        for record in records {
            let record = record?;
            parsed.records += 1;
            let cell = *index.entry(record.hash).or_insert_with(|| {
                parsed.hashes.push(record.hash);
                parsed.specs.push(record.spec);
                parsed.params.push(record.params);
                (parsed.hashes.len() - 1) as u32
            });
            let slot = match epoch_runs.iter().position(|(e, _)| *e == record.epochs) {
                Some(k) => k,
                None => {
                    epoch_runs.push((record.epochs, Vec::new()));
                    epoch_runs.len() - 1
                }
            };
            epoch_runs[slot].1.push((cell, record.run));
        }
    }
    // The stored hashes must be the cells' official hashes (keys are looked up by them).
    let wrong = parsed
        .specs
        .par_iter()
        .zip(&parsed.hashes)
        .position_first(|(spec, hash)| spec.hash_bytes() != *hash);
    if let Some(i) = wrong {
        return Err(format!(
            "cell {} ({}) is stored with hash {}, but its official hash is {}",
            i,
            parsed.specs[i].to_json(),
            String::from_utf8_lossy(&parsed.hashes[i]),
            parsed.specs[i].hash()
        ));
    }
    epoch_runs.sort_by_key(|(e, _)| *e);
    for (epochs, mut runs) in epoch_runs {
        runs.sort_by_key(|(cell, _)| *cell);
        parsed.epochs.push(epochs);
        parsed.runs.push(runs);
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests;
