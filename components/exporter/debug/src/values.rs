//! Values printed the way otelcol's pdata and Go's fmt print them, so the text matches what
//! otelcol users know: `Str(x)`, `Int(1)`, maps as JSON with sorted keys, bytes as base64, ids as
//! hex (empty when all zero), timestamps as Go's `time.Time.String()` in UTC, floats as `%v`/`%f`.

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use std::fmt::Write;

/// pdata's `ValueType.String()`.
pub fn type_name(value: Option<&AnyValue>) -> &'static str {
    match value.and_then(|v| v.value.as_ref()) {
        None => "Empty",
        Some(Value::StringValue(_)) => "Str",
        Some(Value::BoolValue(_)) => "Bool",
        Some(Value::IntValue(_)) => "Int",
        Some(Value::DoubleValue(_)) => "Double",
        Some(Value::ArrayValue(_)) => "Slice",
        Some(Value::KvlistValue(_)) => "Map",
        Some(Value::BytesValue(_)) => "Bytes",
        // An index into a profile's string table, which a plain batch does not carry.
        Some(Value::StringValueStrindex(_)) => "StrIndex",
    }
}

/// pdata's `Value.AsString()`.
pub fn as_string(value: Option<&AnyValue>) -> String {
    match value.and_then(|v| v.value.as_ref()) {
        None => String::new(),
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::BoolValue(b)) => b.to_string(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::DoubleValue(d)) => es6_float(*d),
        Some(Value::BytesValue(b)) => base64(b),
        Some(Value::StringValueStrindex(i)) => i.to_string(),
        Some(value @ (Value::ArrayValue(_) | Value::KvlistValue(_))) => {
            let mut out = String::new();
            write_json(&mut out, Some(value));
            out
        }
    }
}

/// `Type(AsString)`, as otelcol's detailed output shows every attribute and body.
pub fn typed(value: Option<&AnyValue>) -> String {
    format!("{}({})", type_name(value), as_string(value))
}

/// `key=value` pairs, as otelcol's normal output shows attributes.
pub fn key_values(attributes: &[KeyValue]) -> Vec<String> {
    attributes
        .iter()
        .map(|kv| format!("{}={}", kv.key, as_string(kv.value.as_ref())))
        .collect()
}

/// Go's `encoding/json` of a value's raw form: map keys sorted, HTML characters escaped.
fn write_json(out: &mut String, value: Option<&Value>) {
    match value {
        None => out.push_str("null"),
        Some(Value::StringValue(s)) => write_json_string(out, s),
        Some(Value::BoolValue(b)) => out.push_str(if *b { "true" } else { "false" }),
        Some(Value::IntValue(i)) => out.push_str(&i.to_string()),
        Some(Value::DoubleValue(d)) => out.push_str(&es6_float(*d)),
        Some(Value::BytesValue(b)) => write_json_string(out, &base64(b)),
        Some(Value::StringValueStrindex(i)) => out.push_str(&i.to_string()),
        Some(Value::ArrayValue(array)) => {
            out.push('[');
            for (i, item) in array.values.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, item.value.as_ref());
            }
            out.push(']');
        }
        Some(Value::KvlistValue(list)) => {
            // A Go map keeps the last value of a repeated key and encodes keys in sorted order.
            let mut entries: std::collections::BTreeMap<&str, Option<&Value>> =
                std::collections::BTreeMap::new();
            for kv in &list.values {
                entries.insert(&kv.key, kv.value.as_ref().and_then(|v| v.value.as_ref()));
            }
            out.push('{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(out, key);
                out.push(':');
                write_json(out, value);
            }
            out.push('}');
        }
    }
}

fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Standard base64 with padding, as Go encodes `[]byte`.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A trace or span id in lowercase hex; empty when all zero, as pdata prints it.
pub fn hex_id(id: &[u8]) -> String {
    if id.iter().all(|b| *b == 0) {
        return String::new();
    }
    id.iter()
        .fold(String::with_capacity(id.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

/// Go's `time.Time.String()` of a Unix-nanosecond timestamp, in UTC:
/// `2020-02-11 20:26:13.000000789 +0000 UTC` (fraction trimmed of trailing zeros, or omitted).
pub fn timestamp(unix_nanos: u64) -> String {
    let secs = (unix_nanos / 1_000_000_000) as i64;
    let nanos = unix_nanos % 1_000_000_000;
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let of_day = secs.rem_euclid(86_400);
    let mut out = format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    );
    if nanos > 0 {
        let fraction = format!("{nanos:09}");
        out.push('.');
        out.push_str(fraction.trim_end_matches('0'));
    }
    out.push_str(" +0000 UTC");
    out
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Go's `%v` of a float64 (`%g`, shortest digits): exponent form below 1e-4 or from 1e6.
pub fn go_v(f: f64) -> String {
    if let Some(special) = non_finite(f) {
        return special.into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let scientific = format!("{f:e}");
    let (mantissa, exp) = scientific
        .split_once('e')
        .expect("{:e} always has an exponent");
    let exp: i32 = exp.parse().expect("{:e} writes a decimal exponent");
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        format!("{f}")
    }
}

/// Go's `%f`: six decimals.
pub fn go_f(f: f64) -> String {
    non_finite(f).map_or_else(|| format!("{f:.6}"), str::to_owned)
}

fn non_finite(f: f64) -> Option<&'static str> {
    if f.is_nan() {
        Some("NaN")
    } else if f.is_infinite() {
        Some(if f > 0.0 { "+Inf" } else { "-Inf" })
    } else {
        None
    }
}

/// pdata's double-to-string (ECMAScript style): plain decimal, exponent below 1e-6 or from 1e21.
pub fn es6_float(f: f64) -> String {
    if f.is_nan() || f.is_infinite() {
        return format!(
            "json: unsupported value: {}",
            non_finite(f).unwrap_or_default().trim_start_matches('+')
        );
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let scientific = format!("{f:e}");
        let (mantissa, exp) = scientific
            .split_once('e')
            .expect("{:e} always has an exponent");
        if exp.starts_with('-') {
            format!("{mantissa}e{exp}")
        } else {
            format!("{mantissa}e+{exp}")
        }
    } else {
        format!("{f}")
    }
}

pub fn span_kind(kind: i32) -> &'static str {
    [
        "Unspecified",
        "Internal",
        "Server",
        "Client",
        "Producer",
        "Consumer",
    ]
    .get(kind as usize)
    .copied()
    .unwrap_or("")
}

pub fn status_code(code: i32) -> &'static str {
    ["Unset", "Ok", "Error"]
        .get(code as usize)
        .copied()
        .unwrap_or("")
}

pub fn temporality(value: i32) -> &'static str {
    ["Unspecified", "Delta", "Cumulative"]
        .get(value as usize)
        .copied()
        .unwrap_or("")
}

pub fn severity(number: i32) -> String {
    const LEVELS: [&str; 6] = ["Trace", "Debug", "Info", "Warn", "Error", "Fatal"];
    match number {
        0 => "Unspecified".into(),
        1..=24 => {
            let (level, step) = (LEVELS[(number as usize - 1) / 4], (number - 1) % 4 + 1);
            if step == 1 {
                level.into()
            } else {
                format!("{level}{step}")
            }
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};

    fn v(value: Value) -> AnyValue {
        AnyValue { value: Some(value) }
    }

    fn kv(key: &str, value: Value) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(v(value)),
            ..Default::default()
        }
    }

    #[test]
    fn values_print_as_pdata_prints_them() {
        assert_eq!(typed(Some(&v(Value::StringValue("x".into())))), "Str(x)");
        assert_eq!(typed(Some(&v(Value::IntValue(-7)))), "Int(-7)");
        assert_eq!(typed(Some(&v(Value::DoubleValue(1.5)))), "Double(1.5)");
        assert_eq!(typed(Some(&v(Value::BoolValue(true)))), "Bool(true)");
        assert_eq!(
            typed(Some(&v(Value::BytesValue(b"hi!?".to_vec())))),
            "Bytes(aGkhPw==)"
        );
        assert_eq!(typed(None), "Empty()");
        assert_eq!(typed(Some(&AnyValue { value: None })), "Empty()");
        let map = Value::KvlistValue(KeyValueList {
            values: vec![
                kv(
                    "b",
                    Value::ArrayValue(ArrayValue {
                        values: vec![v(Value::IntValue(1)), AnyValue::default()],
                    }),
                ),
                kv("a", Value::StringValue("<q\"\n>".into())),
                kv("c", Value::DoubleValue(2.0)),
            ],
        });
        assert_eq!(
            typed(Some(&v(map))),
            r#"Map({"a":"\u003cq\"\n\u003e","b":[1,null],"c":2})"#
        );
    }

    #[test]
    fn floats_print_as_go_prints_them() {
        assert_eq!(go_v(1.23), "1.23");
        assert_eq!(go_v(100.0), "100");
        assert_eq!(go_v(1e21), "1e+21");
        assert_eq!(go_v(1e6), "1e+06");
        assert_eq!(go_v(123456.0), "123456");
        assert_eq!(go_v(1234567.0), "1.234567e+06");
        assert_eq!(go_v(0.00001), "1e-05");
        assert_eq!(go_v(0.0001), "0.0001");
        assert_eq!(go_v(f64::INFINITY), "+Inf");
        assert_eq!(go_f(1.23), "1.230000");
        assert_eq!(es6_float(1e-7), "1e-7");
        assert_eq!(es6_float(1.5e21), "1.5e+21");
        assert_eq!(es6_float(1e20), "100000000000000000000");
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
    }

    #[test]
    fn times_ids_and_names() {
        assert_eq!(timestamp(0), "1970-01-01 00:00:00 +0000 UTC");
        assert_eq!(
            timestamp(1_581_452_773_000_000_789),
            "2020-02-11 20:26:13.000000789 +0000 UTC"
        );
        assert_eq!(
            timestamp(951_782_400_500_000_000),
            "2000-02-29 00:00:00.5 +0000 UTC"
        );
        assert_eq!(hex_id(&[0; 16]), "");
        assert_eq!(hex_id(&[1, 2, 0xab]), "0102ab");
        assert_eq!(severity(9), "Info");
        assert_eq!(severity(10), "Info2");
        assert_eq!(severity(24), "Fatal4");
        assert_eq!(span_kind(2), "Server");
        assert_eq!(status_code(2), "Error");
    }
}
