//! # seminas-nasbench201
//!
//! The NAS-Bench-201 cell space and its tabular evaluator for seminas.
//!
//! - Space `nasbench201` ([`Nb201Space`]): a cell of four nodes where node `i` takes one edge
//!   from every node `j < i` (six edges), each edge carrying one of five operations
//!   ([`OPS`]): 15,625 cells, written as the standard string
//!   `|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`.
//! - Evaluator `nasbench201` ([`Nb201Evaluator`]): looks cells up in the NATS-Bench topology
//!   table (`nats_bench.csv`); the signal is the chosen data set's 200-epoch test accuracy.
//!
//! Both register themselves with [`seminas_core::register_plugin!`]; a binary only has to
//! name the crate (`use seminas_nasbench201 as _;`).
#![warn(missing_docs)]

mod cell;
mod space;
mod table;

use std::sync::Arc;

use seminas_core::{Registry, Result};

pub use cell::{Cell, EDGES, NUM_CELLS, NUM_EDGES, NUM_NODES, OPS};
pub use space::{Nb201Space, SpaceSettings, NAME};
pub use table::{Dataset, Nb201Evaluator, Nb201Settings, Nb201Table, TableRow, ARCH_COLUMN, DEFAULT_PATH, METRIC};

const SPACE_DESCRIPTION: &str =
    "NAS-Bench-201 cell: 4 nodes, 6 edges, 5 operations (15,625 cells, strings `|op~0|+|op~0|op~1|+...|`)";

const SPACE_EXAMPLE: &str = "# no settings; pair it with the nasbench201 evaluator:\n\
     # [search]\n\
     # space = \"nasbench201\"\n\
     # evaluator = \"nasbench201\"";

const EVALUATOR_DESCRIPTION: &str =
    "NAS-Bench-201 table (NATS-Bench topology CSV): 200-epoch test accuracy on cifar10, cifar100 or imagenet16-120";

const EVALUATOR_EXAMPLE: &str = "\
# the NATS-Bench topology CSV; ${VAR} expands, relative paths start at the config's folder
path = \"${SEMINAS_REFERENCE_DATA}/nasbench201/nats_bench.csv\"
# cifar10 | cifar100 | imagenet16-120: its 200-epoch test accuracy (percent) is the signal and test_acc
dataset = \"cifar10\"";

/// Registers the `nasbench201` space and evaluator.
pub fn register(registry: &mut Registry) -> Result<()> {
    registry.add_space(NAME, SPACE_DESCRIPTION, SPACE_EXAMPLE, |component| {
        Ok(Arc::new(Nb201Space::from_component(component)?))
    })?;
    registry.add_evaluator(NAME, EVALUATOR_DESCRIPTION, EVALUATOR_EXAMPLE, |component, space| {
        Ok(Box::new(Nb201Evaluator::from_component(component, space)?))
    })?;
    Ok(())
}

seminas_core::register_plugin!(register);

#[cfg(test)]
mod tests {
    use seminas_core::{Component, ComponentKind};

    use super::*;

    #[test]
    fn registers_space_and_evaluator() {
        let mut registry = Registry::new();
        registry.register_from("seminas-nasbench201", register).unwrap();
        assert!(registry.contains(ComponentKind::Space, "nasbench201"));
        assert!(registry.contains(ComponentKind::Evaluator, "nasbench201"));
        let space = registry.build_space(&Component::new(ComponentKind::Space, "nasbench201")).unwrap();
        assert_eq!(space.name(), "nasbench201");
        assert_eq!(space.encoding().vocab_size, 6);
        let listings = registry.listings();
        assert_eq!(listings.len(), 2);
        for listing in &listings {
            assert!(!listing.description.is_empty());
            assert_eq!(listing.origin, "seminas-nasbench201");
        }
    }

    #[test]
    fn examples_parse() {
        let space = Component::new(ComponentKind::Space, "nasbench201").with_toml(SPACE_EXAMPLE).unwrap();
        assert!(Nb201Space::from_component(&space).is_ok());
        let evaluator = Component::new(ComponentKind::Evaluator, "nasbench201").with_toml(EVALUATOR_EXAMPLE).unwrap();
        let settings: Nb201Settings = evaluator.parse().unwrap();
        assert_eq!(settings, Nb201Settings::default());
    }

    #[test]
    fn inventory_has_the_plugin() {
        let registry = Registry::with_builtin().unwrap();
        assert!(registry.contains(ComponentKind::Space, "nasbench201"));
        assert!(registry.contains(ComponentKind::Evaluator, "nasbench201"));
    }
}
