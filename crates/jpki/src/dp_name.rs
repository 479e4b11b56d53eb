//! Names of CRL distribution points (CRL 配布点) as text: a certificate's cRLDistributionPoints
//! and a CRL's issuingDistributionPoint name the same CRL partition, and the revocation index is
//! keyed by that name, so a certificate finds its own municipality CRL with no configuration.
//!
//! A URI is kept as is; a DirName is written as `SHORTNAME=value` entries joined by `, ` (the way
//! OpenSSL's `X509_NAME` entries print one after another: `C=JP, O=JPKI, OU=..., CN=...`).
//! [`partition_key`] normalises such a line for matching (case and white space do not matter).
//!
//! Parsed with x509-cert; no cryptography.

use der::{Decode, Tag};
use x509_cert::ext::pkix::CrlDistributionPoints;
use x509_cert::ext::pkix::crl::dp::IssuingDistributionPoint;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::name::Name;

/// At most this many distribution points, and names per point, are read.
const MAX_NAMES: usize = 8;

/// The names in a DER cRLDistributionPoints value; empty when it does not parse.
pub fn from_extension_value(value: &[u8]) -> Vec<String> {
    let Ok(points) = CrlDistributionPoints::from_der(value) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for dp in points.0.iter().take(MAX_NAMES) {
        if let Some(name) = &dp.distribution_point {
            out.extend(full_names(name));
        }
    }
    out
}

/// The names of a DER issuingDistributionPoint extension value (a CRL's own partition name);
/// empty when it does not parse or names no full name.
pub fn idp_names(value: &[u8]) -> Vec<String> {
    IssuingDistributionPoint::from_der(value)
        .ok()
        .and_then(|idp| idp.distribution_point)
        .map(|name| full_names(&name))
        .unwrap_or_default()
}

/// The URIs and DirNames of a fullName (a nameRelativeToCRLIssuer names nothing by itself).
fn full_names(name: &DistributionPointName) -> Vec<String> {
    let DistributionPointName::FullName(names) = name else {
        return Vec::new();
    };
    names
        .iter()
        .take(MAX_NAMES)
        .filter_map(|name| match name {
            GeneralName::UniformResourceIdentifier(uri) => Some(uri.to_string()),
            GeneralName::DirectoryName(dn) => Some(name_line(dn)),
            _ => None,
        })
        .collect()
}

/// The matching key of a distribution point name: each `, `-separated entry trimmed, runs of
/// white space made one space, ASCII letters lower-cased. Two spellings of one DirName (or URI)
/// give one key; the index looks partitions up by it.
pub fn partition_key(name: &str) -> String {
    name.split(',')
        .map(|entry| {
            let mut out = String::with_capacity(entry.len());
            for word in entry.split_whitespace() {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(word);
            }
            out.make_ascii_lowercase();
            out.replace(" = ", "=").replace("= ", "=").replace(" =", "=")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `SHORTNAME=value` per attribute, in DER order, joined by `, `.
pub fn name_line(name: &Name) -> String {
    name.iter()
        .map(|atv| {
            let oid = atv.oid.to_string();
            let key = short_name(&oid).map_or(oid.clone(), str::to_owned);
            let value = string_value(der::Tagged::tag(&atv.value), atv.value.value())
                .unwrap_or_else(|| atv.value.value().iter().map(|b| format!("{b:02x}")).collect());
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
    fn keys_ignore_case_and_space() {
        assert_eq!(
            partition_key("C=JP, O=JPKI,  OU=Tokyo-to , CN = Kiyose-shi  CRLDP"),
            "c=jp, o=jpki, ou=tokyo-to, cn=kiyose-shi crldp"
        );
        assert_eq!(partition_key("C=JP,O=JPKI"), partition_key("c=jp, o=jpki"));
        assert_eq!(
            partition_key("http://example.jp/a.crl"),
            "http://example.jp/a.crl"
        );
    }

    #[test]
    fn garbage_names_nothing() {
        assert!(idp_names(&[0x30, 0x03, 0x01]).is_empty());
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

    proptest::proptest! {
        #[test]
        fn readers_never_panic_and_keys_are_stable(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            for name in from_extension_value(&bytes).into_iter().chain(idp_names(&bytes)) {
                let key = partition_key(&name);
                proptest::prop_assert_eq!(partition_key(&key), key);
            }
        }

        #[test]
        fn keys_are_idempotent(text in "[ ,=A-Za-z0-9\\t-]{0,80}") {
            let key = partition_key(&text);
            proptest::prop_assert_eq!(partition_key(&key), key);
        }
    }
}
