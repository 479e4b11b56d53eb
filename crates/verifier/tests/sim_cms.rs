//! CMS SignedData from the simulator: attached and detached, RSA-2048 and ECDSA P-384, and the
//! CMS-specific negative cases.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::{AT, Holder, Pretty, fixture};
use jlis_sim::sign::{CmsMode, SignInput, SignRequest};
use jpki::CertKind;
use verifier::{NotChecked, ReasonCode, StaticSource};

const DATA: &[u8] = b"consent to 4-info provision, SP 0042";

fn cms(holder: &Holder, key: CertKind, mode: CmsMode) -> Vec<u8> {
    fixture()
        .sim
        .sign(&SignRequest {
            holder: holder.id.clone(),
            key,
            input: SignInput::Data(DATA.to_vec()),
            hash: None,
            pss: false,
            cms: Some(mode),
        })
        .unwrap()
}

#[test]
fn attached_and_detached_rsa_and_ecdsa() {
    let f = fixture();
    let v = f.production();
    let src = StaticSource::new(AT - 3600);
    for holder in [&f.g2019, &f.g2023, &f.g2026] {
        let attached = cms(holder, CertKind::Signing, CmsMode::Attached);
        let r = v.verify_cms(&attached, None, Some(CertKind::Signing), AT, &src);
        assert!(r.is_valid(), "{}", r.to_json_pretty());
        assert!(r.basic_info.is_some());
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["cms"]["detached"], false);
        assert_eq!(json["revocation"]["status"], "good");

        let detached = cms(holder, CertKind::Signing, CmsMode::Detached);
        let r = v.verify_cms(&detached, Some(DATA), Some(CertKind::Signing), AT, &src);
        assert!(r.is_valid(), "{}", r.to_json_pretty());
        // Wrong content: the messageDigest attribute does not match.
        let r = v.verify_cms(&detached, Some(b"other"), Some(CertKind::Signing), AT, &src);
        assert_eq!(r.reason, Some(ReasonCode::HashFailure), "{}", r.to_json_pretty());
        // A user-authentication key's CMS never passes as a signing one.
        let auth = cms(holder, CertKind::UserAuthentication, CmsMode::Attached);
        let r = v.verify_cms(&auth, None, Some(CertKind::Signing), AT, &src);
        assert_eq!(r.reason, Some(ReasonCode::PolicyMismatch));
        let r = v.verify_cms(&auth, None, Some(CertKind::UserAuthentication), AT, &src);
        assert!(r.is_valid(), "{}", r.to_json_pretty());
        assert!(r.basic_info.is_none());
    }
}

#[test]
fn truncated_and_garbage_cms() {
    let f = fixture();
    let v = f.production();
    let attached = cms(&f.g2023, CertKind::Signing, CmsMode::Attached);
    for cut in [0, 1, 10, attached.len() / 2, attached.len() - 1] {
        let r = v.verify_cms(&attached[..cut], None, None, AT, &NotChecked);
        assert_eq!(r.reason, Some(ReasonCode::MalformedInput), "cut {cut}");
    }
    let r = v.verify_cms(b"\x30\x80garbage", None, None, AT, &NotChecked);
    assert_eq!(r.reason, Some(ReasonCode::MalformedInput));
    let mut trailing = attached.clone();
    trailing.push(0);
    let r = v.verify_cms(&trailing, None, None, AT, &NotChecked);
    assert_eq!(r.reason, Some(ReasonCode::MalformedInput));
    // A certificate is not a CMS.
    let r = v.verify_cms(&f.g2023.sign_der, None, None, AT, &NotChecked);
    assert_eq!(r.reason, Some(ReasonCode::MalformedInput));
}
