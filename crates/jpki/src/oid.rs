//! JPKI object identifiers.
//!
//! Policy OIDs come from the certificates J-LIS publishes; the smartphone policy is reported by PF
//! vendors and is *unverified*; the test-hierarchy authentication policy is *assumed* by analogy.
//! Everything marked assumed must stay overridable in configuration.

use const_oid::ObjectIdentifier;

/// certificatePolicies of a card signing certificate (署名用電子証明書).
pub const POLICY_SIGNING_CARD: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.392.200149.8.5.1.1.20");
/// certificatePolicies of a smartphone signing certificate (*unverified*).
pub const POLICY_SIGNING_SMARTPHONE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.392.200149.8.5.1.1.40");
/// certificatePolicies of a user-authentication certificate (利用者証明用電子証明書).
pub const POLICY_AUTH_CARD: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.392.200149.8.5.1.3.30");
/// certificatePolicies of a test-hierarchy signing certificate.
pub const POLICY_SIGNING_TEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.392.200149.8.5.1.0.20");
/// certificatePolicies of a test-hierarchy user-authentication certificate (*assumed*).
pub const POLICY_AUTH_TEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.392.200149.8.5.1.0.30");

/// The arc under which the basic 4 information items are `otherName`s in subjectAltName.
pub const BASIC_INFO_ARC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.392.200149.8.5.5");
/// 氏名: family and given name separated by U+3000.
pub const BASIC_INFO_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.392.200149.8.5.5.1");
/// 氏名代替文字使用位置: one `0`/`1` per character of the name.
pub const BASIC_INFO_NAME_SUBSTITUTES: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.392.200149.8.5.5.2");
/// 性別: `1` male, `2` female, `3` unknown.
pub const BASIC_INFO_SEX: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.392.200149.8.5.5.3");
/// 生年月日: era digit followed by the Gregorian date as YYYYMMDD.
pub const BASIC_INFO_DATE_OF_BIRTH: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.392.200149.8.5.5.4");
/// 住所: from the prefecture onward, at most 200 characters.
pub const BASIC_INFO_ADDRESS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.392.200149.8.5.5.5");
/// 住所代替文字使用位置: one `0`/`1` per character of the address.
pub const BASIC_INFO_ADDRESS_SUBSTITUTES: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.392.200149.8.5.5.6");

/// id-kp-OCSPSigning (RFC 6960 §4.2.2.2).
pub const KP_OCSP_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.9");
