//! Integration tests across core and plugins (one binary, as in ripgrep).

mod controller;
mod strategies;
