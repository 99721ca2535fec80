//! The unit of data that flows through pipelines. A `Telemetry` batch may hold the protobuf bytes it
//! arrived as, the decoded request, or both: it is decoded only when a component first reads it and
//! re-encoded only when one changed it (DESIGN §1).

use bytes::{Bytes, BytesMut};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use prost::Message;
use std::fmt;

use crate::batching::Context;
use crate::wire::{self, CheckError, ItemPath, LimitExceeded, Limits, WireError};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Signal {
    Traces,
    Metrics,
    Logs,
}

impl Signal {
    pub const ALL: [Signal; 3] = [Signal::Traces, Signal::Metrics, Signal::Logs];

    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Traces => "traces",
            Signal::Metrics => "metrics",
            Signal::Logs => "logs",
        }
    }

    /// The item name otelcol uses in its self-telemetry metric names.
    pub fn item_name(self) -> &'static str {
        match self {
            Signal::Traces => "spans",
            Signal::Metrics => "metric_points",
            Signal::Logs => "log_records",
        }
    }

    pub fn parse(s: &str) -> Option<Signal> {
        Signal::ALL.into_iter().find(|signal| signal.as_str() == s)
    }

    fn item_path(self) -> ItemPath {
        match self {
            Signal::Traces => wire::TRACES,
            Signal::Metrics => wire::METRICS,
            Signal::Logs => wire::LOGS,
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error(transparent)]
    Wire(#[from] WireError),
    #[error("malformed protobuf: {0}")]
    Prost(#[from] prost::DecodeError),
    #[error("expected {expected} data, got {actual}")]
    WrongSignal { expected: Signal, actual: Signal },
    /// Well framed, but over one of the receiver's limits; `items` is what the request held, for
    /// self-telemetry.
    #[error("limit exceeded: {exceeded}")]
    Limit {
        exceeded: LimitExceeded,
        items: usize,
    },
    /// Well framed, but holding what a decoder refuses (a string not UTF-8, an id of the wrong
    /// length, ...); `items` as for `Limit`.
    #[error("invalid data: {invalid}")]
    Invalid {
        invalid: wire::InvalidField,
        items: usize,
    },
}

#[derive(Clone, Debug)]
enum Decoded {
    Traces(ExportTraceServiceRequest),
    Metrics(ExportMetricsServiceRequest),
    Logs(ExportLogsServiceRequest),
}

impl Decoded {
    fn decode(signal: Signal, bytes: &[u8]) -> Result<Decoded, prost::DecodeError> {
        Ok(match signal {
            Signal::Traces => Decoded::Traces(ExportTraceServiceRequest::decode(bytes)?),
            Signal::Metrics => Decoded::Metrics(ExportMetricsServiceRequest::decode(bytes)?),
            Signal::Logs => Decoded::Logs(ExportLogsServiceRequest::decode(bytes)?),
        })
    }

    fn encode(&self) -> Bytes {
        match self {
            Decoded::Traces(r) => r.encode_to_vec().into(),
            Decoded::Metrics(r) => r.encode_to_vec().into(),
            Decoded::Logs(r) => r.encode_to_vec().into(),
        }
    }

    fn count(&self) -> usize {
        match self {
            Decoded::Traces(r) => r
                .resource_spans
                .iter()
                .flat_map(|r| &r.scope_spans)
                .map(|s| s.spans.len())
                .sum(),
            Decoded::Logs(r) => r
                .resource_logs
                .iter()
                .flat_map(|r| &r.scope_logs)
                .map(|s| s.log_records.len())
                .sum(),
            Decoded::Metrics(r) => r
                .resource_metrics
                .iter()
                .flat_map(|r| &r.scope_metrics)
                .flat_map(|s| &s.metrics)
                .map(|m| match &m.data {
                    Some(Data::Gauge(g)) => g.data_points.len(),
                    Some(Data::Sum(s)) => s.data_points.len(),
                    Some(Data::Histogram(h)) => h.data_points.len(),
                    Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
                    Some(Data::Summary(s)) => s.data_points.len(),
                    None => 0,
                })
                .sum(),
        }
    }
}

/// A batch of one signal's data, as an OTLP export request.
#[derive(Clone, Debug)]
pub struct Telemetry {
    signal: Signal,
    /// The protobuf encoding, valid whenever it is `Some`.
    encoded: Option<Bytes>,
    /// The decoded request, valid whenever it is `Some`. At least one of the two is always set.
    decoded: Option<Box<Decoded>>,
    /// Item count of `encoded`; recounted from `decoded` after a mutation.
    items: usize,
    /// Client metadata and a batching request, carried along unchanged.
    context: Context,
}

impl Telemetry {
    /// Wraps an encoded export request, checking its framing down to the items and counting them.
    pub fn from_encoded(signal: Signal, bytes: Bytes) -> Result<Telemetry, DecodeError> {
        let items = wire::count_items(&bytes, signal.item_path())?;
        Ok(Telemetry {
            signal,
            encoded: Some(bytes),
            decoded: None,
            items,
            context: Context::default(),
        })
    }

    /// Wraps an export request its caller encoded itself and counted the `items` of as it wrote
    /// them (the ebpf receiver's spans): nothing from outside, so not walked again.
    pub fn from_encoded_counted(signal: Signal, bytes: Bytes, items: usize) -> Telemetry {
        debug_assert_eq!(
            wire::count_items(&bytes, signal.item_path()).ok(),
            Some(items)
        );
        Telemetry {
            signal,
            encoded: Some(bytes),
            decoded: None,
            items,
            context: Context::default(),
        }
    }

    /// [`Telemetry::from_encoded`] that also enforces `limits` on what the request holds (value
    /// nesting, attributes per element, string length), in the same walk: what a receiver calls on
    /// data from the outside.
    pub fn from_encoded_checked(
        signal: Signal,
        bytes: Bytes,
        limits: &Limits,
    ) -> Result<Telemetry, DecodeError> {
        let items = match wire::check(&bytes, signal, limits) {
            Ok(items) => items,
            Err(CheckError::Wire(e)) => return Err(e.into()),
            Err(CheckError::Limit(exceeded)) => {
                // Off the hot path: the framing was sound up to the limit, count what was sent.
                let items = wire::count_items(&bytes, signal.item_path()).unwrap_or(0);
                return Err(DecodeError::Limit { exceeded, items });
            }
            Err(CheckError::Invalid(invalid)) => {
                let items = wire::count_items(&bytes, signal.item_path()).unwrap_or(0);
                return Err(DecodeError::Invalid { invalid, items });
            }
        };
        Ok(Telemetry {
            signal,
            encoded: Some(bytes),
            decoded: None,
            items,
            context: Context::default(),
        })
    }

    pub fn from_traces(request: ExportTraceServiceRequest) -> Telemetry {
        Self::from_decoded(Signal::Traces, Decoded::Traces(request))
    }

    pub fn from_metrics(request: ExportMetricsServiceRequest) -> Telemetry {
        Self::from_decoded(Signal::Metrics, Decoded::Metrics(request))
    }

    pub fn from_logs(request: ExportLogsServiceRequest) -> Telemetry {
        Self::from_decoded(Signal::Logs, Decoded::Logs(request))
    }

    fn from_decoded(signal: Signal, decoded: Decoded) -> Telemetry {
        let items = decoded.count();
        Telemetry {
            signal,
            encoded: None,
            decoded: Some(Box::new(decoded)),
            items,
            context: Context::default(),
        }
    }

    pub fn signal(&self) -> Signal {
        self.signal
    }

    /// Client metadata and batching request carried with the data.
    pub fn context(&self) -> &Context {
        &self.context
    }

    pub fn set_context(&mut self, context: Context) {
        self.context = context;
    }

    pub fn context_mut(&mut self) -> &mut Context {
        &mut self.context
    }

    /// Spans, metric data points or log records in this batch.
    pub fn item_count(&self) -> usize {
        self.items
    }

    pub fn is_empty(&self) -> bool {
        self.items == 0
    }

    /// The protobuf encoding; encodes only if the batch was decoded and changed.
    pub fn to_encoded(&self) -> Bytes {
        match (&self.encoded, &self.decoded) {
            (Some(bytes), _) => bytes.clone(),
            (None, Some(decoded)) => decoded.encode(),
            (None, None) => unreachable!("a batch always holds one representation"),
        }
    }

    pub fn into_encoded(self) -> Bytes {
        self.to_encoded()
    }

    /// The encoded size in bytes (encodes if needed).
    pub fn encoded_len(&self) -> usize {
        match (&self.encoded, &self.decoded) {
            (Some(bytes), _) => bytes.len(),
            (None, Some(decoded)) => match decoded.as_ref() {
                Decoded::Traces(r) => r.encoded_len(),
                Decoded::Metrics(r) => r.encoded_len(),
                Decoded::Logs(r) => r.encoded_len(),
            },
            (None, None) => 0,
        }
    }

    fn decoded(&mut self) -> Result<&mut Decoded, DecodeError> {
        if self.decoded.is_none() {
            let bytes = self
                .encoded
                .as_ref()
                .expect("a batch always holds one representation");
            self.decoded = Some(Box::new(Decoded::decode(self.signal, bytes)?));
        }
        Ok(self.decoded.as_mut().expect("just set"))
    }

    /// Read access to the decoded traces; decodes once and keeps the bytes for forwarding.
    pub fn traces(&mut self) -> Result<&ExportTraceServiceRequest, DecodeError> {
        let signal = self.signal;
        match self.decoded()? {
            Decoded::Traces(r) => Ok(r),
            _ => Err(DecodeError::WrongSignal {
                expected: Signal::Traces,
                actual: signal,
            }),
        }
    }

    pub fn metrics(&mut self) -> Result<&ExportMetricsServiceRequest, DecodeError> {
        let signal = self.signal;
        match self.decoded()? {
            Decoded::Metrics(r) => Ok(r),
            _ => Err(DecodeError::WrongSignal {
                expected: Signal::Metrics,
                actual: signal,
            }),
        }
    }

    pub fn logs(&mut self) -> Result<&ExportLogsServiceRequest, DecodeError> {
        let signal = self.signal;
        match self.decoded()? {
            Decoded::Logs(r) => Ok(r),
            _ => Err(DecodeError::WrongSignal {
                expected: Signal::Logs,
                actual: signal,
            }),
        }
    }

    /// Changes the decoded traces in place; the old encoding is dropped and the items recounted.
    pub fn modify_traces<R>(
        &mut self,
        f: impl FnOnce(&mut ExportTraceServiceRequest) -> R,
    ) -> Result<R, DecodeError> {
        let signal = self.signal;
        let result = match self.decoded()? {
            Decoded::Traces(r) => f(r),
            _ => {
                return Err(DecodeError::WrongSignal {
                    expected: Signal::Traces,
                    actual: signal,
                });
            }
        };
        self.after_modify();
        Ok(result)
    }

    pub fn modify_metrics<R>(
        &mut self,
        f: impl FnOnce(&mut ExportMetricsServiceRequest) -> R,
    ) -> Result<R, DecodeError> {
        let signal = self.signal;
        let result = match self.decoded()? {
            Decoded::Metrics(r) => f(r),
            _ => {
                return Err(DecodeError::WrongSignal {
                    expected: Signal::Metrics,
                    actual: signal,
                });
            }
        };
        self.after_modify();
        Ok(result)
    }

    pub fn modify_logs<R>(
        &mut self,
        f: impl FnOnce(&mut ExportLogsServiceRequest) -> R,
    ) -> Result<R, DecodeError> {
        let signal = self.signal;
        let result = match self.decoded()? {
            Decoded::Logs(r) => f(r),
            _ => {
                return Err(DecodeError::WrongSignal {
                    expected: Signal::Logs,
                    actual: signal,
                });
            }
        };
        self.after_modify();
        Ok(result)
    }

    fn after_modify(&mut self) {
        self.encoded = None;
        self.items = self.decoded.as_ref().map_or(0, |d| d.count());
    }

    /// Joins batches of one signal into one. Repeated protobuf fields concatenate, so joining encoded
    /// requests is a byte copy, never a decode.
    pub fn concat(signal: Signal, parts: Vec<Telemetry>) -> Telemetry {
        let mut parts: Vec<Telemetry> = parts.into_iter().filter(|p| !p.is_empty()).collect();
        if parts.len() <= 1 {
            return parts.pop().unwrap_or(Telemetry {
                signal,
                encoded: Some(Bytes::new()),
                decoded: None,
                items: 0,
                context: Context::default(),
            });
        }
        // One allocation of the final size: this runs on every batch flush.
        let mut buf = BytesMut::with_capacity(parts.iter().map(Telemetry::encoded_len).sum());
        let mut items = 0;
        for part in &parts {
            debug_assert_eq!(part.signal, signal);
            items += part.items;
            buf.extend_from_slice(&part.to_encoded());
        }
        // Parts are joined only within one partition: the first speaks for all.
        let context = std::mem::take(&mut parts[0].context);
        Telemetry {
            signal,
            encoded: Some(buf.freeze()),
            decoded: None,
            items,
            context,
        }
    }

    /// Cuts after the first `n` items into (head, tail) without decoding; each side keeps the
    /// resource and scope of the items it holds, and neither repeats them more than the original.
    pub fn split_at(self, n: usize) -> Result<(Telemetry, Telemetry), DecodeError> {
        let signal = self.signal;
        let context = self.context.clone();
        let bytes = self.into_encoded();
        let ((head, head_items), (tail, tail_items)) =
            wire::split_at(&bytes, signal.item_path(), n)?;
        let piece = |encoded, items| Telemetry {
            signal,
            encoded: Some(encoded),
            decoded: None,
            items,
            context: context.clone(),
        };
        Ok((piece(head, head_items), piece(tail, tail_items)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    fn traces(n: usize) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: (0..n)
                        .map(|i| Span {
                            name: format!("s{i}"),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn encoded_batches_are_read_lazily_and_forwarded_unchanged() {
        let bytes: Bytes = traces(3).encode_to_vec().into();
        let mut t = Telemetry::from_encoded(Signal::Traces, bytes.clone()).unwrap();
        assert_eq!(t.item_count(), 3);
        assert_eq!(t.traces().unwrap().resource_spans.len(), 1);
        // Reading does not force a re-encode: the original buffer is passed on.
        assert_eq!(t.to_encoded().as_ptr(), bytes.as_ptr());
    }

    #[test]
    fn modifying_recounts_and_reencodes() {
        let mut t =
            Telemetry::from_encoded(Signal::Traces, traces(3).encode_to_vec().into()).unwrap();
        t.modify_traces(|r| r.resource_spans[0].scope_spans[0].spans.truncate(1))
            .unwrap();
        assert_eq!(t.item_count(), 1);
        let again = Telemetry::from_encoded(Signal::Traces, t.into_encoded()).unwrap();
        assert_eq!(again.item_count(), 1);
    }

    #[test]
    fn wrong_signal_is_reported() {
        let mut t = Telemetry::from_traces(traces(1));
        assert!(matches!(t.logs(), Err(DecodeError::WrongSignal { .. })));
    }

    #[test]
    fn concat_then_split_round_trips_the_items() {
        let parts = (1..=4).map(|n| Telemetry::from_traces(traces(n))).collect();
        let joined = Telemetry::concat(Signal::Traces, parts);
        assert_eq!(joined.item_count(), 10);
        let mut pieces = Vec::new();
        let mut rest = joined;
        while !rest.is_empty() {
            let (head, tail) = rest.split_at(3).unwrap();
            pieces.push(head);
            rest = tail;
        }
        assert!(pieces.iter().all(|p| p.item_count() <= 3));
        assert_eq!(pieces.iter().map(Telemetry::item_count).sum::<usize>(), 10);
    }
}
