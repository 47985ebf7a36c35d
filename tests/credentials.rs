//! One source of truth for credentials, shown by whose orders a playbook cancels: credentials
//! from `clobscript auth derive` and from a saved profile run `cancel_stale.rhai`, and each
//! precedence case (profile over environment, environment over the default profile, a partial
//! environment) acts as the documented account or stops with a clear error before any request.
//!
//! The fixture has two accounts: the demo one (stale orders OLD_A and OLD_B) and a second one
//! (its one stale order OTHERS), each with a public test key.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use clobscript::clob::Credentials;
use clobscript::sim::{DEMO_PRIVATE_KEY, SECOND_PRIVATE_KEY, demo_credentials, second_account};
use common::{Book, Clob, Exchange, OLD_A, OLD_B, OTHERS, Output, assert_only_canceled};

/// What `cancel_stale.rhai --arg minutes=30` cancels for each account of the fixture.
const DEMO_STALE: &[&str] = &[OLD_A, OLD_B];
const SECOND_STALE: &[&str] = &[OTHERS];

fn config_file(exchange: &Exchange) -> PathBuf {
    exchange
        .state_dir()
        .parent()
        .expect("temp dir")
        .join("config")
        .join("clobscript")
        .join("config.toml")
}

fn profile(name: &str, c: &Credentials, host: Option<&str>) -> String {
    let host = host.map(|h| format!("host = '{h}'\n")).unwrap_or_default();
    format!(
        "[{name}]\n{host}api_key = '{}'\nsecret = '{}'\npassphrase = '{}'\naddress = '{}'\n\n",
        c.api_key,
        c.secret.expose(),
        c.passphrase.expose(),
        c.address
    )
}

fn write_config(exchange: &Exchange, text: &str) {
    let path = config_file(exchange);
    std::fs::create_dir_all(path.parent().expect("config dir")).expect("mkdir");
    std::fs::write(path, text).expect("write config");
}

/// `clobscript run scripts/cancel_stale.rhai --arg minutes=30` plus `extra`.
fn cancel_stale(clob: &mut Clob, extra: &[&str]) -> Output {
    clob.args(["run", "scripts/cancel_stale.rhai", "--arg", "minutes=30"])
        .args(extra)
        .run()
}

/// Runs `cancel_stale` as `clob` and checks that exactly `canceled` changed.
#[track_caller]
fn runs_as(exchange: &Exchange, clob: &mut Clob, extra: &[&str], canceled: &[&str]) -> Output {
    let before = exchange.statuses();
    let out = cancel_stale(clob, extra);
    out.status(0);
    assert_only_canceled(&before, &exchange.statuses(), canceled);
    out
}

/// Secrets of both accounts and both private keys are in no output.
#[track_caller]
fn no_secrets(out: &Output) {
    for c in [demo_credentials(), second_account()] {
        for secret in [c.secret.expose(), c.passphrase.expose()] {
            assert!(
                !out.stdout.contains(secret) && !out.stderr.contains(secret),
                "{out:?}"
            );
        }
    }
    for key in [DEMO_PRIVATE_KEY, SECOND_PRIVATE_KEY] {
        let bare = key.trim_start_matches("0x");
        assert!(
            !out.stdout.contains(bare) && !out.stderr.contains(bare),
            "{out:?}"
        );
    }
}

fn lines(out: &Output) -> BTreeMap<String, String> {
    out.stdout
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[test]
fn credentials_from_auth_derive_run_a_playbook_as_that_account() {
    let exchange = Exchange::fixture(&Book::fixture());
    let derived = Clob::bare(&exchange)
        .env("POLY_PRIVATE_KEY", SECOND_PRIVATE_KEY)
        .args(["auth", "derive", "--host", exchange.sim().url()])
        .run();
    derived.status(0);
    no_secrets_but_printed(&derived);
    let creds = lines(&derived);
    assert_eq!(creds.len(), 4);

    let mut clob = Clob::bare(&exchange);
    for (name, value) in &creds {
        clob.env(name, value);
    }
    let out = runs_as(
        &exchange,
        clob.args(["--host", exchange.sim().url()]),
        &[],
        SECOND_STALE,
    );
    no_secrets(&out);
    let audit = std::fs::read_to_string(exchange.audit_path()).expect("audit log written");
    assert!(!audit.contains(SECOND_PRIVATE_KEY.trim_start_matches("0x")));
    assert!(!audit.contains(second_account().secret.expose()));
}

/// `auth derive` prints the secret by design; the private key it must never print.
fn no_secrets_but_printed(out: &Output) {
    for key in [DEMO_PRIVATE_KEY, SECOND_PRIVATE_KEY] {
        let bare = key.trim_start_matches("0x");
        assert!(
            !out.stdout.contains(bare) && !out.stderr.contains(bare),
            "{out:?}"
        );
    }
}

#[test]
fn a_profile_saved_by_auth_create_runs_with_profile_and_its_own_host() {
    let exchange = Exchange::fixture(&Book::fixture());
    let saved = Clob::bare(&exchange)
        .env("POLY_PRIVATE_KEY", SECOND_PRIVATE_KEY)
        .args([
            "auth",
            "create",
            "--save-profile",
            "desk",
            "--host",
            exchange.sim().url(),
        ])
        .run();
    saved.status(0).stderr_has("derived it");
    no_secrets(&saved);

    // No --host: the profile's own host is the simulator.
    let out = runs_as(
        &exchange,
        Clob::bare(&exchange).args(["-v", "--profile", "desk"]),
        &[],
        SECOND_STALE,
    );
    out.stderr_has("credentials from profile `desk`");
    no_secrets(&out);
}

#[test]
fn a_named_profile_beats_a_complete_environment() {
    let exchange = Exchange::fixture(&Book::fixture());
    write_config(&exchange, &profile("second", &second_account(), None));
    // The environment holds the demo account; --profile second must act as the second.
    let out = runs_as(
        &exchange,
        exchange.clobscript().args(["-v", "--profile", "second"]),
        &[],
        SECOND_STALE,
    );
    out.stderr_has("credentials from profile `second`")
        .stderr_has("POLY_* environment variables ignored");
    no_secrets(&out);
}

#[test]
fn a_complete_environment_beats_the_default_profile() {
    let exchange = Exchange::fixture(&Book::fixture());
    write_config(
        &exchange,
        &profile("default", &second_account(), Some(exchange.sim().url())),
    );
    let out = runs_as(&exchange, exchange.clobscript().arg("-v"), &[], DEMO_STALE);
    out.stderr_has("credentials from the POLY_* environment variables");
    no_secrets(&out);
}

#[test]
fn without_profile_or_environment_the_default_profile_is_used() {
    let exchange = Exchange::fixture(&Book::fixture());
    write_config(
        &exchange,
        &(profile("default", &second_account(), Some(exchange.sim().url()))
            + profile("demo", &demo_credentials(), None).as_str()),
    );
    let out = runs_as(
        &exchange,
        Clob::bare(&exchange).arg("-v"),
        &[],
        SECOND_STALE,
    );
    out.stderr_has("credentials from profile `default`");
    no_secrets(&out);
}

#[test]
fn poly_secret_is_accepted_for_poly_api_secret() {
    let exchange = Exchange::fixture(&Book::fixture());
    let second = second_account();
    let mut clob = Clob::bare(&exchange);
    clob.env("POLY_API_KEY", &second.api_key)
        .env("POLY_SECRET", second.secret.expose())
        .env("POLY_PASSPHRASE", second.passphrase.expose())
        .env("POLY_ADDRESS", &second.address)
        .args(["--host", exchange.sim().url()]);
    runs_as(&exchange, &mut clob, &[], SECOND_STALE);
}

#[test]
fn a_partial_environment_is_an_error_even_with_a_complete_default_profile() {
    let exchange = Exchange::fixture(&Book::fixture());
    write_config(
        &exchange,
        &profile("default", &second_account(), Some(exchange.sim().url())),
    );
    let before = exchange.statuses();
    // The demo key alone in the environment must not combine with the profile's secret.
    let out = cancel_stale(
        Clob::bare(&exchange).env("POLY_API_KEY", &demo_credentials().api_key),
        &[],
    );
    out.status(2)
        .stderr_has("missing credentials: POLY_API_SECRET, POLY_PASSPHRASE, POLY_ADDRESS")
        .stderr_has("the environment sets POLY_API_KEY");
    no_secrets(&out);
    assert_eq!(exchange.statuses(), before);
    assert_eq!(exchange.sim().requests_served(), 0);
}

#[test]
fn unknown_and_incomplete_profiles_and_no_source_at_all_are_clear_errors() {
    let exchange = Exchange::fixture(&Book::fixture());
    let before = exchange.statuses();
    cancel_stale(&mut Clob::bare(&exchange), &[])
        .status(2)
        .stderr_has("no credentials: set POLY_API_KEY");
    write_config(
        &exchange,
        &format!(
            "[half]\nhost = '{}'\napi_key = '{}'\n\n{}",
            exchange.sim().url(),
            demo_credentials().api_key,
            profile("default", &second_account(), Some(exchange.sim().url()))
        ),
    );
    cancel_stale(Clob::bare(&exchange).args(["--profile", "prod"]), &[])
        .status(2)
        .stderr_has("profile `prod` is not defined");
    // An incomplete profile never borrows from the environment or the default profile.
    let out = cancel_stale(exchange.clobscript().args(["--profile", "half"]), &[]);
    out.status(2)
        .stderr_has("profile `half` in ")
        .stderr_has("lacks secret, passphrase, address");
    no_secrets(&out);
    assert_eq!(exchange.statuses(), before);
    assert_eq!(exchange.sim().requests_served(), 0);
}

#[test]
fn credential_flags_are_gone_so_secrets_never_sit_on_a_command_line() {
    let exchange = Exchange::fixture(&Book::fixture());
    let out = cancel_stale(
        exchange
            .clobscript()
            .args(["--secret", demo_credentials().secret.expose()]),
        &[],
    );
    out.status(2).stderr_has("unexpected argument '--secret'");
    no_secrets(&out);
    assert_eq!(exchange.sim().requests_served(), 0);
}
