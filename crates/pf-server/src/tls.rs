//! HTTPS for a server's listener and mutual TLS (`[server.tls]`): the configuration, the OpenSSL
//! acceptor, and the client certificate of each connection, read once when the connection is
//! accepted and kept in its connection data for [`crate::registry::Sp::client_cert_allowed`].
//!
//! ```toml
//! [server.tls]
//! cert = "/etc/jpki-pf/gateway.crt"        # PEM: the server certificate, then its chain
//! key = "/etc/jpki-pf/gateway.key"         # PEM private key
//! client_ca = "/etc/jpki-pf/sp-clients-ca.pem"  # optional: clients must present a certificate
//!                                          # chaining to one of these CAs (mTLS)
//! ```

use std::any::Any;
use std::path::{Path, PathBuf};

use actix_web::dev::Extensions;
use actix_web::rt::net::TcpStream;
use openssl::pkey::PKey;
use openssl::sha::sha256;
use openssl::ssl::{SslAcceptor, SslAcceptorBuilder, SslFiletype, SslMethod, SslVerifyMode};
use openssl::x509::{X509, X509Name, X509NameRef, X509Ref};
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

/// The client certificate a connection presented (verified against `client_ca` by then).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientCert {
    /// SHA-256 of the DER.
    pub sha256: [u8; 32],
    /// The subject, as [`subject_line`] writes it.
    pub subject: String,
}

impl ClientCert {
    /// From a certificate.
    pub fn of(cert: &X509Ref) -> Option<ClientCert> {
        let der = cert.to_der().ok()?;
        Some(ClientCert {
            sha256: sha256(&der),
            subject: subject_line(cert.subject_name()),
        })
    }
}

/// A name's entries in order, `SHORTNAME=value` joined by `, ` (e.g. `C=JP, O=Bank A, CN=x`);
/// entries without a short name use their OID.
pub fn subject_line(name: &X509NameRef) -> String {
    name.entries()
        .map(|e| {
            let key = e
                .object()
                .nid()
                .short_name()
                .map(str::to_owned)
                .unwrap_or_else(|_| e.object().to_string());
            let value = e
                .data()
                .to_string()
                .unwrap_or_else(|_| hex::encode(e.data().as_slice()));
            format!("{key}={value}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The acceptor for `cfg`: Mozilla's intermediate profile (TLS 1.2+), the server chain and key,
/// and with `client_ca` a required client certificate chaining to it.
pub fn acceptor(cfg: &TlsConfig) -> Result<SslAcceptorBuilder, openssl::error::ErrorStack> {
    let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server())?;
    b.set_certificate_chain_file(&cfg.cert)?;
    b.set_private_key_file(&cfg.key, SslFiletype::PEM)?;
    b.check_private_key()?;
    if let Some(ca) = &cfg.client_ca {
        b.set_ca_file(ca)?;
        // Tell clients which CAs we accept, so they pick the right identity.
        b.set_client_ca_list(X509Name::load_client_ca_file(ca)?);
        b.set_verify(SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT);
    }
    Ok(b)
}

/// `HttpServer::on_connect`: keeps the verified client certificate of a TLS connection.
pub fn on_connect(conn: &dyn Any, ext: &mut Extensions) {
    if let Some(tls) = conn.downcast_ref::<actix_tls::accept::openssl::TlsStream<TcpStream>>()
        && let Some(cert) = tls.ssl().peer_certificate()
        && let Some(c) = ClientCert::of(&cert)
    {
        ext.insert(c);
    }
}
