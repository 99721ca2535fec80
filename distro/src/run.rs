//! Runs the collector: load the config, start self-telemetry and the pipelines, wait for a signal,
//! drain and stop.

use anyhow::Context;
use ferrotel_core::config::{self, LoadedConfig, TelemetryConfig};
use ferrotel_core::graph::Service;
use ferrotel_core::telemetry::SelfTelemetry;
use ferrotel_core::telemetry_server::TelemetryServer;
use std::sync::Arc;
use std::time::Duration;

use crate::cli::{Cli, Command, ConfigArgs};

pub(crate) const DEFAULT_CONFIG: &str = include_str!("../../config/default.yaml");
/// How long receivers, batches and queues get to drain at shutdown before what is left is reported.
const SHUTDOWN_BUDGET: Duration = Duration::from_secs(20);

pub fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Some(Command::Components) => {
            print!(
                "{}",
                crate::list::components_yaml(&crate::components::registry())
            );
            Ok(())
        }
        Some(Command::Validate) => validate(&cli.config),
        Some(Command::PrintConfig {
            mode,
            format,
            validate,
        }) => crate::print_config::print_config(&cli.config, mode, format, validate),
        None => run(&cli.config),
    }
}

fn load(args: &ConfigArgs) -> anyhow::Result<LoadedConfig> {
    let registry = crate::components::registry();
    config::load(
        &args.configs,
        &args.sets,
        &registry,
        Some(("<default config>", DEFAULT_CONFIG)),
    )
    .map_err(|error| anyhow::anyhow!("invalid configuration: {error}"))
}

pub(crate) fn validate(args: &ConfigArgs) -> anyhow::Result<()> {
    let loaded = load(args)?;
    for warning in &loaded.warnings {
        eprintln!("Warning: {warning}");
    }
    let telemetry = SelfTelemetry::new(&[]);
    Service::build(&loaded.config, &crate::components::registry(), telemetry)
        .context("failed to build pipelines")?;
    Ok(())
}

fn run(args: &ConfigArgs) -> anyhow::Result<()> {
    let loaded = load(args)?;
    init_logging(&loaded.config.service.telemetry);
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    if args.configs.is_empty() {
        tracing::info!("no --config given: running the embedded default config");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(loaded))
}

fn resource_labels(telemetry: &TelemetryConfig) -> Vec<(String, String)> {
    let mut labels = vec![
        ("service_name".to_owned(), "ferrotel".to_owned()),
        (
            "service_instance_id".to_owned(),
            format!("{:032x}", rand::random::<u128>()),
        ),
        (
            "service_version".to_owned(),
            env!("CARGO_PKG_VERSION").to_owned(),
        ),
    ];
    for (key, value) in &telemetry.resource {
        let key = key.replace('.', "_");
        labels.retain(|(k, _)| k != &key);
        labels.push((key, value.clone()));
    }
    labels
}

async fn serve(loaded: LoadedConfig) -> anyhow::Result<()> {
    let telemetry_config = &loaded.config.service.telemetry;
    let telemetry = SelfTelemetry::new(&resource_labels(telemetry_config));
    let metrics_server = match &telemetry_config.metrics_endpoint {
        Some(endpoint) if telemetry_config.metrics_level != "none" => {
            let server = TelemetryServer::start(endpoint, telemetry.clone()).await?;
            tracing::info!("self-telemetry on http://{}/metrics", server.local_addr);
            Some(server)
        }
        _ => None,
    };
    let service = Arc::new(Service::build(
        &loaded.config,
        &crate::components::registry(),
        telemetry,
    )?);
    service.start().await?;
    tracing::info!("everything is ready; begin running and processing data");
    wait_for_signal().await;
    tracing::info!("received a stop signal; shutting down");
    service.shutdown(SHUTDOWN_BUDGET).await;
    if let Some(server) = metrics_server {
        server.stop().await;
    }
    tracing::info!("shutdown complete");
    Ok(())
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut interrupt = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! {
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
    }
}

fn init_logging(telemetry: &TelemetryConfig) {
    use tracing_subscriber::EnvFilter;
    // RUST_LOG, when set, wins over the config: the 3 a.m. override without editing YAML.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(telemetry.logs_level.as_str()));
    // Colours only for a person at a terminal: escape codes in a journal or a log file get in the
    // way of grep.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    if telemetry.logs_encoding == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}
