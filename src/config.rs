//! Where credentials and the host come from: command-line flags, then `POLY_*` / `CLOB_HOST`
//! environment variables, then a profile in `$XDG_CONFIG_HOME/clobscript/config.toml`.
//!
//! The config file holds one table per profile:
//!
//! ```toml
//! [default]
//! host = "https://clob.polymarket.com"
//! api_key = "…"
//! secret = "…"
//! passphrase = "…"
//! address = "0x…"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::clob::auth::{Credentials, Secret};

pub const DEFAULT_HOST: &str = "https://clob.polymarket.com";
pub const DEFAULT_PROFILE: &str = "default";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid TOML: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("profile `{profile}` is not defined in {path}")]
    UnknownProfile { profile: String, path: PathBuf },
    #[error(
        "missing credentials: {} (set them with flags, POLY_* environment variables, or a profile in {})",
        .missing.join(", "),
        .config_path.display()
    )]
    MissingCredentials {
        missing: Vec<&'static str>,
        config_path: PathBuf,
    },
}

/// Credentials and host as partially given by one source.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub host: Option<String>,
    pub api_key: Option<String>,
    pub secret: Option<Secret>,
    pub passphrase: Option<Secret>,
    pub address: Option<String>,
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret::new)
    }
}

impl Profile {
    /// Fills every field still unset from `other`.
    fn or(self, other: Profile) -> Profile {
        Profile {
            host: self.host.or(other.host),
            api_key: self.api_key.or(other.api_key),
            secret: self.secret.or(other.secret),
            passphrase: self.passphrase.or(other.passphrase),
            address: self.address.or(other.address),
        }
    }

    /// Reads the `POLY_*` and `CLOB_HOST` variables through `var` (the process environment in
    /// production, a map in tests). Empty values count as unset.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Profile {
        let get = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        Profile {
            host: get("CLOB_HOST"),
            api_key: get("POLY_API_KEY"),
            secret: get("POLY_API_SECRET")
                .or_else(|| get("POLY_SECRET"))
                .map(Secret::new),
            passphrase: get("POLY_PASSPHRASE").map(Secret::new),
            address: get("POLY_ADDRESS"),
        }
    }
}

/// Where the config file lives: `$XDG_CONFIG_HOME/clobscript/config.toml`.
pub fn config_path() -> PathBuf {
    std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(dirs::config_dir)
        .unwrap_or_else(|| PathBuf::from("."))
        .join("clobscript")
        .join("config.toml")
}

/// Where logs, history and the audit log live by default: `$XDG_STATE_HOME/clobscript/`.
pub fn state_dir() -> PathBuf {
    std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(dirs::state_dir)
        .or_else(|| dirs::home_dir().map(|h| h.join(".local").join("state")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("clobscript")
}

/// Reads one profile from a config file. A missing file is an empty profile unless a profile
/// was asked for by name.
pub fn load_profile(path: &Path, profile: Option<&str>) -> Result<Profile, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return match profile {
                Some(name) if name != DEFAULT_PROFILE => Err(ConfigError::UnknownProfile {
                    profile: name.to_owned(),
                    path: path.to_owned(),
                }),
                _ => Ok(Profile::default()),
            };
        }
        Err(source) => {
            return Err(ConfigError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    let mut profiles: BTreeMap<String, Profile> =
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.message().to_owned(),
        })?;
    let name = profile.unwrap_or(DEFAULT_PROFILE);
    match profiles.remove(name) {
        Some(p) => Ok(p),
        None if profile.is_none() => Ok(Profile::default()),
        None => Err(ConfigError::UnknownProfile {
            profile: name.to_owned(),
            path: path.to_owned(),
        }),
    }
}

/// The resolved host and (possibly incomplete) credentials.
#[derive(Clone, Debug)]
pub struct Settings {
    pub host: String,
    merged: Profile,
    config_path: PathBuf,
}

impl Settings {
    /// Merges flags > environment > config-file profile.
    pub fn resolve(
        flags: Profile,
        env: Profile,
        config_path: PathBuf,
        profile: Option<&str>,
    ) -> Result<Settings, ConfigError> {
        let file = load_profile(&config_path, profile)?;
        let merged = flags.or(env).or(file);
        Ok(Settings {
            host: merged
                .host
                .clone()
                .unwrap_or_else(|| DEFAULT_HOST.to_owned()),
            merged,
            config_path,
        })
    }

    /// The complete credentials, or an error naming every missing one.
    pub fn credentials(&self) -> Result<Credentials, ConfigError> {
        let p = &self.merged;
        let mut missing = Vec::new();
        if p.api_key.is_none() {
            missing.push("POLY_API_KEY");
        }
        if p.secret.is_none() {
            missing.push("POLY_API_SECRET");
        }
        if p.passphrase.is_none() {
            missing.push("POLY_PASSPHRASE");
        }
        if p.address.is_none() {
            missing.push("POLY_ADDRESS");
        }
        match (&p.api_key, &p.secret, &p.passphrase, &p.address) {
            (Some(api_key), Some(secret), Some(passphrase), Some(address)) => Ok(Credentials {
                api_key: api_key.clone(),
                secret: secret.clone(),
                passphrase: passphrase.clone(),
                address: address.clone(),
            }),
            _ => Err(ConfigError::MissingCredentials {
                missing,
                config_path: self.config_path.clone(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Profile {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Profile::from_env(|k| map.get(k).cloned())
    }

    #[test]
    fn flags_beat_environment_beat_profile() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config.toml");
        std::fs::write(
            &path,
            "[default]\napi_key='file-key'\nsecret='file-secret'\npassphrase='file-pass'\naddress='0xfile'\nhost='http://file'\n",
        )
        .expect("write");
        let flags = Profile {
            api_key: Some("flag-key".into()),
            ..Profile::default()
        };
        let s = Settings::resolve(flags, env(&[("POLY_PASSPHRASE", "env-pass")]), path, None)
            .expect("resolves");
        let c = s.credentials().expect("complete");
        assert_eq!(c.api_key, "flag-key");
        assert_eq!(c.passphrase.expose(), "env-pass");
        assert_eq!(c.secret.expose(), "file-secret");
        assert_eq!(s.host, "http://file");
    }

    #[test]
    fn missing_credentials_are_named_and_secrets_are_not_printed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = Settings::resolve(
            Profile::default(),
            env(&[("POLY_SECRET", "hunter2"), ("POLY_ADDRESS", "0xa")]),
            dir.path().join("none.toml"),
            None,
        )
        .expect("resolves");
        let msg = s.credentials().unwrap_err().to_string();
        assert!(
            msg.contains("POLY_API_KEY") && msg.contains("POLY_PASSPHRASE"),
            "{msg}"
        );
        assert!(
            !msg.contains("POLY_API_SECRET") && !msg.contains("hunter2"),
            "{msg}"
        );
        assert_eq!(s.host, DEFAULT_HOST);
    }

    #[test]
    fn unknown_profile_and_bad_toml_are_clear_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "[default]\napi_key = \n").expect("write");
        let err = Settings::resolve(Profile::default(), Profile::default(), path.clone(), None)
            .unwrap_err();
        assert!(err.to_string().contains("not valid TOML"), "{err}");
        std::fs::write(&path, "[default]\napi_key = 'k'\n").expect("write");
        let err = Settings::resolve(Profile::default(), Profile::default(), path, Some("prod"))
            .unwrap_err();
        assert!(err.to_string().contains("profile `prod`"), "{err}");
    }
}
