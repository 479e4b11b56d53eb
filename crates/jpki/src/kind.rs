//! Certificate kinds, told apart by certificate policy.

use const_oid::ObjectIdentifier;
use serde::{Deserialize, Serialize};

use crate::oid;

/// Which of the two JPKI certificates this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertKind {
    /// 署名用電子証明書: signs documents, carries the basic 4 information.
    Signing,
    /// 利用者証明用電子証明書: answers login challenges, carries no personal data.
    UserAuthentication,
}

impl CertKind {
    /// The short name used on command lines and in JSON (`sign` / `auth`).
    pub fn short_name(self) -> &'static str {
        match self {
            CertKind::Signing => "sign",
            CertKind::UserAuthentication => "auth",
        }
    }
}

/// What holds the private key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Carrier {
    /// The My Number Card (マイナンバーカード).
    Card,
    /// A smartphone (Android from 2023-05-11, iPhone from 2025-06-24).
    Smartphone,
    /// The profile does not tell (user-authentication certificates look alike on both).
    Unknown,
}

/// Production J-LIS hierarchy or the separate `O=JPKI-TEST` one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Hierarchy {
    /// The production hierarchy; the only one a production trust store accepts.
    Production,
    /// The test hierarchy (`O=JPKI-TEST`); never trusted in production configuration.
    Test,
}

/// What a certificate policy OID says about a certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PolicyClass {
    /// Signing or user authentication.
    pub kind: CertKind,
    /// Card or smartphone, where the policy tells.
    pub carrier: Carrier,
    /// Production or test hierarchy.
    pub hierarchy: Hierarchy,
}

/// Classifies a certificatePolicies OID; `None` for anything that is not a JPKI end-entity policy.
pub fn classify_policy(policy: &ObjectIdentifier) -> Option<PolicyClass> {
    let (kind, carrier, hierarchy) = if *policy == oid::POLICY_SIGNING_CARD {
        (CertKind::Signing, Carrier::Card, Hierarchy::Production)
    } else if *policy == oid::POLICY_SIGNING_SMARTPHONE {
        (CertKind::Signing, Carrier::Smartphone, Hierarchy::Production)
    } else if *policy == oid::POLICY_AUTH_CARD {
        (
            CertKind::UserAuthentication,
            Carrier::Unknown,
            Hierarchy::Production,
        )
    } else if *policy == oid::POLICY_SIGNING_TEST {
        (CertKind::Signing, Carrier::Unknown, Hierarchy::Test)
    } else if *policy == oid::POLICY_AUTH_TEST {
        (CertKind::UserAuthentication, Carrier::Unknown, Hierarchy::Test)
    } else {
        return None;
    };
    Some(PolicyClass {
        kind,
        carrier,
        hierarchy,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_classify() {
        let c = classify_policy(&oid::POLICY_SIGNING_CARD).unwrap();
        assert_eq!(
            (c.kind, c.carrier, c.hierarchy),
            (CertKind::Signing, Carrier::Card, Hierarchy::Production)
        );
        let c = classify_policy(&oid::POLICY_AUTH_CARD).unwrap();
        assert_eq!(c.kind, CertKind::UserAuthentication);
        assert_eq!(
            classify_policy(&oid::POLICY_SIGNING_TEST).unwrap().hierarchy,
            Hierarchy::Test
        );
        assert!(classify_policy(&oid::BASIC_INFO_NAME).is_none());
    }
}
