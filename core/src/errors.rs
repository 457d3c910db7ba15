//! The one error type of `seminas-core`.

use std::path::PathBuf;

/// Result alias used across seminas crates.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in a search, named so that the user can act on it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration value is missing, unknown or of the wrong type.
    #[error("config error{}: {message}", if key.is_empty() { String::new() } else { format!(" at `{key}`") })]
    Config {
        /// Dotted path of the offending key, e.g. `strategy.seminas-nao.n`.
        key: String,
        /// What was wrong and what was expected.
        message: String,
    },
    /// An architecture is not valid in its search space.
    #[error("invalid architecture: {0}")]
    InvalidArchitecture(String),
    /// An architecture could not be evaluated.
    #[error("evaluation failed: {0}")]
    Evaluation(String),
    /// A data file is missing or malformed.
    #[error("{}: {message}", path.display())]
    Data {
        /// The file at fault.
        path: PathBuf,
        /// What was expected, with the line or record where it applies.
        message: String,
    },
    /// An I/O error on a named file.
    // The message carries the OS error; it is not also a `source`, which would print it twice
    // in a cause chain.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file at fault.
        path: PathBuf,
        /// The underlying error.
        error: std::io::Error,
    },
    /// A registry lookup or registration failed.
    #[error("{0}")]
    Registry(String),
    /// The device named in the config or on the command line cannot be used.
    #[error("device error: {0}")]
    Device(String),
    /// The controller could not train or generate.
    #[error("controller error: {0}")]
    Controller(String),
}

impl Error {
    /// Shorthand for [`Error::Config`].
    pub fn config(key: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Config { key: key.into(), message: message.into() }
    }

    /// Shorthand for [`Error::Data`].
    pub fn data(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Data { path: path.into(), message: message.into() }
    }

    /// Shorthand for [`Error::Io`].
    pub fn io(path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        Error::Io { path: path.into(), error }
    }
}
