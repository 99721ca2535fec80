//! Protobuf → OTLP/JSON, straight from the wire bytes: lowerCamelCase keys, hex ids, 64-bit
//! integers as decimal strings, enums as integers, defaults and unknown fields left out.

use base64::Engine;

use super::schema::{Field, Kind, Msg, push_camel};
use crate::wire::WireError;

/// prost's limit; deeper nesting (AnyValue inside AnyValue…) is refused rather than overflowing the stack.
const MAX_DEPTH: usize = 100;

pub(super) fn proto_to_json(msg: &'static Msg, bytes: &[u8]) -> Result<Vec<u8>, WireError> {
    let mut out = Vec::with_capacity(bytes.len() * 2 + 2);
    write_message(msg, bytes, &mut out, 0)?;
    Ok(out)
}

#[derive(Clone, Copy)]
enum Wire<'a> {
    Varint(u64),
    Fixed64(u64),
    Fixed32(u32),
    Len(&'a [u8]),
}

fn read_varint(buf: &[u8], pos: &mut usize) -> Result<u64, WireError> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *buf.get(*pos).ok_or(WireError("truncated varint"))?;
        *pos += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(WireError("varint longer than 10 bytes"))
}

fn take<'a>(buf: &'a [u8], pos: &mut usize, n: usize) -> Result<&'a [u8], WireError> {
    let end = pos
        .checked_add(n)
        .filter(|end| *end <= buf.len())
        .ok_or(WireError("field runs past the end"))?;
    let slice = &buf[*pos..end];
    *pos = end;
    Ok(slice)
}

fn read_fields(buf: &[u8]) -> Result<Vec<(u32, Wire<'_>)>, WireError> {
    let mut fields = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        let tag = read_varint(buf, &mut pos)?;
        let number = u32::try_from(tag >> 3).map_err(|_| WireError("field number out of range"))?;
        if number == 0 {
            return Err(WireError("field number 0"));
        }
        let value = match tag & 7 {
            0 => Wire::Varint(read_varint(buf, &mut pos)?),
            1 => Wire::Fixed64(u64::from_le_bytes(
                take(buf, &mut pos, 8)?.try_into().expect("8 bytes"),
            )),
            5 => Wire::Fixed32(u32::from_le_bytes(
                take(buf, &mut pos, 4)?.try_into().expect("4 bytes"),
            )),
            2 => {
                let len = usize::try_from(read_varint(buf, &mut pos)?)
                    .map_err(|_| WireError("length overflow"))?;
                Wire::Len(take(buf, &mut pos, len)?)
            }
            _ => return Err(WireError("unsupported wire type")),
        };
        fields.push((number, value));
    }
    Ok(fields)
}

fn write_message(
    msg: &'static Msg,
    bytes: &[u8],
    out: &mut Vec<u8>,
    depth: usize,
) -> Result<(), WireError> {
    if depth > MAX_DEPTH {
        return Err(WireError("message nesting too deep"));
    }
    let wire = read_fields(bytes)?;
    let oneof = OneofWinner::find(msg, &wire);
    out.push(b'{');
    let mut first = true;
    for field in msg.fields {
        if field.oneof && oneof.number != Some(field.number) {
            continue;
        }
        let mut occurrences = wire
            .iter()
            .enumerate()
            .filter(|(i, (n, _))| *n == field.number && (!field.oneof || *i >= oneof.from))
            .map(|(_, (_, v))| *v)
            .peekable();
        if occurrences.peek().is_none() {
            continue;
        }
        let start = out.len();
        if !first {
            out.push(b',');
        }
        out.push(b'"');
        push_camel(out, field.name);
        out.extend_from_slice(b"\":");
        let written = if field.repeated {
            write_repeated(field, occurrences, out, depth)?;
            true
        } else {
            write_singular(field, occurrences, out, depth)?
        };
        if written {
            first = false;
        } else {
            out.truncate(start);
        }
    }
    out.push(b'}');
    Ok(())
}

/// The oneof member a decoder ends up with: the last one on the wire, made only of the
/// occurrences after any other member's (prost replaces a member by another, and merges repeats
/// of the same one).
struct OneofWinner {
    number: Option<u32>,
    /// Occurrences before this index belong to members that were replaced.
    from: usize,
}

impl OneofWinner {
    fn find(msg: &Msg, wire: &[(u32, Wire<'_>)]) -> OneofWinner {
        let is_member = |number: u32| msg.fields.iter().any(|f| f.oneof && f.number == number);
        let mut winner = OneofWinner {
            number: None,
            from: 0,
        };
        for (i, (number, _)) in wire.iter().enumerate() {
            if !is_member(*number) {
                continue;
            }
            if winner.number.is_some_and(|n| n != *number) {
                winner.from = i;
            }
            winner.number = Some(*number);
        }
        winner
    }
}

fn write_repeated<'a>(
    field: &'static Field,
    occurrences: impl Iterator<Item = Wire<'a>>,
    out: &mut Vec<u8>,
    depth: usize,
) -> Result<(), WireError> {
    out.push(b'[');
    let mut first = true;
    let mut element = |value: Wire<'_>, out: &mut Vec<u8>| -> Result<(), WireError> {
        if !first {
            out.push(b',');
        }
        first = false;
        write_value(field, value, out, depth)
    };
    for value in occurrences {
        match value {
            Wire::Len(packed) if field.kind.packable() => {
                let mut pos = 0;
                while pos < packed.len() {
                    let value = match field.kind {
                        Kind::Fixed64 | Kind::Sfixed64 | Kind::Double => {
                            Wire::Fixed64(u64::from_le_bytes(
                                take(packed, &mut pos, 8)?.try_into().expect("8 bytes"),
                            ))
                        }
                        Kind::Fixed32 => Wire::Fixed32(u32::from_le_bytes(
                            take(packed, &mut pos, 4)?.try_into().expect("4 bytes"),
                        )),
                        _ => Wire::Varint(read_varint(packed, &mut pos)?),
                    };
                    element(value, out)?;
                }
            }
            value => element(value, out)?,
        }
    }
    out.push(b']');
    Ok(())
}

/// The last occurrence wins for scalars; occurrences of a message merge (protobuf semantics).
/// Returns false when the value is a default that proto3 JSON leaves out.
fn write_singular<'a>(
    field: &'static Field,
    occurrences: impl Iterator<Item = Wire<'a>>,
    out: &mut Vec<u8>,
    depth: usize,
) -> Result<bool, WireError> {
    if let Kind::Message(_) = field.kind {
        let parts: Vec<&[u8]> = occurrences
            .map(|v| match v {
                Wire::Len(b) => Ok(b),
                _ => Err(WireError("wrong wire type for a message field")),
            })
            .collect::<Result<_, _>>()?;
        let merged = if parts.len() == 1 {
            std::borrow::Cow::Borrowed(parts[0])
        } else {
            parts.concat().into()
        };
        write_value(field, Wire::Len(&merged), out, depth)?;
        return Ok(true);
    }
    let last = occurrences.last().expect("at least one occurrence");
    let is_default = match last {
        Wire::Varint(v) | Wire::Fixed64(v) => v == 0,
        Wire::Fixed32(v) => v == 0,
        Wire::Len(b) => b.is_empty(),
    };
    if is_default && !field.presence {
        return Ok(false);
    }
    write_value(field, last, out, depth)?;
    Ok(true)
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    serde_json::to_writer(&mut *out, s).expect("writing to a Vec cannot fail");
}

fn write_quoted(out: &mut Vec<u8>, value: impl std::fmt::Display) {
    use std::io::Write;
    write!(out, "\"{value}\"").expect("writing to a Vec cannot fail");
}

fn write_number(out: &mut Vec<u8>, value: impl std::fmt::Display) {
    use std::io::Write;
    write!(out, "{value}").expect("writing to a Vec cannot fail");
}

fn write_value(
    field: &'static Field,
    value: Wire<'_>,
    out: &mut Vec<u8>,
    depth: usize,
) -> Result<(), WireError> {
    let wrong = || WireError("wrong wire type for the field");
    match (field.kind, value) {
        (Kind::Message(msg), Wire::Len(b)) => write_message(msg, b, out, depth + 1)?,
        (Kind::Str, Wire::Len(b)) => write_str(out, &String::from_utf8_lossy(b)),
        (Kind::Bytes, Wire::Len(b)) => {
            write_quoted(out, base64::engine::general_purpose::STANDARD.encode(b))
        }
        (Kind::HexBytes, Wire::Len(b)) => write_quoted(out, hex::encode(b)),
        (Kind::Bool, Wire::Varint(v)) => {
            out.extend_from_slice(if v != 0 { b"true" } else { b"false" })
        }
        (Kind::Int32 | Kind::Enum(_), Wire::Varint(v)) => write_number(out, v as i32),
        (Kind::Uint32, Wire::Varint(v)) => write_number(out, v as u32),
        (Kind::Sint32, Wire::Varint(v)) => {
            let n = v as u32;
            write_number(out, ((n >> 1) as i32) ^ -((n & 1) as i32))
        }
        (Kind::Fixed32, Wire::Fixed32(v)) => write_number(out, v),
        (Kind::Int64, Wire::Varint(v)) => write_quoted(out, v as i64),
        (Kind::Uint64, Wire::Varint(v)) => write_quoted(out, v),
        (Kind::Fixed64, Wire::Fixed64(v)) => write_quoted(out, v),
        (Kind::Sfixed64, Wire::Fixed64(v)) => write_quoted(out, v as i64),
        (Kind::Double, Wire::Fixed64(bits)) => {
            let v = f64::from_bits(bits);
            if v.is_nan() {
                out.extend_from_slice(b"\"NaN\"");
            } else if v.is_infinite() {
                out.extend_from_slice(if v > 0.0 {
                    b"\"Infinity\""
                } else {
                    b"\"-Infinity\""
                });
            } else {
                serde_json::to_writer(&mut *out, &v).expect("writing to a Vec cannot fail");
            }
        }
        _ => return Err(wrong()),
    }
    Ok(())
}
