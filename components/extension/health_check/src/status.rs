//! The bodies otelcol-contrib's health check writes.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Response, StatusCode};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::server::uptime;

#[derive(serde::Serialize)]
struct Status {
    status: &'static str,
    #[serde(rename = "upSince")]
    up_since: String,
    uptime: String,
}

/// `{"status":"Server available","upSince":…,"uptime":…}` while ready (since `up_since`),
/// `{"status":"Server not available","upSince":"0001-01-01T00:00:00Z","uptime":""}` otherwise.
pub fn status_json(up_since: Option<SystemTime>, now: SystemTime) -> String {
    let status = match up_since {
        Some(since) => Status {
            status: "Server available",
            up_since: rfc3339_nano(since),
            uptime: uptime(since, now),
        },
        None => Status {
            status: "Server not available",
            up_since: "0001-01-01T00:00:00Z".into(),
            uptime: String::new(),
        },
    };
    serde_json::to_string(&status).expect("a struct of strings serializes")
}

/// Go's `RFC3339Nano` in UTC: `2026-11-25T08:51:22.5Z` (fraction trimmed, omitted when zero).
pub fn rfc3339_nano(time: SystemTime) -> String {
    let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since_epoch.as_secs() as i64;
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let of_day = secs.rem_euclid(86_400);
    let mut out = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    );
    let nanos = since_epoch.subsec_nanos();
    if nanos > 0 {
        out.push('.');
        out.push_str(format!("{nanos:09}").trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// Go's `http.NotFound`.
pub fn not_found() -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(b"404 page not found\n")));
    *response.status_mut() = StatusCode::NOT_FOUND;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bodies_match_otelcol() {
        let since = UNIX_EPOCH + Duration::new(1_764_060_682, 500_000_000);
        let now = since + Duration::from_millis(90_250);
        assert_eq!(
            status_json(Some(since), now),
            r#"{"status":"Server available","upSince":"2025-11-25T08:51:22.5Z","uptime":"1m30.25s"}"#
        );
        assert_eq!(
            status_json(None, now),
            r#"{"status":"Server not available","upSince":"0001-01-01T00:00:00Z","uptime":""}"#
        );
        assert_eq!(rfc3339_nano(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339_nano(UNIX_EPOCH + Duration::new(951_782_400, 1)),
            "2000-02-29T00:00:00.000000001Z"
        );
    }
}
