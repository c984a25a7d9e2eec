//! Loading the configuration (DESIGN §8): built-in defaults ← `config/default.toml` ←
//! `config/$ROLODEX_PROFILE.toml` ← an explicit `--config` file ← the seed's `DATABASE_POOL_*`
//! variables ← `ROLODEX_*` variables (`__` nests) ← command-line `--set key=value` flags.
//! Every problem is reported at once, each naming its key.

use std::path::PathBuf;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::value::Value;
use figment::Figment;
use rolodex_actors::Config;

/// The seed's environment names, honoured as they are.
pub const SEED_VARIABLES: [(&str, &str); 5] = [
    ("DATABASE_POOL_SIZE", "pool.size"),
    ("DATABASE_MAX_OVERFLOW", "pool.max_overflow"),
    ("DATABASE_POOL_TIMEOUT", "pool.timeout_secs"),
    ("DATABASE_POOL_RECYCLE", "pool.recycle_secs"),
    ("DATABASE_POOL_PRE_PING", "pool.pre_ping"),
];

/// `ROLODEX_*` variables that steer loading rather than being configuration keys.
const LOADER_VARIABLES: [&str; 3] = ["profile", "config_dir", "config"];

/// Where configuration comes from.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// Folder with `default.toml` and `<profile>.toml` (default `config`).
    pub config_dir: Option<PathBuf>,
    /// Profile name (default: `ROLODEX_PROFILE`).
    pub profile: Option<String>,
    /// One more TOML file, above the profile.
    pub file: Option<PathBuf>,
    /// `key=value` overrides from the command line, highest precedence.
    pub overrides: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n  - {}", .0.join("\n  - "))]
pub struct ConfigError(pub Vec<String>);

impl Sources {
    /// Fill unset loader settings from `ROLODEX_CONFIG_DIR`, `ROLODEX_PROFILE`, `ROLODEX_CONFIG`.
    pub fn with_env_defaults(mut self) -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        self.config_dir = self
            .config_dir
            .or_else(|| var("ROLODEX_CONFIG_DIR").map(PathBuf::from));
        self.profile = self.profile.or_else(|| var("ROLODEX_PROFILE"));
        self.file = self
            .file
            .or_else(|| var("ROLODEX_CONFIG").map(PathBuf::from));
        self
    }

    /// The layered figment, before extraction.
    pub fn figment(&self) -> Result<Figment, ConfigError> {
        let dir = self
            .config_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("config"));
        let mut fig = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(dir.join("default.toml")));
        let mut missing = Vec::new();
        if let Some(profile) = &self.profile {
            let path = dir.join(format!("{profile}.toml"));
            if !path.exists() {
                missing.push(format!(
                    "profile `{profile}`: {} does not exist",
                    path.display()
                ));
            }
            fig = fig.merge(Toml::file(path));
        }
        if let Some(file) = &self.file {
            if !file.exists() {
                missing.push(format!("config file {} does not exist", file.display()));
            }
            fig = fig.merge(Toml::file(file));
        }
        fig = fig
            .merge(Env::raw().filter_map(|k| {
                SEED_VARIABLES
                    .iter()
                    .find(|(seed, _)| k.as_str().eq_ignore_ascii_case(seed))
                    .map(|(_, key)| (*key).into())
            }))
            .merge(
                Env::prefixed("ROLODEX_")
                    .split("__")
                    .ignore(&LOADER_VARIABLES),
            );
        for item in &self.overrides {
            match item.split_once('=') {
                Some((key, value)) if !key.trim().is_empty() => {
                    let value: Value = value
                        .parse()
                        .unwrap_or_else(|_| Value::from(value.to_owned()));
                    fig = fig.merge(Serialized::global(key.trim(), value));
                }
                _ => missing.push(format!(
                    "`--set {item}`: expected key=value, e.g. pool.size=10"
                )),
            }
        }
        if missing.is_empty() {
            Ok(fig)
        } else {
            Err(ConfigError(missing))
        }
    }

    /// Load and validate; every problem is listed.
    pub fn load(&self) -> Result<Config, ConfigError> {
        let fig = self.figment()?;
        let config: Config = fig
            .extract()
            .map_err(|e| ConfigError(e.into_iter().map(describe).collect()))?;
        let problems = config.problems();
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError(problems))
        }
    }
}

/// One figment error as "`key`: what is wrong (from where)".
fn describe(e: figment::Error) -> String {
    let key = e.path.join(".");
    let source = e
        .metadata
        .as_ref()
        .map(|m| match &m.source {
            Some(src) => format!(" (from {} {src})", m.name),
            None => format!(" (from {})", m.name),
        })
        .unwrap_or_default();
    let what = e.kind.to_string();
    if key.is_empty() {
        format!("{what}{source}")
    } else {
        format!("`{key}`: {what}{source}")
    }
}

/// Every leaf of the effective configuration with its value (secrets redacted) and where it
/// came from, for `rolodex config`.
pub fn explain(fig: &Figment, config: &Config) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let value = serde_json::to_value(config).unwrap_or_default();
    flatten("", &value, &mut out);
    out.into_iter()
        .map(|(key, value)| {
            let from = fig
                .find_metadata(&key)
                .map(|m| match &m.source {
                    Some(src) => format!("{} {src}", m.name),
                    None => m.name.to_string(),
                })
                .unwrap_or_else(|| "default".into());
            let value = redact(&key, value);
            (key, value, from)
        })
        .collect()
}

fn flatten(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, String)>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        other => out.push((prefix.to_owned(), other.to_string())),
    }
}

/// Hide passwords in URLs and secrets.
pub fn redact(key: &str, value: String) -> String {
    if key.ends_with("secret") {
        return if value == "\"\"" {
            value
        } else {
            "\"<redacted>\"".into()
        };
    }
    match (value.find("://"), value.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &value[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => {
                    format!("{}{user}:<redacted>{}", &value[..scheme + 3], &value[at..])
                }
                None => value,
            }
        }
        _ => value,
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment's Jail closures return its own large error type.
mod tests {
    use super::*;
    use figment::Jail;

    fn sources(dir: &std::path::Path) -> Sources {
        Sources {
            config_dir: Some(dir.to_path_buf()),
            ..Sources::default()
        }
    }

    #[test]
    fn file_then_env_then_flag() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "default.toml",
                "[pool]\nsize = 3\nmax_overflow = 4\n[nats]\nprefix = \"fromfile\"",
            )?;
            let dir = jail.directory().to_path_buf();
            assert_eq!(sources(&dir).load().unwrap().pool.size, 3);
            jail.set_env("ROLODEX_POOL__SIZE", "5");
            assert_eq!(sources(&dir).load().unwrap().pool.size, 5);
            let mut s = sources(&dir);
            s.overrides = vec!["pool.size=7".into()];
            let c = s.load().unwrap();
            assert_eq!(c.pool.size, 7);
            assert_eq!(c.pool.max_overflow, 4);
            assert_eq!(c.nats.prefix, "fromfile");
            Ok(())
        });
    }

    #[test]
    fn seed_variable_names_are_honoured() {
        Jail::expect_with(|jail| {
            jail.set_env("DATABASE_POOL_SIZE", "11");
            jail.set_env("DATABASE_MAX_OVERFLOW", "12");
            jail.set_env("DATABASE_POOL_TIMEOUT", "13");
            jail.set_env("DATABASE_POOL_RECYCLE", "14");
            jail.set_env("DATABASE_POOL_PRE_PING", "false");
            let c = sources(jail.directory()).load().unwrap();
            assert_eq!(
                (
                    c.pool.size,
                    c.pool.max_overflow,
                    c.pool.timeout_secs,
                    c.pool.recycle_secs
                ),
                (11, 12, 13, 14)
            );
            assert!(!c.pool.pre_ping);
            // ROLODEX_* beats the seed names.
            jail.set_env("ROLODEX_POOL__SIZE", "2");
            assert_eq!(sources(jail.directory()).load().unwrap().pool.size, 2);
            Ok(())
        });
    }

    #[test]
    fn unknown_and_wrong_keys_are_named_all_at_once() {
        Jail::expect_with(|jail| {
            jail.create_file("default.toml", "[pool]\nsise = 3\n")?;
            jail.set_env("ROLODEX_NATS__PREFIX", "has space");
            let err = sources(jail.directory()).load().unwrap_err().to_string();
            assert!(err.contains("sise"), "{err}");
            jail.create_file("default.toml", "[pool]\nsize = \"many\"\n")?;
            let err = sources(jail.directory()).load().unwrap_err().to_string();
            assert!(err.contains("pool.size"), "{err}");
            jail.create_file("default.toml", "")?;
            let err = sources(jail.directory()).load().unwrap_err().to_string();
            assert!(err.contains("nats.prefix"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("database.url", "\"postgres://u:pw@h/db\"".into()),
            "\"postgres://u:<redacted>@h/db\""
        );
        assert_eq!(
            redact("database.url", "\"postgres://u@h/db\"".into()),
            "\"postgres://u@h/db\""
        );
    }
}
