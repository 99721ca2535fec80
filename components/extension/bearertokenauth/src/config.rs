//! `extensions: bearertokenauth:` — otelcol-contrib's keys: `header`, `scheme`, `token`,
//! `tokens`, `filename`. Tokens are [`Opaque`]: they never show in `Debug` output or errors.

use ferrotel_core::config::Validate;
use ferrotel_core::config::opaque::{Opaque, opaque_list};
use serde::Deserialize;

pub const DEFAULT_HEADER: &str = "Authorization";
pub const DEFAULT_SCHEME: &str = "Bearer";

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The header that carries the token (gRPC metadata keys are its lower-case form).
    pub header: String,
    /// Written before the token with one space; empty sends the bare token.
    pub scheme: String,
    pub token: Opaque,
    /// Several tokens a server accepts; a client sends the first.
    #[serde(deserialize_with = "opaque_list")]
    pub tokens: Vec<Opaque>,
    /// A file holding the token(s), one a line; when set, `token` and `tokens` are ignored.
    pub filename: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            header: DEFAULT_HEADER.into(),
            scheme: DEFAULT_SCHEME.into(),
            token: Opaque::default(),
            tokens: Vec::new(),
            filename: String::new(),
        }
    }
}

impl Config {
    /// `<scheme> <token>`, or the bare token without a scheme.
    pub fn header_value(&self, token: &str) -> String {
        if self.scheme.is_empty() {
            token.to_owned()
        } else {
            format!("{} {token}", self.scheme)
        }
    }
}

impl Validate for Config {
    fn validate(&self) -> Result<(), String> {
        if self.token.is_empty() && self.tokens.is_empty() && self.filename.is_empty() {
            return Err("no bearer token provided".into());
        }
        if !self.token.is_empty() && !self.tokens.is_empty() {
            return Err("either tokens or token should be provided, not both".into());
        }
        if http::HeaderName::from_bytes(self.header.as_bytes()).is_err() {
            return Err(format!(
                "header {:?} is not a valid HTTP header name",
                self.header
            ));
        }
        let inline = std::iter::once(&self.token).chain(&self.tokens);
        for token in inline.filter(|t| !t.is_empty()) {
            if http::HeaderValue::from_str(&self.header_value(token.expose())).is_err() {
                // The value itself stays out of the message: it is a secret.
                return Err(
                    "scheme or token holds characters an HTTP header value cannot carry".into(),
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrotel_core::config::{Node, decode_validated};

    fn load(yaml: &str) -> Result<Config, String> {
        decode_validated::<Config>(&Node::parse(yaml, "t.yaml").unwrap()).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_are_otelcols() {
        let config = load("token: sometoken\n").unwrap();
        assert_eq!(config.header, "Authorization");
        assert_eq!(config.scheme, "Bearer");
        assert_eq!(config.token.expose(), "sometoken");
        assert_eq!(config.header_value("t"), "Bearer t");
    }

    #[test]
    fn upstream_testdata_shapes_load() {
        let with_scheme = load("scheme: MyScheme\ntoken: my-token\n").unwrap();
        assert_eq!(with_scheme.header_value("my-token"), "MyScheme my-token");
        let multiple = load("tokens: [token1, thistokenalsoworks]\n").unwrap();
        assert_eq!(multiple.tokens.len(), 2);
        let with_header =
            load("header: X-Custom-Authorization\nscheme: \"\"\ntoken: my-token\n").unwrap();
        assert_eq!(with_header.header_value("my-token"), "my-token");
        // A filename beside a token is accepted (the token is ignored, with a warning).
        let both = load("token: ignoredtoken\nfilename: file-containing.token\n").unwrap();
        assert_eq!(both.filename, "file-containing.token");
    }

    #[test]
    fn invalid_configs_fail_with_otelcols_messages() {
        assert_eq!(
            load("").unwrap_err().rsplit(": ").next().unwrap(),
            "no bearer token provided"
        );
        assert!(
            load("token: a\ntokens: [b]\n")
                .unwrap_err()
                .contains("either tokens or token should be provided, not both")
        );
        assert!(
            load("token: a\nheader: \"bad header\"\n")
                .unwrap_err()
                .contains("not a valid HTTP header name")
        );
        let err = load("token: \"line\\nbreak-s3cr3t\"\n").unwrap_err();
        assert!(err.contains("cannot carry"), "{err}");
        assert!(!err.contains("s3cr3t"), "{err}");
    }

    #[test]
    fn debug_output_hides_the_tokens() {
        let config = load("tokens: [first-s3cr3t, second-s3cr3t]\n").unwrap();
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("[REDACTED]"), "{shown}");
    }
}
