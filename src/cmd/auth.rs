//! `clobscript auth`: API credentials from a wallet's private key, and the API keys of an
//! account.
//!
//! `derive` and `create` sign with the wallet (L1) and print the four `POLY_*` lines on
//! stdout, or with `--save-profile NAME` write them into the config file and print only the
//! key and the address. The private key comes from `--private-key-file FILE` (`-` for stdin),
//! else `POLY_PRIVATE_KEY`, else a hidden prompt on a terminal; it is never echoed, logged,
//! saved or put in an error. `keys` and `delete` are L2 requests with the credentials of the
//! one configured source (`--profile`, `POLY_*`, or the `default` profile).
//!
//! Nothing given is silently ignored: `derive` and `create` refuse `--profile` (the private
//! key names the account; `--save-profile` writes a profile), and `delete` asks on a terminal
//! before revoking, or needs `--yes` when there is no terminal to ask on.
//!
//! Exit codes: 2 for bad input (no or a malformed private key, a wrong `--chain-id`,
//! `--profile` on `derive`/`create`, a profile that exists or cannot be written, missing
//! credentials, a `delete` not confirmed), 3 for the exchange (clock skew, a refused
//! signature, no key to derive, network).

use std::io::{IsTerminal as _, Read as _, Write as _};
use std::path::Path;

use zeroize::Zeroizing;

use super::session::{Session, SessionError, new_runtime, resolve_settings};
use super::{CommandError, CommandResult, eprint_line};
use crate::cli::{AuthAction, AuthArgs, DeleteArgs, GlobalArgs, WalletArgs};
use crate::clob::client::{KeyOrigin, KeyRequestError};
use crate::clob::l1::PrivateKey;
use crate::clob::{Client, ClientConfig, Credentials};
use crate::config::{self, ConfigError, CredentialSource, Profile, Settings};
use crate::exit::Exit;

/// The environment variable `derive` and `create` read the private key from.
pub const PRIVATE_KEY_VAR: &str = "POLY_PRIVATE_KEY";

pub fn auth(global: &GlobalArgs, args: &AuthArgs) -> CommandResult {
    match &args.action {
        AuthAction::Derive(wallet) => issue(global, wallet, false),
        AuthAction::Create(wallet) => issue(global, wallet, true),
        AuthAction::Keys => keys(global),
        AuthAction::Delete(args) => delete(global, args),
    }
}

fn usage(message: impl std::fmt::Display) -> CommandError {
    CommandError::new(Exit::Usage, message)
}

/// `derive` (`create` = false) and `create`.
fn issue(global: &GlobalArgs, args: &WalletArgs, create: bool) -> CommandResult {
    let command = if create { "create" } else { "derive" };
    // The wallet key names the account: a profile's credentials (or its host) would be
    // half-used at best, so --profile is refused rather than ignored.
    if let Some(profile) = &global.profile {
        return Err(usage(match &args.save_profile {
            Some(save) => format!(
                "`auth {command}` signs with the wallet's private key and reads no profile: \
                 drop --profile {profile} (--save-profile {save} already writes the \
                 credentials into profile `{save}`; --host URL picks the exchange)"
            ),
            None => format!(
                "`auth {command}` signs with the wallet's private key and reads no profile, so \
                 --profile {profile} would be ignored; to write the credentials into profile \
                 `{profile}`, pass --save-profile {profile} instead (and --host URL for its \
                 exchange)"
            ),
        }));
    }
    if global.request_timeout.is_some_and(|t| t.is_zero()) {
        return Err(SessionError::ZeroRequestTimeout.into());
    }
    let config_path = config::config_path();
    // A profile that cannot be saved is refused before the exchange is asked for anything.
    if let Some(name) = &args.save_profile {
        config::check_profile_name(name).map_err(usage)?;
        if !args.force && config::profile_exists(&config_path, name).map_err(usage)? {
            return Err(usage(config::ConfigError::ProfileExists {
                profile: name.clone(),
                path: config_path,
            }));
        }
    }
    let wallet = read_wallet(args.private_key_file.as_deref())?;
    let host = config::host_without_credentials(
        global.host.clone(),
        &Profile::from_env(|name| std::env::var(name).ok()),
    );
    let runtime = new_runtime(Some(1))?;
    let client = {
        let _entered = runtime.enter();
        let mut client_config = ClientConfig::new(host, None);
        client_config.use_server_time = global.server_time;
        if let Some(timeout) = global.request_timeout {
            client_config.timeout = timeout;
        }
        Client::new(client_config).map_err(|e| CommandError::new(e.exit(), e.user_message()))?
    };
    let address = wallet.address();
    if global.verbose > 0 {
        tracing::info!(
            %address,
            nonce = args.nonce,
            chain_id = args.chain_id,
            host = client.host(),
            "asking for the wallet's API key"
        );
    }
    let answer = runtime.block_on(async {
        if create {
            client
                .create_or_derive_api_key(&wallet, args.chain_id, args.nonce)
                .await
        } else {
            client
                .derive_api_key(&wallet, args.chain_id, args.nonce)
                .await
                .map(|creds| (creds, KeyOrigin::Derived))
        }
    });
    drop(wallet);
    let (creds, origin) = answer.map_err(|e: KeyRequestError| CommandError::new(e.exit(), e))?;
    if create {
        eprint_line(&match origin {
            KeyOrigin::Created => format!("created a new API key for {address}"),
            KeyOrigin::Derived => format!(
                "{address} already has an API key for nonce {}: derived it",
                args.nonce
            ),
        });
    }
    if !creds.is_usable() {
        tracing::warn!(
            "the exchange issued a secret that is not base64; signing with it will fail"
        );
    }
    let credentials = creds.into_credentials(&address);
    match &args.save_profile {
        Some(name) => {
            config::save_profile(&config_path, name, &credentials, client.host(), args.force)
                .map_err(usage)?;
            print_lines(&[
                format!("POLY_API_KEY={}", credentials.api_key),
                format!("POLY_ADDRESS={}", credentials.address),
            ])?;
            if name == config::DEFAULT_PROFILE {
                eprint_line(&format!(
                    "saved profile `{name}` in {} (used when neither --profile nor the POLY_* \
                     variables are given)",
                    config_path.display()
                ));
                let env = Profile::from_env(|name| std::env::var(name).ok());
                if env.api_key.is_some()
                    || env.secret.is_some()
                    || env.passphrase.is_some()
                    || env.address.is_some()
                {
                    eprint_line(
                        "warning: POLY_* variables are set in this environment: they take precedence \
                         over the `default` profile until you unset them",
                    );
                }
            } else {
                eprint_line(&format!(
                    "saved profile `{name}` in {} (use it with --profile {name})",
                    config_path.display()
                ));
            }
        }
        None => print_credentials(&credentials)?,
    }
    Ok(Exit::Success)
}

fn print_credentials(credentials: &Credentials) -> Result<(), CommandError> {
    print_lines(&[
        format!("POLY_API_KEY={}", credentials.api_key),
        format!("POLY_API_SECRET={}", credentials.secret.expose()),
        format!("POLY_PASSPHRASE={}", credentials.passphrase.expose()),
        format!("POLY_ADDRESS={}", credentials.address),
    ])
}

fn print_lines(lines: &[String]) -> Result<(), CommandError> {
    let mut out = std::io::stdout().lock();
    for line in lines {
        writeln!(out, "{line}")
            .map_err(|e| CommandError::new(Exit::Usage, format!("cannot write stdout: {e}")))?;
    }
    out.flush()
        .map_err(|e| CommandError::new(Exit::Usage, format!("cannot write stdout: {e}")))
}

/// The wallet key from the file, the environment, or a hidden prompt, in that order.
fn read_wallet(file: Option<&Path>) -> Result<PrivateKey, CommandError> {
    let (text, source) = match file {
        Some(path) if path.as_os_str() == "-" => {
            let mut text = Zeroizing::new(String::new());
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| usage(format!("cannot read the private key from stdin: {e}")))?;
            (text, "stdin".to_owned())
        }
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                usage(format!(
                    "cannot read the private key file {}: {e}",
                    path.display()
                ))
            })?;
            if config::readable_by_others(path) {
                tracing::warn!(
                    path = %path.display(),
                    "other users may read the private key file; run chmod 600 on it"
                );
            }
            (Zeroizing::new(text), format!("{}", path.display()))
        }
        None => match std::env::var(PRIVATE_KEY_VAR) {
            Ok(text) if !text.trim().is_empty() => (Zeroizing::new(text), PRIVATE_KEY_VAR.into()),
            _ if std::io::stdin().is_terminal() => {
                let text = rpassword::prompt_password("Wallet private key (input hidden): ")
                    .map_err(|e| usage(format!("cannot read the private key: {e}")))?;
                (Zeroizing::new(text), "the prompt".to_owned())
            }
            _ => {
                return Err(usage(format!(
                    "no private key: set {PRIVATE_KEY_VAR}, pass --private-key-file FILE, or run \
                     on a terminal to be asked for it"
                )));
            }
        },
    };
    tracing::debug!(%source, "private key source");
    PrivateKey::parse(&text)
        .map_err(|e| usage(format!("the private key from {source} is not usable: {e}")))
}

/// The one source of the credentials `keys` and `delete` sign with (named at `-v` by the
/// session, which resolves the same).
fn settings_for(global: &GlobalArgs, command: &str) -> Result<Settings, CommandError> {
    resolve_settings(&GlobalArgs {
        verbose: 0,
        ..global.clone()
    })
    .map_err(|e| match e {
        SessionError::Config(ConfigError::NoCredentials { config_path }) => usage(format!(
            "no credentials: `auth {command}` signs with an API key; set POLY_API_KEY, \
             POLY_API_SECRET, POLY_PASSPHRASE and POLY_ADDRESS (as `clobscript auth create` \
             prints them), name a profile with --profile, or save a `default` profile in {} \
             (clobscript auth create --save-profile default)",
            config_path.display()
        )),
        other => other.into(),
    })
}

/// `auth keys`: the account's API keys, one a line.
fn keys(global: &GlobalArgs) -> CommandResult {
    settings_for(global, "keys")?;
    let session = Session::connect_with(global, None)?;
    let keys = session.block_on(session.client().api_keys());
    session.shutdown();
    let keys = keys.map_err(|e| CommandError::new(e.exit(), e.user_message()))?;
    print_lines(&keys)?;
    Ok(Exit::Success)
}

/// `auth delete`: revokes the API key in use, once confirmed (`--yes`, or an answer on a
/// terminal).
fn delete(global: &GlobalArgs, args: &DeleteArgs) -> CommandResult {
    // Resolved once here to name the key and its source; the session resolves the same.
    let settings = settings_for(global, "delete")?;
    if !args.yes {
        confirm_delete(&settings)?;
    }
    let session = Session::connect_with(global, None)?;
    let deleted = session.block_on(session.client().delete_api_key());
    session.shutdown();
    deleted.map_err(|e| CommandError::new(e.exit(), e.user_message()))?;
    print_lines(&[format!(
        "deleted API key {} of {}",
        settings.credentials.api_key, settings.credentials.address
    )])?;
    // How to get a key again, on the same exchange.
    let host = if settings.host == config::DEFAULT_HOST {
        String::new()
    } else {
        format!(" --host {}", settings.host)
    };
    match &settings.source {
        CredentialSource::Profile { name, path } => eprint_line(&format!(
            "profile `{name}` in {} still holds the deleted key; remove it or save a new one \
             with `clobscript auth create{host} --save-profile {name} --force`",
            path.display()
        )),
        CredentialSource::Environment => eprint_line(&format!(
            "the POLY_* variables of this environment still hold the deleted key; get a new \
             one with `clobscript auth create{host}`"
        )),
    }
    Ok(Exit::Success)
}

/// Asks on the terminal before `delete` revokes the key (default no); without a terminal,
/// refuses: a script must say `--yes`. Names the key by its id and address only.
fn confirm_delete(settings: &Settings) -> Result<(), CommandError> {
    let key = &settings.credentials.api_key;
    let what = format!(
        "API key {key} of {} at {} (from {})",
        settings.credentials.address, settings.host, settings.source
    );
    if !std::io::stdin().is_terminal() {
        return Err(usage(format!(
            "not deleted: `auth delete` would revoke {what}, and stdin is not a terminal to \
             confirm on; pass --yes to revoke it without being asked"
        )));
    }
    let mut err = std::io::stderr().lock();
    let asked = write!(
        err,
        "Revoke {what}? Requests signed with it fail afterwards. [y/N] "
    )
    .and_then(|()| err.flush());
    drop(err);
    asked.map_err(|e| usage(format!("cannot ask for confirmation: {e}")))?;
    let mut answer = String::new();
    let read = std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| usage(format!("cannot read the answer: {e}")))?;
    if read == 0 {
        // End of input (Ctrl-D): end the prompt's line before the message.
        eprintln!();
    }
    if matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
        Ok(())
    } else {
        Err(usage(format!(
            "not deleted (the answer was not yes): API key {key} still works"
        )))
    }
}
