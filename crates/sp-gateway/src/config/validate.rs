//! `Config::validate`: every problem at once.

use pf_server::registry::{SpRules, sp_problems};

use super::{Config, ConfigError, parse_sha256};

impl Config {
    /// Checks everything and reports every problem at once.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        let mut bad = |m: String| problems.push(m);
        if self.workers == 0 || self.workers > 256 {
            bad(format!("workers = {} must be 1..=256", self.workers));
        }
        if self.snapshot_dir.as_os_str().is_empty() {
            bad("snapshot_dir is empty".into());
        }
        if self.audit_log.as_os_str().is_empty() {
            bad("audit_log is empty".into());
        }
        if !self.id_secret_file.is_file() {
            bad(format!(
                "id_secret_file {} is not a file",
                self.id_secret_file.display()
            ));
        }
        if !matches!(self.trust.hierarchy.as_str(), "production" | "test") {
            bad(format!(
                "trust.hierarchy {:?} must be production or test",
                self.trust.hierarchy
            ));
        }
        if self.trust.roots.is_empty() {
            bad("trust.roots is empty: nothing would verify".into());
        }
        for r in &self.trust.roots {
            if !r.path.is_file() {
                bad(format!("trust root {} does not exist", r.path.display()));
            }
            if let Some(h) = &r.sha256
                && parse_sha256(h).is_none()
            {
                bad(format!(
                    "trust root {}: sha256 is not 64 hex digits",
                    r.path.display()
                ));
            }
        }
        if !(self.redis.url.starts_with("redis://") || self.redis.url.starts_with("rediss://")) {
            bad(format!("redis.url {:?} is not a redis:// URL", self.redis.url));
        }
        if self.redis.timeout_ms == 0 || self.redis.timeout_ms > 60_000 {
            bad("redis.timeout_ms must be 1..=60000".into());
        }
        if !(100..=600_000).contains(&self.redis.probe_interval_ms) {
            bad("redis.probe_interval_ms must be 100..=600000".into());
        }
        if self.redis.prefix.is_empty() || self.redis.prefix.contains(['{', '}']) {
            bad("redis.prefix must be non-empty and without braces".into());
        }
        if self.index.reload_interval_ms < 100 {
            bad("index.reload_interval_ms must be at least 100".into());
        }
        if self.index.grace_secs < 0 || self.index.grace_secs > 7 * 86_400 {
            bad("index.grace_secs must be 0..=604800".into());
        }
        if self.limits.max_json_bytes < 1024 || self.limits.max_bulk_json_bytes < 1024 {
            bad("limits.max_json_bytes and max_bulk_json_bytes must be at least 1024".into());
        }
        if self.limits.max_bulk_items == 0 || self.limits.max_bulk_items > 1_000_000 {
            bad("limits.max_bulk_items must be 1..=1000000".into());
        }
        if !(5..=3600).contains(&self.login.challenge_ttl_secs) {
            bad("login.challenge_ttl_secs must be 5..=3600".into());
        }
        if self.idempotency.ttl_secs < 60 || self.idempotency.lock_secs == 0 {
            bad("idempotency.ttl_secs must be >= 60 and lock_secs >= 1".into());
        }
        if let Some(j) = &self.jlis {
            if !(j.base_url.starts_with("http://") || j.base_url.starts_with("https://")) {
                bad(format!("jlis.base_url {:?} is not http(s)", j.base_url));
            }
            if let Some(t) = &j.token_file
                && !t.is_file()
            {
                bad(format!("jlis.token_file {} is not a file", t.display()));
            }
        }
        if let Some(u) = &self.upstream {
            if !(u.url.starts_with("http://") || u.url.starts_with("https://")) {
                bad(format!("upstream.url {:?} is not http(s)", u.url));
            }
            if !(100..=60_000).contains(&u.timeout_ms) {
                bad("upstream.timeout_ms must be 100..=60000".into());
            }
            if u.cache_entries > 50_000_000 {
                bad("upstream.cache_entries must be at most 50000000".into());
            }
            if !(1..=10_000).contains(&u.max_live_items) {
                bad("upstream.max_live_items must be 1..=10000".into());
            }
            if !(1..=64).contains(&u.concurrency) {
                bad("upstream.concurrency must be 1..=64".into());
            }
        }
        for p in self.webhooks.problems() {
            bad(p);
        }
        if let Some(tls) = &self.server.tls {
            for p in tls.problems() {
                bad(p);
            }
        }
        let rules = SpRules {
            mtls: self.server.tls.as_ref().is_some_and(|t| t.client_ca.is_some()),
            max_items_per_request: self.limits.max_bulk_items as u64,
        };
        for p in sp_problems(&self.sp, rules) {
            bad(p);
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use std::path::Path;

    use super::super::*;

    fn sample(dir: &Path) -> String {
        let secret = dir.join("id.secret");
        std::fs::write(&secret, [7u8; 32]).unwrap();
        let root = dir.join("root.der");
        std::fs::write(&root, b"x").unwrap();
        format!(
            r#"
snapshot_dir = "{d}/snap"
audit_log = "{d}/audit.jsonl"
id_secret_file = "{s}"
[trust]
roots = [{{ path = "{r}" }}]
[redis]
url = "redis://127.0.0.1:6379/"
[[sp]]
id = "bank-a"
name = "Bank A"
api_key_sha256 = ["{h}"]
purposes = ["kyc", "status"]
"#,
            d = dir.display(),
            s = secret.display(),
            r = root.display(),
            h = "ab".repeat(32)
        )
    }

    #[test]
    fn loads_defaults_env_and_validates() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = Config::from_toml(&sample(dir.path())).unwrap();
        cfg.validate().unwrap();
        assert_eq!(cfg.limits.max_bulk_items, 100_000);
        assert_eq!(cfg.redis.probe_interval_ms, 5000);
        let env = |vars: &[(&str, &str)]| {
            let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
            Config::from_sources(&sample(dir.path()), vars)
        };
        let cfg = env(&[
            ("JPKI_PF_GATEWAY_LISTEN", "127.0.0.1:9999"),
            ("JPKI_PF_GATEWAY_REDIS_URL", "redis://10.0.0.1:6380/"),
            ("JPKI_PF_GATEWAY_REDIS_PROBE_INTERVAL_MS", "50"),
        ])
        .unwrap();
        assert_eq!(cfg.listen.port(), 9999);
        assert_eq!(cfg.redis.url, "redis://10.0.0.1:6380/");
        assert_eq!(cfg.redis.probe_interval_ms, 50);
        let ConfigError::Invalid(problems) = cfg.validate().unwrap_err() else {
            panic!("expected Invalid");
        };
        assert!(
            problems.iter().any(|p| p.contains("redis.probe_interval_ms")),
            "{problems:?}"
        );
        let e = env(&[("JPKI_PF_GATEWAY_WORKERS", "many")]).unwrap_err();
        assert!(e.to_string().contains("JPKI_PF_GATEWAY_WORKERS"), "{e}");
        // Every key, not a chosen few: nested tables with `__`, maps as inline tables.
        let cfg = env(&[
            ("JPKI_PF_GATEWAY_LIMITS__MAX_BULK_ITEMS", "500"),
            ("JPKI_PF_GATEWAY_LOGIN__CHALLENGE_TTL_SECS", "60"),
            (
                "JPKI_PF_GATEWAY_INDEX__CRL_DP_PARTITIONS",
                "{ \"C=JP, CN=x CRLDP\" = \"sign-2023/x\" }",
            ),
            ("JPKI_PF_GATEWAY_REDIS__PREFIX", "pf1"),
        ])
        .unwrap();
        assert_eq!(cfg.limits.max_bulk_items, 500);
        assert_eq!(cfg.login.challenge_ttl_secs, 60);
        assert_eq!(cfg.index.crl_dp_partitions["C=JP, CN=x CRLDP"], "sign-2023/x");
        assert_eq!(cfg.redis.prefix, "pf1");
        assert!(env(&[("JPKI_PF_GATEWAY_LIMITS__MAX_BULK_ITEMZ", "1")]).is_err());
        assert!(e.to_string().contains("WORKERS"));
    }

    #[test]
    fn checks_webhook_settings() {
        let dir = tempfile::tempdir().unwrap();
        let short = dir.path().join("short.whsec");
        std::fs::write(&short, "too short\n").unwrap();
        let text = format!(
            "{}webhook = {{ url = \"https://a.example/h\", secret_file = \"{}\" }}\n\
             [webhooks]\ntimeout_ms = 5000\nclaim_idle_ms = 1000\nmax_attempts = 0\n",
            sample(dir.path()),
            short.display()
        );
        let cfg = Config::from_toml(&text).unwrap();
        let ConfigError::Invalid(problems) = cfg.validate().unwrap_err() else {
            panic!("expected Invalid");
        };
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("32 to 256 bytes")));
        assert!(problems.iter().any(|p| p.contains("claim_idle_ms")));
        assert!(problems.iter().any(|p| p.contains("max_attempts")));
    }

    #[test]
    fn reports_every_problem_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let text = sample(dir.path())
            .replace("redis://127.0.0.1:6379/", "http://x")
            .replace("\"kyc\", \"status\"", "\"kyc\", \"mining\"")
            .replace("bank-a", "bank a");
        let cfg = Config::from_toml(&text).unwrap();
        let ConfigError::Invalid(problems) = cfg.validate().unwrap_err() else {
            panic!("expected Invalid");
        };
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(Config::from_toml(&format!("{}\nbogus = 1\n", sample(dir.path()))).is_err());
    }

    #[test]
    fn checks_upstream_settings() {
        let dir = tempfile::tempdir().unwrap();
        let with = |table: &str| Config::from_toml(&format!("{}[upstream]\n{table}", sample(dir.path())));
        let cfg = with("url = \"http://127.0.0.1:9000/ocsp\"\n").unwrap();
        cfg.validate().unwrap();
        let u = cfg.upstream.unwrap();
        assert_eq!(
            (u.timeout_ms, u.require_nonce, u.relay_stale),
            (5000, true, false)
        );
        assert_eq!((u.max_live_items, u.concurrency), (100, 8));
        let cfg = with(
            "url = \"ldap://x\"\ntimeout_ms = 0\nmax_live_items = 0\nconcurrency = 65\nrelay_stale = true\n",
        )
        .unwrap();
        let ConfigError::Invalid(problems) = cfg.validate().unwrap_err() else {
            panic!("expected Invalid");
        };
        assert_eq!(problems.len(), 4, "{problems:?}");
        for key in ["upstream.url", "timeout_ms", "max_live_items", "concurrency"] {
            assert!(problems.iter().any(|p| p.contains(key)), "{key}: {problems:?}");
        }
        assert!(with("url = \"http://x/ocsp\"\nbogus = 1\n").is_err());
        assert!(with("timeout_ms = 100\n").is_err(), "url is required");
    }
}
