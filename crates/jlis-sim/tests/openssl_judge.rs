//! End-to-end checks of the `jlis-sim` binary with the `openssl` CLI as the independent judge.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)] // test code

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const AT: &str = "2026-11-01T00:00:00Z";

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_jlis-sim"))
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("jlis-sim-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn run_ok(cmd: &mut Command) -> serde_json::Value {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{:?} failed: {}",
        cmd,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn openssl(args: &[&str]) -> Output {
    Command::new("openssl").args(args).output().unwrap()
}

fn init(dir: &Path, seed: &str) -> serde_json::Value {
    run_ok(bin().args(["init", "--seed", seed, "--at", AT, "--dir"]).arg(dir))
}

fn issue(dir: &Path, extra: &[&str]) -> serde_json::Value {
    run_ok(bin().args(["issue", "--at", AT, "--dir"]).arg(dir).args(extra))
}

fn s(v: &serde_json::Value) -> String {
    v.as_str().unwrap().to_owned()
}

fn root(dir: &Path, ca: &str) -> String {
    dir.join("ca")
        .join(ca)
        .join("root.pem")
        .to_string_lossy()
        .into_owned()
}

fn verify(root: &str, cert: &str) -> bool {
    let out = openssl(&["verify", "-CAfile", root, cert]);
    out.status.success() && String::from_utf8_lossy(&out.stdout).contains(": OK")
}

/// A listing of every file with its contents, to prove a failed command changed nothing.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p).unwrap();
                out.push((p, bytes));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn certificates_chain_to_the_right_roots_only() {
    let dir = tmpdir("chain");
    init(&dir, "chain");
    for (generation, sign_ca, auth_ca) in [
        ("2019", "sign-2019", "auth-2019"),
        ("2023", "sign-2023", "auth-2023"),
        ("2026", "sign-2026", "auth-2026"),
    ] {
        let h = issue(&dir, &["--generation", generation]);
        let sign = s(&h["sign"]["cert"]);
        let auth = s(&h["auth"]["cert"]);
        assert!(verify(&root(&dir, sign_ca), &sign), "{generation} sign");
        assert!(verify(&root(&dir, auth_ca), &auth), "{generation} auth");
        assert!(
            !verify(&root(&dir, auth_ca), &sign),
            "{generation} sign under auth root"
        );
    }
    // Same DN, different key: a 2023 certificate does not verify against the 2019 root.
    let h = issue(&dir, &[]);
    assert!(!verify(&root(&dir, "sign-2019"), &s(&h["sign"]["cert"])));
    // ECDSA next-generation certificate text.
    let h26 = issue(&dir, &["--generation", "2026", "--smartphone"]);
    let text =
        String::from_utf8(openssl(&["x509", "-noout", "-text", "-in", &s(&h26["sign"]["cert"])]).stdout)
            .unwrap();
    assert!(text.contains("ecdsa-with-SHA384"), "{text}");
    assert!(text.contains("1.2.392.200149.8.5.1.1.40"), "{text}");
    // The test hierarchy is rejected by every production root.
    let t = issue(&dir, &["--test"]);
    assert!(verify(&root(&dir, "test-sign"), &s(&t["sign"]["cert"])));
    assert!(verify(&root(&dir, "test-auth"), &s(&t["auth"]["cert"])));
    for ca in ["sign-2019", "sign-2023", "sign-2026"] {
        assert!(
            !verify(&root(&dir, ca), &s(&t["sign"]["cert"])),
            "test cert under {ca}"
        );
    }
    let text = String::from_utf8(openssl(&["x509", "-noout", "-text", "-in", &s(&t["sign"]["cert"])]).stdout)
        .unwrap();
    assert!(text.contains("1.2.392.200149.8.5.1.0.20"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn signing_cert_carries_the_four_info() {
    let dir = tmpdir("fourinfo");
    init(&dir, "fourinfo");
    let h = issue(
        &dir,
        &[
            "--name",
            "髙橋\u{3000}健一",
            "--dob",
            "319801231",
            "--sex",
            "1",
            "--municipality",
            "131016",
        ],
    );
    let cert = s(&h["sign"]["cert"]);
    let parsed = String::from_utf8(openssl(&["asn1parse", "-in", &cert]).stdout).unwrap();
    // Find the subjectAltName extension value and parse inside it.
    let lines: Vec<&str> = parsed.lines().collect();
    let i = lines
        .iter()
        .position(|l| l.contains("Subject Alternative Name"))
        .unwrap();
    let off = lines[i + 1]
        .trim_start()
        .split(':')
        .next()
        .unwrap()
        .trim()
        .to_owned();
    let inner = String::from_utf8(openssl(&["asn1parse", "-in", &cert, "-strparse", &off]).stdout).unwrap();
    for n in 1..=6 {
        assert!(
            inner.contains(&format!(":1.2.392.200149.8.5.5.{n}")),
            "item {n} missing:\n{inner}"
        );
    }
    let text = String::from_utf8(openssl(&["x509", "-noout", "-text", "-in", &cert]).stdout).unwrap();
    assert!(text.contains("髙橋\u{3000}健一"));
    assert!(text.contains("319801231"));
    assert!(text.contains("Digital Signature, Non Repudiation"));
    assert!(text.contains("1.2.392.200149.8.5.1.1.20"));
    assert!(text.contains("CN = 131016 CRLDP"));
    // The auth certificate has no personal data.
    let auth = String::from_utf8(openssl(&["x509", "-noout", "-text", "-in", &s(&h["auth"]["cert"])]).stdout)
        .unwrap();
    assert!(!auth.contains("200149.8.5.5"));
    assert!(auth.contains("1.2.392.200149.8.5.1.3.30"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn init_is_deterministic() {
    let (a, b, c) = (tmpdir("det-a"), tmpdir("det-b"), tmpdir("det-c"));
    init(&a, "same");
    init(&b, "same");
    init(&c, "other");
    for ca in ["sign-2019", "sign-2023", "sign-2026", "auth-2026", "test-auth"] {
        for f in ["root.pem", "root.key.pem"] {
            let read = |d: &Path| std::fs::read(d.join("ca").join(ca).join(f)).unwrap();
            assert_eq!(read(&a), read(&b), "{ca}/{f}");
            assert_ne!(read(&a), read(&c), "{ca}/{f}");
        }
    }
    // Issued certificates, keys and CRLs are reproducible too (RSA and RFC 6979 ECDSA).
    for d in [&a, &b] {
        for g in ["2023", "2026"] {
            issue(d, &["--generation", g]);
        }
        run_ok(
            bin()
                .args(["crl", "--at", "2026-11-03T07:00:00Z", "--dir"])
                .arg(d),
        );
    }
    for f in [
        "holders/H000001/sign-01000001.pem",
        "holders/H000001/sign-01000001.key.pem",
        "holders/H000002/sign-01000002.pem",
        "holders/H000002/auth-11000002.pem",
        "crl/sign-2026/131016.crl",
        "crl/auth-2023/131016.crl",
        "ca/sign-2026/ocsp.pem",
    ] {
        assert_eq!(
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
            "{f}"
        );
    }
    // Refuses a non-empty directory.
    let out = bin().args(["init", "--dir"]).arg(&a).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));
    for d in [a, b, c] {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn signatures_verify_with_openssl() {
    let dir = tmpdir("sign");
    init(&dir, "sign");
    let rsa = issue(&dir, &[]);
    let ec = issue(&dir, &["--generation", "2026"]);
    let data = dir.join("data.txt");
    std::fs::write(&data, b"contract text").unwrap();
    let d = data.to_string_lossy().into_owned();
    let pubkey = |cert: &str, name: &str| {
        let p = dir.join(name);
        let out = openssl(&["x509", "-noout", "-pubkey", "-in", cert]);
        std::fs::write(&p, out.stdout).unwrap();
        p.to_string_lossy().into_owned()
    };
    let rsa_pub = pubkey(&s(&rsa["sign"]["cert"]), "rsa.pub");
    let ec_pub = pubkey(&s(&ec["sign"]["cert"]), "ec.pub");
    let auth_pub = pubkey(&s(&rsa["auth"]["cert"]), "auth.pub");
    let holder_rsa = s(&rsa["holder"]);
    let holder_ec = s(&ec["holder"]);
    let sign = |holder: &str, extra: &[&str], out: &str| -> String {
        let o = dir.join(out);
        run_ok(
            bin()
                .args(["sign", "--holder", holder, "--dir"])
                .arg(&dir)
                .args(extra)
                .arg("--out")
                .arg(&o),
        );
        o.to_string_lossy().into_owned()
    };
    let ok = |o: Output| o.status.success() && String::from_utf8_lossy(&o.stdout).contains("Verified OK");

    for hash in ["sha256", "sha384", "sha512"] {
        let sig = sign(&holder_rsa, &["--data", &d, "--hash", hash], "pkcs1.sig");
        assert!(
            ok(openssl(&[
                "dgst",
                &format!("-{hash}"),
                "-verify",
                &rsa_pub,
                "-signature",
                &sig,
                &d
            ])),
            "{hash}"
        );
    }
    let sig = sign(&holder_rsa, &["--data", &d, "--pss"], "pss.sig");
    assert!(ok(openssl(&[
        "dgst",
        "-sha256",
        "-verify",
        &rsa_pub,
        "-sigopt",
        "rsa_padding_mode:pss",
        "-sigopt",
        "rsa_pss_saltlen:-1",
        "-signature",
        &sig,
        &d
    ])));
    let digest = hex::encode(openssl::sha::sha256(b"contract text"));
    let sig = sign(&holder_rsa, &["--digest", &digest], "digest.sig");
    assert!(ok(openssl(&[
        "dgst",
        "-sha256",
        "-verify",
        &rsa_pub,
        "-signature",
        &sig,
        &d
    ])));
    let sig = sign(&holder_rsa, &["--key", "auth", "--data", &d], "auth.sig");
    assert!(ok(openssl(&[
        "dgst",
        "-sha256",
        "-verify",
        &auth_pub,
        "-signature",
        &sig,
        &d
    ])));
    let sig = sign(&holder_ec, &["--data", &d], "ec.sig");
    assert!(ok(openssl(&[
        "dgst",
        "-sha384",
        "-verify",
        &ec_pub,
        "-signature",
        &sig,
        &d
    ])));

    let attached = sign(&holder_rsa, &["--data", &d, "--cms", "attached"], "a.p7");
    let o = openssl(&[
        "cms",
        "-verify",
        "-CAfile",
        &root(&dir, "sign-2023"),
        "-in",
        &attached,
        "-inform",
        "DER",
        "-binary",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.stdout, b"contract text");
    let detached = sign(&holder_rsa, &["--data", &d, "--cms", "detached"], "d.p7");
    let o = openssl(&[
        "cms",
        "-verify",
        "-CAfile",
        &root(&dir, "sign-2023"),
        "-in",
        &detached,
        "-inform",
        "DER",
        "-content",
        &d,
        "-binary",
        "-out",
        "/dev/null",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let printed =
        String::from_utf8(openssl(&["cms", "-cmsout", "-print", "-in", &detached, "-inform", "DER"]).stdout)
            .unwrap();
    for attr in ["contentType", "messageDigest", "signingTime"] {
        assert!(printed.contains(attr), "{attr}");
    }
    let ec_cms = sign(&holder_ec, &["--data", &d, "--cms", "detached"], "ec.p7");
    let o = openssl(&[
        "cms",
        "-verify",
        "-CAfile",
        &root(&dir, "sign-2026"),
        "-in",
        &ec_cms,
        "-inform",
        "DER",
        "-content",
        &d,
        "-binary",
        "-out",
        "/dev/null",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn move_revoke_and_crls() {
    let dir = tmpdir("crl");
    init(&dir, "crl");
    let h = issue(&dir, &["--municipality", "131130"]);
    let holder = s(&h["holder"]);
    let old = s(&h["sign"]["serial"]);
    let moved = run_ok(
        bin()
            .args([
                "move",
                "--holder",
                &holder,
                "--address",
                "東京都千代田区千代田１番１号",
                "--at",
                "2026-11-02T00:00:00Z",
                "--dir",
            ])
            .arg(&dir),
    );
    assert_eq!(s(&moved["old_serial"]), old);
    let new = s(&moved["new"]["serial"]);
    assert_ne!(new, old);
    let text =
        String::from_utf8(openssl(&["x509", "-noout", "-text", "-in", &s(&moved["new"]["cert"])]).stdout)
            .unwrap();
    assert!(text.contains("東京都千代田区千代田１番１号"));
    assert!(text.contains("CN = 131016 CRLDP"));

    // Failing commands change nothing.
    let before = snapshot(&dir);
    for args in [
        vec!["revoke", "--serial", "0DEADBEEF0", "--reason", "keyCompromise"],
        vec!["revoke", "--serial", &old, "--reason", "keyCompromise"],
        vec!["revoke", "--serial", "zz", "--reason", "keyCompromise"],
        vec!["revoke", "--serial", &new, "--reason", "notAReason"],
        vec!["issue", "--dob", "319801332"],
        vec!["issue", "--generation", "2030"],
        vec!["issue", "--municipality", "999999"],
        vec![
            "move",
            "--holder",
            "H999999",
            "--address",
            "東京都千代田区千代田１番１号",
        ],
        vec!["crl", "--next-update-hours", "0"],
    ] {
        let out = bin().args(&args).arg("--dir").arg(&dir).output().unwrap();
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(!out.stderr.is_empty(), "{args:?} should explain");
        assert_eq!(snapshot(&dir), before, "{args:?} changed the directory");
    }
    // Refused arguments are usage errors (exit 2); a missing certificate is not.
    let code = |args: &[&str]| {
        bin()
            .args(args)
            .arg("--dir")
            .arg(&dir)
            .output()
            .unwrap()
            .status
            .code()
    };
    assert_eq!(code(&["issue", "--dob", "319801332"]), Some(2));
    assert_eq!(
        code(&["revoke", "--serial", "zz", "--reason", "keyCompromise"]),
        Some(2)
    );
    assert_eq!(
        code(&["revoke", "--serial", "0DEADBEEF0", "--reason", "keyCompromise"]),
        Some(1)
    );
    assert_eq!(code(&["crl", "--bogus-flag"]), Some(2));
    assert_eq!(snapshot(&dir), before);
    let out = bin()
        .args(["revoke", "--serial", &old, "--reason", "keyCompromise", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("already revoked"));

    run_ok(
        bin()
            .args([
                "revoke",
                "--serial",
                &s(&h["auth"]["serial"]),
                "--reason",
                "keyCompromise",
                "--at",
                "2026-11-02T01:00:00Z",
                "--dir",
            ])
            .arg(&dir),
    );
    let crls = run_ok(
        bin()
            .args(["crl", "--at", "2026-11-03T00:00:00Z", "--dir"])
            .arg(&dir),
    );
    let list = crls["crls"].as_array().unwrap();
    assert_eq!(list.len(), 8 * 8);
    let find = |ca: &str, m: &str| {
        list.iter()
            .find(|c| c["ca"] == ca && c["municipality"] == m)
            .unwrap()
            .clone()
    };
    let sign_crl = find("sign-2023", "131130");
    assert_eq!(sign_crl["entries"], 1);
    assert_eq!(find("auth-2023", "131130")["entries"], 1);
    assert_eq!(find("sign-2023", "131016")["entries"], 0);
    for c in [
        &sign_crl,
        &find("sign-2023", "131016"),
        &find("sign-2026", "131016"),
        &find("auth-2023", "131130"),
    ] {
        let o = openssl(&[
            "crl",
            "-in",
            &s(&c["file"]),
            "-inform",
            "DER",
            "-CAfile",
            &root(&dir, &s(&c["ca"])),
            "-noout",
        ]);
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("verify OK")
                || String::from_utf8_lossy(&o.stdout).contains("verify OK")
        );
    }
    let text = String::from_utf8(
        openssl(&[
            "crl",
            "-in",
            &s(&sign_crl["file"]),
            "-inform",
            "DER",
            "-noout",
            "-text",
        ])
        .stdout,
    )
    .unwrap();
    assert!(text.contains(&format!("Serial Number: {old}")), "{text}");
    assert!(text.contains("Affiliation Changed"));
    assert!(text.contains("X509v3 CRL Number: \n                1"), "{text}");
    // CRL numbers increase per partition.
    let again = run_ok(
        bin()
            .args(["crl", "--at", "2026-11-04T00:00:00Z", "--dir"])
            .arg(&dir),
    );
    assert!(
        again["crls"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["crl_number"] == 2)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn synthetic_crl_verifies() {
    let dir = tmpdir("synth");
    init(&dir, "synth");
    for (ca, wide) in [("sign-2023", "0"), ("sign-2026", "0.01")] {
        let out = dir.join(format!("{ca}.crl"));
        let summary = run_ok(
            bin()
                .args([
                    "crl",
                    "--entries",
                    "10000",
                    "--ca",
                    ca,
                    "--crl-number",
                    "7",
                    "--wide-fraction",
                    wide,
                    "--at",
                    AT,
                    "--dir",
                ])
                .arg(&dir)
                .arg("--out")
                .arg(&out),
        );
        assert_eq!(summary["entries"], 10000);
        let f = out.to_string_lossy().into_owned();
        let o = openssl(&[
            "crl",
            "-in",
            &f,
            "-inform",
            "DER",
            "-CAfile",
            &root(&dir, ca),
            "-noout",
        ]);
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("verify OK"),
            "{ca}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let text =
            String::from_utf8(openssl(&["crl", "-in", &f, "-inform", "DER", "-noout", "-text"]).stdout)
                .unwrap();
        assert_eq!(text.matches("Serial Number:").count(), 10000, "{ca}");
        assert!(text.contains("Serial Number: 01000001"));
        if wide != "0" {
            assert!(text.lines().any(|l| {
                l.trim()
                    .strip_prefix("Serial Number: ")
                    .is_some_and(|s| s.len() >= 18)
            }));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
