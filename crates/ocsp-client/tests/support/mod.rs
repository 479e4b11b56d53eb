//! Test harness: one J-LIS simulator per test binary, its HTTP server (the real OCSP responder)
//! started in each test's runtime, and helpers that re-sign responses to forge them.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use der::Decode;
use der::asn1::{GeneralizedTime, ObjectIdentifier};
use jlis_sim::{IssueRequest, PersonInput, Simulator};
use jpki::ocsp::{BasicOcspResponse, OcspResponse, ResponseData};
use ocsp_client::IssuingCa;
use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::sign::Signer;
use openssl::x509::extension::{ExtendedKeyUsage, KeyUsage};
use openssl::x509::{X509, X509Builder, X509Extension, X509NameRef};
use time::OffsetDateTime;
use x509_cert::spki::AlgorithmIdentifierOwned;

/// The CA most tests use (RSA, the current generation).
pub const CA: &str = "sign-2023";

pub struct Sim {
    _tmp: tempfile::TempDir,
    pub dir: PathBuf,
    pub sim: Arc<Simulator>,
}

pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc().replace_nanosecond(0).unwrap()
}

/// The simulator shared by the tests of one binary (initialised 30 days ago, so its responder
/// certificates are valid now).
pub fn sim() -> &'static Sim {
    static S: OnceLock<Sim> = OnceLock::new();
    S.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("sim");
        let (sim, _) =
            Simulator::init(&dir, "ocsp-client-tests", now() - time::Duration::days(30), false).unwrap();
        Sim {
            _tmp: tmp,
            dir,
            sim: Arc::new(sim),
        }
    })
}

/// Starts `jlis-sim serve` in the current runtime; returns the OCSP URL.
pub fn serve() -> String {
    let (addr, server) = jlis_sim::serve::start(sim().sim.clone(), "127.0.0.1:0".parse().unwrap()).unwrap();
    tokio::spawn(server);
    format!("http://{addr}/ocsp")
}

/// A new holder's signing certificate (DER) under [`CA`], and its serial.
pub fn issue() -> (Vec<u8>, jpki::Serial) {
    let issued = sim()
        .sim
        .issue(&IssueRequest {
            generation: None,
            smartphone: false,
            test: false,
            person: PersonInput::default(),
            at: now() - time::Duration::days(1),
        })
        .unwrap();
    assert_eq!(issued.sign.ca, CA);
    let pem = std::fs::read(&issued.sign.cert).unwrap();
    (
        X509::from_pem(&pem).unwrap().to_der().unwrap(),
        issued.sign.serial,
    )
}

pub fn ca(id: &str) -> IssuingCa {
    IssuingCa::from_pem(&std::fs::read(sim().dir.join(format!("ca/{id}/root.pem"))).unwrap()).unwrap()
}

pub fn ca_key(id: &str) -> PKey<Private> {
    PKey::private_key_from_pem(&std::fs::read(sim().dir.join(format!("ca/{id}/root.key.pem"))).unwrap())
        .unwrap()
}

/// The CA's delegated responder certificate and key.
pub fn responder(id: &str) -> (X509, PKey<Private>) {
    sim().sim.responder(id).unwrap()
}

pub fn rsa_key() -> PKey<Private> {
    PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap()
}

pub fn gtime(unix: i64) -> GeneralizedTime {
    GeneralizedTime::from_unix_duration(std::time::Duration::from_secs(unix as u64)).unwrap()
}

const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");

/// Re-signs a genuine response after `edit` changed its ResponseData: signed with `key`
/// (sha256WithRSAEncryption), carrying `certs`.
pub fn resign(
    genuine: &[u8],
    edit: impl FnOnce(&mut ResponseData),
    key: &PKey<Private>,
    certs: &[&X509],
) -> Vec<u8> {
    let basic = OcspResponse::from_der(genuine).unwrap().basic().unwrap().unwrap();
    let mut data = basic.tbs_response_data;
    edit(&mut data);
    sign_data(&data, key, certs)
}

pub fn sign_data(data: &ResponseData, key: &PKey<Private>, certs: &[&X509]) -> Vec<u8> {
    let tbs = data.to_der().unwrap();
    let mut signer = Signer::new(MessageDigest::sha256(), key).unwrap();
    let signature = signer.sign_oneshot_to_vec(&tbs).unwrap();
    let alg = AlgorithmIdentifierOwned {
        oid: SHA256_WITH_RSA,
        parameters: Some(der::asn1::Any::from(der::asn1::Null)),
    };
    let certs = certs.iter().map(|c| c.to_der().unwrap()).collect();
    BasicOcspResponse::assemble(&tbs, alg, &signature, certs).unwrap()
}

/// SHA-1 of a certificate's subjectPublicKey: its ResponderID byKey.
pub fn key_hash(cert: &X509) -> Vec<u8> {
    let parsed = x509_cert::Certificate::from_der(&cert.to_der().unwrap()).unwrap();
    let raw = parsed
        .tbs_certificate()
        .subject_public_key_info()
        .subject_public_key
        .raw_bytes();
    openssl::sha::sha1(raw).to_vec()
}

/// What a made-up responder certificate looks like.
pub struct ResponderSpec<'a> {
    pub issuer_name: &'a X509NameRef,
    pub issuer_key: &'a PKey<Private>,
    pub key: &'a PKey<Private>,
    /// The one extendedKeyUsage purpose (dotted OID), or no extension.
    pub eku: Option<&'a str>,
    pub not_before_days: i64,
    pub not_after_days: i64,
    pub aia: Option<&'a str>,
}

/// A certificate made with OpenSSL (not the simulator): subject `CN=Made Up`, signed
/// sha256WithRSA by `issuer_key`.
pub fn make_cert(spec: &ResponderSpec<'_>) -> X509 {
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    let serial = BigNum::from_u32(0x5eed).unwrap();
    b.set_serial_number(&Asn1Integer::from_bn(&serial).unwrap())
        .unwrap();
    let mut name = openssl::x509::X509NameBuilder::new().unwrap();
    name.append_entry_by_text("C", "JP").unwrap();
    name.append_entry_by_text("CN", "Made Up").unwrap();
    let name = name.build();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(spec.issuer_name).unwrap();
    let t = now().unix_timestamp();
    b.set_not_before(&Asn1Time::from_unix(t + spec.not_before_days * 86_400).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::from_unix(t + spec.not_after_days * 86_400).unwrap())
        .unwrap();
    b.set_pubkey(spec.key).unwrap();
    b.append_extension(KeyUsage::new().digital_signature().build().unwrap())
        .unwrap();
    if let Some(oid) = spec.eku {
        b.append_extension(ExtendedKeyUsage::new().other(oid).build().unwrap())
            .unwrap();
    }
    if let Some(url) = spec.aia {
        #[allow(deprecated)]
        let ext = X509Extension::new(None, None, "authorityInfoAccess", &format!("OCSP;URI:{url}")).unwrap();
        b.append_extension(ext).unwrap();
    }
    b.sign(spec.issuer_key, MessageDigest::sha256()).unwrap();
    b.build()
}

/// A one-shot loopback HTTP server answering every request with `status`, `content_type` and
/// `body` (chunked when `chunked`, so no Content-Length announces the size).
pub fn raw_server(status: u16, content_type: &'static str, body: Vec<u8>, chunked: bool) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(16) {
            let Ok(stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut req = vec![0u8; len];
            let _ = reader.read_exact(&mut req);
            let mut out = stream;
            let _ = if chunked {
                let head = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                );
                let mut all = head.into_bytes();
                for chunk in body.chunks(8192) {
                    all.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                    all.extend_from_slice(chunk);
                    all.extend_from_slice(b"\r\n");
                }
                all.extend_from_slice(b"0\r\n\r\n");
                out.write_all(&all)
            } else {
                let head = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                out.write_all(head.as_bytes()).and_then(|()| out.write_all(&body))
            };
            let _ = out.flush();
        }
    });
    format!("http://127.0.0.1:{port}/ocsp")
}
