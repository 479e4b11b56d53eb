//! HTTPS for the listener and mutual TLS (`[server.tls]`): the OpenSSL acceptor, and the client
//! certificate of each connection, read once when the connection is accepted and kept in its
//! connection data for [`crate::registry::Sp::client_cert_allowed`].

use std::any::Any;

use actix_web::dev::Extensions;
use actix_web::rt::net::TcpStream;
use openssl::ssl::{SslAcceptor, SslAcceptorBuilder, SslFiletype, SslMethod, SslVerifyMode};
use openssl::x509::{X509Name, X509NameRef, X509Ref};

use crate::config::TlsConfig;

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
            sha256: verifier::sha256(&der),
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
