//! `seminas experiment`: trials in parallel, report, figures, and no trial run twice.

use std::path::PathBuf;
use std::process::Command;

mod common;

#[test]
fn experiment_writes_table_figures_and_skips_finished_trials() {
    if std::env::var_os("SEMINAS_REFERENCE_DATA").is_none() {
        println!("skipped: SEMINAS_REFERENCE_DATA not set");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("exp.toml");
    let base = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/configs/nasbench201-seminas-nao.toml"),
    )
    .unwrap();
    let text = base.replace(
        "[evaluator.nasbench201]",
        "[experiment]\nstrategies = [\"re\", \"random\"]\n\n[[experiment.sweep]]\nstrategy = \"re\"\nkey = \"population\"\nvalues = [10, 20]\n\n[evaluator.nasbench201]",
    );
    std::fs::write(&config, text).unwrap();
    let out = dir.path().join("exp");
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_seminas"))
            .args(["experiment", "--trials", "4", "--jobs", "2", "--budget", "40", "--config"])
            .arg(&config)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap()
    };
    let first = run();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let csv = std::fs::read_to_string(out.join("trials.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 4 * 4, "{csv}");
    assert!(csv.starts_with("method,strategy,seed,queries,best_signal,best_report,regret,rank,wall_seconds"));
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    for method in ["| re |", "| random |", "| re population=10 |", "| re population=20 |"] {
        assert!(report.contains(method), "report.md lacks {method}:\n{report}");
    }
    assert!(report.contains("99% CI"));
    for figure in ["convergence.svg", "final.svg", "sweep-re-population.svg"] {
        let svg = std::fs::read_to_string(out.join(figure)).unwrap();
        assert!(svg.starts_with("<svg") && svg.len() > 1000, "{figure} is not a drawn SVG");
    }
    // Rerunning reads the finished trials back instead of running them again.
    let marker = out.join("trials/random/seed0/trial.json");
    let before = std::fs::metadata(&marker).unwrap().modified().unwrap();
    let second = run();
    assert!(second.status.success());
    assert_eq!(std::fs::metadata(&marker).unwrap().modified().unwrap(), before, "a finished trial ran again");
    assert_eq!(std::fs::read_to_string(out.join("trials.csv")).unwrap(), csv);

    // `--resume DIR` takes the config and trial count saved there.
    let resumed = Command::new(env!("CARGO_BIN_EXE_seminas")).args(["experiment", "--resume"]).arg(&out).output().unwrap();
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    assert_eq!(std::fs::metadata(&marker).unwrap().modified().unwrap(), before, "a finished trial ran again");
    assert_eq!(std::fs::read_to_string(out.join("trials.csv")).unwrap(), csv);

    // Trials run with another configuration are never mixed in.
    let other = Command::new(env!("CARGO_BIN_EXE_seminas"))
        .args(["experiment", "--trials", "4", "--budget", "30", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&other.stderr);
    assert!(!other.status.success() && stderr.contains("another configuration"), "{stderr}");
}

/// The rows of trials.csv without the wall time, the one column that differs between runs.
fn rows_without_wall_time(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("trials.csv"))
        .unwrap()
        .lines()
        .map(|l| l.rsplit_once(',').unwrap().0.to_string())
        .collect()
}

/// An experiment SIGKILLed while every running trial is mid-search resumes with
/// `experiment --resume DIR` to the results of an uninterrupted experiment.
#[test]
fn killed_experiment_resumes_to_the_same_results() {
    if std::env::var_os("SEMINAS_REFERENCE_DATA").is_none() {
        println!("skipped: SEMINAS_REFERENCE_DATA not set");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/configs/nasbench201-re.toml");
    let experiment = |out: &std::path::Path| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_seminas"));
        cmd.args(["experiment", "--trials", "3", "--jobs", "2", "--budget", "40", "--config"]).arg(&config).arg("--out").arg(out);
        cmd
    };
    let reference = dir.path().join("reference");
    let done = experiment(&reference).output().unwrap();
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));

    // Both running trials stop after their 25th evaluation and the process is killed there.
    let killed = dir.path().join("killed");
    common::kill_at_failpoint(experiment(&killed), "stall:after-query=25");
    assert!(!killed.join("trials.csv").exists());

    let resumed = Command::new(env!("CARGO_BIN_EXE_seminas")).args(["experiment", "--resume"]).arg(&killed).output().unwrap();
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    assert_eq!(rows_without_wall_time(&killed), rows_without_wall_time(&reference));
}
