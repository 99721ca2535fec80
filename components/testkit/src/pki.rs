//! A private CA made by the test (rcgen, ring) and certificates it signs, written as PEM files
//! in a temporary directory, with rustls configs that trust or serve them.

use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A CA in a temporary directory (`ca.crt`), and the certificates issued so far beside it.
pub struct TestPki {
    dir: tempfile::TempDir,
    ca: CertifiedIssuer<'static, KeyPair>,
}

/// A certificate and its key, as PEM.
#[derive(Clone, Debug)]
pub struct Leaf {
    pub cert_pem: String,
    pub key_pem: String,
}

impl TestPki {
    pub fn new() -> TestPki {
        let dir = tempfile::tempdir().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        // Distinct subject names: OpenSSL-based clients (Python's grpc) take a leaf whose
        // subject equals its issuer for a self-signed certificate.
        params
            .distinguished_name
            .push(DnType::CommonName, "ferrotel test CA");
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        std::fs::write(dir.path().join("ca.crt"), ca.pem()).unwrap();
        TestPki { dir, ca }
    }

    /// A certificate for `names` (DNS names or IP addresses) signed by the CA, also written to
    /// `<file>.crt` and `<file>.key`.
    pub fn issue(&self, file: &str, names: &[&str]) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let sans = names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        let mut params = CertificateParams::new(sans).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, names.first().copied().unwrap_or(file));
        let cert = params.signed_by(&key, &self.ca).unwrap();
        let leaf = Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        };
        std::fs::write(self.dir.path().join(format!("{file}.crt")), &leaf.cert_pem).unwrap();
        std::fs::write(self.dir.path().join(format!("{file}.key")), &leaf.key_pem).unwrap();
        leaf
    }

    pub fn ca_pem(&self) -> String {
        self.ca.pem()
    }

    /// The path of a file in the directory (`ca.crt`, or one written by [`TestPki::issue`]).
    pub fn path(&self, file: &str) -> String {
        self.file(file).display().to_string()
    }

    pub fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.file(file)).unwrap()
    }

    pub fn ca_file(&self) -> String {
        self.path("ca.crt")
    }

    /// A rustls client (ring) that trusts this CA only.
    pub fn client_config(&self) -> rustls::ClientConfig {
        let mut roots = rustls::RootCertStore::empty();
        for cert in certs(&self.ca_pem()) {
            roots.add(cert).unwrap();
        }
        rustls::ClientConfig::builder_with_provider(ring())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth()
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl Default for TestPki {
    fn default() -> Self {
        TestPki::new()
    }
}

impl Leaf {
    /// A rustls server (ring) presenting this certificate, without client authentication.
    pub fn server_config(&self) -> rustls::ServerConfig {
        rustls::ServerConfig::builder_with_provider(ring())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                certs(&self.cert_pem),
                PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes()).unwrap(),
            )
            .unwrap()
    }
}

/// The certificates of a PEM bundle, in order.
pub fn certs(pem: &str) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .map(|c| c.unwrap())
        .collect()
}

fn ring() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}
