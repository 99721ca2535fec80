//! The `l7protocol` processor's runtime: parses each payload-carrying span's request with
//! `ferrotel_l7` and writes the result into the span.

use std::sync::Mutex;

use async_trait::async_trait;
use ferrotel_core::component::{CreateSettings, Lifecycle};
use ferrotel_core::consumer::{ConsumeError, Consumer, ConsumerRef};
use ferrotel_core::signal::Telemetry;
use ferrotel_l7::{Options, Protocol, RouteLimit, Semantics, Value};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::{Status, status};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

use crate::config::L7ProtocolConfig;

pub const REQUEST_PAYLOAD: &str = "l7.request.payload";
pub const RESPONSE_PAYLOAD: &str = "l7.response.payload";

type Labels = Vec<(String, String)>;

pub struct L7ProtocolProcessor {
    next: ConsumerRef,
    options: Options,
    keep_payload: bool,
    routes: Mutex<RouteLimit>,
    spans: Family<Labels, Counter>,
    route_overflow: Counter,
    processor: String,
}

/// What one batch did, counted after its lock is released.
#[derive(Default)]
struct Tally {
    parsed: u64,
    not_parsed: u64,
}

impl L7ProtocolProcessor {
    pub fn new(set: &CreateSettings, config: &L7ProtocolConfig, next: ConsumerRef) -> Self {
        let spans = Family::<Labels, Counter>::default();
        set.telemetry.register(
            "otelcol_processor_l7protocol_spans",
            "Spans carrying an l7.request.payload, by whether their request could be parsed",
            spans.clone(),
        );
        let route_overflow = Counter::default();
        set.telemetry.register(
            "otelcol_processor_l7protocol_route_overflow",
            "Spans whose http.route was dropped because their service had max_routes_per_service",
            route_overflow.clone(),
        );
        let processor = L7ProtocolProcessor {
            next,
            options: Options {
                sanitize: config.sanitize,
                max_query_len: config.max_query_length,
            },
            keep_payload: config.keep_payload,
            routes: Mutex::new(RouteLimit::new(config.max_routes_per_service)),
            spans,
            route_overflow,
            processor: set.id.to_string(),
        };
        processor.count(&Tally::default());
        processor
    }

    fn count(&self, tally: &Tally) {
        for (outcome, n) in [("parsed", tally.parsed), ("not_parsed", tally.not_parsed)] {
            let labels = vec![
                ("processor".to_string(), self.processor.clone()),
                ("outcome".to_string(), outcome.to_string()),
            ];
            self.spans.get_or_create(&labels).inc_by(n);
        }
    }

    fn process(&self, request: &mut ExportTraceServiceRequest) -> Tally {
        let mut tally = Tally::default();
        let mut routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        let overflowed = routes.overflowed;
        for resource_spans in &mut request.resource_spans {
            let resource = resource_spans.resource.as_ref();
            let service = resource
                .and_then(|r| {
                    string(&r.attributes, "service.name")
                        .or_else(|| string(&r.attributes, "process.executable.name"))
                })
                .unwrap_or_default()
                .to_string();
            for scope_spans in &mut resource_spans.scope_spans {
                for span in &mut scope_spans.spans {
                    match self.semantics(span) {
                        None => {}
                        Some(None) => tally.not_parsed += 1,
                        Some(Some(mut semantics)) => {
                            routes.admit(&service, &mut semantics);
                            apply(span, semantics);
                            tally.parsed += 1;
                        }
                    }
                    if !self.keep_payload {
                        span.attributes
                            .retain(|kv| kv.key != REQUEST_PAYLOAD && kv.key != RESPONSE_PAYLOAD);
                    }
                }
            }
        }
        self.route_overflow.inc_by(routes.overflowed - overflowed);
        tally
    }

    /// `None` for a span without a payload; `Some(None)` for one whose request says nothing
    /// this processor can read (an unknown protocol, or bytes no parser accepts).
    fn semantics(&self, span: &Span) -> Option<Option<Semantics>> {
        let payload = bytes(&span.attributes, REQUEST_PAYLOAD)?;
        let protocol = string(&span.attributes, "l7.protocol").and_then(Protocol::from_name);
        let status = span
            .attributes
            .iter()
            .find(|kv| kv.key == "l7.status")
            .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                any_value::Value::IntValue(i) => u32::try_from(*i).ok(),
                _ => None,
            })
            .unwrap_or(0);
        // the response's header blocks give gRPC's status when their fields are literals (a
        // span alone has no connection whose HPACK table the later ones point into)
        let exchange = ferrotel_l7::Exchange {
            request: payload,
            response: bytes(&span.attributes, RESPONSE_PAYLOAD).unwrap_or_default(),
            status,
            server: span.kind == SpanKind::Server as i32,
        };
        let connection = &mut ferrotel_l7::Connection::default();
        Some(
            protocol
                .and_then(|p| ferrotel_l7::parse_exchange(connection, p, &exchange, &self.options)),
        )
    }
}

fn bytes<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a [u8]> {
    attributes.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            any_value::Value::BytesValue(b) => Some(b.as_slice()),
            any_value::Value::StringValue(s) => Some(s.as_bytes()),
            _ => None,
        }
    })
}

fn string<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a str> {
    attributes.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            any_value::Value::StringValue(s) => Some(s.as_str()),
            _ => None,
        }
    })
}

/// Names the span and sets each attribute, replacing one of the same key.
fn apply(span: &mut Span, semantics: Semantics) {
    // a failure the request's origin could not know (a gRPC status in the trailers)
    if semantics.get("error.type").is_some() {
        span.status = Some(Status {
            code: status::StatusCode::Error as i32,
            ..Default::default()
        });
    }
    span.name = semantics.name;
    for (key, value) in semantics.attributes {
        let value = Some(AnyValue {
            value: Some(match value {
                Value::Str(s) => any_value::Value::StringValue(s.into_owned()),
                Value::Int(i) => any_value::Value::IntValue(i),
            }),
        });
        match span.attributes.iter_mut().find(|kv| kv.key == key) {
            Some(kv) => kv.value = value,
            None => span.attributes.push(KeyValue {
                key: key.to_string(),
                value,
                ..Default::default()
            }),
        }
    }
}

#[async_trait]
impl Consumer for L7ProtocolProcessor {
    fn mutates_data(&self) -> bool {
        true
    }

    async fn consume(&self, mut data: Telemetry) -> Result<(), ConsumeError> {
        let carries_payload = data
            .traces()
            .map_err(|e| ConsumeError::Permanent(e.to_string()))?
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| &s.spans)
            .any(|span| span.attributes.iter().any(|kv| kv.key == REQUEST_PAYLOAD));
        if !carries_payload {
            // forwarded as it came, still encoded
            return self.next.consume(data).await;
        }
        let tally = data
            .modify_traces(|request| self.process(request))
            .map_err(|e| ConsumeError::Permanent(e.to_string()))?;
        self.count(&tally);
        self.next.consume(data).await
    }
}

impl Lifecycle for L7ProtocolProcessor {}
