//! Integration tests across core and plugins (one binary, as in ripgrep).

#[cfg(feature = "libtorch")]
mod backends;
mod controller;
mod examples;
mod strategies;
mod table;
