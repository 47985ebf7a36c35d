//! `clobscript auth derive|create|keys|delete`, the real binary against the simulator over
//! HTTP: the credentials printed or saved, the keys the exchange holds afterwards, and every
//! refusal with its own message and exit code. No private key ever appears in any output.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use clobscript::sim::{DEMO_PRIVATE_KEY, SimConfig, demo_credentials};
use common::{Clob, Exchange, Output};

/// Hardhat/Anvil test accounts #2 and #3: public test keys no simulator account starts with.
const WALLET_KEY: &str = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";
const WALLET_ADDRESS: &str = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";
const OTHER_WALLET_KEY: &str = "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6";

fn exchange() -> Exchange {
    Exchange::generated(30)
}

/// `clobscript auth ARGS --host SIM` in an isolated environment.
fn auth(exchange: &Exchange, args: &[&str]) -> Clob {
    let mut clob = Clob::bare(exchange);
    clob.arg("auth")
        .args(args)
        .arg("--host")
        .arg(exchange.sim().url());
    clob
}

fn with_key(exchange: &Exchange, args: &[&str], key: &str) -> Output {
    let out = auth(exchange, args).env("POLY_PRIVATE_KEY", key).run();
    assert_no_private_key(exchange, &out, key);
    out
}

fn config_file(exchange: &Exchange) -> PathBuf {
    exchange
        .state_dir()
        .parent()
        .expect("temp dir")
        .join("config")
        .join("clobscript")
        .join("config.toml")
}

/// The key, with or without `0x`, is in no output, no audit log and no config file.
#[track_caller]
fn assert_no_private_key(exchange: &Exchange, out: &Output, key: &str) {
    let bare = key.trim_start_matches("0x");
    let files = [
        std::fs::read_to_string(exchange.audit_path()).unwrap_or_default(),
        std::fs::read_to_string(config_file(exchange)).unwrap_or_default(),
    ];
    for (what, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)]
        .into_iter()
        .chain([("audit log", &files[0]), ("config file", &files[1])])
    {
        assert!(
            !text.to_ascii_lowercase().contains(bare),
            "the private key appears in the {what}:\n{text}"
        );
    }
}

/// `NAME=value` lines of stdout.
fn lines(out: &Output) -> BTreeMap<String, String> {
    out.stdout
        .lines()
        .map(|line| {
            let (name, value) = line
                .split_once('=')
                .unwrap_or_else(|| panic!("not NAME=value: {line:?}"));
            (name.to_owned(), value.to_owned())
        })
        .collect()
}

const FOUR: [&str; 4] = [
    "POLY_ADDRESS",
    "POLY_API_KEY",
    "POLY_API_SECRET",
    "POLY_PASSPHRASE",
];

/// `clobscript auth ARGS` with the printed credentials in the environment.
fn with_credentials(
    exchange: &Exchange,
    args: &[&str],
    creds: &BTreeMap<String, String>,
) -> Output {
    let mut clob = auth(exchange, args);
    for (name, value) in creds {
        clob.env(name, value);
    }
    clob.run()
}

#[test]
fn derive_prints_the_demo_credentials_from_the_demo_public_test_key() {
    let exchange = exchange();
    let out = with_key(&exchange, &["derive"], DEMO_PRIVATE_KEY);
    out.status(0);
    let printed = lines(&out);
    assert_eq!(
        printed.keys().collect::<Vec<_>>(),
        FOUR.iter().collect::<Vec<_>>()
    );
    // Exactly the four lines, in the documented order.
    let order: Vec<&str> = out
        .stdout
        .lines()
        .map(|l| l.split('=').next().unwrap_or(""))
        .collect();
    assert_eq!(
        order,
        [
            "POLY_API_KEY",
            "POLY_API_SECRET",
            "POLY_PASSPHRASE",
            "POLY_ADDRESS"
        ]
    );
    let demo = demo_credentials();
    assert_eq!(printed["POLY_API_KEY"], demo.api_key);
    assert_eq!(printed["POLY_API_SECRET"], demo.secret.expose());
    assert_eq!(printed["POLY_PASSPHRASE"], demo.passphrase.expose());
    assert_eq!(printed["POLY_ADDRESS"], demo.address);
}

#[test]
fn create_issues_a_working_key_and_a_second_create_derives_the_same_one() {
    let exchange = exchange();
    assert!(exchange.sim().api_keys_of(WALLET_ADDRESS).is_empty());
    let out = with_key(&exchange, &["create"], WALLET_KEY);
    out.status(0).stderr_has("created a new API key");
    let first = lines(&out);
    assert_eq!(first["POLY_ADDRESS"], WALLET_ADDRESS);
    assert_eq!(
        exchange.sim().api_keys_of(WALLET_ADDRESS),
        vec![first["POLY_API_KEY"].clone()]
    );

    // The key works for L2 at once: `auth keys` lists it.
    let keys = with_credentials(&exchange, &["keys"], &first);
    keys.status(0);
    assert_eq!(keys.stdout.trim(), first["POLY_API_KEY"]);

    // The exchange refuses a second key for nonce 0; create falls back to derive.
    let again = with_key(&exchange, &["create"], WALLET_KEY);
    again
        .status(0)
        .stderr_has("already has an API key for nonce 0: derived it");
    assert_eq!(lines(&again), first);
    assert_eq!(exchange.sim().api_keys_of(WALLET_ADDRESS).len(), 1);

    // Another nonce is another key.
    let nonce_1 = with_key(&exchange, &["create", "--nonce", "1"], WALLET_KEY);
    nonce_1.status(0).stderr_has("created a new API key");
    assert_ne!(lines(&nonce_1)["POLY_API_KEY"], first["POLY_API_KEY"]);
    let derived = with_key(&exchange, &["derive", "--nonce", "1"], WALLET_KEY);
    derived.status(0);
    assert_eq!(lines(&derived), lines(&nonce_1));
    assert_eq!(exchange.sim().api_keys_of(WALLET_ADDRESS).len(), 2);
}

#[test]
fn derive_without_a_key_is_an_exchange_refusal() {
    let exchange = exchange();
    let out = with_key(&exchange, &["derive"], OTHER_WALLET_KEY);
    out.status(3)
        .stderr_has("has no API key for 0x90F79bf6EB2c4f870365E785982E1f101E93b906 with nonce 0")
        .stderr_has("clobscript auth create");
    assert!(out.stdout.is_empty(), "{}", out.stdout);
}

#[test]
fn bad_private_keys_exit_2_before_any_request() {
    let exchange = exchange();
    let cases = [
        ("not-a-key", "not hexadecimal"),
        (
            "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
            "that is an address",
        ),
        ("0xabcdef", "has 6 hex digits"),
        (
            "0x0000000000000000000000000000000000000000000000000000000000000000",
            "not a valid secp256k1 key",
        ),
    ];
    for (key, message) in cases {
        let out = with_key(&exchange, &["create"], key);
        out.status(2)
            .stderr_has("the private key from POLY_PRIVATE_KEY is not usable")
            .stderr_has(message);
    }
    // No key at all, and stdin is not a terminal: no prompt, a clear error.
    let out = auth(&exchange, &["derive"]).run();
    out.status(2)
        .stderr_has("no private key: set POLY_PRIVATE_KEY");
    let out = auth(
        &exchange,
        &["derive", "--private-key-file", "/nonexistent/key"],
    )
    .run();
    out.status(2)
        .stderr_has("cannot read the private key file /nonexistent/key");
    assert_eq!(exchange.sim().requests_served(), 0);
}

#[test]
fn the_key_can_come_from_a_file_or_stdin() {
    let exchange = exchange();
    let path = exchange.work_dir().join("wallet.key");
    std::fs::write(&path, format!("{DEMO_PRIVATE_KEY}\n")).expect("write key file");
    let file = path.to_str().expect("UTF-8 temp path");
    let out = auth(&exchange, &["derive", "--private-key-file", file]).run();
    out.status(0);
    assert_no_private_key(&exchange, &out, DEMO_PRIVATE_KEY);
    assert_eq!(lines(&out)["POLY_API_KEY"], demo_credentials().api_key);

    // The file beats the environment.
    let out = auth(&exchange, &["derive", "--private-key-file", file])
        .env("POLY_PRIVATE_KEY", OTHER_WALLET_KEY)
        .run();
    out.status(0);
    assert_eq!(lines(&out)["POLY_ADDRESS"], demo_credentials().address);

    let out = auth(&exchange, &["derive", "--private-key-file", "-"])
        .run_with_input(DEMO_PRIVATE_KEY.trim_start_matches("0x"));
    out.status(0);
    assert_no_private_key(&exchange, &out, DEMO_PRIVATE_KEY);
    assert_eq!(lines(&out)["POLY_API_KEY"], demo_credentials().api_key);
}

#[test]
fn a_signature_for_the_wrong_chain_is_named_and_exits_2() {
    let exchange = exchange();
    let out = with_key(&exchange, &["create", "--chain-id", "80002"], WALLET_KEY);
    out.status(2)
        .stderr_has("refused a signature for chain 80002")
        .stderr_has("use --chain-id 137");
    assert!(exchange.sim().api_keys_of(WALLET_ADDRESS).is_empty());
}

#[test]
fn a_skewed_clock_is_named_and_server_time_gets_past_it() {
    let exchange = Exchange::start(SimConfig {
        orders: 30,
        auth_window: Duration::from_secs(30),
        clock_offset: 300,
        ..SimConfig::default()
    });
    let out = with_key(&exchange, &["create"], WALLET_KEY);
    out.status(3)
        .stderr_has("refused the wallet signature (401")
        .stderr_has("s behind the exchange")
        .stderr_has("--server-time");
    assert!(exchange.sim().api_keys_of(WALLET_ADDRESS).is_empty());

    let out = with_key(&exchange, &["create", "--server-time"], WALLET_KEY);
    out.status(0).stderr_has("created a new API key");
    assert_eq!(exchange.sim().api_keys_of(WALLET_ADDRESS).len(), 1);
}

#[test]
fn delete_revokes_the_key_and_a_new_create_issues_another() {
    let exchange = exchange();
    let created = with_key(&exchange, &["create"], WALLET_KEY);
    created.status(0);
    let creds = lines(&created);

    let out = with_credentials(&exchange, &["delete", "--yes"], &creds);
    out.status(0)
        .stdout_has(&format!(
            "deleted API key {} of {WALLET_ADDRESS}",
            creds["POLY_API_KEY"]
        ))
        // How to get a key again names the same exchange.
        .stderr_has(&format!(
            "get a new one with `clobscript auth create --host {}`",
            exchange.sim().url()
        ));
    assert!(!out.stderr.contains(&creds["POLY_API_SECRET"]));
    assert!(exchange.sim().api_keys_of(WALLET_ADDRESS).is_empty());

    // The deleted key no longer signs in, and there is nothing left to derive.
    with_credentials(&exchange, &["keys"], &creds)
        .status(3)
        .stderr_has("rejected the credentials");
    with_key(&exchange, &["derive"], WALLET_KEY)
        .status(3)
        .stderr_has("has no API key");

    let renewed = with_key(&exchange, &["create"], WALLET_KEY);
    renewed.status(0).stderr_has("created a new API key");
    assert_ne!(lines(&renewed)["POLY_API_KEY"], creds["POLY_API_KEY"]);
}

#[test]
fn keys_and_delete_need_complete_credentials() {
    let exchange = exchange();
    let out = auth(&exchange, &["keys"])
        .env("POLY_API_KEY", &demo_credentials().api_key)
        .run();
    out.status(2)
        .stderr_has("missing credentials: POLY_API_SECRET, POLY_PASSPHRASE, POLY_ADDRESS");
    for args in [&["keys"][..], &["delete", "--yes"]] {
        let command = args[0];
        let out = auth(&exchange, args).run();
        out.status(2)
            .stderr_has(&format!(
                "no credentials: `auth {command}` signs with an API key"
            ))
            .stderr_has("clobscript auth create --save-profile default");
        // Advice for `run`, not for `auth`.
        assert!(!out.stderr.contains("--sim"), "{}", out.stderr);
    }
    assert_eq!(exchange.sim().requests_served(), 0);
    assert_eq!(
        exchange.sim().api_keys_of(&demo_credentials().address),
        vec![demo_credentials().api_key]
    );
}

#[cfg(unix)]
#[test]
fn save_profile_writes_a_private_file_keeps_other_profiles_and_refuses_to_overwrite() {
    use std::os::unix::fs::PermissionsExt as _;

    let exchange = exchange();
    let path = config_file(&exchange);
    std::fs::create_dir_all(path.parent().expect("config dir")).expect("mkdir");
    std::fs::write(&path, "# mine\n[old]\napi_key = 'k'\n").expect("write config");

    let out = with_key(
        &exchange,
        &["create", "--save-profile", "wallet"],
        WALLET_KEY,
    );
    out.status(0).stderr_has("saved profile `wallet`");
    let printed = lines(&out);
    assert_eq!(
        printed.keys().collect::<Vec<_>>(),
        ["POLY_ADDRESS", "POLY_API_KEY"]
    );
    let mode = std::fs::metadata(&path)
        .expect("config file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "config file mode {mode:o}");
    let text = std::fs::read_to_string(&path).expect("config file");
    assert!(text.contains("# mine") && text.contains("[old]"), "{text}");
    let table: toml::Table = toml::from_str(&text).expect("valid TOML");
    let saved = table["wallet"].as_table().expect("a table");
    assert_eq!(
        saved["api_key"].as_str(),
        Some(printed["POLY_API_KEY"].as_str())
    );
    assert_eq!(saved["address"].as_str(), Some(WALLET_ADDRESS));
    assert_eq!(saved["host"].as_str(), Some(exchange.sim().url()));
    let secret = saved["secret"].as_str().expect("secret saved");
    assert!(!out.stdout.contains(secret) && !out.stderr.contains(secret));

    // A second save under that name is refused before any request.
    let served = exchange.sim().requests_served();
    let out = with_key(
        &exchange,
        &["create", "--save-profile", "wallet"],
        WALLET_KEY,
    );
    out.status(2)
        .stderr_has("profile `wallet` already exists")
        .stderr_has("--force");
    assert_eq!(exchange.sim().requests_served(), served);
    let out = with_key(
        &exchange,
        &["derive", "--save-profile", "wallet", "--force"],
        WALLET_KEY,
    );
    out.status(0);
    assert_eq!(lines(&out)["POLY_API_KEY"], printed["POLY_API_KEY"]);

    // The saved profile signs in.
    let keys = auth(&exchange, &["keys", "--profile", "wallet"]).run();
    keys.status(0);
    assert_eq!(keys.stdout.trim(), printed["POLY_API_KEY"]);

    // Bad names are refused before any request.
    let out = with_key(&exchange, &["create", "--save-profile", "a b"], WALLET_KEY);
    out.status(2).stderr_has("not a usable profile name");
}

#[test]
fn the_hidden_prompt_reads_the_key_without_echoing_it() {
    use expectrl::{Expect as _, Session};

    let exchange = exchange();
    let mut clob = auth(&exchange, &["derive"]);
    clob.env("TERM", "xterm");
    let mut session = Session::spawn(clob.into_command()).expect("clobscript starts in a pty");
    session.set_expect_timeout(Some(Duration::from_secs(90)));
    session
        .expect("Wallet private key (input hidden): ")
        .expect("the prompt");
    session
        .send(format!("{DEMO_PRIVATE_KEY}\r"))
        .expect("key typed");
    let found = session
        .expect("POLY_ADDRESS=")
        .expect("credentials printed");
    let mut seen = String::from_utf8_lossy(found.before()).into_owned();
    let mut rest = Vec::new();
    let _ = std::io::Read::read_to_end(&mut session, &mut rest);
    seen.push_str(&String::from_utf8_lossy(&rest));
    assert!(
        seen.contains(&format!("POLY_API_KEY={}", demo_credentials().api_key)),
        "{seen}"
    );
    assert!(
        !seen
            .to_ascii_lowercase()
            .contains(DEMO_PRIVATE_KEY.trim_start_matches("0x")),
        "the key was echoed:\n{seen}"
    );
}

/// `auth create` for [`WALLET_KEY`]: the printed credentials, checked held by the exchange.
fn created(exchange: &Exchange) -> BTreeMap<String, String> {
    let out = with_key(exchange, &["create"], WALLET_KEY);
    out.status(0);
    let creds = lines(&out);
    assert_eq!(
        exchange.sim().api_keys_of(WALLET_ADDRESS),
        vec![creds["POLY_API_KEY"].clone()]
    );
    creds
}

/// The exchange still holds `creds`' key and an L2 request signed with it succeeds.
#[track_caller]
fn assert_key_works(exchange: &Exchange, creds: &BTreeMap<String, String>) {
    assert_eq!(
        exchange.sim().api_keys_of(WALLET_ADDRESS),
        vec![creds["POLY_API_KEY"].clone()]
    );
    let keys = with_credentials(exchange, &["keys"], creds);
    keys.status(0);
    assert_eq!(keys.stdout.trim(), creds["POLY_API_KEY"]);
}

#[test]
fn delete_without_yes_off_a_terminal_is_refused_and_nothing_is_sent() {
    let exchange = exchange();
    let creds = created(&exchange);
    let served = exchange.sim().requests_served();

    // stdin is not a terminal here (as under cron or in a pipe).
    let out = with_credentials(&exchange, &["delete"], &creds);
    out.status(2)
        .stderr_has("not deleted")
        .stderr_has(&format!(
            "API key {} of {WALLET_ADDRESS} at {}",
            creds["POLY_API_KEY"],
            exchange.sim().url()
        ))
        .stderr_has("from the POLY_* environment variables")
        .stderr_has("pass --yes");
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    for secret in [&creds["POLY_API_SECRET"], &creds["POLY_PASSPHRASE"]] {
        assert!(!out.stderr.contains(secret.as_str()), "{}", out.stderr);
    }
    assert_eq!(exchange.sim().requests_served(), served, "nothing was sent");
    assert_key_works(&exchange, &creds);

    // The same with the credentials of a profile: the refusal names the profile.
    with_key(&exchange, &["derive", "--save-profile", "desk"], WALLET_KEY).status(0);
    let served = exchange.sim().requests_served();
    auth(&exchange, &["delete", "--profile", "desk"])
        .run()
        .status(2)
        .stderr_has("from profile `desk`")
        .stderr_has("pass --yes");
    assert_eq!(exchange.sim().requests_served(), served, "nothing was sent");
    assert_key_works(&exchange, &creds);

    // -y revokes it, and the advice to renew the profile names the same exchange.
    auth(&exchange, &["delete", "--profile", "desk", "-y"])
        .run()
        .status(0)
        .stdout_has(&format!("deleted API key {}", creds["POLY_API_KEY"]))
        .stderr_has(&format!(
            "clobscript auth create --host {} --save-profile desk --force",
            exchange.sim().url()
        ));
    assert!(exchange.sim().api_keys_of(WALLET_ADDRESS).is_empty());
}

/// `clobscript auth delete` in a pseudo-terminal with `creds`, answering `answer` to the
/// question; returns what the terminal showed and the exit code.
#[cfg(unix)]
fn delete_on_a_terminal(
    exchange: &Exchange,
    creds: &BTreeMap<String, String>,
    answer: &str,
) -> (String, i32) {
    use expectrl::process::unix::WaitStatus;
    use expectrl::{Expect as _, Session};

    let mut clob = auth(exchange, &["delete"]);
    for (name, value) in creds {
        clob.env(name, value);
    }
    clob.env("TERM", "xterm");
    let mut session = Session::spawn(clob.into_command()).expect("clobscript starts in a pty");
    session.set_expect_timeout(Some(Duration::from_secs(90)));
    let asked = session.expect("[y/N] ").expect("the question");
    let mut seen = String::from_utf8_lossy(asked.before()).into_owned();
    seen.push_str("[y/N] ");
    session.send(format!("{answer}\r")).expect("answer typed");
    let mut rest = Vec::new();
    let _ = std::io::Read::read_to_end(&mut session, &mut rest);
    seen.push_str(&String::from_utf8_lossy(&rest));
    let code = match session.get_process().wait().expect("clobscript ends") {
        WaitStatus::Exited(_, code) => code,
        other => panic!("clobscript did not exit: {other:?}\n{seen}"),
    };
    (seen, code)
}

#[cfg(unix)]
#[test]
fn delete_on_a_terminal_asks_naming_the_key_and_only_yes_revokes_it() {
    let exchange = exchange();
    let creds = created(&exchange);
    let question = format!(
        "Revoke API key {} of {WALLET_ADDRESS} at {} (from the POLY_* environment variables)? \
         Requests signed with it fail afterwards. [y/N] ",
        creds["POLY_API_KEY"],
        exchange.sim().url()
    );

    // The default (just Enter) and any other answer keep the key, with nothing sent.
    for answer in ["", "n", "sure"] {
        let served = exchange.sim().requests_served();
        let (seen, code) = delete_on_a_terminal(&exchange, &creds, answer);
        assert!(seen.contains(&question), "{seen}");
        assert!(seen.contains("not deleted"), "{seen}");
        assert_eq!(code, 2, "{seen}");
        for secret in [&creds["POLY_API_SECRET"], &creds["POLY_PASSPHRASE"]] {
            assert!(!seen.contains(secret.as_str()), "{seen}");
        }
        assert_eq!(exchange.sim().requests_served(), served, "nothing was sent");
        assert_key_works(&exchange, &creds);
    }

    let (seen, code) = delete_on_a_terminal(&exchange, &creds, "y");
    assert_eq!(code, 0, "{seen}");
    assert!(
        seen.contains(&format!(
            "deleted API key {} of {WALLET_ADDRESS}",
            creds["POLY_API_KEY"]
        )),
        "{seen}"
    );
    assert!(exchange.sim().api_keys_of(WALLET_ADDRESS).is_empty());
    with_credentials(&exchange, &["keys"], &creds)
        .status(3)
        .stderr_has("rejected the credentials");
}

#[test]
fn derive_and_create_refuse_profile_and_point_to_save_profile() {
    let exchange = exchange();
    let out = with_key(&exchange, &["create", "--save-profile", "desk"], WALLET_KEY);
    out.status(0);
    let saved = std::fs::read_to_string(config_file(&exchange)).expect("config file");
    let served = exchange.sim().requests_served();

    for command in ["derive", "create"] {
        // Refused before the private key is even read (none is given here).
        let out = auth(&exchange, &[command, "--profile", "desk"]).run();
        out.status(2)
            .stderr_has(&format!(
                "`auth {command}` signs with the wallet's private key"
            ))
            .stderr_has("--profile desk would be ignored")
            .stderr_has("pass --save-profile desk instead");
        assert!(!out.stderr.contains("no private key"), "{}", out.stderr);

        // Also as a global flag before the command, and with a key at hand.
        let mut clob = Clob::bare(&exchange);
        clob.args(["--profile", "desk", "auth", command, "--host"])
            .arg(exchange.sim().url())
            .env("POLY_PRIVATE_KEY", WALLET_KEY);
        let out = clob.run();
        assert_no_private_key(&exchange, &out, WALLET_KEY);
        out.status(2).stderr_has("--profile desk would be ignored");

        // Next to --save-profile: drop --profile, the save already writes the profile.
        let out = with_key(
            &exchange,
            &[
                command,
                "--profile",
                "desk",
                "--save-profile",
                "desk",
                "--force",
            ],
            WALLET_KEY,
        );
        out.status(2)
            .stderr_has("drop --profile desk")
            .stderr_has("--save-profile desk already writes");
        assert!(out.stdout.is_empty(), "{}", out.stdout);
    }
    assert_eq!(exchange.sim().requests_served(), served, "nothing was sent");
    assert_eq!(
        std::fs::read_to_string(config_file(&exchange)).expect("config file"),
        saved,
        "the profile is untouched"
    );
    assert_eq!(exchange.sim().api_keys_of(WALLET_ADDRESS).len(), 1);

    // --help says so, and delete's says how scripts confirm.
    for command in ["derive", "create"] {
        auth(&exchange, &[command, "--help"])
            .run()
            .status(0)
            .stdout_has("--profile is refused here");
    }
    auth(&exchange, &["delete", "--help"])
        .run()
        .status(0)
        .stdout_has("--yes");
}

#[test]
fn a_chain_id_other_than_polygon_or_amoy_is_refused_before_any_request() {
    let exchange = exchange();
    for (id, message) in [
        ("1", "signs in on chain 137 (Polygon) or 80002 (Amoy) only"),
        ("polygon", "`polygon` is not a chain id"),
        ("137.0", "`137.0` is not a chain id"),
    ] {
        with_key(&exchange, &["create", "--chain-id", id], WALLET_KEY)
            .status(2)
            .stderr_has("--chain-id")
            .stderr_has(message);
    }
    assert_eq!(exchange.sim().requests_served(), 0);
    assert!(exchange.sim().api_keys_of(WALLET_ADDRESS).is_empty());
}

#[test]
fn derive_and_create_use_the_request_timeout() {
    let exchange = Exchange::start(SimConfig {
        orders: 10,
        latency: Some(Duration::from_millis(1500)),
        ..SimConfig::default()
    });
    with_key(
        &exchange,
        &["create", "--request-timeout", "200ms"],
        WALLET_KEY,
    )
    .status(3)
    .stderr_has("within 200ms")
    .stderr_has("--request-timeout");
    with_key(
        &exchange,
        &["derive", "--request-timeout", "0s"],
        WALLET_KEY,
    )
    .status(2)
    .stderr_has("--request-timeout must be longer than zero");
    let out = with_key(
        &exchange,
        &["create", "--request-timeout", "10s"],
        WALLET_KEY,
    );
    out.status(0);
    // The create that timed out had reached the exchange, which carries it out all the same:
    // this one then finds that key and derives it (or, had it not landed yet, creates one).
    assert!(
        out.stderr.contains("created a new API key") || out.stderr.contains("derived it"),
        "{}",
        out.stderr
    );
    assert_eq!(
        exchange.sim().api_keys_of(WALLET_ADDRESS),
        vec![lines(&out)["POLY_API_KEY"].clone()]
    );
}

#[test]
fn saving_the_default_profile_says_when_it_is_used_and_warns_of_poly_variables() {
    let exchange = exchange();
    let out = auth(&exchange, &["create", "--save-profile", "default"])
        .env("POLY_PRIVATE_KEY", WALLET_KEY)
        .env("POLY_API_KEY", &demo_credentials().api_key)
        .run();
    assert_no_private_key(&exchange, &out, WALLET_KEY);
    out.status(0)
        .stderr_has("used when neither --profile nor the POLY_* variables are given")
        .stderr_has("warning: POLY_* variables are set in this environment");
    // Without POLY_* the default profile is what `auth keys` signs with.
    let keys = auth(&exchange, &["keys"]).run();
    keys.status(0);
    assert_eq!(keys.stdout.trim(), lines(&out)["POLY_API_KEY"]);
}

#[test]
fn the_manual_page_and_completions_cover_the_auth_subcommands_and_their_flags() {
    let exchange = exchange();
    let man = Clob::bare(&exchange).arg("man").run();
    man.status(0);
    for word in [
        "CLOBSCRIPT AUTH DERIVE",
        "CLOBSCRIPT AUTH CREATE",
        "CLOBSCRIPT AUTH KEYS",
        "CLOBSCRIPT AUTH DELETE",
        "\\-\\-private\\-key\\-file",
        "\\-\\-save\\-profile",
        "\\-\\-chain\\-id",
        "\\-\\-yes",
    ] {
        man.stdout_has(word);
    }
    let bash = Clob::bare(&exchange).args(["completions", "bash"]).run();
    bash.status(0);
    for word in ["--private-key-file", "--save-profile", "--yes"] {
        bash.stdout_has(word);
    }
}
