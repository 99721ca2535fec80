//! The exporter: a summary line per batch (counted on the encoded bytes, never decoded), and at
//! `normal` or `detailed` verbosity a dump of the decoded batch, both sampled as otelcol samples
//! them, written to the collector's log or to stdout/stderr/files.

use async_trait::async_trait;
use ferrotel_core::component::Lifecycle;
use ferrotel_core::consumer::{ConsumeError, Consumer};
use ferrotel_core::signal::{Signal, Telemetry};
use ferrotel_core::telemetry::ExporterMetrics;
use ferrotel_core::wire::{ItemPath, count_items};

use crate::config::{DebugConfig, Verbosity};
use crate::output::{Sampler, Sink};
use crate::{detailed, normal};

/// Resources are the top-level entries of every export request.
const RESOURCES: ItemPath = &[&[1]];
/// ExportMetricsServiceRequest → ResourceMetrics → ScopeMetrics → Metric.
const METRICS: ItemPath = &[&[1], &[2], &[2]];

/// The counts of otelcol's summary line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub resources: usize,
    /// Metrics only: metrics, as opposed to their data points.
    pub metrics: usize,
    pub items: usize,
}

impl Summary {
    pub fn of(data: &Telemetry) -> Summary {
        let bytes = data.to_encoded();
        let count = |path| count_items(&bytes, path).unwrap_or(0);
        let metrics = if data.signal() == Signal::Metrics {
            count(METRICS)
        } else {
            0
        };
        Summary {
            resources: count(RESOURCES),
            metrics,
            items: data.item_count(),
        }
    }

    /// The line otelcol's own console logger writes: message, tab, fields as JSON.
    pub fn console_line(&self, signal: Signal) -> String {
        match signal {
            Signal::Traces => format!(
                "Traces\t{{\"resource spans\": {}, \"spans\": {}}}",
                self.resources, self.items
            ),
            Signal::Metrics => format!(
                "Metrics\t{{\"resource metrics\": {}, \"metrics\": {}, \"data points\": {}}}",
                self.resources, self.metrics, self.items
            ),
            Signal::Logs => format!(
                "Logs\t{{\"resource logs\": {}, \"log records\": {}}}",
                self.resources, self.items
            ),
        }
    }
}

fn message(signal: Signal) -> &'static str {
    match signal {
        Signal::Traces => "Traces",
        Signal::Metrics => "Metrics",
        Signal::Logs => "Logs",
    }
}

/// The dump of `data` at `verbosity`; `None` at basic, which needs no decode.
pub fn render(
    data: &mut Telemetry,
    verbosity: Verbosity,
) -> Result<Option<String>, ferrotel_core::signal::DecodeError> {
    let detailed = match verbosity {
        Verbosity::None | Verbosity::Basic => return Ok(None),
        Verbosity::Normal => false,
        Verbosity::Detailed => true,
    };
    Ok(Some(match data.signal() {
        Signal::Traces if detailed => detailed::traces(data.traces()?),
        Signal::Traces => normal::traces(data.traces()?),
        Signal::Metrics if detailed => detailed::metrics(data.metrics()?),
        Signal::Metrics => normal::metrics(data.metrics()?),
        Signal::Logs if detailed => detailed::logs(data.logs()?),
        Signal::Logs => normal::logs(data.logs()?),
    }))
}

pub struct DebugExporter {
    id: String,
    verbosity: Verbosity,
    sampler: Sampler,
    sink: Sink,
    metrics: ExporterMetrics,
}

impl DebugExporter {
    pub(crate) fn new(
        id: String,
        config: &DebugConfig,
        metrics: ExporterMetrics,
    ) -> anyhow::Result<DebugExporter> {
        let sink = if config.use_internal_logger {
            Sink::Internal
        } else {
            let stdout = vec!["stdout".to_string()];
            Sink::open(config.output_paths.as_ref().unwrap_or(&stdout))?
        };
        let sampler = Sampler::new(config.sampling_initial, config.sampling_thereafter);
        Ok(DebugExporter {
            id,
            verbosity: config.verbosity,
            sampler,
            sink,
            metrics,
        })
    }

    fn summary(&self, signal: Signal, summary: &Summary) -> std::io::Result<()> {
        if !self.sampler.allow(message(signal)) {
            return Ok(());
        }
        if !matches!(self.sink, Sink::Internal) {
            return self
                .sink
                .write(&format!("{}\n", summary.console_line(signal)));
        }
        let (id, s) = (&self.id, summary);
        match signal {
            Signal::Traces => tracing::info!(
                otelcol.component.id = %id, otelcol.component.kind = "exporter", otelcol.signal = "traces",
                "resource spans" = s.resources, spans = s.items, "Traces"
            ),
            Signal::Metrics => tracing::info!(
                otelcol.component.id = %id, otelcol.component.kind = "exporter", otelcol.signal = "metrics",
                "resource metrics" = s.resources, metrics = s.metrics, "data points" = s.items, "Metrics"
            ),
            Signal::Logs => tracing::info!(
                otelcol.component.id = %id, otelcol.component.kind = "exporter", otelcol.signal = "logs",
                "resource logs" = s.resources, "log records" = s.items, "Logs"
            ),
        }
        Ok(())
    }

    fn dump(&self, signal: Signal, text: &str) -> std::io::Result<()> {
        let text = text.trim_end_matches('\n');
        if text.is_empty() || !self.sampler.allow(text) {
            return Ok(());
        }
        match self.sink {
            Sink::Internal => {
                tracing::info!(otelcol.component.id = %self.id, otelcol.component.kind = "exporter",
                    otelcol.signal = %signal, "{text}");
                Ok(())
            }
            Sink::Writers(_) => self.sink.write(&format!("{text}\n")),
        }
    }
}

#[async_trait]
impl Consumer for DebugExporter {
    async fn consume(&self, mut data: Telemetry) -> Result<(), ConsumeError> {
        let signal = data.signal();
        let items = data.item_count();
        let fail = |message: String| {
            self.metrics.send_failed(signal, items);
            Err(ConsumeError::Permanent(message))
        };
        if let Err(e) = self.summary(signal, &Summary::of(&data)) {
            return fail(format!("debug exporter could not write: {e}"));
        }
        match render(&mut data, self.verbosity) {
            Ok(None) => {}
            Ok(Some(text)) => {
                if let Err(e) = self.dump(signal, &text) {
                    return fail(format!("debug exporter could not write: {e}"));
                }
            }
            Err(e) => {
                return fail(format!(
                    "debug exporter could not decode the {signal} batch: {e}"
                ));
            }
        }
        self.metrics.sent(signal, items);
        Ok(())
    }
}

impl Lifecycle for DebugExporter {}
