//! `ferrotel`: the collector binary. Same command line as otelcol-contrib.

mod cli;
mod components;
mod list;
mod print_config;
mod run;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Both rustls providers must never meet in one process; pin ring before anything builds a TLS config.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = cli::Cli::parse();
    match run::dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("Error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
