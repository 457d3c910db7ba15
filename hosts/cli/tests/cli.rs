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

const NB201_SEARCH: &str = "[search]\nspace = 'nasbench201'\nevaluator = 'nasbench201'\nbudget = 20\n";

/// Settings no search can use are refused up front (exit 2, naming the key and value), not
/// met later as a hang or a panic.
#[test]
fn out_of_range_settings_are_exit_2_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    for (table, key) in [
        ("[search]\nstrategy = 'seminas-nao'\n[strategy.seminas-nao]\nnew_per_iteration = 0\n", "strategy.seminas-nao.new_per_iteration"),
        ("[search]\nstrategy = 'nao'\n[strategy.nao]\nk = 0\n", "strategy.nao.k"),
        ("[search]\nstrategy = 'seminas-nao'\n[controller.nao]\nstep_size = 0.0\n", "controller.nao.step_size"),
        ("[search]\nstrategy = 'seminas-nao'\n[controller.nao]\ndropout = 1.5\n", "controller.nao.dropout"),
        ("[search]\nstrategy = 'seminas-nao'\n[controller.nao]\ntrade_off = 2.0\n", "controller.nao.trade_off"),
        ("[search]\nstrategy = 're'\n[strategy.re]\npopulation = 5\nsample = 6\n", "strategy.re.sample"),
        ("[search]\nstrategy = 'seminas-re'\n[strategy.seminas-re]\nchildren = 0\n", "strategy.seminas-re.children"),
    ] {
        // The [search] keys of the table first, then the common ones.
        let (search, rest) = table.split_once("\n[").map(|(s, r)| (s, format!("[{r}"))).unwrap();
        let text = format!("{search}\n{}\n{rest}", &NB201_SEARCH["[search]\n".len()..]);
        let config = write_config(dir.path(), &text);
        let out_dir = dir.path().join("out");
        let out = seminas().args(["search", "--config"]).arg(&config).arg("--out").arg(&out_dir).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{key}: {err}");
        assert!(err.contains(key) && err.contains("bad.toml"), "{key}: {err}");
        assert!(!out_dir.exists(), "{key}: nothing may be written for a bad config");
    }
}

/// A TOML syntax error names the line and column; an empty file names what is missing.
#[test]
fn syntax_errors_name_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &format!("{NB201_SEARCH}seed = 3 x\n"));
    let out = seminas().args(["search", "--config"]).arg(&config).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("line 5, column 10") && err.contains("bad.toml"), "{err}");

    let config = write_config(dir.path(), "");
    let out = seminas().args(["search", "--config"]).arg(&config).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("missing field `search`") && !err.contains("at ``"), "{err}");
}

/// `search` never writes over a run folder; `--resume` takes no overrides.
#[test]
fn existing_runs_are_not_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), NB201_SEARCH);
    let run = dir.path().join("run");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::write(run.join("history.jsonl"), "{\"query\":1}\n").unwrap();
    let out = seminas().args(["search", "--config"]).arg(&config).arg("--out").arg(&run).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("interrupted run") && err.contains("--resume"), "{err}");
    assert_eq!(std::fs::read_to_string(run.join("history.jsonl")).unwrap(), "{\"query\":1}\n");
    assert!(!run.join("config.toml").exists());

    let out = seminas().args(["search", "--resume"]).arg(&run).args(["--budget", "200"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--budget"));
    let out = seminas().args(["search", "--seed", "18446744073709551615", "--config"]).arg(&config).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// An experiment folder of another configuration is refused before anything in it changes.
#[test]
fn experiment_of_another_configuration_is_refused_unchanged() {
    let Some(_) = std::env::var_os("SEMINAS_REFERENCE_DATA") else {
        println!("skipped: SEMINAS_REFERENCE_DATA not set");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &format!("{NB201_SEARCH}strategy = 'random'\n"));
    let exp = dir.path().join("exp");
    let run = |extra: &[&str]| {
        let mut args = vec!["experiment"];
        for (flag, default) in [("--trials", "2"), ("--jobs", "1")] {
            if !extra.contains(&flag) {
                args.extend([flag, default]);
            }
        }
        args.push("--config");
        seminas()
            .args(args)
            .arg(&config)
            .arg("--out")
            .arg(&exp)
            .args(extra)
            .output()
            .unwrap()
    };
    assert!(run(&[]).status.success());
    let files = ["config.toml", "experiment.json", "trials.csv"].map(|f| std::fs::read(exp.join(f)).unwrap());
    for extra in [&["--budget", "30"][..], &["--trials", "0"][..], &["--jobs", "0"][..]] {
        let out = run(extra);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {}", String::from_utf8_lossy(&out.stderr));
        let after = ["config.toml", "experiment.json", "trials.csv"].map(|f| std::fs::read(exp.join(f)).unwrap());
        assert_eq!(after, files, "{extra:?} changed the experiment");
    }
    let out = run(&["--budget", "30"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("another configuration"));
    // The same command again is fine: its trials are finished.
    assert!(run(&[]).status.success());
}
