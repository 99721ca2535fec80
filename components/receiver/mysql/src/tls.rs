//! `tls:` turned into mysql_async's rustls options. The driver builds its own rustls config after
//! the server's SSL request, so only what `SslOpts` can express is honoured: CA roots (file or
//! PEM, with or without the built-in Mozilla roots), a client certificate, the server name and
//! skipping verification. Settings it cannot apply are refused at validation rather than ignored.

use std::path::PathBuf;

use ferrotel_core::tls::TlsClientSetting;
use mysql_async::{ClientIdentity, SslOpts};

/// Why `tls` cannot be honoured by the MySQL driver, if it cannot.
pub fn unsupported(tls: &TlsClientSetting) -> Result<(), String> {
    if tls.insecure {
        return Ok(());
    }
    let refuse = |what: &str| {
        Err(format!(
            "{what} cannot be applied to MySQL connections (the driver negotiates TLS itself)"
        ))
    };
    if !tls.cipher_suites.is_empty() {
        return refuse("cipher_suites");
    }
    if !tls.curve_preferences.is_empty() {
        return refuse("curve_preferences");
    }
    if tls.min_version == "1.3" {
        return refuse("min_version 1.3");
    }
    if tls.max_version == "1.2" {
        return refuse("max_version 1.2");
    }
    if !tls.reload_interval.is_zero() {
        return refuse("reload_interval");
    }
    if tls.tpm.enabled {
        return refuse("tpm");
    }
    let has_cert = !tls.cert_file.is_empty() || !tls.cert_pem.is_empty();
    let has_key = !tls.key_file.is_empty() || !tls.key_pem.is_empty();
    if has_cert != has_key {
        return Err("a client certificate needs both a certificate and a key".into());
    }
    Ok(())
}

/// The driver's `PathOrBuf` (which it does not export, hence the generic) for a file or PEM text.
fn path_or_pem<T: From<PathBuf> + From<Vec<u8>>>(file: &str, pem: &str) -> Option<T> {
    if !file.is_empty() {
        Some(T::from(PathBuf::from(file)))
    } else if !pem.is_empty() {
        Some(T::from(pem.as_bytes().to_vec()))
    } else {
        None
    }
}

/// The driver's options, `None` for a clear-text session.
pub fn ssl_opts(tls: &TlsClientSetting) -> anyhow::Result<Option<SslOpts>> {
    if tls.insecure {
        return Ok(None);
    }
    unsupported(tls).map_err(anyhow::Error::msg)?;
    let mut opts = SslOpts::default();
    if let Some(ca) = path_or_pem(&tls.ca_file, &tls.ca_pem) {
        opts = opts
            .with_root_certs(vec![ca])
            .with_disable_built_in_roots(!tls.include_system_ca_certs_pool);
    }
    if let (Some(cert), Some(key)) = (
        path_or_pem(&tls.cert_file, &tls.cert_pem),
        path_or_pem(&tls.key_file, &tls.key_pem),
    ) {
        opts = opts.with_client_identity(Some(ClientIdentity::new(cert, key)));
    }
    if tls.insecure_skip_verify {
        opts = opts
            .with_danger_accept_invalid_certs(true)
            .with_danger_skip_domain_validation(true);
    }
    if !tls.server_name_override.is_empty() {
        opts = opts.with_danger_tls_hostname_override(Some(tls.server_name_override.clone()));
    }
    Ok(Some(opts))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tls() -> TlsClientSetting {
        TlsClientSetting::default()
    }

    #[test]
    fn settings_map_onto_the_driver() {
        let insecure = TlsClientSetting {
            insecure: true,
            ..tls()
        };
        assert!(ssl_opts(&insecure).unwrap().is_none());
        let opts = ssl_opts(&TlsClientSetting {
            ca_file: "/ca.pem".into(),
            server_name_override: "db.example".into(),
            ..tls()
        })
        .unwrap()
        .expect("TLS on");
        assert_eq!(opts.root_certs().len(), 1);
        assert!(
            opts.disable_built_in_roots(),
            "a CA replaces the system roots"
        );
        assert_eq!(opts.tls_hostname_override(), Some("db.example"));
        assert!(!opts.accept_invalid_certs());
        let opts = ssl_opts(&TlsClientSetting {
            insecure_skip_verify: true,
            cert_pem: "C".into(),
            key_pem: "K".into(),
            ..tls()
        })
        .unwrap()
        .unwrap();
        assert!(opts.accept_invalid_certs() && opts.skip_domain_validation());
        assert!(opts.client_identity().is_some());
        assert!(!opts.disable_built_in_roots());
    }

    #[test]
    fn what_the_driver_cannot_do_is_refused() {
        let err = |t: TlsClientSetting| unsupported(&t).unwrap_err();
        assert!(
            err(TlsClientSetting {
                cipher_suites: vec!["TLS_AES_128_GCM_SHA256".into()],
                ..tls()
            })
            .contains("cipher_suites")
        );
        assert!(
            err(TlsClientSetting {
                min_version: "1.3".into(),
                ..tls()
            })
            .contains("min_version")
        );
        assert!(
            err(TlsClientSetting {
                cert_file: "/c.pem".into(),
                ..tls()
            })
            .contains("key")
        );
        // the same settings with TLS off are nobody's concern
        assert!(
            unsupported(&TlsClientSetting {
                insecure: true,
                min_version: "1.3".into(),
                ..tls()
            })
            .is_ok()
        );
    }
}
