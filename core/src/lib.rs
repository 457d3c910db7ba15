//! # seminas-core
//!
//! The search core of seminas: the [`SearchSpace`], [`Evaluator`], [`Controller`] and
//! [`Strategy`] traits, the plugin [`Registry`], configuration, the NAO controller on Burn and
//! the built-in strategies (`seminas-nao`, `nao`, `seminas-re`, `re`, `random`).
#![warn(missing_docs)]

pub mod checkpoint;
mod config;
mod controller;
mod device;
mod errors;
mod evaluator;
pub mod experiment;
mod plots;
pub mod progress;
mod oracle;
mod registry;
mod restricted;
mod search;
mod space;
mod strategy;
mod table;

pub mod nao;
pub mod plugin;
pub mod predictor;
pub mod stats;
pub mod strategies;

pub use checkpoint::{read_checkpoint, CheckpointBody, Checkpointer, Restored, RngState, CHECKPOINT_FILE, CHECKPOINT_FORMAT};
pub use config::{Checks, Component, ComponentKind, Config, ExperimentSection, SearchSection, Settings, Sweep};
pub use controller::{Controller, Example, FitReport};
pub use device::DeviceSpec;
pub use errors::{Error, Result};
pub use evaluator::{BenchmarkFacts, Evaluator, Measurement};
pub use oracle::{read_history, rewrite_history, Answer, Oracle, Record};
pub use registry::{
    ControllerFactory, Entry, EvaluatorFactory, Listing, Registration, Registry, SpaceFactory, StrategyFactory,
};
pub use restricted::RestrictedSpace;
pub use search::{component, prepare, BestSummary, PreparedSearch, Summary};
pub use space::{Arch, Encoding, SearchSpace, Token};
pub use strategy::{run_search, ControllerBuilder, SearchContext, SearchOutcome, Strategy};
pub use table::{TableEvaluator, TableSettings};

#[doc(hidden)]
pub use inventory;

/// Re-exported so that plugins use the same versions as the core.
pub use rand;
pub use rand_chacha;
