//! The server authenticator: `Authorization: Basic <base64(user:password)>` checked against the
//! htpasswd entries read at creation, with otelcol's error messages.
//!
//! A bcrypt check costs tens of milliseconds of CPU, and a collector sees the same credentials on
//! every request; so once a user's password has been verified, a salted SHA-256 of it is kept
//! (the salt is random per process) and later requests compare against that instead.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ferrotel_core::auth::{AuthError, ServerAuthenticator};
use ferrotel_core::component::Lifecycle;
use http::HeaderMap;
use ring::rand::SecureRandom;
use subtle::ConstantTimeEq;

use crate::config::HtpasswdSettings;
use crate::htpasswd::{self, Entry};

const NO_AUTH: &str = "no basic auth provided";
const INVALID_CREDENTIALS: &str = "invalid credentials";
const INVALID_SCHEME_PREFIX: &str = "invalid authorization scheme prefix";
const INVALID_FORMAT: &str = "invalid authorization format";

pub struct BasicAuthServer {
    users: HashMap<String, Entry>,
    salt: [u8; 16],
    /// user → salted SHA-256 of the password last verified against a slow hash.
    verified: Mutex<HashMap<String, [u8; 32]>>,
}

impl BasicAuthServer {
    pub fn new(settings: &HtpasswdSettings) -> anyhow::Result<BasicAuthServer> {
        let mut users = HashMap::new();
        if !settings.file.is_empty() {
            let text = std::fs::read_to_string(&settings.file)
                .map_err(|e| anyhow::anyhow!("open htpasswd file {}: {e}", settings.file))?;
            htpasswd::parse(&text, &settings.file, &mut users);
        }
        // Read last, so that its lines win over the file's.
        htpasswd::parse(settings.inline.expose(), "htpasswd::inline", &mut users);
        let mut salt = [0u8; 16];
        ring::rand::SystemRandom::new()
            .fill(&mut salt)
            .map_err(|_| anyhow::anyhow!("the system random generator failed"))?;
        Ok(BasicAuthServer {
            users,
            salt,
            verified: Mutex::new(HashMap::new()),
        })
    }

    fn fingerprint(&self, password: &str) -> [u8; 32] {
        let mut context = ring::digest::Context::new(&ring::digest::SHA256);
        context.update(&self.salt);
        context.update(password.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(context.finish().as_ref());
        out
    }

    fn check(&self, user: &str, password: &str) -> bool {
        let Some(entry) = self.users.get(user) else {
            return false;
        };
        if !entry.is_slow() {
            return entry.matches(password);
        }
        let fingerprint = self.fingerprint(password);
        let known = self
            .verified
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(user)
            .is_some_and(|known| bool::from(known.ct_eq(&fingerprint)));
        if known {
            return true;
        }
        // Checked outside the lock: a stream of wrong passwords must not hold up other users.
        let ok = entry.matches(password);
        if ok {
            self.verified
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(user.to_owned(), fingerprint);
        }
        ok
    }
}

/// `Basic <base64(user:password)>` → (user, password), as Go's `parseBasicAuth`.
fn parse_basic(value: &str) -> Result<(String, String), AuthError> {
    const PREFIX: &str = "Basic ";
    let scheme = value
        .get(..PREFIX.len())
        .filter(|s| s.eq_ignore_ascii_case(PREFIX))
        .ok_or_else(|| AuthError::new(INVALID_SCHEME_PREFIX))?;
    let decoded = STANDARD
        .decode(&value[scheme.len()..])
        .map_err(|_| AuthError::new(INVALID_FORMAT))?;
    let decoded = String::from_utf8(decoded).map_err(|_| AuthError::new(INVALID_FORMAT))?;
    let (user, password) = decoded
        .split_once(':')
        .ok_or_else(|| AuthError::new(INVALID_FORMAT))?;
    Ok((user.to_owned(), password.to_owned()))
}

impl ServerAuthenticator for BasicAuthServer {
    fn authenticate(&self, headers: &HeaderMap) -> Result<(), AuthError> {
        let value = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| AuthError::new(NO_AUTH))?;
        let (user, password) = parse_basic(value)?;
        if self.check(&user, &password) {
            Ok(())
        } else {
            Err(AuthError::new(INVALID_CREDENTIALS))
        }
    }
}

impl Lifecycle for BasicAuthServer {}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrotel_core::config::Opaque;

    fn server(file: &str, inline: &str) -> BasicAuthServer {
        BasicAuthServer::new(&HtpasswdSettings {
            file: file.into(),
            inline: Opaque::from(inline),
        })
        .unwrap()
    }

    fn basic(credentials: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let value = format!("Basic {}", STANDARD.encode(credentials));
        headers.insert(http::header::AUTHORIZATION, value.parse().unwrap());
        headers
    }

    fn raw(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::AUTHORIZATION, value.parse().unwrap());
        headers
    }

    #[test]
    fn htpasswd_bcrypt_from_a_file_and_inline_precedence() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".htpasswd");
        let hash = bcrypt::hash("b-pass", 4)
            .unwrap()
            .replacen("$2b$", "$2y$", 1);
        std::fs::write(&path, format!("bob:{hash}\nusername:fromfile\n")).unwrap();
        let auth = server(path.to_str().unwrap(), "username:frominline");
        assert!(auth.authenticate(&basic("bob:b-pass")).is_ok());
        // The second time is answered from the remembered verification, and still exact.
        assert!(auth.authenticate(&basic("bob:b-pass")).is_ok());
        assert!(auth.authenticate(&basic("bob:b-pasS")).is_err());
        assert!(auth.authenticate(&basic("username:frominline")).is_ok());
        assert_eq!(
            auth.authenticate(&basic("username:fromfile"))
                .unwrap_err()
                .to_string(),
            INVALID_CREDENTIALS
        );
        assert!(auth.authenticate(&basic("nobody:b-pass")).is_err());
    }

    #[test]
    fn malformed_headers_get_otelcols_errors() {
        let auth = server("", "username:password");
        let err = |headers: HeaderMap| auth.authenticate(&headers).unwrap_err().to_string();
        assert_eq!(err(HeaderMap::new()), NO_AUTH);
        assert_eq!(err(raw("Bearer token")), INVALID_SCHEME_PREFIX);
        assert_eq!(err(raw("Basic invalid")), INVALID_FORMAT);
        assert_eq!(err(raw("Basic aW52YWxpZAo=")), INVALID_FORMAT);
        assert_eq!(
            err(raw("Basic dXNlcm5hbWU6cGFzc3dvcmR4eHg=")),
            INVALID_CREDENTIALS
        );
        // The scheme is matched without regard to case.
        assert!(
            auth.authenticate(&raw("basic dXNlcm5hbWU6cGFzc3dvcmQ="))
                .is_ok()
        );
    }

    #[test]
    fn a_missing_file_is_an_error() {
        let err = BasicAuthServer::new(&HtpasswdSettings {
            file: "/non/existing/file".into(),
            inline: Opaque::default(),
        })
        .err()
        .unwrap();
        assert!(err.to_string().contains("open htpasswd file"), "{err}");
    }
}
