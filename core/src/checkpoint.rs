//! Strategy checkpoints: what a search needs to continue after a crash without redoing the
//! work of finished iterations.
//!
//! At each iteration boundary a strategy saves its own state (iteration, population, ...),
//! the search's random generator and its controller's state (weights, optimiser moments and
//! random generator) to `checkpoint.json`. A resumed search restores them and continues from
//! there; evaluations made after the checkpoint are answered again from `history.jsonl` (see
//! [`Oracle::with_replay`](crate::Oracle::with_replay)), so no query is spent twice and the
//! result equals that of an uninterrupted run.
//!
//! The file is two lines: a header (`format`, the CRC-32C and length of the body) and the body.
//! It is written to a temporary file, synced and renamed, so a kill leaves either the old or
//! the new checkpoint. A checkpoint that fails its checksum, or was written by another config,
//! seed or strategy, is refused with an error; it is never silently ignored.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use rand_chacha::ChaCha8Rng;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::{Controller, Error, Record, Result};

/// Version of the checkpoint layout; a checkpoint of another version is refused.
pub const CHECKPOINT_FORMAT: u32 = 1;

/// The checkpoint file inside a run folder.
pub const CHECKPOINT_FILE: &str = "checkpoint.json";

#[derive(Serialize, Deserialize)]
struct Header {
    format: u32,
    crc32c: u32,
    bytes: usize,
}

/// A ChaCha8 generator's exact position, in a form JSON values can hold (its own serde form
/// has a 128-bit integer, which `serde_json::Value` cannot).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RngState {
    seed: [u8; 32],
    stream: u64,
    /// The 128-bit word position, in decimal.
    word_pos: String,
}

impl RngState {
    /// The state of `rng`.
    pub fn of(rng: &ChaCha8Rng) -> Self {
        RngState { seed: rng.get_seed(), stream: rng.get_stream(), word_pos: rng.get_word_pos().to_string() }
    }

    /// A generator at this state.
    pub fn generator(&self) -> std::result::Result<ChaCha8Rng, String> {
        use rand::SeedableRng;
        let word_pos: u128 =
            self.word_pos.parse().map_err(|_| format!("generator position `{}` is not a number", self.word_pos))?;
        let mut rng = ChaCha8Rng::from_seed(self.seed);
        rng.set_stream(self.stream);
        rng.set_word_pos(word_pos);
        Ok(rng)
    }
}

/// Everything saved at one iteration boundary.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CheckpointBody {
    /// Fingerprint of the run's resolved config (strategy, space, evaluator, seed, budget, ...).
    pub fingerprint: String,
    /// Strategy registry key.
    pub strategy: String,
    /// Search seed.
    pub seed: u64,
    /// Evaluations in the history when the checkpoint was taken.
    pub queries: usize,
    /// Canonical key of the last of those evaluations, to check the history it goes with.
    pub last_key: Option<String>,
    /// The strategy's iteration counter.
    pub iteration: usize,
    /// The search's random generator.
    pub rng: RngState,
    /// The strategy's own state.
    pub state: serde_json::Value,
    /// The controller's state, for strategies that use one.
    pub controller: Option<serde_json::Value>,
}

/// A checkpoint handed back to a strategy when a run resumes.
pub struct Restored<S> {
    /// The iteration counter saved with it.
    pub iteration: usize,
    /// The strategy's state.
    pub state: S,
    /// The controller's state, to load into a freshly built controller.
    pub controller: Option<serde_json::Value>,
}

/// Writes and restores the checkpoints of one search.
pub struct Checkpointer {
    path: Option<PathBuf>,
    fingerprint: String,
    strategy: String,
    seed: u64,
    pending: Option<CheckpointBody>,
    written: usize,
}

impl Checkpointer {
    /// Checkpoints nothing (searches without an output folder).
    pub fn disabled() -> Self {
        Checkpointer { path: None, fingerprint: String::new(), strategy: String::new(), seed: 0, pending: None, written: 0 }
    }

    /// Checkpoints to `dir/checkpoint.json` for a run of `strategy` whose resolved config text
    /// is `config_text`.
    pub fn new(dir: &Path, config_text: &str, strategy: &str, seed: u64) -> Self {
        Checkpointer {
            path: Some(dir.join(CHECKPOINT_FILE)),
            fingerprint: fingerprint(config_text),
            strategy: strategy.to_string(),
            seed,
            pending: None,
            written: 0,
        }
    }

    /// Loads the checkpoint of an interrupted run, if there is one, after checking that it
    /// is intact and belongs to this run and to `history`. The strategy takes it through
    /// [`SearchContext::restore`](crate::SearchContext::restore).
    pub fn load(&mut self, history: &[Record]) -> Result<Option<&CheckpointBody>> {
        let Some(path) = &self.path else { return Ok(None) };
        if !path.exists() {
            return Ok(None);
        }
        let body = read_checkpoint(path)?;
        let foreign = |what: String| {
            Error::data(
                path,
                format!(
                    "refusing a checkpoint written by another run ({what}); resume with the run's own \
                     folder, or delete {CHECKPOINT_FILE} to resume by replaying the history from the start"
                ),
            )
        };
        if body.strategy != self.strategy {
            return Err(foreign(format!("strategy `{}`, this run `{}`", body.strategy, self.strategy)));
        }
        if body.seed != self.seed {
            return Err(foreign(format!("seed {}, this run {}", body.seed, self.seed)));
        }
        if body.fingerprint != self.fingerprint {
            return Err(foreign(format!("config fingerprint {}, this run {}", body.fingerprint, self.fingerprint)));
        }
        if body.queries > history.len() {
            return Err(foreign(format!(
                "it follows {} evaluations but history.jsonl holds {}",
                body.queries,
                history.len()
            )));
        }
        let key = body.queries.checked_sub(1).map(|i| history[i].key.clone());
        if key != body.last_key {
            return Err(foreign(format!(
                "evaluation {} is {:?} in the checkpoint but {:?} in history.jsonl",
                body.queries, body.last_key, key
            )));
        }
        self.pending = Some(body);
        Ok(self.pending.as_ref())
    }

    /// Takes the loaded checkpoint, restoring `rng` from it.
    pub(crate) fn restore<S: DeserializeOwned>(&mut self, rng: &mut ChaCha8Rng) -> Result<Option<Restored<S>>> {
        let Some(body) = self.pending.take() else { return Ok(None) };
        let path = self.path.clone().unwrap_or_default();
        let state = serde_json::from_value(body.state)
            .map_err(|e| Error::data(&path, format!("the strategy state does not fit `{}`: {e}", body.strategy)))?;
        *rng = body.rng.generator().map_err(|e| Error::data(&path, e))?;
        Ok(Some(Restored { iteration: body.iteration, state, controller: body.controller }))
    }

    /// Saves a checkpoint. Without an output folder this does nothing; with a controller that
    /// cannot save its state it does nothing either (a resumed run then replays from the start).
    pub(crate) fn save<S: Serialize>(
        &mut self,
        history: &[Record],
        iteration: usize,
        rng: &ChaCha8Rng,
        state: &S,
        controller: Option<&dyn Controller>,
    ) -> Result<()> {
        let Some(path) = &self.path else { return Ok(()) };
        let controller = match controller {
            Some(c) => match c.save_state()? {
                Some(s) => Some(s),
                None => return Ok(()),
            },
            None => None,
        };
        let body = CheckpointBody {
            fingerprint: self.fingerprint.clone(),
            strategy: self.strategy.clone(),
            seed: self.seed,
            queries: history.len(),
            last_key: history.last().map(|r| r.key.clone()),
            iteration,
            rng: RngState::of(rng),
            state: serde_json::to_value(state).expect("strategy states serialise"),
            controller,
        };
        self.written += 1;
        write_checkpoint(path, &body, self.written)?;
        Ok(())
    }

    /// Whether a loaded checkpoint is still waiting to be restored.
    pub fn is_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// Checkpoints written by this search so far.
    pub fn written(&self) -> usize {
        self.written
    }
}

/// A short, stable fingerprint of a config text.
fn fingerprint(config_text: &str) -> String {
    format!("{:08x}", crc32c::crc32c(config_text.as_bytes()))
}

/// Writes `body` to `path` atomically (temporary file, sync, rename).
fn write_checkpoint(path: &Path, body: &CheckpointBody, sequence: usize) -> Result<()> {
    let body_text = serde_json::to_string(body).expect("checkpoints serialise");
    let header = Header { format: CHECKPOINT_FORMAT, crc32c: crc32c::crc32c(body_text.as_bytes()), bytes: body_text.len() };
    let text = format!("{}\n{body_text}\n", serde_json::to_string(&header).expect("headers serialise"));
    write_durably_with(path, text.as_bytes(), |file| {
        if failpoint::get() == Some(failpoint::Point::TornCheckpoint(sequence)) {
            failpoint::tear(file, text.as_bytes());
        }
    })
}

/// Replaces `path` with `bytes` so that a crash or power loss leaves either the old file or
/// the new one, never a mix: a temporary file beside it, synced, renamed, and the folder synced.
pub(crate) fn write_durably(path: &Path, bytes: &[u8]) -> Result<()> {
    write_durably_with(path, bytes, |_| {})
}

fn write_durably_with(path: &Path, bytes: &[u8], before_write: impl FnOnce(&mut File)) -> Result<()> {
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    let write = || -> std::io::Result<()> {
        let mut file = File::create(&tmp)?;
        before_write(&mut file);
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // Make the rename itself durable.
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            File::open(dir)?.sync_all()?;
        }
        Ok(())
    };
    write().map_err(|e| Error::io(path, e))
}

/// Reads and verifies a checkpoint file.
pub fn read_checkpoint(path: &Path) -> Result<CheckpointBody> {
    let corrupt = |what: &str| {
        Error::data(
            path,
            format!(
                "corrupt checkpoint ({what}); refusing to resume from it. Delete {CHECKPOINT_FILE} to resume \
                 by replaying the history from the start"
            ),
        )
    };
    let text = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let text = std::str::from_utf8(&text).map_err(|_| corrupt("not UTF-8 text"))?;
    let (header_line, rest) = text.split_once('\n').ok_or_else(|| corrupt("no header line"))?;
    let header: Header =
        serde_json::from_str(header_line).map_err(|e| corrupt(&format!("line 1 is not a checkpoint header: {e}")))?;
    if header.format != CHECKPOINT_FORMAT {
        return Err(Error::data(
            path,
            format!(
                "checkpoint format {} is not this version's format {CHECKPOINT_FORMAT}; refusing to resume from it",
                header.format
            ),
        ));
    }
    let body_text = rest.strip_suffix('\n').unwrap_or(rest);
    if body_text.len() != header.bytes {
        return Err(corrupt(&format!("line 2 holds {} bytes, the header says {}", body_text.len(), header.bytes)));
    }
    let crc = crc32c::crc32c(body_text.as_bytes());
    if crc != header.crc32c {
        return Err(corrupt(&format!("CRC-32C {crc:08x} of line 2, the header says {:08x}", header.crc32c)));
    }
    serde_json::from_str(body_text).map_err(|e| corrupt(&format!("line 2: {e}")))
}

/// Crash points for testing recovery: `SEMINAS_FAILPOINT` set to `after-query=N` aborts the
/// process right after evaluation N is journalled, `torn-query=N` while writing it (half a
/// line on disk) and `torn-checkpoint=N` while writing the N-th checkpoint of the process. The
/// abort is a real crash (SIGABRT): no destructor or flush runs. With the prefix `stall:` (e.g.
/// `stall:torn-query=N`) the process stops at that point and waits to be killed from outside
/// instead, so that tests can SIGKILL it at an exact point.
pub(crate) mod failpoint {
    use std::io::Write;
    use std::sync::OnceLock;

    /// Where to crash.
    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    pub enum Point {
        AfterQuery(usize),
        TornQuery(usize),
        TornCheckpoint(usize),
    }

    /// The point and whether to wait there for a kill rather than abort.
    fn parsed() -> Option<(Point, bool)> {
        static POINT: OnceLock<Option<(Point, bool)>> = OnceLock::new();
        *POINT.get_or_init(|| {
            let value = std::env::var("SEMINAS_FAILPOINT").ok()?;
            let (stall, value) = match value.strip_prefix("stall:") {
                Some(rest) => (true, rest.to_string()),
                None => (false, value),
            };
            let (name, n) = value.split_once('=')?;
            let n = n.trim().parse().ok()?;
            let point = match name.trim() {
                "after-query" => Point::AfterQuery(n),
                "torn-query" => Point::TornQuery(n),
                "torn-checkpoint" => Point::TornCheckpoint(n),
                _ => return None,
            };
            Some((point, stall))
        })
    }

    pub fn get() -> Option<Point> {
        parsed().map(|(point, _)| point)
    }

    /// Aborts, or waits to be killed.
    pub fn crash() -> ! {
        if parsed().is_some_and(|(_, stall)| stall) {
            eprintln!("failpoint reached: waiting to be killed");
            loop {
                std::thread::sleep(std::time::Duration::from_secs(3600));
            }
        }
        std::process::abort()
    }

    /// Writes the first half of `bytes`, makes it durable and crashes.
    pub fn tear(file: &mut std::fs::File, bytes: &[u8]) -> ! {
        let _ = file.write_all(&bytes[..bytes.len() / 2]);
        let _ = file.sync_all();
        crash()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn body() -> CheckpointBody {
        CheckpointBody {
            fingerprint: fingerprint("a = 1"),
            strategy: "re".into(),
            seed: 3,
            queries: 0,
            last_key: None,
            iteration: 2,
            rng: RngState::of(&ChaCha8Rng::seed_from_u64(3)),
            state: serde_json::json!({"population": [1, 2]}),
            controller: None,
        }
    }

    #[test]
    fn round_trip_and_corruption_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CHECKPOINT_FILE);
        write_checkpoint(&path, &body(), 1).unwrap();
        let back = read_checkpoint(&path).unwrap();
        assert_eq!(back.iteration, 2);
        assert_eq!(back.rng.generator().unwrap(), ChaCha8Rng::seed_from_u64(3));

        // One flipped digit in the body: the checksum catches it.
        let text = std::fs::read_to_string(&path).unwrap();
        let flipped = text.replacen("\"iteration\":2", "\"iteration\":3", 1);
        std::fs::write(&path, &flipped).unwrap();
        let err = read_checkpoint(&path).unwrap_err().to_string();
        assert!(err.contains("corrupt checkpoint") && err.contains("CRC-32C"), "{err}");

        // Cut short.
        std::fs::write(&path, &text[..text.len() / 2]).unwrap();
        let err = read_checkpoint(&path).unwrap_err().to_string();
        assert!(err.contains("corrupt checkpoint"), "{err}");

        // Not a checkpoint at all.
        std::fs::write(&path, "{\"query\":1}\n").unwrap();
        assert!(read_checkpoint(&path).unwrap_err().to_string().contains("corrupt checkpoint"));
    }

    #[test]
    fn a_checkpoint_of_another_run_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = Checkpointer::new(dir.path(), "a = 1", "re", 3);
        writer.save(&[], 1, &ChaCha8Rng::seed_from_u64(0), &serde_json::json!({}), None).unwrap();
        assert_eq!(writer.written(), 1);
        for (config, strategy, seed, what) in
            [("a = 2", "re", 3, "fingerprint"), ("a = 1", "random", 3, "strategy"), ("a = 1", "re", 4, "seed")]
        {
            let mut reader = Checkpointer::new(dir.path(), config, strategy, seed);
            let err = reader.load(&[]).expect_err("refused").to_string();
            assert!(err.contains("another run") && err.contains(what), "{err}");
        }
        let mut reader = Checkpointer::new(dir.path(), "a = 1", "re", 3);
        assert!(reader.load(&[]).unwrap().is_some());
    }
}
