//! Server-side TLS settings with otelcol's `configtls` server keys, turned into a rustls
//! `ServerConfig` on the ring provider. Used by every listener that takes a `tls:` section.
//!
//! Differences from Go's crypto/tls that a user can notice, each logged when it applies:
//! TLS 1.0/1.1 do not exist in rustls (a `min_version` below 1.2 is raised to 1.2); only the
//! ECDHE AEAD TLS 1.2 suites exist (CBC and RSA-kx suites named in `cipher_suites` are skipped);
//! the "system" CA pool is the Mozilla root set (webpki-roots); P-521 and ML-KEM curves are not
//! offered by the ring provider.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig, SupportedProtocolVersion};

use crate::config::{GoDuration, Validate};

/// `tls:` of a server (otelcol `configtls.ServerConfig`).
#[derive(Clone, PartialEq, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsServerSetting {
    /// For a server otelcol loads it as root CAs, which a server never consults; only
    /// `client_ca_file` turns on client verification. Kept for config compatibility.
    pub ca_file: String,
    pub ca_pem: String,
    pub cert_file: String,
    pub cert_pem: String,
    pub key_file: String,
    pub key_pem: String,
    pub cipher_suites: Vec<String>,
    pub curve_preferences: Vec<String>,
    pub include_insecure_cipher_suites: bool,
    pub include_system_ca_certs_pool: bool,
    /// Empty means "1.2", as in otelcol.
    pub min_version: String,
    /// Empty means the highest supported (1.3).
    pub max_version: String,
    /// Re-reads `cert_file`/`key_file` on the first handshake after this much time (0: never).
    pub reload_interval: GoDuration,
    pub tpm: TpmSetting,
    /// CA bundle that client certificates must chain to; setting it requires client certificates.
    pub client_ca_file: String,
    pub client_ca_file_reload: bool,
}

/// Secrets stay out of logs and debug output.
impl fmt::Debug for TlsServerSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redact = |s: &str| if s.is_empty() { "" } else { "[REDACTED]" };
        f.debug_struct("TlsServerSetting")
            .field("ca_file", &self.ca_file)
            .field("ca_pem", &redact(&self.ca_pem))
            .field("cert_file", &self.cert_file)
            .field("cert_pem", &redact(&self.cert_pem))
            .field("key_file", &self.key_file)
            .field("key_pem", &redact(&self.key_pem))
            .field("cipher_suites", &self.cipher_suites)
            .field("min_version", &self.min_version)
            .field("max_version", &self.max_version)
            .field("reload_interval", &self.reload_interval)
            .field("client_ca_file", &self.client_ca_file)
            .finish_non_exhaustive()
    }
}

/// `tls::tpm` (keys held in a Trusted Platform Module); accepted, refused when enabled.
#[derive(Clone, PartialEq, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TpmSetting {
    pub auth: String,
    pub enabled: bool,
    pub owner_auth: String,
    pub path: String,
}

impl fmt::Debug for TpmSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TpmSetting")
            .field("enabled", &self.enabled)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Version {
    V10,
    V11,
    V12,
    V13,
}

fn parse_version(v: &str, default: Version) -> Result<Version, String> {
    match v {
        "" => Ok(default),
        "1.0" => Ok(Version::V10),
        "1.1" => Ok(Version::V11),
        "1.2" => Ok(Version::V12),
        "1.3" => Ok(Version::V13),
        other => Err(format!("unsupported TLS version: {other:?}")),
    }
}

impl TlsServerSetting {
    fn has_cert(&self) -> bool {
        !self.cert_file.is_empty() || !self.cert_pem.is_empty()
    }

    fn has_key(&self) -> bool {
        !self.key_file.is_empty() || !self.key_pem.is_empty()
    }

    /// Builds the rustls config; `alpn` lists the application protocols to offer (`h2`, `http/1.1`).
    pub fn server_config(&self, alpn: &[&[u8]]) -> anyhow::Result<Arc<ServerConfig>> {
        self.validate().map_err(|e| anyhow!(e))?;
        if self.tpm.enabled {
            bail!("tls::tpm is not supported by ferrotel: load the key from key_file or key_pem");
        }
        if self.client_ca_file_reload {
            tracing::warn!(
                "tls::client_ca_file_reload is not supported yet; the client CA file is read once at start"
            );
        }
        let provider = Arc::new(self.provider()?);
        let versions = self.versions()?;
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&versions)
            .context("TLS versions and cipher suites do not fit together")?;
        let builder = if self.client_ca_file.is_empty() {
            builder.with_no_client_auth()
        } else {
            let roots = self.client_roots()?;
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .context("failed to load client CA CertPool")?;
            builder.with_client_cert_verifier(verifier)
        };
        if !self.ca_file.is_empty() || !self.ca_pem.is_empty() {
            // Parsed for early errors only: a server does not use root CAs (otelcol neither).
            load_roots(self.ca_pem_bytes()?.as_slice(), false)
                .context("failed to load CA CertPool")?;
        }
        let resolver = ReloadingCert::new(self.clone(), provider)?;
        let mut config = builder.with_cert_resolver(Arc::new(resolver));
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(Arc::new(config))
    }

    fn versions(&self) -> anyhow::Result<Vec<&'static SupportedProtocolVersion>> {
        let min = parse_version(&self.min_version, Version::V12)
            .map_err(|e| anyhow!("invalid TLS min_version: {e}"))?;
        let max = parse_version(&self.max_version, Version::V13)
            .map_err(|e| anyhow!("invalid TLS max_version: {e}"))?;
        if max < Version::V12 {
            bail!(
                "tls::max_version {:?}: TLS 1.0 and 1.1 are not supported (rustls offers 1.2 and 1.3)",
                self.max_version
            );
        }
        if min < Version::V12 {
            tracing::warn!(min_version = %self.min_version, "TLS 1.0 and 1.1 are not supported; the minimum is 1.2");
        }
        let mut versions = Vec::new();
        if min <= Version::V12 {
            versions.push(&rustls::version::TLS12);
        }
        if max >= Version::V13 {
            versions.push(&rustls::version::TLS13);
        }
        Ok(versions)
    }

    fn provider(&self) -> anyhow::Result<CryptoProvider> {
        let mut provider = rustls::crypto::ring::default_provider();
        if !self.cipher_suites.is_empty() {
            let mut wanted = Vec::new();
            for name in &self.cipher_suites {
                match provider
                    .cipher_suites
                    .iter()
                    .find(|s| go_suite_name(s) == *name)
                {
                    Some(suite) => wanted.push(*suite),
                    None if GO_ONLY_SUITES.contains(&name.as_str()) => {
                        tracing::warn!(cipher_suite = %name, "TLS cipher suite not available with rustls; ignored")
                    }
                    None => bail!("invalid TLS cipher suite: {name:?}"),
                }
            }
            // As in Go, the list governs TLS 1.2 only; TLS 1.3 suites stay on.
            let tls13: Vec<_> = provider
                .cipher_suites
                .iter()
                .filter(|s| s.version() == &rustls::version::TLS13)
                .copied()
                .collect();
            wanted.retain(|s| s.version() != &rustls::version::TLS13);
            provider.cipher_suites = tls13.into_iter().chain(wanted).collect();
        }
        if !self.curve_preferences.is_empty() {
            use rustls::crypto::ring::kx_group;
            let mut groups = Vec::new();
            for curve in &self.curve_preferences {
                match curve.as_str() {
                    "X25519" => groups.push(kx_group::X25519),
                    "P256" => groups.push(kx_group::SECP256R1),
                    "P384" => groups.push(kx_group::SECP384R1),
                    "P521" | "X25519MLKEM768" => {
                        tracing::warn!(curve = %curve, "TLS curve not available with the ring provider; ignored")
                    }
                    other => bail!(
                        "invalid curve type: {other}. Expected values are [P256 P384 P521 X25519 X25519MLKEM768]"
                    ),
                }
            }
            if groups.is_empty() {
                bail!(
                    "tls::curve_preferences: none of the listed curves is available (X25519, P256 and P384 are)"
                );
            }
            provider.kx_groups = groups;
        }
        Ok(provider)
    }

    fn ca_pem_bytes(&self) -> anyhow::Result<Vec<u8>> {
        if !self.ca_file.is_empty() {
            return std::fs::read(&self.ca_file)
                .with_context(|| format!("failed to load CA {}", self.ca_file));
        }
        Ok(self.ca_pem.as_bytes().to_vec())
    }

    fn client_roots(&self) -> anyhow::Result<RootCertStore> {
        let pem = std::fs::read(&self.client_ca_file).with_context(|| {
            format!(
                "failed to load client CA CertPool: failed to load CA {}",
                self.client_ca_file
            )
        })?;
        load_roots(&pem, self.include_system_ca_certs_pool).with_context(|| {
            format!(
                "failed to load client CA CertPool: failed to parse CA {}",
                self.client_ca_file
            )
        })
    }

    fn load_certified_key(&self, provider: &CryptoProvider) -> anyhow::Result<Arc<CertifiedKey>> {
        let cert_pem = if self.cert_file.is_empty() {
            self.cert_pem.as_bytes().to_vec()
        } else {
            std::fs::read(&self.cert_file).with_context(|| {
                format!("failed to load TLS cert and key: open {}", self.cert_file)
            })?
        };
        let key_pem = if self.key_file.is_empty() {
            self.key_pem.as_bytes().to_vec()
        } else {
            std::fs::read(&self.key_file).with_context(|| {
                format!("failed to load TLS cert and key: open {}", self.key_file)
            })?
        };
        let certs = parse_certs(&cert_pem).context("failed to load TLS cert and key PEMs")?;
        if certs.is_empty() {
            bail!(
                "failed to load TLS cert and key PEMs: no certificate found in the certificate PEM"
            );
        }
        let key = parse_key(&key_pem).context("failed to load TLS cert and key PEMs")?;
        let certified = CertifiedKey::from_der(certs, key, provider)
            .context("failed to load TLS cert and key PEMs")?;
        Ok(Arc::new(certified))
    }
}

impl Validate for TlsServerSetting {
    fn validate(&self) -> Result<(), String> {
        if !self.ca_file.is_empty() && !self.ca_pem.is_empty() {
            return Err("provide either a CA file or the PEM-encoded string, but not both".into());
        }
        if !self.cert_file.is_empty() && !self.cert_pem.is_empty() {
            return Err("provide either certificate file or PEM, but not both".into());
        }
        if !self.key_file.is_empty() && !self.key_pem.is_empty() {
            return Err("provide either key file or PEM, but not both".into());
        }
        if self.has_cert() != self.has_key() {
            return Err("TLS configuration must include both certificate and key (CertFile/CertPem and KeyFile/KeyPem)".into());
        }
        let min = parse_version(&self.min_version, Version::V12)
            .map_err(|e| format!("invalid TLS min_version: {e}"))?;
        let max = parse_version(&self.max_version, Version::V13)
            .map_err(|e| format!("invalid TLS max_version: {e}"))?;
        if !self.max_version.is_empty() && max < min {
            return Err(
                "invalid TLS configuration: min_version cannot be greater than max_version".into(),
            );
        }
        if !self.has_cert() {
            return Err(
                "TLS configuration must include both certificate and key for server connections"
                    .into(),
            );
        }
        Ok(())
    }
}

/// Go's name for a suite: rustls spells TLS 1.3 suites `TLS13_…`, Go `TLS_…`.
fn go_suite_name(suite: &rustls::SupportedCipherSuite) -> String {
    let name = format!("{:?}", suite.suite());
    match name.strip_prefix("TLS13_") {
        Some(rest) => format!("TLS_{rest}"),
        None => name,
    }
}

/// Suites Go knows (secure and insecure) that rustls does not implement.
const GO_ONLY_SUITES: &[&str] = &[
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
    "TLS_RSA_WITH_RC4_128_SHA",
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
];

fn parse_certs(pem: &[u8]) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    rustls_pemfile::certs(&mut &pem[..])
        .collect::<Result<Vec<_>, _>>()
        .context("malformed certificate PEM")
}

fn parse_key(pem: &[u8]) -> anyhow::Result<PrivateKeyDer<'static>> {
    rustls_pemfile::private_key(&mut &pem[..])
        .context("malformed private key PEM")?
        .ok_or_else(|| anyhow!("no private key found in the key PEM"))
}

fn load_roots(pem: &[u8], include_system: bool) -> anyhow::Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    if include_system {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    let certs = parse_certs(pem)?;
    if certs.is_empty() {
        bail!("no certificate found");
    }
    for cert in certs {
        roots.add(cert).context("invalid CA certificate")?;
    }
    Ok(roots)
}

/// Serves the certificate, re-reading the files once `reload_interval` has passed (as otelcol's
/// certReloader does: lazily, on a handshake). A failed reload keeps the previous certificate.
struct ReloadingCert {
    setting: TlsServerSetting,
    provider: Arc<CryptoProvider>,
    state: RwLock<(Arc<CertifiedKey>, Instant)>,
}

impl ReloadingCert {
    fn new(setting: TlsServerSetting, provider: Arc<CryptoProvider>) -> anyhow::Result<Self> {
        let key = setting.load_certified_key(&provider)?;
        Ok(ReloadingCert {
            setting,
            provider,
            state: RwLock::new((key, Instant::now())),
        })
    }

    fn reload_due(&self, loaded: Instant) -> bool {
        let interval: Duration = self.setting.reload_interval.0;
        let from_files = !self.setting.cert_file.is_empty() || !self.setting.key_file.is_empty();
        from_files && !interval.is_zero() && loaded.elapsed() >= interval
    }
}

impl fmt::Debug for ReloadingCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReloadingCert")
            .field("cert_file", &self.setting.cert_file)
            .finish_non_exhaustive()
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let (key, loaded) = self.state.read().ok().map(|s| (s.0.clone(), s.1))?;
        if !self.reload_due(loaded) {
            return Some(key);
        }
        let mut state = self.state.write().ok()?;
        if !self.reload_due(state.1) {
            return Some(state.0.clone());
        }
        match self.setting.load_certified_key(&self.provider) {
            Ok(fresh) => *state = (fresh, Instant::now()),
            Err(e) => {
                tracing::warn!(cert_file = %Path::new(&self.setting.cert_file).display(), error = %format!("{e:#}"), "TLS certificate reload failed; keeping the previous one");
                state.1 = Instant::now();
            }
        }
        Some(state.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setting(yaml: &str) -> Result<TlsServerSetting, String> {
        let node = crate::config::Node::parse(yaml, "t.yaml").unwrap();
        crate::config::decode_validated::<TlsServerSetting>(&node).map_err(|e| e.to_string())
    }

    #[test]
    fn validation_messages_follow_otelcol() {
        assert!(
            setting("cert_file: a\n")
                .unwrap_err()
                .contains("must include both certificate and key (CertFile")
        );
        assert!(
            setting("min_version: \"1.3\"\n")
                .unwrap_err()
                .contains("for server connections")
        );
        assert!(
            setting("cert_file: a\nkey_file: b\nmin_version: \"1.5\"\n")
                .unwrap_err()
                .contains("invalid TLS min_version: unsupported TLS version: \"1.5\"")
        );
        assert!(
            setting("cert_file: a\nkey_file: b\nmin_version: \"1.3\"\nmax_version: \"1.2\"\n")
                .unwrap_err()
                .contains("min_version cannot be greater")
        );
        assert!(
            setting("cert_file: a\ncert_pem: x\nkey_file: b\n")
                .unwrap_err()
                .contains("either certificate file or PEM")
        );
        assert!(setting("cert_file: a\nkey_file: b\nbogus: 1\n").is_err());
        let ok =
            setting("cert_file: a\nkey_file: b\nreload_interval: 1m\nclient_ca_file: c\n").unwrap();
        assert_eq!(ok.reload_interval.0, Duration::from_secs(60));
    }

    #[test]
    fn missing_files_fail_with_the_path() {
        let s = setting("cert_file: /nonexistent/c.pem\nkey_file: /nonexistent/k.pem\n").unwrap();
        let err = format!("{:#}", s.server_config(&[b"h2"]).unwrap_err());
        assert!(err.contains("/nonexistent/c.pem"), "{err}");
    }

    #[test]
    fn cipher_suites_map_go_names() {
        let s = TlsServerSetting {
            cipher_suites: vec![
                "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256".into(),
                "TLS_RSA_WITH_AES_128_CBC_SHA".into(),
            ],
            ..Default::default()
        };
        let provider = s.provider().unwrap();
        let names: Vec<String> = provider.cipher_suites.iter().map(go_suite_name).collect();
        assert!(names.contains(&"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256".to_string()));
        assert!(
            names.contains(&"TLS_AES_128_GCM_SHA256".to_string()),
            "TLS 1.3 suites stay on: {names:?}"
        );
        assert!(!names.contains(&"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384".to_string()));
        let bad = TlsServerSetting {
            cipher_suites: vec!["TLS_NOPE".into()],
            ..Default::default()
        };
        assert!(
            bad.provider()
                .unwrap_err()
                .to_string()
                .contains("invalid TLS cipher suite: \"TLS_NOPE\"")
        );
    }

    #[test]
    fn debug_output_hides_pem_secrets() {
        let s = TlsServerSetting {
            key_pem: "-----BEGIN PRIVATE KEY-----secret".into(),
            ..Default::default()
        };
        assert!(!format!("{s:?}").contains("secret"));
    }
}
