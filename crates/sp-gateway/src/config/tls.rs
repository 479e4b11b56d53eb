//! `[server.tls]`: HTTPS for the listener, and optionally mutual TLS.
//!
//! ```toml
//! [server.tls]
//! cert = "/etc/jpki-pf/gateway.crt"        # PEM: the server certificate, then its chain
//! key = "/etc/jpki-pf/gateway.key"         # PEM private key
//! client_ca = "/etc/jpki-pf/sp-clients-ca.pem"  # optional: clients must present a certificate
//!                                          # chaining to one of these CAs (mTLS)
//! ```

use std::path::{Path, PathBuf};

use openssl::pkey::PKey;
use openssl::x509::X509;
use serde::Deserialize;

/// The listener.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// HTTPS (and mTLS) when set; plain HTTP otherwise (behind a TLS-terminating proxy).
    #[serde(default)]
    pub tls: Option<TlsConfig>,
}

/// HTTPS settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain, the server's certificate first.
    pub cert: PathBuf,
    /// PEM private key of the server certificate.
    pub key: PathBuf,
    /// PEM CA certificates client certificates must chain to; when set, every client must
    /// present one (`SslVerifyMode::PEER | FAIL_IF_NO_PEER_CERT`).
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
}

fn read(what: &str, path: &Path, out: &mut Vec<String>) -> Option<Vec<u8>> {
    match std::fs::read(path) {
        Ok(b) => Some(b),
        Err(e) => {
            out.push(format!("server.tls.{what} {}: {e}", path.display()));
            None
        }
    }
}

impl TlsConfig {
    /// Loads each file as the listener would, and reports what is wrong with them.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let chain = read("cert", &self.cert, &mut out).and_then(|pem| match X509::stack_from_pem(&pem) {
            Ok(c) if !c.is_empty() => Some(c),
            _ => {
                out.push(format!(
                    "server.tls.cert {}: no PEM certificate",
                    self.cert.display()
                ));
                None
            }
        });
        let key = read("key", &self.key, &mut out).and_then(|pem| match PKey::private_key_from_pem(&pem) {
            Ok(k) => Some(k),
            Err(_) => {
                out.push(format!(
                    "server.tls.key {}: not a PEM private key",
                    self.key.display()
                ));
                None
            }
        });
        if let (Some(chain), Some(key)) = (&chain, &key) {
            let matches = chain
                .first()
                .and_then(|c| c.public_key().ok())
                .is_some_and(|p| p.public_eq(key));
            if !matches {
                out.push("server.tls.key does not belong to the first certificate of server.tls.cert".into());
            }
        }
        if let Some(ca) = &self.client_ca
            && let Some(pem) = read("client_ca", ca, &mut out)
            && X509::stack_from_pem(&pem).map_or(true, |c| c.is_empty())
        {
            out.push(format!(
                "server.tls.client_ca {}: no PEM certificate",
                ca.display()
            ));
        }
        out
    }
}
