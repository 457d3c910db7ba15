//! The `nasbench101` search space.

use rand::{Rng, RngCore};
use seminas_core::{Arch, Encoding, Error, Result, SearchSpace, Token};

use crate::encoding;
use crate::spec::{ModelSpec, Op, RawCell, SpecError, MAX_VERTICES};

/// Number of edge bits of a 7-vertex upper-triangular matrix.
pub const NUM_EDGE_BITS: usize = MAX_VERTICES * (MAX_VERTICES - 1) / 2;
/// Number of vertices with a choice of op (all but input and output).
pub const NUM_OP_POSITIONS: usize = MAX_VERTICES - 2;
/// Probability that [`mutate`](SearchSpace::mutate) flips each edge bit of the 7-vertex
/// matrix: `1 / 7`, the `mutation_rate / NUM_VERTICES` of the official NAS-Bench-101 example
/// (`mutate_spec` in `NASBench.ipynb`, mutation rate 1), about three flips a try.
pub const EDGE_FLIP_PROB: f64 = 1.0 / MAX_VERTICES as f64;
/// Probability that [`mutate`](SearchSpace::mutate) changes each middle op to one of the two
/// others: `1 / 5`, about one change a try.
pub const OP_CHANGE_PROB: f64 = 1.0 / NUM_OP_POSITIONS as f64;

/// The NAS-Bench-101 cell space (423,624 unique cells).
///
/// Architectures are written as the compact JSON of the pruned cell,
/// `{"matrix":[[0,1],[0,0]],"ops":["input","output"]}`, which Python's
/// `api.ModelSpec(**json.loads(s))` accepts. Any JSON object with `matrix` and `ops` is
/// accepted as input (unpruned cells and up to 64 vertices before pruning included); the key
/// is the official module hash of the pruned cell, so isomorphic cells share it.
///
/// [`sample`](SearchSpace::sample) follows the space's [`Sampling`] (uniform over the 423,624
/// distinct cells unless set otherwise).
#[derive(Clone, Copy, Debug, Default)]
pub struct NasBench101Space {
    sampling: Sampling,
}

/// How [`NasBench101Space`] draws random cells (`[space.nasbench101] sampling`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sampling {
    /// `uniform`: each of the 423,624 distinct cells with equal probability, as the official
    /// SemiNAS code samples from the data set's hashes. The cells come from
    /// [`all_cells`](crate::enumerate::all_cells), enumerated once per process on first use
    /// (a few seconds).
    #[default]
    Uniform,
    /// `random-spec`: the official `random_spec` of the NAS-Bench-101 example (a uniform
    /// 7-vertex matrix and ops, drawn again until valid). Valid draws often prune to fewer
    /// vertices, so small cells come up far more often than under `uniform` (many draws
    /// repeat the same few small cells).
    RandomSpec,
}

fn invalid(context: impl std::fmt::Display, e: SpecError) -> Error {
    Error::InvalidArchitecture(format!("{context}: {e}"))
}

impl NasBench101Space {
    /// The space, sampling uniformly over the distinct cells.
    pub fn new() -> Self {
        NasBench101Space::default()
    }

    /// The space with the given sampling.
    pub fn with_sampling(sampling: Sampling) -> Self {
        NasBench101Space { sampling }
    }

    /// How the space samples.
    pub fn sampling(&self) -> Sampling {
        self.sampling
    }

    /// The pruned, valid cell an architecture stands for.
    pub fn spec(&self, arch: &Arch) -> Result<ModelSpec> {
        ModelSpec::parse_json(arch.as_str()).map_err(|e| invalid(arch, e))
    }

    /// The architecture of a cell (its compact JSON notation).
    pub fn arch(&self, spec: &ModelSpec) -> Arch {
        Arch::new(spec.to_json())
    }

    /// A random 7-vertex cell before pruning, as the NAS-Bench-101 paper's random search draws
    /// it: each of the 21 edge bits and each of the 5 middle ops uniformly.
    pub fn random_raw(&self, rng: &mut dyn RngCore) -> RawCell {
        let bits = rng.next_u32();
        let mut ops = [Op::Input; MAX_VERTICES];
        for op in &mut ops[1..MAX_VERTICES - 1] {
            *op = Op::MIDDLE[rng.random_range(0..Op::MIDDLE.len())];
        }
        ops[MAX_VERTICES - 1] = Op::Output;
        let mut raw = RawCell::new(&ops);
        let mut k = 0;
        for j in 1..MAX_VERTICES {
            for i in 0..j {
                raw.set_edge(i, j, bits >> k & 1 == 1);
                k += 1;
            }
        }
        raw
    }

    /// A random cell as the space's [`Sampling`] draws it.
    pub fn sample_spec(&self, rng: &mut dyn RngCore) -> ModelSpec {
        match self.sampling {
            Sampling::Uniform => self.uniform_spec(rng),
            Sampling::RandomSpec => self.random_spec(rng),
        }
    }

    /// A cell drawn uniformly from the 423,624 distinct cells (their data-set form).
    pub fn uniform_spec(&self, rng: &mut dyn RngCore) -> ModelSpec {
        let cells = crate::enumerate::all_cells();
        *cells[rng.random_range(0..cells.len())].spec()
    }

    /// The official `random_spec`: random 7-vertex cells ([`random_raw`](Self::random_raw))
    /// drawn until one is valid, pruned.
    pub fn random_spec(&self, rng: &mut dyn RngCore) -> ModelSpec {
        loop {
            if let Ok(spec) = self.random_raw(rng).prune() {
                return spec;
            }
        }
    }

    /// The evolution mutation of NAS-Bench-101 (`mutate_spec` of the official example).
    ///
    /// The parent is padded to 7 vertices (isolated vertices with random ops before the
    /// output, so that pruned parents can grow); then, until the child is valid, a copy has
    /// each edge bit flipped with probability [`EDGE_FLIP_PROB`] and each middle op changed
    /// to a different op with probability [`OP_CHANGE_PROB`]. The child may build the same
    /// network as the parent, as in the official code.
    pub fn mutate_spec(&self, parent: &ModelSpec, rng: &mut dyn RngCore) -> ModelSpec {
        let mut extra = [Op::Conv3x3; MAX_VERTICES];
        let pad = MAX_VERTICES - parent.num_vertices();
        for op in &mut extra[..pad] {
            *op = Op::MIDDLE[rng.random_range(0..Op::MIDDLE.len())];
        }
        let padded = parent.padded(&extra[..pad]);
        loop {
            let mut child = padded;
            for j in 1..MAX_VERTICES {
                for i in 0..j {
                    if rng.random::<f64>() < EDGE_FLIP_PROB {
                        child.flip_edge(i, j);
                    }
                }
            }
            for v in 1..MAX_VERTICES - 1 {
                if rng.random::<f64>() < OP_CHANGE_PROB {
                    let current = child.op(v).middle_index().unwrap_or(0);
                    let k = rng.random_range(0..Op::MIDDLE.len() - 1);
                    child.set_op(v, Op::MIDDLE[if k >= current { k + 1 } else { k }]);
                }
            }
            if let Ok(spec) = child.prune() {
                return spec;
            }
        }
    }
}

impl SearchSpace for NasBench101Space {
    fn name(&self) -> &str {
        "nasbench101"
    }

    fn sample(&self, rng: &mut dyn RngCore) -> Arch {
        self.arch(&self.sample_spec(rng))
    }

    /// The official module hash of the pruned cell. Cells of a data set loaded in this process
    /// (by the `nasbench101` evaluator) are looked up there by canonical code instead of
    /// hashed, which is some fifty times faster and gives the same hash.
    fn key(&self, arch: &Arch) -> Result<String> {
        let spec = self.spec(arch)?;
        Ok(crate::data::known_hash(&spec).unwrap_or_else(|| spec.hash()))
    }

    fn encoding(&self) -> Encoding {
        Encoding {
            vocab_size: encoding::VOCAB_SIZE,
            allowed: encoding::allowed(),
        }
    }

    fn encode(&self, arch: &Arch) -> Result<Vec<Token>> {
        Ok(encoding::encode(&self.spec(arch)?).to_vec())
    }

    fn decode(&self, tokens: &[Token]) -> Result<Arch> {
        encoding::decode(tokens)
            .map(|spec| self.arch(&spec))
            .map_err(|e| invalid(format_args!("sequence {tokens:?}"), e))
    }

    /// See [`NasBench101Space::mutate_spec`]. An invalid parent (which the contract rules
    /// out) gives a fresh sample instead of a panic.
    fn mutate(&self, arch: &Arch, rng: &mut dyn RngCore) -> Arch {
        match self.spec(arch) {
            Ok(parent) => self.arch(&self.mutate_spec(&parent, rng)),
            Err(_) => self.sample(rng),
        }
    }

    /// The pruned cell's `matrix` and `ops` with its official `hash`; invalid architectures
    /// give their notation string.
    fn describe(&self, arch: &Arch) -> serde_json::Value {
        match self.spec(arch) {
            Ok(spec) => serde_json::json!({
                "matrix": spec.matrix(),
                "ops": spec.ops().iter().map(|op| op.label()).collect::<Vec<_>>(),
                "hash": spec.hash(),
            }),
            Err(_) => serde_json::Value::String(arch.to_string()),
        }
    }

    /// Reads a record with `matrix` and `ops` fields (JSON values, or strings holding JSON as
    /// in CSV files), or the configured column holding the JSON notation (a string) or such an
    /// object. Without a column, a record lacking `matrix` falls back to the column `arch`.
    /// The result is the pruned cell's compact notation.
    fn from_record(&self, record: &serde_json::Value, column: Option<&str>) -> Result<Arch> {
        let spec = match column {
            Some(column) => {
                let value = record.get(column).ok_or_else(|| {
                    Error::InvalidArchitecture(format!("record has no column `{column}`"))
                })?;
                from_value(value).map_err(|e| invalid(format_args!("column `{column}`"), e))?
            }
            None if record.get("matrix").is_some() || record.get("ops").is_some() => {
                ModelSpec::from_value(record).map_err(|e| invalid("record", e))?
            }
            None => match record.get("arch") {
                Some(value) => from_value(value).map_err(|e| invalid("column `arch`", e))?,
                None => {
                    return Err(Error::InvalidArchitecture(
                        "record has neither `matrix` and `ops` fields nor an `arch` column".into(),
                    ))
                }
            },
        };
        Ok(self.arch(&spec))
    }
}

/// A column value: the notation string or an object with `matrix` and `ops`.
fn from_value(value: &serde_json::Value) -> std::result::Result<ModelSpec, SpecError> {
    match value {
        serde_json::Value::String(s) => ModelSpec::parse_json(s),
        other => ModelSpec::from_value(other),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    const README: &str = r#"{"matrix":[[0,1,1,1,0,1,0],[0,0,0,0,0,0,1],[0,0,0,0,0,0,1],[0,0,0,0,1,0,0],[0,0,0,0,0,0,1],[0,0,0,0,0,0,1],[0,0,0,0,0,0,0]],"ops":["input","conv1x1-bn-relu","conv3x3-bn-relu","conv3x3-bn-relu","conv3x3-bn-relu","maxpool3x3","output"]}"#;

    #[test]
    fn readme_key() {
        let space = NasBench101Space::new();
        assert_eq!(
            space.key(&Arch::new(README)).unwrap(),
            "28cfc7874f6d200472e1a9dcd8650aa0"
        );
    }

    #[test]
    fn isomorphic_cells_share_a_key() {
        let space = NasBench101Space::new();
        // Swap vertices 1 and 2 of a two-branch cell: different notation, same network.
        let a = Arch::new(
            r#"{"matrix":[[0,1,1,0],[0,0,0,1],[0,0,0,1],[0,0,0,0]],"ops":["input","conv3x3-bn-relu","maxpool3x3","output"]}"#,
        );
        let b = Arch::new(
            r#"{"matrix":[[0,1,1,0],[0,0,0,1],[0,0,0,1],[0,0,0,0]],"ops":["input","maxpool3x3","conv3x3-bn-relu","output"]}"#,
        );
        assert_ne!(a, b);
        assert_eq!(space.key(&a).unwrap(), space.key(&b).unwrap());
        // A chain in the other order is a different network.
        let c = Arch::new(
            r#"{"matrix":[[0,1,0,0],[0,0,1,0],[0,0,0,1],[0,0,0,0]],"ops":["input","conv3x3-bn-relu","maxpool3x3","output"]}"#,
        );
        let d = Arch::new(
            r#"{"matrix":[[0,1,0,0],[0,0,1,0],[0,0,0,1],[0,0,0,0]],"ops":["input","maxpool3x3","conv3x3-bn-relu","output"]}"#,
        );
        assert_ne!(space.key(&c).unwrap(), space.key(&d).unwrap());
        // An unpruned cell shares the key of its pruned form.
        let e = Arch::new(
            r#"{"matrix":[[0,1,1,0,0],[0,0,0,0,1],[0,0,0,1,0],[0,0,0,0,0],[0,0,0,0,0]],"ops":["input","conv3x3-bn-relu","conv1x1-bn-relu","maxpool3x3","output"]}"#,
        );
        let f = Arch::new(
            r#"{"matrix":[[0,1,0],[0,0,1],[0,0,0]],"ops":["input","conv3x3-bn-relu","output"]}"#,
        );
        assert_eq!(space.key(&e).unwrap(), space.key(&f).unwrap());
    }

    #[test]
    fn invalid_architectures_are_errors() {
        let space = NasBench101Space::new();
        for bad in [
            "",
            "x",
            r#"{"matrix":[[0,0],[0,0]],"ops":["input","output"]}"#,
            r#"{"matrix":[[0,1],[0,0]],"ops":["output","input"]}"#,
        ] {
            let err = space.key(&Arch::new(bad)).unwrap_err();
            assert!(matches!(err, Error::InvalidArchitecture(_)), "{err}");
            assert!(space.encode(&Arch::new(bad)).is_err());
        }
    }

    #[test]
    fn encode_length_and_allowed() {
        let space = NasBench101Space::new();
        let encoding = space.encoding();
        assert_eq!(encoding.length(), 27);
        assert_eq!(encoding.vocab_size, 7);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..2000 {
            let arch = space.sample(&mut rng);
            let seq = space.encode(&arch).unwrap();
            assert_eq!(seq.len(), 27);
            let n = space.spec(&arch).unwrap().num_vertices();
            for (pos, &t) in seq.iter().enumerate() {
                // Padding (token 0) only for cells under 7 vertices.
                assert!(
                    encoding.allowed[pos].contains(&t) || (t == 0 && n < 7),
                    "{pos}: {t}"
                );
            }
            let back = space.decode(&seq).unwrap();
            assert_eq!(back, arch);
        }
    }

    #[test]
    fn sample_and_mutate_are_valid_and_seeded() {
        let space = NasBench101Space::new();
        let run = |seed: u64| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut out = Vec::new();
            let mut arch = space.sample(&mut rng);
            for _ in 0..3000 {
                assert!(space.validate(&arch).is_ok(), "{arch}");
                let child = space.mutate(&arch, &mut rng);
                assert!(space.validate(&child).is_ok(), "{child}");
                out.push(child.clone());
                arch = if out.len() % 10 == 0 {
                    space.sample(&mut rng)
                } else {
                    child
                };
            }
            out
        };
        let a = run(7);
        assert_eq!(a, run(7));
        assert_ne!(a, run(8));
        // Mutation explores: children differ in size and key.
        let sizes: HashSet<usize> = a
            .iter()
            .map(|x| space.spec(x).unwrap().num_vertices())
            .collect();
        assert!(sizes.len() >= 4, "{sizes:?}");
        let keys: HashSet<String> = a.iter().map(|x| space.key(x).unwrap()).collect();
        assert!(keys.len() > 300, "{}", keys.len());
    }

    #[test]
    fn small_parents_grow() {
        let space = NasBench101Space::new();
        let parent = Arch::new(r#"{"matrix":[[0,1],[0,0]],"ops":["input","output"]}"#);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let grown = (0..200).any(|_| {
            space
                .spec(&space.mutate(&parent, &mut rng))
                .unwrap()
                .num_vertices()
                > 2
        });
        assert!(grown);
    }

    #[test]
    fn uniform_sampling_covers_the_space() {
        // Uniform over the distinct cells: the vertex counts follow the enumeration's, and
        // nearly every draw is a new cell (about 470 repeats expected in 20,000 draws).
        let space = NasBench101Space::new();
        assert_eq!(space.sampling(), Sampling::Uniform);
        let cells = crate::enumerate::all_cells();
        let mut exact = [0f64; MAX_VERTICES + 1];
        for c in cells {
            exact[c.spec().num_vertices()] += 1.0 / cells.len() as f64;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let draws = 20_000;
        let mut seen = [0f64; MAX_VERTICES + 1];
        let mut keys = HashSet::new();
        for _ in 0..draws {
            let arch = space.sample(&mut rng);
            seen[space.spec(&arch).unwrap().num_vertices()] += 1.0 / draws as f64;
            keys.insert(space.key(&arch).unwrap());
        }
        for n in 2..=MAX_VERTICES {
            assert!(
                (exact[n] - seen[n]).abs() < 0.01,
                "{n} vertices: expected {:.4}, sampled {:.4}",
                exact[n],
                seen[n]
            );
        }
        assert!(keys.len() > 19_300, "{}", keys.len());
        // Seeded.
        let mut a = ChaCha8Rng::seed_from_u64(5);
        let mut b = ChaCha8Rng::seed_from_u64(5);
        assert_eq!(space.sample(&mut a), space.sample(&mut b));
    }

    #[test]
    fn sample_follows_the_random_spec_distribution() {
        // Exact distribution of the pruned size under `random_spec` (uniform 7-vertex matrix,
        // kept when valid): enumerate all 2^21 matrices (ops do not affect validity here).
        let space = NasBench101Space::with_sampling(Sampling::RandomSpec);
        let mut exact = [0f64; MAX_VERTICES + 1];
        let mut valid = 0f64;
        let mut raw = RawCell::new(&[
            Op::Input,
            Op::Conv3x3,
            Op::Conv3x3,
            Op::Conv3x3,
            Op::Conv3x3,
            Op::Conv3x3,
            Op::Output,
        ]);
        for bits in 0u32..1 << NUM_EDGE_BITS {
            let mut k = 0;
            for j in 1..MAX_VERTICES {
                for i in 0..j {
                    raw.set_edge(i, j, bits >> k & 1 == 1);
                    k += 1;
                }
            }
            if let Ok(spec) = raw.prune() {
                exact[spec.num_vertices()] += 1.0;
                valid += 1.0;
            }
        }
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let draws = 20_000;
        let mut seen = [0f64; MAX_VERTICES + 1];
        let mut keys = HashSet::new();
        for _ in 0..draws {
            let arch = space.sample(&mut rng);
            seen[space.spec(&arch).unwrap().num_vertices()] += 1.0;
            keys.insert(space.key(&arch).unwrap());
        }
        for n in 2..=MAX_VERTICES {
            let (p, q) = (exact[n] / valid, seen[n] / draws as f64);
            assert!(
                (p - q).abs() < 0.01,
                "{n} vertices: expected {p:.4}, sampled {q:.4}"
            );
        }
        assert!(keys.len() > 3000, "{}", keys.len());
    }

    #[test]
    fn mutate_of_invalid_parent_samples() {
        let space = NasBench101Space::new();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        assert!(space
            .validate(&space.mutate(&Arch::new("nonsense"), &mut rng))
            .is_ok());
    }

    #[test]
    fn describe_and_records() {
        let space = NasBench101Space::new();
        let arch = Arch::new(README);
        let d = space.describe(&arch);
        assert_eq!(d["hash"], "28cfc7874f6d200472e1a9dcd8650aa0");
        assert_eq!(d["ops"][1], "conv1x1-bn-relu");
        assert_eq!(d["matrix"][0][1], 1);
        assert_eq!(
            space.describe(&Arch::new("bad")),
            serde_json::Value::String("bad".into())
        );

        let record: serde_json::Value = serde_json::from_str(README).unwrap();
        assert_eq!(space.from_record(&record, None).unwrap(), arch);
        // Extra fields (as in sample-11k.jsonl) are ignored.
        let mut with_extra = record.clone();
        with_extra["val_acc"] = serde_json::json!({"108": 0.9});
        assert_eq!(space.from_record(&with_extra, None).unwrap(), arch);
        // CSV rows hold strings.
        let csv = serde_json::json!({
            "matrix": serde_json::to_string(&record["matrix"]).unwrap(),
            "ops": serde_json::to_string(&record["ops"]).unwrap(),
        });
        assert_eq!(space.from_record(&csv, None).unwrap(), arch);
        // A column with the notation, or an object.
        let row = serde_json::json!({"cell": README, "obj": record});
        assert_eq!(space.from_record(&row, Some("cell")).unwrap(), arch);
        assert_eq!(space.from_record(&row, Some("obj")).unwrap(), arch);
        assert!(space.from_record(&row, Some("missing")).is_err());
        assert_eq!(
            space
                .from_record(&serde_json::json!({"arch": README}), None)
                .unwrap(),
            arch
        );
        assert!(space
            .from_record(&serde_json::json!({"x": 1}), None)
            .is_err());
        assert!(space
            .from_record(&serde_json::json!({"matrix": [[0, 1], [0, 0]]}), None)
            .is_err());
        // Unpruned records come back pruned.
        let unpruned = serde_json::json!({
            "matrix": [[0, 1, 1], [0, 0, 0], [0, 0, 0]],
            "ops": ["input", "conv3x3-bn-relu", "output"],
        });
        assert_eq!(
            space.from_record(&unpruned, None).unwrap().as_str(),
            r#"{"matrix":[[0,1],[0,0]],"ops":["input","output"]}"#
        );
    }
}
