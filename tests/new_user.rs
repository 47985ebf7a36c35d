//! What a careful new user runs into: documented commands run as written, and bad input gets a
//! message that names the problem and the documented exit code. Every test runs the real
//! binary against a simulator on a loopback port and, where it matters, checks the exchange's
//! state afterwards.

#[path = "common/mod.rs"]
mod common;

use common::Exchange;

/// An empty id or token id is the script's mistake, refused before anything is sent: exit 1
/// ("the script failed at run time"), not 3, which says the exchange failed and which a
/// supervisor (the Kubernetes example's `podFailurePolicy`) retries.
#[test]
fn an_empty_id_is_a_script_error_not_an_exchange_failure() {
    let exchange = Exchange::generated(60);
    let open_before = exchange.sim().open_order_ids().len();
    let served_before = exchange.sim().requests_served();
    for call in [
        r#"cancel("")"#,
        r#"cancel("   ")"#,
        r#"order("")"#,
        r#"is_scoring("")"#,
        r#"midpoint("")"#,
        r#"tick_size("")"#,
    ] {
        let script = exchange.script("empty.rhai", &format!("{call}\n"));
        exchange
            .clobscript()
            .arg("run")
            .arg(&script)
            .run()
            .status(1)
            .stderr_has("an empty string was given");
    }
    assert_eq!(
        exchange.sim().requests_served(),
        served_before,
        "nothing reaches the exchange"
    );
    assert_eq!(exchange.sim().open_order_ids().len(), open_before);

    // A script can still catch it and go on.
    let script = exchange.script(
        "caught.rhai",
        "let msg = \"\";\ntry { cancel(\"\"); } catch (e) { msg = `${e}`; }\nmsg\n",
    );
    let value = exchange.run_json(&script);
    assert!(
        value
            .as_str()
            .is_some_and(|m| m.contains("an empty string was given")),
        "{value}"
    );
}

/// Writes `text` as the config file of `exchange`'s isolated environment (mode 0600).
fn write_config(exchange: &Exchange, text: &str) -> std::path::PathBuf {
    let dir = exchange
        .work_dir()
        .parent()
        .expect("scratch folder")
        .join("config")
        .join("clobscript");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let path = dir.join("config.toml");
    std::fs::write(&path, text).expect("write config");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    path
}

/// A config file with a value of the wrong type, or fields outside any `[profile]` table, is
/// refused (exit 2) with the line to fix, and the value itself, a secret or passphrase, is
/// never echoed.
#[test]
fn a_config_file_error_names_the_line_and_never_shows_the_value() {
    let exchange = Exchange::generated(10);
    let script = exchange.script("report.rhai", "open_orders().len()\n");
    let cases = [
        // A passphrase of digits, unquoted.
        (
            "[desk]\napi_key = \"k\"\nsecret = \"c2VjcmV0\"\npassphrase = 48151623\naddress = \"0x1\"\n",
            "48151623",
            "line 4",
        ),
        // The fields pasted without a `[profile]` header.
        (
            "passphrase = \"my-pass-phrase-4815\"\nsecret = \"c2VjcmV0LXNob3VsZC1ub3Qtc2hvdw==\"\n",
            "my-pass-phrase-4815",
            "line 1",
        ),
        (
            "secret = \"c2VjcmV0LXNob3VsZC1ub3Qtc2hvdw==\"\n",
            "c2VjcmV0LXNob3VsZC1ub3Qtc2hvdw==",
            "line 1",
        ),
    ];
    for (text, secret, line) in cases {
        write_config(&exchange, text);
        let mut clob = exchange.clobscript();
        for name in [
            "POLY_API_KEY",
            "POLY_API_SECRET",
            "POLY_PASSPHRASE",
            "POLY_ADDRESS",
        ] {
            clob.env_remove(name);
        }
        let out = clob.args(["--profile", "desk", "run"]).arg(&script).run();
        out.status(2).stderr_has("config.toml").stderr_has(line);
        assert!(
            !out.stderr.contains(secret) && !out.stdout.contains(secret),
            "the value is shown:\n{}",
            out.stderr
        );
    }
}

/// Runs `repl` against `exchange` with `input` on stdin (not a terminal).
fn repl_piped(exchange: &Exchange, input: &str) -> common::Output {
    exchange.clobscript().arg("repl").run_with_input(input)
}

/// An error in a file run with `:load` names that file and its own line, as `run` would,
/// not `<repl>` and the line's place in the session; lines typed afterwards are `<repl>`
/// again, and a function the file defined still points into the file when it fails later.
#[test]
fn repl_load_errors_name_the_file_and_its_line() {
    let exchange = Exchange::generated(10);
    let typo = exchange.script("typo.rhai", "let n = 1;\n\nlet x = cancle(\"0x1\");\n");
    let syntax = exchange.script("syntax.rhai", "let a = 1;\nlet b = (;\n");
    let boom = exchange.script(
        "boom.rhai",
        "fn explode() {\n    throw \"boom\";\n}\nlet loaded = true;\n",
    );
    let input = format!(
        "let a = 1;\nlet b = 2;\n:load {}\n:load {}\n:load {}\nexplode()\nthrow \"typed\";\n",
        typo.display(),
        syntax.display(),
        boom.display()
    );
    let out = repl_piped(&exchange, &input);
    out.status(1)
        .stderr_has(&format!("--> {}:3:9", typo.display()))
        .stderr_has("3 | let x = cancle(\"0x1\");")
        .stderr_has(&format!("--> {}:2:10", syntax.display()))
        .stderr_has(&format!("--> {}:2:5", boom.display()))
        .stderr_has("--> <repl>:");
    assert!(
        !out.stderr.contains("<repl>:3:") && !out.stderr.contains("<repl>:6:"),
        "a loaded file's error is placed in the session:\n{}",
        out.stderr
    );
}

/// `clobscript audit` of a run stopped while its cancel-all was in flight: the request's
/// outcome is unknown (`abandoned`), and the requests line says so instead of "0 without an
/// outcome" above "request 1 DELETE /cancel-all: outcome unknown".
#[test]
fn audit_counts_an_abandoned_request_as_of_unknown_outcome() {
    use std::time::{Duration, Instant};
    let exchange = Exchange::start(clobscript::sim::SimConfig {
        orders: 30,
        latency: Some(Duration::from_secs(5)),
        ..clobscript::sim::SimConfig::default()
    });
    let log = exchange.work_dir().join("audit.jsonl");
    let script = exchange.script("all.rhai", "cancel_all()\n");
    let mut clob = exchange.clobscript();
    clob.arg("run").arg(&script).arg("--audit").arg(&log);
    let mut child = clob
        .into_command()
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("starts");
    let give_up = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("\"phase\":\"sending\"")
    {
        assert!(Instant::now() < give_up, "no `sending` record");
        std::thread::sleep(Duration::from_millis(5));
    }
    common::send_signal(&child, "INT");
    let status = child.wait().expect("ends");
    assert_eq!(status.code(), Some(130));
    let records = common::read_json_lines(&log);
    assert!(
        records.iter().any(|r| r["phase"] == "abandoned"),
        "{records:?}"
    );

    let out = exchange
        .clobscript()
        .no_host()
        .arg("audit")
        .arg("--audit")
        .arg(&log)
        .run();
    out.status(0)
        .stdout_has("1 sent, 1 of unknown outcome")
        .stdout_has("request 1 DELETE /cancel-all: outcome unknown");
    let json = exchange
        .clobscript()
        .no_host()
        .args(["audit", "--json", "--audit"])
        .arg(&log)
        .run();
    json.status(0);
    assert_eq!(json.json()["requests_unknown"], 1);
}

/// `sleep` with a negative or absurd pause is the script's mistake (exit 1, a short message),
/// and a side other than BUY/SELL names the function it was given to.
#[test]
fn bad_pauses_and_sides_name_the_function_and_the_value() {
    let exchange = Exchange::generated(20);
    for (call, message) in [
        (
            "sleep(-1)",
            "sleep: the pause must be 0 seconds or more, not -1",
        ),
        ("sleep(1e300)", "sleep: 1e300 seconds is too long a pause"),
        (
            r#"prices(["1"], "X")"#,
            r#"prices: side must be "BUY" or "SELL", not "X""#,
        ),
        (
            r#"price("1", "X")"#,
            r#"price: side must be "BUY" or "SELL", not "X""#,
        ),
    ] {
        let script = exchange.script("bad.rhai", &format!("{call}\n"));
        let out = exchange.clobscript().arg("run").arg(&script).run();
        out.status(1).stderr_has(message);
        assert!(out.stderr.len() < 2000, "a short message: {}", out.stderr);
    }
}

/// `scripts/cancel_market.rhai` with a market that matches nothing (the README's placeholder
/// typed as is) cancels nothing and says so, instead of a quiet "0 orders canceled".
#[test]
fn cancel_market_playbook_warns_when_nothing_matched() {
    let exchange = Exchange::generated(200);
    let before = exchange.statuses();
    let playbook =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/cancel_market.rhai");
    let out = exchange
        .clobscript()
        .arg("run")
        .arg(&playbook)
        .args(["--arg", "market=0x5f..."])
        .run();
    out.status(0)
        .stderr_has("no open orders matched market \"0x5f...\"");
    assert_eq!(exchange.statuses(), before, "nothing was canceled");

    // A real market: its open orders go, and the warning does not appear.
    let key = exchange.sim().credentials().api_key.clone();
    let orders = exchange.sim().orders_of(&key);
    let market = orders
        .iter()
        .find(|o| o.status == "LIVE")
        .map(|o| o.market.clone())
        .expect("an open order");
    let out = exchange
        .clobscript()
        .arg("run")
        .arg(&playbook)
        .args(["--arg", &format!("market={market}")])
        .run();
    out.status(0);
    assert!(
        !out.stderr.contains("no open orders matched"),
        "{}",
        out.stderr
    );
    for order in exchange.sim().orders_of(&key) {
        if order.market == market {
            assert_ne!(order.status, "LIVE", "{} left open", order.id);
        }
    }
}

/// A first heartbeat that cannot get through ends the command (exit 3) with one message naming
/// the cause, and no line promising a retry that never comes.
#[test]
fn a_failed_first_heartbeat_does_not_announce_a_retry() {
    let exchange = Exchange::generated(10);
    // A port nothing listens on: every attempt is refused at once.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let out = exchange
        .clobscript()
        .no_host()
        .args(["heartbeat", "--host", &format!("http://{closed}")])
        .run();
    out.status(3).stderr_has("the first heartbeat failed");
    assert!(!out.stderr.contains("retrying in"), "{}", out.stderr);
    assert!(!out.stderr.contains("HEARTBEAT FAILED"), "{}", out.stderr);
}
