//! Realistic OTLP export requests for the load generator, built once and re-sent as bytes.
//!
//! A span here looks like what an HTTP server instrumentation emits: ids, a name, a kind, timestamps,
//! a status and `attributes` semantic-convention-like attributes of mixed types. With the default
//! ten attributes a span encodes to about 540 bytes, close to what real services send.

use ferrotel_core::Signal;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, InstrumentationScope, KeyValue, any_value::Value,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs, SeverityNumber};
use opentelemetry_proto::tonic::metrics::v1::{
    Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, metric, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, span, status,
};
use prost::Message;

/// What one request looks like.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub signal: Signal,
    /// Items (spans, data points, log records) per request.
    pub batch_size: usize,
    /// Attributes on each item.
    pub attributes: usize,
}

/// How many distinct requests to pre-build: enough that ids and values vary, few enough to stay in cache.
pub const VARIANTS: usize = 8;

/// Builds `VARIANTS` distinct encoded export requests of the given shape.
pub fn encoded_requests(shape: Shape) -> Vec<Vec<u8>> {
    (0..VARIANTS)
        .map(|variant| encode(shape, variant as u64))
        .collect()
}

/// One encoded export request; `variant` seeds ids and values so that variants differ.
pub fn encode(shape: Shape, variant: u64) -> Vec<u8> {
    match shape.signal {
        Signal::Traces => traces(shape, variant).encode_to_vec(),
        Signal::Metrics => metrics(shape, variant).encode_to_vec(),
        Signal::Logs => logs(shape, variant).encode_to_vec(),
    }
}

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(value) }),
        key_strindex: 0,
    }
}

fn string(key: &str, value: impl Into<String>) -> KeyValue {
    kv(key, Value::StringValue(value.into()))
}

fn resource(variant: u64) -> Resource {
    Resource {
        attributes: vec![
            string("service.name", "checkout"),
            string("service.namespace", "shop"),
            string("service.version", "1.27.3"),
            string(
                "service.instance.id",
                format!("checkout-7d9f8b6c4-{:05x}", variant * 7919 % 0xfffff),
            ),
            string("deployment.environment.name", "production"),
            string(
                "host.name",
                format!("node-{:02}.eu-west-1.compute.internal", variant % 16),
            ),
            string("telemetry.sdk.language", "rust"),
            string("telemetry.sdk.name", "opentelemetry"),
        ],
        dropped_attributes_count: 0,
        entity_refs: Vec::new(),
    }
}

fn scope() -> InstrumentationScope {
    InstrumentationScope {
        name: "ferrotel-loadgen".to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        attributes: Vec::new(),
        dropped_attributes_count: 0,
    }
}

/// The pool item attributes are drawn from, cycling when more are asked for.
fn item_attributes(count: usize, seed: u64) -> Vec<KeyValue> {
    const ROUTES: [&str; 4] = [
        "/api/v1/cart/{id}",
        "/api/v1/checkout",
        "/api/v1/products",
        "/healthz",
    ];
    (0..count)
        .map(|i| {
            let n = seed.wrapping_add(i as u64);
            let suffix = if i >= 10 { format!(".{}", i / 10) } else { String::new() };
            let key = |base: &str| format!("{base}{suffix}");
            match i % 10 {
                0 => string(&key("http.request.method"), ["GET", "POST", "PUT", "DELETE"][(n % 4) as usize]),
                1 => string(&key("http.route"), ROUTES[(n % 4) as usize]),
                2 => string(&key("url.full"), format!("https://shop.example.com{}?session={:016x}", ROUTES[(n % 4) as usize], n)),
                3 => kv(&key("http.response.status_code"), Value::IntValue([200, 201, 404, 500][(n % 4) as usize])),
                4 => string(&key("server.address"), "shop.example.com"),
                5 => kv(&key("server.port"), Value::IntValue(443)),
                6 => string(&key("user_agent.original"), "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0"),
                7 => string(&key("network.peer.address"), format!("10.{}.{}.{}", n % 256, (n / 3) % 256, (n / 7) % 256)),
                8 => kv(&key("http.request.body.size"), Value::IntValue((n.wrapping_mul(37) % 4096) as i64)),
                _ => kv(&key("app.cache_hit"), Value::BoolValue(n.is_multiple_of(3))),
            }
        })
        .collect()
}

/// A deterministic 64-bit mix, so ids look random but builds are reproducible.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn base_time_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

fn traces(shape: Shape, variant: u64) -> ExportTraceServiceRequest {
    let now = base_time_nanos();
    let spans = (0..shape.batch_size as u64)
        .map(|i| {
            let seed = mix(variant << 32 | i);
            let trace_id = [
                mix(seed).to_be_bytes(),
                mix(seed.wrapping_add(1)).to_be_bytes(),
            ]
            .concat();
            let start = now - 5_000_000_000 + (seed % 1_000_000_000);
            Span {
                trace_id,
                span_id: mix(seed.wrapping_add(2)).to_be_bytes().to_vec(),
                trace_state: String::new(),
                parent_span_id: mix(seed.wrapping_add(3)).to_be_bytes().to_vec(),
                flags: 1,
                name: format!(
                    "{} {}",
                    ["GET", "POST"][(seed % 2) as usize],
                    "/api/v1/cart/{id}"
                ),
                kind: span::SpanKind::Server as i32,
                start_time_unix_nano: start,
                end_time_unix_nano: start + 1_000_000 + seed % 50_000_000,
                attributes: item_attributes(shape.attributes, seed),
                dropped_attributes_count: 0,
                events: Vec::new(),
                dropped_events_count: 0,
                links: Vec::new(),
                dropped_links_count: 0,
                status: Some(if seed.is_multiple_of(20) {
                    Status {
                        message: "upstream timed out".to_string(),
                        code: status::StatusCode::Error as i32,
                    }
                } else {
                    Status {
                        message: String::new(),
                        code: status::StatusCode::Ok as i32,
                    }
                }),
            }
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource(variant)),
            scope_spans: vec![ScopeSpans {
                scope: Some(scope()),
                spans,
                schema_url: String::new(),
            }],
            schema_url: "https://opentelemetry.io/schemas/1.26.0".to_string(),
        }],
    }
}

fn metrics(shape: Shape, variant: u64) -> ExportMetricsServiceRequest {
    let now = base_time_nanos();
    let points = (0..shape.batch_size as u64)
        .map(|i| {
            let seed = mix(variant << 32 | i);
            NumberDataPoint {
                attributes: item_attributes(shape.attributes, seed),
                start_time_unix_nano: now - 60_000_000_000,
                time_unix_nano: now,
                exemplars: Vec::new(),
                flags: 0,
                value: Some(number_data_point::Value::AsDouble(
                    (seed % 10_000) as f64 / 100.0,
                )),
            }
        })
        .collect();
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(resource(variant)),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(scope()),
                metrics: vec![Metric {
                    name: "http.server.active_requests".to_string(),
                    description: "Number of active HTTP server requests.".to_string(),
                    unit: "{request}".to_string(),
                    metadata: Vec::new(),
                    data: Some(metric::Data::Gauge(Gauge {
                        data_points: points,
                    })),
                }],
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

fn logs(shape: Shape, variant: u64) -> ExportLogsServiceRequest {
    let now = base_time_nanos();
    let records = (0..shape.batch_size as u64)
        .map(|i| {
            let seed = mix(variant << 32 | i);
            let error = seed.is_multiple_of(10);
            LogRecord {
                time_unix_nano: now - seed % 1_000_000_000,
                observed_time_unix_nano: now,
                severity_number: if error {
                    SeverityNumber::Error
                } else {
                    SeverityNumber::Info
                } as i32,
                severity_text: if error { "ERROR" } else { "INFO" }.to_string(),
                body: Some(AnyValue {
                    value: Some(Value::StringValue(format!(
                        "request {:016x} served in {} ms from cache shard {}",
                        seed,
                        seed % 250,
                        seed % 32
                    ))),
                }),
                attributes: item_attributes(shape.attributes, seed),
                dropped_attributes_count: 0,
                flags: 1,
                trace_id: [
                    mix(seed).to_be_bytes(),
                    mix(seed.wrapping_add(1)).to_be_bytes(),
                ]
                .concat(),
                span_id: mix(seed.wrapping_add(2)).to_be_bytes().to_vec(),
                event_name: String::new(),
            }
        })
        .collect();
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(resource(variant)),
            scope_logs: vec![ScopeLogs {
                scope: Some(scope()),
                log_records: records,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use ferrotel_core::Telemetry;

    #[test]
    fn every_signal_counts_as_built() {
        for signal in Signal::ALL {
            let shape = Shape {
                signal,
                batch_size: 37,
                attributes: 10,
            };
            for request in encoded_requests(shape) {
                let telemetry =
                    Telemetry::from_encoded(signal, Bytes::from(request)).expect("well-formed");
                assert_eq!(telemetry.item_count(), 37, "{signal}");
            }
        }
    }

    #[test]
    fn default_span_is_about_540_bytes() {
        let shape = Shape {
            signal: Signal::Traces,
            batch_size: 1000,
            attributes: 10,
        };
        let request =
            ExportTraceServiceRequest::decode(encode(shape, 3).as_slice()).expect("decodes");
        let spans = &request.resource_spans[0].scope_spans[0].spans;
        let per_span = spans.iter().map(|s| s.encoded_len()).sum::<usize>() / spans.len();
        assert!(
            (480..=600).contains(&per_span),
            "a default span encodes to {per_span} bytes"
        );
        assert_eq!(spans[0].attributes.len(), 10);
    }

    #[test]
    fn attributes_beyond_the_pool_get_distinct_keys() {
        let attributes = item_attributes(25, 1);
        let mut keys: Vec<_> = attributes.iter().map(|kv| kv.key.as_str()).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), 25);
    }

    #[test]
    fn variants_differ() {
        let requests = encoded_requests(Shape {
            signal: Signal::Logs,
            batch_size: 4,
            attributes: 3,
        });
        assert_eq!(requests.len(), VARIANTS);
        assert_ne!(requests[0], requests[1]);
    }
}
