//! Durations as otelcol writes them: Go's `time.ParseDuration` syntax ("5s", "200ms", "1h30m",
//! "1.5s", "300µs"), or a bare integer meaning nanoseconds, as mapstructure decodes `time.Duration`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, PartialOrd, Ord, Hash)]
pub struct GoDuration(pub std::time::Duration);

impl GoDuration {
    pub const ZERO: GoDuration = GoDuration(Duration::ZERO);

    pub const fn from_secs(secs: u64) -> Self {
        GoDuration(Duration::from_secs(secs))
    }

    pub const fn from_millis(millis: u64) -> Self {
        GoDuration(Duration::from_millis(millis))
    }

    pub const fn as_duration(self) -> Duration {
        self.0
    }

    pub const fn is_zero(self) -> bool {
        self.0.is_zero()
    }
}

impl From<Duration> for GoDuration {
    fn from(d: Duration) -> Self {
        GoDuration(d)
    }
}

impl From<GoDuration> for Duration {
    fn from(d: GoDuration) -> Self {
        d.0
    }
}

impl std::ops::Deref for GoDuration {
    type Target = Duration;
    fn deref(&self) -> &Duration {
        &self.0
    }
}

const UNITS: [(&str, u128); 9] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000), // U+00B5 micro sign
    ("μs", 1_000), // U+03BC Greek mu
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
    ("d", 0), // not a Go unit: listed so the error can say so plainly
];

/// Go's largest duration, in nanoseconds.
const MAX_NANOS: u128 = i64::MAX as u128;

/// Parses Go duration syntax. Negative durations (allowed by Go) are refused: nothing in a config
/// means a negative wait. The error is a short reason, without the input.
pub fn parse_go_duration(input: &str) -> Result<Duration, String> {
    let (negative, mut rest) = match input.as_bytes().first() {
        Some(b'-') => (true, &input[1..]),
        Some(b'+') => (false, &input[1..]),
        _ => (false, input),
    };
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err("invalid duration".into());
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (int_part, after) = rest.split_at(int_len);
        let (frac_part, after) = match after.strip_prefix('.') {
            Some(after) => {
                let frac_len = after.bytes().take_while(u8::is_ascii_digit).count();
                after.split_at(frac_len)
            }
            None => ("", after),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err("invalid duration".into());
        }
        let unit_len = after
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(after.len());
        if unit_len == 0 {
            return Err("missing unit".into());
        }
        let (unit, after) = after.split_at(unit_len);
        let scale = match UNITS.iter().find(|(name, _)| *name == unit) {
            Some((_, scale)) if *scale > 0 => *scale,
            _ => {
                return Err(format!(
                    "unknown unit {unit:?} (valid units: ns, us, µs, ms, s, m, h)"
                ));
            }
        };
        let whole: u128 = if int_part.is_empty() {
            0
        } else {
            int_part
                .parse()
                .map_err(|_| "duration out of range".to_owned())?
        };
        // Digits past the 18th cannot change a nanosecond count.
        let frac_digits = &frac_part[..frac_part.len().min(18)];
        let frac = if frac_digits.is_empty() {
            0
        } else {
            frac_digits.parse::<u128>().unwrap_or(0)
        };
        let frac_nanos = frac * scale / 10u128.pow(frac_digits.len() as u32);
        total = whole
            .checked_mul(scale)
            .and_then(|n| n.checked_add(frac_nanos))
            .and_then(|n| n.checked_add(total))
            .filter(|n| *n <= MAX_NANOS)
            .ok_or_else(|| "duration out of range".to_owned())?;
        rest = after;
    }
    if negative && total > 0 {
        return Err("negative durations are not supported".into());
    }
    Ok(Duration::from_nanos(total as u64))
}

impl FromStr for GoDuration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        parse_go_duration(s).map(GoDuration)
    }
}

/// `value` with `precision` decimal places, trailing zeros (and a bare point) dropped: 1500, 3 → "1.5".
fn decimal(value: u128, precision: u32) -> String {
    let divisor = 10u128.pow(precision);
    let (whole, frac) = (value / divisor, value % divisor);
    if frac == 0 {
        return whole.to_string();
    }
    let digits = format!("{frac:0width$}", width = precision as usize);
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// Go's `Duration.String()`: "0s", "350ms", "1.5µs", "1m30s", "2h0m0s".
impl fmt::Display for GoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.0.as_nanos();
        if nanos == 0 {
            return f.write_str("0s");
        }
        if nanos < 1_000 {
            return write!(f, "{nanos}ns");
        }
        if nanos < 1_000_000 {
            return write!(f, "{}µs", decimal(nanos, 3));
        }
        if nanos < 1_000_000_000 {
            return write!(f, "{}ms", decimal(nanos, 6));
        }
        let hours = nanos / 3_600_000_000_000;
        let minutes = nanos / 60_000_000_000 % 60;
        let seconds = decimal(nanos % 60_000_000_000, 9);
        if hours > 0 {
            write!(f, "{hours}h{minutes}m{seconds}s")
        } else if minutes > 0 {
            write!(f, "{minutes}m{seconds}s")
        } else {
            write!(f, "{seconds}s")
        }
    }
}

impl serde::Serialize for GoDuration {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

const EXPECTED: &str = "a duration such as \"5s\"";

struct DurationVisitor;

impl serde::de::Visitor<'_> for DurationVisitor {
    type Value = GoDuration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(EXPECTED)
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<GoDuration, E> {
        parse_go_duration(v)
            .map(GoDuration)
            .map_err(|reason| E::custom(format!("expected {EXPECTED}, got {v:?} ({reason})")))
    }

    /// A bare integer is nanoseconds, as mapstructure turns an int into a `time.Duration`.
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<GoDuration, E> {
        if u128::from(v) > MAX_NANOS {
            return Err(E::custom(format!(
                "expected {EXPECTED}, got {v} (duration out of range)"
            )));
        }
        Ok(GoDuration(Duration::from_nanos(v)))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<GoDuration, E> {
        u64::try_from(v)
            .map_err(|_| {
                E::custom(format!(
                    "expected {EXPECTED}, got {v} (negative durations are not supported)"
                ))
            })
            .and_then(|v| self.visit_u64(v))
    }

    /// An empty value is Go's zero duration.
    fn visit_unit<E: serde::de::Error>(self) -> Result<GoDuration, E> {
        Ok(GoDuration::ZERO)
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<GoDuration, E> {
        Ok(GoDuration::ZERO)
    }
}

impl<'de> serde::Deserialize<'de> for GoDuration {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DurationVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn parses_go_syntax() {
        let cases: &[(&str, Duration)] = &[
            ("0", Duration::ZERO),
            ("-0", Duration::ZERO),
            ("+5s", Duration::from_secs(5)),
            ("5s", Duration::from_secs(5)),
            ("200ms", ms(200)),
            ("1.5s", ms(1500)),
            (".5s", ms(500)),
            ("1.s", Duration::from_secs(1)),
            ("1h30m", Duration::from_secs(5400)),
            ("1m30s", Duration::from_secs(90)),
            (
                "2h45m10.5s",
                Duration::from_millis((2 * 3600 + 45 * 60 + 10) * 1000 + 500),
            ),
            ("300us", Duration::from_micros(300)),
            ("300µs", Duration::from_micros(300)),
            ("300μs", Duration::from_micros(300)),
            ("7ns", Duration::from_nanos(7)),
            ("1.000000001s", Duration::from_nanos(1_000_000_001)),
            ("0.1234567891234s", Duration::from_nanos(123_456_789)),
            ("1s500ms", ms(1500)),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_go_duration(text), Ok(*expected), "{text}");
        }
    }

    #[test]
    fn rejects_what_go_rejects() {
        assert_eq!(parse_go_duration("10").unwrap_err(), "missing unit");
        assert_eq!(parse_go_duration("").unwrap_err(), "invalid duration");
        assert_eq!(parse_go_duration("-").unwrap_err(), "invalid duration");
        assert_eq!(parse_go_duration(".s").unwrap_err(), "invalid duration");
        assert_eq!(parse_go_duration("abc").unwrap_err(), "invalid duration");
        assert!(
            parse_go_duration("5x")
                .unwrap_err()
                .starts_with("unknown unit \"x\"")
        );
        assert!(
            parse_go_duration("1d")
                .unwrap_err()
                .starts_with("unknown unit \"d\"")
        );
        assert!(
            parse_go_duration("5 s")
                .unwrap_err()
                .starts_with("unknown unit \" s\"")
        );
        assert_eq!(
            parse_go_duration("-5s").unwrap_err(),
            "negative durations are not supported"
        );
        assert_eq!(
            parse_go_duration("9999999999h").unwrap_err(),
            "duration out of range"
        );
    }

    #[test]
    fn displays_like_go() {
        let cases: &[(Duration, &str)] = &[
            (Duration::ZERO, "0s"),
            (Duration::from_nanos(7), "7ns"),
            (Duration::from_nanos(1_500), "1.5µs"),
            (ms(200), "200ms"),
            (Duration::from_micros(1_500), "1.5ms"),
            (ms(1500), "1.5s"),
            (Duration::from_secs(90), "1m30s"),
            (Duration::from_secs(3600), "1h0m0s"),
            (Duration::from_millis(5_400_250), "1h30m0.25s"),
        ];
        for (duration, text) in cases {
            let shown = GoDuration(*duration).to_string();
            assert_eq!(shown, *text);
            assert_eq!(
                parse_go_duration(&shown),
                Ok(*duration),
                "round trip of {shown}"
            );
        }
    }

    #[test]
    fn serde_accepts_strings_and_bare_nanoseconds() {
        let d: GoDuration = serde_json::from_str("\"1m\"").unwrap();
        assert_eq!(d, GoDuration::from_secs(60));
        let d: GoDuration = serde_json::from_str("1500").unwrap();
        assert_eq!(d.0, Duration::from_nanos(1500));
        let d: GoDuration = serde_json::from_str("null").unwrap();
        assert_eq!(d, GoDuration::ZERO);
        let err = serde_json::from_str::<GoDuration>("\"10\"")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("expected a duration such as \"5s\", got \"10\" (missing unit)"),
            "{err}"
        );
        let err = serde_json::from_str::<GoDuration>("-3")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("negative durations are not supported"),
            "{err}"
        );
        assert_eq!(
            serde_json::to_string(&GoDuration(ms(1500))).unwrap(),
            "\"1.5s\""
        );
    }
}
