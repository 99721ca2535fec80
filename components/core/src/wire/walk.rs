//! The walk behind [`check`]: one pass over an export request that counts its items, enforces the
//! [`Limits`] and refuses whatever a decoder would, entering every message and knowing every field
//! of the OTLP schema (`schema.rs`), yet never allocating and never building a prost struct.

use super::limits::{
    CheckError, InvalidField, Limit, LimitExceeded, Limits, MAX_SUPPORTED_VALUE_DEPTH, Problem,
};
use super::schema::{Holder, Kind, Msg, ValueMsg, field_name, lookup, value_field_name};
use super::{WIRE_I32, WIRE_I64, WIRE_LEN, WIRE_VARINT, WireError, read_varint};
use crate::signal::Signal;

/// Checks an export request of `signal` and counts its items, in one walk over every message it
/// holds:
///
/// - the framing, as [`super::count_items`] does;
/// - the `limits` on what it holds;
/// - whatever prost refuses when decoding it (the opentelemetry-proto types): strings that are not
///   UTF-8, known fields with a wire type their type does not take, malformed packed fields,
///   varints past 64 bits, nesting past prost's recursion limit; so a request this accepts decodes;
/// - what otelcol's pdata refuses though prost does not: trace ids neither empty nor 16 bytes, span
///   ids neither empty nor 8 bytes.
///
/// It refuses a little more than prost: groups (wire types 3 and 4, obsolete and never sent by an
/// OTLP exporter) even in unknown fields, and a metric holding two kinds of data (prost keeps the
/// last, so the items of the others would be counted but never seen).
pub fn check(buf: &[u8], signal: Signal, limits: &Limits) -> Result<usize, CheckError> {
    let root = match signal {
        Signal::Traces => Msg::TracesRequest,
        Signal::Logs => Msg::LogsRequest,
        Signal::Metrics => Msg::MetricsRequest,
    };
    let mut walk = Walk {
        max_depth: limits.max_value_depth.min(MAX_SUPPORTED_VALUE_DEPTH),
        max_attributes: limits.max_attributes,
        max_value_length: limits.max_value_length,
        items: 0,
        error: None,
    };
    match walk.message(buf, root) {
        Ok(()) => Ok(walk.items),
        Err(Stop) => Err(walk.error.expect("a stop records its error")),
    }
}

struct Walk {
    max_depth: usize,
    max_attributes: usize,
    max_value_length: usize,
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

/// The fields of one message, with the one-byte cases (nearly every tag, length and small
/// integer in OTLP) read inline: this loop is most of the cost of the walk.
struct Fields<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Fields<'a> {
    #[inline(always)]
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
        // prost refuses a key past 32 bits, though the field number would fit in a u32.
        let Ok(tag) = u32::try_from(tag) else {
            return Err(WireError("field number out of range"));
        };
        let number = tag >> 3;
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

/// Whether `bytes` is ASCII, in a few loads whatever its length (most OTLP strings are short).
#[inline(always)]
fn is_ascii(bytes: &[u8]) -> bool {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let n = bytes.len();
    let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    if n >= 8 {
        // Whole words, then the last 8 bytes (overlapping the words before).
        let mut high = word(n - 8);
        let mut at = 0;
        while at + 8 < n {
            high |= word(at);
            at += 8;
        }
        high & HIGH == 0
    } else if n >= 4 {
        let half = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        (half(0) | half(n - 4)) & HIGH as u32 == 0
    } else if n > 0 {
        (bytes[0] | bytes[n / 2] | bytes[n - 1]) < 0x80
    } else {
        true
    }
}

/// Whether `bytes` is UTF-8: nearly every string in OTLP is ASCII, the rest goes to `from_utf8`.
#[inline(always)]
fn is_utf8(bytes: &[u8]) -> bool {
    is_ascii(bytes) || std::str::from_utf8(bytes).is_ok()
}

/// Whether `bytes` is exactly one varint of at most 9 bytes (a shorter one never overflows).
#[inline(always)]
fn one_short_varint(bytes: &[u8]) -> bool {
    match bytes.split_last() {
        Some((&last, rest)) => last < 0x80 && rest.len() < 9 && rest.iter().all(|&b| b >= 0x80),
        None => false,
    }
}

/// Whether `kv` is a `KeyValue` of the shape SDKs send nearly always, and sound: a key, then a value
/// holding one string, bool, int or double, each field once, the key and the string ASCII and
/// shorter than 128 bytes and than `max_len`. Straight-line code for the bulk of a request's
/// fields; anything else (and any error) is left to the general walk.
#[inline(always)]
fn plain_key_value(kv: &[u8], max_len: usize) -> bool {
    let [0x0a, key_len, rest @ ..] = kv else {
        return false;
    };
    let key_len = usize::from(*key_len);
    if key_len >= 0x80 || key_len > max_len {
        return false;
    }
    let Some((key, rest)) = rest.split_at_checked(key_len) else {
        return false;
    };
    let [0x12, value_len, value @ ..] = rest else {
        return false;
    };
    if *value_len >= 0x80 || usize::from(*value_len) != value.len() {
        return false;
    }
    match value {
        // string_value: the key, both tags and both lengths are ASCII too, so one pass covers all.
        [0x0a, len, text @ ..] => {
            *len < 0x80
                && usize::from(*len) == text.len()
                && text.len() <= max_len
                && is_ascii(&kv[2..])
        }
        // bool_value, int_value
        [0x10 | 0x18, int @ ..] => one_short_varint(int) && is_ascii(key),
        // double_value
        [0x21, _, _, _, _, _, _, _, _] => is_ascii(key),
        _ => false,
    }
}

/// Whether `bytes` is a run of whole varints that prost reads (none past 64 bits).
fn packed_varints(bytes: &[u8]) -> bool {
    let mut pos = 0;
    while pos < bytes.len() {
        if bytes[pos] < 0x80 {
            pos += 1;
        } else if read_varint(bytes, &mut pos).is_err() {
            return false;
        }
    }
    true
}

/// Where a field sits, for errors: a message of the schema, or a value message and its holder.
#[derive(Clone, Copy)]
enum At {
    Msg(Msg),
    Value(Msg, Holder, ValueMsg),
}

impl At {
    #[cold]
    fn names(self, number: u32) -> (&'static str, &'static str) {
        match self {
            At::Msg(msg) => (field_name(msg, number), msg.place()),
            At::Value(msg, holder, value) => (value_field_name(holder, value, number), msg.place()),
        }
    }
}

impl Walk {
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

    #[cold]
    #[inline(never)]
    fn invalid(&mut self, problem: Problem, at: At, number: u32) -> Stop {
        let (field, place) = at.names(number);
        self.fail(InvalidField {
            problem,
            field,
            place,
        })
    }

    #[cold]
    #[inline(never)]
    fn wrong_wire_type(&mut self, field: &Field<'_>, expected: &'static str, at: At) -> Stop {
        let problem = Problem::WireType {
            found: field.wire_type,
            expected,
        };
        self.invalid(problem, at, field.number)
    }

    #[inline(always)]
    fn next<'b>(&mut self, fields: &mut Fields<'b>) -> Result<Option<Field<'b>>, Stop> {
        fields.next().map_err(|e| self.fail(e))
    }

    /// The payload of a field that must be length-delimited.
    #[inline(always)]
    fn payload<'b>(&mut self, field: &Field<'b>, at: At) -> Result<&'b [u8], Stop> {
        if field.wire_type == WIRE_LEN {
            Ok(field.payload)
        } else {
            Err(self.wrong_wire_type(field, Kind::LENGTH_DELIMITED, at))
        }
    }

    /// A scalar field of `kind`, which takes `wire_type` alone.
    #[inline(always)]
    fn scalar(&mut self, field: &Field<'_>, wire_type: u8, kind: Kind, at: At) -> Result<(), Stop> {
        if field.wire_type == wire_type {
            Ok(())
        } else {
            Err(self.wrong_wire_type(field, kind.expected(), at))
        }
    }

    /// A string or bytes field: length-delimited, within `max_value_length`.
    #[inline(always)]
    fn bytes<'b>(&mut self, field: &Field<'b>, at: At) -> Result<&'b [u8], Stop> {
        let payload = self.payload(field, at)?;
        if payload.len() > self.max_value_length {
            let (len, max) = (payload.len(), self.max_value_length);
            let place = at.names(field.number).1;
            return Err(self.exceeded(Limit::ValueLength, len, max, place));
        }
        Ok(payload)
    }

    /// A string field: a bytes field holding UTF-8.
    #[inline(always)]
    fn string(&mut self, field: &Field<'_>, at: At) -> Result<(), Stop> {
        let text = self.bytes(field, at)?;
        if !is_utf8(text) {
            return Err(self.invalid(Problem::NotUtf8, at, field.number));
        }
        Ok(())
    }

    /// A trace or span id: a bytes field empty or `len` long.
    #[inline(always)]
    fn id(&mut self, field: &Field<'_>, len: usize, at: At) -> Result<(), Stop> {
        let id = self.bytes(field, at)?;
        if !id.is_empty() && id.len() != len {
            let problem = Problem::IdLength {
                found: id.len(),
                expected: len,
            };
            return Err(self.invalid(problem, at, field.number));
        }
        Ok(())
    }

    fn message(&mut self, buf: &[u8], msg: Msg) -> Result<(), Stop> {
        let at = At::Msg(msg);
        let mut attributes = 0usize;
        // prost keeps only the last member of a oneof; counting points of an earlier one would
        // make the count disagree with what a decoding component sees.
        let mut data_member = None;
        let mut fields = Fields::new(buf);
        while let Some(field) = self.next(&mut fields)? {
            let kind = lookup(msg, field.number);
            match kind {
                Kind::Unknown => {}
                Kind::Varint => self.scalar(&field, WIRE_VARINT, kind, at)?,
                Kind::Fixed64 => self.scalar(&field, WIRE_I64, kind, at)?,
                Kind::Fixed32 => self.scalar(&field, WIRE_I32, kind, at)?,
                Kind::PackedVarint => match field.wire_type {
                    WIRE_VARINT => {}
                    WIRE_LEN if packed_varints(field.payload) => {}
                    WIRE_LEN => return Err(self.invalid(Problem::PackedVarint, at, field.number)),
                    _ => return Err(self.wrong_wire_type(&field, kind.expected(), at)),
                },
                Kind::PackedFixed64 => match field.wire_type {
                    WIRE_I64 => {}
                    WIRE_LEN if field.payload.len() % 8 == 0 => {}
                    WIRE_LEN => {
                        let problem = Problem::PackedLength {
                            len: field.payload.len(),
                            width: 8,
                        };
                        return Err(self.invalid(problem, at, field.number));
                    }
                    _ => return Err(self.wrong_wire_type(&field, kind.expected(), at)),
                },
                Kind::Str => self.string(&field, at)?,
                Kind::TraceId => self.id(&field, 16, at)?,
                Kind::SpanId => self.id(&field, 8, at)?,
                Kind::Message(inner) => {
                    let payload = self.payload(&field, at)?;
                    self.message(payload, inner)?;
                }
                Kind::Item(inner) => {
                    let payload = self.payload(&field, at)?;
                    self.items += 1;
                    self.message(payload, inner)?;
                }
                Kind::Data(inner) => {
                    let payload = self.payload(&field, at)?;
                    if *data_member.get_or_insert(field.number) != field.number {
                        return Err(
                            self.fail(WireError("a metric holds more than one kind of data"))
                        );
                    }
                    self.message(payload, inner)?;
                }
                Kind::Attribute => {
                    let payload = self.payload(&field, at)?;
                    attributes += 1;
                    if plain_key_value(payload, self.max_value_length) {
                        continue;
                    }
                    let holder = if msg == Msg::Metric {
                        Holder::Metadata
                    } else {
                        Holder::Attribute
                    };
                    self.key_value(payload, 0, msg, holder)?;
                }
                Kind::Value => {
                    let payload = self.payload(&field, at)?;
                    self.any_value(payload, 0, msg, Holder::Body)?;
                }
            }
        }
        if attributes > self.max_attributes {
            let max = self.max_attributes;
            return Err(self.exceeded(Limit::Attributes, attributes, max, msg.place()));
        }
        Ok(())
    }

    /// `KeyValue`: key (1, string), value (2, AnyValue), key_strindex (3, int32).
    #[inline]
    fn key_value(
        &mut self,
        buf: &[u8],
        depth: usize,
        msg: Msg,
        holder: Holder,
    ) -> Result<(), Stop> {
        let at = At::Value(msg, holder, ValueMsg::KeyValue);
        let mut fields = Fields::new(buf);
        while let Some(field) = self.next(&mut fields)? {
            match field.number {
                1 => self.string(&field, at)?,
                2 => {
                    let payload = self.payload(&field, at)?;
                    self.any_value(payload, depth, msg, holder)?;
                }
                3 => self.scalar(&field, WIRE_VARINT, Kind::Varint, at)?,
                _ => {}
            }
        }
        Ok(())
    }

    /// `AnyValue`, a oneof: string (1), bool (2), int64 (3), double (4), array (5), kvlist (6),
    /// bytes (7), string_value_strindex (8, int32).
    fn any_value(
        &mut self,
        buf: &[u8],
        depth: usize,
        msg: Msg,
        holder: Holder,
    ) -> Result<(), Stop> {
        let at = At::Value(msg, holder, ValueMsg::AnyValue);
        let mut fields = Fields::new(buf);
        while let Some(field) = self.next(&mut fields)? {
            match field.number {
                1 => self.string(&field, at)?,
                2 | 3 | 8 => self.scalar(&field, WIRE_VARINT, Kind::Varint, at)?,
                4 => self.scalar(&field, WIRE_I64, Kind::Fixed64, at)?,
                5 | 6 => {
                    let inner = self.payload(&field, at)?;
                    let depth = depth + 1;
                    if depth > self.max_depth {
                        let max = self.max_depth;
                        return Err(self.exceeded(Limit::ValueDepth, depth, max, msg.place()));
                    }
                    if field.number == 5 {
                        self.array(inner, depth, msg, holder)?;
                    } else {
                        self.kvlist(inner, depth, msg, holder)?;
                    }
                }
                7 => {
                    self.bytes(&field, at)?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// `ArrayValue`: values (1, AnyValue).
    fn array(&mut self, buf: &[u8], depth: usize, msg: Msg, holder: Holder) -> Result<(), Stop> {
        let at = At::Value(msg, holder, ValueMsg::Array);
        let mut fields = Fields::new(buf);
        while let Some(field) = self.next(&mut fields)? {
            if field.number == 1 {
                let payload = self.payload(&field, at)?;
                self.any_value(payload, depth, msg, holder)?;
            }
        }
        Ok(())
    }

    /// `KeyValueList`: values (1, KeyValue).
    fn kvlist(&mut self, buf: &[u8], depth: usize, msg: Msg, holder: Holder) -> Result<(), Stop> {
        let at = At::Value(msg, holder, ValueMsg::Kvlist);
        let mut entries = 0usize;
        let mut fields = Fields::new(buf);
        while let Some(field) = self.next(&mut fields)? {
            if field.number == 1 {
                let payload = self.payload(&field, at)?;
                entries += 1;
                self.key_value(payload, depth, msg, holder)?;
            }
        }
        if entries > self.max_attributes {
            let max = self.max_attributes;
            return Err(self.exceeded(Limit::KvlistEntries, entries, max, msg.place()));
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "limits_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "invalid_tests/mod.rs"]
mod invalid_tests;
