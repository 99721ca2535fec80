//! Limits on what one export request may hold, checked in the walk that counts its items: the
//! nesting of array and kvlist values, the attributes of one element, and the length of one string
//! or bytes field. The walk knows just enough of the OTLP schema to find every attribute and value;
//! it never allocates and never builds a prost struct.

use super::{WIRE_I32, WIRE_I64, WIRE_LEN, WIRE_VARINT, WireError, read_varint};
use crate::signal::Signal;

/// The deepest array/kvlist nesting the walk will follow, whatever a caller configures.
///
/// prost refuses messages nested deeper than 100 levels, and the deepest place an attribute value
/// can start is an exemplar's filtered attributes (request → resource metrics → scope metrics →
/// metric → histogram → data point → exemplar → key-value → value: level 8, counting the request as
/// 0). Each kvlist level adds three messages (value → kvlist → key-value → value), so 30 levels end
/// at 98 and decode everywhere; accepting more would let a relay pass on data that no processor
/// could read.
pub const MAX_SUPPORTED_VALUE_DEPTH: usize = 30;

/// What a request may hold; see the `limits` section of the OTLP receiver's docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Arrays and kvlists nested in one attribute value or log body (a plain value is 0).
    pub max_value_depth: usize,
    /// Attributes of one resource, scope, span, event, link, log record, metric, data point or
    /// exemplar, and entries of one kvlist value.
    pub max_attributes: usize,
    /// Bytes of one string or bytes field: attribute keys and values, names, bodies, ids.
    pub max_value_length: usize,
}

impl Limits {
    /// Generous enough that no legitimate client meets them (the receiver docs say why): the
    /// deepest nesting ferrotel can decode, 10,000 attributes where SDKs keep 128, and 4 MiB, the
    /// whole of a default gRPC message.
    pub const DEFAULT: Limits = Limits {
        max_value_depth: MAX_SUPPORTED_VALUE_DEPTH,
        max_attributes: 10_000,
        max_value_length: 4 << 20,
    };
}

const _: () = assert!(Limits::DEFAULT.max_value_depth <= MAX_SUPPORTED_VALUE_DEPTH);

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// Which limit a request went over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    ValueDepth,
    Attributes,
    /// The entries of one kvlist value (counted against `max_attributes`).
    KvlistEntries,
    ValueLength,
}

impl Limit {
    /// The config key that sets it.
    pub fn key(self) -> &'static str {
        match self {
            Limit::ValueDepth => "max_value_depth",
            Limit::Attributes | Limit::KvlistEntries => "max_attributes",
            Limit::ValueLength => "max_value_length",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct LimitExceeded {
    pub limit: Limit,
    /// What the request holds; for depth, the first level past the limit (the walk stops there).
    pub found: usize,
    pub max: usize,
    /// The element that holds it, e.g. "a span".
    pub place: &'static str,
}

impl LimitExceeded {
    fn describe(&self) -> String {
        let (found, key, max, place) = (self.found, self.limit.key(), self.max, self.place);
        match self.limit {
            Limit::ValueDepth => format!(
                "a value in {place} is nested at least {found} levels deep, over {key} ({max})"
            ),
            Limit::Attributes => format!("{place} has {found} attributes, over {key} ({max})"),
            Limit::KvlistEntries => {
                format!("a kvlist value in {place} has {found} entries, over {key} ({max})")
            }
            Limit::ValueLength => format!(
                "a string or bytes field in {place} is {found} bytes long, over {key} ({max})"
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Wire(#[from] WireError),
    #[error("limit exceeded: {0}")]
    Limit(#[from] LimitExceeded),
}

/// The OTLP messages the walk enters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Msg {
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
    /// Gauge and Sum
    NumberPoints,
    HistogramPoints,
    ExpHistogramPoints,
    SummaryPoints,
    NumberPoint,
    HistogramPoint,
    ExpHistogramPoint,
    SummaryPoint,
    Exemplar,
}

impl Msg {
    /// Messages on the way down to the items, which the walk must enter to count them.
    fn leads_to_items(self) -> bool {
        use Msg::*;
        matches!(
            self,
            TracesRequest
                | LogsRequest
                | MetricsRequest
                | ResourceSpans
                | ResourceLogs
                | ResourceMetrics
                | ScopeSpans
                | ScopeLogs
                | ScopeMetrics
                | Metric
                | NumberPoints
                | HistogramPoints
                | ExpHistogramPoints
                | SummaryPoints
        )
    }

    /// How errors name the element.
    fn place(self) -> &'static str {
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
            Metric | NumberPoints | HistogramPoints | ExpHistogramPoints | SummaryPoints => {
                "a metric"
            }
            NumberPoint | HistogramPoint | ExpHistogramPoint | SummaryPoint => "a data point",
            Exemplar => "an exemplar",
        }
    }
}

/// What a field of a message is to the walk.
#[derive(Clone, Copy)]
enum Role {
    /// Scalars, packed numbers, messages holding only numbers, and unknown fields.
    Skip,
    /// A string or bytes field.
    Text,
    Message(Msg),
    /// A message holding one of the items counted (span, log record, data point).
    Item(Msg),
    /// One member of a metric's data oneof.
    Data(Msg),
    /// A `KeyValue` attribute of the enclosing element.
    Attribute,
    /// An `AnyValue` (a log record's body).
    Value,
}

#[inline(always)]
fn role(msg: Msg, number: u32) -> Role {
    use Msg::*;
    use Role::*;
    match (msg, number) {
        (TracesRequest, 1) => Message(ResourceSpans),
        (LogsRequest, 1) => Message(ResourceLogs),
        (MetricsRequest, 1) => Message(ResourceMetrics),
        (ResourceSpans | ResourceLogs | ResourceMetrics, 1) => Message(Resource),
        (ResourceSpans, 2) => Message(ScopeSpans),
        (ResourceLogs, 2) => Message(ScopeLogs),
        (ResourceMetrics, 2) => Message(ScopeMetrics),
        (ResourceSpans | ResourceLogs | ResourceMetrics, 3) => Text,
        (ScopeSpans | ScopeLogs | ScopeMetrics, 1) => Message(Scope),
        (ScopeSpans, 2) => Item(Span),
        (ScopeLogs, 2) => Item(LogRecord),
        (ScopeMetrics, 2) => Message(Metric),
        (ScopeSpans | ScopeLogs | ScopeMetrics, 3) => Text,
        (Resource, 1) => Attribute,
        (Resource, 3) => Message(EntityRef),
        (EntityRef, 1..=4) => Text,
        (Scope, 1 | 2) => Text,
        (Scope, 3) => Attribute,
        (Span, 1..=5) => Text,
        (Span, 9) => Attribute,
        (Span, 11) => Message(SpanEvent),
        (Span, 13) => Message(SpanLink),
        (Span, 15) => Message(SpanStatus),
        (SpanEvent, 2) => Text,
        (SpanEvent, 3) => Attribute,
        (SpanLink, 1..=3) => Text,
        (SpanLink, 4) => Attribute,
        (SpanStatus, 2) => Text,
        (LogRecord, 3 | 9 | 10 | 12) => Text,
        (LogRecord, 5) => Value,
        (LogRecord, 6) => Attribute,
        (Metric, 1..=3) => Text,
        (Metric, 5 | 7) => Data(NumberPoints),
        (Metric, 9) => Data(HistogramPoints),
        (Metric, 10) => Data(ExpHistogramPoints),
        (Metric, 11) => Data(SummaryPoints),
        (Metric, 12) => Attribute,
        (NumberPoints, 1) => Item(NumberPoint),
        (HistogramPoints, 1) => Item(HistogramPoint),
        (ExpHistogramPoints, 1) => Item(ExpHistogramPoint),
        (SummaryPoints, 1) => Item(SummaryPoint),
        (NumberPoint | SummaryPoint, 7) | (HistogramPoint, 9) | (ExpHistogramPoint, 1) => Attribute,
        (NumberPoint, 5) | (HistogramPoint, 8) | (ExpHistogramPoint, 11) => Message(Exemplar),
        (Exemplar, 7) => Attribute,
        (Exemplar, 4 | 5) => Text,
        _ => Skip,
    }
}

/// Checks the framing of an export request of `signal` and the `limits` on what it holds, and
/// counts its items: one walk over every message that can hold an attribute or a string.
pub fn check(buf: &[u8], signal: Signal, limits: &Limits) -> Result<usize, CheckError> {
    let root = match signal {
        Signal::Traces => Msg::TracesRequest,
        Signal::Logs => Msg::LogsRequest,
        Signal::Metrics => Msg::MetricsRequest,
    };
    let max_depth = limits.max_value_depth.min(MAX_SUPPORTED_VALUE_DEPTH);
    let mut walk = Walk {
        max_depth,
        // Each level of nesting takes at least 4 bytes (array: value tag and length, values tag
        // and length; kvlist: 6), each attribute at least 2, and a string is shorter than what
        // holds it: a payload no longer than this cannot break any limit, so the walk need not
        // enter it. Most attributes are that small, which keeps the walk near the framing walk's
        // cost. (Their framing goes unchecked, as it did before limits: prost checks it if a
        // component ever decodes.)
        small: (4 * max_depth)
            .min(2 * limits.max_attributes + 1)
            .min(limits.max_value_length),
        limits,
        items: 0,
        error: None,
    };
    match walk.message(buf, root) {
        Ok(()) => Ok(walk.items),
        Err(Stop) => Err(walk.error.expect("a stop records its error")),
    }
}

struct Walk<'a> {
    limits: &'a Limits,
    max_depth: usize,
    /// Payloads up to this long are within every limit whatever they hold.
    small: usize,
    items: usize,
    /// Why the walk stopped; kept here so the hot path returns a one-bit `Result`.
    error: Option<CheckError>,
}

/// The walk stopped; `Walk::error` says why.
struct Stop;

/// One field: its number, wire type, and for a length-delimited field its payload.
struct Field<'a> {
    number: u32,
    wire_type: u8,
    payload: &'a [u8],
}

impl<'a> Field<'a> {
    #[inline(always)]
    fn message(&self) -> Result<&'a [u8], WireError> {
        if self.wire_type == WIRE_LEN {
            Ok(self.payload)
        } else {
            Err(WireError("expected a length-delimited field"))
        }
    }
}

/// The fields of one message, with the one-byte cases (nearly every tag, length and small
/// integer in OTLP) read inline: this loop is the whole cost of the walk.
struct Fields<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Fields<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Fields { buf, pos: 0 }
    }

    #[inline(always)]
    fn varint(&mut self) -> Result<u64, WireError> {
        match self.buf.get(self.pos) {
            Some(&byte) if byte < 0x80 => {
                self.pos += 1;
                Ok(u64::from(byte))
            }
            _ => read_varint(self.buf, &mut self.pos),
        }
    }

    #[inline(always)]
    fn skip(&mut self, n: usize) -> Result<(), WireError> {
        if self.buf.len() - self.pos < n {
            return Err(WireError("fixed-width field runs past the end"));
        }
        self.pos += n;
        Ok(())
    }

    #[inline(always)]
    fn next(&mut self) -> Result<Option<Field<'a>>, WireError> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let tag = self.varint()?;
        let number = u32::try_from(tag >> 3).map_err(|_| WireError("field number out of range"))?;
        if number == 0 {
            return Err(WireError("field number 0"));
        }
        let wire_type = (tag & 7) as u8;
        // Length-delimited first: strings and messages are most of what OTLP holds.
        if wire_type == WIRE_LEN {
            let len = usize::try_from(self.varint()?).map_err(|_| WireError("length overflow"))?;
            let Some(payload) = self.buf.get(self.pos..).and_then(|rest| rest.get(..len)) else {
                return Err(WireError("length-delimited field runs past the end"));
            };
            self.pos += len;
            return Ok(Some(Field {
                number,
                wire_type,
                payload,
            }));
        }
        match wire_type {
            WIRE_VARINT => {
                self.varint()?;
            }
            WIRE_I64 => self.skip(8)?,
            WIRE_I32 => self.skip(4)?,
            _ => return Err(WireError("unsupported wire type")),
        }
        Ok(Some(Field {
            number,
            wire_type,
            payload: &[],
        }))
    }
}

impl Walk<'_> {
    #[cold]
    fn fail(&mut self, error: impl Into<CheckError>) -> Stop {
        self.error = Some(error.into());
        Stop
    }

    #[cold]
    fn exceeded(&mut self, limit: Limit, found: usize, max: usize, place: &'static str) -> Stop {
        self.fail(LimitExceeded {
            limit,
            found,
            max,
            place,
        })
    }

    #[inline(always)]
    fn next<'b>(&mut self, fields: &mut Fields<'b>) -> Result<Option<Field<'b>>, Stop> {
        fields.next().map_err(|e| self.fail(e))
    }

    #[inline(always)]
    fn payload<'b>(&mut self, field: &Field<'b>) -> Result<&'b [u8], Stop> {
        field.message().map_err(|e| self.fail(e))
    }

    #[inline(always)]
    fn text(&mut self, field: &Field<'_>, place: &'static str) -> Result<(), Stop> {
        let len = self.payload(field)?.len();
        if len > self.limits.max_value_length {
            return Err(self.exceeded(
                Limit::ValueLength,
                len,
                self.limits.max_value_length,
                place,
            ));
        }
        Ok(())
    }

    fn message(&mut self, buf: &[u8], msg: Msg) -> Result<(), Stop> {
        let mut attributes = 0usize;
        // prost keeps only the last member of a oneof; counting points of an earlier one would
        // make the count disagree with what a decoding component sees.
        let mut data_member = None;
        let mut fields = Fields::new(buf);
        while let Some(field) = self.next(&mut fields)? {
            match role(msg, field.number) {
                Role::Skip => {}
                Role::Text => self.text(&field, msg.place())?,
                Role::Message(inner) => {
                    let payload = self.payload(&field)?;
                    if !inner.leads_to_items() && payload.len() <= self.small {
                        continue;
                    }
                    self.message(payload, inner)?;
                }
                Role::Item(inner) => {
                    let payload = self.payload(&field)?;
                    self.items += 1;
                    if payload.len() > self.small {
                        self.message(payload, inner)?;
                    }
                }
                Role::Data(inner) => {
                    let payload = self.payload(&field)?;
                    if *data_member.get_or_insert(field.number) != field.number {
                        return Err(
                            self.fail(WireError("a metric holds more than one kind of data"))
                        );
                    }
                    self.message(payload, inner)?;
                }
                Role::Attribute => {
                    let payload = self.payload(&field)?;
                    attributes += 1;
                    if payload.len() > self.small {
                        self.key_value(payload, 0, msg.place())?;
                    }
                }
                Role::Value => {
                    let payload = self.payload(&field)?;
                    if payload.len() > self.small {
                        self.any_value(payload, 0, msg.place())?;
                    }
                }
            }
        }
        if attributes > self.limits.max_attributes {
            let max = self.limits.max_attributes;
            return Err(self.exceeded(Limit::Attributes, attributes, max, msg.place()));
        }
        Ok(())
    }

    /// `KeyValue`: key (1), value (2).
    #[inline]
    fn key_value(&mut self, buf: &[u8], depth: usize, place: &'static str) -> Result<(), Stop> {
        let mut fields = Fields::new(buf);
        while let Some(field) = self.next(&mut fields)? {
            match field.number {
                1 => self.text(&field, place)?,
                2 => {
                    let payload = self.payload(&field)?;
                    self.any_value(payload, depth, place)?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// `AnyValue`: string (1), array (5), kvlist (6), bytes (7); the rest are scalars.
    fn any_value(&mut self, buf: &[u8], depth: usize, place: &'static str) -> Result<(), Stop> {
        let mut fields = Fields::new(buf);
        while let Some(field) = self.next(&mut fields)? {
            match field.number {
                1 | 7 => self.text(&field, place)?,
                5 | 6 => {
                    let inner = self.payload(&field)?;
                    let depth = depth + 1;
                    if depth > self.max_depth {
                        let max = self.max_depth;
                        return Err(self.exceeded(Limit::ValueDepth, depth, max, place));
                    }
                    if field.number == 5 {
                        self.array(inner, depth, place)?;
                    } else {
                        self.kvlist(inner, depth, place)?;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// `ArrayValue`: values (1).
    fn array(&mut self, buf: &[u8], depth: usize, place: &'static str) -> Result<(), Stop> {
        let mut fields = Fields::new(buf);
        while let Some(field) = self.next(&mut fields)? {
            if field.number == 1 {
                let payload = self.payload(&field)?;
                self.any_value(payload, depth, place)?;
            }
        }
        Ok(())
    }

    /// `KeyValueList`: values (1).
    fn kvlist(&mut self, buf: &[u8], depth: usize, place: &'static str) -> Result<(), Stop> {
        let mut entries = 0usize;
        let mut fields = Fields::new(buf);
        while let Some(field) = self.next(&mut fields)? {
            if field.number == 1 {
                let payload = self.payload(&field)?;
                entries += 1;
                self.key_value(payload, depth, place)?;
            }
        }
        if entries > self.limits.max_attributes {
            let max = self.limits.max_attributes;
            return Err(self.exceeded(Limit::KvlistEntries, entries, max, place));
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "limits_tests.rs"]
mod tests;
