use std::path::Path;
use std::process::Command;

use der::Encode;
use der::asn1::{GeneralizedTime, Null, OctetString};
use proptest::prelude::*;
use x509_cert::ext::Extension;
use x509_cert::spki::AlgorithmIdentifierOwned;

use super::*;

const SHA1: &str = "1.3.14.3.2.26";
const SHA256_RSA: &str = "1.2.840.113549.1.1.11";

fn alg(oid: &str) -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: ObjectIdentifier::new_unwrap(oid),
        parameters: Some(der::Any::from(Null)),
    }
}

fn cert_id(serial: u64) -> CertId {
    CertId::new(alg(SHA1), &[0x11; 20], &[0x22; 20], Serial::from_u64(serial)).unwrap()
}

fn openssl(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn have_openssl() -> bool {
    Command::new("openssl").arg("version").output().is_ok()
}

/// A throwaway CA and a leaf with serial 0x1234ABCD, in `dir`.
fn make_pki(dir: &Path) {
    let subj_ca = "/C=JP/O=JPKI-TEST/OU=JPKI for digital signature";
    openssl(
        dir,
        &[
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-subj",
            subj_ca, "-days", "3650",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "leaf.key",
            "-out",
            "leaf.csr",
            "-subj",
            "/C=JP/CN=leaf",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            "0x1234ABCD",
            "-out",
            "leaf.pem",
            "-days",
            "365",
        ],
    );
}

#[test]
fn parses_openssl_requests() {
    if !have_openssl() {
        eprintln!("openssl CLI not found; skipping");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    make_pki(dir.path());
    for (file, nonce) in [("req.der", true), ("req-nn.der", false)] {
        let flag = if nonce { "-nonce" } else { "-no_nonce" };
        openssl(
            dir.path(),
            &[
                "ocsp", "-issuer", "ca.pem", "-cert", "leaf.pem", "-reqout", file, flag,
            ],
        );
        let der = std::fs::read(dir.path().join(file)).unwrap();
        let req = OcspRequest::from_der(&der).unwrap();
        let certs = req.requested().unwrap();
        assert_eq!(certs.len(), 1);
        assert_eq!(certs[0].serial, Serial::from_u64(0x1234_ABCD));
        assert_eq!(certs[0].hash_algorithm, ObjectIdentifier::new_unwrap(SHA1));
        assert_eq!(certs[0].issuer_name_hash.len(), 20);
        assert_eq!(certs[0].issuer_key_hash.len(), 20);
        assert_eq!(req.nonce().is_some(), nonce);
        if nonce {
            assert_eq!(req.nonce().unwrap().len(), 16, "OpenSSL sends a 16-byte nonce");
        }
        assert_eq!(req.to_der().unwrap(), der, "re-encoding is byte-identical");

        // With the preferred-signature-algorithms extension added (the ocsp crate's panic).
        let mut with_pref = req.clone();
        let pref = [
            0x30, 0x0F, 0x30, 0x0D, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0B, 0x05,
            0x00,
        ];
        with_pref
            .tbs_request
            .request_extensions
            .get_or_insert_with(Vec::new)
            .push(Extension {
                extn_id: OID_PREF_SIG_ALGS,
                critical: false,
                extn_value: OctetString::new(pref.to_vec()).unwrap(),
            });
        let der = with_pref.to_der().unwrap();
        std::fs::write(dir.path().join("pref.der"), &der).unwrap();
        // OpenSSL reads it too.
        openssl(dir.path(), &["ocsp", "-reqin", "pref.der", "-req_text"]);
        let back = OcspRequest::from_der(&der).unwrap();
        assert_eq!(back.requested().unwrap()[0].serial, Serial::from_u64(0x1234_ABCD));
    }

    // Our own request is readable by OpenSSL, nonce included.
    let built = OcspRequest::build(vec![cert_id(7), cert_id(u64::MAX)], Some(&[9; 16])).unwrap();
    std::fs::write(dir.path().join("ours.der"), built.to_der().unwrap()).unwrap();
    let text = openssl(dir.path(), &["ocsp", "-reqin", "ours.der", "-req_text"]);
    assert!(text.contains("Serial Number: FFFFFFFFFFFFFFFF"), "{text}");
    assert!(text.contains("OCSP Nonce"), "{text}");
}

/// A request written out by hand (not by our encoder): requestorName, the pref-sig-algs
/// extension, and a signature with certs.
#[test]
fn parses_a_hand_built_request_with_every_optional_part() {
    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        assert!(content.len() < 0x80 * 0x100);
        let mut v = vec![tag];
        if content.len() < 0x80 {
            v.push(content.len() as u8);
        } else if content.len() < 0x100 {
            v.extend([0x81, content.len() as u8]);
        } else {
            v.extend([0x82, (content.len() >> 8) as u8, content.len() as u8]);
        }
        v.extend_from_slice(content);
        v
    }
    let oid = |s: &str| ObjectIdentifier::new_unwrap(s).to_der().unwrap();
    let sha256 = tlv(0x30, &[oid("2.16.840.1.101.3.4.2.1"), vec![5, 0]].concat());
    let cert_id = tlv(
        0x30,
        &[
            sha256.clone(),
            tlv(4, &[1; 32]),
            tlv(4, &[2; 32]),
            tlv(2, &[0x00, 0x80, 1]),
        ]
        .concat(),
    );
    let request = tlv(0x30, &cert_id);
    let pref_value = tlv(
        0x30,
        &tlv(0x30, &tlv(0x30, &[oid(SHA256_RSA), vec![5, 0]].concat())),
    );
    let ext = |id: &str, value: &[u8]| tlv(0x30, &[oid(id), tlv(4, value)].concat());
    let exts = tlv(
        0xA2,
        &tlv(
            0x30,
            &[
                ext("1.3.6.1.5.5.7.48.1.2", &tlv(4, b"0123456789abcdef")),
                ext("1.3.6.1.5.5.7.48.1.8", &pref_value),
            ]
            .concat(),
        ),
    );
    let requestor = tlv(0xA1, &tlv(0x82, b"client.example.jp"));
    let tbs = tlv(0x30, &[requestor, tlv(0x30, &request), exts].concat());
    let sig = tlv(
        0xA0,
        &tlv(
            0x30,
            &[
                tlv(0x30, &[oid(SHA256_RSA), vec![5, 0]].concat()),
                tlv(3, &[0, 1, 2, 3]),
                tlv(0xA0, &tlv(0x30, &tlv(0x30, &[]))),
            ]
            .concat(),
        ),
    );
    let der = tlv(0x30, &[tbs, sig].concat());
    let req = OcspRequest::from_der(&der).unwrap();
    assert_eq!(req.nonce(), Some(&b"0123456789abcdef"[..]));
    assert_eq!(req.checked_nonce().unwrap(), Some(&b"0123456789abcdef"[..]));
    let pref = req.preferred_signature_algorithms().unwrap();
    assert_eq!(pref.len(), 1);
    assert_eq!(
        pref[0].sig_identifier.oid,
        ObjectIdentifier::new_unwrap(SHA256_RSA)
    );
    assert_eq!(pref[0].cert_identifier, None);
    assert!(req.optional_signature.is_some());
    let certs = req.requested().unwrap();
    assert_eq!(certs[0].serial, Serial::from_u64(0x8001));
    assert_eq!(certs[0].issuer_key_hash, &[2; 32]);
    assert_eq!(req.to_der().unwrap(), der);
}

#[test]
fn request_errors() {
    assert_eq!(OcspRequest::from_der(&[]).unwrap_err().code(), "MALFORMED_DER");
    assert_eq!(
        OcspRequest::from_der(b"garbage").unwrap_err().code(),
        "MALFORMED_DER"
    );
    let big = vec![0x30; MAX_OCSP_LEN + 1];
    assert_eq!(OcspRequest::from_der(&big).unwrap_err().code(), "INPUT_TOO_LARGE");
    let good = OcspRequest::build(vec![cert_id(5)], Some(b"nonce"))
        .unwrap()
        .to_der()
        .unwrap();
    for cut in 0..good.len() {
        assert!(OcspRequest::from_der(&good[..cut]).is_err(), "cut at {cut}");
    }
    let empty = OcspRequest::build(vec![], None).unwrap().to_der().unwrap();
    assert_eq!(
        OcspRequest::from_der(&empty).unwrap_err(),
        OcspError::EmptyRequestList
    );
    // A negative serial parses as a request but is refused as a JPKI serial.
    let mut neg = OcspRequest::build(vec![cert_id(5)], None).unwrap();
    neg.tbs_request.request_list[0].req_cert.serial_number = der::asn1::Int::new(&[0xFF]).unwrap();
    let neg = OcspRequest::from_der(&neg.to_der().unwrap()).unwrap();
    assert_eq!(neg.requested().unwrap_err().code(), "BAD_SERIAL");
}

fn with_extension(mut req: OcspRequest, id: ObjectIdentifier, value: Vec<u8>) -> OcspRequest {
    req.tbs_request
        .request_extensions
        .get_or_insert_with(Vec::new)
        .push(Extension {
            extn_id: id,
            critical: false,
            extn_value: OctetString::new(value).unwrap(),
        });
    req
}

#[test]
fn nonce_length_rule_of_rfc_8954() {
    let plain = OcspRequest::build(vec![cert_id(5)], None).unwrap();
    assert_eq!(plain.checked_nonce().unwrap(), None);
    assert!(plain.preferred_signature_algorithms().unwrap().is_empty());
    for len in [1, 16, MAX_NONCE_LEN] {
        let req = OcspRequest::build(vec![cert_id(5)], Some(&vec![7; len])).unwrap();
        assert_eq!(req.checked_nonce().unwrap(), Some(&vec![7; len][..]), "{len}");
    }
    for len in [0, MAX_NONCE_LEN + 1, 200] {
        let req = OcspRequest::build(vec![cert_id(5)], Some(&vec![7; len])).unwrap();
        assert_eq!(req.checked_nonce().unwrap_err().code(), "BAD_NONCE", "{len}");
    }
    // A raw extnValue that is not an OCTET STRING.
    let raw = with_extension(plain.clone(), OID_NONCE, vec![0x02, 0x01, 0x05]);
    assert_eq!(raw.checked_nonce().unwrap_err().code(), "BAD_NONCE");
    // Two nonce extensions.
    let twice = OcspRequest::build(vec![cert_id(5)], Some(&[1; 16])).unwrap();
    let twice = with_extension(twice, OID_NONCE, vec![0x04, 0x01, 0x05]);
    assert_eq!(twice.checked_nonce().unwrap_err().code(), "DUPLICATE_EXTENSION");
    // A malformed preferred-signature-algorithms extension.
    let bad = with_extension(plain, OID_PREF_SIG_ALGS, vec![0x30, 0x03, 0x02, 0x01]);
    assert_eq!(
        bad.preferred_signature_algorithms().unwrap_err().code(),
        "MALFORMED_DER"
    );
}

fn time(secs: u64) -> GeneralizedTime {
    GeneralizedTime::from_unix_duration(std::time::Duration::from_secs(secs)).unwrap()
}

fn sample_response_data() -> ResponseData {
    let revoked = RevokedInfo {
        revocation_time: time(1_700_000_000),
        revocation_reason: Some(CrlReason::AffiliationChanged),
    };
    ResponseData {
        version: Version::V1,
        responder_id: ResponderId::ByKey(OctetString::new(vec![0xAB; 20]).unwrap()),
        produced_at: time(1_750_000_000),
        responses: vec![
            SingleResponse {
                cert_id: cert_id(1),
                cert_status: CertStatus::Good(Null),
                this_update: time(1_749_999_000),
                next_update: Some(time(1_750_000_900)),
                single_extensions: None,
            },
            SingleResponse {
                cert_id: cert_id(2),
                cert_status: CertStatus::Revoked(revoked),
                this_update: time(1_749_999_000),
                next_update: None,
                single_extensions: None,
            },
            SingleResponse {
                cert_id: cert_id(3),
                cert_status: CertStatus::Unknown(Null),
                this_update: time(1_749_999_000),
                next_update: None,
                single_extensions: None,
            },
        ],
        response_extensions: None,
    }
}

#[test]
fn response_round_trip() {
    let data = sample_response_data();
    let tbs = data.to_der().unwrap();
    let fake_cert = vec![0x30, 0x03, 0x02, 0x01, 0x01];
    let der = BasicOcspResponse::assemble(&tbs, alg(SHA256_RSA), &[7; 256], vec![fake_cert.clone()]).unwrap();
    let resp = OcspResponse::from_der(&der).unwrap();
    assert_eq!(resp.response_status, ResponseStatus::Successful);
    let basic = resp.basic().unwrap().unwrap();
    assert_eq!(basic.tbs_response_data, data);
    assert_eq!(basic.signature.raw_bytes(), &[7; 256]);
    assert_eq!(basic.certs.as_ref().unwrap()[0].to_der().unwrap(), fake_cert);
    let basic_der = resp.response_bytes.as_ref().unwrap().response.as_bytes();
    assert_eq!(BasicOcspResponse::tbs_der(basic_der).unwrap(), &tbs[..]);
    match &basic.tbs_response_data.responses[1].cert_status {
        CertStatus::Revoked(info) => {
            assert_eq!(info.reason(), Some(crate::Reason::AffiliationChanged))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(resp.to_der().unwrap(), der);

    if have_openssl() {
        // OpenSSL reads it, with a real certificate in `certs`.
        let dir = tempfile::tempdir().unwrap();
        make_pki(dir.path());
        openssl(
            dir.path(),
            &["x509", "-in", "ca.pem", "-outform", "DER", "-out", "ca.der"],
        );
        let ca = std::fs::read(dir.path().join("ca.der")).unwrap();
        let der = BasicOcspResponse::assemble(&tbs, alg(SHA256_RSA), &[7; 256], vec![ca]).unwrap();
        std::fs::write(dir.path().join("resp.der"), &der).unwrap();
        let text = openssl(
            dir.path(),
            &["ocsp", "-respin", "resp.der", "-resp_text", "-noverify"],
        );
        for want in [
            "Cert Status: good",
            "Cert Status: revoked",
            "Cert Status: unknown",
            "Revocation Reason: affiliationChanged (0x3)",
            "Responder Id: ABABABAB",
        ] {
            assert!(text.contains(want), "{want} not in {text}");
        }
    }
}

#[test]
fn error_responses() {
    for (status, byte) in [
        (ResponseStatus::MalformedRequest, 1),
        (ResponseStatus::InternalError, 2),
        (ResponseStatus::TryLater, 3),
        (ResponseStatus::SigRequired, 5),
        (ResponseStatus::Unauthorized, 6),
    ] {
        let der = OcspResponse::error(status).unwrap();
        assert_eq!(der, vec![0x30, 0x03, 0x0A, 0x01, byte]);
        let back = OcspResponse::from_der(&der).unwrap();
        assert_eq!(back.response_status, status);
        assert_eq!(back.basic().unwrap(), None);
    }
    assert_eq!(
        OcspResponse::error(ResponseStatus::Successful)
            .unwrap_err()
            .code(),
        "STATUS_MISMATCH"
    );
    assert_eq!(
        OcspResponse::from_der(&[0x30, 0x03, 0x0A, 0x01, 0x00])
            .unwrap_err()
            .code(),
        "STATUS_MISMATCH"
    );
    assert_eq!(
        OcspResponse::from_der(&[0x30, 0x03, 0x0A, 0x01, 0x04])
            .unwrap_err()
            .code(),
        "MALFORMED_DER"
    );
    assert!(BasicOcspResponse::assemble(b"junk", alg(SHA256_RSA), &[1], vec![]).is_err());
    // A well-formed TLV that is not a ResponseData is refused too.
    let not_tbs = cert_id(1).to_der().unwrap();
    assert_eq!(
        BasicOcspResponse::assemble(&not_tbs, alg(SHA256_RSA), &[1], vec![])
            .unwrap_err()
            .code(),
        "MALFORMED_DER"
    );
    let other = OcspResponse {
        response_status: ResponseStatus::Successful,
        response_bytes: Some(ResponseBytes {
            response_type: ObjectIdentifier::new_unwrap("1.2.3.4"),
            response: OctetString::new(vec![]).unwrap(),
        }),
    };
    assert_eq!(other.basic().unwrap_err().code(), "UNSUPPORTED_RESPONSE_TYPE");
    let der = BasicOcspResponse::assemble(
        &sample_response_data().to_der().unwrap(),
        alg(SHA256_RSA),
        &[1; 8],
        vec![],
    )
    .unwrap();
    for cut in 0..der.len() {
        assert!(OcspResponse::from_der(&der[..cut]).is_err(), "cut at {cut}");
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let a = OcspRequest::from_der(&bytes);
        prop_assert_eq!(a.clone(), OcspRequest::from_der(&bytes));
        if let Ok(req) = a {
            let _ = req.requested();
            let _ = req.nonce();
            let _ = req.checked_nonce();
            let _ = req.preferred_signature_algorithms();
        }
        if let Ok(resp) = OcspResponse::from_der(&bytes) {
            let _ = resp.basic();
        }
        let _ = BasicOcspResponse::tbs_der(&bytes);
    }

    #[test]
    fn mutated_request_never_panics(pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut der = OcspRequest::build(vec![cert_id(0x1234), cert_id(9)], Some(&[3; 16]))
            .unwrap()
            .to_der()
            .unwrap();
        let i = pos.index(der.len());
        der[i] = byte;
        if let Ok(req) = OcspRequest::from_der(&der) {
            let _ = req.requested();
            prop_assert_eq!(OcspRequest::from_der(&req.to_der().unwrap()).unwrap(), req);
        }
    }

    #[test]
    fn request_round_trip(serials in proptest::collection::vec(any::<u64>(), 1..5),
                          nonce in proptest::option::of(proptest::collection::vec(any::<u8>(), 1..33))) {
        let ids = serials.iter().map(|s| cert_id(*s)).collect();
        let req = OcspRequest::build(ids, nonce.as_deref()).unwrap();
        let back = OcspRequest::from_der(&req.to_der().unwrap()).unwrap();
        prop_assert_eq!(back.nonce(), nonce.as_deref());
        let got: Vec<Serial> = back.requested().unwrap().iter().map(|c| c.serial).collect();
        let want: Vec<Serial> = serials.iter().map(|s| Serial::from_u64(*s)).collect();
        prop_assert_eq!(got, want);
    }
}
