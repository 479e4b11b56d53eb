use der::asn1::{GeneralizedTime, Null};
use jpki::Serial;
use jpki::ocsp::{CertId, CertStatus, OcspResponse, ResponseStatus};
use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::rsa::Rsa;
use openssl::sign::Verifier;
use openssl::x509::X509NameBuilder;
use openssl::x509::extension::ExtendedKeyUsage as EkuExt;

use super::*;

fn rsa(bits: u32) -> PKey<Private> {
    PKey::from_rsa(Rsa::generate(bits).unwrap()).unwrap()
}

fn ec(nid: Nid) -> PKey<Private> {
    PKey::from_ec_key(EcKey::generate(&EcGroup::from_curve_name(nid).unwrap()).unwrap()).unwrap()
}

/// A self-signed certificate for `key`, with id-kp-OCSPSigning when `ocsp` is set.
fn cert_pem(key: &PKey<Private>, ocsp: bool) -> Vec<u8> {
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "PF OCSP responder").unwrap();
    let name = name.build();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&BigNum::from_u32(7).unwrap().to_asn1_integer().unwrap())
        .unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap()).unwrap();
    b.set_not_after(&Asn1Time::days_from_now(1).unwrap()).unwrap();
    let mut eku = EkuExt::new();
    if ocsp {
        eku.other("OCSPSigning");
    } else {
        eku.server_auth();
    }
    b.append_extension(eku.build().unwrap()).unwrap();
    b.sign(key, MessageDigest::sha256()).unwrap();
    b.build().to_pem().unwrap()
}

fn responder(key: &PKey<Private>) -> Responder {
    Responder::from_pem(&cert_pem(key, true), &key.private_key_to_pem_pkcs8().unwrap()).unwrap()
}

fn single(serial: u64) -> SingleResponse {
    let alg = AlgorithmIdentifierOwned {
        oid: crate::issuers::OID_SHA1,
        parameters: Some(Any::from(Null)),
    };
    SingleResponse {
        cert_id: CertId::new(alg, &[1; 20], &[2; 20], Serial::from_u64(serial)).unwrap(),
        cert_status: CertStatus::Good(Null),
        this_update: gtime(1_750_000_000).unwrap(),
        next_update: Some(gtime(1_750_086_400).unwrap()),
        single_extensions: None,
    }
}

/// Signs, parses the result back and checks the signature with OpenSSL.
fn sign_and_check(r: &Responder, key: &PKey<Private>, preferred: &[ObjectIdentifier]) -> ObjectIdentifier {
    let nonce = Extension {
        extn_id: jpki::ocsp::OID_NONCE,
        critical: false,
        extn_value: OctetString::new(vec![0x04, 0x02, 0xAB, 0xCD]).unwrap(),
    };
    let der = r
        .sign(vec![single(1), single(2)], Some(&nonce), 1_750_000_100, preferred)
        .unwrap();
    let resp = OcspResponse::from_der(&der).unwrap();
    assert_eq!(resp.response_status, ResponseStatus::Successful);
    let raw = resp.response_bytes.as_ref().unwrap().response.as_bytes();
    let basic = resp.basic().unwrap().unwrap();
    let data = &basic.tbs_response_data;
    assert_eq!(data.responses, vec![single(1), single(2)]);
    assert_eq!(data.response_extensions, Some(vec![nonce]));
    assert_eq!(
        data.responder_id,
        ResponderId::ByKey(OctetString::new(r.key_hash()).unwrap())
    );
    assert_eq!(
        data.produced_at,
        GeneralizedTime::from_unix_duration(std::time::Duration::from_secs(1_750_000_100)).unwrap()
    );
    assert_eq!(basic.certs.as_ref().unwrap().len(), 1);
    let oid = basic.signature_algorithm.oid;
    let md = match oid {
        SHA384_WITH_RSA | ECDSA_WITH_SHA384 => MessageDigest::sha384(),
        SHA512_WITH_RSA | ECDSA_WITH_SHA512 => MessageDigest::sha512(),
        _ => MessageDigest::sha256(),
    };
    let tbs = BasicOcspResponse::tbs_der(raw).unwrap();
    let mut v = Verifier::new(md, key).unwrap();
    v.update(tbs).unwrap();
    assert!(
        v.verify(basic.signature.raw_bytes()).unwrap(),
        "signature verifies"
    );
    oid
}

#[test]
fn rsa_and_p256_responders_sign_verifiable_responses() {
    let key = rsa(2048);
    let r = responder(&key);
    assert_eq!(sign_and_check(&r, &key, &[]), SHA256_WITH_RSA);
    // A preference the key can honour changes the hash; one it cannot is ignored.
    assert_eq!(
        sign_and_check(&r, &key, &[ECDSA_WITH_SHA384, SHA512_WITH_RSA]),
        SHA512_WITH_RSA
    );
    assert_eq!(sign_and_check(&r, &key, &[ECDSA_WITH_SHA384]), SHA256_WITH_RSA);
    assert!(format!("{r:?}").contains("Rsa"));

    let key = ec(Nid::X9_62_PRIME256V1);
    let r = responder(&key);
    assert_eq!(sign_and_check(&r, &key, &[]), ECDSA_WITH_SHA256);
    assert_eq!(
        sign_and_check(&r, &key, &[SHA256_WITH_RSA, ECDSA_WITH_SHA384]),
        ECDSA_WITH_SHA384
    );
    assert_eq!(r.key_hash().len(), 20);
    assert!(!r.certificate_der().is_empty());
}

#[test]
fn unusable_responders_are_refused() {
    let pem = |k: &PKey<Private>| k.private_key_to_pem_pkcs8().unwrap();
    let p256 = ec(Nid::X9_62_PRIME256V1);
    let other = ec(Nid::X9_62_PRIME256V1);
    let short = rsa(1024);
    let p384 = ec(Nid::SECP384R1);
    let cases: Vec<(Vec<u8>, Vec<u8>, &str)> = vec![
        (cert_pem(&p256, false), pem(&p256), "id-kp-OCSPSigning"),
        (cert_pem(&p256, true), pem(&other), "does not belong"),
        (cert_pem(&short, true), pem(&short), "2048"),
        (cert_pem(&p384, true), pem(&p384), "P-256"),
        (b"junk".to_vec(), pem(&p256), "not PEM"),
        (cert_pem(&p256, true), b"junk".to_vec(), "private key"),
    ];
    for (cert, key, why) in cases {
        let e = Responder::from_pem(&cert, &key).unwrap_err();
        assert_eq!(e.code(), "RESPONDER");
        assert!(e.to_string().contains(why), "{e} / {why}");
    }
    let dir = tempfile::tempdir().unwrap();
    let cert_path = dir.path().join("responder.pem");
    let key_path = dir.path().join("responder.key");
    assert_eq!(
        Responder::from_pem_files(&cert_path, &key_path)
            .unwrap_err()
            .code(),
        "READ_FILE"
    );
    std::fs::write(&cert_path, cert_pem(&p256, true)).unwrap();
    std::fs::write(&key_path, pem(&p256)).unwrap();
    assert!(Responder::from_pem_files(&cert_path, &key_path).is_ok());
}

#[test]
fn produced_at_outside_generalized_time_is_an_error() {
    let key = ec(Nid::X9_62_PRIME256V1);
    let e = responder(&key).sign(vec![single(1)], None, -5, &[]).unwrap_err();
    assert_eq!(e.code(), "TIME");
    assert_eq!(e.response_status(), ResponseStatus::InternalError);
}
