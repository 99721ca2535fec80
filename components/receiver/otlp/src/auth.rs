//! `auth.authenticator` on either protocol: the server authenticator extension, resolved when the
//! receiver is created, checks every request's headers before its body is read, so that nothing
//! from an unauthenticated client is decompressed, decoded or passed on.
//!
//! As in otelcol, a refused request is answered (gRPC `UNAUTHENTICATED`, HTTP 401) and not counted
//! in the receiver's accepted/refused metrics: it never reached the receiver's own handling.

use std::sync::Arc;

use ferrotel_core::auth::{AuthError, ServerAuthenticator};
use ferrotel_core::component::{ComponentId, Host};
use http::HeaderMap;
use http::header::{HeaderName, HeaderValue};

/// An authenticator and the query parameters to hand it as if they were headers.
#[derive(Clone)]
pub(crate) struct RequestAuth {
    authenticator: Arc<dyn ServerAuthenticator>,
    /// confighttp's `auth::request_params`: empty for gRPC.
    request_params: Vec<String>,
    receiver: ComponentId,
    transport: &'static str,
}

impl RequestAuth {
    pub(crate) fn resolve(
        host: &Host,
        name: &str,
        request_params: &[String],
        receiver: &ComponentId,
        transport: &'static str,
    ) -> anyhow::Result<RequestAuth> {
        Ok(RequestAuth {
            authenticator: host.server_authenticator(name)?,
            request_params: request_params.to_vec(),
            receiver: receiver.clone(),
            transport,
        })
    }

    /// Checks one request; the error's message goes back to the client (it never holds the
    /// credentials presented).
    pub(crate) fn check(&self, headers: &HeaderMap, query: Option<&str>) -> Result<(), AuthError> {
        let result = if self.request_params.is_empty() {
            self.authenticator.authenticate(headers)
        } else {
            self.authenticator.authenticate(&with_query_params(
                headers,
                query,
                &self.request_params,
            ))
        };
        if let Err(error) = &result {
            tracing::debug!(receiver = %self.receiver, transport = self.transport, %error, "request refused: not authenticated");
        }
        result
    }
}

/// The headers plus each listed query parameter present in `query`, the parameter's values
/// replacing a header of the same name (as confighttp does).
fn with_query_params(headers: &HeaderMap, query: Option<&str>, params: &[String]) -> HeaderMap {
    let mut sources = headers.clone();
    let mut replaced: Vec<HeaderName> = Vec::new();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (key, value) = (unescape(key), unescape(value));
        if !params.contains(&key) {
            continue;
        }
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) else {
            continue;
        };
        if replaced.contains(&name) {
            sources.append(name, value);
        } else {
            sources.insert(name.clone(), value);
            replaced.push(name);
        }
    }
    sources
}

/// Query-string unescaping: `+` is a space, `%XX` a byte; a bad escape is kept as written.
fn unescape(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                match text
                    .get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(byte) => {
                        out.push(byte);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_query_parameters_join_the_headers() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_static("from-header"));
        headers.insert("x-other", HeaderValue::from_static("kept"));
        let params = vec!["authorization".to_owned(), "tenant".to_owned()];
        let sources = with_query_params(
            &headers,
            Some("authorization=Bearer+abc%21&tenant=a&tenant=b&ignored=x"),
            &params,
        );
        assert_eq!(sources["authorization"], "Bearer abc!");
        assert_eq!(sources.get_all("tenant").iter().count(), 2);
        assert_eq!(sources["x-other"], "kept");
        assert!(sources.get("ignored").is_none());
        assert_eq!(with_query_params(&headers, None, &params), headers);
    }

    #[test]
    fn unescaping_keeps_bad_escapes() {
        assert_eq!(unescape("a%20b+c"), "a b c");
        assert_eq!(unescape("100%"), "100%");
        assert_eq!(unescape("%zz"), "%zz");
    }
}
