//! The names in a certificate's cRLDistributionPoints (CRL 配布点), as text a PF operator writes
//! in configuration: a URI as is, a DirName as `SHORTNAME=value` entries joined by `, ` (the
//! way OpenSSL's `X509_NAME` entries print one after another: `C=JP, O=JPKI, OU=..., CN=...`).
//!
//! JPKI certificates name their CRL partition by DirName; the revocation index is kept per
//! partition, so a good answer can carry the dates of the very CRL that would list the
//! certificate instead of the stalest one of the CA key.
//!
//! Parsed with x509-cert, not OpenSSL: `X509::from_der` decodes the public key through
//! OpenSSL 3's provider decoders, which costs more than the RSA verification itself and takes a
//! process-wide lock.

use der::{Decode, Tag};
use x509_cert::Certificate;
use x509_cert::ext::pkix::CrlDistributionPoints;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::name::Name;

/// At most this many distribution points, and names per point, are read.
const MAX_NAMES: usize = 8;

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

/// The names in a DER cRLDistributionPoints value; empty when it does not parse.
pub fn from_extension_value(value: &[u8]) -> Vec<String> {
    let Ok(points) = CrlDistributionPoints::from_der(value) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for dp in points.0.iter().take(MAX_NAMES) {
        let Some(DistributionPointName::FullName(names)) = &dp.distribution_point else {
            continue;
        };
        for name in names.iter().take(MAX_NAMES) {
            match name {
                GeneralName::UniformResourceIdentifier(uri) => out.push(uri.to_string()),
                GeneralName::DirectoryName(dn) => out.push(name_line(dn)),
                _ => {}
            }
        }
    }
    out
}

/// `SHORTNAME=value` per attribute, in DER order, joined by `, `.
pub fn name_line(name: &Name) -> String {
    name.iter()
        .map(|atv| {
            let oid = atv.oid.to_string();
            let key = short_name(&oid).map_or(oid.clone(), str::to_owned);
            let value = string_value(der::Tagged::tag(&atv.value), atv.value.value())
                .unwrap_or_else(|| hex::encode(atv.value.value()));
            format!("{key}={value}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// OpenSSL's short names for the attribute types directory names use.
fn short_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.4" => "SN",
        "2.5.4.5" => "serialNumber",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "street",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.12" => "title",
        "2.5.4.42" => "GN",
        "2.5.4.43" => "initials",
        "2.5.4.44" => "generationQualifier",
        "2.5.4.46" => "dnQualifier",
        "2.5.4.65" => "pseudonym",
        "1.2.840.113549.1.9.1" => "emailAddress",
        "0.9.2342.19200300.100.1.1" => "UID",
        "0.9.2342.19200300.100.1.25" => "DC",
        _ => return None,
    })
}

/// A directory string as UTF-8, as `ASN1_STRING_to_UTF8` converts it; `None` for other types
/// or invalid content (the caller prints hex).
fn string_value(tag: Tag, bytes: &[u8]) -> Option<String> {
    match tag {
        Tag::Utf8String | Tag::PrintableString | Tag::Ia5String | Tag::VisibleString | Tag::NumericString => {
            std::str::from_utf8(bytes).ok().map(str::to_owned)
        }
        // T.61: OpenSSL treats it as ISO 8859-1.
        Tag::TeletexString => Some(bytes.iter().map(|&b| char::from(b)).collect()),
        Tag::BmpString => {
            let (pairs, rest) = bytes.as_chunks::<2>();
            if !rest.is_empty() {
                return None;
            }
            let units = pairs.iter().map(|c| u16::from_be_bytes(*c));
            char::decode_utf16(units).collect::<Result<String, _>>().ok()
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn garbage_names_nothing() {
        assert!(crl_distribution_points(b"not a certificate").is_empty());
        assert!(from_extension_value(&[0x30, 0x03, 0x01]).is_empty());
        assert!(from_extension_value(&[]).is_empty());
    }

    #[test]
    fn strings_convert_like_openssl() {
        assert_eq!(
            string_value(Tag::Utf8String, "東京都".as_bytes()).unwrap(),
            "東京都"
        );
        assert_eq!(string_value(Tag::TeletexString, &[0x41, 0xe9]).unwrap(), "Aé");
        assert_eq!(
            string_value(Tag::BmpString, &[0x67, 0x71, 0x4e, 0xac]).unwrap(),
            "東京"
        );
        assert_eq!(string_value(Tag::BmpString, &[0x67]), None);
        assert_eq!(string_value(Tag::Utf8String, &[0xff]), None);
    }
}
