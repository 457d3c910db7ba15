//! Records the facts a dynamic plugin must share with its host (see `src/plugin.rs`):
//!
//! - `SEMINAS_RUSTC_VERSION`: `rustc --version` of the compiler building this crate;
//! - `SEMINAS_TARGET`: the target triple;
//! - `SEMINAS_CORE_SOURCE_HASH`: a hash of the sources of this crate's shared interface, so
//!   that a plugin built against other sources of the same version (e.g. another commit) is
//!   refused. Every `src/**.rs` file and `build.rs` is hashed except those in [`PRIVATE`]:
//!   implementation modules whose code and types never cross between host and plugin (each
//!   side runs its own copy on its own values), so that editing them does not force every
//!   plugin to be rebuilt. A new module is hashed unless it is added there.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Implementation-only files and folders under `src/`, left out of the source hash. Only list
/// a module here if no type or function of it appears in the traits, the registry or any other
/// value that host and plugin hand each other.
const PRIVATE: &[&str] = &[
    "src/nao",
    "src/strategies",
    "src/experiment.rs",
    "src/plots.rs",
    "src/predictor.rs",
    "src/progress.rs",
    "src/restricted.rs",
    "src/search.rs",
    "src/stats.rs",
    "src/table.rs",
];

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = Command::new(&rustc)
        .arg("--version")
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown rustc".into());
    println!("cargo:rustc-env=SEMINAS_RUSTC_VERSION={version}");
    println!("cargo:rustc-env=SEMINAS_TARGET={}", std::env::var("TARGET").unwrap_or_default());

    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("build.rs")];
    collect(&root.join("src"), &mut files);
    files.retain(|f| {
        let relative = f.strip_prefix(&root).unwrap_or(f);
        !PRIVATE.iter().any(|private| relative.starts_with(private))
    });
    files.sort();
    let mut hash = Fnv::new();
    for file in &files {
        let relative = file.strip_prefix(&root).unwrap_or(file);
        hash.write(relative.to_string_lossy().replace('\\', "/").as_bytes());
        hash.write(&[0]);
        // Line endings are normalised so that a checkout with CRLF endings hashes the same.
        let text = std::fs::read(file).unwrap_or_default();
        let text: Vec<u8> = text.into_iter().filter(|b| *b != b'\r').collect();
        hash.write(&text);
        hash.write(&[0]);
    }
    println!("cargo:rustc-env=SEMINAS_CORE_SOURCE_HASH={:016x}", hash.0);
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=build.rs");
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// 64-bit FNV-1a: small, dependency-free and stable across platforms.
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}
