//! `seminas data`, `seminas space enumerate` and the NAS-Bench-101 example configs, on a
//! synthetic data file in the official format (no download).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use seminas_nasbench101::data::synthetic;
use seminas_nasbench101::{all_cells, Cell, NUM_CELLS};

fn seminas() -> Command {
    Command::new(env!("CARGO_BIN_EXE_seminas"))
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A synthetic data file of `count` cells spread over the space, 3 runs each at 108 epochs.
fn fixture(dir: &Path, name: &str, count: usize) -> (PathBuf, Vec<Cell>) {
    let cells: Vec<Cell> = all_cells()
        .iter()
        .step_by(NUM_CELLS / count)
        .take(count)
        .copied()
        .collect();
    let path = dir.join(name);
    synthetic::write(&path, &cells, &[108], 3).unwrap();
    (path, cells)
}

#[test]
fn data_info_reads_and_caches() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = fixture(dir.path(), "nb101.tfrecord", 2000);
    let first = seminas()
        .args(["data", "info"])
        .arg(&path)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&first);
    assert!(first.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("cells: 2000"), "{stdout}");
    assert!(stdout.contains("records: 6000"), "{stdout}");
    assert!(stdout.contains("epochs: [108]"), "{stdout}");
    assert!(
        stdout.contains("best mean test accuracy at 108 epochs: 0.9"),
        "{stdout}"
    );
    assert!(stdout.contains("(parsed)"), "{stdout}");
    let second = seminas()
        .args(["data", "info"])
        .arg(&path)
        .output()
        .unwrap();
    let (stdout, _) = text(&second);
    assert!(stdout.contains("(from the cache)"), "{stdout}");

    // A damaged file: the error names the record, exit code 1.
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    let bad = dir.path().join("bad.tfrecord");
    std::fs::write(&bad, bytes).unwrap();
    let out = seminas()
        .args(["data", "info", "--no-cache"])
        .arg(&bad)
        .output()
        .unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("at byte offset") && stderr.contains("CRC"),
        "{stderr}"
    );
}

#[test]
fn fetch_verifies_a_file_put_in_place_by_hand() {
    // A file already at the target is verified without any network access: this one is not
    // the official file, so its SHA-256 differs and fetch refuses it.
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path(), "nasbench_only108.tfrecord", 100);
    let out = seminas()
        .args(["data", "fetch", "nasbench101", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("SHA-256")
            && stderr.contains("4c39c3936e36a85269881d659e44e61a245babcb72cb374eacacf75d0e5f4fd1"),
        "{stderr}"
    );
    let out = seminas()
        .args(["data", "fetch", "nasbench202"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn space_enumerate_lists_every_cell() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cells.jsonl");
    let out = seminas()
        .args(["space", "enumerate", "nasbench101", "--out"])
        .arg(&file)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.starts_with("423624 cells of nasbench101 in "),
        "{stdout}"
    );
    let lines = std::fs::read_to_string(&file).unwrap();
    assert_eq!(lines.lines().count(), 423_624);
    let first: serde_json::Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    assert_eq!(first["ops"], serde_json::json!(["input", "output"]));
    let out = seminas()
        .args(["space", "enumerate", "nasbench201"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn example_configs_run_on_the_data_file() {
    // Every NAS-Bench-101 example config builds all its components; a short random search
    // runs end to end and reports regret and rank.
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = fixture(dir.path(), "nb101.tfrecord", 3000);
    let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/configs");
    for strategy in ["seminas", "nao", "seminas-re", "re", "random"] {
        for budget in [300, 2000] {
            let config = examples.join(format!("nasbench101-{strategy}-{budget}.toml"));
            let out_dir = dir.path().join(format!("{strategy}-{budget}"));
            let out = seminas()
                .args([
                    "search",
                    "--strategy",
                    "random",
                    "--budget",
                    "20",
                    "--config",
                ])
                .arg(&config)
                .arg("--out")
                .arg(&out_dir)
                .env("NASBENCH101_TFRECORD", &path)
                .output()
                .unwrap();
            let (stdout, stderr) = text(&out);
            assert!(
                out.status.success(),
                "{}: {stdout}{stderr}",
                config.display()
            );
            assert!(
                stdout.contains("test_acc")
                    && stdout.contains("rank:")
                    && stdout.contains("of 3000"),
                "{stdout}"
            );
            let summary: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(out_dir.join("summary.json")).unwrap(),
            )
            .unwrap();
            assert_eq!(summary["queries"], 20);
            assert_eq!(summary["budget"], 20);
        }
    }
    // Without the variable the config names it.
    let out = seminas()
        .args(["search", "--config"])
        .arg(examples.join("nasbench101-seminas-300.toml"))
        .env_remove("NASBENCH101_TFRECORD")
        .output()
        .unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("NASBENCH101_TFRECORD"), "{stderr}");
}
