//! A shared simulator directory with one holder per generation, and helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use jlis_sim::Simulator;
use jlis_sim::issue::IssueRequest;
use jlis_sim::sign::{HashAlg as SimHash, SignInput, SignRequest};
use jpki::CertKind;
use openssl::x509::X509;
use time::OffsetDateTime;
use time::macros::datetime;
use verifier::{Limits, TrustStore, Verifier};

pub const ISSUED: OffsetDateTime = datetime!(2026-06-01 00:00 UTC);
/// A good instant to verify at: a day after issue.
pub const AT: i64 = 1_780_358_400;

pub struct Holder {
    pub id: String,
    pub sign_der: Vec<u8>,
    pub auth_der: Vec<u8>,
    pub sign_pem: PathBuf,
    pub sign_key: PathBuf,
}

pub struct Fixture {
    pub _dir: tempfile::TempDir,
    pub dir: PathBuf,
    pub sim: Simulator,
    pub g2019: Holder,
    pub g2023: Holder,
    pub g2026: Holder,
    pub test: Holder,
}

fn der_of(path: &Path) -> Vec<u8> {
    X509::from_pem(&std::fs::read(path).unwrap())
        .unwrap()
        .to_der()
        .unwrap()
}

fn issue(sim: &Simulator, generation: Option<&str>, test: bool) -> Holder {
    let issued = sim
        .issue(&IssueRequest {
            generation: generation.map(str::to_owned),
            smartphone: false,
            test,
            person: Default::default(),
            at: ISSUED,
        })
        .unwrap();
    Holder {
        id: issued.holder.clone(),
        sign_der: der_of(&issued.sign.cert),
        auth_der: der_of(&issued.auth.cert),
        sign_pem: issued.sign.cert.clone(),
        sign_key: issued.sign.key.clone(),
    }
}

pub fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("sim");
        let (sim, _) = Simulator::init(&dir, jlis_sim::DEFAULT_SEED, ISSUED, false).unwrap();
        let g2019 = issue(&sim, Some("2019"), false);
        let g2023 = issue(&sim, Some("2023"), false);
        let g2026 = issue(&sim, Some("2026"), false);
        let test = issue(&sim, None, true);
        Fixture {
            _dir: tmp,
            dir,
            sim,
            g2019,
            g2023,
            g2026,
            test,
        }
    })
}

impl Fixture {
    pub fn root_der(&self, ca: &str) -> Vec<u8> {
        std::fs::read(self.dir.join("ca").join(ca).join("root.der")).unwrap()
    }

    pub fn store(&self, cas: &[&str]) -> TrustStore {
        let mut s = TrustStore::production();
        for ca in cas {
            s.add_root(&self.root_der(ca)).unwrap();
        }
        s
    }

    pub fn production(&self) -> Verifier {
        Verifier::new(
            self.store(&[
                "sign-2019",
                "sign-2023",
                "sign-2026",
                "auth-2019",
                "auth-2023",
                "auth-2026",
            ]),
            Limits::default(),
        )
    }

    pub fn sign(
        &self,
        holder: &Holder,
        key: CertKind,
        input: SignInput,
        hash: Option<SimHash>,
        pss: bool,
    ) -> Vec<u8> {
        self.sim
            .sign(&SignRequest {
                holder: holder.id.clone(),
                key,
                input,
                hash,
                pss,
                cms: None,
            })
            .unwrap()
    }
}

/// The report as pretty JSON, for assertion messages (the library itself has no JSON encoder).
pub trait Pretty {
    fn to_json_pretty(&self) -> String;
}

impl Pretty for verifier::Report {
    fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}
