//! The `seminas` binary as a user runs it.

use std::path::PathBuf;
use std::process::Command;

fn seminas() -> Command {
    Command::new(env!("CARGO_BIN_EXE_seminas"))
}

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/configs")
}

#[test]
fn list_shows_every_compiled_in_plugin() {
    let out = seminas().arg("list").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for (kind, name, origin) in [
        ("space", "nasbench101", "seminas-nasbench101"),
        ("space", "nasbench201", "seminas-nasbench201"),
        ("evaluator", "nasbench201", "seminas-nasbench201"),
        ("evaluator", "table", "seminas-core"),
        ("controller", "nao", "seminas-core"),
        ("strategy", "seminas-nao", "seminas-core"),
        ("strategy", "nao", "seminas-core"),
        ("strategy", "seminas-re", "seminas-core"),
        ("strategy", "re", "seminas-core"),
        ("strategy", "random", "seminas-core"),
    ] {
        assert!(
            text.lines().any(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                f.len() >= 3 && f[0] == kind && f[1] == name && f[2] == origin
            }),
            "`seminas list` lacks {kind} {name} from {origin}:\n{text}"
        );
    }
}

fn write_config(dir: &std::path::Path, text: &str) -> PathBuf {
    let path = dir.join("bad.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn unknown_key_is_exit_2_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "[search]\nspace='nasbench201'\nevaluator='nasbench201'\nbudget=10\n\n[strategy.re]\npopulaton=5\n",
    );
    let out_dir = dir.path().join("out");
    let out = seminas().args(["search", "--config"]).arg(&config).arg("--out").arg(&out_dir).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("strategy.re") && err.contains("populaton"), "{err}");
    assert!(!out_dir.exists(), "nothing may be written for a bad config");
}

#[test]
fn wrong_type_is_exit_2_naming_key_and_type() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "[search]\nspace='nasbench201'\nevaluator='nasbench201'\nbudget=10\nstrategy='re'\n\n[strategy.re]\npopulation='ten'\n",
    );
    let out = seminas().args(["search", "--config"]).arg(&config).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("strategy.re.population") && err.contains("usize"), "{err}");
}

#[test]
fn unavailable_device_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "[search]\nspace='nasbench201'\nevaluator='nasbench201'\nbudget=10\n");
    let out = seminas().args(["search", "--device", "libtorch-cuda:0", "--config"]).arg(&config).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("--features libtorch") || err.contains("CUDA device"), "{err}");
}

#[test]
fn search_writes_history_and_summary() {
    if std::env::var_os("SEMINAS_REFERENCE_DATA").is_none() {
        println!("skipped: SEMINAS_REFERENCE_DATA not set");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("run");
    let out = seminas()
        .args(["search", "--strategy", "seminas-nao", "--budget", "100", "--seed", "3", "--config"])
        .arg(examples().join("nasbench201-seminas-nao.toml"))
        .arg("--out")
        .arg(&out_dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("best architecture"), "{stdout}");
    let history = std::fs::read_to_string(out_dir.join("history.jsonl")).unwrap();
    assert_eq!(history.lines().count(), 100);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["strategy"], "seminas-nao");
    assert_eq!(summary["seed"], 3);
    assert_eq!(summary["queries"], 100);
    assert!(summary["best"]["report"]["test_acc"].as_f64().unwrap() > 80.0);
}

/// `predictor eval` on the NAS-Bench-101 sample prints the held-out rank correlations as one
/// JSON object on its last line; a bad `--train` is a command-line error (exit 2).
#[test]
fn predictor_eval_reports_rank_correlation() {
    let Some(data) = std::env::var_os("SEMINAS_REFERENCE_DATA") else {
        println!("skipped: SEMINAS_REFERENCE_DATA not set");
        return;
    };
    let table = PathBuf::from(data).join("nasbench101/sample-11k.jsonl");
    assert!(table.exists(), "SEMINAS_REFERENCE_DATA is set but {} is missing", table.display());
    let out = seminas()
        .args(["predictor", "eval", "--train", "300", "--pretrain-epochs", "60", "--seed", "2", "--table"])
        .arg(&table)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let report: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    println!("predictor eval, 300 labelled cells: {report}");
    assert_eq!(report["train"], 300);
    assert_eq!(report["test"], 11_000 - 300);
    let tau = report["kendall_tau"].as_f64().unwrap();
    let rho = report["spearman_rho"].as_f64().unwrap();
    assert!(tau > 0.2 && rho > tau, "tau {tau}, rho {rho}");
    assert!(report["rmse"].as_f64().unwrap() > 0.0);

    let out = seminas().args(["predictor", "eval", "--train", "0", "--table"]).arg(&table).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--train"));
}
