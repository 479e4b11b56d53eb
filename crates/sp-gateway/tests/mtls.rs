//! HTTPS and mutual TLS on the gateway's listener (`[server.tls]`), with certificates made by the
//! `openssl` CLI and reqwest (native-tls) clients on loopback: HTTPS without client certificates;
//! with `client_ca`, no certificate or one from another CA is refused in the handshake; an SP
//! bound to a client certificate (fingerprint or subject) gets 401 and an audit record when its
//! key comes over another one; `validate()` checks the files.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use std::path::{Path, PathBuf};

use reqwest::{Certificate, Identity};
use serde_json::Value;
use support::{KEY_A, KEY_B, Opts, start};
use testkit::openssl::must;

/// A test PKI in a directory: a CA for the server, one for SP clients, and a foreign one.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn s(&self, name: &str) -> String {
        self.path(name).to_str().unwrap().to_owned()
    }

    fn ca(&self, name: &str, subject: &str) {
        must([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "2",
            "-subj",
            subject,
            "-keyout",
            &self.s(&format!("{name}.key")),
            "-out",
            &self.s(&format!("{name}.pem")),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
    }

    /// A leaf certificate `name` signed by `ca`, with extensions `ext` (openssl x509 -extfile).
    fn leaf(&self, name: &str, ca: &str, subject: &str, ext: &str) {
        let (key, csr, ext_file) = (
            self.s(&format!("{name}.key")),
            self.s(&format!("{name}.csr")),
            self.path(&format!("{name}.ext")),
        );
        std::fs::write(&ext_file, ext).unwrap();
        must([
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            subject,
            "-keyout",
            &key,
            "-out",
            &csr,
        ]);
        must([
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &self.s(&format!("{ca}.pem")),
            "-CAkey",
            &self.s(&format!("{ca}.key")),
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            &self.s(&format!("{name}.pem")),
            "-extfile",
            ext_file.to_str().unwrap(),
        ]);
        // native-tls wants PKCS#8.
        must([
            "pkcs8",
            "-topk8",
            "-nocrypt",
            "-in",
            &key,
            "-out",
            &self.s(&format!("{name}.p8")),
        ]);
    }

    fn new() -> Pki {
        let p = Pki {
            dir: tempfile::tempdir().unwrap(),
        };
        p.ca("server-ca", "/O=PF Test/CN=PF server CA");
        p.ca("client-ca", "/O=PF Test/CN=PF SP client CA");
        p.ca("other-ca", "/O=Elsewhere/CN=Other CA");
        p.leaf(
            "server",
            "server-ca",
            "/O=PF Test/CN=localhost",
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
        );
        let client = "extendedKeyUsage=clientAuth\n";
        p.leaf("a1", "client-ca", "/C=JP/O=Bank A/CN=bank-a-api", client);
        p.leaf("a2", "client-ca", "/C=JP/O=Bank A/CN=bank-a-batch", client);
        p.leaf("b1", "client-ca", "/C=JP/O=Bank B/CN=bank-b-api", client);
        p.leaf("foreign", "other-ca", "/C=JP/O=Bank A/CN=bank-a-api", client);
        p
    }

    /// SHA-256 of a certificate's DER, hex.
    fn fingerprint(&self, name: &str) -> String {
        let pem = std::fs::read(self.path(&format!("{name}.pem"))).unwrap();
        let der = openssl::x509::X509::from_pem(&pem).unwrap().to_der().unwrap();
        hex::encode(openssl::sha::sha256(&der))
    }

    fn tls_toml(&self, mtls: bool) -> String {
        let mut t = format!(
            "cert = {:?}\nkey = {:?}\n",
            self.path("server.pem"),
            self.path("server.key")
        );
        if mtls {
            t.push_str(&format!("client_ca = {:?}\n", self.path("client-ca.pem")));
        }
        t
    }

    /// A client that trusts only the server CA, with the identity `name` if given.
    fn client(&self, name: Option<&str>) -> reqwest::Client {
        let ca = Certificate::from_pem(&std::fs::read(self.path("server-ca.pem")).unwrap()).unwrap();
        let mut b = reqwest::Client::builder()
            .tls_certs_only([ca])
            .timeout(std::time::Duration::from_secs(5));
        if let Some(n) = name {
            let cert = std::fs::read(self.path(&format!("{n}.pem"))).unwrap();
            let key = std::fs::read(self.path(&format!("{n}.p8"))).unwrap();
            b = b.identity(Identity::from_pkcs8_pem(&cert, &key).unwrap());
        }
        b.build().unwrap()
    }
}

async fn get(c: &reqwest::Client, url: &str, key: Option<&str>) -> Result<(u16, Value), reqwest::Error> {
    let mut r = c.get(url);
    if let Some(k) = key {
        r = r.bearer_auth(k);
    }
    let resp = r.send().await?;
    let status = resp.status().as_u16();
    Ok((status, resp.json().await.unwrap_or(Value::Null)))
}

fn in_audit(audit: &Path, what: &str) -> Vec<Value> {
    std::fs::read_to_string(audit)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["event"] == what)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_without_client_certificates() {
    let pki = tokio::task::spawn_blocking(Pki::new).await.unwrap();
    let gw = start(Opts {
        tls: Some(pki.tls_toml(false)),
        no_snapshot: true,
        ..Default::default()
    })
    .await;
    assert!(gw.base.starts_with("https://127.0.0.1:"));
    let c = pki.client(None);
    let (st, _) = get(&c, &format!("{}/healthz", gw.base), None).await.unwrap();
    assert_eq!(st, 200);
    // Authenticated route: the key works (no webhook set: 404).
    let (st, e) = get(&c, &format!("{}/v1/webhook", gw.base), Some(KEY_A))
        .await
        .unwrap();
    assert_eq!(st, 404, "{e}");
    // Plain HTTP to the TLS port does not get an answer.
    let plain = gw.base.replace("https://", "http://");
    assert!(
        get(&reqwest::Client::new(), &format!("{plain}/healthz"), None)
            .await
            .is_err()
    );
    // A client that does not trust the server CA refuses the connection.
    let other = reqwest::Client::builder()
        .tls_certs_only([Certificate::from_pem(&std::fs::read(pki.path("other-ca.pem")).unwrap()).unwrap()])
        .build()
        .unwrap();
    assert!(get(&other, &format!("{}/healthz", gw.base), None).await.is_err());
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_needs_a_client_certificate_from_the_client_ca_and_binds_sps() {
    let pki = tokio::task::spawn_blocking(Pki::new).await.unwrap();
    let gw = start(Opts {
        tls: Some(pki.tls_toml(true)),
        no_snapshot: true,
        sp_extra: [
            format!("client_cert_sha256 = [\"{}\"]\n", pki.fingerprint("a1")),
            "client_cert_subject = \"C=JP, O=Bank B, CN=bank-b-api\"\n".to_owned(),
        ],
        ..Default::default()
    })
    .await;
    let url = |p: &str| format!("{}{p}", gw.base);
    // No client certificate, or one from another CA: refused in the handshake.
    assert!(get(&pki.client(None), &url("/healthz"), None).await.is_err());
    assert!(
        get(&pki.client(Some("foreign")), &url("/healthz"), None)
            .await
            .is_err()
    );
    let (st, _) = get(&pki.client(Some("a2")), &url("/healthz"), None)
        .await
        .unwrap();
    assert_eq!(st, 200);

    // bank-a's key works from a1 only.
    let a1 = pki.client(Some("a1"));
    let (st, e) = get(&a1, &url("/v1/webhook"), Some(KEY_A)).await.unwrap();
    assert_eq!(st, 404, "{e}");
    let a2 = pki.client(Some("a2"));
    let (st, e) = get(&a2, &url("/v1/webhook"), Some(KEY_A)).await.unwrap();
    assert_eq!(st, 401, "{e}");
    assert_eq!(e["error"]["code"], "UNAUTHENTICATED");
    // bank-b is bound by subject: b1 has it, a2 does not.
    let (st, e) = get(&pki.client(Some("b1")), &url("/v1/webhook"), Some(KEY_B))
        .await
        .unwrap();
    assert_eq!(st, 404, "{e}");
    let (st, _) = get(&a2, &url("/v1/webhook"), Some(KEY_B)).await.unwrap();
    assert_eq!(st, 401);
    // A valid key from the right certificate of another SP does not help either.
    let (st, _) = get(&a1, &url("/v1/webhook"), Some(KEY_B)).await.unwrap();
    assert_eq!(st, 401);

    let m = a1
        .get(url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        m.contains("sp_gateway_auth_failures_total{kind=\"client_cert\"} 3"),
        "{m}"
    );
    gw.stop().await;
    let refused = in_audit(&gw.audit, "auth_failed");
    assert_eq!(refused.len(), 3, "{refused:?}");
    assert!(refused.iter().all(|r| r["why"] == "client_cert_mismatch"));
    assert_eq!(refused[0]["sp"], "bank-a");
    assert_eq!(refused[0]["client_cert_sha256"], pki.fingerprint("a2"));
    assert_eq!(refused[1]["sp"], "bank-b");
    assert!(!std::fs::read_to_string(&gw.audit).unwrap().contains(KEY_A));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_checks_the_tls_files() {
    let pki = tokio::task::spawn_blocking(Pki::new).await.unwrap();
    let gw = start(Opts {
        no_snapshot: true,
        ..Default::default()
    })
    .await;
    let mut cfg = gw.gw.config.clone();
    gw.stop().await;
    cfg.validate().unwrap();
    let garbage = pki.path("garbage.pem");
    std::fs::write(&garbage, "not a certificate").unwrap();
    cfg.server.tls = Some(pf_server::tls::TlsConfig {
        cert: pki.path("missing.pem"),
        key: pki.path("a1.key"),
        client_ca: Some(garbage.clone()),
    });
    let problems = |cfg: &sp_gateway::Config| match cfg.validate() {
        Err(sp_gateway::config::ConfigError::Invalid(p)) => p,
        other => panic!("{other:?}"),
    };
    let p = problems(&cfg);
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(
        p[0].contains("server.tls.cert") && p[0].contains("missing.pem"),
        "{p:?}"
    );
    assert!(p[1].contains("server.tls.client_ca"), "{p:?}");
    // A key that is not the certificate's.
    cfg.server.tls = Some(pf_server::tls::TlsConfig {
        cert: pki.path("server.pem"),
        key: pki.path("a1.key"),
        client_ca: None,
    });
    let p = problems(&cfg);
    assert!(p.len() == 1 && p[0].contains("does not belong"), "{p:?}");
    // A client-certificate binding without mTLS.
    cfg.server.tls.as_mut().unwrap().key = pki.path("server.key");
    cfg.validate().unwrap();
    cfg.sp[0].client_cert_sha256 = vec![pki.fingerprint("a1")];
    let p = problems(&cfg);
    assert!(
        p.len() == 1 && p[0].contains("needs server.tls.client_ca"),
        "{p:?}"
    );
    cfg.server.tls.as_mut().unwrap().client_ca = Some(pki.path("client-ca.pem"));
    cfg.validate().unwrap();
    // The subject form the configuration uses is what the openssl CLI prints (SP_GUIDE).
    let printed = must([
        "x509",
        "-in",
        &pki.s("b1.pem"),
        "-noout",
        "-subject",
        "-nameopt",
        "sep_comma_plus_space,sname",
    ]);
    let pem = std::fs::read(pki.path("b1.pem")).unwrap();
    let cert = openssl::x509::X509::from_pem(&pem).unwrap();
    let ours = pf_server::tls::ClientCert::of(&cert).unwrap();
    assert_eq!(printed.trim().strip_prefix("subject=").unwrap(), ours.subject);
    assert_eq!(hex::encode(ours.sha256), pki.fingerprint("b1"));
}
