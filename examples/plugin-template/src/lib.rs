//! # seminas-rastrigin: a seminas task as a dynamic plugin
//!
//! A complete, minimal external task: a search space and an evaluator, built as a `cdylib`
//! that the `seminas` host loads at run time (`--plugin PATH` or `plugins = [...]` in the
//! config's `[search]` table).
//!
//! **The task.** An "architecture" is a point on a grid in `dims` dimensions, each coordinate
//! one of `levels` evenly spaced values in the standard Rastrigin domain `[-5.12, 5.12]`. The
//! evaluator computes the Rastrigin function
//!
//! ```text
//! f(x) = A * d + sum_i (x_i^2 - A * cos(2 * pi * x_i)),    A = 10
//! ```
//!
//! a classic benchmark of global optimisation: it is highly multimodal (a local minimum near
//! every integer point) with a single global minimum `f(0) = 0` at the centre of the grid.
//! Strategies maximise the signal `-f(x)`, so the optimum signal is `0` and the summary's
//! regret is `f(x)` of the best point found.
//!
//! Use this crate as a template: copy the folder, rename the crate, and replace the space and
//! evaluator by your own task. `docs/plugins.md` in the seminas repository explains the
//! contracts the traits must keep.

use std::collections::BTreeMap;
use std::f64::consts::PI;
use std::sync::Arc;
use std::time::Instant;

use seminas_core::rand::{Rng, RngCore};
use seminas_core::{
    Arch, BenchmarkFacts, Component, Encoding, Error, Evaluator, Measurement, Registry, Result, SearchSpace, Token,
};
use serde::Deserialize;

/// Registry name of the space and of the evaluator.
pub const NAME: &str = "rastrigin";

/// Half-width of the Rastrigin domain `[-5.12, 5.12]`.
pub const BOUND: f64 = 5.12;

/// Settings of the space (`[space.rastrigin]`).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct SpaceSettings {
    /// Number of coordinates (default 8, at most 64).
    pub dims: usize,
    /// Grid values per coordinate, odd so that 0 is on the grid (default 21, at most 1001).
    pub levels: usize,
}

impl Default for SpaceSettings {
    fn default() -> Self {
        SpaceSettings { dims: 8, levels: 21 }
    }
}

/// The grid space.
///
/// - Notation: the coordinates as comma-separated integer offsets from the centre level, each
///   in `-h..=h` with `h = (levels - 1) / 2`; e.g. `0,-3,2,0,0,1,-1,4` with the defaults.
///   Coordinate `i` is `x_i = 5.12 * offset_i / h`.
/// - `key`: the same list written canonically (no spaces, no `+`, no leading zeros), so that
///   `+3, 03,-0,...` and `3,3,0,...` share one key. Wrong counts and out-of-range offsets are
///   invalid.
/// - Encoding: one token per coordinate, `token = offset + h + 1` (`vocab_size = levels + 1`;
///   token 0 is the controller's start/end token), every level allowed at every position.
/// - `sample`: every coordinate uniform. `mutate`: one coordinate, chosen uniformly, moves to
///   a different level chosen uniformly.
#[derive(Clone, Debug)]
pub struct GridSpace {
    dims: usize,
    levels: usize,
}

impl GridSpace {
    /// A space of `dims` coordinates with `levels` values each (`levels` odd, at least 3).
    pub fn new(dims: usize, levels: usize) -> Result<Self> {
        if !(1..=64).contains(&dims) {
            return Err(Error::config(format!("space.{NAME}.dims"), format!("must be 1..=64, found {dims}")));
        }
        if !(3..=1001).contains(&levels) || levels % 2 == 0 {
            return Err(Error::config(
                format!("space.{NAME}.levels"),
                format!("must be odd and in 3..=1001, found {levels}"),
            ));
        }
        Ok(GridSpace { dims, levels })
    }

    /// Builds the space from `[space.rastrigin]`.
    pub fn from_component(component: &Component) -> Result<Self> {
        let settings: SpaceSettings = component.parse()?;
        GridSpace::new(settings.dims, settings.levels)
    }

    fn half(&self) -> i64 {
        (self.levels as i64 - 1) / 2
    }

    /// The offsets of a valid architecture; the error says what is wrong.
    pub fn offsets(&self, arch: &Arch) -> Result<Vec<i64>> {
        let h = self.half();
        let offsets = arch
            .as_str()
            .split(',')
            .enumerate()
            .map(|(i, part)| {
                let value: i64 = part.trim().parse().map_err(|_| {
                    Error::InvalidArchitecture(format!("coordinate {i} of `{arch}` is not an integer: `{part}`"))
                })?;
                if value.abs() > h {
                    return Err(Error::InvalidArchitecture(format!(
                        "coordinate {i} of `{arch}` is {value}, outside -{h}..={h}"
                    )));
                }
                Ok(value)
            })
            .collect::<Result<Vec<i64>>>()?;
        if offsets.len() != self.dims {
            return Err(Error::InvalidArchitecture(format!(
                "`{arch}` has {} coordinates, the space has {}",
                offsets.len(),
                self.dims
            )));
        }
        Ok(offsets)
    }

    /// The architecture of a list of offsets (assumed in range).
    pub fn arch(offsets: &[i64]) -> Arch {
        Arch::new(offsets.iter().map(i64::to_string).collect::<Vec<_>>().join(","))
    }

    /// The point `x` of a list of offsets.
    pub fn point(&self, offsets: &[i64]) -> Vec<f64> {
        offsets.iter().map(|&o| BOUND * o as f64 / self.half() as f64).collect()
    }
}

impl SearchSpace for GridSpace {
    fn name(&self) -> &str {
        NAME
    }

    fn sample(&self, rng: &mut dyn RngCore) -> Arch {
        let h = self.half();
        let offsets: Vec<i64> = (0..self.dims).map(|_| rng.random_range(-h..=h)).collect();
        GridSpace::arch(&offsets)
    }

    fn key(&self, arch: &Arch) -> Result<String> {
        Ok(GridSpace::arch(&self.offsets(arch)?).to_string())
    }

    fn encoding(&self) -> Encoding {
        Encoding { vocab_size: self.levels + 1, allowed: vec![(1..=self.levels).collect(); self.dims] }
    }

    fn encode(&self, arch: &Arch) -> Result<Vec<Token>> {
        let h = self.half();
        Ok(self.offsets(arch)?.into_iter().map(|o| (o + h + 1) as Token).collect())
    }

    fn decode(&self, tokens: &[Token]) -> Result<Arch> {
        if tokens.len() != self.dims {
            return Err(Error::InvalidArchitecture(format!(
                "expected {} tokens (one per coordinate), found {}",
                self.dims,
                tokens.len()
            )));
        }
        let h = self.half();
        let mut offsets = Vec::with_capacity(tokens.len());
        for (position, &token) in tokens.iter().enumerate() {
            if !(1..=self.levels).contains(&token) {
                return Err(Error::InvalidArchitecture(format!(
                    "token {token} at position {position} is not a level (expected 1..={})",
                    self.levels
                )));
            }
            offsets.push(token as i64 - 1 - h);
        }
        Ok(GridSpace::arch(&offsets))
    }

    /// Mutates `arch`; an invalid `arch` (which strategies never pass) yields a fresh sample.
    fn mutate(&self, arch: &Arch, rng: &mut dyn RngCore) -> Arch {
        let Ok(mut offsets) = self.offsets(arch) else {
            return self.sample(rng);
        };
        let h = self.half();
        let i = rng.random_range(0..self.dims);
        // Uniform over the other levels.
        let mut value = rng.random_range(-h..h);
        if value >= offsets[i] {
            value += 1;
        }
        offsets[i] = value;
        GridSpace::arch(&offsets)
    }

    fn describe(&self, arch: &Arch) -> serde_json::Value {
        match self.offsets(arch) {
            Ok(offsets) => serde_json::json!({ "offsets": offsets, "x": self.point(&offsets) }),
            Err(_) => serde_json::Value::String(arch.to_string()),
        }
    }
}

/// Settings of the evaluator (`[evaluator.rastrigin]`).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct EvaluatorSettings {
    /// The constant `A` of the Rastrigin function (default 10).
    pub a: f64,
}

impl Default for EvaluatorSettings {
    fn default() -> Self {
        EvaluatorSettings { a: 10.0 }
    }
}

/// The Rastrigin function `f(x) = A d + sum (x_i^2 - A cos(2 pi x_i))`; minimum `f(0) = 0`.
pub fn rastrigin(x: &[f64], a: f64) -> f64 {
    a * x.len() as f64 + x.iter().map(|xi| xi * xi - a * (2.0 * PI * xi).cos()).sum::<f64>()
}

/// Evaluates grid points: signal `-f(x)`; report `rastrigin` (`f(x)`, lower is better) and
/// `distance` (Euclidean distance of `x` to the optimum); cost is the measured wall time.
///
/// Like every evaluator it counts nothing itself: the host's oracle calls `evaluate` once per
/// canonical key and enforces the query budget.
pub struct RastriginEvaluator {
    space: Arc<dyn SearchSpace>,
    half: i64,
    a: f64,
    size: usize,
}

impl RastriginEvaluator {
    /// Builds the evaluator from `[evaluator.rastrigin]` for the `rastrigin` space.
    pub fn from_component(component: &Component, space: &Arc<dyn SearchSpace>) -> Result<Self> {
        let settings: EvaluatorSettings = component.parse()?;
        if space.name() != NAME {
            return Err(Error::config(
                "search.space",
                format!("the {NAME} evaluator needs the {NAME} space, not `{}`", space.name()),
            ));
        }
        let encoding = space.encoding();
        let levels = encoding.vocab_size - 1;
        let size = u32::try_from(encoding.length())
            .ok()
            .and_then(|d| levels.checked_pow(d))
            .unwrap_or(usize::MAX);
        Ok(RastriginEvaluator { space: space.clone(), half: (levels as i64 - 1) / 2, a: settings.a, size })
    }
}

impl Evaluator for RastriginEvaluator {
    fn evaluate(&mut self, arch: &Arch, _key: &str) -> Result<Measurement> {
        let started = Instant::now();
        let x: Vec<f64> = self
            .space
            .encode(arch)?
            .into_iter()
            .map(|t| BOUND * (t as i64 - 1 - self.half) as f64 / self.half as f64)
            .collect();
        let f = rastrigin(&x, self.a);
        let distance = x.iter().map(|xi| xi * xi).sum::<f64>().sqrt();
        Ok(Measurement {
            signal: -f,
            report: BTreeMap::from([("rastrigin".to_string(), f), ("distance".to_string(), distance)]),
            cost_seconds: started.elapsed().as_secs_f64(),
        })
    }

    /// The optimum signal is `-f(0) = 0`, so the regret of a point is its `f(x)`.
    fn facts(&self) -> Option<BenchmarkFacts> {
        Some(BenchmarkFacts { metric: "signal".into(), optimum: 0.0, size: self.size })
    }
}

const SPACE_EXAMPLE: &str = "\
# coordinates (1..=64)
dims = 8
# grid values per coordinate in [-5.12, 5.12]; odd, so that 0 is on the grid
levels = 21";

const EVALUATOR_EXAMPLE: &str = "\
# the constant A of f(x) = A d + sum (x_i^2 - A cos(2 pi x_i)); pair with space = \"rastrigin\"
a = 10.0";

/// Registers the `rastrigin` space and evaluator. The host calls it through the entry point
/// that [`seminas_core::export_plugin!`] generates below.
pub fn register(registry: &mut Registry) -> Result<()> {
    registry.add_space(
        NAME,
        "grid points in [-5.12, 5.12]^dims, written as offsets `0,-3,2,...` (plugin template)",
        SPACE_EXAMPLE,
        |component| Ok(Arc::new(GridSpace::from_component(component)?)),
    )?;
    registry.add_evaluator(
        NAME,
        "Rastrigin function: signal -f(x), optimum 0 at the centre (plugin template)",
        EVALUATOR_EXAMPLE,
        |component, space| Ok(Box::new(RastriginEvaluator::from_component(component, space)?)),
    )?;
    Ok(())
}

seminas_core::export_plugin!(register);

#[cfg(test)]
mod tests {
    use seminas_core::rand::SeedableRng;
    use seminas_core::rand_chacha::ChaCha8Rng;
    use seminas_core::ComponentKind;

    use super::*;

    fn space() -> Arc<dyn SearchSpace> {
        Arc::new(GridSpace::new(8, 21).unwrap())
    }

    #[test]
    fn keys_are_canonical() {
        let s = space();
        assert_eq!(s.key(&Arch::new("+3, 03,-0,0,0,0,0,-10")).unwrap(), "3,3,0,0,0,0,0,-10");
        assert!(s.key(&Arch::new("0,0,0")).is_err());
        assert!(s.key(&Arch::new("11,0,0,0,0,0,0,0")).is_err());
        assert!(s.key(&Arch::new("a,0,0,0,0,0,0,0")).is_err());
    }

    #[test]
    fn encode_decode_round_trip_and_allowed_tokens() {
        let s = space();
        let encoding = s.encoding();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..500 {
            let arch = s.sample(&mut rng);
            let tokens = s.encode(&arch).unwrap();
            assert_eq!(tokens.len(), encoding.length());
            for (position, token) in tokens.iter().enumerate() {
                assert!(encoding.allowed[position].contains(token));
            }
            assert_eq!(s.key(&s.decode(&tokens).unwrap()).unwrap(), s.key(&arch).unwrap());
            let child = s.mutate(&arch, &mut rng);
            assert!(s.validate(&child).is_ok());
            assert_ne!(s.key(&child).unwrap(), s.key(&arch).unwrap());
        }
        assert!(s.decode(&[0; 8]).is_err());
        assert!(s.decode(&[22; 8]).is_err());
        assert!(s.decode(&[1; 7]).is_err());
    }

    #[test]
    fn evaluator_computes_rastrigin() {
        let s = space();
        let mut e = RastriginEvaluator::from_component(&Component::new(ComponentKind::Evaluator, NAME), &s).unwrap();
        let optimum = e.evaluate(&Arch::new("0,0,0,0,0,0,0,0"), "").unwrap();
        assert!(optimum.signal.abs() < 1e-12);
        let corner = e.evaluate(&Arch::new("10,10,10,10,10,10,10,10"), "").unwrap();
        // f(5.12) per coordinate = 5.12^2 + 10 - 10 cos(2 pi 5.12)
        let per = 5.12f64.powi(2) + 10.0 - 10.0 * (2.0 * PI * 5.12).cos();
        assert!((corner.report["rastrigin"] - 8.0 * per).abs() < 1e-9);
        assert_eq!(e.facts().unwrap().size, 21usize.pow(8));
    }

    #[test]
    fn registers_both_components() {
        let mut registry = Registry::new();
        registry.register_from("test", register).unwrap();
        assert!(registry.contains(ComponentKind::Space, NAME));
        assert!(registry.contains(ComponentKind::Evaluator, NAME));
    }
}
