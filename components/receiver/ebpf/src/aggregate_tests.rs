//! The aggregator on synthetic kernel records: filters, metrics, spans and what payload leaves.

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::metric;
use opentelemetry_proto::tonic::trace::v1::ResourceSpans;

use crate::aggregate::Aggregator;
use crate::config::Config;
use crate::events::*;
use crate::procinfo::ProcessInfo;

fn zeroed<T>() -> T {
    // SAFETY: only used for the #[repr(C)] integer-and-array records of events.rs.
    unsafe { std::mem::zeroed() }
}

fn tuple(dport: u16) -> Tuple {
    let mut t: Tuple = zeroed();
    t.family = 2;
    t.saddr[..4].copy_from_slice(&[127, 0, 0, 1]);
    t.daddr[..4].copy_from_slice(&[127, 0, 0, 1]);
    t.sport = 40000;
    t.dport = dport;
    t.transport = TRANSPORT_TCP;
    t
}

fn aggregator(config: Config) -> Aggregator {
    // a /proc with nothing in it: every pid falls back to the kernel's comm
    Aggregator::new(Arc::new(config), "/nonexistent-proc")
}

fn comm(name: &str) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..name.len()].copy_from_slice(name.as_bytes());
    out
}

fn l7(status: u32) -> Record {
    let mut header: L7Header = zeroed();
    header.kind = EV_L7;
    header.tgid = 42;
    header.protocol = 1;
    header.status = status;
    header.role = ROLE_CLIENT;
    header.duration_ns = 2_000_000;
    header.ts_ns = 10_000_000;
    header.tuple = tuple(8080);
    header.comm = comm("curl");
    Record::L7(L7Event {
        header,
        request: b"GET /secret?token=abc HTTP/1.1\r\n".to_vec(),
        response: b"HTTP/1.1 500 Oops\r\n".to_vec(),
    })
}

/// The spans taken from the aggregator, decoded.
fn take_spans(agg: &mut Aggregator) -> Vec<ResourceSpans> {
    use prost::Message;
    agg.take_spans()
        .map(|(bytes, count)| {
            let spans = ExportTraceServiceRequest::decode(bytes)
                .unwrap()
                .resource_spans;
            let decoded: usize = spans.iter().map(|rs| rs.scope_spans[0].spans.len()).sum();
            assert_eq!(decoded, count);
            spans
        })
        .unwrap_or_default()
}

fn value(attrs: &[KeyValue], key: &str) -> Option<String> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .map(|v| format!("{:?}", v.value))
}

#[test]
fn include_and_exclude_filters() {
    let process = ProcessInfo {
        pid: 1,
        executable_name: "nginx".into(),
        cgroup_path: "/system.slice/nginx.service".into(),
        ..Default::default()
    };
    let mut config = Config::default();
    assert!(aggregator(config.clone()).allowed(&process, &[80]));
    config.include.ports = vec![443];
    assert!(!aggregator(config.clone()).allowed(&process, &[80]));
    assert!(aggregator(config.clone()).allowed(&process, &[443, 5000]));
    config.include.ports.clear();
    config.include.cgroup_paths = vec!["/system.slice/".into()];
    assert!(aggregator(config.clone()).allowed(&process, &[80]));
    config.exclude.process_names = vec!["nginx".into()];
    assert!(!aggregator(config.clone()).allowed(&process, &[80]));
    config.exclude.process_names.clear();
    config.exclude.ports = vec![80];
    assert!(!aggregator(config).allowed(&process, &[80]));
}

#[test]
fn a_refused_connect_counts_an_attempt_and_a_failure_by_errno() {
    let mut agg = aggregator(Config::default());
    let mut e: Event = zeroed();
    e.kind = EV_CONNECT_FAILED;
    e.tgid = 7;
    e.error = 111;
    e.tuple = tuple(5432);
    e.comm = comm("psql");
    agg.observe(Record::Event(e));
    let host = agg.host.clone();
    let out = agg.metrics.collect(0, 1, &host);
    assert_eq!(out.len(), 1);
    let resource = &out[0].resource.as_ref().unwrap().attributes;
    assert!(
        value(resource, "process.executable.name")
            .unwrap()
            .contains("psql")
    );
    let metrics = &out[0].scope_metrics[0].metrics;
    let failures = metrics
        .iter()
        .find(|m| m.name == "tcp.connection.failures")
        .unwrap();
    let Some(metric::Data::Sum(sum)) = &failures.data else {
        panic!("not a sum")
    };
    let attrs = &sum.data_points[0].attributes;
    assert!(value(attrs, "error.type").unwrap().contains("ECONNREFUSED"));
    assert!(value(attrs, "destination.port").unwrap().contains("5432"));
    assert!(metrics.iter().any(|m| m.name == "tcp.connection.attempts"));
    assert!(!metrics.iter().any(|m| m.name == "tcp.connection.successes"));
}

#[test]
fn payloads_leave_only_when_asked_and_unsampled_exchanges_are_only_counted() {
    let mut agg = aggregator(Config::default());
    agg.observe(l7(500));
    let spans = take_spans(&mut agg);
    let span = &spans[0].scope_spans[0].spans[0];
    assert!(value(&span.attributes, "l7.request.payload").is_none());
    assert!(
        value(&span.attributes, "l7.status")
            .unwrap()
            .contains("500")
    );
    assert_eq!(
        span.end_time_unix_nano - span.start_time_unix_nano,
        2_000_000
    );
    assert_eq!(
        span.status.as_ref().map(|s| s.code),
        Some(2),
        "a 500 is an error"
    );

    let mut config = Config::default();
    config.l7.export_payload = true;
    let mut agg = aggregator(config);
    agg.observe(l7(200));
    let spans = take_spans(&mut agg);
    let span = &spans[0].scope_spans[0].spans[0];
    assert!(value(&span.attributes, "l7.request.payload").is_some());
    assert!(span.status.is_none());

    // the span's HTTP attributes come from the plaintext request line, without its query
    assert_eq!(
        value(&span.attributes, "http.request.method").as_deref(),
        Some("Some(StringValue(\"GET\"))")
    );
    assert_eq!(
        value(&span.attributes, "url.path").as_deref(),
        Some("Some(StringValue(\"/secret\"))")
    );

    // an exchange the kernel sent only because its statistics were full: counted, no span
    let mut agg = aggregator(Config::default());
    for _ in 0..2 {
        let mut record = l7(200);
        if let Record::L7(event) = &mut record {
            event.header.flags = L7_NO_SPAN;
        }
        agg.observe(record);
    }
    assert!(take_spans(&mut agg).is_empty());
    let host = agg.host.clone();
    let out = agg.metrics.collect(0, 1, &host);
    let requests = out[0].scope_metrics[0]
        .metrics
        .iter()
        .find(|m| m.name == "l7.requests")
        .unwrap();
    let Some(metric::Data::Sum(sum)) = &requests.data else {
        panic!("not a sum")
    };
    assert_eq!(
        sum.data_points[0].value,
        Some(opentelemetry_proto::tonic::metrics::v1::number_data_point::Value::AsInt(2))
    );
}

fn tcp_io(agg: &mut Aggregator) -> Vec<(String, i64)> {
    let host = agg.host.clone();
    let mut out = Vec::new();
    for rm in agg.metrics.collect(0, 1, &host) {
        for m in &rm.scope_metrics[0].metrics {
            if m.name != "tcp.io" {
                continue;
            }
            let Some(metric::Data::Sum(sum)) = &m.data else {
                continue;
            };
            for p in &sum.data_points {
                let direction = value(&p.attributes, "network.io.direction").unwrap();
                if let Some(
                    opentelemetry_proto::tonic::metrics::v1::number_data_point::Value::AsInt(v),
                ) = p.value
                {
                    out.push((direction, v));
                }
            }
        }
    }
    out.sort();
    out
}

#[test]
fn open_connections_are_counted_while_open_and_once_in_all() {
    let mut agg = aggregator(Config::default());
    let mut entry: SockEntry = zeroed();
    entry.sk = 0xffff_8880_0000_1000;
    entry.tuple = tuple(5432);
    entry.role = ROLE_CLIENT;
    entry.bytes_sent = 100;
    entry.bytes_received = 50;
    let key = (9u64 << 32) | 4;
    agg.open_sockets([(key, entry)]);
    let first = tcp_io(&mut agg);
    assert_eq!(first.len(), 2);
    assert!(
        first[0].0.contains("receive") && first[0].1 == 50,
        "{first:?}"
    );
    assert!(
        first[1].0.contains("transmit") && first[1].1 == 100,
        "{first:?}"
    );
    // it closes with more traffic; a read of the open sockets that raced the close still lists it
    let mut close: Event = zeroed();
    close.kind = EV_CLOSE;
    close.tgid = 9;
    close.fd = 4;
    close.role = ROLE_CLIENT;
    close.tuple = entry.tuple;
    close.bytes = entry.sk;
    close.bytes_sent = 150;
    close.bytes_received = 70;
    agg.observe(Record::Event(close));
    agg.open_sockets([(key, entry)]);
    let total = tcp_io(&mut agg);
    assert_eq!(total[0].1, 70, "{total:?}");
    assert_eq!(total[1].1, 150, "{total:?}");
}

#[test]
fn the_kernels_statistics_become_the_same_series_as_records() {
    let mut agg = aggregator(Config::default());
    agg.observe(l7(404)); // one exchange as a record (a span)
    let mut key: L7Key = zeroed();
    key.tgid = 42;
    key.protocol = 1;
    key.role = ROLE_CLIENT;
    key.status = 404;
    key.family = 2;
    key.port = 8080;
    key.addr[..4].copy_from_slice(&[127, 0, 0, 1]);
    let mut buckets = [0; L7_BUCKETS];
    buckets[1] = 3; // 1 ms each: (0.5 ms, 1 ms]
    let stats = L7Stats {
        count: 3,
        sum_ns: 3_000_000,
        buckets,
    };
    agg.l7_counted(&key, &stats);
    let host = agg.host.clone();
    let out = agg.metrics.collect(0, 1, &host);
    let metrics = &out[0].scope_metrics[0].metrics;
    let requests = metrics.iter().find(|m| m.name == "l7.requests").unwrap();
    let Some(metric::Data::Sum(sum)) = &requests.data else {
        panic!("not a sum")
    };
    assert_eq!(sum.data_points.len(), 1, "one series for both paths");
    assert_eq!(
        sum.data_points[0].value,
        Some(opentelemetry_proto::tonic::metrics::v1::number_data_point::Value::AsInt(4))
    );
    let duration = metrics
        .iter()
        .find(|m| m.name == "l7.request.duration")
        .unwrap();
    let Some(metric::Data::Histogram(h)) = &duration.data else {
        panic!("not a histogram")
    };
    let point = &h.data_points[0];
    assert_eq!(point.count, 4);
    // the record's 2 ms fell in (1 ms, 2.5 ms], the kernel's three in (0.5 ms, 1 ms]
    assert_eq!(point.bucket_counts[1], 3);
    assert_eq!(point.bucket_counts[2], 1);
    assert!((point.sum.unwrap() - 0.005).abs() < 1e-9);
}

#[test]
fn kernel_statistics_deltas() {
    let mut buckets = [0; L7_BUCKETS];
    buckets[0] = 2;
    let earlier = L7Stats {
        count: 2,
        sum_ns: 0,
        buckets,
    };
    let mut now = earlier;
    now.add(&L7Stats {
        count: 1,
        sum_ns: 7,
        buckets: [0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    });
    let delta = now.since(&earlier);
    assert_eq!(delta.count, 1);
    assert_eq!(delta.sum_ns, 7);
    assert_eq!(delta.buckets[2], 1);
    assert_eq!(delta.buckets[0], 0);
}

#[test]
fn a_span_the_kernel_already_counted_is_not_counted_twice() {
    let mut agg = aggregator(Config::default());
    let mut record = l7(200);
    if let Record::L7(event) = &mut record {
        event.header.flags = L7_COUNTED;
    }
    agg.observe(record);
    assert_eq!(take_spans(&mut agg).len(), 1, "still a span");
    let host = agg.host.clone();
    let out = agg.metrics.collect(0, 1, &host);
    let counted = out
        .iter()
        .flat_map(|rm| &rm.scope_metrics)
        .flat_map(|sm| &sm.metrics)
        .any(|m| m.name == "l7.requests");
    assert!(!counted, "the kernel's l7_stats count it");
}

fn http_request(path: &str, status: u32) -> Record {
    let mut record = l7(status);
    if let Record::L7(event) = &mut record {
        event.request = format!("GET {path} HTTP/1.1\r\nHost: a\r\n\r\n").into_bytes();
    }
    record
}

fn histogram_count(agg: &mut Aggregator, name: &str, attribute: (&str, &str)) -> u64 {
    let host = agg.host.clone();
    agg.metrics
        .collect(0, 1, &host)
        .iter()
        .flat_map(|rm| &rm.scope_metrics)
        .flat_map(|sm| &sm.metrics)
        .filter(|m| m.name == name)
        .filter_map(|m| match &m.data {
            Some(metric::Data::Histogram(h)) => Some(h),
            _ => None,
        })
        .flat_map(|h| &h.data_points)
        .filter(|p| value(&p.attributes, attribute.0).is_some_and(|v| v.contains(attribute.1)))
        .map(|p| p.count)
        .sum()
}

#[test]
fn without_semantics_spans_are_named_after_their_protocol() {
    let mut config = Config::default();
    config.l7.semantics = false;
    config.l7.export_payload = true;
    let mut agg = aggregator(config);
    agg.observe(http_request("/users/7", 200));
    let spans = take_spans(&mut agg);
    let span = &spans[0].scope_spans[0].spans[0];
    assert_eq!(span.name, "http");
    assert!(value(&span.attributes, "http.request.method").is_none());
    assert!(value(&span.attributes, "l7.request.payload").is_some());
}

#[test]
fn semconv_metrics_record_each_exchange_by_method_and_route() {
    let mut config = Config::default();
    config.l7.semconv_metrics = true;
    config.l7.max_routes_per_service = 2;
    let mut agg = aggregator(config);
    agg.spans_wanted = false;
    for path in ["/users/7", "/users/8", "/a", "/b", "/c"] {
        agg.observe(http_request(path, 200));
    }
    // no traces pipeline: no span, but every exchange is in the conventions' histogram
    assert!(take_spans(&mut agg).is_empty());
    let by_route = |agg: &mut Aggregator, route| {
        histogram_count(agg, "http.client.request.duration", ("http.route", route))
    };
    // client metrics carry no route (the conventions list it for servers only)
    assert_eq!(by_route(&mut agg, "/users/{id}"), 0);
    assert_eq!(
        histogram_count(
            &mut agg,
            "http.client.request.duration",
            ("http.request.method", "GET")
        ),
        5
    );
    // past two routes for curl, `/b` and `/c` lost theirs, and were counted
    assert_eq!(agg.routes.overflowed, 2);
}

/// A MySQL exchange of the client on port 3306: `request` and the reply's first bytes.
fn mysql_exchange(request: &[u8], reply: &[u8], flags: u8) -> Record {
    let Record::L7(mut event) = l7(0) else {
        unreachable!()
    };
    event.header.protocol = Protocol::Mysql.raw();
    event.header.tuple = tuple(3306);
    event.header.flags = flags;
    event.request = request.to_vec();
    event.response = reply.to_vec();
    Record::L7(event)
}

#[test]
fn a_prepare_sent_for_its_statement_id_alone_names_later_executions() {
    let config = Config {
        l7: crate::config::L7Config {
            sampling_ratio: 0.5,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut agg = aggregator(config);
    // not sampled for a span: the kernel sent it for its reply (statement id 9)
    let prepare = b"\x21\x00\x00\x00\x16SELECT id FROM users WHERE a = ?";
    let reply = [12, 0, 0, 1, 0, 9, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0];
    agg.observe(mysql_exchange(prepare, &reply, L7_COUNTED | L7_STATE_ONLY));
    assert!(take_spans(&mut agg).is_empty());
    let execute = [14, 0, 0, 0, 0x17, 9, 0, 0, 0, 0, 1, 0, 0, 0];
    agg.observe(mysql_exchange(&execute, b"", L7_COUNTED));
    let spans = take_spans(&mut agg);
    let span = &spans[0].scope_spans[0].spans[0];
    assert_eq!(span.name, "SELECT users");
    assert_eq!(
        value(&span.attributes, "db.query.text").as_deref(),
        Some("Some(StringValue(\"SELECT id FROM users WHERE a = ?\"))")
    );
}
