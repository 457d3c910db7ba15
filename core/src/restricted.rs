//! A search space cut down to a finite set of architectures, such as the rows of a partial
//! benchmark table.

use std::collections::HashSet;
use std::sync::Arc;

use rand::{Rng, RngCore};

use crate::{Arch, Encoding, Error, Result, SearchSpace, Token};

/// Tries before `mutate` gives up looking for a member neighbour and samples a member instead.
const MUTATION_TRIES: usize = 100;

/// `inner` restricted to `members`: sampling is uniform over the members, mutation and decoding
/// accept members only, and `key` fails for non-members (so they count as invalid).
pub struct RestrictedSpace {
    inner: Arc<dyn SearchSpace>,
    members: Vec<Arch>,
    keys: HashSet<String>,
}

impl RestrictedSpace {
    /// Restricts `inner` to `members` (which must be valid in `inner`).
    pub fn new(inner: Arc<dyn SearchSpace>, members: Vec<Arch>) -> Result<Self> {
        if members.is_empty() {
            return Err(Error::InvalidArchitecture("cannot restrict a space to zero architectures".into()));
        }
        let keys = members.iter().map(|a| inner.key(a)).collect::<Result<HashSet<_>>>()?;
        Ok(RestrictedSpace { inner, members, keys })
    }

    /// Number of member architectures (distinct keys).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Always false: construction rejects empty member sets.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

impl SearchSpace for RestrictedSpace {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn sample(&self, rng: &mut dyn RngCore) -> Arch {
        self.members[rng.random_range(0..self.members.len())].clone()
    }

    fn key(&self, arch: &Arch) -> Result<String> {
        let key = self.inner.key(arch)?;
        if self.keys.contains(&key) {
            Ok(key)
        } else {
            Err(Error::InvalidArchitecture(format!("{arch} (key {key}) is not in the restricted set")))
        }
    }

    fn encoding(&self) -> Encoding {
        self.inner.encoding()
    }

    fn encode(&self, arch: &Arch) -> Result<Vec<Token>> {
        self.inner.encode(arch)
    }

    fn decode(&self, tokens: &[Token]) -> Result<Arch> {
        let arch = self.inner.decode(tokens)?;
        self.key(&arch)?;
        Ok(arch)
    }

    fn mutate(&self, arch: &Arch, rng: &mut dyn RngCore) -> Arch {
        for _ in 0..MUTATION_TRIES {
            let child = self.inner.mutate(arch, rng);
            if self.inner.key(&child).is_ok_and(|k| self.keys.contains(&k)) {
                return child;
            }
        }
        self.sample(rng)
    }

    fn describe(&self, arch: &Arch) -> serde_json::Value {
        self.inner.describe(arch)
    }

    fn from_record(&self, record: &serde_json::Value, column: Option<&str>) -> Result<Arch> {
        self.inner.from_record(record, column)
    }
}
