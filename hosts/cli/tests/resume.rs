//! Interrupted runs resume without repeating evaluations and end as uninterrupted runs do.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

fn seminas() -> Command {
    Command::new(env!("CARGO_BIN_EXE_seminas"))
}

fn config() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/configs/nasbench201-seminas-nao.toml")
}

fn search(out: &Path) -> Command {
    let mut cmd = seminas();
    cmd.args(["search", "--seed", "5", "--config"]).arg(config()).arg("--out").arg(out);
    cmd
}

fn keys(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("history.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["key"].as_str().unwrap().to_string())
        .collect()
}

fn best(dir: &Path) -> serde_json::Value {
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    summary["best"]["key"].clone()
}

/// Whether the reference data is there; says "skipped" when it is not.
fn has_data() -> bool {
    let set = std::env::var_os("SEMINAS_REFERENCE_DATA").is_some();
    if !set {
        println!("skipped: SEMINAS_REFERENCE_DATA not set");
    }
    set
}

fn resume(dir: &Path) -> std::process::Output {
    seminas().args(["search", "--resume"]).arg(dir).output().unwrap()
}

/// Runs the search into `dir` and SIGKILLs it at `failpoint`.
fn kill_at(dir: &Path, failpoint: &str) {
    common::kill_at_failpoint(search(dir), failpoint);
    assert!(!dir.join("summary.json").exists());
}

#[test]
fn killed_runs_resume_to_the_same_result() {
    if !has_data() {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let reference = root.path().join("reference");
    assert!(search(&reference).output().unwrap().status.success());
    let expected = keys(&reference);
    assert_eq!(expected.len(), 100);

    // Killed after the first evaluation, in the middle of writing evaluation 41 (a torn last
    // line), after the first iteration's evaluations and in the middle of writing the second
    // checkpoint.
    for (i, point) in
        ["stall:after-query=1", "stall:torn-query=41", "stall:after-query=70", "stall:torn-checkpoint=2"]
            .into_iter()
            .enumerate()
    {
        let dir = root.path().join(format!("killed{i}"));
        kill_at(&dir, point);
        let before = keys_tolerating_torn_line(&dir);
        let out = resume(&dir);
        assert!(out.status.success(), "resume after {point}: {}", String::from_utf8_lossy(&out.stderr));
        let stderr = String::from_utf8_lossy(&out.stderr);
        if point.contains("torn-query") {
            assert!(stderr.contains("discarded the torn last line"), "{point}: {stderr}");
        }
        assert_eq!(keys(&dir), expected, "resumed history differs (killed at {point}, {before} evaluations)");
        assert_eq!(best(&dir), best(&reference));
    }
}

/// Complete history lines in `dir` (a torn last line is not counted).
fn keys_tolerating_torn_line(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("history.jsonl"))
        .map(|t| t.lines().filter(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()).count())
        .unwrap_or(0)
}

const STRATEGIES: [&str; 5] = ["seminas-nao", "nao", "seminas-re", "re", "random"];

/// Runs `strategy` into `dir`, crashing (SIGABRT) at `failpoint`; true when it crashed.
fn crash(dir: &Path, strategy: &str, seed: u64, failpoint: &str) -> bool {
    let mut cmd = seminas();
    cmd.args(["search", "--strategy", strategy, "--seed", &seed.to_string(), "--config"])
        .arg(config())
        .arg("--out")
        .arg(dir)
        .env("SEMINAS_FAILPOINT", failpoint);
    let out = cmd.output().unwrap();
    !out.status.success() && !dir.join("summary.json").exists()
}

/// Every strategy, crashed right after a query, in the middle of writing one (a torn history
/// line) and in the middle of writing a checkpoint, resumes to the history and best
/// architecture of an uninterrupted run, continuing from its last checkpoint.
#[test]
fn crashes_at_every_kind_of_point_resume_to_the_same_result() {
    if !has_data() {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    for strategy in STRATEGIES {
        let reference = root.path().join(format!("{strategy}-reference"));
        let mut cmd = seminas();
        cmd.args(["search", "--strategy", strategy, "--seed", "5", "--config"]).arg(config()).arg("--out").arg(&reference);
        assert!(cmd.output().unwrap().status.success());
        assert!(reference.join("checkpoint.json").exists(), "{strategy} wrote no checkpoint");
        let expected = keys(&reference);
        for failpoint in ["after-query=1", "after-query=55", "torn-query=75", "torn-checkpoint=2"] {
            let dir = root.path().join(format!("{strategy}-{failpoint}"));
            assert!(crash(&dir, strategy, 5, failpoint), "{strategy} did not crash at {failpoint}");
            let out = resume(&dir);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{strategy}, {failpoint}: {stderr}");
            assert_eq!(keys(&dir), expected, "{strategy}: resumed history differs after a crash at {failpoint}");
            assert_eq!(best(&dir), best(&reference), "{strategy}, {failpoint}");
            if failpoint == "after-query=55" {
                assert!(stderr.contains("continuing from the checkpoint"), "{strategy}: {stderr}");
            }
            if failpoint.starts_with("torn-query") {
                assert!(stderr.contains("torn last line"), "{strategy}: {stderr}");
            }
        }
    }
}

/// A checkpoint that fails its checksum, or that another run wrote, stops the resume with a
/// message; it is never silently ignored.
#[test]
fn corrupt_and_foreign_checkpoints_are_refused() {
    if !has_data() {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let mine = root.path().join("mine");
    let theirs = root.path().join("theirs");
    assert!(crash(&mine, "seminas-nao", 5, "after-query=55"));
    assert!(crash(&theirs, "seminas-nao", 6, "after-query=55"));

    let copy = |name: &str| {
        let dir = root.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for file in ["config.toml", "history.jsonl", "checkpoint.json"] {
            std::fs::copy(mine.join(file), dir.join(file)).unwrap();
        }
        dir
    };

    let corrupt = copy("corrupt");
    let text = std::fs::read_to_string(corrupt.join("checkpoint.json")).unwrap();
    let flipped = text.replacen("\"iteration\":0", "\"iteration\":1", 1);
    assert_ne!(flipped, text);
    std::fs::write(corrupt.join("checkpoint.json"), flipped).unwrap();
    let out = resume(&corrupt);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("corrupt checkpoint"), "{stderr}");

    let foreign = copy("foreign");
    std::fs::copy(theirs.join("checkpoint.json"), foreign.join("checkpoint.json")).unwrap();
    let out = resume(&foreign);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("another run") && stderr.contains("seed 6"), "{stderr}");

    // The untouched copy resumes.
    let out = resume(&mine);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn torn_last_line_is_dropped_and_foreign_histories_refused() {
    if !has_data() {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let reference = root.path().join("reference");
    assert!(search(&reference).output().unwrap().status.success());
    let history = std::fs::read_to_string(reference.join("history.jsonl")).unwrap();
    let lines: Vec<&str> = history.lines().collect();

    // A write cut off in the middle of line 31.
    let torn = root.path().join("torn");
    std::fs::create_dir_all(&torn).unwrap();
    std::fs::copy(reference.join("config.toml"), torn.join("config.toml")).unwrap();
    let mut text: String = lines[..30].iter().map(|l| format!("{l}\n")).collect();
    text.push_str(&lines[30][..lines[30].len() / 2]);
    std::fs::write(torn.join("history.jsonl"), text).unwrap();
    let out = resume(&torn);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("torn last line"));
    assert_eq!(keys(&torn), keys(&reference));

    // A history from another seed is refused, not silently mixed in.
    let foreign = root.path().join("foreign");
    let other = root.path().join("other-seed");
    let mut cmd = seminas();
    cmd.args(["search", "--seed", "6", "--config"]).arg(config()).arg("--out").arg(&other);
    assert!(cmd.output().unwrap().status.success());
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::copy(reference.join("config.toml"), foreign.join("config.toml")).unwrap();
    let other_lines = std::fs::read_to_string(other.join("history.jsonl")).unwrap();
    let head: String = other_lines.lines().take(50).map(|l| format!("{l}\n")).collect();
    std::fs::write(foreign.join("history.jsonl"), head).unwrap();
    let out = resume(&foreign);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot resume"), "{}", String::from_utf8_lossy(&out.stderr));

    // A finished run is not resumed.
    let out = resume(&reference);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("finished run"));
}
