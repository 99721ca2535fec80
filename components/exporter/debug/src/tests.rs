//! The texts, rendered from real prost-encoded requests, and the exporter writing to a real file.

use ferrotel_core::component::{ComponentId, CreateSettings, ExporterFactory, Kind};
use ferrotel_core::config::Node;
use ferrotel_core::signal::{Signal, Telemetry};
use ferrotel_core::telemetry::SelfTelemetry;

mod fixtures;

use crate::{DebugExporterFactory, Summary, Verbosity, render};
use fixtures::{logs, metrics, traces};

fn text(mut data: Telemetry, verbosity: Verbosity) -> String {
    render(&mut data, verbosity)
        .unwrap()
        .expect("a dump at this verbosity")
}

fn assert_lines(text: &str, expected: &[&str]) {
    let lines: Vec<&str> = text.lines().collect();
    for line in expected {
        assert!(lines.contains(line), "missing line {line:?} in:\n{text}");
    }
}

#[test]
fn detailed_traces_show_every_field_and_every_value_kind() {
    let text = text(traces(), Verbosity::Detailed);
    assert!(
        text.starts_with(
            "ResourceSpans #0\nResource SchemaURL: https://r/1\nResource attributes:\n"
        ),
        "{text}"
    );
    assert_lines(
        &text,
        &[
            "     -> service.name: Str(checkout)",
            "ScopeSpans #0",
            "ScopeSpans SchemaURL: https://s/1",
            "InstrumentationScope lib 1.2",
            "Span #0",
            "    Trace ID       : 0102030405060708090a0b0c0d0e0f10",
            "    Parent ID      : ",
            "    ID             : 1112131415161718",
            "    Name           : GET /cart",
            "    Kind           : Server",
            "    Start time     : 2020-02-11 20:26:12.000000321 +0000 UTC",
            "    End time       : 2020-02-11 20:26:13.000000789 +0000 UTC",
            "    Status code    : Error",
            "    Status message : boom",
            "Attributes:",
            "     -> str: Str(text)",
            "     -> bool: Bool(true)",
            "     -> int: Int(-42)",
            "     -> double: Double(2.5)",
            "     -> bytes: Bytes(3q2+7w==)",
            "     -> slice: Slice([\"a\",1])",
            "     -> map: Map({\"k\":\"v\",\"z\":false})",
            "     -> empty: Empty()",
            "Events:",
            "SpanEvent #0",
            "     -> Name: retry",
            "     -> Attributes::",
            "          -> attempt: Int(2)",
            "SpanLink #0",
            "     -> Trace ID: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "    DroppedLinksCount: 3",
            "Span #1",
            "    Trace ID       : ",
            "    Name           : child",
            "    Kind           : Unspecified",
            "    Start time     : 1970-01-01 00:00:00 +0000 UTC",
        ],
    );
}

#[test]
fn normal_traces_are_a_line_per_span() {
    let text = text(traces(), Verbosity::Normal);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "ResourceTraces #0 [https://r/1] service.name=checkout"
    );
    assert_eq!(lines[1], "ScopeTraces #0 lib@1.2 [https://s/1]");
    assert_eq!(
        lines[2],
        "GET /cart 0102030405060708090a0b0c0d0e0f10 1112131415161718 str=text bool=true int=-42 double=2.5 \
         bytes=3q2+7w== slice=[\"a\",1] map={\"k\":\"v\",\"z\":false} empty="
    );
    assert_eq!(lines[3], "child  0909090909090909");
    assert_eq!(lines.len(), 4);
}

#[test]
fn logs_in_both_verbosities() {
    let detailed = text(logs(), Verbosity::Detailed);
    assert_lines(
        &detailed,
        &[
            "ResourceLog #0",
            "ScopeLogs #0",
            "InstrumentationScope  ",
            "LogRecord #0",
            "ObservedTimestamp: 1970-01-01 00:00:00 +0000 UTC",
            "Timestamp: 2020-02-11 20:26:13.000000789 +0000 UTC",
            "SeverityText: INFO2",
            "SeverityNumber: Info2(10)",
            "EventName: cart.checked_out",
            "Body: Map({\"msg\":\"done\"})",
            "     -> user: Str(u1)",
            "Trace ID: ",
            "Flags: 1",
        ],
    );
    let normal = text(logs(), Verbosity::Normal);
    assert_eq!(
        normal,
        "ResourceLog #0 service.name=checkout\nScopeLog #0\n{\"msg\":\"done\"} user=u1\n"
    );
}

#[test]
fn metrics_in_both_verbosities() {
    let detailed = text(metrics(), Verbosity::Detailed);
    assert_lines(
        &detailed,
        &[
            "Metric #0",
            "     -> Name: gauge-int",
            "     -> DataType: Gauge",
            "NumberDataPoints #0",
            "Data point attributes:",
            "     -> label: Str(a)",
            "Value: 123",
            "     -> DataType: Sum",
            "     -> IsMonotonic: true",
            "     -> AggregationTemporality: Cumulative",
            "Value: 1.230000",
            "HistogramDataPoints #0",
            "Sum: 15.000000",
            "ExplicitBounds #0: 1.000000",
            "Buckets #1, Count: 1",
            "Exemplar #0",
            "     -> Value: 15.000000",
            "     -> AggregationTemporality: Delta",
            "Bucket [-1.414214, -1.000000), Count: 1",
            "Bucket [0, 0], Count: 1",
            "Bucket (1.414214, 2.000000], Count: 1",
            "QuantileValue #0: Quantile 0.010000, Value 15.000000",
        ],
    );
    let normal = text(metrics(), Verbosity::Normal);
    assert_lines(
        &normal,
        &[
            "ResourceMetrics #0 service.name=checkout",
            "ScopeMetrics #0 lib@1.2",
            "gauge-int{label=a} 123",
            "sum-double{label=b} 1.23",
            "histogram{} count=1 sum=15 le1=0 1",
            "exponential{} count=3",
            "summary{} count=1 sum=15.000000 q0.01=15",
        ],
    );
}

#[test]
fn basic_counts_without_decoding() {
    let data = metrics();
    assert_eq!(
        Summary::of(&data),
        Summary {
            resources: 1,
            metrics: 5,
            items: 5
        }
    );
    assert_eq!(
        Summary::of(&data).console_line(Signal::Metrics),
        "Metrics\t{\"resource metrics\": 1, \"metrics\": 5, \"data points\": 5}"
    );
    let mut data = traces();
    assert_eq!(render(&mut data, Verbosity::Basic).unwrap(), None);
    assert_eq!(
        Summary::of(&data).console_line(Signal::Traces),
        "Traces\t{\"resource spans\": 1, \"spans\": 2}"
    );
}

#[tokio::test]
async fn writes_sampled_output_to_a_file_and_counts_what_it_sent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("debug.out");
    let config = format!(
        "verbosity: normal\nuse_internal_logger: false\nsampling_initial: 1\nsampling_thereafter: 0\noutput_paths: [{:?}]\n",
        path.display().to_string()
    );
    let telemetry = SelfTelemetry::new(&[]);
    let set = CreateSettings::new(
        ComponentId::new("debug", Some("file")),
        Kind::Exporter,
        telemetry.clone(),
    );
    let exporter = DebugExporterFactory
        .create(set, &Node::parse(&config, "debug.yaml").unwrap())
        .unwrap();
    exporter.consume(logs()).await.unwrap();
    exporter.consume(logs()).await.unwrap();
    exporter.consume(traces()).await.unwrap();
    exporter.shutdown().await.unwrap();

    let written = std::fs::read_to_string(&path).unwrap();
    // The second, identical Logs batch falls to sampling (1 per second, then none).
    assert_eq!(
        written,
        "Logs\t{\"resource logs\": 1, \"log records\": 1}\n\
         ResourceLog #0 service.name=checkout\nScopeLog #0\n{\"msg\":\"done\"} user=u1\n\
         Traces\t{\"resource spans\": 1, \"spans\": 2}\n"
            .to_owned()
            + &text(traces(), Verbosity::Normal)
    );
    let metrics = telemetry.encode();
    assert!(
        metrics.contains("otelcol_exporter_sent_log_records_total{exporter=\"debug/file\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("otelcol_exporter_sent_spans_total{exporter=\"debug/file\"} 2"),
        "{metrics}"
    );
}

/// Collects what the `tracing` fmt layer writes, to read back what the internal logger got.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn writes_through_the_internal_logger_by_default() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let telemetry = SelfTelemetry::new(&[]);
    let set = CreateSettings::new(
        ComponentId::new("debug", None),
        Kind::Exporter,
        telemetry.clone(),
    );
    let exporter = DebugExporterFactory
        .create(
            set,
            &Node::parse("verbosity: detailed\n", "debug.yaml").unwrap(),
        )
        .unwrap();
    exporter.consume(metrics()).await.unwrap();
    let logged = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logged.contains("Metrics"), "{logged}");
    assert!(
        logged.contains("\"resource metrics\"=1") || logged.contains("resource metrics=1"),
        "{logged}"
    );
    assert!(
        logged.contains("QuantileValue #0: Quantile 0.010000, Value 15.000000"),
        "{logged}"
    );

    // Framed correctly (one span) but not decodable: the span name is not UTF-8.
    const UNDECODABLE: &[u8] = &[0x0a, 0x07, 0x12, 0x05, 0x12, 0x03, 0x2a, 0x01, 0xff];
    let batch =
        Telemetry::from_encoded(Signal::Traces, bytes::Bytes::from_static(UNDECODABLE)).unwrap();
    assert_eq!(batch.item_count(), 1);
    let err = exporter.consume(batch).await.unwrap_err();
    assert!(!err.is_retryable(), "{err}");
    assert!(
        telemetry
            .encode()
            .contains("otelcol_exporter_send_failed_spans_total{exporter=\"debug\"} 1")
    );
}
