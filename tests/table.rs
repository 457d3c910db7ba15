//! The generic table evaluator on a CSV file, the oracle's query accounting and the space
//! restricted to a table's architectures. No reference data needed: the table is generated
//! over NAS-Bench-201 cells.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use rand::SeedableRng;
use seminas_core::{
    Answer, Arch, Component, ComponentKind, Evaluator, Oracle, RestrictedSpace, SearchSpace, TableEvaluator,
    TableSettings,
};
use seminas_tests::registry;

fn nasbench201() -> Arc<dyn SearchSpace> {
    registry().build_space(&Component::new(ComponentKind::Space, "nasbench201")).unwrap()
}

/// 40 distinct cells and a CSV table of them: `arch`, `val` (signal), `test`, `seconds`.
fn table(dir: &std::path::Path) -> (Vec<Arch>, std::path::PathBuf) {
    let space = nasbench201();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
    let mut seen = HashSet::new();
    let mut archs = Vec::new();
    while archs.len() < 40 {
        let arch = space.sample(&mut rng);
        if seen.insert(space.key(&arch).unwrap()) {
            archs.push(arch);
        }
    }
    let mut csv = String::from("arch,val,test,seconds\n");
    for (i, arch) in archs.iter().enumerate() {
        csv.push_str(&format!("{arch},{},{},{}\n", 50.0 + i as f64, 90.0 - i as f64 * 0.5, 10 + i));
    }
    let path = dir.join("table.csv");
    std::fs::write(&path, csv).unwrap();
    (archs, path)
}

fn settings(path: &std::path::Path) -> TableSettings {
    TableSettings {
        path: path.display().to_string(),
        arch_column: Some("arch".into()),
        signal: "val".into(),
        report: BTreeMap::from([("test_acc".to_string(), "test".to_string())]),
        cost: Some("seconds".into()),
        rank_by: None,
    }
}

#[test]
fn csv_table_answers_its_rows_and_names_what_it_lacks() {
    let dir = tempfile::tempdir().unwrap();
    let (archs, path) = table(dir.path());
    let space = nasbench201();
    let mut table = TableEvaluator::load(space.as_ref(), &path, &settings(&path)).unwrap();
    assert_eq!(table.len(), 40);
    let key = space.key(&archs[7]).unwrap();
    let m = table.evaluate(&archs[7], &key).unwrap();
    assert_eq!((m.signal, m.report["test_acc"], m.cost_seconds), (57.0, 86.5, 17.0));

    // Facts and ranks follow the first report metric: row 0 has the best test accuracy.
    let facts = table.facts().unwrap();
    assert_eq!((facts.metric.as_str(), facts.optimum, facts.size), ("test_acc", 90.0, 40));
    assert_eq!(table.rank(&space.key(&archs[0]).unwrap()), Some(1));
    assert_eq!(table.rank(&space.key(&archs[39]).unwrap()), Some(40));
    assert_eq!(table.members().unwrap().len(), 40);

    // An architecture outside the table is an error naming it.
    let absent = (0..)
        .map(|s| space.sample(&mut rand_chacha::ChaCha8Rng::seed_from_u64(1000 + s)))
        .find(|a| !archs.iter().any(|b| space.key(a).unwrap() == space.key(b).unwrap()))
        .unwrap();
    let err = table.evaluate(&absent, &space.key(&absent).unwrap()).unwrap_err().to_string();
    assert!(err.contains(absent.as_str()) && err.contains("not in the table"), "{err}");

    // A malformed value is an error naming the file, the line and the column.
    let text = std::fs::read_to_string(&path).unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, text.replacen(",57,", ",fifty-seven,", 1)).unwrap();
    let err = TableEvaluator::load(space.as_ref(), &bad, &settings(&bad)).err().unwrap().to_string();
    assert!(err.contains("bad.csv") && err.contains("line 9") && err.contains("`val`"), "{err}");
    // A missing architecture column too.
    let mut no_column = settings(&path);
    no_column.arch_column = Some("cell".into());
    let err = TableEvaluator::load(space.as_ref(), &path, &no_column).err().unwrap().to_string();
    assert!(err.contains("no column `cell`"), "{err}");
}

#[test]
fn oracle_charges_each_distinct_architecture_once_and_never_exceeds_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    let (archs, path) = table(dir.path());
    let space = nasbench201();
    let table = TableEvaluator::load(space.as_ref(), &path, &settings(&path)).unwrap();
    let mut oracle = Oracle::new(space.clone(), Box::new(table), 3);
    assert!(matches!(oracle.query(&archs[0], 0, None).unwrap(), Answer::New(_)));
    assert!(matches!(oracle.query(&archs[0], 0, None).unwrap(), Answer::Known(_)));
    assert!(matches!(oracle.query(&archs[1], 1, Some(0.5)).unwrap(), Answer::New(_)));
    assert!(matches!(oracle.query(&archs[2], 1, None).unwrap(), Answer::New(_)));
    assert_eq!(oracle.remaining(), 0);
    assert_eq!(oracle.query(&archs[3], 1, None).unwrap(), Answer::OverBudget);
    // Repeats stay free once the budget is spent.
    assert!(matches!(oracle.query(&archs[1], 2, None).unwrap(), Answer::Known(_)));
    assert_eq!(oracle.spent(), 3);
    assert_eq!(oracle.cost_seconds(), 10.0 + 11.0 + 12.0);
    let history = oracle.history();
    assert_eq!(history.iter().map(|r| r.query).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(history[1].predicted, Some(0.5));
    assert_eq!(history.iter().map(|r| r.best_signal).collect::<Vec<_>>(), [50.0, 51.0, 52.0]);
    assert_eq!(oracle.best().unwrap().arch, archs[2]);
}

#[test]
fn restricted_space_samples_and_mutates_within_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let (archs, path) = table(dir.path());
    let space = nasbench201();
    let table = TableEvaluator::load(space.as_ref(), &path, &settings(&path)).unwrap();
    let restricted = RestrictedSpace::new(space.clone(), table.members().unwrap()).unwrap();
    assert_eq!(restricted.len(), 40);
    let keys: HashSet<String> = archs.iter().map(|a| space.key(a).unwrap()).collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
    let mut sampled = HashSet::new();
    for _ in 0..400 {
        let arch = restricted.sample(&mut rng);
        let key = restricted.key(&arch).unwrap();
        assert!(keys.contains(&key), "sampled {arch}, not in the table");
        sampled.insert(key);
        let child = restricted.mutate(&arch, &mut rng);
        assert!(keys.contains(&restricted.key(&child).unwrap()), "mutated to {child}, not in the table");
    }
    assert!(sampled.len() > 30, "sampling should reach most of the table, reached {}", sampled.len());
}
