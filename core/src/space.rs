//! Search spaces and architectures.

use std::fmt;
use std::sync::Arc;

use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::Result;

/// A token of an architecture's sequence encoding.
pub type Token = usize;

/// One architecture, in its search space's own text notation.
///
/// Architectures are plain values: cheap to clone, comparable and hashable, and serialised as
/// their notation (for NAS-Bench-201 the usual `|op~0|+|op~0|op~1|+...|` string, for
/// NAS-Bench-101 a compact JSON `{"matrix":...,"ops":...}`). Two different notations may
/// describe the same network; [`SearchSpace::key`] tells them apart.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Arch(Arc<str>);

impl Arch {
    /// Wraps a notation string. Spaces check validity; this does not.
    pub fn new(notation: impl Into<Arc<str>>) -> Self {
        Arch(notation.into())
    }

    /// The notation string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The fixed-length token encoding a space offers to sequence controllers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Encoding {
    /// Number of distinct tokens; token `0` is reserved for start/end of sequence.
    pub vocab_size: usize,
    /// The tokens a decoder may emit at each position (length = sequence length).
    /// Controllers restrict their choice at position `i` to `allowed[i]`, as NAO does when it
    /// decodes edges and operations from separate token ranges.
    pub allowed: Vec<Vec<Token>>,
}

impl Encoding {
    /// Length of every encoded sequence.
    pub fn length(&self) -> usize {
        self.allowed.len()
    }
}

/// A space of architectures that strategies search.
///
/// Required: [`name`](Self::name), [`sample`](Self::sample), [`key`](Self::key),
/// [`encoding`](Self::encoding), [`encode`](Self::encode), [`decode`](Self::decode) and
/// [`mutate`](Self::mutate). Provided: [`validate`](Self::validate),
/// [`describe`](Self::describe), [`from_record`](Self::from_record).
///
/// # Contract
/// - `sample` and `mutate` return valid architectures only.
/// - `key` is canonical: two architectures that build the same network (e.g. isomorphic cells)
///   have the same key, and different networks have different keys. `key` fails for invalid
///   architectures, so `key(a).is_ok()` is the validity test.
/// - `encode` returns exactly `encoding().length()` tokens, each allowed at its position, and
///   `decode(encode(a))` has the same key as `a`.
/// - `decode` never panics: a sequence that is not a valid architecture is an `Err`.
/// - All randomness comes from the `rng` argument, so a seed fixes every result.
pub trait SearchSpace: Send + Sync {
    /// Registry name of the space, e.g. `nasbench101`.
    fn name(&self) -> &str;

    /// Draws a random valid architecture.
    fn sample(&self, rng: &mut dyn RngCore) -> Arch;

    /// The canonical key of a valid architecture; an error names why `arch` is invalid.
    fn key(&self, arch: &Arch) -> Result<String>;

    /// The token encoding used by sequence controllers.
    fn encoding(&self) -> Encoding;

    /// Encodes a valid architecture into `encoding().length()` tokens.
    fn encode(&self, arch: &Arch) -> Result<Vec<Token>>;

    /// Decodes a token sequence; invalid sequences are reported as errors.
    fn decode(&self, tokens: &[Token]) -> Result<Arch>;

    /// A random valid neighbour of `arch` (the mutation of evolutionary search).
    fn mutate(&self, arch: &Arch, rng: &mut dyn RngCore) -> Arch;

    /// Checks validity; the default asks [`key`](Self::key).
    fn validate(&self, arch: &Arch) -> Result<()> {
        self.key(arch).map(|_| ())
    }

    /// A structured view of `arch` for results files; defaults to the notation string.
    fn describe(&self, arch: &Arch) -> serde_json::Value {
        serde_json::Value::String(arch.to_string())
    }

    /// Reads an architecture from one record of a results table (a JSON object, or a CSV row
    /// as an object of strings). `column` is the configured architecture column, if any.
    /// The default takes the column's string value as the notation.
    #[allow(clippy::wrong_self_convention)] // a reader method of the space, not a constructor
    fn from_record(&self, record: &serde_json::Value, column: Option<&str>) -> Result<Arch> {
        let column = column.unwrap_or("arch");
        match record.get(column) {
            Some(serde_json::Value::String(s)) => {
                let arch = Arch::new(s.as_str());
                self.validate(&arch)?;
                Ok(arch)
            }
            Some(other) => Err(crate::Error::InvalidArchitecture(format!(
                "column `{column}` should hold an architecture string, found {other}"
            ))),
            None => Err(crate::Error::InvalidArchitecture(format!(
                "record has no column `{column}`"
            ))),
        }
    }
}
