//! Every ready config in `examples/configs/` and `examples/experiments/` loads, and every
//! component it names builds with its settings (evaluators whose data is absent excepted).

use std::path::PathBuf;

use seminas_core::{ComponentKind, Config};
use seminas_tests::registry;

fn toml_files(folder: &str) -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples").join(folder);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn example_configs_build() {
    let registry = registry();
    let files: Vec<PathBuf> = toml_files("configs").into_iter().chain(toml_files("experiments")).collect();
    assert!(files.len() >= 25, "{} example configs", files.len());
    for path in files {
        let name = path.display();
        let config = Config::load(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let s = &config.search;
        let mut strategies: Vec<String> = config.strategy.keys().cloned().collect();
        strategies.push(s.strategy.clone());
        if let Some(experiment) = &config.experiment {
            strategies.extend(experiment.strategies.iter().cloned());
            strategies.extend(experiment.sweep.iter().map(|sweep| sweep.strategy.clone()));
        }
        for strategy in &strategies {
            registry
                .build_strategy(&config.component(ComponentKind::Strategy, strategy))
                .unwrap_or_else(|e| panic!("{name}: strategy {strategy}: {e}"));
        }
        let space = registry
            .build_space(&config.component(ComponentKind::Space, &s.space))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        registry
            .build_controller(&config.component(ComponentKind::Controller, &s.controller), &space.encoding())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        // Evaluators read data files; build those whose data is here.
        match registry.build_evaluator(&config.component(ComponentKind::Evaluator, &s.evaluator), &space) {
            Ok(_) => {}
            Err(e) => {
                let text = e.to_string();
                let data_missing = text.contains("SEMINAS_REFERENCE_DATA")
                    || text.contains("NASBENCH101_TFRECORD")
                    || text.contains("No such file");
                assert!(data_missing, "{name}: {text}");
                println!("{name}: evaluator not built ({text})");
            }
        }
    }
}
