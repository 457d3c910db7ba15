//! `seminas experiment`: trials in parallel, report, figures, and no trial run twice.

use std::path::PathBuf;
use std::process::Command;

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
}
