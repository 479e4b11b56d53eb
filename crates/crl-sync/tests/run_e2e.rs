//! `crl-sync run --config` end to end: the real `jlis-sim serve` publishing partition CRLs, a real
//! `redis-server` receiving the delta events, and then bad upstreams (a scripted loopback server:
//! HTTP 500, a body cut off, a stall, a truncated CRL, an oversize body), each leaving the current
//! snapshot in place.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod cli_support;

use std::path::Path;
use std::sync::Arc;

use cli_support::{Sim, at, crl_sync, lookup, now, rfc, snapshot_files, tempdir};
use jlis_sim::{IssueRequest, PersonInput, Simulator};
use jpki::{Reason, Serial};
use serde_json::Value;
use testkit::RedisServer;
use testkit::http::{Reply, ScriptedServer};
use time::Duration;

const STREAM: &str = "test:crl-delta";
const P1: &str = "sign-2023/131016";
const P2: &str = "sign-2023/131130";

/// A holder's signing certificate serial, issued in `municipality`.
fn sign_cert(sim: &Simulator, municipality: &str) -> Serial {
    sim.issue(&IssueRequest {
        generation: None,
        smartphone: false,
        test: false,
        person: PersonInput {
            municipality: Some(municipality.to_owned()),
            ..PersonInput::default()
        },
        at: at() - Duration::days(1),
    })
    .unwrap()
    .sign
    .serial
}

fn write_config(path: &Path, snapshots: &Path, sim: &Sim, redis: &str, url1: &str, url2: &str) {
    write_config_of(path, snapshots, sim, redis, &[(P1, url1), (P2, url2)]);
}

/// A configuration with these (partition id, URL) pairs, all of the `sign-2023` CA.
fn write_config_of(path: &Path, snapshots: &Path, sim: &Sim, redis: &str, partitions: &[(&str, &str)]) {
    let mut text = format!(
        r#"snapshot_dir = {snapshots:?}
metrics_textfile = {metrics:?}
max_crl_bytes = 4096
keep_snapshots = 3

[http]
timeout_secs = 1
connect_timeout_secs = 1
retries = 1
backoff_initial_ms = 10
backoff_max_ms = 20

[redis]
url = "{redis}"
stream = "{STREAM}"

[[ca]]
id = "sign-2023"
cert = {cert:?}
"#,
        metrics = snapshots.join("crl_sync.prom"),
        cert = sim.root("sign-2023"),
    );
    for (id, url) in partitions {
        text.push_str(&format!(
            "\n[[partition]]\nid = \"{id}\"\nurl = \"{url}\"\nca = \"sign-2023\"\n"
        ));
    }
    std::fs::write(path, text).unwrap();
}

fn run(config: &Path) -> cli_support::Run {
    crl_sync([
        "run",
        "--config",
        config.to_str().unwrap(),
        "--json",
        "--now",
        &rfc(now()),
    ])
}

fn statuses(v: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = v["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["partition"].as_str().unwrap().to_owned(),
                p["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

fn pair(a: &str, b: &str) -> Vec<(String, String)> {
    vec![(P1.into(), a.into()), (P2.into(), b.into())]
}

fn stream(con: &mut redis::Connection) -> Vec<redis::streams::StreamId> {
    let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg(STREAM)
        .arg("-")
        .arg("+")
        .query(con)
        .unwrap();
    reply.ids
}

fn field(e: &redis::streams::StreamId, k: &str) -> String {
    e.get::<String>(k).unwrap_or_default()
}

#[test]
fn run_against_jlis_sim_and_redis_then_bad_upstreams() {
    let sim = Sim::get();
    let (a, b, c) = (
        sign_cert(&sim.sim, "131016"),
        sign_cert(&sim.sim, "131130"),
        sign_cert(&sim.sim, "131016"),
    );
    let revoked_at = at() - Duration::hours(1);
    sim.sim
        .revoke(&a, None, Reason::KeyCompromise, revoked_at)
        .unwrap();
    sim.sim
        .revoke(&b, None, Reason::AffiliationChanged, revoked_at)
        .unwrap();
    sim.sim.publish_crls(at(), 48).unwrap();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let served = Arc::new(Simulator::open(sim.sim.dir()).unwrap());
    let (addr, server) = rt
        .block_on(async { jlis_sim::serve::start(served, "127.0.0.1:0".parse().unwrap()) })
        .unwrap();
    let handle = server.handle();
    rt.spawn(server);
    let base = format!("http://{addr}");
    let url = |p: &str| format!("{base}/crl/{p}.crl");

    let redis = RedisServer::start();
    let mut con = redis::Client::open(redis.url())
        .unwrap()
        .get_connection()
        .unwrap();
    let work = tempdir();
    let snaps = work.path().join("snapshots");
    let config = work.path().join("crl-sync.toml");
    write_config(&config, &snaps, sim, &redis.url(), &url(P1), &url(P2));

    // 1: both partitions fetched and indexed for the first time: a baseline, one marker per
    // partition and no event per revoked certificate.
    let r = run(&config);
    assert_eq!(r.code, 0, "{}\n{}", r.json, r.stderr);
    assert_eq!(statuses(&r.json), pair("updated", "updated"), "{}", r.json);
    assert_eq!(r.json["snapshots"].as_array().unwrap().len(), 1, "one CA key");
    assert_eq!(r.json["snapshots"][0]["entries"], 2);
    assert_eq!(r.json["snapshots"][0]["events_published"], 0);
    assert_eq!(r.json["baselines"].as_array().unwrap().len(), 2, "{}", r.json);
    assert_eq!(snapshot_files(&snaps).len(), 1);
    assert!(snaps.join("crl_sync.prom").is_file());
    let events = stream(&mut con);
    let mut seen: Vec<(String, String, String, String)> = events
        .iter()
        .map(|e| {
            (
                field(e, "event"),
                field(e, "partition"),
                field(e, "entries"),
                field(e, "serial"),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        vec![
            ("baseline".into(), P1.into(), "1".into(), String::new()),
            ("baseline".into(), P2.into(), "1".into(), String::new()),
        ]
    );
    let key_id = r.json["snapshots"][0]["issuer_key_id"].as_str().unwrap();
    assert!(events.iter().all(|e| field(e, "issuer_key_id") == key_id));
    assert!(events.iter().all(|e| !field(e, "crl_number").is_empty()));
    let answer = lookup(&snaps, &a.to_hex(), now());
    assert_eq!(answer["status"], "revoked");
    assert_eq!(answer["reason"], "keyCompromise");
    assert_eq!(answer["partition"], P1);
    assert_eq!(answer["revoked_at"], rfc(revoked_at));
    assert_eq!(lookup(&snaps, &b.to_hex(), now())["reason"], "affiliationChanged");
    assert_eq!(lookup(&snaps, &c.to_hex(), now())["status"], "good");

    // 2: nothing new upstream: conditional GETs answered 304, no snapshot, no events.
    let files = snapshot_files(&snaps);
    let r = run(&config);
    assert_eq!(r.code, 0, "{}\n{}", r.json, r.stderr);
    assert_eq!(
        statuses(&r.json),
        pair("not_modified", "not_modified"),
        "{}",
        r.json
    );
    assert_eq!(r.json["snapshots"], Value::Array(vec![]));
    assert!(snapshot_files(&snaps) == files);
    assert_eq!(stream(&mut con).len(), 2);

    // 3: one more revocation and a new publication: exactly one new event (the certificates of
    // the baseline are not announced again).
    sim.sim
        .revoke(&c, None, Reason::KeyCompromise, at() + Duration::minutes(10))
        .unwrap();
    sim.sim.publish_crls(at() + Duration::minutes(30), 48).unwrap();
    let r = run(&config);
    assert_eq!(r.code, 0, "{}\n{}", r.json, r.stderr);
    assert_eq!(statuses(&r.json), pair("updated", "updated"), "{}", r.json);
    assert_eq!(r.json["snapshots"][0]["added"], 1);
    assert_eq!(r.json["snapshots"][0]["events_published"], 1);
    let events = stream(&mut con);
    assert_eq!(events.len(), 3);
    let last = events.last().unwrap();
    assert_eq!(field(last, "event"), "revoked");
    assert_eq!(field(last, "serial"), c.to_hex());
    assert_eq!(field(last, "reason"), "keyCompromise");
    assert_eq!(field(last, "partition"), P1);
    assert_eq!(lookup(&snaps, &c.to_hex(), now())["status"], "revoked");
    assert_eq!(snapshot_files(&snaps).len(), 2);

    // 4: the fetch state lost: the same CRLs come back with 200 and are "unchanged"; no events.
    std::fs::remove_file(snaps.join("fetch-state.json")).unwrap();
    let r = run(&config);
    assert_eq!(r.code, 0, "{}\n{}", r.json, r.stderr);
    assert_eq!(statuses(&r.json), pair("unchanged", "unchanged"), "{}", r.json);
    assert_eq!(stream(&mut con).len(), 3);

    // Bad upstreams for the second partition; the first answers 304. Nothing may change.
    let files = snapshot_files(&snaps);
    let probes: Vec<Value> = [a, b, c]
        .iter()
        .map(|s| lookup(&snaps, &s.to_hex(), now()))
        .collect();
    let (_, p2_file) = sim.sim.crl_of("sign-2023", "131130").unwrap();
    let p2_der = std::fs::read(p2_file).unwrap();
    let ok = |body: Vec<u8>| Reply::Ok {
        body,
        etag: "\"scripted\"".into(),
        last_modified: "Mon, 23 Nov 2026 07:00:00 GMT".into(),
    };
    let cases: Vec<(&str, Reply, i32, &str, &str)> = vec![
        (
            "HTTP 500 every time",
            Reply::Status(500),
            3,
            "unreachable",
            "UPSTREAM_UNREACHABLE",
        ),
        (
            "body cut off before Content-Length",
            Reply::Truncated {
                body: p2_der[..p2_der.len() / 2].to_vec(),
                announced: p2_der.len(),
            },
            3,
            "unreachable",
            "UPSTREAM_UNREACHABLE",
        ),
        (
            "no answer within the timeout",
            Reply::Stall(std::time::Duration::from_secs(3)),
            3,
            "unreachable",
            "UPSTREAM_UNREACHABLE",
        ),
        (
            "a whole response carrying a truncated CRL",
            ok(p2_der[..p2_der.len() - 10].to_vec()),
            2,
            "rejected",
            "CRL_MALFORMED",
        ),
        (
            "a body over max_crl_bytes",
            ok(vec![0x30; 5000]),
            2,
            "rejected",
            "CRL_TOO_LARGE",
        ),
        (
            "HTTP 404",
            Reply::Status(404),
            3,
            "unreachable",
            "UPSTREAM_STATUS",
        ),
    ];
    for (name, reply, exit, status, code) in cases {
        let srv = ScriptedServer::start(vec![reply]);
        let bad = work.path().join("bad.toml");
        write_config(
            &bad,
            &snaps,
            sim,
            &redis.url(),
            &url(P1),
            &format!("{}/crl/{P2}.crl", srv.base_url()),
        );
        let r = run(&bad);
        assert_eq!(r.code, exit, "{name}: {}\n{}", r.json, r.stderr);
        assert_eq!(
            statuses(&r.json),
            pair("not_modified", status),
            "{name}: {}",
            r.json
        );
        let p2 = r.json["partitions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["partition"] == P2)
            .unwrap();
        assert_eq!(p2["error_code"], code, "{name}: {}", r.json);
        assert!(
            !srv.seen().is_empty(),
            "{name}: the scripted server was not asked"
        );
        assert!(snapshot_files(&snaps) == files, "{name}: the snapshots changed");
        for (s, before) in [a, b, c].iter().zip(&probes) {
            assert_eq!(&lookup(&snaps, &s.to_hex(), now()), before, "{name}");
        }
        assert_eq!(stream(&mut con).len(), 3, "{name}");
    }

    // Back to the real upstream: it still knows its validators, nothing to do.
    let r = run(&config);
    assert_eq!(r.code, 0, "{}\n{}", r.json, r.stderr);
    assert_eq!(
        statuses(&r.json),
        pair("not_modified", "not_modified"),
        "{}",
        r.json
    );
    rt.block_on(handle.stop(true));
}

/// Redis down while a new CRL is indexed: the run fails (exit 1) with the snapshot in place, and
/// the next run, with Redis back and nothing new upstream, still publishes the delta, once.
#[test]
fn a_delta_not_published_because_redis_was_down_is_published_by_the_next_run() {
    let sim = Sim::get();
    let work = tempdir();
    let der = sim.crl(
        &work.path().join("crl.der"),
        "sign-2023",
        20,
        3,
        at(),
        "redis-down",
    );
    let srv = ScriptedServer::start(vec![Reply::Ok {
        body: der,
        etag: "\"one\"".into(),
        last_modified: "Mon, 23 Nov 2026 07:00:00 GMT".into(),
    }]);
    let mut redis = RedisServer::start();
    let snaps = work.path().join("snapshots");
    let config = work.path().join("crl-sync.toml");
    let crl_url = format!("{}/crl.crl", srv.base_url());
    write_config(&config, &snaps, sim, &redis.url(), &crl_url, &crl_url);

    redis.stop();
    let r = run(&config);
    assert_eq!(r.code, 1, "{}\n{}", r.json, r.stderr);
    assert_eq!(
        snapshot_files(&snaps).len(),
        1,
        "the snapshot is written all the same"
    );
    let outbox = snaps.join(crl_sync::outbox::OUTBOX_FILE);
    assert!(outbox.is_file(), "the unpublished delta is kept");
    // Still down: the delta stays queued.
    let r = run(&config);
    assert_eq!(r.code, 1, "{}\n{}", r.json, r.stderr);
    assert!(outbox.is_file());

    redis.restart();
    let mut con = redis::Client::open(redis.url())
        .unwrap()
        .get_connection()
        .unwrap();
    let r = run(&config);
    assert_eq!(r.code, 0, "{}\n{}", r.json, r.stderr);
    // The first snapshot: one baseline marker per partition (both serve the same 20-entry CRL).
    let events = stream(&mut con);
    assert_eq!(events.len(), 2, "{}", r.json);
    for e in &events {
        assert_eq!(field(e, "event"), "baseline");
        assert_eq!(field(e, "entries"), "20");
        assert_eq!(field(e, "crl_number"), "03");
    }
    assert_eq!(r.json["baselines"].as_array().unwrap().len(), 2, "{}", r.json);
    assert!(!outbox.exists());
    let r = run(&config);
    assert_eq!(r.code, 0, "{}\n{}", r.json, r.stderr);
    assert_eq!(stream(&mut con).len(), 2, "published once");
}

/// The baseline rule is per partition: a partition added to the configuration later publishes a
/// marker, not its entries, while a new CRL of a known partition publishes exactly the
/// certificates it adds; the same CRLs again publish nothing.
#[test]
fn a_partition_indexed_for_the_first_time_is_a_baseline_and_later_crls_publish_their_additions() {
    let sim = Sim::get();
    let work = tempdir();
    let dir = work.path();
    let p1_first = sim.crl(&dir.join("p1-1.der"), "sign-2023", 5, 3, at(), "baseline-p1");
    let p2 = sim.crl(&dir.join("p2.der"), "sign-2023", 4, 7, at(), "baseline-p2");
    let p1_next = sim.crl(
        &dir.join("p1-2.der"),
        "sign-2023",
        8,
        4,
        at() + Duration::minutes(30),
        "baseline-p1",
    );
    let serve = |der: &[u8], etag: &str| {
        ScriptedServer::start(vec![Reply::Ok {
            body: der.to_vec(),
            etag: format!("\"{etag}\""),
            last_modified: "Mon, 23 Nov 2026 07:00:00 GMT".into(),
        }])
    };
    let (s1, s2, s1_next) = (
        serve(&p1_first, "p1-1"),
        serve(&p2, "p2"),
        serve(&p1_next, "p1-2"),
    );
    let url = |s: &ScriptedServer| format!("{}/crl.crl", s.base_url());
    let redis = RedisServer::start();
    let mut con = redis::Client::open(redis.url())
        .unwrap()
        .get_connection()
        .unwrap();
    let snaps = dir.join("snapshots");
    let config = dir.join("crl-sync.toml");

    // 1: only P1 is configured: its first snapshot is a baseline.
    write_config_of(&config, &snaps, sim, &redis.url(), &[(P1, &url(&s1))]);
    let r = run(&config);
    assert_eq!(r.code, 0, "{}\n{}", r.json, r.stderr);
    assert_eq!(r.json["snapshots"][0]["events_published"], 0, "{}", r.json);
    let events = stream(&mut con);
    assert_eq!(events.len(), 1);
    assert_eq!(field(&events[0], "event"), "baseline");
    assert_eq!(field(&events[0], "partition"), P1);
    assert_eq!(field(&events[0], "entries"), "5");

    // 2: P2 joins the configuration: the CA key has a snapshot, but P2 is new to it, so its four
    // entries are a baseline too (those P1 does not list are added to the snapshot, and none is
    // published); P1 answers 304.
    let serials = |der: &[u8]| -> std::collections::BTreeSet<String> {
        cli_support::entries(der).into_iter().map(|(s, _, _)| s).collect()
    };
    let p2_only = serials(&p2).difference(&serials(&p1_first)).count();
    assert!(p2_only > 0);
    write_config_of(
        &config,
        &snaps,
        sim,
        &redis.url(),
        &[(P1, &url(&s1)), (P2, &url(&s2))],
    );
    let r = run(&config);
    assert_eq!(r.code, 0, "{}\n{}", r.json, r.stderr);
    assert_eq!(statuses(&r.json), pair("not_modified", "updated"), "{}", r.json);
    assert_eq!(r.json["snapshots"][0]["added"], p2_only, "{}", r.json);
    assert_eq!(r.json["snapshots"][0]["events_published"], 0, "{}", r.json);
    let events = stream(&mut con);
    assert_eq!(events.len(), 2);
    assert_eq!(field(&events[1], "event"), "baseline");
    assert_eq!(field(&events[1], "partition"), P2);
    assert_eq!(field(&events[1], "entries"), "4");
    assert_eq!(field(&events[1], "crl_number"), "07");

    // 3: a new CRL for P1: one event for each certificate it lists that the previous one did not.
    write_config_of(
        &config,
        &snaps,
        sim,
        &redis.url(),
        &[(P1, &url(&s1_next)), (P2, &url(&s2))],
    );
    let before: std::collections::BTreeSet<String> =
        serials(&p1_first).union(&serials(&p2)).cloned().collect();
    let expected: Vec<String> = serials(&p1_next).difference(&before).cloned().collect();
    assert!(!expected.is_empty());
    let r = run(&config);
    assert_eq!(r.code, 0, "{}\n{}", r.json, r.stderr);
    assert_eq!(statuses(&r.json), pair("updated", "not_modified"), "{}", r.json);
    assert_eq!(
        r.json["snapshots"][0]["events_published"],
        expected.len(),
        "{}",
        r.json
    );
    assert!(r.json.get("baselines").is_none(), "{}", r.json);
    let events = stream(&mut con);
    let new = &events[2..];
    assert!(new.iter().all(|e| field(e, "event") == "revoked"));
    assert!(new.iter().all(|e| field(e, "partition") == P1));
    assert!(new.iter().all(|e| field(e, "crl_number") == "04"));
    let mut published: Vec<String> = new.iter().map(|e| field(e, "serial")).collect();
    published.sort();
    assert_eq!(published, expected, "exactly the certificates the new CRL adds");

    // 4: the same CRLs again (fetched whole, the fetch state lost): nothing is added.
    let len = events.len();
    std::fs::remove_file(snaps.join("fetch-state.json")).unwrap();
    let r = run(&config);
    assert_eq!(r.code, 0, "{}\n{}", r.json, r.stderr);
    assert_eq!(statuses(&r.json), pair("unchanged", "unchanged"), "{}", r.json);
    assert_eq!(stream(&mut con).len(), len);
}
