//! Configuration: the TOML file a search is described by.
//!
//! The file has one `[search]` table naming the components, and one table per component,
//! selected by its registry key (`[strategy.seminas-nao]`, `[evaluator.table]`, ...). Raw
//! tables are handed to the component's factory, which deserialises its own typed settings
//! with [`Component::parse`]; unknown keys and wrong types are errors naming the key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::{DeviceSpec, Error, Result};

/// The `[search]` table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchSection {
    /// Registry key of the search space.
    pub space: String,
    /// Registry key of the evaluator.
    pub evaluator: String,
    /// Registry key of the strategy (default `seminas-nao`).
    #[serde(default = "default_strategy")]
    pub strategy: String,
    /// Registry key of the controller used by controller-based strategies (default `nao`).
    #[serde(default = "default_controller")]
    pub controller: String,
    /// Query budget: the number of distinct architectures evaluated.
    pub budget: usize,
    /// Seed of every random choice in the search (default 0).
    #[serde(default)]
    pub seed: u64,
    /// Device for networks: `flex`, `libtorch`, `libtorch-cuda:N` or `cuda:N` (default `flex`).
    #[serde(default)]
    pub device: DeviceSpec,
    /// Dynamic plugin libraries to load before building components.
    #[serde(default)]
    pub plugins: Vec<PathBuf>,
}

fn default_strategy() -> String {
    "seminas-nao".into()
}

fn default_controller() -> String {
    "nao".into()
}

/// A whole configuration file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Which components to use, budget and seed.
    pub search: SearchSection,
    /// Settings of search spaces, by registry key.
    #[serde(default)]
    pub space: BTreeMap<String, toml::Table>,
    /// Settings of evaluators, by registry key.
    #[serde(default)]
    pub evaluator: BTreeMap<String, toml::Table>,
    /// Settings of strategies, by registry key.
    #[serde(default)]
    pub strategy: BTreeMap<String, toml::Table>,
    /// Settings of controllers, by registry key.
    #[serde(default)]
    pub controller: BTreeMap<String, toml::Table>,
    /// What `seminas experiment` compares (ignored by `seminas search`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment: Option<ExperimentSection>,
    /// Folder of the original config file, recorded in the copy saved with results so that
    /// its relative paths still resolve when a run is resumed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_dir: Option<PathBuf>,
    /// Folder that relative paths in the file are resolved against.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// The `[experiment]` table: the methods an experiment compares.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentSection {
    /// Strategies compared, each with its own `[strategy.NAME]` settings (default: the
    /// `[search]` strategy alone).
    #[serde(default)]
    pub strategies: Vec<String>,
    /// Ablations: each varies one setting of one strategy over a list of values.
    #[serde(default)]
    pub sweep: Vec<Sweep>,
}

/// One ablation (`[[experiment.sweep]]`), as in the paper's section 7.2.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sweep {
    /// The strategy whose setting varies.
    pub strategy: String,
    /// The setting, a key of `[strategy.NAME]` (e.g. `m` or `up_sample`).
    pub key: String,
    /// The values tried.
    pub values: Vec<toml::Value>,
}

impl Config {
    /// Reads and checks a config file.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let mut config = Config::parse(&text).map_err(|e| match e {
            Error::Config { key, message } => {
                Error::config(key, format!("{message} (in {})", path.display()))
            }
            other => other,
        })?;
        config.base_dir = match &config.config_dir {
            Some(dir) => dir.clone(),
            None => {
                let parent = path.parent().map(Path::to_path_buf).unwrap_or_default();
                std::path::absolute(&parent).unwrap_or(parent)
            }
        };
        config.config_dir = Some(config.base_dir.clone());
        Ok(config)
    }

    /// Parses config text; relative paths resolve against the current folder.
    pub fn parse(text: &str) -> Result<Config> {
        let de = toml::Deserializer::new(text);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            let inner = e.into_inner();
            let mut message = inner.message().trim().to_string();
            // Syntax errors have a place in the text but no key: say the line and column.
            if let Some(span) = inner.span() {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                message = format!("line {line}, column {column}: {message}");
            }
            Error::config(if key == "." { String::new() } else { key }, message)
        })
    }

    /// Serialises the resolved config (saved beside results).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("configs serialise")
    }

    /// The component of `kind` named `name`, with its table (empty when absent).
    pub fn component(&self, kind: ComponentKind, name: &str) -> Component {
        let tables = match kind {
            ComponentKind::Space => &self.space,
            ComponentKind::Evaluator => &self.evaluator,
            ComponentKind::Strategy => &self.strategy,
            ComponentKind::Controller => &self.controller,
        };
        Component {
            kind,
            name: name.to_string(),
            table: tables.get(name).cloned().unwrap_or_default(),
            base_dir: self.base_dir.clone(),
            seed: self.search.seed,
            device: self.search.device.clone(),
        }
    }

    /// The dynamic plugin libraries of `search.plugins`, with `${VAR}` expanded and relative
    /// paths taken relative to the config file's folder. Whether the files exist is checked
    /// when they are loaded.
    pub fn plugin_paths(&self) -> Result<Vec<PathBuf>> {
        self.search
            .plugins
            .iter()
            .enumerate()
            .map(|(i, raw)| {
                let raw = raw.to_string_lossy();
                let expanded = expand_env(&raw).map_err(|var| {
                    Error::config(
                        format!("search.plugins[{i}]"),
                        format!("environment variable `{var}` used in `{raw}` is not set"),
                    )
                })?;
                let path = PathBuf::from(expanded);
                Ok(if path.is_absolute() { path } else { self.base_dir.join(path) })
            })
            .collect()
    }
}

/// The four kinds of registered components.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ComponentKind {
    /// A [`SearchSpace`](crate::SearchSpace).
    Space,
    /// An [`Evaluator`](crate::Evaluator).
    Evaluator,
    /// A [`Strategy`](crate::Strategy).
    Strategy,
    /// A [`Controller`](crate::Controller).
    Controller,
}

impl ComponentKind {
    /// The config table prefix (`space`, `evaluator`, `strategy`, `controller`).
    pub fn table(self) -> &'static str {
        match self {
            ComponentKind::Space => "space",
            ComponentKind::Evaluator => "evaluator",
            ComponentKind::Strategy => "strategy",
            ComponentKind::Controller => "controller",
        }
    }
}

/// What a factory receives: its own config table and the search-wide settings.
#[derive(Clone, Debug)]
pub struct Component {
    /// Kind of component being built.
    pub kind: ComponentKind,
    /// Its registry key.
    pub name: String,
    /// Its config table (empty when the file has none).
    pub table: toml::Table,
    /// Folder relative paths resolve against.
    pub base_dir: PathBuf,
    /// The search seed.
    pub seed: u64,
    /// The device networks run on.
    pub device: DeviceSpec,
}

impl Component {
    /// A component with an empty table, for building components in code.
    pub fn new(kind: ComponentKind, name: &str) -> Self {
        Component {
            kind,
            name: name.into(),
            table: toml::Table::new(),
            base_dir: PathBuf::new(),
            seed: 0,
            device: DeviceSpec::default(),
        }
    }

    /// Sets the config table from TOML text (for building components in code and tests).
    pub fn with_toml(mut self, text: &str) -> Result<Self> {
        self.table = text.parse::<toml::Table>().map_err(|e| Error::config(self.prefix(), e.to_string()))?;
        Ok(self)
    }

    /// Sets the seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// `kind.name`, the prefix of every key of this component.
    pub fn prefix(&self) -> String {
        format!("{}.{}", self.kind.table(), self.name)
    }

    /// Parses the table like [`parse`](Self::parse), then range-checks the values
    /// ([`Settings::validate`]); errors name the full key and the value.
    pub fn settings<T: Settings>(&self) -> Result<T> {
        let settings: T = self.parse()?;
        settings.validate(&Checks { prefix: self.prefix() })?;
        Ok(settings)
    }

    /// Deserialises the table into typed settings. Use `#[serde(deny_unknown_fields)]` and
    /// `#[serde(default)]` on `T` so that unknown keys are errors and missing keys take their
    /// documented defaults. Errors name the full key, e.g. `strategy.re.population`.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T> {
        let value = toml::Value::Table(self.table.clone());
        serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let key = if path == "." { self.prefix() } else { format!("{}.{}", self.prefix(), path) };
            Error::config(key, e.into_inner().message().trim().to_string())
        })
    }

    /// Resolves a path from the config: `${VAR}` is replaced by the environment variable
    /// `VAR`, and a relative path is taken relative to the config file's folder.
    pub fn resolve_path(&self, key: &str, raw: &str) -> Result<PathBuf> {
        let expanded = expand_env(raw).map_err(|var| {
            Error::config(
                format!("{}.{key}", self.prefix()),
                format!("environment variable `{var}` used in `{raw}` is not set"),
            )
        })?;
        let path = PathBuf::from(expanded);
        Ok(if path.is_absolute() { path } else { self.base_dir.join(path) })
    }
}

/// Replaces `${VAR}` by the value of `VAR`; returns the name of an unset variable as error.
fn expand_env(raw: &str) -> std::result::Result<String, String> {
    let mut out = String::new();
    let mut rest = raw;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let var = &after[..end];
        out.push_str(&std::env::var(var).map_err(|_| var.to_string())?);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Typed settings whose values can be out of range although they parse (a zero count, a
/// probability above 1), read with [`Component::settings`].
pub trait Settings: DeserializeOwned {
    /// Checks the values, so that one no search can use is a config error before anything
    /// runs, not a hang or a panic later.
    fn validate(&self, checks: &Checks) -> Result<()>;
}

/// Range checks for [`Settings::validate`]; errors name the full key and the value.
pub struct Checks {
    prefix: String,
}

impl Checks {
    fn error(&self, key: &str, message: String) -> Error {
        Error::config(format!("{}.{key}", self.prefix), message)
    }

    /// `value >= min`.
    pub fn at_least(&self, key: &str, value: usize, min: usize) -> Result<()> {
        if value < min {
            return Err(self.error(key, format!("is {value}; it must be at least {min}")));
        }
        Ok(())
    }

    /// `value <= max` where `max` is the value of the key `max_key`.
    pub fn at_most(&self, key: &str, value: usize, max_key: &str, max: usize) -> Result<()> {
        if value > max {
            return Err(self.error(key, format!("is {value}; it must not exceed `{max_key}` ({max})")));
        }
        Ok(())
    }

    /// `lo <= value <= hi`, finite.
    pub fn within(&self, key: &str, value: f64, lo: f64, hi: f64) -> Result<()> {
        if !(value.is_finite() && (lo..=hi).contains(&value)) {
            return Err(self.error(key, format!("is {value}; it must be between {lo} and {hi}")));
        }
        Ok(())
    }

    /// `lo <= value < hi`, finite.
    pub fn below(&self, key: &str, value: f64, lo: f64, hi: f64) -> Result<()> {
        if !(value.is_finite() && value >= lo && value < hi) {
            return Err(self.error(key, format!("is {value}; it must be at least {lo} and below {hi}")));
        }
        Ok(())
    }

    /// `value >= 0`, finite.
    pub fn non_negative(&self, key: &str, value: f64) -> Result<()> {
        if !(value.is_finite() && value >= 0.0) {
            return Err(self.error(key, format!("is {value}; it must be zero or more")));
        }
        Ok(())
    }

    /// `value >= min` where `min` is the value of the key `min_key`.
    pub fn not_below(&self, key: &str, value: f64, min_key: &str, min: f64) -> Result<()> {
        if !(value.is_finite() && value >= min) {
            return Err(self.error(key, format!("is {value}; it must be at least `{min_key}` ({min})")));
        }
        Ok(())
    }

    /// `value > 0`, finite.
    pub fn positive(&self, key: &str, value: f64) -> Result<()> {
        if !(value.is_finite() && value > 0.0) {
            return Err(self.error(key, format!("is {value}; it must be a positive number")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_is_named() {
        let err = Config::parse("[search]\nspace='a'\nevaluator='b'\nbudget=3\nbudgte=4\n").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("search") && text.contains("budgte"), "{text}");
    }

    #[test]
    fn wrong_type_is_named() {
        let err = Config::parse("[search]\nspace='a'\nevaluator='b'\nbudget='many'\n").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("search.budget"), "{text}");
        assert!(text.contains("usize") || text.contains("integer"), "{text}");
    }

    #[test]
    fn component_errors_carry_full_path() {
        #[derive(Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct S {
            population: usize,
        }
        let c = Component::new(ComponentKind::Strategy, "re").with_toml("population = -3").unwrap();
        let text = c.parse::<S>().unwrap_err().to_string();
        assert!(text.contains("strategy.re.population"), "{text}");
    }

    #[test]
    fn round_trip() {
        let text = "[search]\nspace='nasbench201'\nevaluator='table'\nbudget=100\nseed=3\n\n[strategy.re]\npopulation=10\n";
        let mut c = Config::parse(text).unwrap();
        c.config_dir = Some(PathBuf::from("/somewhere/configs"));
        let again = Config::parse(&c.to_toml()).unwrap();
        assert_eq!(c, again);
        assert_eq!(again.search.strategy, "seminas-nao");
    }

    #[test]
    fn env_expansion() {
        std::env::set_var("SEMINAS_TEST_DIR", "/data");
        assert_eq!(expand_env("${SEMINAS_TEST_DIR}/x.csv").unwrap(), "/data/x.csv");
        assert_eq!(expand_env("${SEMINAS_SURELY_UNSET_VAR}/x").unwrap_err(), "SEMINAS_SURELY_UNSET_VAR");
    }

    #[test]
    fn plugin_paths_resolve_against_the_config_folder() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "[search]\nspace='a'\nevaluator='b'\nbudget=3\nplugins=['lib/p.so', '/abs/q.so', '${SEMINAS_SURELY_UNSET_VAR}/r.so']\n",
        )
        .unwrap();
        let mut config = Config::load(&file).unwrap();
        let err = config.plugin_paths().unwrap_err().to_string();
        assert!(err.contains("search.plugins[2]") && err.contains("SEMINAS_SURELY_UNSET_VAR"), "{err}");
        config.search.plugins.pop();
        assert_eq!(config.plugin_paths().unwrap(), vec![dir.path().join("lib/p.so"), PathBuf::from("/abs/q.so")]);
    }
}
