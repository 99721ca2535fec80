//! OTLP/JSON → protobuf, streaming: the JSON is walked once with serde and the protobuf bytes are
//! written as fields are met, with no intermediate tree and no prost structs.

use base64::Engine;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;

use super::schema::{Field, Kind, Msg};

const WIRE_VARINT: u32 = 0;
const WIRE_I64: u32 = 1;
const WIRE_LEN: u32 = 2;
const WIRE_I32: u32 = 5;

pub(super) fn json_to_proto(msg: &'static Msg, json: &[u8]) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::with_capacity(json.len() / 2);
    let mut de = serde_json::Deserializer::from_slice(json);
    MessageSeed { msg, out: &mut out }.deserialize(&mut de)?;
    de.end()?;
    Ok(out)
}

pub(super) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_tag(out: &mut Vec<u8>, number: u32, wire: u32) {
    put_varint(out, u64::from((number << 3) | wire));
}

fn put_len(out: &mut Vec<u8>, number: u32, payload: &[u8]) {
    put_tag(out, number, WIRE_LEN);
    put_varint(out, payload.len() as u64);
    out.extend_from_slice(payload);
}

/// Writes the fields of one message (no tag or length of its own).
struct MessageSeed<'a> {
    msg: &'static Msg,
    out: &'a mut Vec<u8>,
}

impl<'de> DeserializeSeed<'de> for MessageSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for MessageSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // The oneof member set so far: a second one is an error, as in protojson (prost would keep
        // the last silently, and a metric holding two kinds of data is malformed on the wire).
        let mut member: Option<&'static Field> = None;
        while let Some(field) = map.next_key_seed(KeySeed(self.msg))? {
            match field {
                Some(field) => {
                    let before = self.out.len();
                    map.next_value_seed(ValueSeed {
                        field,
                        out: &mut *self.out,
                        in_array: false,
                    })?;
                    // A member given as null writes nothing and sets nothing.
                    if field.oneof && self.out.len() > before {
                        match member {
                            Some(set) if set.number != field.number => {
                                return Err(de::Error::custom(format_args!(
                                    "fields {} and {} are members of one oneof: at most one may be set",
                                    set.name, field.name
                                )));
                            }
                            _ => member = Some(field),
                        }
                    }
                }
                // Unknown keys are skipped, whatever they hold (OTLP/JSON requires it).
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

struct KeySeed(&'static Msg);

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Option<&'static Field>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Option<&'static Field>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }
    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self.0.by_json_key(key))
    }
}

/// One JSON value of a field: the whole field, or one element of a repeated field's array.
struct ValueSeed<'a> {
    field: &'static Field,
    out: &'a mut Vec<u8>,
    /// Inside an array: packable scalars go into the packed buffer without tags.
    in_array: bool,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl ValueSeed<'_> {
    fn packed(&self) -> bool {
        self.in_array && self.field.kind.packable()
    }

    /// Proto3 leaves default scalars off the wire unless the field tracks presence.
    fn skip_default(&self, is_default: bool) -> bool {
        is_default && !self.field.presence && !self.field.repeated
    }

    fn tag(&mut self, wire: u32) {
        if !self.packed() {
            put_tag(self.out, self.field.number, wire);
        }
    }

    /// A repeated field takes an array, never a bare value.
    fn check_single<E: de::Error>(&self) -> Result<(), E> {
        if self.field.repeated && !self.in_array {
            Err(self.fail("expected an array"))
        } else {
            Ok(())
        }
    }

    fn fail<E: de::Error>(&self, what: impl fmt::Display) -> E {
        E::custom(format_args!("field {}: {what}", self.field.name))
    }

    fn write_int<E: de::Error>(mut self, v: i128) -> Result<(), E> {
        let (min, max): (i128, i128) = match self.field.kind {
            Kind::Int32 | Kind::Sint32 | Kind::Enum(_) => (i32::MIN.into(), i32::MAX.into()),
            Kind::Uint32 | Kind::Fixed32 => (0, u32::MAX.into()),
            Kind::Int64 | Kind::Sfixed64 => (i64::MIN.into(), i64::MAX.into()),
            Kind::Uint64 | Kind::Fixed64 => (0, u64::MAX.into()),
            Kind::Double => return self.write_double(v as f64),
            _ => return Err(self.fail(format_args!("unexpected number {v}"))),
        };
        if v < min || v > max {
            return Err(self.fail(format_args!("{v} is out of range")));
        }
        if self.skip_default(v == 0) {
            return Ok(());
        }
        match self.field.kind {
            Kind::Sint32 => {
                let n = v as i32;
                self.tag(WIRE_VARINT);
                put_varint(self.out, u64::from(((n << 1) ^ (n >> 31)) as u32));
            }
            Kind::Fixed32 => {
                self.tag(WIRE_I32);
                self.out.extend_from_slice(&(v as u32).to_le_bytes());
            }
            Kind::Fixed64 | Kind::Sfixed64 => {
                self.tag(WIRE_I64);
                self.out.extend_from_slice(&(v as u64).to_le_bytes());
            }
            // Negative int32/int64/enum values are sign-extended to ten bytes, as protobuf does.
            _ => {
                self.tag(WIRE_VARINT);
                put_varint(self.out, v as i64 as u64);
            }
        }
        Ok(())
    }

    fn write_double<E: de::Error>(mut self, v: f64) -> Result<(), E> {
        if self.skip_default(v.to_bits() == 0) {
            return Ok(());
        }
        self.tag(WIRE_I64);
        self.out.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }

    fn write_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<(), E> {
        if !self.skip_default(bytes.is_empty()) {
            put_len(self.out, self.field.number, bytes);
        }
        Ok(())
    }
}

fn parse_base64(s: &str) -> Result<Vec<u8>, base64::DecodeError> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    // protojson accepts the URL-safe alphabet too.
    if s.contains(['-', '_']) {
        LENIENT.decode(s.replace('-', "+").replace('_', "/"))
    } else {
        LENIENT.decode(s)
    }
}

fn parse_double(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::NAN),
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a value for field {}", self.field.name)
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_bool<E: de::Error>(mut self, v: bool) -> Result<(), E> {
        self.check_single()?;
        if !matches!(self.field.kind, Kind::Bool) {
            return Err(self.fail(format_args!("unexpected boolean {v}")));
        }
        if !self.skip_default(!v) {
            self.tag(WIRE_VARINT);
            self.out.push(u8::from(v));
        }
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.check_single()?;
        self.write_int(v.into())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.check_single()?;
        self.write_int(v.into())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.check_single()?;
        match self.field.kind {
            Kind::Double => self.write_double(v),
            // protojson takes integral numbers written with a fraction or exponent (1.0, 1e3).
            _ if v.is_finite() && v.fract() == 0.0 && v.abs() < 1.9e19 => self.write_int(v as i128),
            _ => Err(self.fail(format_args!("{v} is not an integer"))),
        }
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<(), E> {
        self.check_single()?;
        match self.field.kind {
            Kind::Str => self.write_bytes(s.as_bytes()),
            Kind::Bytes => {
                let bytes =
                    parse_base64(s).map_err(|e| self.fail(format_args!("invalid base64: {e}")))?;
                self.write_bytes(&bytes)
            }
            Kind::HexBytes => {
                let bytes = hex::decode(s)
                    .map_err(|e| self.fail(format_args!("invalid hex id {s:?}: {e}")))?;
                let want = if self.field.name == "trace_id" { 16 } else { 8 };
                if !bytes.is_empty() && bytes.len() != want {
                    return Err(self.fail(format_args!("id {s:?} must be {} hex digits", want * 2)));
                }
                self.write_bytes(&bytes)
            }
            Kind::Double => match parse_double(s) {
                Some(v) => self.write_double(v),
                None => Err(self.fail(format_args!("invalid number {s:?}"))),
            },
            Kind::Enum(names) => match names.iter().find(|(name, _)| *name == s) {
                Some((_, v)) => self.write_int((*v).into()),
                None => match s.parse::<i128>() {
                    Ok(v) => self.write_int(v),
                    Err(_) => Err(self.fail(format_args!("unknown enum value {s:?}"))),
                },
            },
            Kind::Bool | Kind::Message(_) => {
                Err(self.fail(format_args!("unexpected string {s:?}")))
            }
            // 64-bit integers travel as strings; protojson takes strings for 32-bit ones too.
            _ => match s.parse::<i128>() {
                Ok(v) => self.write_int(v),
                Err(_) => Err(self.fail(format_args!("invalid integer {s:?}"))),
            },
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        self.check_single()?;
        let Kind::Message(msg) = self.field.kind else {
            return Err(self.fail("unexpected object"));
        };
        let mut nested = Vec::new();
        MessageSeed {
            msg,
            out: &mut nested,
        }
        .visit_map(map)?;
        // A message that is present is written even when empty: presence is its meaning.
        put_len(self.out, self.field.number, &nested);
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if !self.field.repeated || self.in_array {
            return Err(self.fail("unexpected array"));
        }
        let field = self.field;
        if field.kind.packable() {
            let mut packed = Vec::new();
            while seq
                .next_element_seed(ValueSeed {
                    field,
                    out: &mut packed,
                    in_array: true,
                })?
                .is_some()
            {}
            if !packed.is_empty() {
                put_len(self.out, field.number, &packed);
            }
        } else {
            while seq
                .next_element_seed(ValueSeed {
                    field,
                    out: &mut *self.out,
                    in_array: true,
                })?
                .is_some()
            {}
        }
        Ok(())
    }
}
