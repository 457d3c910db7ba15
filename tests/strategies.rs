//! Every strategy end to end on real benchmark tables.

use seminas_core::{prepare, stats, Config};
use seminas_tests::{example_config, reference_file, registry};

const STRATEGIES: [&str; 5] = ["seminas-nao", "nao", "seminas-re", "re", "random"];

/// The NAS-Bench-201 example config with `strategy` and `seed`.
fn nb201(strategy: &str, seed: u64) -> Config {
    let mut config = example_config("nasbench201-seminas-nao.toml");
    config.search.strategy = strategy.into();
    config.search.seed = seed;
    config
}

fn best_test_accuracy(config: Config) -> (f64, Vec<String>) {
    let registry = registry();
    let budget = config.search.budget;
    let (summary, history) = prepare(&registry, config).unwrap().run(None).unwrap();
    assert!(summary.queries <= budget, "over budget: {} > {budget}", summary.queries);
    assert_eq!(history.len(), summary.queries);
    let best = summary.best.expect("at least one evaluation");
    (best.report["test_acc"], history.iter().map(|r| r.key.clone()).collect())
}

#[test]
fn nasbench201_strategies_over_20_seeds() {
    if reference_file("nasbench201/nats_bench.csv").is_none() {
        return;
    }
    let seeds = 20;
    let mut means = Vec::new();
    for strategy in STRATEGIES {
        let results: Vec<f64> = (0..seeds).map(|seed| best_test_accuracy(nb201(strategy, seed)).0).collect();
        let (mean, sd) = (stats::mean(&results), stats::std_dev(&results));
        println!("{strategy:<12} mean best test accuracy {mean:.3} (sd {sd:.3}) over {seeds} seeds, optimum 94.373");
        means.push((strategy, mean));
    }
    let mean_of = |name: &str| means.iter().find(|(s, _)| *s == name).unwrap().1;
    assert!(
        mean_of("seminas-nao") > mean_of("random"),
        "seminas-nao ({:.3}) should beat random search ({:.3}) at 100 queries",
        mean_of("seminas-nao"),
        mean_of("random")
    );
}

#[test]
fn nasbench201_strategies_are_deterministic() {
    if reference_file("nasbench201/nats_bench.csv").is_none() {
        return;
    }
    for strategy in STRATEGIES {
        let (a, keys_a) = best_test_accuracy(nb201(strategy, 7));
        let (b, keys_b) = best_test_accuracy(nb201(strategy, 7));
        assert_eq!(keys_a, keys_b, "{strategy}: histories differ for the same seed");
        assert_eq!(a, b);
    }
}

#[test]
fn nasbench101_sample_table_runs_every_strategy() {
    if reference_file("nasbench101/sample-11k.jsonl").is_none() {
        return;
    }
    for strategy in STRATEGIES {
        let mut config = example_config("nasbench101-sample-seminas-nao.toml");
        config.search.strategy = strategy.into();
        config.search.budget = 60;
        // Small settings so that every controller-based strategy trains and generates.
        for (name, table) in config.strategy.iter_mut() {
            let small: &[(&str, i64)] = match name.as_str() {
                "seminas-nao" | "nao" => &[("n", 30), ("k", 30), ("new_per_iteration", 15), ("m", 300), ("pretrain_epochs", 20), ("epochs", 2)],
                "seminas-re" => &[("population", 30), ("evaluate", 15), ("m", 300), ("pretrain_epochs", 20), ("epochs", 2)],
                "re" => &[("population", 30)],
                _ => &[],
            };
            for (key, value) in small {
                if table.contains_key(*key) {
                    table.insert(key.to_string(), toml::Value::Integer(*value));
                }
            }
        }
        let registry = registry();
        let (summary, history) = prepare(&registry, config).unwrap().run(None).unwrap();
        assert_eq!(summary.queries, 60, "{strategy} should spend the whole budget");
        assert_eq!(history.len(), 60);
        let best = summary.best.unwrap();
        assert!(best.signal > 0.5 && best.signal < 1.0, "{strategy}: implausible val_acc {}", best.signal);
        assert_eq!(best.details["hash"].as_str().unwrap().len(), 32);
    }
}

#[test]
fn results_are_written_incrementally() {
    if reference_file("nasbench201/nats_bench.csv").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut config = nb201("re", 1);
    config.search.budget = 30;
    let registry = registry();
    let (summary, _) = prepare(&registry, config).unwrap().run(Some(dir.path())).unwrap();
    let history = std::fs::read_to_string(dir.path().join("history.jsonl")).unwrap();
    assert_eq!(history.lines().count(), 30);
    for line in history.lines() {
        let record: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(record["measurement"]["signal"].is_f64());
    }
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("summary.json")).unwrap()).unwrap();
    for key in ["strategy", "seed", "queries", "best", "wall_seconds", "config"] {
        assert!(written.get(key).is_some(), "summary.json lacks `{key}`");
    }
    assert_eq!(written["queries"], summary.queries);
    assert!(dir.path().join("config.toml").exists());
}
