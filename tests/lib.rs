//! Shared helpers of the integration tests.

use std::path::PathBuf;

use seminas_core::{Config, Registry};

// Name the plugin crates so that their registrations are linked in.
use seminas_nasbench101 as _;
use seminas_nasbench201 as _;

/// The reference data folder from `SEMINAS_REFERENCE_DATA`, or `None` (after printing that
/// the test is skipped) when the variable is unset. A set variable naming a missing file
/// fails the test.
pub fn reference_file(relative: &str) -> Option<PathBuf> {
    let Some(dir) = std::env::var_os("SEMINAS_REFERENCE_DATA") else {
        println!("skipped: SEMINAS_REFERENCE_DATA not set");
        return None;
    };
    let path = PathBuf::from(dir).join(relative);
    assert!(path.exists(), "SEMINAS_REFERENCE_DATA is set but {} is missing", path.display());
    Some(path)
}

/// The registry with every compiled-in plugin.
pub fn registry() -> Registry {
    Registry::with_builtin().expect("built-in registrations do not collide")
}

/// Loads an example config from `examples/configs/`.
pub fn example_config(name: &str) -> Config {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/configs").join(name);
    Config::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
