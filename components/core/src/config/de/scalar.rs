//! How a plain scalar is typed: the YAML 1.2 core schema, with the YAML 1.1 leftovers that Go's
//! yaml.v3 (and so otelcol) still honours, such as `0123` being octal.

/// What a plain scalar means when nothing asks for a particular type.
#[derive(Debug, PartialEq)]
pub enum Typed {
    Bool(bool),
    Int(i128),
    Float(f64),
    Str,
}

pub fn resolve(text: &str) -> Typed {
    if let Some(b) = parse_bool(text) {
        Typed::Bool(b)
    } else if let Some(i) = parse_int(text) {
        Typed::Int(i)
    } else if let Some(f) = parse_float(text) {
        Typed::Float(f)
    } else {
        Typed::Str
    }
}

pub fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// Decimal, `0x` hex, `0o` or leading-zero octal, `0b` binary, with an optional sign.
pub fn parse_int(text: &str) -> Option<i128> {
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (radix, body) = if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        (16, hex)
    } else if let Some(oct) = digits
        .strip_prefix("0o")
        .or_else(|| digits.strip_prefix("0O"))
    {
        (8, oct)
    } else if let Some(bin) = digits
        .strip_prefix("0b")
        .or_else(|| digits.strip_prefix("0B"))
    {
        (2, bin)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..])
    } else {
        (10, digits)
    };
    if body.is_empty() || !body.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let value = i128::from_str_radix(body, radix).ok()?;
    Some(if negative { -value } else { value })
}

/// `1.5`, `-2e3`, `.5`, `.inf`, `-.Inf`, `.nan`; also plain integers.
pub fn parse_float(text: &str) -> Option<f64> {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    match unsigned {
        ".inf" | ".Inf" | ".INF" => {
            return Some(if text.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            });
        }
        ".nan" | ".NaN" | ".NAN" if unsigned == text => return Some(f64::NAN),
        _ => {}
    }
    if let Some(i) = parse_int(text) {
        return Some(i as f64);
    }
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => (&unsigned[..at], Some(&unsigned[at + 1..])),
        None => (unsigned, None),
    };
    let mantissa_ok = mantissa.chars().filter(|c| *c == '.').count() <= 1
        && mantissa.chars().any(|c| c.is_ascii_digit())
        && mantissa.chars().all(|c| c.is_ascii_digit() || c == '.');
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && e.chars().all(|c| c.is_ascii_digit())
    });
    if !(mantissa_ok && exponent_ok) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_plain_scalars_like_yaml_v3() {
        assert_eq!(resolve("true"), Typed::Bool(true));
        assert_eq!(resolve("FALSE"), Typed::Bool(false));
        assert_eq!(resolve("yes"), Typed::Str);
        assert_eq!(resolve("123"), Typed::Int(123));
        assert_eq!(resolve("-7"), Typed::Int(-7));
        assert_eq!(resolve("0123"), Typed::Int(83));
        assert_eq!(resolve("0o17"), Typed::Int(15));
        assert_eq!(resolve("0xdeadbeef"), Typed::Int(3_735_928_559));
        assert_eq!(resolve("0b101"), Typed::Int(5));
        assert_eq!(resolve("0128"), Typed::Float(128.0));
        assert_eq!(resolve("0"), Typed::Int(0));
        assert_eq!(resolve("1.5"), Typed::Float(1.5));
        assert_eq!(resolve(".5"), Typed::Float(0.5));
        assert_eq!(resolve("1e3"), Typed::Float(1000.0));
        assert_eq!(resolve("-.inf"), Typed::Float(f64::NEG_INFINITY));
        assert!(matches!(resolve(".nan"), Typed::Float(f) if f.is_nan()));
        for text in [
            "inf",
            "NaN",
            "infinity",
            "1.2.3",
            "5s",
            "localhost:4317",
            "1_000",
            "0x",
            "e5",
            "1e",
        ] {
            assert_eq!(resolve(text), Typed::Str, "{text}");
        }
    }
}
