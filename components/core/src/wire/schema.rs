//! The OTLP schema as the walk in `limits.rs` needs it: for every message of an export request, what
//! each known field is, as opentelemetry-proto 0.33's prost types decode it (field numbers and types
//! from the generated `opentelemetry.proto.*.v1.rs`). A field not listed is unknown, which prost
//! skips whatever its wire type.

use super::{WIRE_I32, WIRE_I64, WIRE_LEN, WIRE_VARINT};

/// The OTLP messages the walk enters, but for `KeyValue`, `AnyValue`, `ArrayValue` and
/// `KeyValueList`, which it walks with functions of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Msg {
    TracesRequest,
    LogsRequest,
    MetricsRequest,
    ResourceSpans,
    ResourceLogs,
    ResourceMetrics,
    ScopeSpans,
    ScopeLogs,
    ScopeMetrics,
    Resource,
    EntityRef,
    Scope,
    Span,
    SpanEvent,
    SpanLink,
    SpanStatus,
    LogRecord,
    Metric,
    Gauge,
    Sum,
    Histogram,
    ExpHistogram,
    Summary,
    NumberPoint,
    HistogramPoint,
    ExpHistogramPoint,
    /// `ExponentialHistogramDataPoint.Buckets`
    Buckets,
    SummaryPoint,
    /// `SummaryDataPoint.ValueAtQuantile`
    Quantile,
    Exemplar,
}

impl Msg {
    /// How errors name the element.
    pub(super) fn place(self) -> &'static str {
        use Msg::*;
        match self {
            TracesRequest | LogsRequest | MetricsRequest => "the request",
            ResourceSpans | ResourceLogs | ResourceMetrics | Resource => "a resource",
            EntityRef => "an entity ref",
            ScopeSpans | ScopeLogs | ScopeMetrics | Scope => "a scope",
            Span | SpanStatus => "a span",
            SpanEvent => "a span event",
            SpanLink => "a span link",
            LogRecord => "a log record",
            Metric | Gauge | Sum | Histogram | ExpHistogram | Summary => "a metric",
            NumberPoint | HistogramPoint | ExpHistogramPoint | Buckets | SummaryPoint
            | Quantile => "a data point",
            Exemplar => "an exemplar",
        }
    }
}

/// What a known field is to the walk: the wire types prost takes for it, and what else to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// Not in the schema: prost skips it.
    Unknown,
    /// int32, int64, uint32, bool, enum, sint32: wire type 0.
    Varint,
    /// fixed64, sfixed64, double: wire type 1.
    Fixed64,
    /// fixed32: wire type 5.
    Fixed32,
    /// repeated uint64: one varint, or packed varints.
    PackedVarint,
    /// repeated fixed64 or double: one 8-byte value, or packed ones.
    PackedFixed64,
    /// string (repeated or not): length-delimited, UTF-8.
    Str,
    /// bytes holding a trace id: empty or 16 bytes (otelcol's pdata refuses any other length).
    TraceId,
    /// bytes holding a span id: empty or 8 bytes.
    SpanId,
    Message(Msg),
    /// A message holding one of the items counted (span, log record, data point).
    Item(Msg),
    /// One member of a metric's data oneof.
    Data(Msg),
    /// A `KeyValue` attribute of the enclosing element (a metric's metadata too).
    Attribute,
    /// An `AnyValue` (a log record's body).
    Value,
}

impl Kind {
    pub(super) const LENGTH_DELIMITED: &'static str = "2 (length-delimited)";

    /// The wire types prost takes for the field, as errors name them.
    pub(super) fn expected(self) -> &'static str {
        match self {
            Kind::Varint => "0 (varint)",
            Kind::Fixed64 => "1 (64-bit)",
            Kind::Fixed32 => "5 (32-bit)",
            Kind::PackedVarint => "0 (varint) or 2 (packed)",
            Kind::PackedFixed64 => "1 (64-bit) or 2 (packed)",
            _ => Kind::LENGTH_DELIMITED,
        }
    }
}

/// A wire type as errors name it.
pub(super) fn wire_type_name(wire_type: u8) -> &'static str {
    match wire_type {
        WIRE_VARINT => "varint",
        WIRE_I64 => "64-bit",
        WIRE_LEN => "length-delimited",
        WIRE_I32 => "32-bit",
        _ => "group",
    }
}

impl Msg {
    /// Every message, in declaration order (`ALL[m as usize] == m`).
    pub(super) const ALL: [Msg; 30] = {
        use Msg::*;
        [
            TracesRequest,
            LogsRequest,
            MetricsRequest,
            ResourceSpans,
            ResourceLogs,
            ResourceMetrics,
            ScopeSpans,
            ScopeLogs,
            ScopeMetrics,
            Resource,
            EntityRef,
            Scope,
            Span,
            SpanEvent,
            SpanLink,
            SpanStatus,
            LogRecord,
            Metric,
            Gauge,
            Sum,
            Histogram,
            ExpHistogram,
            Summary,
            NumberPoint,
            HistogramPoint,
            ExpHistogramPoint,
            Buckets,
            SummaryPoint,
            Quantile,
            Exemplar,
        ]
    };
}

/// Field numbers up to this are looked up in [`KINDS`]; no OTLP message has a higher one.
const MAX_KNOWN_FIELD: usize = 16;

/// [`kind`] as a table, one row per message: one load per field instead of nested jumps.
static KINDS: [[Kind; MAX_KNOWN_FIELD + 1]; Msg::ALL.len()] = {
    let mut table = [[Kind::Unknown; MAX_KNOWN_FIELD + 1]; Msg::ALL.len()];
    let mut m = 0;
    while m < Msg::ALL.len() {
        assert!(Msg::ALL[m] as usize == m);
        let mut number = 1;
        while number <= MAX_KNOWN_FIELD {
            table[m][number] = kind(Msg::ALL[m], number as u32);
            number += 1;
        }
        assert!(matches!(
            kind(Msg::ALL[m], MAX_KNOWN_FIELD as u32 + 1),
            Kind::Unknown
        ));
        m += 1;
    }
    table
};

/// What field `number` of `msg` is, from [`KINDS`].
#[inline(always)]
pub(super) fn lookup(msg: Msg, number: u32) -> Kind {
    match KINDS[msg as usize].get(number as usize) {
        Some(&kind) => kind,
        None => Kind::Unknown,
    }
}

/// What field `number` of `msg` is.
pub(super) const fn kind(msg: Msg, number: u32) -> Kind {
    use Kind::*;
    use Msg::*;
    match (msg, number) {
        (TracesRequest, 1) => Message(ResourceSpans),
        (LogsRequest, 1) => Message(ResourceLogs),
        (MetricsRequest, 1) => Message(ResourceMetrics),
        (ResourceSpans | ResourceLogs | ResourceMetrics, 1) => Message(Resource),
        (ResourceSpans, 2) => Message(ScopeSpans),
        (ResourceLogs, 2) => Message(ScopeLogs),
        (ResourceMetrics, 2) => Message(ScopeMetrics),
        (ResourceSpans | ResourceLogs | ResourceMetrics, 3) => Str,
        (ScopeSpans | ScopeLogs | ScopeMetrics, 1) => Message(Scope),
        (ScopeSpans, 2) => Item(Span),
        (ScopeLogs, 2) => Item(LogRecord),
        (ScopeMetrics, 2) => Message(Metric),
        (ScopeSpans | ScopeLogs | ScopeMetrics, 3) => Str,
        (Resource, 1) => Attribute,
        (Resource, 2) => Varint,
        (Resource, 3) => Message(EntityRef),
        (EntityRef, 1..=4) => Str,
        (Scope, 1 | 2) => Str,
        (Scope, 3) => Attribute,
        (Scope, 4) => Varint,
        (Span, 1) => TraceId,
        (Span, 2 | 4) => SpanId,
        (Span, 3 | 5) => Str,
        (Span, 6 | 10 | 12 | 14) => Varint,
        (Span, 7 | 8) => Fixed64,
        (Span, 9) => Attribute,
        (Span, 11) => Message(SpanEvent),
        (Span, 13) => Message(SpanLink),
        (Span, 15) => Message(SpanStatus),
        (Span, 16) => Fixed32,
        (SpanEvent, 1) => Fixed64,
        (SpanEvent, 2) => Str,
        (SpanEvent, 3) => Attribute,
        (SpanEvent, 4) => Varint,
        (SpanLink, 1) => TraceId,
        (SpanLink, 2) => SpanId,
        (SpanLink, 3) => Str,
        (SpanLink, 4) => Attribute,
        (SpanLink, 5) => Varint,
        (SpanLink, 6) => Fixed32,
        (SpanStatus, 2) => Str,
        (SpanStatus, 3) => Varint,
        (LogRecord, 1 | 11) => Fixed64,
        (LogRecord, 2 | 7) => Varint,
        (LogRecord, 3 | 12) => Str,
        (LogRecord, 5) => Value,
        (LogRecord, 6) => Attribute,
        (LogRecord, 8) => Fixed32,
        (LogRecord, 9) => TraceId,
        (LogRecord, 10) => SpanId,
        (Metric, 1..=3) => Str,
        (Metric, 5) => Data(Gauge),
        (Metric, 7) => Data(Sum),
        (Metric, 9) => Data(Histogram),
        (Metric, 10) => Data(ExpHistogram),
        (Metric, 11) => Data(Summary),
        (Metric, 12) => Attribute,
        (Gauge | Sum, 1) => Item(NumberPoint),
        (Histogram, 1) => Item(HistogramPoint),
        (ExpHistogram, 1) => Item(ExpHistogramPoint),
        (Summary, 1) => Item(SummaryPoint),
        (Sum, 2 | 3) | (Histogram | ExpHistogram, 2) => Varint,
        (NumberPoint, 2 | 3 | 4 | 6) => Fixed64,
        (NumberPoint, 5) => Message(Exemplar),
        (NumberPoint, 7) => Attribute,
        (NumberPoint, 8) => Varint,
        (HistogramPoint, 2..=5 | 11 | 12) => Fixed64,
        (HistogramPoint, 6 | 7) => PackedFixed64,
        (HistogramPoint, 8) => Message(Exemplar),
        (HistogramPoint, 9) => Attribute,
        (HistogramPoint, 10) => Varint,
        (ExpHistogramPoint, 1) => Attribute,
        (ExpHistogramPoint, 2..=5 | 7 | 12..=14) => Fixed64,
        (ExpHistogramPoint, 6 | 10) => Varint,
        (ExpHistogramPoint, 8 | 9) => Message(Buckets),
        (ExpHistogramPoint, 11) => Message(Exemplar),
        (Buckets, 1) => Varint,
        (Buckets, 2) => PackedVarint,
        (SummaryPoint, 2..=5) => Fixed64,
        (SummaryPoint, 6) => Message(Quantile),
        (SummaryPoint, 7) => Attribute,
        (SummaryPoint, 8) => Varint,
        (Quantile, 1 | 2) => Fixed64,
        (Exemplar, 2 | 3 | 6) => Fixed64,
        (Exemplar, 4) => SpanId,
        (Exemplar, 5) => TraceId,
        (Exemplar, 7) => Attribute,
        _ => Unknown,
    }
}

/// The name of a known field, for errors.
#[cold]
pub(super) fn field_name(msg: Msg, number: u32) -> &'static str {
    use Msg::*;
    match (msg, number) {
        (TracesRequest, 1) => "resource_spans",
        (LogsRequest, 1) => "resource_logs",
        (MetricsRequest, 1) => "resource_metrics",
        (ResourceSpans | ResourceLogs | ResourceMetrics, 1) => "resource",
        (ResourceSpans, 2) => "scope_spans",
        (ResourceLogs, 2) => "scope_logs",
        (ResourceMetrics, 2) => "scope_metrics",
        (
            ResourceSpans | ResourceLogs | ResourceMetrics | ScopeSpans | ScopeLogs | ScopeMetrics,
            3,
        )
        | (EntityRef, 1) => "schema_url",
        (ScopeSpans | ScopeLogs | ScopeMetrics, 1) => "scope",
        (ScopeSpans, 2) => "spans",
        (ScopeLogs, 2) => "log_records",
        (ScopeMetrics, 2) => "metrics",
        (Resource, 1)
        | (Scope, 3)
        | (Span, 9)
        | (SpanEvent, 3)
        | (SpanLink, 4)
        | (LogRecord, 6) => "attributes",
        (Resource, 2)
        | (Scope, 4)
        | (Span, 10)
        | (SpanEvent, 4)
        | (SpanLink, 5)
        | (LogRecord, 7) => "dropped_attributes_count",
        (Resource, 3) => "entity_refs",
        (EntityRef, 2) => "type",
        (EntityRef, 3) => "id_keys",
        (EntityRef, 4) => "description_keys",
        (Scope, 1) | (Span, 5) | (SpanEvent, 2) | (Metric, 1) => "name",
        (Scope, 2) => "version",
        (Span | SpanLink, 1) | (LogRecord, 9) | (Exemplar, 5) => "trace_id",
        (Span | SpanLink, 2) | (LogRecord, 10) | (Exemplar, 4) => "span_id",
        (Span | SpanLink, 3) => "trace_state",
        (Span, 4) => "parent_span_id",
        (Span, 6) => "kind",
        (Span, 7) => "start_time_unix_nano",
        (Span, 8) => "end_time_unix_nano",
        (Span, 11) => "events",
        (Span, 12) => "dropped_events_count",
        (Span, 13) => "links",
        (Span, 14) => "dropped_links_count",
        (Span, 15) => "status",
        (Span, 16) | (SpanLink, 6) | (LogRecord, 8) => "flags",
        (SpanStatus, 2) => "status.message",
        (SpanStatus, 3) => "status.code",
        (SpanEvent, 1) | (LogRecord, 1) | (Exemplar, 2) => "time_unix_nano",
        (LogRecord, 2) => "severity_number",
        (LogRecord, 3) => "severity_text",
        (LogRecord, 5) => "body",
        (LogRecord, 11) => "observed_time_unix_nano",
        (LogRecord, 12) => "event_name",
        (Metric, 2) => "description",
        (Metric, 3) => "unit",
        (Metric, 5) => "gauge",
        (Metric, 7) => "sum",
        (Metric, 9) => "histogram",
        (Metric, 10) => "exponential_histogram",
        (Metric, 11) => "summary",
        (Metric, 12) => "metadata",
        (Gauge | Sum | Histogram | ExpHistogram | Summary, 1) => "data_points",
        (Sum | Histogram | ExpHistogram, 2) => "aggregation_temporality",
        (Sum, 3) => "is_monotonic",
        (NumberPoint | HistogramPoint | ExpHistogramPoint | SummaryPoint, 2) => {
            "start_time_unix_nano"
        }
        (NumberPoint | HistogramPoint | ExpHistogramPoint | SummaryPoint, 3) => "time_unix_nano",
        (NumberPoint, 4) | (Exemplar, 3) => "as_double",
        (NumberPoint | Exemplar, 6) => "as_int",
        (NumberPoint, 5) | (HistogramPoint, 8) | (ExpHistogramPoint, 11) => "exemplars",
        (NumberPoint | SummaryPoint, 7) | (HistogramPoint, 9) | (ExpHistogramPoint, 1) => {
            "attributes"
        }
        (Exemplar, 7) => "filtered_attributes",
        (NumberPoint | SummaryPoint, 8) | (HistogramPoint | ExpHistogramPoint, 10) => "flags",
        (HistogramPoint | ExpHistogramPoint | SummaryPoint, 4) => "count",
        (HistogramPoint | ExpHistogramPoint | SummaryPoint, 5) => "sum",
        (HistogramPoint, 6) => "bucket_counts",
        (HistogramPoint, 7) => "explicit_bounds",
        (HistogramPoint, 11) | (ExpHistogramPoint, 12) => "min",
        (HistogramPoint, 12) | (ExpHistogramPoint, 13) => "max",
        (ExpHistogramPoint, 6) => "scale",
        (ExpHistogramPoint, 7) => "zero_count",
        (ExpHistogramPoint, 8) => "positive",
        (ExpHistogramPoint, 9) => "negative",
        (ExpHistogramPoint, 14) => "zero_threshold",
        (Buckets, 1) => "buckets.offset",
        (Buckets, 2) => "buckets.bucket_counts",
        (SummaryPoint, 6) => "quantile_values",
        (Quantile, 1) => "quantile_values.quantile",
        (Quantile, 2) => "quantile_values.value",
        _ => "unknown field",
    }
}

/// What holds a value: the attributes of an element, a metric's metadata, or a log record's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Holder {
    Attribute,
    Metadata,
    Body,
}

/// Where a field of `KeyValue`, `AnyValue`, `ArrayValue` or `KeyValueList` sits, for errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ValueMsg {
    KeyValue,
    AnyValue,
    Array,
    Kvlist,
}

/// The name of a field of a value message held by `holder`, for errors.
#[cold]
pub(super) fn value_field_name(holder: Holder, msg: ValueMsg, number: u32) -> &'static str {
    use Holder::*;
    use ValueMsg::*;
    match (msg, number, holder) {
        (KeyValue, 1, Attribute) => "attribute key",
        (KeyValue, 1, Metadata) => "metadata key",
        (KeyValue, 1, Body) => "body key",
        (KeyValue, 2, Attribute) => "attribute value",
        (KeyValue, 2, Metadata) => "metadata value",
        (KeyValue, 2, Body) => "body value",
        (KeyValue, _, Attribute) => "attribute key_strindex",
        (KeyValue, _, Metadata) => "metadata key_strindex",
        (KeyValue, _, Body) => "body key_strindex",
        (AnyValue, 1, Attribute) => "attribute value",
        (AnyValue, 1, Metadata) => "metadata value",
        (AnyValue, 1, Body) => "body",
        (AnyValue, 2, Attribute) => "attribute value (bool_value)",
        (AnyValue, 2, Metadata) => "metadata value (bool_value)",
        (AnyValue, 2, Body) => "body (bool_value)",
        (AnyValue, 3, Attribute) => "attribute value (int_value)",
        (AnyValue, 3, Metadata) => "metadata value (int_value)",
        (AnyValue, 3, Body) => "body (int_value)",
        (AnyValue, 4, Attribute) => "attribute value (double_value)",
        (AnyValue, 4, Metadata) => "metadata value (double_value)",
        (AnyValue, 4, Body) => "body (double_value)",
        (AnyValue, 5, Attribute) => "attribute value (array_value)",
        (AnyValue, 5, Metadata) => "metadata value (array_value)",
        (AnyValue, 5, Body) => "body (array_value)",
        (AnyValue, 6, Attribute) => "attribute value (kvlist_value)",
        (AnyValue, 6, Metadata) => "metadata value (kvlist_value)",
        (AnyValue, 6, Body) => "body (kvlist_value)",
        (AnyValue, 7, Attribute) => "attribute value (bytes_value)",
        (AnyValue, 7, Metadata) => "metadata value (bytes_value)",
        (AnyValue, 7, Body) => "body (bytes_value)",
        (AnyValue, _, Attribute) => "attribute value (string_value_strindex)",
        (AnyValue, _, Metadata) => "metadata value (string_value_strindex)",
        (AnyValue, _, Body) => "body (string_value_strindex)",
        (Array, _, Attribute) => "attribute value (array values)",
        (Array, _, Metadata) => "metadata value (array values)",
        (Array, _, Body) => "body (array values)",
        (Kvlist, _, Attribute) => "attribute value (kvlist values)",
        (Kvlist, _, Metadata) => "metadata value (kvlist values)",
        (Kvlist, _, Body) => "body (kvlist values)",
    }
}
