//! # seminas-nasbench101
//!
//! The NAS-Bench-101 search space for seminas, registered as the space `nasbench101`:
//!
//! - [`spec`]: cells, pruning and validity exactly as the official `nasbench` API
//!   (`ModelSpec._prune` and `NASBench.is_valid`);
//! - [`hash`]: the official module hash (`graph_util.hash_module`), the space's canonical key;
//! - [`encoding`]: the 27-token sequence of SemiNAS/NAO (`convert_arch_to_seq`);
//! - [`NasBench101Space`]: sampling and mutation as in the NAS-Bench-101 paper's random
//!   search and regularized evolution.
//!
//! - [`network`]: the NAS-Bench-101 network of a cell, trained from scratch on Burn by the
//!   `nasbench101-train` evaluator.
//!
//! Query results come from the `nasbench101` evaluator (the official data file), from the core
//! `table` evaluator (e.g. a JSON-lines file whose records carry `matrix` and `ops`), or from
//! training (`nasbench101-train`).
#![warn(missing_docs)]

pub mod canonical;
pub mod data;
pub mod encoding;
pub mod enumerate;
mod evaluator;
pub mod hash;
mod md5x;
pub mod network;
mod space;
pub mod spec;

use std::sync::Arc;

use seminas_core::{Registry, Result};
use serde::Deserialize;

pub use data::NasBench101Data;
pub use enumerate::{all_cells, enumerate_all, Cell, NUM_CELLS};
pub use evaluator::{EvaluatorSettings, NasBench101Evaluator, EVALUATOR_NAME};
pub use hash::hash_module;
pub use space::{
    NasBench101Space, Sampling, EDGE_FLIP_PROB, NUM_EDGE_BITS, NUM_OP_POSITIONS, OP_CHANGE_PROB,
};
pub use spec::{ModelSpec, Op, RawCell, SpecError, MAX_EDGES, MAX_VERTICES};

/// Registry key of the space.
pub const SPACE_NAME: &str = "nasbench101";

const DESCRIPTION: &str =
    "NAS-Bench-101 cells (<= 7 vertices, <= 9 edges, conv3x3/conv1x1/maxpool3x3): \
     official pruning, validity and module hash as key; 27-token SemiNAS sequence; \
     architectures as {\"matrix\":...,\"ops\":...} JSON";

const EXAMPLE: &str = "sampling = \"uniform\"  # uniform over the 423,624 cells | random-spec\n\
     # with the table evaluator, e.g.\n\
     # [evaluator.table]\n\
     # path = \"${SEMINAS_REFERENCE_DATA}/nasbench101/sample-11k.jsonl\"\n\
     # signal = \"val_acc.108\"\n\
     # cost = \"train_seconds\"";

/// Settings of `[space.nasbench101]`; unknown keys are errors.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    /// How random cells are drawn (default uniform).
    #[serde(default)]
    sampling: Sampling,
}

/// Registers the `nasbench101` space and the `nasbench101` and `nasbench101-train` evaluators.
pub fn register(registry: &mut Registry) -> Result<()> {
    registry.add_space(SPACE_NAME, DESCRIPTION, EXAMPLE, |component| {
        let Settings { sampling } = component.parse()?;
        Ok(Arc::new(NasBench101Space::with_sampling(sampling)))
    })?;
    registry.add_evaluator(
        EVALUATOR_NAME,
        evaluator::DESCRIPTION,
        evaluator::EXAMPLE,
        |component, space| {
            Ok(Box::new(NasBench101Evaluator::from_component(
                component, space,
            )?))
        },
    )?;
    registry.add_evaluator(
        network::TRAIN_EVALUATOR_NAME,
        network::DESCRIPTION,
        network::EXAMPLE,
        |component, space| {
            Ok(Box::new(network::TrainEvaluator::from_component(
                component, space,
            )?))
        },
    )
}

seminas_core::register_plugin!(register);

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::path::PathBuf;
    use std::time::Instant;

    use seminas_core::{Arch, Component, ComponentKind, SearchSpace};

    use super::*;

    /// The reference data folder, or `None` (with a note) when the variable is unset.
    fn reference_file(name: &str) -> Option<PathBuf> {
        let Some(dir) = std::env::var_os("SEMINAS_REFERENCE_DATA") else {
            println!("skipped: SEMINAS_REFERENCE_DATA not set");
            return None;
        };
        let path = PathBuf::from(dir).join("nasbench101").join(name);
        assert!(
            path.is_file(),
            "reference file {} is missing",
            path.display()
        );
        Some(path)
    }

    /// Every record of a reference file: (line, record).
    fn records(name: &str) -> Option<Vec<(usize, serde_json::Value)>> {
        let path = reference_file(name)?;
        let text = std::fs::read_to_string(&path).unwrap();
        let out: Vec<_> = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                (
                    i + 1,
                    serde_json::from_str(l).unwrap_or_else(|e| panic!("{name}:{}: {e}", i + 1)),
                )
            })
            .collect();
        assert!(!out.is_empty(), "{name} is empty");
        Some(out)
    }

    fn check_hashes(name: &str) {
        let Some(records) = records(name) else { return };
        let space = NasBench101Space::new();
        let archs: Vec<(usize, &str, Arch)> = records
            .iter()
            .map(|(line, r)| {
                let arch = space
                    .from_record(r, None)
                    .unwrap_or_else(|e| panic!("{name}:{line}: {e}"));
                (*line, r["hash"].as_str().unwrap(), arch)
            })
            .collect();
        let start = Instant::now();
        for (line, want, arch) in &archs {
            assert_eq!(space.key(arch).unwrap(), *want, "{name}:{line}: {arch}");
        }
        println!("{name}: {} hashes in {:?}", archs.len(), start.elapsed());
    }

    #[test]
    fn reference_hash_vectors() {
        check_hashes("hash-vectors.jsonl");
    }

    #[test]
    fn reference_sample_hashes() {
        check_hashes("sample-11k.jsonl");
        // The sample holds distinct cells: their keys differ.
        let Some(records) = records("sample-11k.jsonl") else {
            return;
        };
        let space = NasBench101Space::new();
        let keys: HashSet<String> = records
            .iter()
            .map(|(_, r)| space.key(&space.from_record(r, None).unwrap()).unwrap())
            .collect();
        assert_eq!(keys.len(), records.len());
    }

    /// The enumeration's cells by hash.
    fn enumerated() -> std::collections::HashMap<&'static str, &'static ModelSpec> {
        enumerate::all_cells()
            .iter()
            .map(|c| (c.hash(), c.spec()))
            .collect()
    }

    #[test]
    fn enumeration_holds_the_reference_sample() {
        // The sample comes from the official data set, whose cells are the first cell of each
        // hash in the official generation order: the enumeration has each with the same
        // hash, matrix and ops.
        let Some(records) = records("sample-11k.jsonl") else {
            return;
        };
        let cells = enumerated();
        for (line, r) in &records {
            let hash = r["hash"].as_str().unwrap();
            let spec = cells
                .get(hash)
                .unwrap_or_else(|| panic!("sample-11k.jsonl:{line}: hash {hash} not enumerated"));
            let matrix: Vec<Vec<u8>> = serde_json::from_value(r["matrix"].clone()).unwrap();
            let ops: Vec<String> = serde_json::from_value(r["ops"].clone()).unwrap();
            assert_eq!(spec.matrix(), matrix, "sample-11k.jsonl:{line}");
            let labels: Vec<&str> = spec.ops().iter().map(|o| o.label()).collect();
            assert_eq!(labels, ops, "sample-11k.jsonl:{line}");
        }
    }

    #[test]
    fn enumeration_holds_the_reference_hash_vectors() {
        // hash-vectors.jsonl lists every cell of up to 5 vertices, some more than once in
        // isomorphic forms (written as the official walk first meets them, which is not
        // always the data set's form): each record prunes to a cell of its hash, and the
        // hashes are exactly those of the enumerated cells of up to 5 vertices.
        let Some(records) = records("hash-vectors.jsonl") else {
            return;
        };
        let cells = enumerated();
        for (line, r) in &records {
            let hash = r["hash"].as_str().unwrap();
            let spec = cells
                .get(hash)
                .unwrap_or_else(|| panic!("hash-vectors.jsonl:{line}: hash {hash} not enumerated"));
            let pruned = ModelSpec::from_value(r).unwrap();
            assert_eq!(pruned.hash(), hash, "hash-vectors.jsonl:{line}");
            assert_eq!(
                pruned.num_vertices(),
                spec.num_vertices(),
                "hash-vectors.jsonl:{line}"
            );
            assert_eq!(
                pruned.num_edges(),
                spec.num_edges(),
                "hash-vectors.jsonl:{line}"
            );
            // The same cell as the enumerated one, matrix and ops, up to the numbering of its
            // middle vertices.
            assert_eq!(
                canonical::canonical_code(&pruned),
                canonical::canonical_code(spec),
                "hash-vectors.jsonl:{line}: not isomorphic to the enumerated cell of its hash"
            );
            if pruned.matrix() == spec.matrix() {
                let ops: Vec<&str> = pruned.ops().iter().map(|o| o.label()).collect();
                let expected: Vec<&str> = spec.ops().iter().map(|o| o.label()).collect();
                assert_eq!(ops, expected, "hash-vectors.jsonl:{line}");
            }
        }
        let small: HashSet<&str> = enumerate::all_cells()
            .iter()
            .filter(|c| c.spec().num_vertices() <= 5)
            .map(|c| c.hash())
            .collect();
        let listed: HashSet<&str> = records
            .iter()
            .map(|(_, r)| r["hash"].as_str().unwrap())
            .collect();
        assert_eq!(listed.len(), 2532);
        assert!(
            listed == small,
            "the hashes of all cells of up to 5 vertices"
        );
    }

    #[test]
    fn isomorphic_reference_vectors_share_hashes() {
        // hash-vectors.jsonl lists every 4- and 5-vertex graph, isomorphic ones included:
        // equal hashes must come with equal sorted degree/label profiles.
        let Some(records) = records("hash-vectors.jsonl") else {
            return;
        };
        let space = NasBench101Space::new();
        let mut profiles: std::collections::HashMap<String, Vec<(usize, usize, Op)>> =
            Default::default();
        for (line, r) in &records {
            let spec = space.spec(&space.from_record(r, None).unwrap()).unwrap();
            let n = spec.num_vertices();
            let mut profile: Vec<(usize, usize, Op)> = (0..n)
                .map(|v| {
                    let out = (0..n).filter(|&w| spec.has_edge(v, w)).count();
                    let inn = (0..n).filter(|&w| spec.has_edge(w, v)).count();
                    (out, inn, spec.ops()[v])
                })
                .collect();
            profile.sort();
            let hash = r["hash"].as_str().unwrap().to_string();
            if let Some(previous) = profiles.insert(hash.clone(), profile.clone()) {
                assert_eq!(previous, profile, "hash-vectors.jsonl:{line}: {hash}");
            }
        }
    }

    fn check_round_trip(name: &str) {
        let Some(records) = records(name) else { return };
        let space = NasBench101Space::new();
        for (line, record) in &records {
            let arch = space.from_record(record, None).unwrap();
            let spec = space.spec(&arch).unwrap();
            // The reference cells are already pruned: the notation keeps them as they are.
            let matrix: Vec<Vec<u8>> = serde_json::from_value(record["matrix"].clone()).unwrap();
            let ops: Vec<String> = serde_json::from_value(record["ops"].clone()).unwrap();
            assert_eq!(spec.matrix(), matrix, "{name}:{line}");
            assert_eq!(
                spec.ops().iter().map(|o| o.label()).collect::<Vec<_>>(),
                ops,
                "{name}:{line}"
            );
            let seq = space.encode(&arch).unwrap();
            assert_eq!(seq.len(), 27);
            let back = space
                .decode(&seq)
                .unwrap_or_else(|e| panic!("{name}:{line}: {e}"));
            let back_spec = space.spec(&back).unwrap();
            assert_eq!(back_spec, spec, "{name}:{line}");
            assert_eq!(
                space.key(&back).unwrap(),
                record["hash"].as_str().unwrap(),
                "{name}:{line}"
            );
        }
    }

    #[test]
    fn reference_round_trip_hash_vectors() {
        check_round_trip("hash-vectors.jsonl");
    }

    #[test]
    fn reference_round_trip_sample() {
        check_round_trip("sample-11k.jsonl");
    }

    #[test]
    fn reference_table_evaluator() {
        let Some(path) = reference_file("sample-11k.jsonl") else {
            return;
        };
        let space = NasBench101Space::new();
        let settings: seminas_core::TableSettings =
            toml::from_str("path = 'unused'\nsignal = 'val_acc.108'\ncost = 'train_seconds'")
                .unwrap();
        let table = seminas_core::TableEvaluator::load(&space, &path, &settings).unwrap();
        assert_eq!(table.len(), 11_000);
        let mut evaluator: Box<dyn seminas_core::Evaluator> = Box::new(table);
        let arch = Arch::new(
            r#"{"matrix":[[0,1,1,1,0,0,0],[0,0,0,0,1,0,1],[0,0,0,0,1,0,0],[0,0,0,0,0,1,0],[0,0,0,0,0,1,0],[0,0,0,0,0,0,1],[0,0,0,0,0,0,0]],"ops":["input","conv3x3-bn-relu","conv1x1-bn-relu","conv1x1-bn-relu","conv3x3-bn-relu","maxpool3x3","output"]}"#,
        );
        let key = space.key(&arch).unwrap();
        assert_eq!(key, "15f63ccf767bfa34fa4e9c9a66de8126");
        let m = evaluator.evaluate(&arch, &key).unwrap();
        assert!((m.signal - 0.922776460647583).abs() < 1e-12);
        assert!(m.cost_seconds > 1588.0 && m.cost_seconds < 1589.0);
    }

    #[test]
    fn registered_with_settings_checked() {
        let mut registry = Registry::new();
        register(&mut registry).unwrap();
        let space = registry
            .build_space(&Component::new(ComponentKind::Space, SPACE_NAME))
            .unwrap();
        assert_eq!(space.name(), SPACE_NAME);
        assert_eq!(space.encoding().length(), 27);
        // The example parses (it is all comments) and builds.
        let example = Component::new(ComponentKind::Space, SPACE_NAME)
            .with_toml(EXAMPLE)
            .unwrap();
        assert!(registry.build_space(&example).is_ok());
        let random_spec = Component::new(ComponentKind::Space, SPACE_NAME)
            .with_toml("sampling = 'random-spec'")
            .unwrap();
        assert!(registry.build_space(&random_spec).is_ok());
        let wrong = Component::new(ComponentKind::Space, SPACE_NAME)
            .with_toml("sampling = 'biased'")
            .unwrap();
        let err = registry.build_space(&wrong).err().unwrap().to_string();
        assert!(err.contains("space.nasbench101.sampling"), "{err}");
        let bad = Component::new(ComponentKind::Space, SPACE_NAME)
            .with_toml("vertices = 8")
            .unwrap();
        let err = registry
            .build_space(&bad)
            .err()
            .expect("unknown keys are errors")
            .to_string();
        assert!(err.contains("vertices"), "{err}");
    }

    #[test]
    fn compiled_in_registration() {
        let registry = Registry::with_builtin().unwrap();
        assert!(registry.contains(ComponentKind::Space, SPACE_NAME));
    }
}
