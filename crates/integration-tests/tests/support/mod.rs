//! The gateway's test harness (shared from `crates/sp-gateway/tests/support`, not copied) and what
//! only tests with crl-sync need: running crl-sync against the simulator's J-LIS service.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;

use serde_json::Value;

#[path = "../../../sp-gateway/tests/support/mod.rs"]
mod gateway;

pub use gateway::*;

impl Sim {
    /// Publishes CRLs now and runs crl-sync (the library's `run`, as the cron job does) against
    /// `jlis` (a `jlis-sim serve` base URL) into `snap`, appending the deltas to [`DELTA_STREAM`]
    /// on `redis_url`. Returns the run summary.
    pub async fn crl_sync_run(&self, snap: &Path, jlis: &str, redis_url: &str) -> Value {
        let (snap, jlis, redis_url) = (snap.to_owned(), jlis.to_owned(), redis_url.to_owned());
        tokio::task::spawn_blocking(move || {
            let s = sim();
            let _g = s.crl_lock();
            s.sim.publish_crls(now(), 48).unwrap();
            let cas_dir = snap.with_file_name("crl-sync-cas");
            std::fs::create_dir_all(&cas_dir).unwrap();
            let mut text = format!(
                "snapshot_dir = {snap:?}\nkeep_snapshots = 3\n[http]\ntimeout_secs = 10\nretries = 0\n\
                 [redis]\nurl = \"{redis_url}\"\nstream = \"{DELTA_STREAM}\"\n"
            );
            for ca in &s.sim.snapshot().cas {
                let pem = s.sim.ca_certificate(&ca.id).unwrap().to_pem().unwrap();
                let path = cas_dir.join(format!("{}.pem", ca.id));
                std::fs::write(&path, pem).unwrap();
                text.push_str(&format!("[[ca]]\nid = \"{}\"\ncert = {path:?}\n", ca.id));
            }
            for p in s.sim.partitions() {
                if p.crl_file.is_some() {
                    text.push_str(&format!(
                        "[[partition]]\nid = \"{ca}/{m}\"\nurl = \"{jlis}/crl/{ca}/{m}.crl\"\nca = \"{ca}\"\n",
                        ca = p.ca,
                        m = p.municipality
                    ));
                }
            }
            let cfg = crl_sync::config::Config::from_toml(&text).unwrap();
            cfg.validate().unwrap();
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let summary = rt.block_on(crl_sync::run::run(
                &cfg,
                now().unix_timestamp(),
                &indicatif::ProgressBar::hidden(),
            ));
            let v = serde_json::to_value(&summary).unwrap();
            assert_eq!(v["exit_code"], 0, "{v}");
            v
        })
        .await
        .unwrap()
    }
}

impl webhooks::Env {
    /// J-LIS revokes each holder's signing certificate (a move), then crl-sync runs: it fetches
    /// the new CRLs from the simulator's J-LIS service, writes the snapshots the gateway reads and
    /// appends the delta events its webhook worker delivers.
    pub async fn move_and_sync(&self, holders: &[&Holder]) {
        for h in holders {
            sim()
                .sim
                .move_holder(
                    &h.id,
                    "大阪府大阪市北区中之島１丁目３番２０号",
                    None,
                    now() - time::Duration::minutes(1),
                )
                .unwrap();
        }
        sim()
            .crl_sync_run(&self.gw.snap, &self.jlis, &self.gw.redis.url())
            .await;
    }
}
