//! Unit and property tests of the signature-algorithm table.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use der::Encode;
use proptest::prelude::*;

use super::*;

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    assert!(content.len() < 0x80, "short form only");
    let mut out = vec![tag, content.len() as u8];
    out.extend_from_slice(content);
    out
}

fn oid(dotted: &str) -> ObjectIdentifier {
    ObjectIdentifier::new_unwrap(dotted)
}

fn oid_tlv(dotted: &str) -> Vec<u8> {
    oid(dotted).to_der().unwrap()
}

const NULL: [u8; 2] = [0x05, 0x00];

/// `AlgorithmIdentifier { oid, params }`.
fn alg_id(dotted: &str, params: Option<&[u8]>) -> Vec<u8> {
    let mut content = oid_tlv(dotted);
    content.extend_from_slice(params.unwrap_or_default());
    tlv(0x30, &content)
}

fn sha(hash: &str) -> &'static str {
    match hash {
        "sha1" => "1.3.14.3.2.26",
        "md5" => "1.2.840.113549.2.5",
        "sha256" => "2.16.840.1.101.3.4.2.1",
        "sha384" => "2.16.840.1.101.3.4.2.2",
        "sha512" => "2.16.840.1.101.3.4.2.3",
        other => panic!("{other}"),
    }
}

/// RSASSA-PSS-params built field by field; `None` omits a field.
fn pss_params(
    hash: Option<&[u8]>,
    mgf: Option<&[u8]>,
    salt: Option<&[u8]>,
    trailer: Option<&[u8]>,
) -> Vec<u8> {
    let mut content = Vec::new();
    for (n, field) in [hash, mgf, salt, trailer].into_iter().enumerate() {
        if let Some(f) = field {
            content.extend(tlv(0xa0 | n as u8, f));
        }
    }
    tlv(0x30, &content)
}

fn mgf1(hash: &[u8]) -> Vec<u8> {
    alg_id("1.2.840.113549.1.1.8", Some(hash))
}

/// PSS parameters with `hash` for both hashes and `salt` as INTEGER content bytes.
fn pss_with(hash: &str, mgf_hash: &str, salt: &[u8]) -> Vec<u8> {
    pss_params(
        Some(&alg_id(sha(hash), None)),
        Some(&mgf1(&alg_id(sha(mgf_hash), None))),
        Some(&tlv(0x02, salt)),
        None,
    )
}

fn classify_pss(params: &[u8]) -> Result<Accepted, AlgorithmError> {
    classify(&RSASSA_PSS, Some(params))
}

#[test]
fn every_accepted_oid() {
    let cases = [
        ("1.2.840.113549.1.1.11", Scheme::RsaPkcs1, Hash::Sha256),
        ("1.2.840.113549.1.1.12", Scheme::RsaPkcs1, Hash::Sha384),
        ("1.2.840.113549.1.1.13", Scheme::RsaPkcs1, Hash::Sha512),
        ("1.2.840.10045.4.3.2", Scheme::Ecdsa, Hash::Sha256),
        ("1.2.840.10045.4.3.3", Scheme::Ecdsa, Hash::Sha384),
        ("1.2.840.10045.4.3.4", Scheme::Ecdsa, Hash::Sha512),
    ];
    for (dotted, scheme, hash) in cases {
        let want = Ok(Accepted { scheme, hash });
        assert_eq!(classify(&oid(dotted), None), want, "{dotted} absent");
        assert_eq!(classify_der(&alg_id(dotted, None)), want, "{dotted} DER");
        let null = classify(&oid(dotted), Some(&NULL));
        if scheme == Scheme::RsaPkcs1 {
            assert_eq!(null, want, "{dotted} NULL");
            assert_eq!(classify_der(&alg_id(dotted, Some(&NULL))), want);
        } else {
            // RFC 5758 §3.2: ECDSA parameters are absent, not NULL.
            assert_eq!(
                null.unwrap_err().code(),
                "ALGORITHM_MALFORMED_PARAMETERS",
                "{dotted}"
            );
        }
        // Anything else as parameters.
        let e = classify(&oid(dotted), Some(&[0x02, 0x01, 0x00])).unwrap_err();
        assert!(
            matches!(e, AlgorithmError::MalformedParameters { .. }),
            "{dotted}: {e:?}"
        );
    }
    for hash in Hash::ALL {
        let params = pss_with(
            match hash {
                Hash::Sha256 => "sha256",
                Hash::Sha384 => "sha384",
                Hash::Sha512 => "sha512",
            },
            match hash {
                Hash::Sha256 => "sha256",
                Hash::Sha384 => "sha384",
                Hash::Sha512 => "sha512",
            },
            &[hash.digest_len() as u8],
        );
        let want = Ok(Accepted {
            scheme: Scheme::RsaPss {
                salt_len: hash.digest_len() as u8,
            },
            hash,
        });
        assert_eq!(classify_pss(&params), want);
        assert_eq!(
            classify_der(&alg_id("1.2.840.113549.1.1.10", Some(&params))),
            want
        );
        assert_eq!(pss_parameters(hash, hash.digest_len() as u8).unwrap(), params);
    }
}

#[test]
fn every_weak_oid() {
    let cases = [
        ("1.2.840.113549.1.1.2", "md2WithRSAEncryption"),
        ("1.2.840.113549.1.1.4", "md5WithRSAEncryption"),
        ("1.2.840.113549.1.1.5", "sha1WithRSAEncryption"),
        ("1.3.14.3.2.29", "sha1WithRSASignature"),
        ("1.2.840.10045.4.1", "ecdsa-with-SHA1"),
        ("1.2.840.10040.4.3", "dsa-with-sha1"),
    ];
    for (dotted, name) in cases {
        for params in [None, Some(&NULL[..]), Some(&[0x02, 0x01, 0x00][..])] {
            let e = classify(&oid(dotted), params).unwrap_err();
            assert_eq!(
                e,
                AlgorithmError::Weak {
                    name,
                    oid: oid(dotted)
                }
            );
            assert_eq!(e.code(), "ALGORITHM_WEAK");
        }
    }
}

#[test]
fn digests() {
    assert_eq!(digest(&oid(sha("sha256"))), Ok(Hash::Sha256));
    assert_eq!(digest(&oid(sha("sha384"))), Ok(Hash::Sha384));
    assert_eq!(digest(&oid(sha("sha512"))), Ok(Hash::Sha512));
    for (weak, name) in [("sha1", "SHA-1"), ("md5", "MD5")] {
        assert_eq!(
            digest(&oid(sha(weak))),
            Err(AlgorithmError::Weak {
                name,
                oid: oid(sha(weak))
            })
        );
    }
    // SHA-224 is SHA-2 but not in the policy.
    let sha224 = oid("2.16.840.1.101.3.4.2.4");
    assert_eq!(digest(&sha224), Err(AlgorithmError::Unknown { oid: sha224 }));
}

#[test]
fn unknown_oids() {
    for dotted in [
        "1.2.840.113549.1.1.1",  // rsaEncryption: a key, not a signature algorithm
        "1.2.840.10045.2.1",     // id-ecPublicKey
        "1.2.840.113549.1.1.14", // sha224WithRSAEncryption
        "1.2.840.10045.4.3.1",   // ecdsa-with-SHA224
        "1.3.101.112",           // Ed25519
    ] {
        let e = classify(&oid(dotted), None).unwrap_err();
        assert_eq!(e, AlgorithmError::Unknown { oid: oid(dotted) });
        assert_eq!(e.code(), "ALGORITHM_UNKNOWN");
    }
}

#[test]
fn pss_sha1_by_default_or_by_name_is_weak() {
    let sha1 = oid(sha("sha1"));
    let weak = Err(AlgorithmError::Weak {
        name: "SHA-1",
        oid: sha1,
    });
    // All defaults: SHA-1, MGF1-SHA-1, salt 20.
    assert_eq!(classify_pss(&pss_params(None, None, None, None)), weak);
    // The same defaults spelt out.
    assert_eq!(classify_pss(&pss_with("sha1", "sha1", &[20])), weak);
    // SHA-256 for the message but MGF1 left at its SHA-1 default.
    let only_hash = pss_params(Some(&alg_id(sha("sha256"), None)), None, None, None);
    assert_eq!(classify_pss(&only_hash), weak);
    // SHA-256 with MGF1-SHA-1 spelt out, and the reverse.
    assert_eq!(classify_pss(&pss_with("sha256", "sha1", &[32])), weak);
    assert_eq!(classify_pss(&pss_with("sha1", "sha256", &[32])), weak);
    // MD5 as the PSS hash is weak too.
    let e = classify_pss(&pss_with("md5", "md5", &[16])).unwrap_err();
    assert_eq!(e.code(), "ALGORITHM_WEAK");
}

#[test]
fn pss_with_mismatched_hashes() {
    for (h, m) in [("sha256", "sha384"), ("sha384", "sha512"), ("sha512", "sha256")] {
        let e = classify_pss(&pss_with(h, m, &[32])).unwrap_err();
        assert_eq!(
            e,
            AlgorithmError::UnsupportedParameters {
                oid: RSASSA_PSS,
                what: "the MGF1 hash differs from hashAlgorithm"
            },
            "{h}/{m}"
        );
        assert_eq!(e.code(), "ALGORITHM_UNSUPPORTED_PARAMETERS");
    }
}

#[test]
fn pss_hash_parameters_null_or_absent() {
    let null = pss_params(
        Some(&alg_id(sha("sha384"), Some(&NULL))),
        Some(&mgf1(&alg_id(sha("sha384"), Some(&NULL)))),
        Some(&tlv(0x02, &[48])),
        Some(&tlv(0x02, &[1])),
    );
    assert_eq!(
        classify_pss(&null),
        Ok(Accepted {
            scheme: Scheme::RsaPss { salt_len: 48 },
            hash: Hash::Sha384
        })
    );
    let odd = [0x04, 0x00];
    let bad_hash = pss_params(
        Some(&alg_id(sha("sha256"), Some(&odd))),
        Some(&mgf1(&alg_id(sha("sha256"), None))),
        None,
        None,
    );
    let bad_mgf_hash = pss_params(
        Some(&alg_id(sha("sha256"), None)),
        Some(&mgf1(&alg_id(sha("sha256"), Some(&odd)))),
        None,
        None,
    );
    for p in [bad_hash, bad_mgf_hash] {
        assert_eq!(
            classify_pss(&p).unwrap_err().code(),
            "ALGORITHM_MALFORMED_PARAMETERS"
        );
    }
}

#[test]
fn pss_salt_default_and_range() {
    let no_salt = pss_params(
        Some(&alg_id(sha("sha256"), None)),
        Some(&mgf1(&alg_id(sha("sha256"), None))),
        None,
        None,
    );
    assert_eq!(
        classify_pss(&no_salt).unwrap().scheme,
        Scheme::RsaPss { salt_len: 20 }
    );
    assert_eq!(
        classify_pss(&pss_with("sha256", "sha256", &[0x00, 0xde]))
            .unwrap()
            .scheme,
        Scheme::RsaPss { salt_len: 222 }
    );
    for bad_salt in [
        &[0x80][..],   // negative
        &[0x00, 0x20], // not minimal
        &[0x01, 0x00], // 256: more than pkcs1 represents
        &[][..],       // empty INTEGER
        &[0x00, 0x00, 0x20],
    ] {
        let e = classify_pss(&pss_with("sha256", "sha256", bad_salt)).unwrap_err();
        assert_eq!(e.code(), "ALGORITHM_MALFORMED_PARAMETERS", "{bad_salt:?}");
    }
}

#[test]
fn pss_wrong_salt_type() {
    for salt in [
        tlv(0x04, &[32]),
        tlv(0x0a, &[32]),
        NULL.to_vec(),
        tlv(0x30, &tlv(0x02, &[32])),
    ] {
        let p = pss_params(
            Some(&alg_id(sha("sha256"), None)),
            Some(&mgf1(&alg_id(sha("sha256"), None))),
            Some(&salt),
            None,
        );
        let e = classify_pss(&p).unwrap_err();
        assert_eq!(e.code(), "ALGORITHM_MALFORMED_PARAMETERS", "{salt:?}");
    }
}

#[test]
fn pss_structure() {
    let hash = alg_id(sha("sha256"), None);
    let mgf = mgf1(&alg_id(sha("sha256"), None));
    let salt = tlv(0x02, &[32]);
    let good = pss_params(Some(&hash), Some(&mgf), Some(&salt), None);
    assert!(classify_pss(&good).is_ok());
    let malformed = |p: &[u8]| classify_pss(p).unwrap_err().code();
    // Trailing bytes after the parameters, and inside the SEQUENCE.
    assert_eq!(
        malformed(&[good.clone(), NULL.to_vec()].concat()),
        "ALGORITHM_MALFORMED_PARAMETERS"
    );
    let mut inner = good[2..].to_vec();
    inner.extend_from_slice(&NULL);
    assert_eq!(malformed(&tlv(0x30, &inner)), "ALGORITHM_MALFORMED_PARAMETERS");
    // Inside an explicit field.
    let padded_hash = [hash.clone(), NULL.to_vec()].concat();
    assert_eq!(
        malformed(&pss_params(Some(&padded_hash), Some(&mgf), None, None)),
        "ALGORITHM_MALFORMED_PARAMETERS"
    );
    // Fields out of order, or twice.
    let swapped = tlv(0x30, &[tlv(0xa1, &mgf), tlv(0xa0, &hash)].concat());
    assert_eq!(malformed(&swapped), "ALGORITHM_MALFORMED_PARAMETERS");
    let twice = tlv(
        0x30,
        &[tlv(0xa0, &hash), tlv(0xa0, &hash), tlv(0xa1, &mgf)].concat(),
    );
    assert_eq!(malformed(&twice), "ALGORITHM_MALFORMED_PARAMETERS");
    // An unknown field [4].
    let extra = tlv(
        0x30,
        &[tlv(0xa0, &hash), tlv(0xa1, &mgf), tlv(0xa4, &salt)].concat(),
    );
    assert_eq!(malformed(&extra), "ALGORITHM_MALFORMED_PARAMETERS");
    // Trailer field other than 1.
    for t in [[0x02, 0x01, 0x02], [0x02, 0x01, 0xbc]] {
        let p = pss_params(Some(&hash), Some(&mgf), None, Some(&t));
        assert_eq!(malformed(&p), "ALGORITHM_MALFORMED_PARAMETERS");
    }
    // Absent, NULL, or not a SEQUENCE.
    assert_eq!(
        classify(&RSASSA_PSS, None).unwrap_err().code(),
        "ALGORITHM_MALFORMED_PARAMETERS"
    );
    assert_eq!(malformed(&NULL), "ALGORITHM_MALFORMED_PARAMETERS");
    assert_eq!(
        malformed(&tlv(0x31, &good[2..])),
        "ALGORITHM_MALFORMED_PARAMETERS"
    );
    // MGF1 without its hash; a mask generation function that is not MGF1.
    let bare_mgf = alg_id("1.2.840.113549.1.1.8", None);
    assert_eq!(
        malformed(&pss_params(Some(&hash), Some(&bare_mgf), None, None)),
        "ALGORITHM_MALFORMED_PARAMETERS"
    );
    let other_mgf = alg_id("1.2.3.4", Some(&hash));
    let e = classify_pss(&pss_params(Some(&hash), Some(&other_mgf), None, None)).unwrap_err();
    assert_eq!(
        e,
        AlgorithmError::UnsupportedParameters {
            oid: RSASSA_PSS,
            what: "maskGenAlgorithm is not MGF1"
        }
    );
    // An unknown hash names the hash.
    let sha224 = alg_id("2.16.840.1.101.3.4.2.4", None);
    let e = classify_pss(&pss_params(Some(&sha224), Some(&mgf1(&sha224)), None, None)).unwrap_err();
    assert_eq!(
        e,
        AlgorithmError::Unknown {
            oid: oid("2.16.840.1.101.3.4.2.4")
        }
    );
}

#[test]
fn algorithm_identifier_framing() {
    let good = alg_id("1.2.840.113549.1.1.11", Some(&NULL));
    assert!(classify_der(&good).is_ok());
    for bad in [
        vec![],
        [good.clone(), vec![0x00]].concat(),
        good[..good.len() - 1].to_vec(),
        tlv(0x31, &good[2..]),
        tlv(0x30, &[]),
        tlv(
            0x30,
            &[oid_tlv("1.2.840.113549.1.1.11"), NULL.to_vec(), NULL.to_vec()].concat(),
        ),
    ] {
        let e = classify_der(&bad).unwrap_err();
        assert_eq!(e.code(), "ALGORITHM_MALFORMED", "{bad:02x?}");
    }
    // Parameters given as bytes must be exactly one TLV.
    let e = classify(&oid("1.2.840.113549.1.1.11"), Some(&[0x05, 0x00, 0x00])).unwrap_err();
    assert_eq!(e.code(), "ALGORITHM_MALFORMED_PARAMETERS");
    let e = classify(&oid("1.2.840.113549.1.1.11"), Some(&[])).unwrap_err();
    assert_eq!(e.code(), "ALGORITHM_MALFORMED_PARAMETERS");
}

#[test]
fn codes_are_listed_once() {
    let errors = [
        AlgorithmError::Weak {
            name: "x",
            oid: RSASSA_PSS,
        },
        AlgorithmError::Unknown { oid: RSASSA_PSS },
        AlgorithmError::MalformedParameters {
            oid: RSASSA_PSS,
            what: "x",
        },
        AlgorithmError::UnsupportedParameters {
            oid: RSASSA_PSS,
            what: "x",
        },
        AlgorithmError::Malformed { detail: "x".into() },
    ];
    let codes: Vec<_> = errors.iter().map(AlgorithmError::code).collect();
    assert_eq!(codes, AlgorithmError::CODES);
}

fn any_hash() -> impl Strategy<Value = Hash> {
    prop::sample::select(Hash::ALL.to_vec())
}

proptest! {
    #[test]
    fn classifying_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..96)) {
        let _ = classify_der(&bytes);
        let _ = classify(&RSASSA_PSS, Some(&bytes));
        let _ = classify(&oid("1.2.840.113549.1.1.11"), Some(&bytes));
        // The same bytes inside a PSS AlgorithmIdentifier, so the parameters decoder sees them.
        if bytes.len() < 100 {
            let mut content = oid_tlv("1.2.840.113549.1.1.10");
            content.extend_from_slice(&bytes);
            let _ = classify_der(&tlv(0x30, &content));
        }
    }

    #[test]
    fn mutated_pss_params_never_panic(
        hash in any_hash(),
        salt in any::<u8>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut p = pss_parameters(hash, salt).unwrap();
        for (i, b) in flips {
            let at = i.index(p.len());
            p[at] ^= b;
        }
        if let Ok(a) = classify_pss(&p) {
            // Whatever is accepted is one of the table's outcomes.
            let is_pss = matches!(a.scheme, Scheme::RsaPss { .. });
            prop_assert!(is_pss);
        }
    }

    #[test]
    fn accepted_pss_params_round_trip(hash in any_hash(), salt in any::<u8>(), null in any::<bool>()) {
        // What this policy writes, it accepts, and re-encodes to the same bytes.
        let der = pss_parameters(hash, salt).unwrap();
        let accepted = classify_pss(&der).unwrap();
        prop_assert_eq!(accepted, Accepted { scheme: Scheme::RsaPss { salt_len: salt }, hash });
        let Scheme::RsaPss { salt_len } = accepted.scheme else { unreachable!() };
        prop_assert_eq!(pss_parameters(accepted.hash, salt_len).unwrap(), der);
        // Parameters written another way (NULL hash parameters, explicit trailer) mean the same.
        let h = alg_id(&hash.oid().to_string(), null.then_some(&NULL[..]));
        let other = pss_params(Some(&h), Some(&mgf1(&h)), Some(&salt.to_der().unwrap()), Some(&[0x02, 0x01, 0x01]));
        prop_assert_eq!(classify_pss(&other), Ok(accepted));
    }
}
