//! The library API a server uses.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)] // test code

use jlis_sim::{CmsMode, HashAlg, IssueRequest, IssuerRef, PersonInput, Simulator};
use jpki::{CertKind, Reason};
use time::macros::datetime;

#[test]
fn server_queries_and_mutations() {
    let dir = std::env::temp_dir().join(format!("jlis-sim-api-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let at = datetime!(2026-11-01 00:00 UTC);
    let (sim, _) = Simulator::init(&dir, "api", at, false).unwrap();
    let issued = sim
        .issue(&IssueRequest {
            generation: None,
            smartphone: false,
            test: false,
            person: PersonInput::default(),
            at,
        })
        .unwrap();
    let ca = sim.ca("sign-2023").unwrap();
    let key_hash = hex::decode(&ca.key_id).unwrap();
    let rec = sim
        .certificate(IssuerRef::KeyHash(&key_hash), &issued.sign.serial)
        .unwrap();
    assert_eq!(rec.kind, CertKind::Signing);
    assert_eq!(rec.linked, Some(issued.auth.serial));
    assert!(
        sim.certificate(IssuerRef::CaId("sign-2019"), &issued.sign.serial)
            .is_none()
    );
    assert!(sim.certificate_der(&issued.sign.serial).unwrap().len() > 500);
    // OCSP CertID matching: the name hash is shared by the generations, the key hash is not.
    let name_hash = hex::decode(&ca.name_hash).unwrap();
    assert_eq!(sim.cas_by_name_hash(&name_hash).len(), 3);
    assert_eq!(sim.ca_by_cert_id(&name_hash, &key_hash).unwrap().id, "sign-2023");
    let auth_ca = sim.ca("auth-2023").unwrap();
    assert!(
        sim.ca_by_cert_id(&hex::decode(&auth_ca.name_hash).unwrap(), &key_hash)
            .is_none()
    );
    assert_eq!(sim.issuer_of(&issued.auth.serial).unwrap().id, "auth-2023");
    let (resp_cert, _resp_key) = sim.responder("sign-2023").unwrap();
    assert!(resp_cert.to_der().unwrap().len() > 500);

    // The signing shorthands verify with OpenSSL's library against the holder's certificate.
    let sign_cert = openssl::x509::X509::from_der(
        &sim.holder_certificate_der(&issued.holder, CertKind::Signing)
            .unwrap(),
    )
    .unwrap();
    let auth_cert = openssl::x509::X509::from_der(
        &sim.holder_certificate_der(&issued.holder, CertKind::UserAuthentication)
            .unwrap(),
    )
    .unwrap();
    let verify = |cert: &openssl::x509::X509, md, sig: &[u8], data: &[u8]| {
        let key = cert.public_key().unwrap();
        let mut v = openssl::sign::Verifier::new(md, &key).unwrap();
        v.verify_oneshot(sig, data).unwrap()
    };
    let sha256 = openssl::hash::MessageDigest::sha256();
    let sig = sim.sign_data(&issued.holder, b"doc", HashAlg::Sha256).unwrap();
    assert!(verify(&sign_cert, sha256, &sig, b"doc"));
    let digest = openssl::sha::sha384(b"doc");
    let sig = sim.sign_digest(&issued.holder, &digest, HashAlg::Sha384).unwrap();
    assert!(verify(
        &sign_cert,
        openssl::hash::MessageDigest::sha384(),
        &sig,
        b"doc"
    ));
    let sig = sim.sign_challenge(&issued.holder, b"nonce").unwrap();
    assert!(verify(&auth_cert, sha256, &sig, b"nonce"));
    assert!(!verify(&sign_cert, sha256, &sig, b"nonce"));
    assert!(
        sim.sign_pss(&issued.holder, b"doc", HashAlg::Sha256)
            .unwrap()
            .len()
            == 256
    );
    assert!(
        sim.sign_cms(&issued.holder, b"doc", CmsMode::Detached)
            .unwrap()
            .len()
            > 1000
    );

    let consent = sim.add_consent("sp-1", &issued.holder, at).unwrap();
    let moved = sim
        .move_holder(&issued.holder, "大阪府大阪市北区中之島１丁目３番２０号", None, at)
        .unwrap();
    let latest = sim.latest_signing_cert(&issued.sign.serial).unwrap();
    assert_eq!(latest.serial, moved.new.serial);
    assert_eq!(latest.municipality, "271004");
    assert_eq!(
        sim.latest_signing_cert(&issued.auth.serial).unwrap().serial,
        moved.new.serial
    );
    let old = sim.certificate_by_serial(&issued.sign.serial).unwrap();
    assert_eq!(old.reason, Some(Reason::AffiliationChanged));
    assert_eq!(old.successor, Some(moved.new.serial));
    assert_eq!(
        sim.holder(&issued.holder).unwrap().person.address,
        "大阪府大阪市北区中之島１丁目３番２０号"
    );

    // Another handle on the same directory sees the changes.
    let other = Simulator::open(&dir).unwrap();
    assert!(other.consent(&consent.id).unwrap().is_active(at));
    other.withdraw_consent(&consent.id, at).unwrap();
    assert!(other.withdraw_consent(&consent.id, at).is_err());
    sim.reload().unwrap();
    assert!(sim.consent(&consent.id).unwrap().withdrawn_at.is_some());
    assert!(
        sim.revoke(&issued.sign.serial, None, Reason::KeyCompromise, at)
            .is_err()
    );

    sim.publish_crls(at, 48).unwrap();
    let parts = sim.partitions();
    assert_eq!(parts.len(), 64);
    assert!(
        parts
            .iter()
            .all(|p| p.crl_file.as_ref().is_some_and(|f| f.exists()))
    );
    let (rec, file) = sim.crl_of("sign-2023", "131016").unwrap();
    assert_eq!(rec.number, 1);
    assert!(file.exists());
    assert_eq!(sim.consents_of(&issued.holder).len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}
