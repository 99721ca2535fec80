use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use ferrotel_core::component::{ComponentId, CreateSettings, Factory, Kind, ProcessorFactory};
use ferrotel_core::config::Node;
use ferrotel_core::consumer::{ConsumeError, Consumer};
use ferrotel_core::signal::{Signal, Telemetry};
use ferrotel_core::telemetry::SelfTelemetry;
use ferrotel_testkit::metric_value;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

use crate::L7ProtocolProcessorFactory;

#[derive(Default)]
struct Recorder(Mutex<Vec<Telemetry>>);

#[async_trait]
impl Consumer for Recorder {
    async fn consume(&self, data: Telemetry) -> Result<(), ConsumeError> {
        self.0.lock().unwrap().push(data);
        Ok(())
    }
}

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

/// A client span as an ebpf receiver with `export_payload` and no in-process parsing sends it.
fn captured(protocol: &str, request: &[u8], status: i64) -> Span {
    Span {
        name: protocol.into(),
        attributes: vec![
            kv(
                "l7.protocol",
                any_value::Value::StringValue(protocol.into()),
            ),
            kv("l7.status", any_value::Value::IntValue(status)),
            kv(
                "l7.request.payload",
                any_value::Value::BytesValue(request.to_vec()),
            ),
            kv(
                "l7.response.payload",
                any_value::Value::BytesValue(b"HTTP/1.1 200 OK\r\n".to_vec()),
            ),
        ],
        ..Default::default()
    }
}

fn request(service: &str, spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv(
                    "service.name",
                    any_value::Value::StringValue(service.into()),
                )],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

struct Harness {
    processor: ferrotel_core::component::PipeRef,
    recorder: Arc<Recorder>,
    telemetry: Arc<SelfTelemetry>,
}

impl Harness {
    fn new(config: &str) -> Harness {
        let telemetry = SelfTelemetry::new(&[]);
        let recorder = Arc::new(Recorder::default());
        let set = CreateSettings::new(
            ComponentId::new("l7protocol", None),
            Kind::Processor,
            telemetry.clone(),
        );
        let node = Node::parse(config, "l7protocol.yaml").unwrap();
        let processor = L7ProtocolProcessorFactory
            .create(set, &node, Signal::Traces, recorder.clone())
            .unwrap();
        Harness {
            processor,
            recorder,
            telemetry,
        }
    }

    async fn run(&self, request: ExportTraceServiceRequest) -> Vec<Span> {
        self.processor
            .consume(Telemetry::from_traces(request))
            .await
            .unwrap();
        let mut out = self.recorder.0.lock().unwrap().pop().unwrap();
        out.traces().unwrap().resource_spans[0].scope_spans[0]
            .spans
            .clone()
    }

    fn counted(&self, outcome: &str) -> f64 {
        metric_value(
            &self.telemetry,
            "otelcol_processor_l7protocol_spans_total",
            &format!("outcome=\"{outcome}\""),
        )
    }
}

fn attr<'a>(span: &'a Span, key: &str) -> Option<&'a any_value::Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
}

fn str_attr(span: &Span, key: &str) -> Option<String> {
    match attr(span, key)? {
        any_value::Value::StringValue(s) => Some(s.clone()),
        other => Some(format!("{other:?}")),
    }
}

const HTTP: &[u8] =
    b"GET /users/42?token=secret HTTP/1.1\r\nHost: shop\r\nAuthorization: Bearer x\r\n\r\n";
const SQL: &[u8] = b"Q\0\0\0\x2bselect name from users where id = 42\0";

#[tokio::test]
async fn a_captured_request_becomes_what_the_receiver_would_have_made_in_process() {
    let h = Harness::new("");
    let spans = h
        .run(request(
            "shop",
            vec![captured("http", HTTP, 404), captured("postgresql", SQL, 0)],
        ))
        .await;
    let options = ferrotel_l7::Options::default();
    for (span, (protocol, bytes, status)) in spans.iter().zip([
        (ferrotel_l7::Protocol::Http, HTTP, 404),
        (ferrotel_l7::Protocol::Postgres, SQL, 0),
    ]) {
        let want = ferrotel_l7::parse(protocol, bytes, status, &options).unwrap();
        assert_eq!(span.name, want.name);
        for (key, value) in &want.attributes {
            let got = attr(span, key).unwrap_or_else(|| panic!("{key} missing: {span:?}"));
            match value {
                ferrotel_l7::Value::Str(s) => {
                    assert_eq!(got, &any_value::Value::StringValue(s.to_string()))
                }
                ferrotel_l7::Value::Int(i) => assert_eq!(got, &any_value::Value::IntValue(*i)),
            }
        }
        assert_eq!(attr(span, "l7.request.payload"), None, "{span:?}");
        assert_eq!(attr(span, "l7.response.payload"), None, "{span:?}");
    }
    assert_eq!(spans[0].name, "GET /users/{id}");
    assert_eq!(
        str_attr(&spans[1], "db.query.text").unwrap(),
        "select name from users where id = ?"
    );
    let all = format!("{spans:?}");
    assert!(!all.contains("secret") && !all.contains("Bearer"), "{all}");
    assert_eq!(h.counted("parsed"), 2.0);
    assert_eq!(h.counted("not_parsed"), 0.0);
}

#[tokio::test]
async fn keep_payload_keeps_the_bytes_and_sanitize_false_keeps_literals() {
    let h = Harness::new("keep_payload: true\nsanitize: false\n");
    let spans = h
        .run(request("shop", vec![captured("postgresql", SQL, 0)]))
        .await;
    assert_eq!(
        attr(&spans[0], "l7.request.payload"),
        Some(&any_value::Value::BytesValue(SQL.to_vec()))
    );
    assert!(attr(&spans[0], "l7.response.payload").is_some());
    assert_eq!(
        str_attr(&spans[0], "db.query.text").unwrap(),
        "select name from users where id = 42"
    );
}

#[tokio::test]
async fn spans_without_a_payload_pass_as_they_came() {
    let h = Harness::new("");
    let plain = Span {
        name: "GET /health".into(),
        attributes: vec![kv(
            "l7.protocol",
            any_value::Value::StringValue("http".into()),
        )],
        ..Default::default()
    };
    let original = Telemetry::from_traces(request("shop", vec![plain.clone()])).to_encoded();
    h.processor
        .consume(Telemetry::from_encoded(Signal::Traces, original.clone()).unwrap())
        .await
        .unwrap();
    let out = h.recorder.0.lock().unwrap().pop().unwrap();
    assert_eq!(out.to_encoded(), original);
    assert_eq!(h.counted("parsed") + h.counted("not_parsed"), 0.0);
}

#[tokio::test]
async fn unreadable_payloads_are_counted_and_still_removed() {
    let h = Harness::new("");
    let spans = h
        .run(request(
            "shop",
            vec![
                captured("http", b"\x00\x01garbage", 0),
                captured("no-such-protocol", HTTP, 0),
            ],
        ))
        .await;
    assert_eq!(spans[0].name, "http");
    assert_eq!(attr(&spans[0], "l7.request.payload"), None);
    assert_eq!(attr(&spans[1], "l7.request.payload"), None);
    assert_eq!(h.counted("not_parsed"), 2.0);
}

#[tokio::test]
async fn routes_past_the_limit_are_dropped_and_counted() {
    let h = Harness::new("max_routes_per_service: 1\n");
    let get = |path: &str| format!("GET {path} HTTP/1.1\r\nHost: a\r\n\r\n").into_bytes();
    let spans = h
        .run(request(
            "shop",
            vec![
                captured("http", &get("/a"), 200),
                captured("http", &get("/b"), 200),
            ],
        ))
        .await;
    assert_eq!(spans[0].name, "GET /a");
    assert_eq!(spans[1].name, "GET");
    assert_eq!(attr(&spans[1], "http.route"), None);
    let overflow = h
        .telemetry
        .encode()
        .lines()
        .find(|l| l.starts_with("otelcol_processor_l7protocol_route_overflow_total"))
        .map(str::to_string);
    assert_eq!(
        overflow.as_deref(),
        Some("otelcol_processor_l7protocol_route_overflow_total 1")
    );
}

#[test]
fn bad_settings_name_the_key() {
    let check = |yaml: &str| {
        let node = Node::parse(yaml, "l7protocol.yaml").unwrap();
        L7ProtocolProcessorFactory
            .validate(&node)
            .unwrap_err()
            .to_string()
    };
    let unknown = check("keep_payloads: true\n");
    assert!(unknown.contains("keep_payloads"), "{unknown}");
    let zero = check("max_query_length: 0\n");
    assert!(zero.contains("max_query_length"), "{zero}");
}
