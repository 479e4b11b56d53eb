//! OpenSSL's `openssl ocsp` as the judge: requests it builds are answered by the library over a
//! real revocation snapshot of the simulator's CAs (RSA generation 2023, ECDSA P-384 generation
//! 2026), signed by delegated responders with RSA-2048 and ECDSA P-256 keys, and OpenSSL must
//! verify the responses and read good, revoked and unknown from them, with and without nonce,
//! with SHA-1 and SHA-256 CertIDs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};

use jlis_sim::Simulator;
use jpki::{Reason, Serial};
use ocsp_proxy::answer::{Context, Decision, StalePolicy, answer_request};
use ocsp_proxy::issuers::IssuerTable;
use ocsp_proxy::request::{Limits, Request};
use ocsp_proxy::sign::Responder;
use revocation::{IndexBuilder, PartitionMeta, Policy, SnapshotSet};
use testkit::openssl::run_in;

const GOOD: &str = "0x1001";
const REVOKED: u64 = 0x1002;

fn openssl(dir: &Path, args: &[&str]) -> String {
    let (ok, text) = run_in(dir, args);
    assert!(ok, "openssl {args:?}:\n{text}");
    text
}

struct Fixture {
    _tmp: tempfile::TempDir,
    work: PathBuf,
    sim: PathBuf,
    table: IssuerTable,
    set: SnapshotSet,
    now: i64,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let sim = tmp.path().join("sim");
    let now = time::OffsetDateTime::now_utc();
    Simulator::init(&sim, "ocsp-proxy-interop", now - time::Duration::days(30), false).unwrap();
    let now = now.unix_timestamp();
    let work = tmp.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let mut table = IssuerTable::new();
    let mut snapshots = Vec::new();
    for ca in ["sign-2023", "sign-2026", "auth-2023"] {
        table
            .add_pem_file(&sim.join("ca").join(ca).join("root.pem"))
            .unwrap();
    }
    for served in table.cas() {
        let mut b = IndexBuilder::new(served.key_id()).unwrap();
        b.add_partition(PartitionMeta {
            id: "131016".into(),
            dp_name: None,
            crl_number: vec![1],
            this_update: now - 3600,
            next_update: now + 86_400,
            source_sha256: [0; 32],
            entries: 0,
        })
        .unwrap();
        b.push_serial(
            &Serial::from_u64(REVOKED),
            now - 7200,
            Some(Reason::KeyCompromise),
            0,
        )
        .unwrap();
        snapshots.push(b.finish().unwrap());
    }
    // A CA we do not serve.
    openssl(
        &work,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "other.key",
            "-out",
            "other.pem",
            "-subj",
            "/C=JP/O=Elsewhere/CN=Other CA",
            "-days",
            "30",
        ],
    );
    Fixture {
        _tmp: tmp,
        work,
        sim,
        table,
        set: SnapshotSet::new(snapshots).unwrap(),
        now,
    }
}

/// A delegated responder for `ca`, issued by it with id-kp-OCSPSigning; returns its cert path.
fn make_responder(f: &Fixture, ca: &str, rsa: bool) -> (PathBuf, Responder) {
    let root = f.sim.join("ca").join(ca);
    let stem = format!("{ca}-{}", if rsa { "rsa" } else { "p256" });
    let (key, csr, pem) = (
        format!("{stem}.key"),
        format!("{stem}.csr"),
        format!("{stem}.pem"),
    );
    let newkey: &[&str] = if rsa {
        &["-newkey", "rsa:2048"]
    } else {
        &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    };
    let mut args = vec!["req", "-new"];
    args.extend_from_slice(newkey);
    args.extend_from_slice(&[
        "-nodes",
        "-keyout",
        &key,
        "-out",
        &csr,
        "-subj",
        "/C=JP/O=JPKI-PF/CN=PF OCSP",
    ]);
    openssl(&f.work, &args);
    std::fs::write(
        f.work.join("ext.cnf"),
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=OCSPSigning\n",
    )
    .unwrap();
    let ca_pem = root.join("root.pem");
    let ca_key = root.join("root.key.pem");
    openssl(
        &f.work,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            ca_pem.to_str().unwrap(),
            "-CAkey",
            ca_key.to_str().unwrap(),
            "-set_serial",
            "0x77",
            "-days",
            "30",
            "-extfile",
            "ext.cnf",
            "-out",
            &pem,
        ],
    );
    let responder = Responder::from_pem_files(&f.work.join(&pem), &f.work.join(&key)).unwrap();
    (f.work.join(pem), responder)
}

/// Answers `req.der` in the work directory with the library and writes `resp.der`.
fn answer(f: &Fixture, responder: &Responder, req_file: &str, resp_file: &str) {
    let body = std::fs::read(f.work.join(req_file)).unwrap();
    let request = Request::from_post(&body, &Limits::default()).unwrap();
    let ctx = Context {
        issuers: &f.table,
        snapshots: Some(&f.set),
        at: f.now,
        policy: Policy::default(),
        stale: StalePolicy::TryLater,
    };
    let Decision::Respond(responses) = answer_request(&ctx, &request).unwrap() else {
        panic!("fresh data answers at once")
    };
    let der = responder
        .sign(
            responses,
            request.nonce_extension(),
            f.now,
            request.preferred_signature_algorithms(),
        )
        .unwrap();
    std::fs::write(f.work.join(resp_file), der).unwrap();
}

fn check_ca(f: &Fixture, ca: &str) {
    let ca_pem = f.sim.join("ca").join(ca).join("root.pem");
    let ca_pem = ca_pem.to_str().unwrap();
    let revoked = format!("{REVOKED:#x}");
    for rsa in [true, false] {
        let (responder_pem, responder) = make_responder(f, ca, rsa);
        let responder_pem = responder_pem.to_str().unwrap();
        for (digest, nonce) in [
            ("-sha1", "-nonce"),
            ("-sha256", "-no_nonce"),
            ("-sha256", "-nonce"),
        ] {
            // One issuer per request: a delegated responder speaks for its own CA only, and
            // OpenSSL refuses a response that also answers for another issuer.
            let ids: Vec<&str> = vec![digest, "-issuer", ca_pem, "-serial", GOOD, "-serial", &revoked];
            let mut req = vec!["ocsp"];
            req.extend_from_slice(&ids);
            req.extend_from_slice(&["-reqout", "req.der", nonce]);
            openssl(&f.work, &req);
            answer(f, &responder, "req.der", "resp.der");
            let label = format!("{ca} rsa={rsa} {digest} {nonce}");

            // Signature, delegation (issued by the CA, id-kp-OCSPSigning) and nonce, against the
            // request as sent.
            let text = openssl(
                &f.work,
                &[
                    "ocsp",
                    "-respin",
                    "resp.der",
                    "-reqin",
                    "req.der",
                    "-CAfile",
                    ca_pem,
                    "-resp_text",
                ],
            );
            assert!(text.contains("Response verify OK"), "{label}\n{text}");
            assert!(
                !text.to_lowercase().contains("nonce verify error"),
                "{label}\n{text}"
            );
            assert!(!text.contains("WARNING"), "{label}\n{text}");
            assert_eq!(text.contains("OCSP Nonce"), nonce == "-nonce", "{label}\n{text}");
            let key_id: String = responder.key_hash().iter().map(|b| format!("{b:02X}")).collect();
            assert!(
                text.contains(&format!("Responder Id: {key_id}")),
                "{label}\n{text}"
            );

            // Each status, trusting the responder certificate directly.
            let mut summary = vec![
                "ocsp",
                "-respin",
                "resp.der",
                "-VAfile",
                responder_pem,
                "-no_nonce",
            ];
            summary.extend_from_slice(&ids);
            let text = openssl(&f.work, &summary);
            assert!(text.contains("Response verify OK"), "{label}\n{text}");
            assert!(text.contains(&format!("{GOOD}: good")), "{label}\n{text}");
            assert!(text.contains(&format!("{revoked}: revoked")), "{label}\n{text}");
            assert!(text.contains("Reason: keyCompromise"), "{label}\n{text}");
            assert!(!text.contains("WARNING"), "{label}\n{text}");
        }
    }
}

#[test]
fn openssl_accepts_our_answers_for_rsa_and_p384_cas() {
    let f = fixture();
    assert_eq!(f.table.len(), 3);
    check_ca(&f, "sign-2023");
    check_ca(&f, "sign-2026");
}

#[test]
fn an_openssl_request_for_an_unserved_issuer_alone_is_unknown() {
    let f = fixture();
    let (responder_pem, responder) = make_responder(&f, "auth-2023", false);
    openssl(
        &f.work,
        &[
            "ocsp",
            "-issuer",
            "other.pem",
            "-serial",
            "0x5",
            "-reqout",
            "req.der",
            "-nonce",
        ],
    );
    answer(&f, &responder, "req.der", "resp.der");
    let text = openssl(
        &f.work,
        &[
            "ocsp",
            "-respin",
            "resp.der",
            "-VAfile",
            responder_pem.to_str().unwrap(),
            "-no_nonce",
            "-issuer",
            "other.pem",
            "-serial",
            "0x5",
        ],
    );
    assert!(text.contains("Response verify OK"), "{text}");
    assert!(text.contains("0x5: unknown"), "{text}");
}
