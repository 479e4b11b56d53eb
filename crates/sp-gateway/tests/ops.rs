//! Operations: the OpenAPI document covers every route with examples, /metrics has what the
//! issue asks and no personal data, the CLI (`audit verify`, `hash-key`, `gen-key`,
//! `check-config`) works, and the server drains and flushes the audit log on stop.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;
use sp_gateway::routes::ops::OPENAPI;
use sp_gateway::server::ROUTES;
use support::{KEY_A, sim, start};

fn has_example(v: &Value) -> bool {
    v.get("example").is_some()
        || v.get("examples")
            .is_some_and(|e| e.as_object().is_some_and(|o| !o.is_empty()))
}

#[test]
fn openapi_documents_every_route_with_examples() {
    let doc: Value = serde_json::from_str(OPENAPI).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    for (method, path) in ROUTES {
        let op = &paths.get(path).unwrap_or_else(|| panic!("{path} undocumented"))[method];
        assert!(op.is_object(), "{method} {path} undocumented");
        assert!(op["operationId"].is_string(), "{method} {path}");
        let responses = op["responses"].as_object().unwrap();
        assert!(
            responses.keys().any(|k| k.starts_with('2')),
            "{method} {path}: no success response"
        );
        if let Some(body) = op.get("requestBody") {
            assert!(
                has_example(&body["content"]["application/json"]),
                "{method} {path}: request example"
            );
        }
        for (code, r) in responses {
            let r = match r.get("$ref").and_then(Value::as_str) {
                Some(p) => {
                    let name = p.rsplit('/').next().unwrap();
                    &doc["components"]["responses"][name]
                }
                None => r,
            };
            let content = r["content"]
                .as_object()
                .unwrap_or_else(|| panic!("{method} {path} {code}"));
            for (_, media) in content {
                assert!(has_example(media), "{method} {path} {code}: no example");
            }
        }
    }
    // And nothing documented that is not served.
    let served: std::collections::HashSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    for (path, ops) in paths {
        for method in ops.as_object().unwrap().keys() {
            assert!(
                served.contains(&(method.clone(), path.clone())),
                "{method} {path} is not served"
            );
        }
    }
    // Every error code the server can produce is in the Error schema's enum.
    let codes = doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect::<Vec<_>>();
    let src = [
        include_str!("../src/error.rs"),
        include_str!("../src/routes/consents.rs"),
    ]
    .concat();
    for line in src.lines() {
        if let Some(rest) = line
            .trim()
            .strip_prefix("ApiError::")
            .and_then(|l| l.split_once("=> \""))
        {
            let code = rest.1.trim_end_matches("\",");
            if !code.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
                continue;
            }
            assert!(
                codes.contains(&code.to_owned()),
                "{code} missing from the OpenAPI Error enum"
            );
        }
    }
}

#[test]
fn openapi_validates_and_documents_the_webhook() {
    let doc: Value = serde_json::from_str(OPENAPI).unwrap();
    let hook = &doc["webhooks"]["certificateRevoked"]["post"];
    let headers: Vec<&str> = hook["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for h in [
        sp_gateway::webhooks::SIGNATURE_HEADER,
        sp_gateway::webhooks::EVENT_ID_HEADER,
        sp_gateway::webhooks::ATTEMPT_HEADER,
    ] {
        assert!(headers.contains(&h), "{h} undocumented");
    }
    assert!(has_example(&hook["requestBody"]["content"]["application/json"]));
    // The cross-check by an implementation we did not write: openapi-spec-validator.
    let probe = Command::new("python3")
        .args(["-c", "import openapi_spec_validator"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: python3 -m openapi_spec_validator is not installed (scripts/ensure-deps.sh)");
        return;
    }
    let out = Command::new("python3")
        .args(["-m", "openapi_spec_validator"])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_documents_metrics_and_graceful_stop() {
    let s = sim();
    let h = s.issue("2023", false);
    let gw = start(Default::default()).await;
    let (st, doc) = gw.get("/v1/openapi.json", None).await;
    assert_eq!(st, 200);
    assert_eq!(doc, serde_json::from_str::<Value>(OPENAPI).unwrap());
    let (st, _) = gw.get("/healthz", None).await;
    assert_eq!(st, 200);
    // /readyz answers with the checks the OpenAPI example shows, with the same fields.
    let (st, ready) = gw.get("/readyz", None).await;
    assert_eq!(st, 200, "{ready}");
    let example = &doc["paths"]["/readyz"]["get"]["responses"]["200"]["content"]["application/json"]["examples"]
        ["ready"]["value"];
    let shape = |v: &Value| -> Vec<(String, Vec<String>)> {
        let mut checks: Vec<(String, Vec<String>)> = v["checks"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(name, c)| {
                let mut fields: Vec<String> = c.as_object().unwrap().keys().cloned().collect();
                fields.sort();
                (name.clone(), fields)
            })
            .collect();
        checks.sort();
        checks
    };
    assert_eq!(shape(&ready), shape(example), "{ready}");
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["checks"]["crl_freshness"]["ok"], true, "{ready}");
    let (_, v) = gw.kyc(KEY_A, &h, b"metrics").await;
    let name = v["basic_info"]["name"].as_str().unwrap().to_owned();
    let address = v["basic_info"]["address"].as_str().unwrap().to_owned();
    let m = gw
        .http
        .get(format!("{}/metrics", gw.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for want in [
        "sp_gateway_http_requests_total{method=\"POST\",route=\"/v1/verifications\",status=\"200\"}",
        "sp_gateway_http_request_duration_seconds_bucket",
        "sp_gateway_verdicts_total{purpose=\"signature_verification\",reason=\"none\",sp=\"bank-a\",verdict=\"valid\"} 1",
        "sp_gateway_revocation_checks_total{method=\"crl\",purpose=\"signature_verification\",sp=\"bank-a\",status=\"good\"} 1",
        "sp_gateway_index_age_seconds",
        "sp_gateway_index_expires_in_seconds",
        "sp_gateway_redis_up",
        "sp_gateway_index_loaded 1",
        "sp_gateway_index_stale_partitions 0",
        "sp_gateway_index_ca_partitions{ca_key=\"",
        "sp_gateway_index_ca_stale_partitions{ca_key=\"",
        "sp_gateway_index_ca_oldest_this_update_age_seconds{ca_key=\"",
    ] {
        assert!(m.contains(want), "missing {want} in\n{m}");
    }
    assert!(!m.contains(&name) && !m.contains(&address));
    // Several requests in flight when the stop comes: each is answered, then the log is flushed.
    let mut pending = Vec::new();
    for i in 0..8 {
        let http = gw.http.clone();
        let url = format!("{}/v1/certificate-status", gw.base);
        let id = v["id"].clone();
        pending.push(tokio::spawn(async move {
            let r = http
                .post(url)
                .bearer_auth(KEY_A)
                .json(&serde_json::json!({"ids": [id], "serials": [format!("{i:x}")]}))
                .send()
                .await;
            r.map(|r| r.status().as_u16()).unwrap_or(0)
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    gw.stop().await;
    let answered = futures_util::future::join_all(pending).await;
    let ok = answered.iter().filter(|r| matches!(r, Ok(200))).count();
    let audit = gw.audit_text();
    assert_eq!(
        audit.matches("\"event\":\"status_check\"").count(),
        ok,
        "every answered check is in the flushed log"
    );
    assert!(sp_gateway::audit::verify(&gw.audit).unwrap().ok);
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sp-gateway"))
}

#[test]
fn cli_audit_verify_keys_and_config() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    let a = sp_gateway::audit::AuditLog::open(&log).unwrap();
    for i in 0..5 {
        a.record(
            "verification",
            Some("bank-a"),
            serde_json::json!({"id": format!("vf_{i}")}),
        );
    }
    a.close();
    let out = bin().args(["audit", "verify"]).arg(&log).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["ok"], true);
    assert_eq!(r["lines"], 5);
    let text = std::fs::read_to_string(&log).unwrap();
    std::fs::write(&log, text.replacen("vf_2", "vf_9", 1)).unwrap();
    let out = bin().args(["audit", "verify"]).arg(&log).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["broken_at_line"], 4);

    let out = bin().arg("gen-key").output().unwrap();
    let k: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut child = bin()
        .arg("hash-key")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{}", k["api_key"].as_str().unwrap()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        k["api_key_sha256"].as_str().unwrap()
    );

    // The shipped example parses (its files do not exist here, so it is not validated).
    let example = sp_gateway::Config::from_toml(include_str!("../sp-gateway.example.toml")).unwrap();
    assert_eq!(example.sp.len(), 1);

    let cfg = dir.path().join("gw.toml");
    std::fs::write(&cfg, "snapshot_dir = \"\"\naudit_log = \"x\"\nid_secret_file = \"/nonexistent\"\n[trust]\n[redis]\nurl = \"http://x\"\n").unwrap();
    let out = bin()
        .args(["check-config", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for want in [
        "snapshot_dir",
        "id_secret_file",
        "trust.roots",
        "redis.url",
        "no [[sp]]",
    ] {
        assert!(err.contains(want), "{want} not reported in {err}");
    }
}
