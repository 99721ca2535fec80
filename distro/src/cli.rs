//! The command line, as otelcol's: `--config` (repeatable), `--set`, `validate`, `components`,
//! `print-config`.

use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "ferrotel",
    version,
    about = "ferrotel: an OpenTelemetry Collector distribution in Rust"
)]
pub struct Cli {
    #[command(flatten)]
    pub config: ConfigArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct ConfigArgs {
    /// A config file path or URI (file:, env:, yaml:); repeat to merge several, later ones win.
    /// Without any, the embedded default config runs.
    #[arg(long = "config", global = true, value_name = "URI")]
    pub configs: Vec<String>,
    /// Override one value after the files are merged: `--set processors.batch.timeout=2s`.
    #[arg(long = "set", global = true, value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Accepted for compatibility with otelcol's command line; ferrotel has no feature gates yet.
    #[arg(long = "feature-gates", global = true, value_name = "GATES")]
    pub feature_gates: Vec<String>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Resolve, decode and validate the config, build the pipeline graph, start nothing.
    Validate,
    /// List the components this binary ships, with their signals and stability.
    Components,
    /// Print the merged, resolved config; secrets show as [REDACTED] unless --mode unredacted.
    #[command(visible_alias = "print-initial-config")]
    PrintConfig {
        /// `redacted` hides passwords, tokens, keys and exporter header values.
        #[arg(long, value_enum, default_value = "redacted")]
        mode: crate::print_config::Mode,
        #[arg(long, value_enum, default_value = "yaml")]
        format: crate::print_config::Format,
        /// Validate the config first, as `ferrotel validate` does (`--validate=false` skips it).
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
        validate: bool,
    },
}
