//! HTTP/1.x request lines: `METHOD target HTTP/1.x`.

use crate::Semantics;

/// The methods the conventions know; any other is `_OTHER`.
const METHODS: &[&str] = &[
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];

fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

pub(crate) fn parse(request: &[u8]) -> Option<Semantics> {
    let space = request.iter().position(|&c| c == b' ')?;
    let method = &request[..space];
    if method.is_empty() || method.len() > 32 || !method.iter().all(|&c| is_tchar(c)) {
        return None;
    }
    let method = std::str::from_utf8(method).ok()?;
    let rest = &request[space + 1..];
    let target_end = rest.iter().position(|&c| matches!(c, b' ' | b'\r' | b'\n'));
    let target = &rest[..target_end.unwrap_or(rest.len())];
    if target.iter().any(|&c| c <= b' ' || c == 0x7f) {
        return None;
    }
    // the path stops at `?` or `#`; without either, a target the capture cuts may be cut too
    let path_end = target.iter().position(|&c| c == b'?' || c == b'#');
    // ASCII in practice: checked as UTF-8 once, copied only when it is not
    let target = match std::str::from_utf8(&target[..path_end.unwrap_or(target.len())]) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(&target[..path_end.unwrap_or(target.len())]),
    };
    let path_complete = target_end.is_some() || path_end.is_some();
    let version = target_end.and_then(|end| {
        let after = &rest[end..];
        let version = after.strip_prefix(b" HTTP/1.")?;
        match version.first()? {
            b'1' => Some("1.1"),
            b'0' => Some("1.0"),
            _ => None,
        }
    });

    let known = METHODS.iter().find(|&&m| m == method).copied();
    let mut semantics = Semantics {
        name: String::new(),
        attributes: Vec::with_capacity(6),
    };
    semantics.push_static("http.request.method", known.unwrap_or("_OTHER"));
    if known.is_none() {
        semantics.push_str("http.request.method_original", method);
    }
    // the conventions name a span of an unknown method `HTTP`
    let mut name = String::with_capacity(target.len() + 8);
    name.push_str(known.unwrap_or("HTTP"));
    let path = path_of(&target);
    if let Some(path) = path.filter(|_| path_complete) {
        let route = route(path);
        semantics.push_str("url.path", path);
        name.push(' ');
        name.push_str(&route);
        semantics.push_str("http.route", route);
    }
    semantics.name = name;
    // `network.protocol.name` is left out: the conventions want it only when it is not "http"
    if let Some(version) = version {
        semantics.push_static("network.protocol.version", version);
    }
    Some(semantics)
}

/// The path of an origin-form (`/a/b`) or absolute-form (`http://host/a/b`) target; none for the
/// authority form of CONNECT (`host:443`) and OPTIONS's `*`.
fn path_of(target: &str) -> Option<&str> {
    if target.starts_with('/') {
        return Some(target);
    }
    let (scheme, rest) = target.split_once("://")?;
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'+')
    {
        return None;
    }
    Some(rest.find('/').map_or("/", |slash| &rest[slash..]))
}

/// `path` with each segment that looks like an identifier replaced by `{id}`.
pub(crate) fn route(path: &str) -> String {
    let mut route = String::with_capacity(path.len());
    for (i, segment) in path.split('/').enumerate() {
        if i > 0 {
            route.push('/');
        }
        route.push_str(if is_id(segment) { "{id}" } else { segment });
    }
    route
}

fn is_id(segment: &str) -> bool {
    let b = segment.as_bytes();
    if b.is_empty() {
        return false;
    }
    // the common case, a short word or number, decided in one pass
    if b.len() < 16 {
        return b.iter().all(u8::is_ascii_digit);
    }
    let digits = b.iter().filter(|c| c.is_ascii_digit()).count();
    let uuid = b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit(),
        });
    digits == b.len()
        || uuid
        || (b.len() >= 16 && b.iter().all(u8::is_ascii_hexdigit))
        || (b.len() >= 20
            && digits > 0
            && b.iter()
                .all(|&c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'))
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
