//! Searches whose evaluator trains NAS-Bench-101 networks (`nasbench101-train`).

use std::path::Path;
use std::process::{Command, Output};

fn seminas() -> Command {
    Command::new(env!("CARGO_BIN_EXE_seminas"))
}

fn check(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

/// A search small enough for a test: a tiny network trained for a few steps and a controller
/// trained for a few epochs.
const TINY: &str = r#"
[search]
space = "nasbench101"
evaluator = "nasbench101-train"
strategy = "seminas-nao"
budget = 6
seed = 1

[evaluator.nasbench101-train]
stacks = 1
cells = 1
channels = 8
steps = 30
batch_size = 32
bn_momentum = 0.9

[strategy.seminas-nao]
n = 4
m = 50
up_sample = 2
k = 4
new_per_iteration = 2
pretrain_epochs = 10
epochs = 2
"#;

#[test]
fn tiny_search_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tiny.toml");
    std::fs::write(&config, TINY).unwrap();
    let out_dir = dir.path().join("run");
    let stdout = check(
        &seminas()
            .args(["search", "--config"])
            .arg(&config)
            .arg("--out")
            .arg(&out_dir)
            .output()
            .unwrap(),
    );
    assert!(
        stdout.contains("best architecture")
            && stdout.contains("hash:")
            && stdout.contains("matrix:"),
        "{stdout}"
    );
    assert!(
        stdout.contains("test_acc") && stdout.contains("median test_acc"),
        "{stdout}"
    );
    let history = std::fs::read_to_string(out_dir.join("history.jsonl")).unwrap();
    assert_eq!(history.lines().count(), 6);
    let summary = summary(&out_dir);
    assert_eq!(summary["queries"], 6);
    let best = &summary["best"];
    let val = best["signal"].as_f64().unwrap();
    assert!(val > 0.1 && val <= 1.0, "{best}");
    assert!(best["report"]["test_acc"].as_f64().unwrap() > 0.0);
    assert!(best["details"]["hash"].as_str().unwrap().len() == 32);
    assert!(summary["initial_median"]["test_acc"].as_f64().is_some());
    // N random cells, then controller iterations.
    let iterations: Vec<u64> = history
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["iteration"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(
        iterations.iter().filter(|&&i| i == 0).count(),
        4,
        "{history}"
    );
    assert!(iterations.iter().any(|&i| i >= 1), "{history}");
}

#[test]
fn main_job_is_the_default() {
    // `seminas search` without --config runs the embedded main job; two queries keep it short.
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("run");
    let out = seminas()
        .args(["search", "--budget", "2", "--out"])
        .arg(&out_dir)
        .output()
        .unwrap();
    let stdout = check(&out);
    assert!(String::from_utf8_lossy(&out.stderr).contains("main job"));
    assert!(
        stdout.contains("seminas-nao on nasbench101 (nasbench101-train)"),
        "{stdout}"
    );
    let summary = summary(&out_dir);
    assert_eq!(summary["queries"], 2);
    assert_eq!(
        summary["config"]["evaluator"]["nasbench101-train"]["dataset"],
        "digits"
    );
    // The saved config resumes like any other.
    assert!(out_dir.join("config.toml").is_file());
}

#[test]
fn short_search_on_debian_fashion_mnist() {
    let dir = Path::new("/usr/share/datasets/fashion-mnist");
    if !dir.join("train-images-idx3-ubyte.gz").is_file() {
        println!(
            "skipped: {} not found (apt-get install dataset-fashion-mnist)",
            dir.display()
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("fashion.toml");
    let text = TINY.replace("budget = 6", "budget = 3").replace("n = 4", "n = 2").replace(
        "[evaluator.nasbench101-train]",
        "[evaluator.nasbench101-train]\ndataset = { idx = \"/usr/share/datasets/fashion-mnist\" }\n\
         train_images = 2000\nvalidation_images = 500\ntest_images = 500",
    );
    std::fs::write(&config, text).unwrap();
    let out_dir = tmp.path().join("run");
    check(
        &seminas()
            .args(["search", "--config"])
            .arg(&config)
            .arg("--out")
            .arg(&out_dir)
            .output()
            .unwrap(),
    );
    let summary = summary(&out_dir);
    assert_eq!(summary["queries"], 3);
    // Fashion-MNIST after 30 steps of a tiny network: better than chance.
    assert!(
        summary["best"]["signal"].as_f64().unwrap() > 0.2,
        "{}",
        summary["best"]
    );
}

#[test]
fn throughput_command_trains() {
    let out = seminas()
        .args([
            "train-throughput",
            "--stacks",
            "1",
            "--cells",
            "1",
            "--channels",
            "8",
            "--batch-size",
            "8",
        ])
        .args(["--size", "8", "--warmup", "1", "--steps", "2"])
        .output()
        .unwrap();
    let stdout = check(&out);
    assert!(stdout.contains("images/s"), "{stdout}");
}
