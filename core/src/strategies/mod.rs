//! The built-in strategies and their registration, with the `nao` controller and the `table`
//! evaluator.

mod evolution;
mod random;
mod seminas;
pub mod semi;

pub use evolution::{EvolutionSettings, RegularizedEvolution, SemiEvolution, SemiEvolutionSettings};
pub use random::{evaluate_random, RandomSearch};
pub use seminas::{SemiNas, SemiNasSettings};

use crate::nao::NaoController;
use crate::{Registry, Result, TableEvaluator};

/// Registers core's strategies, the `nao` controller and the `table` evaluator.
pub fn register(registry: &mut Registry) -> Result<()> {
    registry.add_strategy(
        "seminas-nao",
        "SemiNAS (Algorithm 1): NAO gradient ascent with a semi-supervised predictor",
        "n = 100\nm = 10000\nup_sample = 100\nk = 100\nnew_per_iteration = 100\npretrain_epochs = 1000\nepochs = 500",
        |c| {
            let mut defaults = toml::Table::try_from(SemiNasSettings::seminas()).expect("settings serialise");
            defaults.extend(c.table.clone());
            let c = crate::Component { table: defaults, ..c.clone() };
            Ok(Box::new(SemiNas::new(c.settings()?)))
        },
    )?;
    registry.add_strategy(
        "nao",
        "NAO: gradient ascent in the controller's embedding space, labelled data only",
        "n = 100\nk = 100\nnew_per_iteration = 100\npretrain_epochs = 1000",
        |c| {
            let mut defaults = toml::Table::try_from(SemiNasSettings::nao()).expect("settings serialise");
            defaults.extend(c.table.clone());
            let c = crate::Component { table: defaults, ..c.clone() };
            Ok(Box::new(SemiNas::new(c.settings()?)))
        },
    )?;
    registry.add_strategy(
        "seminas-re",
        "SemiNAS-RE: regularized evolution with children screened by the semi-supervised predictor",
        "population = 100\nsample = 10\nchildren = 100\nevaluate = 10\nm = 10000\nup_sample = 10",
        |c| Ok(Box::new(SemiEvolution::new(c.settings()?))),
    )?;
    registry.add_strategy(
        "re",
        "Regularized evolution (Real et al. 2019)",
        "population = 100\nsample = 10",
        |c| Ok(Box::new(RegularizedEvolution::new(c.settings()?))),
    )?;
    registry.add_strategy("random", "Random search", "", |c| {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct NoSettings {}
        let _: NoSettings = c.parse()?;
        Ok(Box::new(RandomSearch))
    })?;
    registry.add_controller(
        "nao",
        "NAO encoder-predictor-decoder on Burn (LSTM encoder/decoder, MLP predictor)",
        "hidden_size = 16\nmlp_hidden_size = 64\nlr = 0.001\ntrade_off = 0.8\nbatch_size = 100",
        |c, encoding| Ok(Box::new(NaoController::from_component(c, encoding)?)),
    )?;
    registry.add_evaluator(
        "table",
        "Answers queries from a JSON-lines or CSV table of evaluated architectures",
        "path = \"${SEMINAS_REFERENCE_DATA}/nasbench101/sample-11k.jsonl\"\nsignal = \"val_acc.108\"\ncost = \"train_seconds\"",
        |c, space| Ok(Box::new(TableEvaluator::from_component(c, space)?)),
    )?;
    Ok(())
}

crate::register_plugin!(register);
