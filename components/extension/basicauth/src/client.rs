//! The client authenticator: `Authorization: Basic <base64(user:password)>` on every request.
//! `username_file` and `password_file` are read at creation and again whenever the file changes
//! (checked by its metadata on each request), their content trimmed as otelcol trims it.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ferrotel_core::auth::{AuthError, ClientAuthenticator};
use ferrotel_core::component::Lifecycle;
use http::{HeaderMap, HeaderValue};

use crate::config::ClientAuthSettings;

pub struct BasicAuthClient {
    id: String,
    username: Value,
    password: Value,
}

/// A credential given inline, or read from a file.
enum Value {
    Inline(Arc<str>),
    File(WatchedFile),
}

struct WatchedFile {
    path: PathBuf,
    state: RwLock<(Option<Stamp>, Arc<str>)>,
}

type Stamp = (Option<SystemTime>, u64, u64, u64);

fn stamp(path: &std::path::Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok(), meta.len(), meta.dev(), meta.ino()))
}

/// The file's content, trimmed; empty is an error, as in otelcol.
fn read_credential(path: &std::path::Path) -> Result<Arc<str>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("failed to read credentials file {:?}: {e}", path.display()))?;
    let value = text.trim();
    if value.is_empty() {
        return Err(format!("credentials file {:?} is empty", path.display()));
    }
    Ok(Arc::from(value))
}

impl Value {
    fn new(inline: &str, file: &str) -> anyhow::Result<Value> {
        if file.is_empty() {
            return Ok(Value::Inline(Arc::from(inline)));
        }
        let path = PathBuf::from(file);
        let now = stamp(&path);
        let value = read_credential(&path).map_err(anyhow::Error::msg)?;
        Ok(Value::File(WatchedFile {
            path,
            state: RwLock::new((now, value)),
        }))
    }

    fn current(&self, id: &str) -> Arc<str> {
        let file = match self {
            Value::Inline(value) => return value.clone(),
            Value::File(file) => file,
        };
        let now = stamp(&file.path);
        {
            let state = file.state.read().unwrap_or_else(|p| p.into_inner());
            if state.0 == now {
                return state.1.clone();
            }
        }
        let mut state = file.state.write().unwrap_or_else(|p| p.into_inner());
        if state.0 != now {
            match read_credential(&file.path) {
                Ok(value) => {
                    state.1 = value;
                    tracing::info!(extension = %id, file = %file.path.display(), "credentials file changed; reloaded");
                }
                Err(error) => {
                    tracing::warn!(extension = %id, "failed to reload credentials file, keeping last value: {error}")
                }
            }
            state.0 = now;
        }
        state.1.clone()
    }
}

impl BasicAuthClient {
    pub fn new(id: &str, settings: &ClientAuthSettings) -> anyhow::Result<BasicAuthClient> {
        if settings.aws_secrets_manager.is_some() {
            anyhow::bail!(
                "client_auth::aws_secrets_manager is not supported by ferrotel; use username_file and password_file"
            );
        }
        Ok(BasicAuthClient {
            id: id.to_owned(),
            username: Value::new(&settings.username, &settings.username_file)?,
            password: Value::new(settings.password.expose(), &settings.password_file)?,
        })
    }
}

impl ClientAuthenticator for BasicAuthClient {
    fn headers(&self) -> Result<HeaderMap, AuthError> {
        let username = self.username.current(&self.id);
        if username.contains(':') {
            return Err(AuthError::new(
                "invalid authorization format: the username cannot contain ':'",
            ));
        }
        let password = self.password.current(&self.id);
        let encoded = STANDARD.encode(format!("{username}:{password}"));
        let mut value = HeaderValue::from_str(&format!("Basic {encoded}"))
            .map_err(|_| AuthError::new("invalid authorization format"))?;
        value.set_sensitive(true);
        let mut headers = HeaderMap::with_capacity(1);
        headers.insert(http::header::AUTHORIZATION, value);
        Ok(headers)
    }

    /// As otelcol's: a password is never sent over plaintext gRPC.
    fn requires_transport_security(&self) -> bool {
        true
    }
}

impl Lifecycle for BasicAuthClient {}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrotel_core::config::Opaque;

    #[test]
    fn inline_credentials_become_a_basic_header() {
        let client = BasicAuthClient::new(
            "basicauth/client",
            &ClientAuthSettings {
                username: "username".into(),
                password: Opaque::from("password"),
                ..Default::default()
            },
        )
        .unwrap();
        let headers = client.headers().unwrap();
        assert_eq!(headers["authorization"], "Basic dXNlcm5hbWU6cGFzc3dvcmQ=");
        assert!(headers["authorization"].is_sensitive());
        assert!(client.requires_transport_security());
    }

    #[test]
    fn credential_files_are_trimmed_and_reread_when_they_change() {
        let dir = tempfile::tempdir().unwrap();
        let (user_file, password_file) = (dir.path().join("user"), dir.path().join("password"));
        std::fs::write(&user_file, "alice\n").unwrap();
        std::fs::write(&password_file, "  first  \n").unwrap();
        let client = BasicAuthClient::new(
            "basicauth/client",
            &ClientAuthSettings {
                username: "ignored".into(),
                username_file: user_file.display().to_string(),
                password_file: password_file.display().to_string(),
                ..Default::default()
            },
        )
        .unwrap();
        let expect = |credentials: &str| format!("Basic {}", STANDARD.encode(credentials));
        assert_eq!(
            client.headers().unwrap()["authorization"],
            expect("alice:first")
        );
        std::fs::write(&password_file, "second-longer\n").unwrap();
        assert_eq!(
            client.headers().unwrap()["authorization"],
            expect("alice:second-longer")
        );
        // An emptied file keeps the last value.
        std::fs::write(&password_file, "\n").unwrap();
        assert_eq!(
            client.headers().unwrap()["authorization"],
            expect("alice:second-longer")
        );
    }

    #[test]
    fn unusable_sources_are_errors() {
        let missing = BasicAuthClient::new(
            "basicauth",
            &ClientAuthSettings {
                password_file: "/non/existing/password".into(),
                ..Default::default()
            },
        )
        .err()
        .unwrap();
        assert!(
            missing
                .to_string()
                .contains("failed to read credentials file")
        );
        let aws = BasicAuthClient::new(
            "basicauth",
            &ClientAuthSettings {
                aws_secrets_manager: Some(Default::default()),
                ..Default::default()
            },
        )
        .err()
        .unwrap();
        assert!(aws.to_string().contains("not supported"), "{aws}");
    }
}
