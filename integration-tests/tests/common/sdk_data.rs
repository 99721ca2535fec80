//! The data integration-tests/python/send_telemetry.py sends, as the recording server decodes it:
//! flattening into comparable items, and the checks that the SDK sent what the script says.

use ferrotel_integration_tests::recorder::Recorded;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::{Metric, metric, number_data_point};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{Span, span, status};
use std::collections::BTreeMap;

/// One span, metric or log record with everything above it, so that two recordings batched
/// differently compare equal when their content is equal.
#[derive(Clone, Debug, PartialEq)]
pub struct Item<T> {
    pub resource: Option<Resource>,
    pub resource_schema_url: String,
    pub scope: Option<InstrumentationScope>,
    pub scope_schema_url: String,
    pub item: T,
}

fn sent_over(resource: &Option<Resource>, transport: &str) -> bool {
    resource.as_ref().is_some_and(|r| {
        r.attributes
            .iter()
            .any(|kv| kv.key == "test.transport" && kv.value == Some(string(transport)))
    })
}

/// The spans of the run over `transport`, ordered by span id.
pub fn spans(recorded: &Recorded, transport: &str) -> Vec<Item<Span>> {
    let mut items: Vec<_> = recorded
        .traces
        .iter()
        .flat_map(|request| &request.resource_spans)
        .filter(|rs| sent_over(&rs.resource, transport))
        .flat_map(|rs| {
            rs.scope_spans.iter().flat_map(move |ss| {
                ss.spans.iter().map(move |span| Item {
                    resource: rs.resource.clone(),
                    resource_schema_url: rs.schema_url.clone(),
                    scope: ss.scope.clone(),
                    scope_schema_url: ss.schema_url.clone(),
                    item: span.clone(),
                })
            })
        })
        .collect();
    items.sort_by(|a, b| a.item.span_id.cmp(&b.item.span_id));
    items
}

/// The metrics of the run over `transport`, ordered by name.
pub fn metrics(recorded: &Recorded, transport: &str) -> Vec<Item<Metric>> {
    let mut items: Vec<_> = recorded
        .metrics
        .iter()
        .flat_map(|request| &request.resource_metrics)
        .filter(|rm| sent_over(&rm.resource, transport))
        .flat_map(|rm| {
            rm.scope_metrics.iter().flat_map(move |sm| {
                sm.metrics.iter().map(move |metric| Item {
                    resource: rm.resource.clone(),
                    resource_schema_url: rm.schema_url.clone(),
                    scope: sm.scope.clone(),
                    scope_schema_url: sm.schema_url.clone(),
                    item: metric.clone(),
                })
            })
        })
        .collect();
    items.sort_by(|a, b| a.item.name.cmp(&b.item.name));
    items
}

/// The log records of the run over `transport`, ordered by time.
pub fn logs(recorded: &Recorded, transport: &str) -> Vec<Item<LogRecord>> {
    let mut items: Vec<_> = recorded
        .logs
        .iter()
        .flat_map(|request| &request.resource_logs)
        .filter(|rl| sent_over(&rl.resource, transport))
        .flat_map(|rl| {
            rl.scope_logs.iter().flat_map(move |sl| {
                sl.log_records.iter().map(move |record| Item {
                    resource: rl.resource.clone(),
                    resource_schema_url: rl.schema_url.clone(),
                    scope: sl.scope.clone(),
                    scope_schema_url: sl.schema_url.clone(),
                    item: record.clone(),
                })
            })
        })
        .collect();
    items.sort_by_key(|item| item.item.time_unix_nano);
    items
}

/// Whether a recording holds the whole run over `transport`: 2 spans, 3 metrics, 2 log records.
pub fn complete(recorded: &Recorded, transport: &str) -> bool {
    spans(recorded, transport).len() >= 2
        && metrics(recorded, transport).len() >= 3
        && logs(recorded, transport).len() >= 2
}

pub fn string(s: &str) -> AnyValue {
    AnyValue {
        value: Some(Value::StringValue(s.to_string())),
    }
}
pub fn int(i: i64) -> AnyValue {
    AnyValue {
        value: Some(Value::IntValue(i)),
    }
}
pub fn double(d: f64) -> AnyValue {
    AnyValue {
        value: Some(Value::DoubleValue(d)),
    }
}
pub fn boolean(b: bool) -> AnyValue {
    AnyValue {
        value: Some(Value::BoolValue(b)),
    }
}
pub fn array(values: Vec<AnyValue>) -> AnyValue {
    AnyValue {
        value: Some(Value::ArrayValue(ArrayValue { values })),
    }
}

/// Attributes as a map, panicking on a duplicate key (OTLP forbids them).
pub fn attributes(kvs: &[KeyValue]) -> BTreeMap<String, AnyValue> {
    let mut map = BTreeMap::new();
    for kv in kvs {
        let previous = map.insert(kv.key.clone(), kv.value.clone().unwrap_or_default());
        assert!(previous.is_none(), "duplicate attribute key {:?}", kv.key);
    }
    map
}

fn expect_attributes(actual: &[KeyValue], expected: &[(&str, AnyValue)], what: &str) {
    let actual = attributes(actual);
    let expected: BTreeMap<String, AnyValue> = expected
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    assert_eq!(actual, expected, "attributes of {what}");
}

/// Checks that the data the SDK sent over `transport` is what send_telemetry.py describes, so that a
/// relay compared against it is compared against the right thing.
pub fn check_sdk_data(recorded: &Recorded, transport: &str, run_id: &str) {
    let spans = spans(recorded, transport);
    let metrics = metrics(recorded, transport);
    let logs = logs(recorded, transport);
    assert_eq!(
        (spans.len(), metrics.len(), logs.len()),
        (2, 3, 2),
        "items sent over {transport}"
    );

    let resource = attributes(&spans[0].resource.as_ref().expect("a resource").attributes);
    for (key, value) in [
        ("service.name", string(&format!("interop-{transport}"))),
        ("test.run", string(run_id)),
        ("test.transport", string(transport)),
        ("res.int", int(42)),
        ("res.float", double(2.5)),
        ("res.bool", boolean(true)),
        ("res.strs", array(vec![string("a"), string("b")])),
        ("telemetry.sdk.language", string("python")),
    ] {
        assert_eq!(resource.get(key), Some(&value), "resource attribute {key}");
    }

    let parent = spans
        .iter()
        .map(|i| &i.item)
        .find(|s| s.name == "parent")
        .expect("span 'parent'");
    let child = spans
        .iter()
        .map(|i| &i.item)
        .find(|s| s.name == "child")
        .expect("span 'child'");
    let scope = spans[0].scope.as_ref().expect("a scope");
    assert_eq!(
        (scope.name.as_str(), scope.version.as_str()),
        ("interop.tracer", "1.2.3")
    );
    assert_eq!(parent.kind, span::SpanKind::Server as i32);
    expect_attributes(
        &parent.attributes,
        &[
            ("attr.str", string("hello ünïcode ✓")),
            ("attr.int", int(-9_007_199_254_740_993)),
            ("attr.float", double(3.25)),
            ("attr.bool", boolean(true)),
            (
                "attr.str_array",
                array(vec![string("x"), string("y"), string("z")]),
            ),
            ("attr.int_array", array(vec![int(1), int(-2), int(3)])),
            ("attr.float_array", array(vec![double(0.5), double(1.5)])),
            (
                "attr.bool_array",
                array(vec![boolean(true), boolean(false)]),
            ),
            ("attr.empty_str", string("")),
        ],
        "span 'parent'",
    );
    assert_eq!(parent.events.len(), 2);
    assert_eq!(parent.events[0].name, "cache.miss");
    expect_attributes(
        &parent.events[0].attributes,
        &[("key", string("user:42")), ("attempt", int(2))],
        "event",
    );
    assert_eq!(
        (
            parent.events[1].name.as_str(),
            parent.events[1].time_unix_nano
        ),
        ("retry", 1_700_000_000_000_000_000)
    );
    let parent_status = parent.status.as_ref().expect("a status");
    assert_eq!(
        (parent_status.code, parent_status.message.as_str()),
        (status::StatusCode::Error as i32, "boom")
    );
    assert!(
        parent.parent_span_id.is_empty()
            && parent.trace_id.len() == 16
            && parent.span_id.len() == 8
    );
    assert!(
        parent.start_time_unix_nano > 0 && parent.start_time_unix_nano <= parent.end_time_unix_nano
    );

    assert_eq!(child.kind, span::SpanKind::Client as i32);
    assert_eq!(
        (&child.trace_id, &child.parent_span_id),
        (&parent.trace_id, &parent.span_id)
    );
    assert_eq!(
        child.status.as_ref().map(|s| s.code),
        Some(status::StatusCode::Ok as i32)
    );
    assert_eq!(child.links.len(), 1);
    assert_eq!(
        hex(&child.links[0].trace_id),
        "0af7651916cd43dd8448eb211c80319c"
    );
    assert_eq!(hex(&child.links[0].span_id), "b7ad6b7169203331");
    expect_attributes(
        &child.links[0].attributes,
        &[("link.kind", string("follows"))],
        "link",
    );

    let [counter, histogram, gauge] = [&metrics[1].item, &metrics[0].item, &metrics[2].item];
    assert_eq!(
        (counter.name.as_str(), counter.unit.as_str()),
        ("interop.requests", "{request}")
    );
    assert_eq!(counter.description, "Requests handled");
    let Some(metric::Data::Sum(sum)) = &counter.data else {
        panic!("interop.requests is not a sum: {counter:?}")
    };
    assert!(sum.is_monotonic);
    let mut per_route: Vec<(String, Option<number_data_point::Value>)> = sum
        .data_points
        .iter()
        .map(|p| {
            (
                format!("{:?}", attributes(&p.attributes).get("route").cloned()),
                p.value,
            )
        })
        .collect();
    per_route.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        per_route.iter().map(|(_, v)| *v).collect::<Vec<_>>(),
        vec![
            Some(number_data_point::Value::AsInt(6)),
            Some(number_data_point::Value::AsInt(7))
        ]
    );

    assert_eq!(
        (histogram.name.as_str(), histogram.unit.as_str()),
        ("interop.latency", "ms")
    );
    let Some(metric::Data::Histogram(h)) = &histogram.data else {
        panic!("interop.latency is not a histogram")
    };
    let point = &h.data_points[0];
    assert_eq!(
        (point.count, point.sum, point.min, point.max),
        (4, Some(1022.5), Some(3.0), Some(1000.0))
    );
    assert_eq!(point.bucket_counts.iter().sum::<u64>(), 4);
    assert_eq!(point.bucket_counts.len(), point.explicit_bounds.len() + 1);
    expect_attributes(
        &point.attributes,
        &[("route", string("/a"))],
        "histogram point",
    );

    assert_eq!(
        (gauge.name.as_str(), gauge.unit.as_str()),
        ("interop.temperature", "Cel")
    );
    let Some(metric::Data::Gauge(g)) = &gauge.data else {
        panic!("interop.temperature is not a gauge")
    };
    assert_eq!(
        g.data_points[0].value,
        Some(number_data_point::Value::AsDouble(21.5))
    );
    expect_attributes(
        &g.data_points[0].attributes,
        &[("room", string("lab"))],
        "gauge point",
    );

    let (warn, error) = (&logs[0].item, &logs[1].item);
    assert_eq!(
        logs[0].scope.as_ref().map(|s| s.name.as_str()),
        Some("interop.logger")
    );
    assert_eq!(
        (warn.severity_number, warn.severity_text.as_str()),
        (13, "WARN")
    );
    assert_eq!(warn.time_unix_nano, 1_700_000_000_123_456_789);
    assert_eq!(warn.body, Some(string("disk almost full")));
    expect_attributes(
        &warn.attributes,
        &[
            ("disk.free_bytes", int(1024)),
            ("disk.path", string("/var")),
            ("disk.ratio", double(0.97)),
            ("alert", boolean(true)),
            ("tags", array(vec![string("storage"), string("capacity")])),
        ],
        "WARN log record",
    );
    assert_eq!(
        (&warn.trace_id, &warn.span_id),
        (&child.trace_id, &child.span_id),
        "log record in span context"
    );
    assert_eq!(
        (error.severity_number, error.severity_text.as_str()),
        (17, "ERROR")
    );
    let Some(Value::KvlistValue(KeyValueList { values })) =
        error.body.as_ref().and_then(|b| b.value.clone())
    else {
        panic!("ERROR log body is not a map: {:?}", error.body)
    };
    expect_attributes(
        &values,
        &[("event", string("crash")), ("code", int(500))],
        "ERROR log body",
    );
    expect_attributes(
        &error.attributes,
        &[("exception.type", string("ValueError"))],
        "ERROR log record",
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
