//! What client and server TLS share: the `configtls.Config` keys both sides have (certificate and
//! key, CA, versions, cipher suites, curves, reload, TPM) and the rustls pieces built from them.

use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, SupportedProtocolVersion};

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

/// What a `Debug` impl shows of an inline PEM: whether it is set, never its content.
pub(super) fn redact(pem: &str) -> &'static str {
    if pem.is_empty() { "" } else { "[REDACTED]" }
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

/// The keys of otelcol's `configtls.Config`, borrowed from a client or a server setting.
pub(super) struct CommonKeys<'a> {
    pub ca_file: &'a str,
    pub ca_pem: &'a str,
    pub cert_file: &'a str,
    pub cert_pem: &'a str,
    pub key_file: &'a str,
    pub key_pem: &'a str,
    pub min_version: &'a str,
    pub max_version: &'a str,
    pub cipher_suites: &'a [String],
    pub curve_preferences: &'a [String],
    pub reload_interval: Duration,
    pub tpm: &'a TpmSetting,
}

impl CommonKeys<'_> {
    pub fn has_cert(&self) -> bool {
        !self.cert_file.is_empty() || !self.cert_pem.is_empty()
    }

    fn has_key(&self) -> bool {
        !self.key_file.is_empty() || !self.key_pem.is_empty()
    }

    /// The checks otelcol makes on both sides, in its order and with its messages.
    pub fn validate(&self) -> Result<(), String> {
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
        let min = parse_version(self.min_version, Version::V12)
            .map_err(|e| format!("invalid TLS min_version: {e}"))?;
        let max = parse_version(self.max_version, Version::V13)
            .map_err(|e| format!("invalid TLS max_version: {e}"))?;
        if !self.max_version.is_empty() && max < min {
            return Err(
                "invalid TLS configuration: min_version cannot be greater than max_version".into(),
            );
        }
        Ok(())
    }

    pub fn refuse_tpm(&self) -> anyhow::Result<()> {
        if self.tpm.enabled {
            bail!("tls::tpm is not supported by ferrotel: load the key from key_file or key_pem");
        }
        Ok(())
    }

    pub fn versions(&self) -> anyhow::Result<Vec<&'static SupportedProtocolVersion>> {
        let min = parse_version(self.min_version, Version::V12)
            .map_err(|e| anyhow!("invalid TLS min_version: {e}"))?;
        let max = parse_version(self.max_version, Version::V13)
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

    /// The ring provider narrowed to `cipher_suites` and `curve_preferences`.
    pub fn provider(&self) -> anyhow::Result<CryptoProvider> {
        let mut provider = rustls::crypto::ring::default_provider();
        if !self.cipher_suites.is_empty() {
            let mut wanted = Vec::new();
            for name in self.cipher_suites {
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
            for curve in self.curve_preferences {
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

    /// `ca_file` or `ca_pem` as roots (plus the system roots when `include_system`); `None` when
    /// neither is set.
    pub fn ca_roots(&self, include_system: bool) -> anyhow::Result<Option<RootCertStore>> {
        let (pem, source) = if !self.ca_file.is_empty() {
            let pem = std::fs::read(self.ca_file).with_context(|| {
                format!(
                    "failed to load CA CertPool: failed to load CA {}",
                    self.ca_file
                )
            })?;
            (pem, self.ca_file)
        } else if !self.ca_pem.is_empty() {
            (self.ca_pem.as_bytes().to_vec(), "ca_pem")
        } else {
            return Ok(None);
        };
        roots_from_pem(&pem, include_system)
            .with_context(|| format!("failed to load CA CertPool: failed to parse CA {source}"))
            .map(Some)
    }

    /// The certificate and key, re-read from their files after `reload_interval`; `role` names
    /// the certificate in the reload warning.
    pub fn reloading_key_pair(
        &self,
        provider: Arc<CryptoProvider>,
        role: &'static str,
    ) -> anyhow::Result<ReloadingKeyPair> {
        let source = KeyPairSource {
            cert_file: self.cert_file.to_string(),
            cert_pem: self.cert_pem.to_string(),
            key_file: self.key_file.to_string(),
            key_pem: self.key_pem.to_string(),
            reload_interval: self.reload_interval,
        };
        let key = source.load(&provider)?;
        Ok(ReloadingKeyPair {
            source,
            provider,
            role,
            state: RwLock::new((key, Instant::now())),
        })
    }
}

/// Go's name for a suite: rustls spells TLS 1.3 suites `TLS13_…`, Go `TLS_…`.
pub(super) fn go_suite_name(suite: &rustls::SupportedCipherSuite) -> String {
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

/// Every certificate of a PEM bundle as a root (plus the system roots when `include_system`).
pub(super) fn roots_from_pem(pem: &[u8], include_system: bool) -> anyhow::Result<RootCertStore> {
    let mut roots = if include_system {
        system_roots()
    } else {
        RootCertStore::empty()
    };
    let certs = parse_certs(pem)?;
    if certs.is_empty() {
        bail!("no certificate found");
    }
    for cert in certs {
        roots.add(cert).context("invalid CA certificate")?;
    }
    Ok(roots)
}

/// The "system" pool: the Mozilla root set.
pub(super) fn system_roots() -> RootCertStore {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    roots
}

/// Where the certificate and key come from (owned: a reload outlives the setting it came from).
struct KeyPairSource {
    cert_file: String,
    cert_pem: String,
    key_file: String,
    key_pem: String,
    reload_interval: Duration,
}

impl KeyPairSource {
    fn load(&self, provider: &CryptoProvider) -> anyhow::Result<Arc<CertifiedKey>> {
        let read = |file: &str, pem: &str| -> anyhow::Result<Vec<u8>> {
            if file.is_empty() {
                Ok(pem.as_bytes().to_vec())
            } else {
                std::fs::read(file)
                    .with_context(|| format!("failed to load TLS cert and key: open {file}"))
            }
        };
        let cert_pem = read(&self.cert_file, &self.cert_pem)?;
        let key_pem = read(&self.key_file, &self.key_pem)?;
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

    fn reload_due(&self, loaded: Instant) -> bool {
        let from_files = !self.cert_file.is_empty() || !self.key_file.is_empty();
        from_files && !self.reload_interval.is_zero() && loaded.elapsed() >= self.reload_interval
    }
}

/// A certificate and key, re-read from their files once `reload_interval` has passed (lazily, on
/// a handshake, as otelcol's certReloader does). A failed reload keeps the previous pair.
/// Serves as the client's and the server's certificate resolver.
pub(super) struct ReloadingKeyPair {
    source: KeyPairSource,
    provider: Arc<CryptoProvider>,
    role: &'static str,
    state: RwLock<(Arc<CertifiedKey>, Instant)>,
}

impl ReloadingKeyPair {
    pub fn current(&self) -> Option<Arc<CertifiedKey>> {
        let (key, loaded) = self.state.read().ok().map(|s| (s.0.clone(), s.1))?;
        if !self.source.reload_due(loaded) {
            return Some(key);
        }
        let mut state = self.state.write().ok()?;
        if !self.source.reload_due(state.1) {
            return Some(state.0.clone());
        }
        match self.source.load(&self.provider) {
            Ok(fresh) => *state = (fresh, Instant::now()),
            Err(e) => {
                tracing::warn!(cert_file = %self.source.cert_file, error = %format!("{e:#}"), "{} reload failed; keeping the previous one", self.role);
                state.1 = Instant::now();
            }
        }
        Some(state.0.clone())
    }
}

impl fmt::Debug for ReloadingKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReloadingKeyPair")
            .field("cert_file", &self.source.cert_file)
            .finish_non_exhaustive()
    }
}
