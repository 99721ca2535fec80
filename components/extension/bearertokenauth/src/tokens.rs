//! The authenticator: the expected header values (from the config, or from a file that is
//! re-read when it changes), checked in constant time on the server side and sent on the client
//! side.
//!
//! A file is watched by its metadata (modification time, size, inode) on every use: one `stat`
//! per request costs about a microsecond and needs no watcher thread, and it follows the
//! symlink swaps Kubernetes does when it updates a mounted secret.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use ferrotel_core::auth::{AuthError, ClientAuthenticator, ServerAuthenticator};
use ferrotel_core::component::Lifecycle;
use http::{HeaderMap, HeaderName, HeaderValue};
use subtle::ConstantTimeEq;

use crate::config::Config;

/// The header values a request may present; the first is the one a client sends.
type Values = Arc<Vec<HeaderValue>>;

pub struct BearerTokenAuth {
    id: String,
    header: HeaderName,
    source: Source,
}

enum Source {
    Fixed(Values),
    File(TokenFile),
}

struct TokenFile {
    path: PathBuf,
    config: Config,
    state: RwLock<FileState>,
}

struct FileState {
    /// What the file looked like when `values` were read from it (`None`: it could not be read).
    stamp: Option<Stamp>,
    values: Values,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    dev: u64,
    ino: u64,
}

impl Stamp {
    fn of(path: &Path) -> std::io::Result<Stamp> {
        let meta = std::fs::metadata(path)?;
        Ok(Stamp {
            modified: meta.modified().ok(),
            len: meta.len(),
            dev: meta.dev(),
            ino: meta.ino(),
        })
    }
}

impl BearerTokenAuth {
    /// Reads the token file, if any, once: a file that cannot be read is an error here rather
    /// than a collector that refuses (or sends nothing) until the file appears.
    pub fn new(id: &str, config: &Config) -> anyhow::Result<BearerTokenAuth> {
        let header = HeaderName::from_bytes(config.header.as_bytes())?;
        let source = if config.filename.is_empty() {
            let tokens: Vec<&str> = if config.tokens.is_empty() {
                vec![config.token.expose()]
            } else {
                config.tokens.iter().map(|t| t.expose()).collect()
            };
            let values = tokens
                .iter()
                .map(|t| sensitive(&config.header_value(t)))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "scheme or token holds characters an HTTP header value cannot carry"
                    )
                })?;
            Source::Fixed(Arc::new(values))
        } else {
            if !config.token.is_empty() || !config.tokens.is_empty() {
                tracing::warn!(extension = %id, "a filename is specified; the configured token(s) are ignored");
            }
            let path = PathBuf::from(&config.filename);
            let stamp = Stamp::of(&path).map_err(|e| read_error(&path, &e))?;
            let text = std::fs::read_to_string(&path).map_err(|e| read_error(&path, &e))?;
            let values = parse_token_file(id, &path, &text, config);
            Source::File(TokenFile {
                path,
                config: config.clone(),
                state: RwLock::new(FileState {
                    stamp: Some(stamp),
                    values: Arc::new(values),
                }),
            })
        };
        Ok(BearerTokenAuth {
            id: id.to_owned(),
            header,
            source,
        })
    }

    fn values(&self) -> Values {
        match &self.source {
            Source::Fixed(values) => values.clone(),
            Source::File(file) => file.current(&self.id),
        }
    }
}

fn read_error(path: &Path, error: &std::io::Error) -> anyhow::Error {
    anyhow::anyhow!(
        "failed to read the bearer token file {}: {error}",
        path.display()
    )
}

fn sensitive(text: &str) -> Option<HeaderValue> {
    let mut value = HeaderValue::from_str(text).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// One token a line, blanks trimmed; blank lines are skipped (an empty token would let a bare
/// `Bearer ` in).
fn parse_token_file(id: &str, path: &Path, text: &str, config: &Config) -> Vec<HeaderValue> {
    let mut values = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let token = line.trim();
        if token.is_empty() {
            continue;
        }
        match sensitive(&config.header_value(token)) {
            Some(value) => values.push(value),
            None => tracing::warn!(
                extension = %id,
                file = %path.display(),
                line = number + 1,
                "the token on this line holds characters an HTTP header cannot carry; it is skipped"
            ),
        }
    }
    if values.is_empty() {
        tracing::warn!(extension = %id, file = %path.display(), "the bearer token file holds no token");
    }
    values
}

impl TokenFile {
    /// The tokens of the file as it is now, re-read when it has changed since the last read.
    fn current(&self, id: &str) -> Values {
        let now = Stamp::of(&self.path).ok();
        {
            let state = self.state.read().unwrap_or_else(|p| p.into_inner());
            if state.stamp == now || now.is_none() && state.stamp.is_none() {
                return state.values.clone();
            }
        }
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        if state.stamp == now {
            return state.values.clone();
        }
        let text = now.and_then(|_| std::fs::read_to_string(&self.path).ok());
        match text {
            Some(text) => {
                state.values = Arc::new(parse_token_file(id, &self.path, &text, &self.config));
                tracing::info!(extension = %id, file = %self.path.display(), tokens = state.values.len(), "bearer token file changed; tokens reloaded");
            }
            // Keep serving the last tokens read: a file being replaced may be missing briefly.
            None => tracing::warn!(
                extension = %id,
                file = %self.path.display(),
                "the bearer token file cannot be read; keeping the tokens read before"
            ),
        }
        state.stamp = now;
        state.values.clone()
    }
}

impl ServerAuthenticator for BearerTokenAuth {
    fn authenticate(&self, headers: &HeaderMap) -> Result<(), AuthError> {
        let presented = headers
            .get(&self.header)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                AuthError::new(format!(
                    "missing or empty authorization header: {}",
                    self.header
                ))
            })?;
        let mut matched = subtle::Choice::from(0);
        // Every expected value is compared, so the time taken does not tell which one matched.
        for expected in self.values().iter() {
            matched |= expected.as_bytes().ct_eq(presented.as_bytes());
        }
        if bool::from(matched) {
            Ok(())
        } else {
            // otelcol quotes the presented token here; it stays out of ferrotel's message.
            Err(AuthError::new("scheme or token does not match"))
        }
    }
}

impl ClientAuthenticator for BearerTokenAuth {
    fn headers(&self) -> Result<HeaderMap, AuthError> {
        let values = self.values();
        let value = values
            .first()
            .ok_or_else(|| AuthError::new("no bearer token is available"))?;
        let mut headers = HeaderMap::with_capacity(1);
        headers.insert(self.header.clone(), value.clone());
        Ok(headers)
    }

    /// As otelcol's: a bearer token is never sent over plaintext gRPC.
    fn requires_transport_security(&self) -> bool {
        true
    }
}

impl Lifecycle for BearerTokenAuth {}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrotel_core::config::Opaque;

    fn with_tokens(tokens: &[&str]) -> Config {
        Config {
            tokens: tokens.iter().map(|t| Opaque::from(*t)).collect(),
            ..Config::default()
        }
    }

    fn request(name: &str, value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
        headers
    }

    #[test]
    fn any_configured_token_is_accepted_and_nothing_else() {
        let auth = BearerTokenAuth::new("bearertokenauth", &with_tokens(&["one", "two"])).unwrap();
        assert!(
            auth.authenticate(&request("authorization", "Bearer one"))
                .is_ok()
        );
        assert!(
            auth.authenticate(&request("Authorization", "Bearer two"))
                .is_ok()
        );
        let wrong = auth
            .authenticate(&request("authorization", "Bearer three"))
            .unwrap_err();
        assert_eq!(wrong.to_string(), "scheme or token does not match");
        for near_miss in ["bearer one", "Bearer one ", "Bearer", "one", "Bearer on"] {
            assert!(
                auth.authenticate(&request("authorization", near_miss))
                    .is_err(),
                "{near_miss:?}"
            );
        }
        let missing = auth.authenticate(&HeaderMap::new()).unwrap_err();
        assert_eq!(
            missing.to_string(),
            "missing or empty authorization header: authorization"
        );
        assert!(auth.authenticate(&request("authorization", "")).is_err());
    }

    #[test]
    fn the_client_sends_the_first_token_in_the_configured_header() {
        let config = Config {
            header: "X-Api-Key".into(),
            scheme: String::new(),
            token: Opaque::from("k3y"),
            ..Config::default()
        };
        let auth = BearerTokenAuth::new("bearertokenauth", &config).unwrap();
        let headers = auth.headers().unwrap();
        assert_eq!(headers.len(), 1);
        assert_eq!(headers["x-api-key"], "k3y");
        assert!(headers["x-api-key"].is_sensitive());
        assert!(auth.authenticate(&request("x-api-key", "k3y")).is_ok());
        assert!(auth.authenticate(&request("authorization", "k3y")).is_err());
        assert!(auth.requires_transport_security());
        let multi = BearerTokenAuth::new("b", &with_tokens(&["first", "second"])).unwrap();
        assert_eq!(multi.headers().unwrap()["authorization"], "Bearer first");
    }

    #[test]
    fn a_token_file_is_reread_when_it_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "old-token\n\n").unwrap();
        let config = Config {
            filename: path.display().to_string(),
            token: Opaque::from("ignored"),
            ..Config::default()
        };
        let auth = BearerTokenAuth::new("bearertokenauth/file", &config).unwrap();
        assert_eq!(auth.headers().unwrap()["authorization"], "Bearer old-token");
        assert!(
            auth.authenticate(&request("authorization", "Bearer old-token"))
                .is_ok()
        );
        assert!(
            auth.authenticate(&request("authorization", "Bearer ignored"))
                .is_err()
        );
        // The blank line is not an empty token.
        assert!(
            auth.authenticate(&request("authorization", "Bearer "))
                .is_err()
        );

        // Rotated the way Kubernetes does it: a new file renamed over the old one.
        let next = dir.path().join("token.next");
        std::fs::write(&next, "  new-token  \nsecond-token\n").unwrap();
        std::fs::rename(&next, &path).unwrap();
        assert_eq!(auth.headers().unwrap()["authorization"], "Bearer new-token");
        assert!(
            auth.authenticate(&request("authorization", "Bearer old-token"))
                .is_err()
        );
        assert!(
            auth.authenticate(&request("authorization", "Bearer second-token"))
                .is_ok()
        );

        // Rewritten in place with a different length.
        std::fs::write(&path, "third\n").unwrap();
        assert!(
            auth.authenticate(&request("authorization", "Bearer third"))
                .is_ok()
        );

        // A file that disappears keeps the last tokens in force.
        std::fs::remove_file(&path).unwrap();
        assert!(
            auth.authenticate(&request("authorization", "Bearer third"))
                .is_ok()
        );
        std::fs::write(&path, "fourth\n").unwrap();
        assert!(
            auth.authenticate(&request("authorization", "Bearer fourth"))
                .is_ok()
        );
    }

    #[test]
    fn an_unreadable_token_file_is_an_error_at_creation() {
        let config = Config {
            filename: "/nonexistent/ferrotel/token".into(),
            ..Config::default()
        };
        let err = BearerTokenAuth::new("bearertokenauth", &config)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("failed to read the bearer token file /nonexistent/ferrotel/token"),
            "{err}"
        );
    }
}
