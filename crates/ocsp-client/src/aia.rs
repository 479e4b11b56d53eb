//! Where to ask: the OCSP location in a certificate's authorityInfoAccess (RFC 5280 §4.2.2.1).
//!
//! ```text
//! AuthorityInfoAccessSyntax ::= SEQUENCE SIZE (1..MAX) OF AccessDescription
//! AccessDescription ::= SEQUENCE {
//!     accessMethod          OBJECT IDENTIFIER,
//!     accessLocation        GeneralName }
//! id-ad-ocsp OBJECT IDENTIFIER ::= { id-ad 1 }
//! ```
//!
//! J-LIS's user-authentication certificates carry one; signing certificates do not, and their
//! responder comes from the configuration ([`crate::IssuingCa::with_responder_url`]).

use der::Decode;
use der::asn1::ObjectIdentifier;
use x509_cert::ext::pkix::AuthorityInfoAccessSyntax;
use x509_cert::ext::pkix::name::GeneralName;

use crate::error::OcspClientError;
use crate::request::parse_certificate;

/// `id-pe-authorityInfoAccess` (RFC 5280 §4.2.2.1).
pub const OID_AIA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.1.1");
/// `id-ad-ocsp` (RFC 5280 §4.2.2.1).
pub const OID_AD_OCSP: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1");

/// The first `http` or `https` id-ad-ocsp URI in the certificate's authorityInfoAccess; `None`
/// when the certificate has no such extension or location. An authorityInfoAccess that does not
/// parse is an error.
///
/// The URL is only as trustworthy as the certificate: [`crate::OcspClient::check_certificate`]
/// uses it only after checking the certificate's signature by its CA.
pub fn ocsp_url(cert_der: &[u8]) -> Result<Option<String>, OcspClientError> {
    let cert = parse_certificate(cert_der)?;
    let Some(ext) = cert
        .tbs_certificate()
        .extensions()
        .map(|e| e.as_slice())
        .unwrap_or_default()
        .iter()
        .find(|e| e.extn_id == OID_AIA)
    else {
        return Ok(None);
    };
    let aia = AuthorityInfoAccessSyntax::from_der(ext.extn_value.as_bytes()).map_err(|e| {
        OcspClientError::BadCertificate {
            what: "certificate",
            detail: format!("authorityInfoAccess does not parse: {e}"),
        }
    })?;
    Ok(aia.0.iter().find_map(|d| match &d.access_location {
        GeneralName::UniformResourceIdentifier(uri) if d.access_method == OID_AD_OCSP => {
            let uri = uri.as_str();
            is_http_url(uri).then(|| uri.to_owned())
        }
        _ => None,
    }))
}

/// `http://` or `https://` (case-insensitive scheme) with something after it.
pub(crate) fn is_http_url(url: &str) -> bool {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    (lower.starts_with("http://") && url.len() > 7) || (lower.starts_with("https://") && url.len() > 8)
}

#[cfg(test)]
mod tests {
    use super::is_http_url;

    #[test]
    fn only_http_and_https_with_a_host() {
        for ok in [
            "http://a",
            "https://a/ocsp",
            "HTTP://OCSP.JPKI.GO.JP/",
            "HtTpS://x",
        ] {
            assert!(is_http_url(ok), "{ok}");
        }
        for bad in [
            "",
            "http://",
            "https://",
            "ftp://a",
            "file:///etc/passwd",
            "ldap://x",
            "httpx://a",
            "é",
        ] {
            assert!(!is_http_url(bad), "{bad}");
        }
    }
}
