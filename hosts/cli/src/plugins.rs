//! Plugins: the ones compiled into this binary, and dynamic ones loaded at run time.
//!
//! Naming each compiled-in crate here keeps the linker from dropping it, which would silently
//! drop its `inventory` registrations.
//!
//! Dynamic plugins are `cdylib`s exporting the entry points of
//! [`seminas_core::export_plugin!`]. They are loaded with `libloading` from `--plugin PATH`
//! and the config's `search.plugins`; see `docs/plugins.md`.

use std::mem::ManuallyDrop;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use libloading::{Library, Symbol};
use seminas_core::plugin::{BuildFacts, CompatFn, RegisterFn, COMPAT_SYMBOL, REGISTER_SYMBOL};
use seminas_core::{Config, Error, Registry, Result};
use seminas_nasbench101 as _;
use seminas_nasbench201 as _;

/// One loaded plugin library.
struct Loaded {
    /// The canonical path it was loaded from.
    path: PathBuf,
    /// Kept so that the library stays mapped.
    _library: Library,
}

/// Every library loaded by this process. A static is never dropped, so the libraries stay
/// loaded until the process exits: the factories in the registry, the components they build,
/// errors, thread-locals and panic payloads created by plugin code all point into them, and
/// some of those may outlive any registry. Unloading Rust code is therefore never attempted.
static LOADED: Mutex<Vec<Loaded>> = Mutex::new(Vec::new());

/// The compiled-in plugins plus the dynamic ones in `cli` (relative to the current folder)
/// and, with a config, in its `search.plugins` (relative to the config's folder; those also
/// in `cli` are loaded once). The config's
/// list is replaced by every loaded path, absolute, so that the `config.toml` saved beside
/// the results loads them again.
pub fn registry(cli: &[PathBuf], config: Option<&mut Config>) -> Result<Registry> {
    let mut registry = Registry::with_builtin()?;
    let mut paths: Vec<PathBuf> = cli.iter().map(|p| absolute(p)).collect();
    if let Some(config) = &config {
        // A library the config lists and the command line names too (e.g. `--resume` of a run
        // whose saved config lists it) is loaded once; one named twice in one place is an error.
        let given: Vec<PathBuf> = paths.iter().filter_map(|p| p.canonicalize().ok()).collect();
        paths.extend(
            config
                .plugin_paths()?
                .iter()
                .map(|p| absolute(p))
                .filter(|p| p.canonicalize().map_or(true, |c| !given.contains(&c))),
        );
    }
    for path in &paths {
        load(path, &mut registry)?;
    }
    if let Some(config) = config {
        config.search.plugins = paths;
    }
    Ok(registry)
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

fn plugin_error(path: &Path, message: impl std::fmt::Display) -> Error {
    Error::Registry(format!("plugin {}: {message}", path.display()))
}

/// Loads the plugin library at `path` and registers its components into `registry`, with the
/// path as their origin. Nothing is registered unless every step succeeds: the file exists,
/// is a library exporting [`COMPAT_SYMBOL`], was built with the host's toolchain and
/// seminas-core, exports [`REGISTER_SYMBOL`], and registers only new names.
pub fn load(path: &Path, registry: &mut Registry) -> Result<()> {
    if !path.exists() {
        return Err(plugin_error(path, "no such file"));
    }
    if !path.is_file() {
        return Err(plugin_error(path, "not a file (a plugin is a shared library built as a cdylib)"));
    }
    let canonical = path.canonicalize().map_err(|e| Error::io(path, e))?;
    let mut loaded = LOADED.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if loaded.iter().any(|l| l.path == canonical) {
        return Err(plugin_error(
            path,
            "given twice (on the command line or in `search.plugins`); load each plugin once",
        ));
    }
    // SAFETY: opening a library runs its initialisers, which is as safe as the library itself:
    // plugins are code the user chose to run. Nothing else of it is used until its
    // compatibility record matched. `ManuallyDrop`: a library that fails below is not closed
    // either, since code it ran (initialisers, a failed registration) may have left
    // thread-local destructors or other references into it.
    let library = ManuallyDrop::new(
        unsafe { Library::new(&canonical) }
            .map_err(|e| plugin_error(path, format!("cannot be loaded as a shared library: {e}")))?,
    );
    // SAFETY: `CompatFn` is the signature every seminas plugin ABI version exports under this
    // name: `extern "C"`, no arguments, returning a pointer to C data.
    let compat: Symbol<CompatFn> = unsafe { library.get(COMPAT_SYMBOL.as_bytes()) }.map_err(|_| {
        plugin_error(
            path,
            format!(
                "not a seminas plugin: it does not export `{COMPAT_SYMBOL}` (a plugin is a cdylib \
                 that calls `seminas_core::export_plugin!`)"
            ),
        )
    })?;
    // SAFETY: the entry point takes nothing and returns a pointer to the plugin's static
    // `CompatRecord`, whose leading version fields `BuildFacts::read` checks before reading
    // any other field; the library stays loaded while the record is read.
    let facts = unsafe { BuildFacts::read(compat()) }.map_err(|e| plugin_error(path, e))?;
    facts.check(&BuildFacts::current()).map_err(|e| plugin_error(path, e))?;
    // SAFETY: the plugin was built by the same compiler for the same target against the same
    // seminas-core sources and features, with identical layouts of the shared types, so its
    // register function has the signature `RegisterFn` it was compiled with.
    let register: Symbol<RegisterFn> = unsafe { library.get(REGISTER_SYMBOL.as_bytes()) }.map_err(|_| {
        plugin_error(path, format!("its compatibility record matched but it does not export `{REGISTER_SYMBOL}`"))
    })?;
    let origin = canonical.display().to_string();
    // Register into a copy first, so that a failure (e.g. a name that already exists) leaves
    // `registry` as it was.
    let mut staged = registry.clone();
    staged
        .register_from(&origin, |r| {
            let mut result = Ok(());
            // SAFETY: `r` and `result` are valid, exclusive pointers to values whose layout the
            // plugin shares (checked above); the library stays loaded for the rest of the process.
            unsafe { register(r, &mut result) };
            result
        })
        .map_err(|e| plugin_error(path, e))?;
    *registry = staged;
    loaded.push(Loaded { path: canonical, _library: ManuallyDrop::into_inner(library) });
    Ok(())
}
