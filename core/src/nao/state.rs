//! Saving and restoring a controller's complete training state for checkpoints: weights,
//! optimiser state and the controller's random generator, so that training resumed from a
//! checkpoint continues exactly as it would have.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::tensor::{Bytes, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::fused::FusedSnapshot;
use super::NaoController;
use crate::checkpoint::RngState;
use crate::{Error, Result};

#[derive(Serialize, Deserialize)]
#[serde(tag = "engine", rename_all = "lowercase")]
enum Saved {
    /// The fused CPU engine: its own weights and Adam moments.
    Fused { rng: RngState, weights: FusedSnapshot },
    /// The Burn engine: parameter ids and values in visiting order, and burn-optim's Adam state
    /// (keyed by those ids, which is why they are restored too).
    Burn { rng: RngState, ids: Vec<u64>, values: Vec<f32>, sizes: Vec<usize>, optimizer: Vec<u8> },
}

/// Collects parameter ids, values and sizes in visiting order.
#[derive(Default)]
struct CollectParams {
    ids: Vec<u64>,
    values: Vec<f32>,
    sizes: Vec<usize>,
}

impl ModuleVisitor for CollectParams {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let values = param.val().into_data().try_to_vec::<f32>().expect("f32 parameter data");
        self.ids.push(param.id.val());
        self.sizes.push(values.len());
        self.values.extend(values);
    }
}

/// Replaces every parameter, in visiting order, by a saved id and value.
struct RestoreParams<'a> {
    ids: &'a [u64],
    values: &'a [f32],
}

impl ModuleMapper for RestoreParams<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, ids) = self.ids.split_first().expect("sizes checked before mapping");
        self.ids = ids;
        let tensor = param.val();
        let shape = tensor.shape();
        let (head, tail) = self.values.split_at(shape.num_elements());
        self.values = tail;
        let fresh = Tensor::<D>::from_data(TensorData::new(head.to_vec(), shape), &tensor.device());
        let fresh = if tensor.is_require_grad() { fresh.require_grad() } else { fresh };
        Param::initialized(ParamId::from(*id), fresh)
    }
}

impl NaoController {
    pub(super) fn save(&self) -> Result<serde_json::Value> {
        let saved = match &self.fused {
            Some(state) => Saved::Fused { rng: RngState::of(&self.rng), weights: state.engine.snapshot() },
            None => {
                let mut params = CollectParams::default();
                self.model.visit(&mut params);
                let optimizer = self
                    .optim
                    .into_bytes()
                    .map_err(|e| Error::Controller(format!("cannot save the optimiser state: {e:?}")))?;
                Saved::Burn {
                    rng: RngState::of(&self.rng),
                    ids: params.ids,
                    values: params.values,
                    sizes: params.sizes,
                    optimizer: optimizer.to_vec(),
                }
            }
        };
        Ok(serde_json::to_value(saved).expect("controller states serialise"))
    }

    pub(super) fn load(&mut self, state: serde_json::Value) -> Result<()> {
        let saved: Saved = serde_json::from_value(state)
            .map_err(|e| Error::Controller(format!("the saved controller state is not a `nao` state: {e}")))?;
        match (saved, &mut self.fused) {
            (Saved::Fused { rng, weights }, Some(state)) => {
                state.engine.restore(weights).map_err(Error::Controller)?;
                state.synced = std::sync::OnceLock::new();
                self.rng = rng.generator().map_err(Error::Controller)?;
            }
            (Saved::Burn { rng, ids, values, sizes, optimizer }, None) => {
                let mut current = CollectParams::default();
                self.model.visit(&mut current);
                if current.sizes != sizes || ids.len() != sizes.len() || values.len() != sizes.iter().sum::<usize>() {
                    return Err(Error::Controller(format!(
                        "the saved controller has parameter sizes {sizes:?} where this one has {:?}",
                        current.sizes
                    )));
                }
                self.model = self.model.clone().map(&mut RestoreParams { ids: &ids, values: &values });
                self.optim = super::adam(&self.settings)
                    .from_bytes(Bytes::from_bytes_vec(optimizer))
                    .map_err(|e| Error::Controller(format!("cannot restore the optimiser state: {e:?}")))?;
                self.rng = rng.generator().map_err(Error::Controller)?;
            }
            (Saved::Fused { .. }, None) | (Saved::Burn { .. }, Some(_)) => {
                return Err(Error::Controller(
                    "the saved controller ran on another engine (fused or burn); resume on the device the run started on"
                        .into(),
                ))
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::Device;

    use super::super::{NaoEngine, NaoSettings};
    use super::*;
    use crate::{Controller, Encoding, Example};

    fn encoding() -> Encoding {
        Encoding { vocab_size: 5, allowed: (0..6).map(|i| if i % 2 == 0 { vec![1, 2] } else { vec![3, 4] }).collect() }
    }

    fn examples() -> Vec<Example> {
        (0..40usize)
            .map(|i| {
                let tokens: Vec<usize> =
                    (0..6).map(|p| if p % 2 == 0 { 1 + (i >> (p / 2)) % 2 } else { 3 + (i + p) % 2 }).collect();
                let score = tokens.iter().filter(|&&t| t == 2).count() as f32 / 3.0;
                Example { tokens, score }
            })
            .collect()
    }

    fn controller(engine: NaoEngine) -> NaoController {
        let settings = NaoSettings { batch_size: 16, hidden_size: 8, mlp_hidden_size: 16, engine, ..NaoSettings::default() };
        NaoController::new(settings, encoding(), &Device::flex(), 7).unwrap()
    }

    /// Training, saving, training on: a fresh controller that loads the saved state and trains
    /// on ends bit for bit where the original did (weights, Adam moments and dropout draws).
    #[test]
    fn restored_controllers_continue_exactly() {
        let data = examples();
        let sequences: Vec<Vec<usize>> = data.iter().map(|e| e.tokens.clone()).collect();
        for engine in [NaoEngine::Fused, NaoEngine::Burn] {
            let mut original = controller(engine);
            original.fit(&data, 3).unwrap();
            let saved = original.save_state().unwrap().expect("nao controllers save their state");
            // Through text, as a checkpoint file stores it.
            let saved: serde_json::Value = serde_json::from_str(&saved.to_string()).unwrap();
            original.fit(&data, 3).unwrap();
            let expected = original.predict(&sequences).unwrap();

            let mut restored = controller(engine);
            restored.load_state(saved.clone()).unwrap();
            restored.fit(&data, 3).unwrap();
            assert_eq!(restored.predict(&sequences).unwrap(), expected, "{engine:?}");

            // Without the state, training does not end in the same place (the test can fail).
            let mut fresh = controller(engine);
            fresh.fit(&data, 3).unwrap();
            assert_ne!(fresh.predict(&sequences).unwrap(), expected, "{engine:?}");

            // A state saved by the other engine is refused.
            let other = if engine == NaoEngine::Fused { NaoEngine::Burn } else { NaoEngine::Fused };
            let err = controller(other).load_state(saved).unwrap_err().to_string();
            assert!(err.contains("another engine"), "{err}");
        }
    }
}
