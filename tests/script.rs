//! The playbooks in `scripts/` and the safety features, run by the real binary against a
//! simulator started here; the exchange state is checked order by order afterwards.

#[path = "common/mod.rs"]
mod support;

use serde_json::Value;
use support::*;

fn playbook(name: &str) -> String {
    format!("scripts/{name}.rhai")
}

/// Runs a playbook on the fixture and checks exactly `expected` were canceled.
fn run_playbook(name: &str, args: &[&str], expected: &[&str]) -> (Exchange, Value) {
    let exchange = Exchange::fixture(&Book::fixture());
    let before = exchange.statuses();
    let mut command = exchange.clobscript();
    command.args(["run", &playbook(name), "--json"]);
    for arg in args {
        command.args(["--arg", arg]);
    }
    let out = command.run();
    out.status(0);
    let value = out.json();
    assert_only_canceled(&before, &exchange.statuses(), expected);
    assert_eq!(ids(&value["canceled"]), sorted(expected), "{value}");
    assert_eq!(value["not_canceled"], serde_json::json!({}));
    (exchange, value)
}

#[test]
fn cancel_stale_cancels_exactly_the_orders_older_than_the_cutoff() {
    let (_, value) = run_playbook("cancel_stale", &["minutes=30"], &[OLD_A, OLD_B]);
    assert_eq!(value["open_orders"], OPEN.len());
}

#[test]
fn cancel_stale_with_a_market_only_touches_that_market() {
    run_playbook(
        "cancel_stale",
        &["minutes=30", &format!("market={MARKET_B}")],
        &[OLD_B],
    );
}

#[test]
fn cancel_stale_defaults_to_thirty_minutes() {
    run_playbook("cancel_stale", &[], &[OLD_A, OLD_B]);
}

#[test]
fn cancel_not_scoring_cancels_the_open_orders_reported_not_scoring() {
    run_playbook(
        "cancel_not_scoring",
        &[],
        &[OLD_B, FRESH_A, FAR_BUY, FAR_SELL, JUST_OVER, GTD_SOON],
    );
}

#[test]
fn cancel_not_scoring_spares_orders_younger_than_min_age() {
    run_playbook(
        "cancel_not_scoring",
        &["min_age=10"],
        &[OLD_B, FAR_BUY, FAR_SELL, GTD_SOON],
    );
}

#[test]
fn cancel_far_from_mid_cancels_orders_more_than_distance_from_the_midpoint() {
    let (_, value) = run_playbook(
        "cancel_far_from_mid",
        &["distance=0.1"],
        &[FAR_BUY, JUST_OVER, FAR_SELL],
    );
    assert_eq!(value["midpoints"][TOKEN_A_YES], 0.5);
    assert_eq!(value["midpoints"][TOKEN_B], 0.325);
}

#[test]
fn cancel_far_from_mid_accepts_a_whole_number_distance() {
    // `--arg distance=1` is an int on the command line; the playbook's default makes it a float.
    run_playbook("cancel_far_from_mid", &["distance=1"], &[]);
}

#[test]
fn cancel_market_cancels_one_market() {
    run_playbook(
        "cancel_market",
        &[&format!("market={MARKET_A}")],
        &[OLD_A, FRESH_A, FAR_BUY, FAR_SELL, EDGE_BUY, JUST_OVER],
    );
}

#[test]
fn cancel_market_cancels_one_token() {
    run_playbook(
        "cancel_market",
        &[&format!("token={TOKEN_A_NO}")],
        &[FAR_SELL],
    );
}

#[test]
fn cancel_market_without_a_market_or_token_refuses_and_cancels_nothing() {
    let exchange = Exchange::fixture(&Book::fixture());
    let before = exchange.statuses();
    let out = exchange
        .clobscript()
        .args(["run", &playbook("cancel_market")])
        .run();
    out.status(1);
    out.stderr_has("give --arg market=CONDITION_ID");
    assert_only_canceled(&before, &exchange.statuses(), &[]);
}

#[test]
fn cancel_expiring_cancels_gtd_orders_expiring_within_the_window() {
    run_playbook("cancel_expiring", &["minutes=10"], &[GTD_SOON]);
}

#[test]
fn cancel_expiring_with_a_wide_window_takes_every_gtd_order() {
    run_playbook("cancel_expiring", &["minutes=180"], &[GTD_SOON, GTD_LATER]);
}

#[test]
fn report_prints_open_orders_per_market_and_side_and_recent_fills_and_changes_nothing() {
    let exchange = Exchange::fixture(&Book::fixture());
    let before = exchange.statuses();
    let out = exchange
        .clobscript()
        .args(["run", &playbook("report")])
        .run();
    out.status(0);
    assert_only_canceled(&before, &exchange.statuses(), &[]);
    let row = |market: &str, side: &str| {
        out.stdout
            .lines()
            .find(|l| l.contains(market) && l.contains(&format!("| {side} ")))
            .unwrap_or_else(|| panic!("no {side} row for {market}:\n{}", out.stdout))
            .split('|')
            .map(|cell| cell.trim().to_owned())
            .filter(|cell| !cell.is_empty())
            .collect::<Vec<_>>()
    };
    // Market A BUY: 0.45 x 60 left + 0.2 x 100 + 0.4 x 100 + 0.39 x 100 = 126.
    assert_eq!(row(MARKET_A, "BUY"), [MARKET_A, "BUY", "4", "360", "126"]);
    // Market A SELL: 0.55 x 100 (yes) + 0.85 x 100 (no) = 140.
    assert_eq!(row(MARKET_A, "SELL"), [MARKET_A, "SELL", "2", "200", "140"]);
    // Market B BUY: 0.31 + 0.29 + 0.28, 100 each = 88.
    assert_eq!(row(MARKET_B, "BUY"), [MARKET_B, "BUY", "3", "300", "88"]);
    assert_eq!(row(MARKET_B, "SELL"), [MARKET_B, "SELL", "1", "100", "36"]);
    assert!(out.stdout.contains(RECENT_TRADE), "{}", out.stdout);
    assert!(!out.stdout.contains(OLD_TRADE), "{}", out.stdout);
    out.stdout_has("Open orders: 10 in 4 market sides");
}

#[test]
fn every_playbook_passes_check() {
    let exchange = Exchange::fixture(&Book::fixture());
    let mut count = 0;
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts")).expect("dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "rhai") {
            let out = exchange.clobscript().arg("check").arg(&path).run();
            assert_eq!(out.code, Some(0), "{}: {}", path.display(), out.stderr);
            count += 1;
        }
    }
    assert!(count >= 6, "only {count} playbooks found");
}

#[test]
fn every_playbook_starts_with_purpose_arguments_and_an_example() {
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts")).expect("dir") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("read");
        let header: Vec<&str> = text.lines().take_while(|l| l.starts_with("//")).collect();
        let name = path.file_name().and_then(|n| n.to_str()).expect("name");
        assert!(
            header.first().is_some_and(|l| l.contains(name)),
            "{name}: the first line names the playbook and its purpose"
        );
        assert!(
            header.iter().any(|l| l.contains("Arguments")),
            "{name}: lists its arguments"
        );
        // Handlers (`on_fill`, ...) run under `watch`; every other playbook under `run`.
        assert!(
            header.iter().any(|l| {
                l.contains(&format!("clobscript run scripts/{name}"))
                    || l.contains(&format!("clobscript watch scripts/{name}"))
            }),
            "{name}: shows an example command"
        );
    }
}

#[test]
fn playbooks_run_on_generated_data_across_many_pages() {
    // 3000 generated orders (every status, a second account) served 500 per page.
    let exchange = Exchange::generated(3000);
    let key = exchange.sim().credentials().api_key.clone();
    let before = exchange.statuses();
    let started = unix_now();
    let out = exchange
        .clobscript()
        .args([
            "run",
            &playbook("cancel_stale"),
            "--arg",
            "minutes=600",
            "--json",
        ])
        .run();
    let finished = unix_now();
    out.status(0);
    let after = exchange.statuses();
    let mine: Vec<_> = exchange.sim().orders_of(&key);
    let mut canceled = 0;
    for order in &mine {
        let was = &before[&order.id];
        let now = &after[&order.id];
        let age_cutoff_early = started - 600 * 60;
        let age_cutoff_late = finished - 600 * 60;
        if was != "LIVE" || order.created_at > age_cutoff_late {
            assert_eq!(now, was, "{} changed", order.id);
        } else if order.created_at < age_cutoff_early - 1 {
            assert_eq!(now, "CANCELED", "{} is stale", order.id);
            canceled += 1;
        }
    }
    assert!(canceled > 500, "only {canceled} canceled");
    let other = exchange
        .sim()
        .other_credentials()
        .expect("second account")
        .api_key
        .clone();
    for order in exchange.sim().orders_of(&other) {
        assert_eq!(
            after[&order.id], before[&order.id],
            "another account's order changed"
        );
    }
    assert_eq!(ids(&out.json()["canceled"]).len(), canceled);
}

#[test]
fn the_readme_command_works_with_an_in_process_simulator() {
    let exchange = Exchange::fixture(&Book::fixture());
    let out = support::Clob::bare(&exchange)
        .args([
            "run",
            "scripts/cancel_stale.rhai",
            "--sim",
            "--arg",
            "minutes=30",
            "--json",
        ])
        .run();
    out.status(0);
    let value = out.json();
    let canceled = value["canceled"].as_array().expect("canceled").len();
    assert!(canceled > 0, "{value}");
    assert!(
        out.stderr
            .contains(&format!("{canceled} orders canceled, 0 not canceled")),
        "{}",
        out.stderr
    );
}

#[test]
fn the_audit_log_records_each_request_before_sending_and_its_outcome() {
    let exchange = Exchange::fixture(&Book::fixture());
    let script = exchange.script(
        "audit.rhai",
        r#"
        cancel("0x0a01");
        cancel_orders(["0x0b01", "0x0a07", "0xdoesnotexist"]);
        "#,
    );
    let out = exchange.clobscript().arg("run").arg(&script).run();
    out.status(0);
    let audit = exchange.audit();
    assert_eq!(audit[0]["phase"], "run", "the run begins the log");
    let run = &audit[0]["run"];
    assert!(audit.iter().all(|r| &r["run"] == run));
    let audit = &audit[1..];
    let phases: Vec<(&str, &str)> = audit
        .iter()
        .map(|r| {
            (
                r["phase"].as_str().expect("phase"),
                r["request"].as_str().expect("request"),
            )
        })
        .collect();
    assert_eq!(
        phases,
        [
            ("sending", "DELETE /order"),
            ("done", "DELETE /order"),
            ("sending", "DELETE /orders"),
            ("done", "DELETE /orders"),
        ]
    );
    assert_eq!(ids(&audit[0]["ids"]), sorted(&[OLD_A]));
    assert_eq!(ids(&audit[1]["canceled"]), sorted(&[OLD_A]));
    assert_eq!(ids(&audit[3]["canceled"]), sorted(&[OLD_B]));
    let not_canceled = audit[3]["not_canceled"].as_object().expect("map");
    assert!(not_canceled.contains_key(CANCELED_OLD));
    assert!(not_canceled.contains_key("0xdoesnotexist"));
    assert!(audit.iter().all(|r| r["host"] == exchange.sim().url()));
    assert!(audit.iter().all(|r| {
        r["script"]
            .as_str()
            .is_some_and(|s| s.ends_with("audit.rhai"))
    }));
    out.stderr_has("2 orders canceled, 2 not canceled");
}

#[test]
fn audit_moves_to_the_file_given() {
    let exchange = Exchange::fixture(&Book::fixture());
    let target = exchange.work_dir().join("logs").join("mine.jsonl");
    let out = exchange
        .clobscript()
        .args(["run", &playbook("cancel_stale"), "--audit"])
        .arg(&target)
        .run();
    out.status(0);
    assert_eq!(read_json_lines(&target).len(), 3, "run, sending, done");
    assert!(exchange.audit().is_empty());
}

#[test]
fn an_unwritable_audit_log_stops_the_run_before_any_request() {
    let exchange = Exchange::fixture(&Book::fixture());
    let out = exchange
        .clobscript()
        .args(["run", &playbook("cancel_stale"), "--audit"])
        .arg(exchange.work_dir())
        .run();
    out.status(2);
    out.stderr_has("cannot open the audit log");
    assert_eq!(exchange.sim().requests_served(), 0);
}

#[test]
fn json_output_is_the_final_value_and_prints_go_to_stderr() {
    let exchange = Exchange::fixture(&Book::fixture());
    let script = exchange.script(
        "value.rhai",
        r#"
        print("hello");
        let o = order("0x0a01");
        #{ id: o.id, price: o.price, created_at: o.created_at, matched: o.size_matched, side: o.side }
        "#,
    );
    let book = Book::fixture();
    let out = exchange
        .clobscript()
        .arg("run")
        .arg(&script)
        .arg("--json")
        .run();
    out.status(0);
    let value = out.json();
    assert_eq!(value["id"], OLD_A);
    assert_eq!(value["price"], 0.45);
    assert_eq!(value["matched"], 40.0);
    assert_eq!(value["side"], "BUY");
    assert!((value["created_at"].as_i64().expect("int") - (book.now - 7200)).abs() < 60);
    assert!(out.stderr.contains("hello"));
}

#[test]
fn args_are_typed_and_available_as_args_and_arg() {
    let exchange = Exchange::fixture(&Book::fixture());
    let script = exchange.script(
        "args.rhai",
        r#"#{ n: ARGS.n, f: ARGS.f, b: ARGS.b, s: ARGS.s, token: arg("token", ""),
              missing: arg("missing", 7), t: type_of(ARGS.n) }"#,
    );
    let out = exchange
        .clobscript()
        .arg("run")
        .arg(&script)
        .args([
            "--arg", "n=30", "--arg", "f=0.5", "--arg", "b=true", "--arg", "s=hello",
        ])
        .args(["--arg", &format!("token={TOKEN_B}"), "--json"])
        .run();
    out.status(0);
    assert_eq!(
        out.json(),
        serde_json::json!({"n": 30, "f": 0.5, "b": true, "s": "hello", "token": TOKEN_B,
                           "missing": 7, "t": "i64"})
    );
}

#[test]
fn run_once_works_from_a_blocking_task_as_the_scheduler_calls_it() {
    use clobscript::cmd::session::Session;
    use clobscript::script::{AuditTarget, Interrupt, RunOptions, run_once};
    use std::sync::Arc;

    let dir = tempfile::tempdir().expect("tempdir");
    let fixture = dir.path().join("fixture.json");
    std::fs::write(&fixture, Book::fixture().fixture.to_string()).expect("write");
    let session = Arc::new(
        Session::simulated(clobscript::sim::SimConfig {
            fixture: Some(fixture),
            ..clobscript::sim::SimConfig::default()
        })
        .expect("session"),
    );
    let options = RunOptions {
        script: concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/cancel_stale.rhai").into(),
        args: vec!["minutes=30".into()],
        audit: AuditTarget::File(dir.path().join("audit.jsonl")),
        afterwards: clobscript::script::Afterwards::Json,
        ..RunOptions::default()
    };
    let shared = session.clone();
    let outcome = session
        .block_on(async move {
            tokio::task::spawn_blocking(move || {
                run_once(shared.backend(), &options, &Interrupt::new())
            })
            .await
        })
        .expect("blocking task");
    assert_eq!(
        outcome.exit,
        clobscript::exit::Exit::Success,
        "{:?}",
        outcome.error
    );
    assert_eq!(outcome.summary.canceled, 2);
    assert!(outcome.summary.requests >= 2);
    let value = outcome.value.expect("final value");
    assert_eq!(ids(&value["canceled"]), sorted(&[OLD_A, OLD_B]));
    let sim = session.sim().expect("simulator");
    assert_eq!(sim.order_status(OLD_A).as_deref(), Some("CANCELED"));
    assert_eq!(sim.order_status(FRESH_A).as_deref(), Some("LIVE"));

    // A run whose stop signal has already fired cancels nothing and says why.
    let stop = Interrupt::new();
    stop.trigger(clobscript::script::StopReason::Interrupted);
    let options = RunOptions {
        script: concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/cancel_stale.rhai").into(),
        audit: AuditTarget::File(dir.path().join("audit.jsonl")),
        ..RunOptions::default()
    };
    let shared = session.clone();
    let outcome = session
        .block_on(async move {
            tokio::task::spawn_blocking(move || run_once(shared.backend(), &options, &stop)).await
        })
        .expect("blocking task");
    assert_eq!(outcome.exit, clobscript::exit::Exit::Interrupted);
    assert!(
        outcome
            .error
            .expect("error")
            .headline()
            .starts_with("interrupted")
    );
    assert_eq!(outcome.summary.canceled, 0);
}

#[test]
fn open_orders_with_fields_returns_lean_maps_of_the_same_orders() {
    let exchange = Exchange::generated(2000);
    let script = exchange.script(
        "lean.rhai",
        r#"let full = open_orders();
let lean = open_orders(#{ fields: ["created_at", "price"] });
#{
    same_ids: full.map(|o| o.id) == lean.map(|o| o.id),
    same_times: full.map(|o| o.created_at) == lean.map(|o| o.created_at),
    keys: lean[0].keys(),
    count: lean.len(),
}
"#,
    );
    let value = exchange.run_json(&script);
    let key = exchange.sim().credentials().api_key.clone();
    assert_eq!(
        value["count"],
        exchange.sim().open_order_ids_of(&key).len(),
        "{value}"
    );
    assert_eq!(value["same_ids"], true);
    assert_eq!(value["same_times"], true);
    assert_eq!(
        value["keys"],
        serde_json::json!(["created_at", "id", "price"])
    );
}

#[test]
fn an_unknown_order_field_is_refused_with_a_suggestion() {
    let exchange = Exchange::fixture(&Book::fixture());
    let before = exchange.statuses();
    let script = exchange.script(
        "fields.rhai",
        "cancel_orders(open_orders(#{ fields: [\"prise\"] }))\n",
    );
    let out = exchange.clobscript().arg("run").arg(&script).run();
    out.status(1);
    assert!(
        out.stderr
            .contains("open_orders: `prise` is not an order field")
            && out.stderr.contains("did you mean `price`?"),
        "{}",
        out.stderr
    );
    assert_eq!(exchange.statuses(), before, "nothing was canceled");
}

#[test]
fn cancel_stale_at_scale_makes_the_minimum_requests_plus_the_read_ahead() {
    let exchange = Exchange::start(clobscript::sim::SimConfig {
        open_orders: Some(7_000),
        ..clobscript::sim::SimConfig::default()
    });
    let key = exchange.sim().credentials().api_key.clone();
    let open_before = exchange.sim().open_order_ids_of(&key);
    let served_before = exchange.sim().requests_served();
    let out = exchange
        .clobscript()
        .args([
            "run",
            &playbook("cancel_stale"),
            "--json",
            "--arg",
            "minutes=30",
        ])
        .run();
    out.status(0);
    let open_after = exchange.sim().open_order_ids_of(&key);
    let canceled = open_before.len() - open_after.len();
    assert_eq!(
        out.json()["canceled"].as_array().map(Vec::len),
        Some(canceled)
    );
    assert!(canceled > 3000, "several cancel batches: {canceled}");
    // Pages are read ahead: the minimum plus at most the window's overshoot (7). The first
    // cancel of a process is sized for the tightest rate-limit tier (120 ids) until an answer
    // shows whether the exchange meters; this one does not, so the rest go in batches of 3000.
    let minimum = open_before.len().div_ceil(500) + 1 + (canceled - 120).div_ceil(3000);
    let served = exchange.sim().requests_served() - served_before;
    assert!(
        (minimum as u64..minimum as u64 + 8).contains(&served),
        "{served} requests, minimum {minimum}"
    );
    let cutoff = unix_now() - 30 * 60;
    for order in exchange.sim().orders_of(&key) {
        if open_after.contains(&order.id) {
            assert!(
                order.created_at >= cutoff - 5,
                "a stale order is still open"
            );
        }
    }
}

#[test]
fn listings_in_a_script_walk_every_page_and_match_the_exchange() {
    let exchange = Exchange::start(clobscript::sim::SimConfig {
        orders: 900,
        page_size: 37,
        ..clobscript::sim::SimConfig::default()
    });
    let key = exchange.sim().credentials().api_key.clone();
    let script = exchange.script(
        "lists.rhai",
        r"#{
    orders: open_orders().map(|o| o.id),
    trades: trades().map(|t| t.id),
    trade_sizes: trades().map(|t| t.size),
}
",
    );
    let served_before = exchange.sim().requests_served();
    let value = exchange.run_json(&script);

    let mut open = exchange.sim().open_order_ids_of(&key);
    open.sort();
    assert_eq!(ids(&value["orders"]), open);
    let sim_trades = exchange.sim().trades_of(&key);
    let mut trade_ids: Vec<String> = sim_trades.iter().map(|t| t.id.clone()).collect();
    trade_ids.sort();
    assert_eq!(ids(&value["trades"]), trade_ids);
    assert!(trade_ids.len() > 37, "trades span several pages");
    let sizes: Vec<f64> = value["trade_sizes"]
        .as_array()
        .expect("sizes")
        .iter()
        .filter_map(|s| s.as_f64())
        .collect();
    assert_eq!(sizes.len(), trade_ids.len(), "sizes are numbers");

    // Pages are read ahead: the minimum plus at most the window's overshoot (7) per listing.
    let pages = |n: usize| n.div_ceil(37).max(1) as u64;
    let minimum = pages(open.len()) + 2 * pages(trade_ids.len());
    let served = exchange.sim().requests_served() - served_before;
    assert!(
        (minimum..minimum + 3 * 7 + 1).contains(&served),
        "{served} requests, minimum {minimum}"
    );
}

#[test]
fn cancel_orders_answers_each_id_once_as_sent_trimmed_of_spaces() {
    let exchange = Exchange::generated(400);
    let before = exchange.statuses();
    let key = exchange.sim().credentials().api_key.clone();
    let open: Vec<String> = exchange
        .sim()
        .orders_of(&key)
        .into_iter()
        .filter(|o| o.status == "LIVE")
        .map(|o| o.id)
        .take(150)
        .collect();
    assert_eq!(open.len(), 150, "the account has open orders");
    // The ids as a script might hand them over: repeated, padded, and one the exchange lacks.
    let mut listed: Vec<String> = open.iter().map(|id| format!("{id:?}")).collect();
    listed.push(format!("{:?}", open[0]));
    listed.push(format!("\" {} \"", open[1]));
    listed.push("\"0xdoesnotexist\"".to_owned());
    let script = exchange.script(
        "many.rhai",
        &format!("cancel_orders([{}])", listed.join(", ")),
    );
    let result = exchange.run_json(&script);
    let canceled: Vec<String> = result["canceled"]
        .as_array()
        .expect("canceled")
        .iter()
        .map(|id| id.as_str().expect("text").to_owned())
        .collect();
    let mut sorted_canceled = canceled.clone();
    sorted_canceled.sort();
    sorted_canceled.dedup();
    assert_eq!(sorted_canceled.len(), canceled.len(), "each id once");
    let mut expected = open.clone();
    expected.sort();
    assert_eq!(sorted_canceled, expected);
    let not_canceled = result["not_canceled"].as_object().expect("map");
    assert_eq!(
        not_canceled.keys().collect::<Vec<_>>(),
        ["0xdoesnotexist"],
        "{result}"
    );
    let after = exchange.statuses();
    for (id, was) in &before {
        let now = &after[id];
        if open.contains(id) {
            assert_eq!(now, "CANCELED", "{id}");
        } else {
            assert_eq!(now, was, "{id} untouched");
        }
    }
}
