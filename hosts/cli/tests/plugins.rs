//! Dynamic plugins: builds `examples/plugin-template` as a cdylib, loads it into the `seminas`
//! binary, searches it with seminas-nao and re, and checks every loading error.
//!
//! The first build of the template compiles seminas-core (and, unless this test shares the
//! workspace's target folder with already compiled dependencies, Burn) and may take minutes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

fn seminas() -> Command {
    Command::new(env!("CARGO_BIN_EXE_seminas"))
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

fn tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// Runs `cargo build` for `manifest` into `target_dir`, offline first (dependencies are
/// usually in the local cache already), then online; panics with a clear message when both fail.
fn cargo_build(manifest: &Path, target_dir: &Path, release: bool) {
    let mut failures = Vec::new();
    for offline in [true, false] {
        let mut command = cargo();
        command.arg("build").arg("--manifest-path").arg(manifest).env("CARGO_TARGET_DIR", target_dir);
        if release {
            command.arg("--release");
        }
        if offline {
            command.arg("--offline");
        }
        let out = command.output().expect("cargo can be started");
        if out.status.success() {
            return;
        }
        failures.push(format!(
            "cargo build{} --manifest-path {}:\n{}",
            if offline { " --offline" } else { "" },
            manifest.display(),
            tail(&out.stderr)
        ));
    }
    panic!(
        "building the plugin {} failed. If the messages below are about the network or the \
         registry, fetch the dependencies once with `cargo fetch --manifest-path {}` while online \
         (the offline attempt needs them in ~/.cargo).\n\n{}",
        manifest.display(),
        manifest.display(),
        failures.join("\n\n")
    );
}

/// The target folder of this test run: `CARGO_TARGET_DIR` when set, else the one holding the
/// `seminas` binary under test, so that the template reuses the compiled dependencies.
fn target_dir() -> (PathBuf, bool) {
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_seminas"));
    let profile_dir = exe.parent().expect("the binary is in a profile folder");
    let release = profile_dir.file_name().is_some_and(|n| n == "release");
    let dir = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => profile_dir.parent().expect("the profile folder is in the target folder").to_path_buf(),
    };
    (dir, release)
}

fn library_file(target_dir: &Path, release: bool, crate_name: &str) -> PathBuf {
    target_dir.join(if release { "release" } else { "debug" }).join(format!(
        "{}{crate_name}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ))
}

/// The template plugin, built once per test run.
fn template() -> &'static Path {
    static LIBRARY: OnceLock<PathBuf> = OnceLock::new();
    LIBRARY.get_or_init(|| {
        let (target, release) = target_dir();
        cargo_build(&root().join("examples/plugin-template/Cargo.toml"), &target, release);
        let library = library_file(&target, release, "seminas_rastrigin");
        assert!(library.is_file(), "the template build did not produce {}", library.display());
        library.canonicalize().unwrap()
    })
}

fn run(command: &mut Command) -> (Output, String, String) {
    let out = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stdout, stderr)
}

fn listings(stdout: &str) -> Vec<serde_json::Value> {
    stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn origin_of<'a>(items: &'a [serde_json::Value], kind: &str, name: &str) -> Option<&'a str> {
    items.iter().find(|i| i["kind"] == kind && i["name"] == name).and_then(|i| i["origin"].as_str())
}

#[test]
#[ignore = "builds examples/plugin-template (minutes); run with `cargo test -p seminas-cli --test plugins -- --ignored`"]
fn list_shows_plugin_components_with_the_library_as_origin() {
    let library = template();
    let (out, stdout, stderr) = run(seminas().args(["list", "--json", "--plugin"]).arg(library));
    assert!(out.status.success(), "{stderr}");
    let items = listings(&stdout);
    let origin = library.display().to_string();
    assert_eq!(origin_of(&items, "space", "rastrigin"), Some(origin.as_str()), "{stdout}");
    assert_eq!(origin_of(&items, "evaluator", "rastrigin"), Some(origin.as_str()), "{stdout}");
    assert_eq!(origin_of(&items, "strategy", "seminas-nao"), Some("seminas-core"));
    assert_eq!(origin_of(&items, "space", "nasbench201"), Some("seminas-nasbench201"));

    // The table view too.
    let (out, stdout, _) = run(seminas().args(["list", "--plugin"]).arg(library));
    assert!(out.status.success());
    assert!(
        stdout.lines().any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() >= 3 && f[0] == "space" && f[1] == "rastrigin" && f[2] == origin
        }),
        "{stdout}"
    );
}

fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

#[test]
#[ignore = "builds examples/plugin-template (minutes); run with `cargo test -p seminas-cli --test plugins -- --ignored`"]
fn seminas_nao_searches_the_plugin_with_the_example_config() {
    let library = template();
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("run");
    let config = root().join("examples/plugin-template/rastrigin-seminas-nao.toml");
    let (out, stdout, stderr) = run(seminas()
        .args(["search", "--budget", "60", "--seed", "1", "--plugin"])
        .arg(library)
        .arg("--config")
        .arg(&config)
        .arg("--out")
        .arg(&out_dir));
    assert!(out.status.success(), "{stderr}\n{stdout}");
    assert!(stdout.contains("seminas-nao on rastrigin") && stdout.contains("best architecture"), "{stdout}");
    let s = summary(&out_dir);
    assert_eq!(s["strategy"], "seminas-nao");
    assert_eq!(s["queries"], 60);
    let f = s["best"]["report"]["rastrigin"].as_f64().unwrap();
    assert!(f >= 0.0 && (s["best"]["regret"].as_f64().unwrap() - f).abs() < 1e-9, "{s}");
    // Gradient ascent ran: some architectures come after the 40 random ones of iteration 0.
    let history = std::fs::read_to_string(out_dir.join("history.jsonl")).unwrap();
    assert_eq!(history.lines().count(), 60);
    assert!(history.lines().any(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["iteration"] != 0));
    // The saved config names the plugin, so that the run can be repeated from it.
    let saved = std::fs::read_to_string(out_dir.join("config.toml")).unwrap();
    assert!(saved.contains(&library.display().to_string()), "{saved}");
}

#[test]
#[ignore = "builds examples/plugin-template (minutes); run with `cargo test -p seminas-cli --test plugins -- --ignored`"]
fn re_searches_the_plugin_named_in_the_config_relative_to_its_folder() {
    let library = template();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("lib")).unwrap();
    let copied = dir.path().join("lib").join(library.file_name().unwrap());
    std::fs::copy(library, &copied).unwrap();
    let config = dir.path().join("rastrigin.toml");
    let text = format!(
        "[search]\nspace = 'rastrigin'\nevaluator = 'rastrigin'\nstrategy = 'seminas-nao'\nbudget = 40\n\
         plugins = ['lib/{}']\n\n[space.rastrigin]\ndims = 4\nlevels = 11\n\n\
         [strategy.re]\npopulation = 10\nsample = 3\n",
        copied.file_name().unwrap().to_string_lossy()
    );
    std::fs::write(&config, text).unwrap();
    let out_dir = dir.path().join("run");
    // Swapping the strategy is one option (or one line of the file).
    let (out, stdout, stderr) =
        run(seminas().args(["search", "--strategy", "re", "--config"]).arg(&config).arg("--out").arg(&out_dir));
    assert!(out.status.success(), "{stderr}\n{stdout}");
    let s = summary(&out_dir);
    assert_eq!(s["strategy"], "re");
    assert_eq!(s["queries"], 40);
    assert_eq!(s["facts"]["size"], 11u64.pow(4));
    assert!(s["best"]["details"]["offsets"].as_array().unwrap().len() == 4, "{s}");
}

fn assert_usage_error(out: &Output, stderr: &str, needles: &[&str]) {
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "`{needle}` not in:\n{stderr}");
    }
}

#[test]
fn missing_file_is_exit_2_naming_it_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("libnothing.so");
    let (out, _, stderr) = run(seminas().args(["list", "--plugin"]).arg(&missing));
    assert_usage_error(&out, &stderr, &[&missing.display().to_string(), "no such file"]);

    let config = dir.path().join("c.toml");
    std::fs::write(&config, "[search]\nspace='rastrigin'\nevaluator='rastrigin'\nbudget=5\nplugins=['libnothing.so']\n")
        .unwrap();
    let out_dir = dir.path().join("run");
    let (out, _, stderr) = run(seminas().args(["search", "--config"]).arg(&config).arg("--out").arg(&out_dir));
    assert_usage_error(&out, &stderr, &[&missing.display().to_string(), "no such file"]);
    assert!(!out_dir.exists());
}

/// The path of a system library this process has loaded (libc, libm, ...), from
/// `/proc/self/maps`; `None` where there is none (not Linux, static binaries).
fn system_library() -> Option<PathBuf> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    let paths: Vec<&str> = maps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .filter(|p| p.starts_with('/') && p.contains(".so"))
        .collect();
    ["/libc.so", "/libc-", "/libm.so", "/libgcc_s.so", "/libz.so"]
        .iter()
        .find_map(|name| paths.iter().find(|p| p.contains(name)))
        .map(PathBuf::from)
}

#[test]
fn files_that_are_not_plugins_are_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("libtext.so");
    std::fs::write(&text, "not a library\n").unwrap();
    let (out, _, stderr) = run(seminas().args(["list", "--plugin"]).arg(&text));
    assert_usage_error(&out, &stderr, &[&text.display().to_string(), "cannot be loaded as a shared library"]);

    match system_library() {
        Some(library) => {
            let (out, _, stderr) = run(seminas().args(["list", "--plugin"]).arg(&library));
            assert_usage_error(&out, &stderr, &[&library.display().to_string(), "not a seminas plugin", "seminas_plugin_v1"]);
        }
        None => println!("skipped the system library case: no loaded shared library found"),
    }
}

#[test]
#[ignore = "builds examples/plugin-template (minutes); run with `cargo test -p seminas-cli --test plugins -- --ignored`"]
fn the_same_plugin_twice_and_colliding_names_are_exit_2() {
    let library = template();
    let (out, _, stderr) = run(seminas().args(["list", "--plugin"]).arg(library).arg("--plugin").arg(library));
    assert_usage_error(&out, &stderr, &[&library.display().to_string(), "given twice"]);

    // A copy is another library registering the same names.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join(library.file_name().unwrap());
    std::fs::copy(library, &copy).unwrap();
    let copy = copy.canonicalize().unwrap();
    let (out, _, stderr) = run(seminas().args(["list", "--plugin"]).arg(library).arg("--plugin").arg(&copy));
    assert_usage_error(
        &out,
        &stderr,
        &["space `rastrigin`", &format!("from {}", copy.display()), &format!("registered by {}", library.display())],
    );
}

/// A plugin that claims another seminas-core and rustc: plain Rust without seminas-core,
/// exporting a compatibility record of the layout of plugin ABI version 1.
const FOREIGN_PLUGIN: &str = r#"
use std::ffi::c_char;

#[repr(C)]
pub struct Record {
    abi_version: u32,
    record_size: u32,
    core_version: *const c_char,
    core_source_hash: *const c_char,
    rustc_version: *const c_char,
    target: *const c_char,
    features: *const c_char,
    layout: *const u8,
    layout_len: u64,
}

unsafe impl Sync for Record {}

const fn record(abi_version: u32) -> Record {
    Record {
        abi_version,
        record_size: std::mem::size_of::<Record>() as u32,
        core_version: c"0.0.1".as_ptr(),
        core_source_hash: c"00000000deadbeef".as_ptr(),
        rustc_version: c"rustc 1.0.0 (foreign)".as_ptr(),
        target: c"foreign-target".as_ptr(),
        features: c"".as_ptr(),
        layout: std::ptr::null(),
        layout_len: 0,
    }
}

static RECORD: Record = record(1);
static FUTURE: Record = record(99);

#[no_mangle]
pub extern "C" fn seminas_plugin_v1() -> *const Record {
    if std::env::var_os("FOREIGN_PLUGIN_FUTURE_ABI").is_some() { &FUTURE } else { &RECORD }
}

/// The host must never call this: the record does not match.
#[no_mangle]
pub extern "C" fn seminas_plugin_register_v1() {
    std::process::abort();
}
"#;

#[test]
fn a_plugin_built_for_another_seminas_is_refused_naming_both_sides() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("src")).unwrap();
    std::fs::write(
        dir.path().join("Cargo.toml"),
        "[package]\nname = \"foreign-plugin\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
         [lib]\ncrate-type = [\"cdylib\"]\n\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("src/lib.rs"), FOREIGN_PLUGIN).unwrap();
    let target = dir.path().join("target");
    cargo_build(&dir.path().join("Cargo.toml"), &target, false);
    let library = library_file(&target, false, "foreign_plugin");

    let (out, _, stderr) = run(seminas().args(["list", "--plugin"]).arg(&library));
    assert_usage_error(
        &out,
        &stderr,
        &[
            &library.display().to_string(),
            "seminas-core 0.0.1",
            "rustc 1.0.0 (foreign)",
            &format!("seminas-core {}", env!("CARGO_PKG_VERSION")),
            "vs `rustc ",
            "Rebuild the plugin",
        ],
    );

    let (out, _, stderr) =
        run(seminas().env("FOREIGN_PLUGIN_FUTURE_ABI", "1").args(["list", "--plugin"]).arg(&library));
    assert_usage_error(&out, &stderr, &[&library.display().to_string(), "ABI version 99"]);
}
