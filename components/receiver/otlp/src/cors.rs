//! CORS for OTLP/HTTP, as confighttp sets up rs/cors: allowed origins with `*` wildcards,
//! credentials allowed, preflights answered with 204, and headers added to actual responses.

use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, Response, StatusCode};

use crate::config::CorsConfig;

/// Headers a browser may always send (rs/cors adds `Origin` to the CORS-safelisted ones).
const ALWAYS_ALLOWED: &[&str] = &[
    "accept",
    "accept-language",
    "content-type",
    "content-language",
    "origin",
];
const ALLOWED_METHODS: &[Method] = &[Method::GET, Method::POST, Method::HEAD];

#[derive(Debug)]
enum Origin {
    Any,
    Exact(String),
    /// One `*` standing for any run of characters.
    Wildcard {
        prefix: String,
        suffix: String,
    },
}

impl Origin {
    fn matches(&self, origin: &str) -> bool {
        match self {
            Origin::Any => true,
            Origin::Exact(o) => o == origin,
            Origin::Wildcard { prefix, suffix } => {
                origin.len() >= prefix.len() + suffix.len()
                    && origin.starts_with(prefix.as_str())
                    && origin.ends_with(suffix.as_str())
            }
        }
    }
}

#[derive(Debug)]
pub(crate) struct Cors {
    origins: Vec<Origin>,
    any_header: bool,
    headers: Vec<String>,
    exposed: Option<HeaderValue>,
    max_age: Option<HeaderValue>,
}

impl Cors {
    /// `None` when no origin is allowed: confighttp then installs no CORS handling at all.
    pub(crate) fn new(config: &CorsConfig) -> Option<Cors> {
        if config.allowed_origins.is_empty() {
            if !config.allowed_headers.is_empty() {
                tracing::warn!(
                    "The CORS configuration specifies allowed headers but no allowed origins, and is therefore ignored."
                );
            }
            return None;
        }
        let origins = config
            .allowed_origins
            .iter()
            .map(|o| {
                let o = o.to_ascii_lowercase();
                match o.split_once('*') {
                    _ if o == "*" => Origin::Any,
                    Some((prefix, suffix)) => Origin::Wildcard {
                        prefix: prefix.into(),
                        suffix: suffix.into(),
                    },
                    None => Origin::Exact(o),
                }
            })
            .collect();
        let mut headers: Vec<String> = ALWAYS_ALLOWED.iter().map(|h| h.to_string()).collect();
        if config.allowed_headers.is_empty() {
            headers.push("x-requested-with".into());
        }
        headers.extend(
            config
                .allowed_headers
                .iter()
                .map(|h| h.to_ascii_lowercase()),
        );
        let exposed = (!config.exposed_headers.is_empty())
            .then(|| config.exposed_headers.join(", "))
            .and_then(|v| HeaderValue::from_str(&v).ok());
        Some(Cors {
            origins,
            any_header: config.allowed_headers.iter().any(|h| h == "*"),
            headers,
            exposed,
            max_age: (config.max_age > 0).then(|| HeaderValue::from(config.max_age)),
        })
    }

    fn allowed_origin<'a>(&self, origin: Option<&'a HeaderValue>) -> Option<&'a HeaderValue> {
        let origin = origin?;
        let text = origin.to_str().ok()?.to_ascii_lowercase();
        self.origins
            .iter()
            .any(|o| o.matches(&text))
            .then_some(origin)
    }

    pub(crate) fn is_preflight<B>(request: &Request<B>) -> bool {
        request.method() == Method::OPTIONS
            && request
                .headers()
                .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    }

    /// The answer to a preflight: 204, with the grants only when origin, method and headers pass.
    pub(crate) fn preflight<B, R: Default>(&self, request: &Request<B>) -> Response<R> {
        let mut response = Response::new(R::default());
        *response.status_mut() = StatusCode::NO_CONTENT;
        let out = response.headers_mut();
        for vary in [
            "Origin",
            "Access-Control-Request-Method",
            "Access-Control-Request-Headers",
        ] {
            out.append(header::VARY, HeaderValue::from_static(vary));
        }
        let headers = request.headers();
        let Some(origin) = self.allowed_origin(headers.get(header::ORIGIN)) else {
            return response;
        };
        let method = headers
            .get(header::ACCESS_CONTROL_REQUEST_METHOD)
            .and_then(|m| m.to_str().ok())
            .unwrap_or("");
        if !ALLOWED_METHODS
            .iter()
            .any(|m| m.as_str().eq_ignore_ascii_case(method))
        {
            return response;
        }
        let requested: Vec<String> = headers
            .get_all(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        if !self.any_header && !requested.iter().all(|h| self.headers.contains(h)) {
            return response;
        }
        out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        out.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_str(&method.to_ascii_uppercase()).expect("a method name"),
        );
        if let Some(v) = (!requested.is_empty())
            .then(|| requested.join(", "))
            .and_then(|v| HeaderValue::from_str(&v).ok())
        {
            out.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, v);
        }
        out.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        if let Some(max_age) = &self.max_age {
            out.insert(header::ACCESS_CONTROL_MAX_AGE, max_age.clone());
        }
        response
    }

    /// Adds the grants to an actual (non-preflight) response when the origin is allowed.
    pub(crate) fn decorate(&self, origin: Option<&HeaderValue>, response: &mut HeaderMap) {
        response.append(header::VARY, HeaderValue::from_static("Origin"));
        let Some(origin) = self.allowed_origin(origin) else {
            return;
        };
        response.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        response.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        if let Some(exposed) = &self.exposed {
            response.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, exposed.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cors() -> Cors {
        Cors::new(&CorsConfig {
            allowed_origins: vec!["https://*.test.com".into(), "https://test.com".into()],
            allowed_headers: vec!["X-Custom".into()],
            exposed_headers: vec!["X-Out".into()],
            max_age: 7200,
        })
        .unwrap()
    }

    fn preflight(origin: &str, method: &str, headers: &str) -> Response<()> {
        let request = Request::builder()
            .method(Method::OPTIONS)
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, method)
            .header(header::ACCESS_CONTROL_REQUEST_HEADERS, headers)
            .body(())
            .unwrap();
        assert!(Cors::is_preflight(&request));
        cors().preflight(&request)
    }

    #[test]
    fn wildcard_origins_match_like_rs_cors() {
        let ok = preflight("https://www.test.com", "POST", "content-type, x-custom");
        assert_eq!(ok.status(), StatusCode::NO_CONTENT);
        assert_eq!(
            ok.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://www.test.com"
        );
        assert_eq!(ok.headers()[header::ACCESS_CONTROL_MAX_AGE], "7200");
        assert_eq!(
            ok.headers()[header::ACCESS_CONTROL_ALLOW_CREDENTIALS],
            "true"
        );
        assert!(
            preflight("https://test.com", "POST", "")
                .headers()
                .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN)
        );
        for (origin, method, headers) in [
            ("https://wwwtest.com", "POST", ""),
            ("https://evil.com", "POST", ""),
            ("https://a.test.com", "DELETE", ""),
            ("https://a.test.com", "POST", "x-other"),
        ] {
            let denied = preflight(origin, method, headers);
            assert_eq!(denied.status(), StatusCode::NO_CONTENT);
            assert!(
                !denied
                    .headers()
                    .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN),
                "{origin} {method} {headers}"
            );
        }
    }

    #[test]
    fn actual_responses_get_the_grant_only_for_allowed_origins() {
        let mut request = HeaderMap::new();
        request.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://api.test.com"),
        );
        let mut response = HeaderMap::new();
        cors().decorate(request.get(header::ORIGIN), &mut response);
        assert_eq!(
            response[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://api.test.com"
        );
        assert_eq!(response[header::ACCESS_CONTROL_EXPOSE_HEADERS], "X-Out");
        request.insert(header::ORIGIN, HeaderValue::from_static("https://nope.com"));
        let mut response = HeaderMap::new();
        cors().decorate(request.get(header::ORIGIN), &mut response);
        assert!(!response.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
        assert!(Cors::new(&CorsConfig::default()).is_none());
    }
}
