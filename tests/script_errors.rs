//! Every way a run can go wrong: the message the user sees and the exit code, with the
//! exchange left as it was. Plus `check`, `docs`, interrupts, and the host library API the REPL
//! and scheduler build on.

#[path = "common/mod.rs"]
mod support;

use std::time::Duration;

use clobscript::clob::Secret;
use clobscript::script::{Host, HostOptions, Interrupt, Limits, SourceText, StopReason};
use clobscript::sim::SimConfig;
use support::*;

fn fixture() -> Exchange {
    Exchange::fixture(&Book::fixture())
}

#[test]
fn a_syntax_error_shows_the_line_with_a_caret_and_exits_2() {
    let exchange = fixture();
    let script = exchange.script("broken.rhai", "let a = 1;\nlet b = (a + 2;\n");
    let out = exchange.clobscript().arg("run").arg(&script).run();
    out.status(2);
    let expected = format!(
        "error: syntax error: Expecting ')' for a matching ( in this expression\n \
         --> {}:2:15\n  |\n2 | let b = (a + 2;\n  |               ^\n",
        script.display()
    );
    assert_eq!(out.stderr, expected);
    assert_eq!(exchange.sim().requests_served(), 0);
}

#[test]
fn an_unknown_function_is_refused_before_any_request_with_a_suggestion() {
    let exchange = fixture();
    // A tab and wide characters before the typo: the caret still lines up.
    let script = exchange.script(
        "typo.rhai",
        "let stale = open_orders();\n\tlet s = \"名前é\"; cancle(stale[0].id);\n",
    );
    let out = exchange.clobscript().arg("run").arg(&script).run();
    out.status(2);
    let expected = format!(
        "error: unknown function `cancle`\n --> {}:2:17\n  |\n\
         2 |     let s = \"名前é\"; cancle(stale[0].id);\n  |                      ^^^^^^\n  \
         = help: did you mean `cancel`?\n",
        script.display()
    );
    assert_eq!(out.stderr, expected);
    assert_eq!(exchange.sim().requests_served(), 0);
}

#[test]
fn a_wrong_number_of_arguments_is_refused_with_the_signature() {
    let exchange = fixture();
    let script = exchange.script("arity.rhai", "cancel(\"0x0a01\", true);\n");
    let out = exchange.clobscript().arg("run").arg(&script).run();
    out.status(2);
    assert!(
        out.stderr
            .contains("`cancel` takes 1 argument but is given 2"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("help: it is called as `cancel(id: string) -> map`"),
        "{}",
        out.stderr
    );
    assert_eq!(exchange.status(OLD_A), "LIVE");
}

#[test]
fn check_reports_every_unknown_function_without_running() {
    let exchange = fixture();
    let script = exchange.script(
        "many.rhai",
        "let o = open_orders();\nlet s = o.filter(|x| x.created_at < now() - minuts(5));\n\
         cancel_order(s);\nfn helper(a) { a }\nhelper(1, 2);\n",
    );
    let out = exchange.clobscript().arg("check").arg(&script).run();
    out.status(2);
    out.stderr_has("did you mean `minutes`?");
    out.stderr_has("unknown function `cancel_order`");
    assert!(out.stderr.contains("did you mean `cancel_orders`?"));
    assert!(
        out.stderr
            .contains("`helper` takes 1 argument but is given 2")
    );
    assert!(out.stderr.contains("many.rhai: 3 problems found"));
    assert_eq!(exchange.sim().requests_served(), 0);
}

#[test]
fn check_accepts_a_good_script_and_reports_unreadable_ones() {
    let exchange = fixture();
    let good = exchange.script("good.rhai", "let x = [3, 1, 2];\nx.sort();\nx.len()\n");
    let out = exchange.clobscript().arg("check").arg(&good).run();
    out.status(0);
    assert!(out.stdout.starts_with("ok: "));
    let out = exchange
        .clobscript()
        .args(["check", "no/such/script.rhai"])
        .run();
    out.status(2);
    assert!(
        out.stderr
            .starts_with("error: cannot read script no/such/script.rhai:"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_throw_fails_the_run_with_exit_1_and_the_place_it_happened() {
    let exchange = fixture();
    let script = exchange.script(
        "throws.rhai",
        "fn check(n) {\n    if n > 2 { throw `too many: ${n}`; }\n}\ncheck(3);\n",
    );
    let out = exchange.clobscript().arg("run").arg(&script).run();
    out.status(1);
    assert!(
        out.stderr.starts_with("error: too many: 3\n"),
        "{}",
        out.stderr
    );
    out.stderr_has("throws.rhai:2:16");
    assert!(
        out.stderr
            .contains("= note: in function `check`, called at 4:1"),
        "{}",
        out.stderr
    );
    out.stderr_has("failed after");
}

#[test]
fn a_type_error_at_run_time_exits_1() {
    let exchange = fixture();
    let script = exchange.script(
        "types.rhai",
        "let o = order(\"0x0a01\");\no.price + \"x\" - 1\n",
    );
    let out = exchange.clobscript().arg("run").arg(&script).run();
    out.status(1);
    assert!(
        out.stderr
            .starts_with("error: operator `-` cannot be applied to (string, int)\n"),
        "{}",
        out.stderr
    );
    out.stderr_has("types.rhai:2:15");

    let script = exchange.script(
        "mismatch.rhai",
        "let ids = range(0, 3).map(|i| i);\ncancel(42);\n",
    );
    let out = exchange.clobscript().arg("run").arg(&script).run();
    out.status(1);
    assert!(
        out.stderr
            .starts_with("error: `map` cannot be called with (range, Fn)\n"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("did you mean"), "{}", out.stderr);
}

#[test]
fn an_exchange_failure_exits_3_with_the_clients_message() {
    let exchange = fixture();
    let script = exchange.script("missing.rhai", "book(\"404\")\n");
    let out = exchange.clobscript().arg("run").arg(&script).run();
    out.status(3);
    assert!(
        out.stderr
            .starts_with("error: book failed: GET /book: not found (404 No orderbook exists"),
        "{}",
        out.stderr
    );
    out.stderr_has("missing.rhai:1:1");

    // The exchange answers an unknown order id with `null`: no failure, `()` to the script.
    let script = exchange.script("unknown_order.rhai", "order(\"0xnosuchorder\") == ()\n");
    let out = exchange
        .clobscript()
        .arg("run")
        .arg(&script)
        .arg("--json")
        .run();
    out.status(0);
    assert_eq!(out.json(), true);
}

#[test]
fn a_caught_exchange_failure_lets_the_script_carry_on() {
    let exchange = fixture();
    let script = exchange.script(
        "caught.rhai",
        "let found = true;\ntry { book(\"404\"); } catch (e) { found = false; }\n\
         cancel(\"0x0a01\");\nfound\n",
    );
    let out = exchange
        .clobscript()
        .arg("run")
        .arg(&script)
        .arg("--json")
        .run();
    out.status(0);
    assert_eq!(out.json(), false);
    assert_eq!(exchange.status(OLD_A), "CANCELED");
}

#[test]
fn wrong_credentials_exit_3_without_showing_the_secret() {
    let exchange = fixture();
    let mut credentials = exchange.sim().credentials().clone();
    credentials.secret = Secret::new("d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC13cm9uZyE=");
    let out = exchange
        .clobscript()
        .credentials(&credentials)
        .args(["run", "scripts/cancel_stale.rhai"])
        .run();
    out.status(3);
    out.stderr_has("rejected the credentials");
    assert!(!out.stderr.contains(credentials.secret.expose()));
    assert!(!out.stderr.contains(credentials.passphrase.expose()));
    assert_eq!(exchange.status(OLD_A), "LIVE");
}

#[test]
fn missing_credentials_are_named_before_any_request() {
    let exchange = fixture();
    let out = Clob::bare(&exchange)
        .env("POLY_API_KEY", "k")
        .env("POLY_ADDRESS", "0xabc")
        .args(["run", "scripts/cancel_stale.rhai", "--host"])
        .arg(exchange.sim().url())
        .run();
    out.status(2);
    assert!(
        out.stderr
            .starts_with("error: missing credentials: POLY_API_SECRET, POLY_PASSPHRASE"),
        "{}",
        out.stderr
    );
    assert_eq!(exchange.sim().requests_served(), 0);
}

#[test]
fn sim_and_host_together_are_a_usage_error() {
    let exchange = fixture();
    let out = exchange
        .clobscript()
        .args(["run", "scripts/report.rhai", "--sim"])
        .run();
    out.status(2);
    assert!(out.stderr.contains("cannot be combined with --host"));
}

#[test]
fn bad_script_arguments_exit_2_naming_the_argument() {
    let exchange = fixture();
    let cases: [(&[&str], &str); 3] = [
        (&["minutes"], "--arg `minutes` is not KEY=VALUE"),
        (
            &["minutes=soon"],
            "--arg minutes=soon: expected a whole number (the script's default is 30)",
        ),
        (
            &["minutes=1", "minutes=2"],
            "--arg `minutes` is given twice",
        ),
    ];
    for (args, message) in cases {
        let mut command = exchange.clobscript();
        command.args(["run", "scripts/cancel_stale.rhai"]);
        for arg in args {
            command.args(["--arg", arg]);
        }
        let out = command.run();
        out.status(2);
        assert!(out.stderr.contains(message), "{args:?}: {}", out.stderr);
    }
    assert_eq!(exchange.status(OLD_A), "LIVE");
}

#[test]
fn a_required_argument_that_is_missing_exits_2() {
    let exchange = fixture();
    let script = exchange.script("needs.rhai", "let m = arg(\"market\");\ncancel_market(m)\n");
    let out = exchange.clobscript().arg("run").arg(&script).run();
    out.status(2);
    assert!(
        out.stderr
            .starts_with("error: this script needs --arg market=VALUE"),
        "{}",
        out.stderr
    );
}

#[test]
fn timeout_stops_a_tight_loop_with_exit_1() {
    let exchange = fixture();
    let script = exchange.script("spin.rhai", "let n = 0;\nloop { n += 1; }\n");
    let out = exchange
        .clobscript()
        .arg("run")
        .arg(&script)
        .args(["--timeout", "200ms"])
        .run();
    out.status(1);
    assert!(
        out.stderr.starts_with(
            "error: timed out: the script ran longer than --timeout 200ms and was stopped"
        ),
        "{}",
        out.stderr
    );
}

#[test]
fn timeout_aborts_a_request_the_exchange_is_slow_to_answer() {
    let exchange = Exchange::start(SimConfig {
        latency: Some(Duration::from_secs(60)),
        ..SimConfig::default()
    });
    let script = exchange.script("slow.rhai", "open_orders().len()\n");
    let out = exchange
        .clobscript()
        .arg("run")
        .arg(&script)
        .args(["--timeout", "300ms"])
        .run();
    // Without the abort the client would time out after 15 s and fail with exit 3.
    out.status(1);
    out.stderr_has("timed out");
}

#[test]
fn timeout_ends_a_sleep() {
    let exchange = fixture();
    let script = exchange.script("nap.rhai", "sleep(3600);\n");
    let out = exchange
        .clobscript()
        .arg("run")
        .arg(&script)
        .args(["--timeout", "200ms"])
        .run();
    out.status(1);
    out.stderr_has("timed out");
}

#[test]
fn ctrl_c_stops_a_tight_loop_with_exit_130() {
    let exchange = fixture();
    let script = exchange.script("spin.rhai", "print(\"ready\");\nloop { }\n");
    // --timeout only bounds the test should Ctrl-C be ignored (it would then exit 1).
    let child = exchange
        .clobscript()
        .arg("run")
        .arg(&script)
        .args(["--timeout", "60s"])
        .spawn_until("ready");
    send_signal(&child, "INT");
    let out = wait(child);
    out.status(130);
    assert!(
        out.stderr
            .contains("error: interrupted: the script was stopped before it finished"),
        "{}",
        out.stderr
    );
    out.stderr_has("interrupted after");
}

#[test]
fn ctrl_c_ends_a_sleep_and_keeps_what_was_already_done() {
    let exchange = fixture();
    let before = exchange.statuses();
    let script = exchange.script(
        "then_sleep.rhai",
        "cancel(\"0x0a01\");\nprint(\"ready\");\nsleep(3600);\ncancel(\"0x0b01\");\n",
    );
    let child = exchange
        .clobscript()
        .arg("run")
        .arg(&script)
        .args(["--timeout", "60s"])
        .spawn_until("ready");
    send_signal(&child, "INT");
    let out = wait(child);
    out.status(130);
    out.stderr_has("1 order canceled, 0 not canceled");
    assert_only_canceled(&before, &exchange.statuses(), &[OLD_A]);
}

#[test]
fn a_misspelled_filter_is_refused_rather_than_widening_the_selection() {
    let exchange = fixture();
    let before = exchange.statuses();
    let script = exchange.script(
        "filter.rhai",
        &format!("cancel_orders(open_orders(#{{ markt: \"{MARKET_B}\" }}))\n"),
    );
    let out = exchange.clobscript().arg("run").arg(&script).run();
    out.status(1);
    assert!(
        out.stderr.starts_with(
            "error: open_orders: unknown filter `markt` (known: market, asset_id, id, fields); did you mean `market`?"
        ),
        "{}",
        out.stderr
    );
    assert_only_canceled(&before, &exchange.statuses(), &[]);
}

#[test]
fn cancel_market_with_neither_market_nor_token_is_refused() {
    let exchange = fixture();
    let before = exchange.statuses();
    let script = exchange.script("everything.rhai", "cancel_market(\"\", \"\")\n");
    let out = exchange.clobscript().arg("run").arg(&script).run();
    out.status(1);
    assert!(
        out.stderr.starts_with(
            "error: cancel_market: give a market or an asset_id; to cancel every order use cancel_all()"
        ),
        "{}",
        out.stderr
    );
    assert_only_canceled(&before, &exchange.statuses(), &[]);
}

#[test]
fn long_fetches_show_progress_on_a_terminal_only() {
    use expectrl::Expect as _;
    let slow = || {
        Exchange::start(SimConfig {
            latency: Some(Duration::from_millis(300)),
            page_size: 100,
            orders: 400,
            ..SimConfig::default()
        })
    };
    let exchange = slow();
    let script = exchange.script("fetch.rhai", "open_orders().len()\n");
    let mut command = exchange.clobscript();
    command.arg("run").arg(&script).env("TERM", "xterm");
    let mut terminal = expectrl::Session::spawn(command.into_command()).expect("pty");
    terminal.set_expect_timeout(Some(Duration::from_secs(30)));
    terminal
        .expect("fetching open orders: ")
        .expect("a spinner on the terminal");
    terminal.expect("done in").expect("the summary");

    let exchange = slow();
    let script = exchange.script("fetch.rhai", "open_orders().len()\n");
    let out = exchange.clobscript().arg("run").arg(&script).run();
    out.status(0);
    assert!(!out.stderr.contains("fetching"), "{}", out.stderr);
}

#[test]
fn eval_is_disabled() {
    let exchange = fixture();
    let script = exchange.script("eval.rhai", "let x = eval(\"cancel_all()\");\n");
    let out = exchange.clobscript().arg("run").arg(&script).run();
    out.status(2);
    assert!(
        out.stderr
            .starts_with("error: `eval` is disabled in clobscript scripts"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("eval.rhai:1:9"));
    assert_eq!(exchange.status(OLD_A), "LIVE");
}

#[test]
fn imports_resolve_in_the_script_folder_and_may_not_leave_it() {
    let exchange = fixture();
    exchange.script(
        "lib/ages.rhai",
        "fn older_than(o, m) { o.created_at < now() - minutes(m) }\n",
    );
    exchange.script("secret.rhai", "fn x() { 42 }\n");
    let inside = exchange.script(
        "playbooks/use_lib.rhai",
        "import \"../lib/ages\" as ages;\n1\n",
    );
    let out = exchange.clobscript().arg("run").arg(&inside).run();
    out.status(2);
    assert!(
        out.stderr
            .contains("cannot import `../lib/ages`: `../lib/ages` is outside the script's folder"),
        "{}",
        out.stderr
    );

    let good = exchange.script(
        "uses_lib.rhai",
        "import \"lib/ages\" as ages;\nopen_orders().filter(|o| ages::older_than(o, 30)).len()\n",
    );
    let out = exchange
        .clobscript()
        .arg("run")
        .arg(&good)
        .arg("--json")
        .run();
    out.status(0);
    assert_eq!(out.json(), 2);

    let missing = exchange.script("missing_lib.rhai", "import \"lib/nope\" as n;\n");
    let out = exchange.clobscript().arg("run").arg(&missing).run();
    out.status(2);
    assert!(
        out.stderr
            .contains("cannot import `lib/nope`: no such module in the script's folder"),
        "{}",
        out.stderr
    );
}

#[test]
fn runaway_recursion_hits_the_call_depth_limit() {
    let exchange = fixture();
    let script = exchange.script("deep.rhai", "fn f(n) { f(n + 1) }\nf(0);\n");
    let out = exchange.clobscript().arg("run").arg(&script).run();
    out.status(1);
    assert!(
        out.stderr
            .contains("exceeded the sandbox limit of 64 nested calls"),
        "{}",
        out.stderr
    );
}

#[test]
fn docs_prints_the_committed_reference() {
    let exchange = fixture();
    let out = exchange.clobscript().arg("docs").run();
    out.status(0);
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/script-api.md"))
            .expect("docs/script-api.md exists");
    assert!(
        out.stdout == committed,
        "docs/script-api.md is out of date: run `cargo run -- docs > docs/script-api.md`"
    );
}

#[test]
fn the_reference_documents_every_function_of_the_design() {
    let host = Host::offline();
    let reference = host.reference_markdown();
    for name in [
        "open_orders",
        "order",
        "trades",
        "cancel",
        "cancel_orders",
        "cancel_all",
        "cancel_market",
        "is_scoring",
        "are_scoring",
        "book",
        "midpoint",
        "price",
        "spread",
        "tick_size",
        "server_time",
        "now",
        "seconds",
        "minutes",
        "hours",
        "days",
        "duration",
        "parse_time",
        "format_time",
        "arg",
        "table",
        "to_json",
        "parse_json",
        "log_info",
        "log_warn",
        "log_error",
        "is_dry_run",
        "sleep",
    ] {
        assert!(
            reference.contains(&format!("### `{name}`")),
            "{name} is not documented"
        );
        let documented = host
            .functions()
            .filter(|f| f.name == name)
            .all(|f| !f.doc.is_empty());
        assert!(documented, "an overload of {name} has no doc comment");
    }
}

// The library API the REPL and the scheduler use, in process.

fn eval(host: &Host, scope: &mut rhai::Scope<'static>, text: &str) -> rhai::Dynamic {
    let script = host
        .compile_source(SourceText::new("<test>", text, None))
        .expect("compiles");
    host.eval(&script, scope).expect("evaluates")
}

#[test]
fn a_host_keeps_variables_in_the_callers_scope_between_evaluations() {
    let host = Host::offline();
    let mut scope = host.new_scope();
    let _ = eval(&host, &mut scope, "let cutoff = now() - minutes(30);");
    let age = eval(&host, &mut scope, "now() - cutoff");
    assert_eq!(age.as_int(), Ok(1800));
}

#[test]
fn an_interrupt_from_another_thread_stops_a_tight_loop_and_can_be_cleared() {
    let host = Host::offline();
    let mut scope = host.new_scope();
    let script = host
        .compile_source(SourceText::new("<test>", "loop { }", None))
        .expect("compiles");
    let stop = host.interrupt_handle();
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        stop.trigger(StopReason::Interrupted);
    });
    let err = host.eval(&script, &mut scope).unwrap_err();
    stopper.join().expect("stopper");
    assert_eq!(err.exit(), clobscript::exit::Exit::Interrupted);
    host.clear_interrupt();
    assert_eq!(eval(&host, &mut scope, "1 + 1").as_int(), Ok(2));
}

#[test]
fn an_external_stop_signal_is_shared_with_the_host() {
    let stop = Interrupt::new();
    let host = Host::new(HostOptions {
        interrupt: Some(stop.clone()),
        audit: clobscript::script::AuditTarget::Off,
        ..HostOptions::default()
    })
    .expect("host");
    stop.trigger(StopReason::Interrupted);
    let script = host
        .compile_source(SourceText::new("<test>", "let x = 1; x + 1", None))
        .expect("compiles");
    let err = host.eval(&script, &mut host.new_scope()).unwrap_err();
    assert_eq!(err.exit(), clobscript::exit::Exit::Interrupted);
}

#[test]
fn the_operation_limit_stops_a_runaway_loop_with_exit_1() {
    let host = Host::new(HostOptions {
        limits: Limits {
            max_operations: 10_000,
            ..Limits::default()
        },
        audit: clobscript::script::AuditTarget::Off,
        ..HostOptions::default()
    })
    .expect("host");
    let script = host
        .compile_source(SourceText::new(
            "<test>",
            "let n = 0;\nloop { n += 1; }",
            None,
        ))
        .expect("compiles");
    let err = host.eval(&script, &mut host.new_scope()).unwrap_err();
    assert_eq!(err.exit(), clobscript::exit::Exit::ScriptFailed);
    assert!(
        err.rendered()
            .contains("exceeded the sandbox limit of 10000 operations"),
        "{}",
        err.rendered()
    );
}

#[test]
fn data_size_limits_stop_a_growing_array_with_exit_1() {
    let host = Host::new(HostOptions {
        limits: Limits {
            max_array_size: 10,
            ..Limits::default()
        },
        audit: clobscript::script::AuditTarget::Off,
        ..HostOptions::default()
    })
    .expect("host");
    let script = host
        .compile_source(SourceText::new(
            "<test>",
            "let a = [];\nfor i in 0..20 { a.push(i); }",
            None,
        ))
        .expect("compiles");
    let err = host.eval(&script, &mut host.new_scope()).unwrap_err();
    assert_eq!(err.exit(), clobscript::exit::Exit::ScriptFailed);
    assert!(
        err.rendered()
            .starts_with("error: Size of array/BLOB exceeds the sandbox limit\n --> <test>:2:"),
        "{}",
        err.rendered()
    );
}

#[test]
fn exchange_functions_without_a_connection_say_so() {
    let host = Host::offline();
    let script = host
        .compile_source(SourceText::new("<test>", "open_orders()", None))
        .expect("compiles");
    let err = host.eval(&script, &mut host.new_scope()).unwrap_err();
    assert!(
        err.headline().starts_with("not connected to an exchange"),
        "{}",
        err.headline()
    );
}

#[test]
fn a_skewed_local_clock_is_named_and_server_time_signing_gets_past_it() {
    let exchange = Exchange::start(SimConfig {
        // The exchange's clock runs two minutes ahead of this machine's.
        clock_offset: 120,
        ..SimConfig::default()
    });
    let key = exchange.sim().credentials().api_key.clone();
    let open = exchange.sim().open_order_ids_of(&key);
    let target = open[0].clone();
    let script = exchange.script("one.rhai", &format!("cancel(\"{target}\")\n"));

    let out = exchange.clobscript().arg("run").arg(&script).run();
    out.status(3);
    assert!(
        out.stderr.contains("behind the exchange"),
        "the skew is named: {}",
        out.stderr
    );
    assert_eq!(exchange.status(&target), "LIVE");

    let out = exchange
        .clobscript()
        .args(["--server-time", "run"])
        .arg(&script)
        .run();
    out.status(0);
    assert_eq!(exchange.status(&target), "CANCELED");
    let still_open = exchange.sim().open_order_ids_of(&key);
    assert_eq!(
        still_open.len(),
        open.len() - 1,
        "only that order was canceled"
    );
}
