//! Typed configuration for every service: a TOML file, then an environment variable for **every**
//! key, then the service's own `validate()` (which reports every problem at once).
//!
//! Layering is [`figment`]'s: the file is the base and each variable `<PREFIX><KEY>` sets one key
//! over it. `KEY` is the key's path in upper case with `__` between the levels of tables, so
//! with the prefix `JPKI_PF_GATEWAY_`:
//!
//! | variable | key |
//! |---|---|
//! | `JPKI_PF_GATEWAY_LISTEN=127.0.0.1:8080` | `listen` |
//! | `JPKI_PF_GATEWAY_SNAPSHOT_DIR=/var/lib/jpki-pf/snapshots` | `snapshot_dir` |
//! | `JPKI_PF_GATEWAY_REDIS__URL=redis://10.0.0.1:6379/` | `redis.url` |
//! | `JPKI_PF_GATEWAY_INDEX__GRACE_SECS=3600` | `index.grace_secs` |
//!
//! A service may also keep the shorter names it documented before (`JPKI_PF_GATEWAY_REDIS_URL` for
//! `redis.url`) as [`EnvLayout::aliases`]. Values are read as TOML values when they parse as one
//! (`5`, `true`, `[1, 2]`), as strings otherwise. A variable with the prefix that names no key is an
//! error like an unknown key in the file (services deny unknown fields), so a misspelt override
//! stops the start instead of being ignored.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use figment::value::Value;
use serde::de::DeserializeOwned;

/// Why a configuration could not be loaded. [`ConfigError::code`] is stable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// Which file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML did not parse, or a value (from the file or the environment) has the wrong
    /// type or names no key.
    #[error("parsing {path}: {message}")]
    Parse {
        /// Which file.
        path: PathBuf,
        /// Why, naming the key and where its value came from.
        message: String,
    },
    /// One or more values are invalid.
    #[error("invalid configuration:\n  - {}", .0.join("\n  - "))]
    Invalid(Vec<String>),
}

impl ConfigError {
    /// A stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            ConfigError::Read { .. } => "CONFIG_UNREADABLE",
            ConfigError::Parse { .. } => "CONFIG_MALFORMED",
            ConfigError::Invalid(_) => "CONFIG_INVALID",
        }
    }
}

/// How a service's environment variables name its keys.
#[derive(Clone, Copy, Debug)]
pub struct EnvLayout<'a> {
    /// The prefix of every variable, e.g. `JPKI_PF_GATEWAY_`.
    pub prefix: &'a str,
    /// Other names kept for keys: (variable without the prefix, dotted key), e.g.
    /// `("REDIS_URL", "redis.url")`.
    pub aliases: &'a [(&'a str, &'a str)],
}

impl EnvLayout<'_> {
    /// The dotted key a variable sets (`None` when it lacks the prefix).
    pub fn key_of(&self, variable: &str) -> Option<String> {
        let rest = variable.strip_prefix(self.prefix)?;
        if rest.is_empty() {
            return None;
        }
        if let Some((_, key)) = self.aliases.iter().find(|(name, _)| *name == rest) {
            return Some((*key).to_owned());
        }
        Some(rest.to_ascii_lowercase().replace("__", "."))
    }
}

/// Reads `path`, applies the process environment and deserialises (the caller validates).
pub fn load<T: DeserializeOwned>(path: &Path, env: &EnvLayout<'_>) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    from_sources(&text, path, std::env::vars(), env)
}

/// Deserialises `text` (TOML read from `origin`) with the overrides among `vars` (name, value)
/// that carry the layout's prefix.
pub fn from_sources<T: DeserializeOwned>(
    text: &str,
    origin: &Path,
    vars: impl IntoIterator<Item = (String, String)>,
    env: &EnvLayout<'_>,
) -> Result<T, ConfigError> {
    // (key, the value read as TOML, the text, the variable): a value that reads as a number or a
    // boolean but lands in a string field is retried as its text (a Redis prefix of `123`).
    let mut overrides: Vec<(String, Value, String, String)> = vars
        .into_iter()
        .filter_map(|(name, text)| Some((env.key_of(&name)?, env_value(&text), text, name)))
        .collect();
    loop {
        let mut figment = Figment::from(Toml::string(text));
        for (key, value, _, _) in &overrides {
            figment = figment.merge(Serialized::global(key, value));
        }
        let errors = match figment.extract() {
            Ok(config) => return Ok(config),
            Err(e) => e,
        };
        let mut retried = false;
        let errors: Vec<figment::Error> = errors.into_iter().collect();
        for e in &errors {
            if !matches!(e.kind, figment::error::Kind::InvalidType(..)) {
                continue;
            }
            let key = error_key(e);
            for (k, value, text, _) in &mut overrides {
                if *k == key && value.as_str() != Some(text.as_str()) {
                    *value = Value::from(text.clone());
                    retried = true;
                }
            }
        }
        if !retried {
            // Name the key and the variable that set it, so the operator knows where to look.
            let said = |e: &figment::Error| {
                let key = error_key(e);
                let what = if key.is_empty() {
                    e.kind.to_string()
                } else {
                    format!("{key}: {}", e.kind)
                };
                match overrides.iter().find(|(k, ..)| *k == key) {
                    Some((.., name)) => format!("{what} (set by the environment variable {name})"),
                    None => what,
                }
            };
            return Err(ConfigError::Parse {
                path: origin.to_owned(),
                message: errors.iter().map(said).collect::<Vec<_>>().join("; "),
            });
        }
    }
}

/// The dotted key an error is about, without figment's profile name.
fn error_key(e: &figment::Error) -> String {
    let path: Vec<&str> = e.path.iter().map(String::as_str).collect();
    match path.split_first() {
        Some((&"global" | &"default", rest)) if e.profile.is_some() => rest.join("."),
        _ => path.join("."),
    }
}

/// A variable's value: a TOML value when it is one (numbers, booleans, arrays, inline tables),
/// else the text itself.
fn env_value(text: &str) -> Value {
    let trimmed = text.trim();
    let looks_structured = trimmed.starts_with('[') || trimmed.starts_with('{');
    let scalar = trimmed
        .parse::<i64>()
        .map(Value::from)
        .ok()
        .or_else(|| match trimmed {
            "true" => Some(Value::from(true)),
            "false" => Some(Value::from(false)),
            _ => trimmed
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(Value::from),
        });
    if let Some(v) = scalar {
        return v;
    }
    if looks_structured
        && let Ok(table) = toml::from_str::<toml::Table>(&format!("v = {trimmed}"))
        && let Some(v) = table.get("v")
        && let Ok(v) = Value::serialize(v)
    {
        return v;
    }
    Value::from(text.to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use std::collections::HashMap;

    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Cfg {
        listen: String,
        #[serde(default)]
        workers: u32,
        snapshot_dir: PathBuf,
        redis: Redis,
        #[serde(default)]
        jlis: Option<Jlis>,
        #[serde(default)]
        names: Vec<String>,
        #[serde(default)]
        ratio: f64,
        #[serde(default)]
        map: HashMap<String, String>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Redis {
        url: String,
        #[serde(default)]
        timeout_ms: u64,
        #[serde(default)]
        prefix: String,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Jlis {
        base_url: String,
        #[serde(default = "five")]
        timeout_ms: u64,
    }

    fn five() -> u64 {
        5
    }

    const LAYOUT: EnvLayout<'static> = EnvLayout {
        prefix: "T_",
        aliases: &[("REDIS_URL", "redis.url")],
    };

    const TEXT: &str = "listen = \"127.0.0.1:1\"\nsnapshot_dir = \"/a\"\n[redis]\nurl = \"redis://x/\"\n";

    fn with(vars: &[(&str, &str)]) -> Result<Cfg, ConfigError> {
        let vars = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
        from_sources(TEXT, Path::new("t.toml"), vars, &LAYOUT)
    }

    #[test]
    fn every_key_can_be_set_from_the_environment() {
        let c = with(&[
            ("T_LISTEN", "0.0.0.0:9"),
            ("T_WORKERS", "4"),
            ("T_SNAPSHOT_DIR", "/b"),
            ("T_REDIS__TIMEOUT_MS", "250"),
            ("T_REDIS__PREFIX", "123"),
            ("T_REDIS_URL", "redis://y/"),
            ("T_JLIS__BASE_URL", "http://j/"),
            ("T_NAMES", "[\"a\", \"b\"]"),
            ("T_RATIO", "0.5"),
            ("T_MAP", "{ \"C=JP, CN=x\" = \"p\" }"),
            ("OTHER_LISTEN", "ignored"),
        ])
        .unwrap();
        assert_eq!(c.listen, "0.0.0.0:9");
        assert_eq!(c.workers, 4);
        assert_eq!(c.snapshot_dir, PathBuf::from("/b"));
        assert_eq!(c.redis.timeout_ms, 250);
        assert_eq!(c.redis.prefix, "123");
        assert_eq!(c.redis.url, "redis://y/");
        assert_eq!(
            c.jlis,
            Some(Jlis {
                base_url: "http://j/".into(),
                timeout_ms: 5
            })
        );
        assert_eq!(c.names, ["a", "b"]);
        assert_eq!(c.ratio, 0.5);
        assert_eq!(c.map["C=JP, CN=x"], "p");
        assert_eq!(with(&[]).unwrap().redis.url, "redis://x/");
    }

    #[test]
    fn bad_overrides_are_errors_naming_the_key() {
        let e = with(&[("T_WORKERS", "many")]).unwrap_err();
        assert_eq!(e.code(), "CONFIG_MALFORMED");
        assert!(e.to_string().contains("workers"), "{e}");
        assert!(e.to_string().contains("T_WORKERS"), "{e}");
        let e = with(&[("T_WORKRS", "4")]).unwrap_err();
        assert!(e.to_string().contains("workrs"), "{e}");
        assert!(with(&[("T_REDIS__NOPE", "1")]).is_err());
        let e = from_sources::<Cfg>("listen = ", Path::new("t.toml"), [], &LAYOUT).unwrap_err();
        assert_eq!(e.code(), "CONFIG_MALFORMED");
        let e = load::<Cfg>(Path::new("/nonexistent/t.toml"), &LAYOUT).unwrap_err();
        assert_eq!(e.code(), "CONFIG_UNREADABLE");
    }

    #[test]
    fn keys_of_variables() {
        assert_eq!(LAYOUT.key_of("T_REDIS__URL").as_deref(), Some("redis.url"));
        assert_eq!(LAYOUT.key_of("T_REDIS_URL").as_deref(), Some("redis.url"));
        assert_eq!(LAYOUT.key_of("T_SNAPSHOT_DIR").as_deref(), Some("snapshot_dir"));
        assert_eq!(LAYOUT.key_of("T_"), None);
        assert_eq!(LAYOUT.key_of("X_LISTEN"), None);
    }
}
