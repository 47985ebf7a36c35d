//! Where credentials and the host come from. Credentials come from exactly one source, never
//! field by field:
//!
//! 1. `--profile NAME`: every field from that profile of the config file;
//! 2. otherwise the `POLY_*` environment variables, all four (`POLY_API_KEY`,
//!    `POLY_API_SECRET` or `POLY_SECRET`, `POLY_PASSPHRASE`, `POLY_ADDRESS`) or an error naming
//!    the missing ones;
//! 3. otherwise the `default` profile.
//!
//! The host is `--host`, else the `host` of the profile the credentials came from, else
//! `CLOB_HOST`, else [`DEFAULT_HOST`].
//!
//! The config file, `$XDG_CONFIG_HOME/clobscript/config.toml` (`~/.config/clobscript/` when
//! that is unset), holds one table per profile:
//!
//! ```toml
//! [default]
//! host = "https://clob.polymarket.com"   # optional
//! api_key = "…"
//! secret = "…"
//! passphrase = "…"
//! address = "0x…"
//! ```
//!
//! [`save_profile`] adds one (`clobscript auth create --save-profile NAME`): the file is
//! rewritten whole with mode 0600, other profiles and comments kept.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::clob::auth::{Credentials, Secret};

pub const DEFAULT_HOST: &str = "https://clob.polymarket.com";
pub const DEFAULT_PROFILE: &str = "default";

/// The four credential variables, as the messages name them.
const ENV_NAMES: [&str; 4] = [
    "POLY_API_KEY",
    "POLY_API_SECRET",
    "POLY_PASSPHRASE",
    "POLY_ADDRESS",
];
/// The four credential fields of a profile.
const PROFILE_FIELDS: [&str; 4] = ["api_key", "secret", "passphrase", "address"];

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
    /// Some `POLY_*` credentials are set and some are not.
    #[error(
        "missing credentials: {} (the environment sets {} but not these; set all four POLY_* \
         variables, or unset them all to use a profile from {})",
        .missing.join(", "),
        .given.join(", "),
        .config_path.display()
    )]
    MissingCredentials {
        missing: Vec<&'static str>,
        given: Vec<&'static str>,
        config_path: PathBuf,
    },
    /// A profile that lacks some of the four fields.
    #[error(
        "profile `{profile}` in {} lacks {}: a profile must give api_key, secret, passphrase \
         and address",
        .path.display(),
        .missing.join(", ")
    )]
    IncompleteProfile {
        profile: String,
        path: PathBuf,
        missing: Vec<&'static str>,
    },
    /// No `--profile`, no `POLY_*` variable, no `default` profile.
    #[error(
        "no credentials: set POLY_API_KEY, POLY_API_SECRET, POLY_PASSPHRASE and POLY_ADDRESS, \
         name a profile with --profile, or save a `default` profile in {} (clobscript auth \
         create --save-profile default); --sim needs none",
        .config_path.display()
    )]
    NoCredentials { config_path: PathBuf },
    #[error(
        "profile `{profile}` already exists in {}; pass --force to replace it, or choose another \
         name",
        .path.display()
    )]
    ProfileExists { profile: String, path: PathBuf },
    #[error("`{0}` is not a usable profile name (letters, digits, `-` and `_` only)")]
    BadProfileName(String),
    #[error("cannot write config file {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Credentials and host as given by one source, possibly incomplete.
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

    /// Which of the four credential fields are set, in the order of [`ENV_NAMES`].
    fn present(&self) -> [bool; 4] {
        [
            self.api_key.is_some(),
            self.secret.is_some(),
            self.passphrase.is_some(),
            self.address.is_some(),
        ]
    }

    /// The complete credentials, or `None` when any field is missing.
    fn complete(&self) -> Option<Credentials> {
        Some(Credentials {
            api_key: self.api_key.clone()?,
            secret: self.secret.clone()?,
            passphrase: self.passphrase.clone()?,
            address: self.address.clone()?,
        })
    }
}

fn pick(names: [&'static str; 4], present: [bool; 4], want: bool) -> Vec<&'static str> {
    names
        .into_iter()
        .zip(present)
        .filter(|(_, p)| *p == want)
        .map(|(name, _)| name)
        .collect()
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

/// The text of the config file, `None` when there is none.
fn read_config(path: &Path) -> Result<Option<String>, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            if readable_by_others(path) {
                tracing::warn!(
                    path = %path.display(),
                    "the config file holds API secrets but other users may read it; run chmod 600 on it"
                );
            }
            Ok(Some(text))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ConfigError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Whether users other than the owner may read or write `path` (a file that holds secrets).
#[cfg(unix)]
pub fn readable_by_others(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).is_ok_and(|meta| meta.permissions().mode() & 0o077 != 0)
}

/// Whether users other than the owner may read or write `path`: not known off Unix.
#[cfg(not(unix))]
pub fn readable_by_others(_path: &Path) -> bool {
    false
}

/// A TOML error as shown to the user: the line it is on, and never the offending value (the
/// parser's own words quote it, and it may be a secret or passphrase).
fn parse_message(message: &str, span: Option<std::ops::Range<usize>>, text: &str) -> String {
    let given = message.trim();
    let mut message = given.to_owned();
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = given.strip_prefix(prefix) {
            let (found, expected) = rest.split_once(", expected").unwrap_or((rest, ""));
            // `integer `5``, `string "abc"`: keep the kind, drop the value.
            let kind = found
                .split(['`', '"', '\''])
                .next()
                .unwrap_or_default()
                .trim_end();
            message = format!("{prefix}{kind}, expected{expected}");
            if expected.contains("struct Profile") {
                message.push_str(
                    " (each profile is a table: put its fields under a header such as [default])",
                );
            }
            break;
        }
    }
    match span {
        Some(span) => {
            let start = span.start.min(text.len());
            let line = text
                .get(..start)
                .map_or(0, |before| before.matches('\n').count())
                + 1;
            format!("{message} (line {line})")
        }
        None => message,
    }
}

/// Reads one profile from a config file: `None` when the file or the profile does not exist.
pub fn load_profile(path: &Path, name: &str) -> Result<Option<Profile>, ConfigError> {
    let Some(text) = read_config(path)? else {
        return Ok(None);
    };
    let mut profiles: BTreeMap<String, Profile> =
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: parse_message(e.message(), e.span(), &text),
        })?;
    Ok(profiles.remove(name))
}

/// Where the credentials of a run came from (says nothing secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CredentialSource {
    /// A profile of the config file: the one `--profile` named, or `default`.
    Profile { name: String, path: PathBuf },
    /// The `POLY_*` environment variables.
    Environment,
}

impl fmt::Display for CredentialSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialSource::Profile { name, path } => {
                write!(f, "profile `{name}` in {}", path.display())
            }
            CredentialSource::Environment => f.write_str("the POLY_* environment variables"),
        }
    }
}

/// The resolved host and complete credentials, and where they came from.
#[derive(Clone, Debug)]
pub struct Settings {
    pub host: String,
    pub credentials: Credentials,
    pub source: CredentialSource,
    /// `POLY_*` credentials were set but `--profile` overrode them.
    pub environment_ignored: bool,
}

impl Settings {
    /// Picks the one source of the credentials (see the module documentation) and the host.
    pub fn resolve(
        host_flag: Option<String>,
        env: Profile,
        config_path: PathBuf,
        profile: Option<&str>,
    ) -> Result<Settings, ConfigError> {
        let env_given = env.present().contains(&true);
        let (chosen, name) = match profile {
            Some(name) => {
                let chosen = load_profile(&config_path, name)?.ok_or_else(|| {
                    ConfigError::UnknownProfile {
                        profile: name.to_owned(),
                        path: config_path.clone(),
                    }
                })?;
                (chosen, name.to_owned())
            }
            None if env_given => {
                let Some(credentials) = env.complete() else {
                    return Err(ConfigError::MissingCredentials {
                        missing: pick(ENV_NAMES, env.present(), false),
                        given: pick(ENV_NAMES, env.present(), true),
                        config_path,
                    });
                };
                return Ok(Settings {
                    host: host_flag
                        .or(env.host)
                        .unwrap_or_else(|| DEFAULT_HOST.to_owned()),
                    credentials,
                    source: CredentialSource::Environment,
                    environment_ignored: false,
                });
            }
            None => {
                let chosen = load_profile(&config_path, DEFAULT_PROFILE)?.ok_or_else(|| {
                    ConfigError::NoCredentials {
                        config_path: config_path.clone(),
                    }
                })?;
                (chosen, DEFAULT_PROFILE.to_owned())
            }
        };
        let Some(credentials) = chosen.complete() else {
            return Err(ConfigError::IncompleteProfile {
                profile: name,
                path: config_path,
                missing: pick(PROFILE_FIELDS, chosen.present(), false),
            });
        };
        let source = CredentialSource::Profile {
            name,
            path: config_path,
        };
        Ok(Settings {
            host: host_flag
                .or(chosen.host)
                .or(env.host)
                .unwrap_or_else(|| DEFAULT_HOST.to_owned()),
            credentials,
            source,
            environment_ignored: env_given,
        })
    }
}

/// The host of a command that needs no credentials (`auth derive`/`create`): `--host`, else
/// `CLOB_HOST`, else [`DEFAULT_HOST`].
pub fn host_without_credentials(host_flag: Option<String>, env: &Profile) -> String {
    host_flag
        .or_else(|| env.host.clone())
        .unwrap_or_else(|| DEFAULT_HOST.to_owned())
}

/// Refuses a profile name that would not read back as one TOML table name.
pub fn check_profile_name(name: &str) -> Result<(), ConfigError> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(ConfigError::BadProfileName(name.to_owned()))
    }
}

/// Whether the config file at `path` has a profile `name` (a missing file has none).
pub fn profile_exists(path: &Path, name: &str) -> Result<bool, ConfigError> {
    let Some(text) = read_config(path)? else {
        return Ok(false);
    };
    let table: toml::Table = toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.to_owned(),
        message: parse_message(e.message(), e.span(), &text),
    })?;
    Ok(table.contains_key(name))
}

/// Writes `credentials` (and `host`) as profile `name` of the config file at `path`. Other
/// profiles and comments are kept; an existing profile of that name is replaced only with
/// `force`. The file is written to a temporary file beside it with mode 0600 and renamed into
/// place, so it is never half-written and never readable by others.
pub fn save_profile(
    path: &Path,
    name: &str,
    credentials: &Credentials,
    host: &str,
    force: bool,
) -> Result<(), ConfigError> {
    check_profile_name(name)?;
    // Write where a symlinked config file really lives.
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    let text = read_config(&path)?.unwrap_or_default();
    let mut document: toml_edit::DocumentMut =
        text.parse()
            .map_err(|e: toml_edit::TomlError| ConfigError::Parse {
                path: path.clone(),
                message: parse_message(e.message(), e.span(), &text),
            })?;
    if document.contains_key(name) && !force {
        return Err(ConfigError::ProfileExists {
            profile: name.to_owned(),
            path,
        });
    }
    let mut table = toml_edit::Table::new();
    table.insert("host", toml_edit::value(host));
    table.insert("api_key", toml_edit::value(credentials.api_key.as_str()));
    table.insert("secret", toml_edit::value(credentials.secret.expose()));
    table.insert(
        "passphrase",
        toml_edit::value(credentials.passphrase.expose()),
    );
    table.insert("address", toml_edit::value(credentials.address.as_str()));
    document.insert(name, toml_edit::Item::Table(table));
    write_private(&path, document.to_string().as_bytes())
}

/// Replaces `path` with `contents`, mode 0600, through a temporary file in the same folder.
fn write_private(path: &Path, contents: &[u8]) -> Result<(), ConfigError> {
    let failed = |source| ConfigError::Write {
        path: path.to_owned(),
        source,
    };
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(failed)?;
    let file_name = path.file_name().map_or_else(
        || "config.toml".into(),
        |n| n.to_string_lossy().into_owned(),
    );
    let temp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let written = options.open(&temp).and_then(|mut file| {
        file.write_all(contents)?;
        file.sync_all()
    });
    if let Err(error) = written.and_then(|()| std::fs::rename(&temp, path)) {
        let _ = std::fs::remove_file(&temp);
        return Err(failed(error));
    }
    Ok(())
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

    const FILE: &str = "[default]\napi_key='file-key'\nsecret='file-secret'\npassphrase='file-pass'\naddress='0xfile'\nhost='http://file'\n\n[other]\napi_key='other-key'\nsecret='other-secret'\npassphrase='other-pass'\naddress='0xother'\n";

    const FULL_ENV: [(&str, &str); 5] = [
        ("POLY_API_KEY", "env-key"),
        ("POLY_SECRET", "env-secret"),
        ("POLY_PASSPHRASE", "env-pass"),
        ("POLY_ADDRESS", "0xenv"),
        ("CLOB_HOST", "http://env"),
    ];

    fn config(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config.toml");
        std::fs::write(&path, text).expect("write");
        (dir, path)
    }

    #[test]
    fn a_named_profile_gives_every_field_even_with_the_environment_set() {
        let (_dir, path) = config(FILE);
        let s = Settings::resolve(None, env(&FULL_ENV), path, Some("other")).expect("resolves");
        assert_eq!(s.credentials.api_key, "other-key");
        assert_eq!(s.credentials.secret.expose(), "other-secret");
        assert_eq!(s.credentials.address, "0xother");
        assert!(s.environment_ignored);
        // The profile has no host: CLOB_HOST, then the default.
        assert_eq!(s.host, "http://env");
        assert!(s.source.to_string().starts_with("profile `other` in "));
    }

    #[test]
    fn a_complete_environment_beats_the_default_profile() {
        let (_dir, path) = config(FILE);
        let s = Settings::resolve(None, env(&FULL_ENV), path, None).expect("resolves");
        assert_eq!(s.credentials.api_key, "env-key");
        assert_eq!(s.credentials.secret.expose(), "env-secret");
        assert_eq!(s.source, CredentialSource::Environment);
        assert_eq!(s.host, "http://env");
    }

    #[test]
    fn a_partial_environment_is_an_error_naming_what_is_missing() {
        let (_dir, path) = config(FILE);
        let err = Settings::resolve(
            None,
            env(&[("POLY_SECRET", "hunter2"), ("POLY_ADDRESS", "0xa")]),
            path,
            None,
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with("missing credentials: POLY_API_KEY, POLY_PASSPHRASE ("),
            "{msg}"
        );
        assert!(msg.contains("sets POLY_API_SECRET, POLY_ADDRESS"), "{msg}");
        assert!(!msg.contains("hunter2"), "{msg}");
    }

    #[test]
    fn the_default_profile_when_nothing_else_is_given_and_its_host_beats_clob_host() {
        let (_dir, path) = config(FILE);
        let s = Settings::resolve(None, env(&[("CLOB_HOST", "http://env")]), path, None)
            .expect("resolves");
        assert_eq!(s.credentials.api_key, "file-key");
        assert_eq!(s.host, "http://file");
        assert!(!s.environment_ignored);
        let (_dir, path) = config(FILE);
        let s = Settings::resolve(Some("http://flag".into()), Profile::default(), path, None)
            .expect("resolves");
        assert_eq!(s.host, "http://flag");
    }

    #[test]
    fn incomplete_unknown_and_absent_profiles_are_clear_errors() {
        let (_dir, path) = config("[default]\napi_key = 'k'\nsecret = 's'\n");
        let err = Settings::resolve(None, Profile::default(), path.clone(), None).unwrap_err();
        assert!(
            err.to_string().contains("lacks passphrase, address"),
            "{err}"
        );
        let err =
            Settings::resolve(None, Profile::default(), path.clone(), Some("prod")).unwrap_err();
        assert!(err.to_string().contains("profile `prod`"), "{err}");
        std::fs::write(&path, "[default]\napi_key = \n").expect("write");
        let err = Settings::resolve(None, Profile::default(), path.clone(), None).unwrap_err();
        assert!(err.to_string().contains("not valid TOML"), "{err}");
        std::fs::remove_file(&path).expect("rm");
        let err = Settings::resolve(None, Profile::default(), path, None).unwrap_err();
        assert!(err.to_string().starts_with("no credentials:"), "{err}");
    }

    fn creds(key: &str) -> Credentials {
        Credentials {
            api_key: key.into(),
            secret: Secret::new("c2VjcmV0"),
            passphrase: Secret::new("pass"),
            address: "0xabc".into(),
        }
    }

    #[test]
    fn saving_keeps_other_profiles_and_comments_and_refuses_to_overwrite() {
        let (_dir, path) = config("# my settings\n[other]\napi_key = 'o' # keep\n");
        save_profile(&path, "sim", &creds("k1"), "http://h", false).expect("saves");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(
            text.contains("# my settings") && text.contains("'o' # keep"),
            "{text}"
        );
        let saved = load_profile(&path, "sim").expect("parses").expect("saved");
        assert_eq!(saved.api_key.as_deref(), Some("k1"));
        assert_eq!(saved.host.as_deref(), Some("http://h"));
        let err = save_profile(&path, "sim", &creds("k2"), "http://h", false).unwrap_err();
        assert!(matches!(err, ConfigError::ProfileExists { .. }), "{err}");
        save_profile(&path, "sim", &creds("k2"), "http://h", true).expect("forced");
        let saved = load_profile(&path, "sim").expect("parses").expect("saved");
        assert_eq!(saved.api_key.as_deref(), Some("k2"));
        assert!(load_profile(&path, "other").expect("parses").is_some());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let err = save_profile(&path, "a b", &creds("k"), "h", false).unwrap_err();
        assert!(matches!(err, ConfigError::BadProfileName(_)));
    }
}
