//! The `nasbench201` search space.

use rand::{Rng, RngCore};
use seminas_core::{Arch, Component, Encoding, Error, Result, SearchSpace, Token};
use serde::Deserialize;

use crate::cell::{Cell, NUM_CELLS, NUM_EDGES, OPS};

/// Registry name of the space (and of the evaluator).
pub const NAME: &str = "nasbench201";

/// Settings of the space (`[space.nasbench201]`): none; any key is an error.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SpaceSettings {}

/// The NAS-Bench-201 cell space: 15,625 cells, written as the standard architecture string.
///
/// - `key` is the canonical string itself (strict parsing admits only the canonical form);
///   isomorphic cells are *not* merged, because the benchmark lists all 15,625 strings.
/// - Encoding: six tokens, one per edge in string order, token = op index + 1
///   (`vocab_size` 6; token 0 is the controller's start/end token).
/// - `sample` is uniform over the 15,625 cells.
/// - `mutate` follows the regularized-evolution baseline of NAS-Bench-201: pick a node
///   (1, 2 or 3) uniformly, then one of its input edges uniformly, and give that edge an
///   operation drawn uniformly from the four other operations.
#[derive(Clone, Copy, Debug, Default)]
pub struct Nb201Space;

impl Nb201Space {
    /// The space.
    pub fn new() -> Self {
        Nb201Space
    }

    /// Builds the space from `[space.nasbench201]`, which must be empty.
    pub fn from_component(component: &Component) -> Result<Self> {
        let _: SpaceSettings = component.parse()?;
        Ok(Nb201Space)
    }

    /// Parses an architecture into its cell; the error names what is wrong.
    pub fn cell(&self, arch: &Arch) -> Result<Cell> {
        Cell::parse(arch.as_str())
    }
}

fn arch_of(cell: Cell) -> Arch {
    Arch::new(cell.to_string())
}

/// The first edge of each node in [`EDGES`](crate::EDGES) order; node `n` (1-based) owns
/// edges `NODE_START[n - 1] .. NODE_START[n - 1] + n`.
const NODE_START: [usize; 3] = [0, 1, 3];

impl SearchSpace for Nb201Space {
    fn name(&self) -> &str {
        NAME
    }

    fn sample(&self, rng: &mut dyn RngCore) -> Arch {
        let index = rng.random_range(0..NUM_CELLS);
        arch_of(Cell::from_index(index).expect("index drawn below NUM_CELLS"))
    }

    fn key(&self, arch: &Arch) -> Result<String> {
        Ok(self.cell(arch)?.to_string())
    }

    fn encoding(&self) -> Encoding {
        Encoding { vocab_size: OPS.len() + 1, allowed: vec![(1..=OPS.len()).collect(); NUM_EDGES] }
    }

    fn encode(&self, arch: &Arch) -> Result<Vec<Token>> {
        Ok(self.cell(arch)?.ops().iter().map(|&op| op + 1).collect())
    }

    fn decode(&self, tokens: &[Token]) -> Result<Arch> {
        if tokens.len() != NUM_EDGES {
            return Err(Error::InvalidArchitecture(format!(
                "expected {NUM_EDGES} tokens (one per edge), found {}: {tokens:?}",
                tokens.len()
            )));
        }
        let mut ops = [0usize; NUM_EDGES];
        for (position, (&token, op)) in tokens.iter().zip(ops.iter_mut()).enumerate() {
            if !(1..=OPS.len()).contains(&token) {
                return Err(Error::InvalidArchitecture(format!(
                    "token {token} at position {position} is not an operation (expected 1..={}): {tokens:?}",
                    OPS.len()
                )));
            }
            *op = token - 1;
        }
        Ok(arch_of(Cell::from_ops(ops)?))
    }

    /// Mutates `arch`; an invalid `arch` (which strategies never pass) yields a fresh sample.
    fn mutate(&self, arch: &Arch, rng: &mut dyn RngCore) -> Arch {
        let Ok(cell) = self.cell(arch) else {
            return self.sample(rng);
        };
        let node = rng.random_range(0..NODE_START.len());
        let edge = NODE_START[node] + rng.random_range(0..=node);
        let current = cell.op(edge);
        // Uniform over the other four operations.
        let mut op = rng.random_range(0..OPS.len() - 1);
        if op >= current {
            op += 1;
        }
        arch_of(cell.with_op(edge, op))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use rand::SeedableRng;
    use seminas_core::rand_chacha::ChaCha8Rng;
    use seminas_core::ComponentKind;

    use super::*;
    use crate::cell::EDGES;

    fn space() -> Nb201Space {
        Nb201Space::new()
    }

    #[test]
    fn key_is_the_string() {
        let text = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|";
        assert_eq!(space().key(&Arch::new(text)).unwrap(), text);
        let err = space().key(&Arch::new("|nor_conv_3x3~0|")).unwrap_err().to_string();
        assert!(err.contains("node groups"), "{err}");
        assert!(space().validate(&Arch::new("junk")).is_err());
    }

    #[test]
    fn encoding_shape() {
        let encoding = space().encoding();
        assert_eq!(encoding.vocab_size, 6);
        assert_eq!(encoding.length(), 6);
        for allowed in &encoding.allowed {
            assert_eq!(allowed, &vec![1, 2, 3, 4, 5]);
        }
    }

    #[test]
    fn encode_decode_round_trip_all() {
        let s = space();
        let encoding = s.encoding();
        let mut keys = HashSet::new();
        for cell in Cell::all() {
            let arch = arch_of(cell);
            let tokens = s.encode(&arch).unwrap();
            assert_eq!(tokens.len(), encoding.length());
            for (pos, t) in tokens.iter().enumerate() {
                assert!(encoding.allowed[pos].contains(t));
            }
            let back = s.decode(&tokens).unwrap();
            assert_eq!(back, arch);
            assert_eq!(s.key(&back).unwrap(), s.key(&arch).unwrap());
            keys.insert(s.key(&arch).unwrap());
        }
        assert_eq!(keys.len(), NUM_CELLS);
    }

    #[test]
    fn encode_follows_string_order() {
        let arch = Arch::new("|none~0|+|skip_connect~0|nor_conv_1x1~1|+|nor_conv_3x3~0|avg_pool_3x3~1|none~2|");
        assert_eq!(space().encode(&arch).unwrap(), vec![1, 2, 3, 4, 5, 1]);
        assert!(space().encode(&Arch::new("nope")).is_err());
    }

    #[test]
    fn decode_rejects_bad_sequences() {
        let s = space();
        let too_short = s.decode(&[1, 2, 3]).unwrap_err().to_string();
        assert!(too_short.contains("expected 6 tokens") && too_short.contains("found 3"), "{too_short}");
        assert!(s.decode(&[]).is_err());
        assert!(s.decode(&[1; 7]).is_err());
        let zero = s.decode(&[1, 2, 0, 4, 5, 1]).unwrap_err().to_string();
        assert!(zero.contains("token 0 at position 2"), "{zero}");
        let big = s.decode(&[1, 2, 3, 4, 5, 6]).unwrap_err().to_string();
        assert!(big.contains("token 6 at position 5"), "{big}");
        assert!(s.decode(&[usize::MAX; 6]).is_err());
    }

    #[test]
    fn sample_is_valid_and_seeded() {
        let s = space();
        let draw = |seed: u64| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            (0..200).map(|_| s.sample(&mut rng)).collect::<Vec<_>>()
        };
        let a = draw(7);
        assert_eq!(a, draw(7));
        assert_ne!(a, draw(8));
        for arch in &a {
            s.validate(arch).unwrap();
        }
        // 200 draws from 15,625 should be (almost) all distinct.
        assert!(a.iter().collect::<HashSet<_>>().len() > 190);
    }

    #[test]
    fn sample_covers_every_op_on_every_edge() {
        let s = space();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut counts = [[0usize; 5]; 6];
        let n = 20_000;
        for _ in 0..n {
            let cell = s.cell(&s.sample(&mut rng)).unwrap();
            for (edge, op) in cell.ops().iter().enumerate() {
                counts[edge][*op] += 1;
            }
        }
        for row in counts {
            for c in row {
                // Expected n / 5 = 4000; allow a wide margin.
                assert!((3600..4400).contains(&c), "{counts:?}");
            }
        }
    }

    #[test]
    fn mutate_changes_exactly_one_edge() {
        let s = space();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut per_edge = [0usize; NUM_EDGES];
        let mut parent = s.sample(&mut rng);
        for _ in 0..9_000 {
            let child = s.mutate(&parent, &mut rng);
            s.validate(&child).unwrap();
            let (a, b) = (s.cell(&parent).unwrap().ops(), s.cell(&child).unwrap().ops());
            let changed: Vec<usize> = (0..NUM_EDGES).filter(|&e| a[e] != b[e]).collect();
            assert_eq!(changed.len(), 1, "{parent} -> {child}");
            per_edge[changed[0]] += 1;
            parent = child;
        }
        // Node-then-input selection: node 1's edge 1/3, node 2's edges 1/6, node 3's 1/9.
        for (edge, &count) in per_edge.iter().enumerate() {
            let node = EDGES[edge].1;
            let expected = 9_000.0 / (3.0 * node as f64);
            assert!((count as f64 - expected).abs() < 0.15 * expected, "{per_edge:?}");
        }
    }

    #[test]
    fn mutate_is_seeded() {
        let s = space();
        let run = |seed: u64| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut arch = s.sample(&mut rng);
            let mut out = Vec::new();
            for _ in 0..100 {
                arch = s.mutate(&arch, &mut rng);
                out.push(arch.clone());
            }
            out
        };
        assert_eq!(run(11), run(11));
        assert_ne!(run(11), run(12));
    }

    #[test]
    fn mutate_reaches_every_other_op() {
        let s = space();
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let parent = Arch::new("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|");
        let children: HashSet<Arch> = (0..2_000).map(|_| s.mutate(&parent, &mut rng)).collect();
        // 6 edges x 4 other ops.
        assert_eq!(children.len(), 24);
    }

    #[test]
    fn settings_deny_unknown_keys() {
        let ok = Component::new(ComponentKind::Space, NAME);
        assert!(Nb201Space::from_component(&ok).is_ok());
        let bad = Component::new(ComponentKind::Space, NAME).with_toml("ops = 3").unwrap();
        let message = Nb201Space::from_component(&bad).unwrap_err().to_string();
        assert!(message.contains("space.nasbench201") && message.contains("ops"), "{message}");
    }
}
