//! The OTLP messages as data: field numbers, proto names and wire kinds, so one transcoder serves
//! every message in both directions. Mirrors opentelemetry-proto v1 (common, resource, trace,
//! metrics, logs, collector); profiles are not carried.

#[derive(Clone, Copy, Debug)]
pub(super) enum Kind {
    Str,
    Bool,
    Int32,
    Uint32,
    Sint32,
    Fixed32,
    Int64,
    Uint64,
    Fixed64,
    Sfixed64,
    Double,
    /// Integer on the wire and in JSON; names are accepted when decoding.
    Enum(&'static [(&'static str, i32)]),
    /// Base64 in JSON.
    Bytes,
    /// Hex in JSON (trace and span ids, an OTLP deviation from the proto3 mapping).
    HexBytes,
    Message(&'static Msg),
}

impl Kind {
    /// Scalars that proto3 packs when repeated.
    pub(super) fn packable(self) -> bool {
        !matches!(
            self,
            Kind::Str | Kind::Bytes | Kind::HexBytes | Kind::Message(_)
        )
    }
}

#[derive(Debug)]
pub(super) struct Field {
    pub number: u32,
    /// The proto field name (snake_case); the JSON key is its lowerCamelCase form.
    pub name: &'static str,
    pub kind: Kind,
    pub repeated: bool,
    /// Oneof members and `optional` scalars: written even when they hold the default value.
    pub presence: bool,
    /// A member of the message's oneof (OTLP messages have at most one): one member is set at most.
    pub oneof: bool,
}

#[derive(Debug)]
pub(super) struct Msg {
    pub fields: &'static [Field],
}

impl Msg {
    /// Accepts the lowerCamelCase JSON name and, as protojson does, the proto name.
    pub(super) fn by_json_key(&'static self, key: &str) -> Option<&'static Field> {
        self.fields
            .iter()
            .find(|f| f.name == key || camel_eq(f.name, key))
    }
}

/// Whether `key` is the lowerCamelCase spelling of the snake_case `name`.
fn camel_eq(name: &str, key: &str) -> bool {
    let mut key = key.chars();
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
            continue;
        }
        let want = if upper { c.to_ascii_uppercase() } else { c };
        upper = false;
        if key.next() != Some(want) {
            return false;
        }
    }
    key.next().is_none()
}

/// Writes the lowerCamelCase JSON key of a proto name.
pub(super) fn push_camel(out: &mut Vec<u8>, name: &str) {
    let mut upper = false;
    for b in name.bytes() {
        if b == b'_' {
            upper = true;
        } else {
            out.push(if upper { b.to_ascii_uppercase() } else { b });
            upper = false;
        }
    }
}

const fn field(number: u32, name: &'static str, kind: Kind) -> Field {
    Field {
        number,
        name,
        kind,
        repeated: false,
        presence: false,
        oneof: false,
    }
}

const fn repeated(number: u32, name: &'static str, kind: Kind) -> Field {
    Field {
        number,
        name,
        kind,
        repeated: true,
        presence: false,
        oneof: false,
    }
}

/// A proto3 `optional` field.
const fn present(number: u32, name: &'static str, kind: Kind) -> Field {
    Field {
        number,
        name,
        kind,
        repeated: false,
        presence: true,
        oneof: false,
    }
}

/// A member of the message's oneof.
const fn member(number: u32, name: &'static str, kind: Kind) -> Field {
    Field {
        number,
        name,
        kind,
        repeated: false,
        presence: true,
        oneof: true,
    }
}

use Kind::*;

// --- common / resource ---
pub(super) static ANY_VALUE: Msg = Msg {
    fields: &[
        member(1, "string_value", Str),
        member(2, "bool_value", Bool),
        member(3, "int_value", Int64),
        member(4, "double_value", Double),
        member(5, "array_value", Message(&ARRAY_VALUE)),
        member(6, "kvlist_value", Message(&KEY_VALUE_LIST)),
        member(7, "bytes_value", Bytes),
        member(8, "string_value_strindex", Int32),
    ],
};
static ARRAY_VALUE: Msg = Msg {
    fields: &[repeated(1, "values", Message(&ANY_VALUE))],
};
static KEY_VALUE_LIST: Msg = Msg {
    fields: &[repeated(1, "values", Message(&KEY_VALUE))],
};
static KEY_VALUE: Msg = Msg {
    fields: &[
        field(1, "key", Str),
        field(2, "value", Message(&ANY_VALUE)),
        field(3, "key_strindex", Int32),
    ],
};
static SCOPE: Msg = Msg {
    fields: &[
        field(1, "name", Str),
        field(2, "version", Str),
        repeated(3, "attributes", Message(&KEY_VALUE)),
        field(4, "dropped_attributes_count", Uint32),
    ],
};
static ENTITY_REF: Msg = Msg {
    fields: &[
        field(1, "schema_url", Str),
        field(2, "type", Str),
        repeated(3, "id_keys", Str),
        repeated(4, "description_keys", Str),
    ],
};
static RESOURCE: Msg = Msg {
    fields: &[
        repeated(1, "attributes", Message(&KEY_VALUE)),
        field(2, "dropped_attributes_count", Uint32),
        repeated(3, "entity_refs", Message(&ENTITY_REF)),
    ],
};

// --- trace ---
const SPAN_KIND: &[(&str, i32)] = &[
    ("SPAN_KIND_UNSPECIFIED", 0),
    ("SPAN_KIND_INTERNAL", 1),
    ("SPAN_KIND_SERVER", 2),
    ("SPAN_KIND_CLIENT", 3),
    ("SPAN_KIND_PRODUCER", 4),
    ("SPAN_KIND_CONSUMER", 5),
];
const STATUS_CODE: &[(&str, i32)] = &[
    ("STATUS_CODE_UNSET", 0),
    ("STATUS_CODE_OK", 1),
    ("STATUS_CODE_ERROR", 2),
];

pub(super) static TRACE_REQUEST: Msg = Msg {
    fields: &[repeated(1, "resource_spans", Message(&RESOURCE_SPANS))],
};
static RESOURCE_SPANS: Msg = Msg {
    fields: &[
        field(1, "resource", Message(&RESOURCE)),
        repeated(2, "scope_spans", Message(&SCOPE_SPANS)),
        field(3, "schema_url", Str),
    ],
};
static SCOPE_SPANS: Msg = Msg {
    fields: &[
        field(1, "scope", Message(&SCOPE)),
        repeated(2, "spans", Message(&SPAN)),
        field(3, "schema_url", Str),
    ],
};
static SPAN: Msg = Msg {
    fields: &[
        field(1, "trace_id", HexBytes),
        field(2, "span_id", HexBytes),
        field(3, "trace_state", Str),
        field(4, "parent_span_id", HexBytes),
        field(16, "flags", Fixed32),
        field(5, "name", Str),
        field(6, "kind", Enum(SPAN_KIND)),
        field(7, "start_time_unix_nano", Fixed64),
        field(8, "end_time_unix_nano", Fixed64),
        repeated(9, "attributes", Message(&KEY_VALUE)),
        field(10, "dropped_attributes_count", Uint32),
        repeated(11, "events", Message(&SPAN_EVENT)),
        field(12, "dropped_events_count", Uint32),
        repeated(13, "links", Message(&SPAN_LINK)),
        field(14, "dropped_links_count", Uint32),
        field(15, "status", Message(&SPAN_STATUS)),
    ],
};
static SPAN_EVENT: Msg = Msg {
    fields: &[
        field(1, "time_unix_nano", Fixed64),
        field(2, "name", Str),
        repeated(3, "attributes", Message(&KEY_VALUE)),
        field(4, "dropped_attributes_count", Uint32),
    ],
};
static SPAN_LINK: Msg = Msg {
    fields: &[
        field(1, "trace_id", HexBytes),
        field(2, "span_id", HexBytes),
        field(3, "trace_state", Str),
        repeated(4, "attributes", Message(&KEY_VALUE)),
        field(5, "dropped_attributes_count", Uint32),
        field(6, "flags", Fixed32),
    ],
};
static SPAN_STATUS: Msg = Msg {
    fields: &[
        field(2, "message", Str),
        field(3, "code", Enum(STATUS_CODE)),
    ],
};

// --- logs ---
const SEVERITY: &[(&str, i32)] = &[
    ("SEVERITY_NUMBER_UNSPECIFIED", 0),
    ("SEVERITY_NUMBER_TRACE", 1),
    ("SEVERITY_NUMBER_TRACE2", 2),
    ("SEVERITY_NUMBER_TRACE3", 3),
    ("SEVERITY_NUMBER_TRACE4", 4),
    ("SEVERITY_NUMBER_DEBUG", 5),
    ("SEVERITY_NUMBER_DEBUG2", 6),
    ("SEVERITY_NUMBER_DEBUG3", 7),
    ("SEVERITY_NUMBER_DEBUG4", 8),
    ("SEVERITY_NUMBER_INFO", 9),
    ("SEVERITY_NUMBER_INFO2", 10),
    ("SEVERITY_NUMBER_INFO3", 11),
    ("SEVERITY_NUMBER_INFO4", 12),
    ("SEVERITY_NUMBER_WARN", 13),
    ("SEVERITY_NUMBER_WARN2", 14),
    ("SEVERITY_NUMBER_WARN3", 15),
    ("SEVERITY_NUMBER_WARN4", 16),
    ("SEVERITY_NUMBER_ERROR", 17),
    ("SEVERITY_NUMBER_ERROR2", 18),
    ("SEVERITY_NUMBER_ERROR3", 19),
    ("SEVERITY_NUMBER_ERROR4", 20),
    ("SEVERITY_NUMBER_FATAL", 21),
    ("SEVERITY_NUMBER_FATAL2", 22),
    ("SEVERITY_NUMBER_FATAL3", 23),
    ("SEVERITY_NUMBER_FATAL4", 24),
];

pub(super) static LOGS_REQUEST: Msg = Msg {
    fields: &[repeated(1, "resource_logs", Message(&RESOURCE_LOGS))],
};
static RESOURCE_LOGS: Msg = Msg {
    fields: &[
        field(1, "resource", Message(&RESOURCE)),
        repeated(2, "scope_logs", Message(&SCOPE_LOGS)),
        field(3, "schema_url", Str),
    ],
};
static SCOPE_LOGS: Msg = Msg {
    fields: &[
        field(1, "scope", Message(&SCOPE)),
        repeated(2, "log_records", Message(&LOG_RECORD)),
        field(3, "schema_url", Str),
    ],
};
static LOG_RECORD: Msg = Msg {
    fields: &[
        field(1, "time_unix_nano", Fixed64),
        field(11, "observed_time_unix_nano", Fixed64),
        field(2, "severity_number", Enum(SEVERITY)),
        field(3, "severity_text", Str),
        field(5, "body", Message(&ANY_VALUE)),
        repeated(6, "attributes", Message(&KEY_VALUE)),
        field(7, "dropped_attributes_count", Uint32),
        field(8, "flags", Fixed32),
        field(9, "trace_id", HexBytes),
        field(10, "span_id", HexBytes),
        field(12, "event_name", Str),
    ],
};

// --- metrics ---
const TEMPORALITY: &[(&str, i32)] = &[
    ("AGGREGATION_TEMPORALITY_UNSPECIFIED", 0),
    ("AGGREGATION_TEMPORALITY_DELTA", 1),
    ("AGGREGATION_TEMPORALITY_CUMULATIVE", 2),
];

pub(super) static METRICS_REQUEST: Msg = Msg {
    fields: &[repeated(1, "resource_metrics", Message(&RESOURCE_METRICS))],
};
static RESOURCE_METRICS: Msg = Msg {
    fields: &[
        field(1, "resource", Message(&RESOURCE)),
        repeated(2, "scope_metrics", Message(&SCOPE_METRICS)),
        field(3, "schema_url", Str),
    ],
};
static SCOPE_METRICS: Msg = Msg {
    fields: &[
        field(1, "scope", Message(&SCOPE)),
        repeated(2, "metrics", Message(&METRIC)),
        field(3, "schema_url", Str),
    ],
};
static METRIC: Msg = Msg {
    fields: &[
        field(1, "name", Str),
        field(2, "description", Str),
        field(3, "unit", Str),
        member(5, "gauge", Message(&GAUGE)),
        member(7, "sum", Message(&SUM)),
        member(9, "histogram", Message(&HISTOGRAM)),
        member(10, "exponential_histogram", Message(&EXP_HISTOGRAM)),
        member(11, "summary", Message(&SUMMARY)),
        repeated(12, "metadata", Message(&KEY_VALUE)),
    ],
};
static GAUGE: Msg = Msg {
    fields: &[repeated(1, "data_points", Message(&NUMBER_POINT))],
};
static SUM: Msg = Msg {
    fields: &[
        repeated(1, "data_points", Message(&NUMBER_POINT)),
        field(2, "aggregation_temporality", Enum(TEMPORALITY)),
        field(3, "is_monotonic", Bool),
    ],
};
static HISTOGRAM: Msg = Msg {
    fields: &[
        repeated(1, "data_points", Message(&HISTOGRAM_POINT)),
        field(2, "aggregation_temporality", Enum(TEMPORALITY)),
    ],
};
static EXP_HISTOGRAM: Msg = Msg {
    fields: &[
        repeated(1, "data_points", Message(&EXP_HISTOGRAM_POINT)),
        field(2, "aggregation_temporality", Enum(TEMPORALITY)),
    ],
};
static SUMMARY: Msg = Msg {
    fields: &[repeated(1, "data_points", Message(&SUMMARY_POINT))],
};
static NUMBER_POINT: Msg = Msg {
    fields: &[
        repeated(7, "attributes", Message(&KEY_VALUE)),
        field(2, "start_time_unix_nano", Fixed64),
        field(3, "time_unix_nano", Fixed64),
        member(4, "as_double", Double),
        member(6, "as_int", Sfixed64),
        repeated(5, "exemplars", Message(&EXEMPLAR)),
        field(8, "flags", Uint32),
    ],
};
static HISTOGRAM_POINT: Msg = Msg {
    fields: &[
        repeated(9, "attributes", Message(&KEY_VALUE)),
        field(2, "start_time_unix_nano", Fixed64),
        field(3, "time_unix_nano", Fixed64),
        field(4, "count", Fixed64),
        present(5, "sum", Double),
        repeated(6, "bucket_counts", Fixed64),
        repeated(7, "explicit_bounds", Double),
        repeated(8, "exemplars", Message(&EXEMPLAR)),
        field(10, "flags", Uint32),
        present(11, "min", Double),
        present(12, "max", Double),
    ],
};
static EXP_HISTOGRAM_POINT: Msg = Msg {
    fields: &[
        repeated(1, "attributes", Message(&KEY_VALUE)),
        field(2, "start_time_unix_nano", Fixed64),
        field(3, "time_unix_nano", Fixed64),
        field(4, "count", Fixed64),
        present(5, "sum", Double),
        field(6, "scale", Sint32),
        field(7, "zero_count", Fixed64),
        field(8, "positive", Message(&BUCKETS)),
        field(9, "negative", Message(&BUCKETS)),
        field(10, "flags", Uint32),
        repeated(11, "exemplars", Message(&EXEMPLAR)),
        present(12, "min", Double),
        present(13, "max", Double),
        field(14, "zero_threshold", Double),
    ],
};
static BUCKETS: Msg = Msg {
    fields: &[
        field(1, "offset", Sint32),
        repeated(2, "bucket_counts", Uint64),
    ],
};
static SUMMARY_POINT: Msg = Msg {
    fields: &[
        repeated(7, "attributes", Message(&KEY_VALUE)),
        field(2, "start_time_unix_nano", Fixed64),
        field(3, "time_unix_nano", Fixed64),
        field(4, "count", Fixed64),
        field(5, "sum", Double),
        repeated(6, "quantile_values", Message(&QUANTILE)),
        field(8, "flags", Uint32),
    ],
};
static QUANTILE: Msg = Msg {
    fields: &[field(1, "quantile", Double), field(2, "value", Double)],
};
static EXEMPLAR: Msg = Msg {
    fields: &[
        repeated(7, "filtered_attributes", Message(&KEY_VALUE)),
        field(2, "time_unix_nano", Fixed64),
        member(3, "as_double", Double),
        member(6, "as_int", Sfixed64),
        field(4, "span_id", HexBytes),
        field(5, "trace_id", HexBytes),
    ],
};

// --- collector responses and google.rpc.Status (details are not carried) ---
pub(super) static TRACE_RESPONSE: Msg = Msg {
    fields: &[field(1, "partial_success", Message(&TRACE_PARTIAL))],
};
static TRACE_PARTIAL: Msg = Msg {
    fields: &[
        field(1, "rejected_spans", Int64),
        field(2, "error_message", Str),
    ],
};
pub(super) static METRICS_RESPONSE: Msg = Msg {
    fields: &[field(1, "partial_success", Message(&METRICS_PARTIAL))],
};
static METRICS_PARTIAL: Msg = Msg {
    fields: &[
        field(1, "rejected_data_points", Int64),
        field(2, "error_message", Str),
    ],
};
pub(super) static LOGS_RESPONSE: Msg = Msg {
    fields: &[field(1, "partial_success", Message(&LOGS_PARTIAL))],
};
static LOGS_PARTIAL: Msg = Msg {
    fields: &[
        field(1, "rejected_log_records", Int64),
        field(2, "error_message", Str),
    ],
};
pub(super) static RPC_STATUS: Msg = Msg {
    fields: &[field(1, "code", Int32), field(2, "message", Str)],
};
