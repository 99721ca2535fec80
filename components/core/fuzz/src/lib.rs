//! The invariants the fuzz targets assert, kept here so each target is a few lines.

use ferrotel_core::otlp_json::{self, OtlpMessage};
use ferrotel_core::signal::{DecodeError, Signal, Telemetry};
use ferrotel_core::wire::{Limits, Problem};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::{Metric, metric::Data};
use prost::Message;

/// Small limits, so that short inputs reach every limit error.
pub const SMALL_LIMITS: Limits = Limits {
    max_value_depth: 3,
    max_attributes: 4,
    max_value_length: 64,
};

/// A request decoded by prost, as one line per item with everything that item carries along
/// (resource, scope, metric header): a split or a transcoding must keep every line as it was.
pub fn decoded_items(signal: Signal, bytes: &[u8]) -> Result<Vec<String>, prost::DecodeError> {
    let mut lines = Vec::new();
    match signal {
        Signal::Traces => {
            for r in ExportTraceServiceRequest::decode(bytes)?.resource_spans {
                for s in &r.scope_spans {
                    for span in &s.spans {
                        lines.push(format!(
                            "{:?}|{}|{:?}|{}|{span:?}",
                            r.resource, r.schema_url, s.scope, s.schema_url
                        ));
                    }
                }
            }
        }
        Signal::Logs => {
            for r in ExportLogsServiceRequest::decode(bytes)?.resource_logs {
                for s in &r.scope_logs {
                    for record in &s.log_records {
                        lines.push(format!(
                            "{:?}|{}|{:?}|{}|{record:?}",
                            r.resource, r.schema_url, s.scope, s.schema_url
                        ));
                    }
                }
            }
        }
        Signal::Metrics => {
            for r in ExportMetricsServiceRequest::decode(bytes)?.resource_metrics {
                for s in &r.scope_metrics {
                    for metric in &s.metrics {
                        let context = format!(
                            "{:?}|{}|{:?}|{}",
                            r.resource, r.schema_url, s.scope, s.schema_url
                        );
                        metric_points(&context, metric, &mut lines);
                    }
                }
            }
        }
    }
    Ok(lines)
}

fn metric_points(context: &str, metric: &Metric, lines: &mut Vec<String>) {
    let header = format!(
        "{context}|{}|{}|{}|{:?}",
        metric.name, metric.description, metric.unit, metric.metadata
    );
    match &metric.data {
        Some(Data::Gauge(g)) => {
            for p in &g.data_points {
                lines.push(format!("{header}|gauge|{p:?}"));
            }
        }
        Some(Data::Sum(s)) => {
            for p in &s.data_points {
                lines.push(format!(
                    "{header}|sum|{}|{}|{p:?}",
                    s.aggregation_temporality, s.is_monotonic
                ));
            }
        }
        Some(Data::Histogram(h)) => {
            for p in &h.data_points {
                lines.push(format!(
                    "{header}|histogram|{}|{p:?}",
                    h.aggregation_temporality
                ));
            }
        }
        Some(Data::ExponentialHistogram(h)) => {
            for p in &h.data_points {
                lines.push(format!("{header}|exp|{}|{p:?}", h.aggregation_temporality));
            }
        }
        Some(Data::Summary(s)) => {
            for p in &s.data_points {
                lines.push(format!("{header}|summary|{p:?}"));
            }
        }
        None => {}
    }
}

/// Everything the receiver and the pipeline do with protobuf from the outside, cross-checked.
pub fn check_protobuf(signal: Signal, bytes: &[u8], limits: &Limits) {
    let framed = Telemetry::from_encoded(signal, bytes.to_vec().into());
    let checked = Telemetry::from_encoded_checked(signal, bytes.to_vec().into(), limits);
    let decoded = decoded_items(signal, bytes);
    match (&checked, &framed) {
        (Ok(c), Ok(f)) => assert_eq!(c.item_count(), f.item_count(), "walks disagree"),
        (Ok(_), Err(e)) => panic!("the limit walk accepted what the framing walk refused: {e}"),
        (Err(DecodeError::Limit { items, .. }), Ok(f)) => assert_eq!(*items, f.item_count()),
        (Err(DecodeError::Invalid { items, .. }), Ok(f)) => assert_eq!(*items, f.item_count()),
        _ => {}
    }
    // What the receiver lets in decodes, to the items it counted: a request that did not would
    // fail, in any component that decodes, the whole batch it was joined into.
    match (&checked, &decoded) {
        (Ok(c), Ok(items)) => assert_eq!(
            c.item_count(),
            items.len(),
            "the walk and prost count differently"
        ),
        (Ok(_), Err(e)) => panic!("the walk accepted what prost refuses: {e}"),
        // And it refuses what prost decodes only for its own reasons.
        (Err(e), Ok(_)) => match e {
            DecodeError::Limit { .. } => {}
            DecodeError::Invalid { invalid, .. }
                if matches!(invalid.problem, Problem::IdLength { .. }) => {}
            // Groups, which prost skips in unknown fields; a metric with two kinds of data, of
            // which prost keeps the last.
            DecodeError::Wire(w)
                if w.0 == "unsupported wire type"
                    || w.0 == "a metric holds more than one kind of data" => {}
            _ => panic!("the walk refused what prost decodes: {e}"),
        },
        (Err(_), Err(_)) => {}
    }
    let Ok(framed) = framed else { return };
    let n = framed.item_count();
    if let Ok(items) = &decoded {
        assert_eq!(
            items.len(),
            n,
            "the framing walk and prost count differently"
        );
    }
    check_splits(&framed, decoded.as_ref().ok());
    let joined = Telemetry::concat(signal, vec![framed.clone(), framed.clone()]);
    assert_eq!(joined.item_count(), 2 * n);
    let rejoined = Telemetry::from_encoded(signal, joined.to_encoded()).expect("joined framing");
    assert_eq!(rejoined.item_count(), 2 * n);
    if let Ok(items) = &decoded {
        check_json_round_trip(signal, bytes, items);
    }
}

/// Cuts at the start, the middle and the end: every piece is well framed, counts add up, and the
/// pieces decode to the original items in order, each with its resource and scope.
fn check_splits(whole: &Telemetry, items: Option<&Vec<String>>) {
    let signal = whole.signal();
    let n = whole.item_count();
    for cut in [0, 1, n / 2, n.saturating_sub(1), n] {
        let (head, tail) = whole.clone().split_at(cut).expect("a framed batch splits");
        assert_eq!(head.item_count(), cut.min(n));
        assert_eq!(head.item_count() + tail.item_count(), n);
        for piece in [&head, &tail] {
            let again = Telemetry::from_encoded(signal, piece.to_encoded()).expect("piece framing");
            assert_eq!(again.item_count(), piece.item_count());
        }
        if let Some(items) = items {
            let mut pieces = decoded_items(signal, &head.to_encoded()).expect("head decodes");
            pieces.extend(decoded_items(signal, &tail.to_encoded()).expect("tail decodes"));
            assert_eq!(&pieces, items, "split at {cut} changed the items");
        }
    }
}

/// protobuf → OTLP/JSON → protobuf keeps every item, except where OTLP/JSON cannot say it (ids
/// of the wrong length have no hex form the spec accepts).
fn check_json_round_trip(signal: Signal, bytes: &[u8], items: &[String]) {
    let message = OtlpMessage::Request(signal);
    let json = match otlp_json::protobuf_to_json(message, bytes) {
        Ok(json) => json,
        // Groups (wire types 3 and 4) in unknown fields: prost skips them, the transcoder and the
        // framing walk refuse them, so no such request gets this far in the receiver.
        Err(e) if e.to_string().contains("unsupported wire type") => return,
        Err(e) => panic!("decodable protobuf failed to transcode to JSON: {e}"),
    };
    let back = match otlp_json::json_to_protobuf(message, &json) {
        Ok(back) => back,
        Err(e) if e.to_string().contains("hex digits") => return,
        Err(e) => panic!(
            "the JSON we wrote does not read back: {e}\n{}",
            String::from_utf8_lossy(&json)
        ),
    };
    let again = decoded_items(signal, &back).expect("transcoded protobuf decodes");
    assert_eq!(again, items, "JSON round trip changed the items");
}

/// OTLP/JSON from the outside: what the decoder accepts is well framed, decodes with prost to the
/// same count, and survives protobuf → JSON → protobuf unchanged.
pub fn check_json(signal: Signal, json: &[u8]) {
    let message = OtlpMessage::Request(signal);
    let Ok(protobuf) = otlp_json::json_to_protobuf(message, json) else {
        return;
    };
    let framed = Telemetry::from_encoded(signal, protobuf.clone().into())
        .expect("the JSON decoder wrote malformed protobuf");
    let items =
        decoded_items(signal, &protobuf).expect("the JSON decoder wrote undecodable protobuf");
    assert_eq!(items.len(), framed.item_count());
    let _ = otlp_json::decode_json_checked(signal, json, &SMALL_LIMITS);
    // What the JSON decoder writes passes the receiver's walk, but for limits and ids of the
    // wrong length (which otelcol refuses too).
    match otlp_json::decode_json_checked(signal, json, &Limits::DEFAULT) {
        Ok(checked) => assert_eq!(checked.item_count(), items.len()),
        Err(otlp_json::JsonError::Decode(DecodeError::Limit { .. })) => {}
        Err(otlp_json::JsonError::Decode(DecodeError::Invalid { invalid, .. }))
            if matches!(invalid.problem, Problem::IdLength { .. }) => {}
        Err(e) => panic!("the receiver refused what the JSON decoder wrote: {e}"),
    }
    let written = otlp_json::protobuf_to_json(message, &protobuf).expect("transcodes back");
    let back = otlp_json::json_to_protobuf(message, &written).expect("our JSON reads back");
    assert_eq!(decoded_items(signal, &back).expect("decodes"), items);
}
