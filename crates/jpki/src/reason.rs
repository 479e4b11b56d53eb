//! CRL revocation reasons (RFC 5280 §5.3.1) with the meaning J-LIS gives them.

use serde::{Deserialize, Serialize};

/// A CRLReason. J-LIS uses `affiliationChanged` for a change of the basic 4 information.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[repr(u8)]
pub enum Reason {
    /// `unspecified` (0): J-LIS discards these before delivery; also used when an entry has no reason.
    Unspecified = 0,
    /// `keyCompromise` (1): the private key is known or suspected to be compromised.
    KeyCompromise = 1,
    /// `cACompromise` (2).
    CaCompromise = 2,
    /// `affiliationChanged` (3): the certificate contents changed: moving house, a new surname;
    /// for user-authentication certificates mostly death.
    AffiliationChanged = 3,
    /// `superseded` (4): renewed.
    Superseded = 4,
    /// `cessationOfOperation` (5): no longer needed (e.g. the holder returned the card).
    CessationOfOperation = 5,
    /// `certificateHold` (6): suspended, e.g. a lost phone; J-LIS never lifts it.
    CertificateHold = 6,
    /// `removeFromCRL` (8): delta CRLs only.
    RemoveFromCrl = 8,
    /// `privilegeWithdrawn` (9).
    PrivilegeWithdrawn = 9,
    /// `aACompromise` (10).
    AaCompromise = 10,
}

impl Reason {
    /// Every reason, in code order.
    pub const ALL: [Reason; 10] = [
        Reason::Unspecified,
        Reason::KeyCompromise,
        Reason::CaCompromise,
        Reason::AffiliationChanged,
        Reason::Superseded,
        Reason::CessationOfOperation,
        Reason::CertificateHold,
        Reason::RemoveFromCrl,
        Reason::PrivilegeWithdrawn,
        Reason::AaCompromise,
    ];

    /// The CRLReason ENUMERATED value.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// Parses a CRLReason ENUMERATED value; `None` for 7 (unused) and anything above 10.
    pub fn from_code(code: u8) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.code() == code)
    }

    /// The RFC 5280 name, as OpenSSL and the JSON contracts spell it (`affiliationChanged`).
    pub fn rfc_name(self) -> &'static str {
        match self {
            Reason::Unspecified => "unspecified",
            Reason::KeyCompromise => "keyCompromise",
            Reason::CaCompromise => "cACompromise",
            Reason::AffiliationChanged => "affiliationChanged",
            Reason::Superseded => "superseded",
            Reason::CessationOfOperation => "cessationOfOperation",
            Reason::CertificateHold => "certificateHold",
            Reason::RemoveFromCrl => "removeFromCRL",
            Reason::PrivilegeWithdrawn => "privilegeWithdrawn",
            Reason::AaCompromise => "aACompromise",
        }
    }

    /// Parses the RFC 5280 name, case-insensitively (`affiliationchanged` works too).
    pub fn from_rfc_name(name: &str) -> Option<Reason> {
        Reason::ALL
            .into_iter()
            .find(|r| r.rfc_name().eq_ignore_ascii_case(name))
    }

    /// What J-LIS means by this reason, for operators and SP developers.
    pub fn jpki_meaning(self) -> &'static str {
        match self {
            Reason::Unspecified => "unspecified (J-LIS discards these before delivery)",
            Reason::KeyCompromise => "the private key may be compromised",
            Reason::CaCompromise => "the issuing CA was compromised",
            Reason::AffiliationChanged => {
                "certificate contents changed: the basic 4 information changed (moved house, new surname) or, for user-authentication certificates, mostly death"
            }
            Reason::Superseded => "superseded: the certificate was renewed",
            Reason::CessationOfOperation => "no longer needed (card returned or certificate withdrawn)",
            Reason::CertificateHold => "suspended (e.g. lost card or phone); J-LIS never lifts it",
            Reason::RemoveFromCrl => "removed from the CRL (delta CRLs only)",
            Reason::PrivilegeWithdrawn => "privilege withdrawn",
            Reason::AaCompromise => "attribute authority compromised",
        }
    }

    /// Whether the basic 4 information changed, which is what the 4-info update relay watches for.
    pub fn is_basic_info_change(self) -> bool {
        self == Reason::AffiliationChanged
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.rfc_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_round_trip() {
        for r in Reason::ALL {
            assert_eq!(Reason::from_code(r.code()), Some(r));
            assert_eq!(Reason::from_rfc_name(r.rfc_name()), Some(r));
        }
        assert_eq!(Reason::from_code(7), None);
        assert_eq!(Reason::from_code(11), None);
        assert!(Reason::AffiliationChanged.is_basic_info_change());
    }
}
