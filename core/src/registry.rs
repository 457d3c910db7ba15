//! The plugin registry: search spaces, evaluators, controllers and strategies by name.
//!
//! Compiled-in plugins submit one [`Registration`] each through `inventory` (see
//! [`register_plugin!`](crate::register_plugin)); [`Registry::with_builtin`] drains them.
//! Dynamic plugins (shared libraries) register through the entry point that
//! [`export_plugin!`](crate::export_plugin) generates instead, because a shared library has an
//! inventory of its own that the host never sees; the host runs it with
//! [`Registry::register_from`] and the library's path as origin, after the compatibility check
//! of [`plugin`](crate::plugin).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::{Component, ComponentKind, Controller, Encoding, Error, Evaluator, Result, SearchSpace, Strategy};

/// Builds a search space from its config table.
pub type SpaceFactory = Arc<dyn Fn(&Component) -> Result<Arc<dyn SearchSpace>> + Send + Sync>;
/// Builds an evaluator from its config table, for a given space.
pub type EvaluatorFactory =
    Arc<dyn Fn(&Component, &Arc<dyn SearchSpace>) -> Result<Box<dyn Evaluator>> + Send + Sync>;
/// Builds a controller from its config table, for a given token encoding.
pub type ControllerFactory = Arc<dyn Fn(&Component, &Encoding) -> Result<Box<dyn Controller>> + Send + Sync>;
/// Builds a strategy from its config table.
pub type StrategyFactory = Arc<dyn Fn(&Component) -> Result<Box<dyn Strategy>> + Send + Sync>;

/// One registered component.
#[derive(Clone)]
pub struct Entry<F> {
    /// Registry key (kebab-case).
    pub name: String,
    /// One-line description.
    pub description: String,
    /// An example config table, as TOML text.
    pub example: String,
    /// Where the registration came from: a crate name or a library path.
    pub origin: String,
    /// The factory.
    pub factory: F,
}

/// A compiled-in plugin: its name and the function that registers its components.
pub struct Registration {
    /// Plugin (crate) name, shown as the origin of its components.
    pub plugin: &'static str,
    /// Registers the plugin's components.
    pub register: fn(&mut Registry) -> Result<()>,
}

inventory::collect!(Registration);

/// Registers a compiled-in plugin: `register_plugin!(my_register_fn);`.
///
/// The binary must name the plugin crate somewhere (e.g. `use my_plugin as _;`), or the linker
/// drops it and nothing is registered.
#[macro_export]
macro_rules! register_plugin {
    ($register:path) => {
        $crate::inventory::submit! {
            $crate::Registration { plugin: env!("CARGO_PKG_NAME"), register: $register }
        }
    };
}

/// All registered components, sorted by name.
#[derive(Default, Clone)]
pub struct Registry {
    origin: String,
    spaces: BTreeMap<String, Entry<SpaceFactory>>,
    evaluators: BTreeMap<String, Entry<EvaluatorFactory>>,
    controllers: BTreeMap<String, Entry<ControllerFactory>>,
    strategies: BTreeMap<String, Entry<StrategyFactory>>,
}

/// A name, description and example, without the factory: what `seminas list` prints.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Listing {
    /// Kind table name (`space`, `evaluator`, `strategy`, `controller`).
    pub kind: &'static str,
    /// Registry key.
    pub name: String,
    /// One-line description.
    pub description: String,
    /// Where it came from.
    pub origin: String,
    /// Example config table.
    pub example: String,
}

fn insert<F>(map: &mut BTreeMap<String, Entry<F>>, kind: ComponentKind, entry: Entry<F>) -> Result<()> {
    if let Some(existing) = map.get(&entry.name) {
        return Err(Error::Registry(format!(
            "{} `{}` from {} is already registered by {}",
            kind.table(),
            entry.name,
            entry.origin,
            existing.origin
        )));
    }
    map.insert(entry.name.clone(), entry);
    Ok(())
}

fn get<'a, F>(map: &'a BTreeMap<String, Entry<F>>, kind: ComponentKind, name: &str) -> Result<&'a Entry<F>> {
    map.get(name).ok_or_else(|| {
        let known: Vec<&str> = map.keys().map(String::as_str).collect();
        Error::Registry(format!("unknown {} `{name}`; registered: {}", kind.table(), known.join(", ")))
    })
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// A registry holding every compiled-in plugin (core's own strategies and controller
    /// included), or the first duplicate-name error.
    pub fn with_builtin() -> Result<Self> {
        let mut registry = Registry::new();
        let mut plugins: Vec<&Registration> = inventory::iter::<Registration>.into_iter().collect();
        // inventory's order is unspecified; sort so that duplicate errors are reproducible.
        plugins.sort_by_key(|r| r.plugin);
        for plugin in plugins {
            registry.register_from(plugin.plugin, plugin.register)?;
        }
        Ok(registry)
    }

    /// Runs `register` with `origin` recorded on every entry it adds.
    pub fn register_from(&mut self, origin: &str, register: impl FnOnce(&mut Registry) -> Result<()>) -> Result<()> {
        let previous = std::mem::replace(&mut self.origin, origin.to_string());
        let result = register(self);
        self.origin = previous;
        result
    }

    fn entry<F>(&self, name: &str, description: &str, example: &str, factory: F) -> Entry<F> {
        Entry {
            name: name.into(),
            description: description.into(),
            example: example.into(),
            origin: if self.origin.is_empty() { "host".into() } else { self.origin.clone() },
            factory,
        }
    }

    /// Registers a search space.
    pub fn add_space(
        &mut self,
        name: &str,
        description: &str,
        example: &str,
        factory: impl Fn(&Component) -> Result<Arc<dyn SearchSpace>> + Send + Sync + 'static,
    ) -> Result<()> {
        let entry = self.entry(name, description, example, Arc::new(factory) as SpaceFactory);
        insert(&mut self.spaces, ComponentKind::Space, entry)
    }

    /// Registers an evaluator.
    pub fn add_evaluator(
        &mut self,
        name: &str,
        description: &str,
        example: &str,
        factory: impl Fn(&Component, &Arc<dyn SearchSpace>) -> Result<Box<dyn Evaluator>> + Send + Sync + 'static,
    ) -> Result<()> {
        let entry = self.entry(name, description, example, Arc::new(factory) as EvaluatorFactory);
        insert(&mut self.evaluators, ComponentKind::Evaluator, entry)
    }

    /// Registers a controller.
    pub fn add_controller(
        &mut self,
        name: &str,
        description: &str,
        example: &str,
        factory: impl Fn(&Component, &Encoding) -> Result<Box<dyn Controller>> + Send + Sync + 'static,
    ) -> Result<()> {
        let entry = self.entry(name, description, example, Arc::new(factory) as ControllerFactory);
        insert(&mut self.controllers, ComponentKind::Controller, entry)
    }

    /// Registers a strategy.
    pub fn add_strategy(
        &mut self,
        name: &str,
        description: &str,
        example: &str,
        factory: impl Fn(&Component) -> Result<Box<dyn Strategy>> + Send + Sync + 'static,
    ) -> Result<()> {
        let entry = self.entry(name, description, example, Arc::new(factory) as StrategyFactory);
        insert(&mut self.strategies, ComponentKind::Strategy, entry)
    }

    /// Builds the space `component.name`.
    pub fn build_space(&self, component: &Component) -> Result<Arc<dyn SearchSpace>> {
        (get(&self.spaces, ComponentKind::Space, &component.name)?.factory)(component)
    }

    /// Builds the evaluator `component.name` for `space`.
    pub fn build_evaluator(&self, component: &Component, space: &Arc<dyn SearchSpace>) -> Result<Box<dyn Evaluator>> {
        (get(&self.evaluators, ComponentKind::Evaluator, &component.name)?.factory)(component, space)
    }

    /// Builds the controller `component.name` for `encoding`.
    pub fn build_controller(&self, component: &Component, encoding: &Encoding) -> Result<Box<dyn Controller>> {
        (get(&self.controllers, ComponentKind::Controller, &component.name)?.factory)(component, encoding)
    }

    /// Builds the strategy `component.name`.
    pub fn build_strategy(&self, component: &Component) -> Result<Box<dyn Strategy>> {
        (get(&self.strategies, ComponentKind::Strategy, &component.name)?.factory)(component)
    }

    /// Whether a component of `kind` is registered under `name`.
    pub fn contains(&self, kind: ComponentKind, name: &str) -> bool {
        match kind {
            ComponentKind::Space => self.spaces.contains_key(name),
            ComponentKind::Evaluator => self.evaluators.contains_key(name),
            ComponentKind::Strategy => self.strategies.contains_key(name),
            ComponentKind::Controller => self.controllers.contains_key(name),
        }
    }

    /// Everything registered, sorted by kind then name.
    pub fn listings(&self) -> Vec<Listing> {
        fn list<F>(kind: ComponentKind, map: &BTreeMap<String, Entry<F>>) -> impl Iterator<Item = Listing> + '_ {
            map.values().map(move |e| Listing {
                kind: kind.table(),
                name: e.name.clone(),
                description: e.description.clone(),
                origin: e.origin.clone(),
                example: e.example.clone(),
            })
        }
        list(ComponentKind::Space, &self.spaces)
            .chain(list(ComponentKind::Evaluator, &self.evaluators))
            .chain(list(ComponentKind::Controller, &self.controllers))
            .chain(list(ComponentKind::Strategy, &self.strategies))
            .collect()
    }
}
