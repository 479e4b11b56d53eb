//! `jpki-verify` exit codes: 0 valid, 1 invalid, 2 indeterminate, 64 usage.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[path = "../../verifier/tests/common/mod.rs"]
mod common;

use std::process::Command;

use common::fixture;
use jlis_sim::sign::SignInput;
use jpki::CertKind;

fn run(args: &[&str]) -> (i32, serde_json::Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_jpki-verify"))
        .args(args)
        .output()
        .unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out.status.code().unwrap(), json)
}

#[test]
fn exit_codes() {
    let f = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::write(&data, b"hello").unwrap();
    let sig = tmp.path().join("sig");
    std::fs::write(
        &sig,
        f.sign(
            &f.g2023,
            CertKind::Signing,
            SignInput::Data(b"hello".to_vec()),
            None,
            false,
        ),
    )
    .unwrap();
    let other = tmp.path().join("other");
    std::fs::write(&other, b"hellO").unwrap();
    let trust = f.dir.join("ca");
    let (t, c, d, s, o) = (
        trust.to_str().unwrap(),
        f.g2023.sign_pem.to_str().unwrap(),
        data.to_str().unwrap(),
        sig.to_str().unwrap(),
        other.to_str().unwrap(),
    );
    let at = "2026-06-02T00:00:00Z";
    let (code, json) = run(&[
        "--trust",
        t,
        "--data",
        d,
        "--signature",
        s,
        "--cert",
        c,
        "--at",
        at,
    ]);
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["verdict"], "valid");
    assert_eq!(json["revocation"]["status"], "not_checked");
    assert_eq!(json["basic_info"]["date_of_birth"].as_str().unwrap().len(), 10);
    let digest = hex::encode(openssl::sha::sha256(b"hello"));
    let (code, _) = run(&[
        "--trust",
        t,
        "--digest",
        &digest,
        "--hash",
        "sha256",
        "--signature",
        s,
        "--cert",
        c,
        "--at",
        at,
    ]);
    assert_eq!(code, 0);
    let (code, json) = run(&[
        "--trust",
        t,
        "--data",
        o,
        "--signature",
        s,
        "--cert",
        c,
        "--at",
        at,
    ]);
    assert_eq!((code, json["reason"].as_str()), (1, Some("SIG_CRYPTO_FAILURE")));
    let (code, json) = run(&[
        "--trust",
        t,
        "--data",
        d,
        "--signature",
        s,
        "--cert",
        c,
        "--at",
        "2020-01-01T00:00:00Z",
    ]);
    assert_eq!((code, json["reason"].as_str()), (2, Some("NOT_YET_VALID")));
    let (code, json) = run(&[
        "--trust",
        t,
        "--data",
        d,
        "--signature",
        s,
        "--cert",
        c,
        "--at",
        at,
        "--crl-snapshot",
        "/nonexistent",
    ]);
    assert_eq!((code, json["reason"].as_str()), (2, Some("TRY_LATER")));
    // A real snapshot: good, then revoked, then stale.
    let v = f.production();
    let facts = v
        .verify_certificate(&f.g2023.sign_der, None, common::AT, &verifier::NotChecked)
        .certificate
        .unwrap();
    let root = v
        .trust()
        .roots()
        .iter()
        .find(|r| hex::encode(r.fingerprint()) == facts.root_fingerprint.clone().unwrap())
        .unwrap();
    let serial = jpki::Serial::from_hex(&facts.serial).unwrap();
    let this_update = common::AT - 3600;
    for (name, listed, next_update, expect, reason) in [
        ("good", false, common::AT + 86_400, 0, None),
        ("revoked", true, common::AT + 86_400, 1, Some("REVOKED")),
        ("stale", false, common::AT - 60, 2, Some("TRY_LATER")),
    ] {
        let dir = tmp.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let mut b = revocation::IndexBuilder::new(root.key_id()).unwrap();
        let part = b
            .add_partition(revocation::PartitionMeta {
                id: "13101".into(),
                dp_name: None,
                crl_number: vec![1],
                this_update,
                next_update,
                source_sha256: [0; 32],
                entries: 0,
            })
            .unwrap();
        b.push(&[0x7f, 0xff, 0xff, 0xff, 0xff], this_update - 10, Some(1), part)
            .unwrap();
        if listed {
            b.push_serial(
                &serial,
                this_update - 5,
                Some(jpki::Reason::AffiliationChanged),
                part,
            )
            .unwrap();
        }
        b.write_atomically(&dir, 1).unwrap();
        let (code, json) = run(&[
            "--trust",
            t,
            "--data",
            d,
            "--signature",
            s,
            "--cert",
            c,
            "--at",
            at,
            "--crl-snapshot",
            dir.to_str().unwrap(),
        ]);
        assert_eq!(
            (code, json["reason"].as_str()),
            (expect, reason),
            "{name}: {json}"
        );
        match name {
            "good" => {
                assert_eq!(json["revocation"]["status"], "good");
                assert_eq!(json["revocation"]["check_method"], "crl");
            }
            "revoked" => assert_eq!(json["revocation"]["reason"], "affiliationChanged"),
            _ => assert_eq!(json["revocation"]["status"], "unknown"),
        }
    }
    let (code, json) = run(&[
        "--trust",
        t,
        "--kind",
        "auth",
        "--data",
        d,
        "--signature",
        s,
        "--cert",
        c,
        "--at",
        at,
    ]);
    assert_eq!((code, json["reason"].as_str()), (1, Some("POLICY_MISMATCH")));
    // CMS, attached and detached.
    for (mode, name) in [
        (jlis_sim::sign::CmsMode::Attached, "att.p7s"),
        (jlis_sim::sign::CmsMode::Detached, "det.p7s"),
    ] {
        let cms = f
            .sim
            .sign(&jlis_sim::sign::SignRequest {
                holder: f.g2023.id.clone(),
                key: CertKind::Signing,
                input: SignInput::Data(b"hello".to_vec()),
                hash: None,
                pss: false,
                cms: Some(mode),
            })
            .unwrap();
        let path = tmp.path().join(name);
        std::fs::write(&path, cms).unwrap();
        let p = path.to_str().unwrap();
        let mut args = vec!["--trust", t, "--cms", p, "--at", at];
        if name == "det.p7s" {
            args.extend_from_slice(&["--content", d]);
        }
        let (code, json) = run(&args);
        assert_eq!(code, 0, "{json}");
        assert_eq!(json["cms"]["detached"], name == "det.p7s");
        if name == "det.p7s" {
            let (code, json) = run(&["--trust", t, "--cms", p, "--content", o, "--at", at]);
            assert_eq!((code, json["reason"].as_str()), (1, Some("HASH_FAILURE")));
        }
    }
    assert_eq!(run(&["--trust", t, "--data", d]).0, 64);
    assert_eq!(run(&["--bogus"]).0, 64);
    assert_eq!(
        run(&["--trust", t, "--digest", &digest, "--signature", s, "--cert", c]).0,
        64
    );
    assert_eq!(
        run(&[
            "--trust",
            t,
            "--data",
            d,
            "--signature",
            s,
            "--cert",
            c,
            "--at",
            "yesterday"
        ])
        .0,
        64
    );
}
