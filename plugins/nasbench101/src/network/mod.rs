//! Training NAS-Bench-101 networks from scratch on Burn.
//!
//! - [`NetworkConfig`] / [`Network`]: the network of a cell, as the official `model_builder`
//!   builds it, with TensorFlow's parameter count;
//! - [`DatasetSource`] / [`ImageDataset`]: the embedded UCI digits, IDX and CIFAR-10 files;
//! - [`TrainingConfig`] / [`train`]: the NAS-Bench-101 training recipe;
//! - [`TrainEvaluator`]: the `nasbench101-train` evaluator.

mod data;
mod evaluator;
mod model;
mod training;

pub use data::{
    cifar10, digits, idx, read_idx, DatasetSource, ImageBatch, ImageDataset, ImageSet, Limits,
    DIGITS_IMAGES, DIGITS_TEST, DIGITS_VALIDATION,
};
pub use evaluator::{TrainEvaluator, TrainSettings, TRAIN_EVALUATOR_NAME};
pub(crate) use evaluator::{DESCRIPTION, EXAMPLE};
pub use model::{
    vertex_channels, Cell, ConvBnRelu, Network, NetworkConfig, Stack, Vertex, VertexOp, BN_EPSILON,
    BN_MOMENTUM,
};
pub use training::{
    accuracy, throughput, train, LrSchedule, Throughput, TrainReport, Trainer, TrainingConfig,
};
