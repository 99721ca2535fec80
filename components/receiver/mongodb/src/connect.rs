//! The driver's client options from the receiver's config, as otelcol's `ClientOptions` builds
//! them: hosts, replica set, direct connection, credential, connect timeout and TLS.
//!
//! The MongoDB driver builds its own rustls settings from file paths, so `tls:` maps onto what it
//! takes: `insecure` (no TLS), `insecure_skip_verify`, a CA and a client certificate with its key.
//! PEM given inline, or a certificate and key in two files, are written to private temporary
//! files (mode 0600) that live as long as the receiver. Keys the driver cannot honour are refused
//! when the receiver is created.

use std::io::Write;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use mongodb::bson::Document;
use mongodb::options::{AuthMechanism, ClientOptions, Credential, ServerAddress, Tls, TlsOptions};

use crate::config::Config;
use ferrotel_core::tls::TlsClientSetting;

/// The options and the temporary files they point at (kept alive with them).
pub struct Prepared {
    pub options: ClientOptions,
    pub first_host: (String, i64),
    _files: Vec<tempfile::NamedTempFile>,
}

pub fn prepare(config: &Config) -> anyhow::Result<Prepared> {
    if config.scheme == "mongodb+srv" {
        bail!(
            "scheme mongodb+srv needs DNS SRV lookups, which ferrotel's MongoDB driver is built without; list the hosts with scheme mongodb"
        );
    }
    let mut hosts = Vec::new();
    for host in &config.hosts {
        let address = ServerAddress::parse(&host.endpoint)
            .map_err(|e| anyhow!("hosts: endpoint {:?} is not host:port: {e}", host.endpoint))?;
        hosts.push(address);
    }
    let first_host = match hosts.first() {
        Some(ServerAddress::Tcp { host, port }) => (host.clone(), i64::from(port.unwrap_or(27017))),
        _ => (String::new(), 27017),
    };
    let mut options = ClientOptions::default();
    options.hosts = hosts;
    let timeout = config.effective_timeout();
    if !config.timeout.is_zero() {
        options.connect_timeout = Some(*config.timeout);
    }
    // under the scrape's deadline, so that the driver's reason (refused, unknown host, TLS) is
    // what the log says rather than the bare deadline
    options.server_selection_timeout = Some(timeout.mul_f64(0.8).max(Duration::from_millis(100)));
    if !config.replica_set.is_empty() {
        options.repl_set_name = Some(config.replica_set.clone());
    }
    if config.direct_connection {
        options.direct_connection = Some(true);
    }
    options.credential = credential(config)?;
    let mut files = Vec::new();
    options.tls = Some(tls(&config.tls, &mut files)?);
    Ok(Prepared {
        options,
        first_host,
        _files: files,
    })
}

/// Set when a user and password are given, or a mechanism that needs neither (X.509, …).
fn credential(config: &Config) -> anyhow::Result<Option<Credential>> {
    let with_password = !config.username.is_empty() && !config.password.is_empty();
    if !with_password && config.auth_mechanism.is_empty() {
        return Ok(None);
    }
    let mut credential = Credential::default();
    if !config.username.is_empty() {
        credential.username = Some(config.username.clone());
    }
    if !config.password.is_empty() {
        credential.password = Some(config.password.expose().to_string());
    }
    if !config.auth_mechanism.is_empty() {
        let mechanism = AuthMechanism::from_str(&config.auth_mechanism)
            .map_err(|e| anyhow!("auth_mechanism {:?}: {e}", config.auth_mechanism))?;
        credential.mechanism = Some(mechanism);
    }
    if !config.auth_source.is_empty() {
        credential.source = Some(config.auth_source.clone());
    }
    if !config.auth_mechanism_properties.is_empty() {
        let mut properties = Document::new();
        for (k, v) in &config.auth_mechanism_properties {
            properties.insert(k.clone(), v.clone());
        }
        credential.mechanism_properties = Some(properties);
    }
    Ok(Some(credential))
}

fn tls(
    setting: &TlsClientSetting,
    files: &mut Vec<tempfile::NamedTempFile>,
) -> anyhow::Result<Tls> {
    if setting.insecure {
        return Ok(Tls::Disabled);
    }
    let unsupported = [
        (
            "server_name_override",
            !setting.server_name_override.is_empty(),
        ),
        ("cipher_suites", !setting.cipher_suites.is_empty()),
        ("curve_preferences", !setting.curve_preferences.is_empty()),
        (
            "include_system_ca_certs_pool",
            setting.include_system_ca_certs_pool,
        ),
        ("reload_interval", !setting.reload_interval.is_zero()),
        ("tpm", setting.tpm.enabled),
        (
            "min_version",
            !matches!(setting.min_version.as_str(), "" | "1.2"),
        ),
        (
            "max_version",
            !matches!(setting.max_version.as_str(), "" | "1.3"),
        ),
    ];
    if let Some((key, _)) = unsupported.iter().find(|(_, set)| *set) {
        bail!(
            "tls::{key} is not supported by the mongodb receiver: the MongoDB driver makes its own TLS settings (TLS 1.2 and 1.3, default suites, the server's host name)"
        );
    }
    let mut options = TlsOptions::default();
    if setting.insecure_skip_verify {
        options.allow_invalid_certificates = Some(true);
    }
    if !setting.ca_file.is_empty() {
        options.ca_file_path = Some(setting.ca_file.clone().into());
    } else if !setting.ca_pem.is_empty() {
        let file = private_file(&[setting.ca_pem.as_bytes()])?;
        options.ca_file_path = Some(file.path().to_path_buf());
        files.push(file);
    }
    let cert = read_or_inline(&setting.cert_file, &setting.cert_pem, "cert_file")?;
    let key = read_or_inline(&setting.key_file, &setting.key_pem, "key_file")?;
    match (cert, key) {
        (None, None) => {}
        (Some(_), None) | (None, Some(_)) => {
            bail!("tls: a client certificate needs both a certificate and a key")
        }
        (Some(_), Some(_))
            if !setting.cert_file.is_empty() && setting.cert_file == setting.key_file =>
        {
            options.cert_key_file_path = Some(setting.cert_file.clone().into());
        }
        (Some(cert), Some(key)) => {
            let file = private_file(&[&cert, b"\n", &key])?;
            options.cert_key_file_path = Some(file.path().to_path_buf());
            files.push(file);
        }
    }
    Ok(Tls::Enabled(options))
}

fn read_or_inline(file: &str, pem: &str, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
    if !file.is_empty() {
        return std::fs::read(file)
            .map(Some)
            .with_context(|| format!("tls::{key}: cannot read {file:?}"));
    }
    Ok((!pem.is_empty()).then(|| pem.as_bytes().to_vec()))
}

/// A temporary file only the owner can read (tempfile creates it 0600).
fn private_file(parts: &[&[u8]]) -> anyhow::Result<tempfile::NamedTempFile> {
    let mut file = tempfile::Builder::new()
        .prefix("ferrotel-mongodb-tls-")
        .suffix(".pem")
        .tempfile()
        .context("cannot create a temporary file for the TLS material")?;
    for part in parts {
        file.write_all(part)?;
    }
    file.flush()?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrotel_core::config::{Node, decode_validated};

    fn prepared(text: &str) -> anyhow::Result<Prepared> {
        let node = Node::parse(text, "t.yaml").unwrap();
        prepare(&decode_validated::<Config>(&node).unwrap())
    }

    #[test]
    fn options_follow_the_config() {
        let p = prepared(
            "hosts: [{endpoint: 'db1:27018'}, {endpoint: db2}]\nreplica_set: rs0\n\
             username: u\npassword: secret\nauth_source: admin\ntimeout: 10s\ntls:\n  insecure: true\n",
        )
        .unwrap();
        let o = &p.options;
        assert_eq!(o.hosts.len(), 2);
        assert_eq!(p.first_host, ("db1".to_string(), 27018));
        assert_eq!(o.repl_set_name.as_deref(), Some("rs0"));
        assert_eq!(o.direct_connection, None);
        assert_eq!(o.connect_timeout, Some(Duration::from_secs(10)));
        assert_eq!(o.server_selection_timeout, Some(Duration::from_secs(8)));
        assert_eq!(o.tls, Some(Tls::Disabled));
        let c = o.credential.as_ref().unwrap();
        assert_eq!(c.username.as_deref(), Some("u"));
        assert_eq!(c.source.as_deref(), Some("admin"));
        assert!(!format!("{:?}", p.options).contains("secret"));
    }

    #[test]
    fn tls_is_on_by_default_and_maps_onto_the_drivers_keys() {
        let p = prepared("").unwrap();
        assert_eq!(p.options.tls, Some(Tls::Enabled(TlsOptions::default())));
        assert!(p.options.credential.is_none());
        let p = prepared("tls:\n  insecure_skip_verify: true\n  ca_pem: PEMDATA\n").unwrap();
        let Some(Tls::Enabled(o)) = &p.options.tls else {
            panic!("no TLS")
        };
        assert_eq!(o.allow_invalid_certificates, Some(true));
        let path = o.ca_file_path.clone().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "PEMDATA");
        drop(p);
        assert!(
            !path.exists(),
            "the temporary CA file outlived the receiver"
        );
        let p = prepared("tls:\n  cert_pem: CERT\n  key_pem: KEY\n").unwrap();
        let Some(Tls::Enabled(o)) = &p.options.tls else {
            panic!("no TLS")
        };
        let combined = std::fs::read_to_string(o.cert_key_file_path.as_ref().unwrap()).unwrap();
        assert_eq!(combined, "CERT\nKEY");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(o.cert_key_file_path.as_ref().unwrap()).unwrap();
            assert_eq!(
                mode.permissions().mode() & 0o077,
                0,
                "the key file is readable by others"
            );
        }
    }

    #[test]
    fn what_the_driver_cannot_do_is_refused_plainly() {
        let err = |text: &str| prepared(text).err().expect("refused").to_string();
        assert!(err("tls:\n  server_name_override: x\n").contains("tls::server_name_override"));
        assert!(err("tls:\n  min_version: '1.3'\n").contains("tls::min_version"));
        assert!(err("scheme: mongodb+srv\n").contains("mongodb+srv"));
        assert!(err("auth_mechanism: NOPE\ntls: {insecure: true}\n").contains("auth_mechanism"));
        assert!(err("hosts: [{endpoint: 'h:notaport'}]\n").contains("h:notaport"));
    }
}
