//! The names in a certificate's cRLDistributionPoints (CRL 配布点), as text (see
//! [`jpki::dp_name`]): the verifier hands them to its revocation source, so an answer can come
//! from the certificate's own CRL partition instead of the stalest one of the CA key.
//!
//! Parsed with x509-cert, not OpenSSL: `X509::from_der` decodes the public key through
//! OpenSSL 3's provider decoders, which costs more than the RSA verification itself and takes a
//! process-wide lock.

use der::Decode;
use x509_cert::Certificate;

pub use jpki::dp_name::{from_extension_value, name_line};

/// The names of a certificate (DER): empty when it does not parse or has no cRLDistributionPoints.
pub fn crl_distribution_points(cert_der: &[u8]) -> Vec<String> {
    Certificate::from_der(cert_der)
        .map(|c| from_certificate(&c))
        .unwrap_or_default()
}

/// The names of a parsed certificate; empty when the extension is absent or does not parse.
pub(crate) fn from_certificate(cert: &Certificate) -> Vec<String> {
    let ext = cert
        .tbs_certificate()
        .extensions()
        .and_then(|e| e.iter().find(|e| e.extn_id == super::cert_checks::EXT_CRL_DP));
    ext.map(|e| from_extension_value(e.extn_value.as_bytes()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_names_nothing() {
        assert!(crl_distribution_points(b"not a certificate").is_empty());
    }
}
