//! `seminas`: the command-line host. It parses arguments, dispatches to the library and maps
//! errors to exit codes:
//!
//! - 0: success
//! - 1: the search or command failed (data, evaluation, controller, I/O)
//! - 2: bad configuration or command line (nothing was written)

use std::process::ExitCode;

use clap::Parser;

mod commands;
mod plugins;

fn main() -> ExitCode {
    let cli = commands::Cli::parse();
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            let usage = err.chain().any(|cause| {
                matches!(
                    cause.downcast_ref::<seminas_core::Error>(),
                    Some(seminas_core::Error::Config { .. } | seminas_core::Error::Device(_) | seminas_core::Error::Registry(_))
                )
            });
            ExitCode::from(if usage { 2 } else { 1 })
        }
    }
}
