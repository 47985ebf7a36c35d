//! `clobscript auth derive|create|keys|delete`, the real binary against the simulator over
//! HTTP: the credentials printed or saved, the keys the exchange holds afterwards, and every
//! refusal with its own message and exit code. No private key ever appears in any output.

mod common;

use std::collections::BTreeMap;
use std::io::Write as _;
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

    let mut child = auth(&exchange, &["derive", "--private-key-file", "-"])
        .into_command()
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("clobscript starts");
    child
        .stdin
        .take()
        .expect("stdin piped")
        .write_all(DEMO_PRIVATE_KEY.trim_start_matches("0x").as_bytes())
        .expect("key written");
    let done = child.wait_with_output().expect("clobscript ends");
    let out = Output {
        code: done.status.code(),
        stdout: String::from_utf8_lossy(&done.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&done.stderr).into_owned(),
    };
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

    let out = with_credentials(&exchange, &["delete"], &creds);
    out.status(0).stdout_has(&format!(
        "deleted API key {} of {WALLET_ADDRESS}",
        creds["POLY_API_KEY"]
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
    auth(&exchange, &["delete"])
        .run()
        .status(2)
        .stderr_has("no credentials:");
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
