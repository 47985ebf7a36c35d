//! Sharp edges a new user hits (issue 15), each pinned by a test named after its defect: the
//! command line, script parameters, imported modules, JSON diagnostics, refusals of
//! meaningless input and misleading messages. Every test runs the real binary, mostly against
//! a simulator on a loopback port.

#[path = "common/mod.rs"]
mod common;

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use clobscript::sim::SimConfig;
use common::{Book, Clob, Exchange, OPEN, Output, send_signal};

fn fixture() -> Exchange {
    Exchange::fixture(&Book::fixture())
}

/// The binary with no credentials and no host (for `--sim`, `docs`, `check`).
fn offline(exchange: &Exchange) -> Clob {
    let mut clob = Clob::bare(exchange);
    clob.no_host();
    clob
}

// ---- defect 1: CLOB_SERVER_TIME -------------------------------------------------------

#[test]
fn defect_1_clob_server_time_accepts_the_usual_boolean_spellings_and_empty() {
    let exchange = fixture();
    for value in [
        "1", "0", "", "true", "false", "yes", "no", "on", "off", "TRUE", "Off",
    ] {
        let out = offline(&exchange)
            .env("CLOB_SERVER_TIME", value)
            .arg("docs")
            .run();
        assert_eq!(
            out.code,
            Some(0),
            "CLOB_SERVER_TIME={value:?}: {}",
            out.stderr
        );
    }
    offline(&exchange)
        .env("CLOB_SERVER_TIME", "1")
        .args(["run", "scripts/report.rhai", "--sim"])
        .run()
        .status(0);
    offline(&exchange)
        .env("CLOB_SERVER_TIME", "maybe")
        .arg("docs")
        .run()
        .status(2)
        .stderr_has("1/0, true/false, yes/no or on/off");
}

#[test]
fn defect_1_clob_server_time_1_signs_with_the_exchanges_clock() {
    let exchange = Exchange::start(SimConfig {
        orders: 20,
        clock_offset: 120,
        ..SimConfig::default()
    });
    let script = exchange.script("count.rhai", "open_orders().len()");
    exchange
        .clobscript()
        .env("CLOB_SERVER_TIME", "1")
        .args(["run", "--json"])
        .arg(&script)
        .run()
        .status(0);
}

// ---- defect 2: --arg names the script never reads -------------------------------------

#[test]
fn defect_2_a_misspelled_arg_is_an_error_naming_the_closest_one_the_script_reads() {
    let exchange = fixture();
    let before = exchange.statuses();
    exchange
        .clobscript()
        .args([
            "run",
            "scripts/cancel_stale.rhai",
            "--dry-run",
            "--arg",
            "minute=120",
        ])
        .run()
        .status(2)
        .stderr_has("`minute`")
        .stderr_has("did you mean `minutes`?");
    assert_eq!(exchange.statuses(), before);
    assert!(exchange.audit().is_empty(), "nothing ran");
}

#[test]
fn defect_2_an_arg_read_through_args_or_in_a_module_is_known() {
    let exchange = fixture();
    exchange.script("lib/limits.rhai", "fn cap() { arg(\"cap\", 5) }\n");
    let script = exchange.script(
        "reads.rhai",
        "import \"lib/limits\" as l;\nlet a = ARGS.alpha;\nlet b = ARGS[\"beta\"];\nlet c = if \"gamma\" in ARGS { 1 } else { 0 };\n[a, b, c, l::cap()]\n",
    );
    let out = exchange
        .clobscript()
        .args(["run", "--json"])
        .arg(&script)
        .args([
            "--arg", "alpha=1", "--arg", "beta=2", "--arg", "gamma=3", "--arg", "cap=7",
        ])
        .run();
    out.status(0);
    assert_eq!(out.json(), serde_json::json!([1, 2, 1, 7]));
    exchange
        .clobscript()
        .args(["run", "--json"])
        .arg(&script)
        .args(["--arg", "alpah=1"])
        .run()
        .status(2)
        .stderr_has("did you mean `alpha`?");
}

#[test]
fn defect_2_a_script_that_reads_args_dynamically_accepts_any_name() {
    let exchange = fixture();
    let script = exchange.script(
        "dynamic.rhai",
        "fn pick(args, name) { args[name] }\npick(ARGS, \"anything\")\n",
    );
    let out = exchange
        .clobscript()
        .args(["run", "--json"])
        .arg(&script)
        .args(["--arg", "anything=4"])
        .run();
    out.status(0);
    assert_eq!(out.json(), serde_json::json!(4));
}

#[test]
fn defect_2_a_misspelled_arg_in_a_jobs_file_is_refused_before_anything_runs() {
    let exchange = fixture();
    let before = exchange.statuses();
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/cancel_stale.rhai"),
        exchange.work_dir().join("cancel_stale.rhai"),
    )
    .expect("copy playbook");
    let jobs = exchange.script(
        "jobs.toml",
        "[jobs.stale]\nscript = \"cancel_stale.rhai\"\nevery = \"1h\"\nmax_runs = 1\nargs = { minuts = 30 }\n",
    );
    let run_log = exchange.work_dir().join("runs.jsonl");
    exchange
        .clobscript()
        .args(["schedule", "--jobs"])
        .arg(&jobs)
        .arg("--run-log")
        .arg(&run_log)
        .run()
        .status(2)
        .stderr_has("job `stale`")
        .stderr_has("`minuts`")
        .stderr_has("did you mean `minutes`?");
    assert_eq!(exchange.statuses(), before);
    assert!(!run_log.exists(), "no run was logged");
}

// ---- defect 3: imported modules are checked ---------------------------------------------

#[test]
fn defect_3_check_reports_an_unknown_function_in_an_imported_module_with_its_file_and_line() {
    let exchange = fixture();
    exchange.script("lib/helpers.rhai", "fn stale(ids) {\n    cancle(ids)\n}\n");
    let script = exchange.script("main.rhai", "import \"lib/helpers\" as h;\nh::stale([]);\n");
    offline(&exchange)
        .arg("check")
        .arg(&script)
        .run()
        .status(2)
        .stderr_has("unknown function `cancle`")
        .stderr_has("helpers.rhai:2")
        .stderr_has("did you mean `cancel`?");
}

#[test]
fn defect_3_run_refuses_a_broken_module_before_the_main_script_cancels_anything() {
    let exchange = fixture();
    let before = exchange.statuses();
    exchange.script("lib/helpers.rhai", "fn stale(ids) {\n    cancle(ids)\n}\n");
    let script = exchange.script(
        "main.rhai",
        "cancel_all();\nimport \"lib/helpers\" as h;\nh::stale([]);\n",
    );
    exchange
        .clobscript()
        .arg("run")
        .arg(&script)
        .run()
        .status(2)
        .stderr_has("helpers.rhai:2")
        .stderr_has("unknown function `cancle`");
    assert_eq!(exchange.statuses(), before, "nothing was canceled");
    assert!(exchange.audit().is_empty());
}

#[test]
fn defect_3_a_syntax_error_in_a_module_exits_2_naming_the_module() {
    let exchange = fixture();
    exchange.script("lib/broken.rhai", "fn oops( {\n");
    let script = exchange.script("main.rhai", "import \"lib/broken\" as b;\n1\n");
    for command in ["check", "run"] {
        exchange
            .clobscript()
            .arg(command)
            .arg(&script)
            .run()
            .status(2)
            .stderr_has("broken.rhai:1");
    }
}

// ---- defect 4: --log-format json ----------------------------------------------------------

#[track_caller]
fn every_line_is_json(out: &Output) -> Vec<serde_json::Value> {
    out.stderr
        .lines()
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}\n--- stderr:\n{}", out.stderr))
        })
        .collect()
}

#[test]
fn defect_4_with_log_format_json_every_stderr_line_of_a_failed_run_is_json() {
    let exchange = fixture();
    let script = exchange.script(
        "fails.rhai",
        "log_info(\"starting\");\nprint(\"to stderr with --json\");\ndebug(\"a value\");\nthrow \"gave up\";\n",
    );
    let out = exchange
        .clobscript()
        .args(["--log-format", "json", "run", "--json"])
        .arg(&script)
        .run();
    out.status(1);
    let lines = every_line_is_json(&out);
    let text = out.stderr.clone();
    assert!(text.contains("gave up"), "{text}");
    let summary = lines
        .iter()
        .find(|l| l["fields"]["summary"] == true)
        .unwrap_or_else(|| panic!("no summary line: {text}"));
    assert_eq!(summary["fields"]["exit"], 1);
    assert!(summary["fields"]["requests"].is_u64(), "{summary}");
    assert!(lines.iter().any(|l| l["level"] == "ERROR"));
}

#[test]
fn defect_4_with_log_format_json_command_errors_are_json_too() {
    let exchange = fixture();
    for args in [
        vec!["--log-format", "json", "run", "no-such-script.rhai"],
        vec![
            "--log-format",
            "json",
            "run",
            "scripts/report.rhai",
            "--arg",
            "nope",
        ],
        vec![
            "--log-format",
            "json",
            "sim",
            "--port",
            "0",
            "--fixture",
            "missing.json",
        ],
    ] {
        let out = offline(&exchange).args(&args).run();
        out.status(2);
        let lines = every_line_is_json(&out);
        assert!(
            lines.iter().any(|l| l["level"] == "ERROR"),
            "{args:?}: {}",
            out.stderr
        );
    }
}

// ---- defect 7: meaningless or contradictory input is refused -----------------------------

#[test]
fn defect_7_a_cron_jitter_longer_than_the_shortest_gap_is_refused() {
    let exchange = fixture();
    let script = exchange.script("noop.rhai", "1");
    exchange
        .clobscript()
        .arg("schedule")
        .arg(&script)
        .args(["--cron", "*/5 * * * *", "--jitter", "10m"])
        .run()
        .status(2)
        .stderr_has("jitter (10m)")
        .stderr_has("5m");
}

#[test]
fn defect_7_an_interval_below_one_second_is_refused() {
    let exchange = fixture();
    let script = exchange.script("noop.rhai", "1");
    exchange
        .clobscript()
        .arg("schedule")
        .arg(&script)
        .args(["--every", "1ms"])
        .run()
        .status(2)
        .stderr_has("at least 1s");
}

#[test]
fn defect_7_a_timeout_of_zero_is_refused() {
    let exchange = fixture();
    let script = exchange.script("noop.rhai", "1");
    exchange
        .clobscript()
        .arg("run")
        .arg(&script)
        .args(["--timeout", "0s"])
        .run()
        .status(2)
        .stderr_has("--timeout")
        .stderr_has("longer than zero");
}

#[test]
fn defect_7_a_number_where_a_condition_id_belongs_is_a_script_error() {
    let exchange = fixture();
    for filter in ["#{market: 5}", "#{asset_id: 1.5}", "#{id: true}"] {
        let script = exchange.script("filter.rhai", &format!("open_orders({filter}).len()"));
        exchange
            .clobscript()
            .arg("run")
            .arg(&script)
            .run()
            .status(1)
            .stderr_has("must be a string");
    }
    let script = exchange.script("trades.rhai", "trades(#{market: 5, after: \"soon\"}).len()");
    exchange
        .clobscript()
        .arg("run")
        .arg(&script)
        .run()
        .status(1)
        .stderr_has("must be a string");
}

// ---- defect 8: messages that mislead ----------------------------------------------------

#[test]
fn defect_8_order_of_an_unknown_id_returns_unit() {
    let exchange = fixture();
    let script = exchange.script(
        "lookup.rhai",
        "let o = order(\"nope\");\nlet known = order(\"0x0a01\");\n[o == (), known.id]\n",
    );
    let out = exchange
        .clobscript()
        .args(["run", "--json"])
        .arg(&script)
        .run();
    out.status(0);
    assert_eq!(out.json(), serde_json::json!([true, "0x0a01"]));
}

#[test]
fn defect_8_run_with_sim_first_takes_the_script_after_it() {
    let exchange = fixture();
    let out = offline(&exchange)
        .args(["run", "--sim", "scripts/report.rhai"])
        .run();
    out.status(0);
    offline(&exchange)
        .args(["run", "--sim", "scripts/cancel_stale.rhai", "--dry-run"])
        .run()
        .status(0)
        .stderr_has("dry run");
    // A fixture after --sim still needs the script.
    offline(&exchange)
        .args(["run", "--sim", "fixture.json"])
        .run()
        .status(2)
        .stderr_has("<SCRIPT>");
}

#[test]
fn defect_8_the_request_timeout_is_a_flag_and_its_advice_names_it() {
    let exchange = Exchange::start(SimConfig {
        orders: 10,
        latency: Some(Duration::from_millis(1500)),
        ..SimConfig::default()
    });
    let script = exchange.script("count.rhai", "open_orders().len()");
    exchange
        .clobscript()
        .args(["--request-timeout", "200ms", "run"])
        .arg(&script)
        .run()
        .status(3)
        .stderr_has("within 200ms")
        .stderr_has("--request-timeout");
    let out = exchange
        .clobscript()
        .args(["--request-timeout", "10s", "run", "--json"])
        .arg(&script)
        .run();
    out.status(0);
    exchange
        .clobscript()
        .args(["--request-timeout", "0s", "run"])
        .arg(&script)
        .run()
        .status(2)
        .stderr_has("--request-timeout must be longer than zero");
}

/// Spawns the binary with stderr read line by line on a thread.
fn spawn_reading_stderr(clob: Clob) -> (Child, mpsc::Receiver<String>) {
    let mut command = clob.into_command();
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("clobscript starts");
    let stderr = child.stderr.take().expect("stderr piped");
    let (lines, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    (child, receiver)
}

/// Reads lines until one contains `text`; returns every line read (panics if it never comes).
fn until_line(lines: &mpsc::Receiver<String>, text: &str) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        match lines.recv() {
            Ok(line) => {
                let found = line.contains(text);
                seen.push(line);
                if found {
                    return seen;
                }
            }
            Err(mpsc::RecvError) => panic!("stderr ended before {text:?}:\n{}", seen.join("\n")),
        }
    }
}

fn finish(mut child: Child, lines: &mpsc::Receiver<String>) -> (Option<i32>, Vec<String>) {
    let status = child.wait().expect("clobscript ends");
    (status.code(), lines.iter().collect())
}

#[test]
fn defect_8_heartbeat_says_it_stops_heartbeats_not_runs_with_a_grace_period() {
    let exchange = fixture();
    let mut clob = exchange.clobscript();
    clob.args(["heartbeat", "--interval", "1s"]);
    let (child, lines) = spawn_reading_stderr(clob);
    until_line(&lines, "first heartbeat acknowledged");
    send_signal(&child, "TERM");
    let (code, rest) = finish(child, &lines);
    assert_eq!(code, Some(0), "{rest:?}");
    let text = rest.join("\n");
    assert!(text.contains("stopping the heartbeats"), "{text}");
    assert!(
        !text.contains("grace period") && !text.contains("new runs"),
        "{text}"
    );
}

#[test]
fn defect_8_every_command_prefixes_its_errors_with_error() {
    let exchange = fixture();
    let missing = exchange.work_dir().join("missing.rhai");
    let outputs = [
        offline(&exchange).arg("run").arg(&missing).run(),
        offline(&exchange).arg("check").arg(&missing).run(),
        offline(&exchange)
            .args(["schedule"])
            .arg(&missing)
            .args(["--every", "1m"])
            .run(),
        offline(&exchange)
            .args(["sim", "--port", "0", "--fixture", "missing.json"])
            .run(),
        offline(&exchange).args(["heartbeat"]).run(),
        offline(&exchange).args(["repl", "--arg", "oops"]).run(),
    ];
    for out in outputs {
        out.status(2);
        let first = out.stderr.lines().next().unwrap_or_default();
        assert!(first.starts_with("error: "), "{first:?} in\n{}", out.stderr);
        assert!(!out.stderr.contains("clobscript: "), "{}", out.stderr);
    }
}

// ---- defect 9: heartbeats ---------------------------------------------------------------

#[test]
fn defect_9_heartbeats_every_second_against_a_slow_exchange_do_not_fail() {
    let exchange = Exchange::start(SimConfig {
        orders: 10,
        latency: Some(Duration::from_millis(1200)),
        ..SimConfig::default()
    });
    let key = exchange.sim().credentials().api_key.clone();
    let mut clob = exchange.clobscript();
    clob.args(["heartbeat", "--interval", "1s", "-v"]);
    let (child, lines) = spawn_reading_stderr(clob);
    until_line(&lines, "first heartbeat acknowledged");
    let first = exchange.sim().heartbeat_id(&key);
    // Two more acknowledged beats, each slower than the interval.
    until_line(&lines, "heartbeat acknowledged");
    until_line(&lines, "heartbeat acknowledged");
    assert_ne!(exchange.sim().heartbeat_id(&key), first);
    send_signal(&child, "TERM");
    let (code, rest) = finish(child, &lines);
    assert_eq!(code, Some(0));
    assert!(!rest.join("\n").contains("HEARTBEAT FAILED"), "{rest:?}");
}

#[test]
fn defect_9_an_invalid_heartbeat_id_restarts_the_chain_from_an_empty_id() {
    // The switch fires between beats, so the exchange forgets the chain's id each time.
    let exchange = Exchange::start(SimConfig {
        orders: 10,
        heartbeat_timeout: Duration::from_millis(200),
        ..SimConfig::default()
    });
    let key = exchange.sim().credentials().api_key.clone();
    let mut clob = exchange.clobscript();
    clob.args(["heartbeat", "--interval", "1s"]);
    let (child, lines) = spawn_reading_stderr(clob);
    until_line(&lines, "first heartbeat acknowledged");
    let seen = until_line(&lines, "starting a new heartbeat chain");
    assert!(!seen.join("\n").contains("HEARTBEAT FAILED"), "{seen:?}");
    // The new chain got through: the exchange holds a fresh id.
    let mut armed = false;
    for _ in 0..100 {
        if exchange.sim().heartbeat_armed(&key) {
            armed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(armed, "the restarted chain armed the switch again");
    send_signal(&child, "TERM");
    let (code, _) = finish(child, &lines);
    assert_eq!(code, Some(0));
    let _ = OPEN;
}

// ---- completions and the manual page ------------------------------------------------------

#[test]
fn completions_are_generated_for_every_shell_from_the_command_line_definition() {
    let exchange = fixture();
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef clobscript"),
        ("fish", "complete -c clobscript"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let out = offline(&exchange).args(["completions", shell]).run();
        out.status(0).stdout_has(marker);
        for word in ["schedule", "max-cancels", "request-timeout"] {
            out.stdout_has(word);
        }
    }
    offline(&exchange)
        .args(["completions", "tcsh"])
        .run()
        .status(2)
        .stderr_has("invalid value 'tcsh'");
}

#[test]
fn the_manual_page_is_roff_covering_every_command_and_flag() {
    let exchange = fixture();
    let out = offline(&exchange).arg("man").run();
    out.status(0).stdout_has(".TH clobscript");
    for word in [
        "CLOBSCRIPT RUN",
        "CLOBSCRIPT SCHEDULE",
        "CLOBSCRIPT SIM",
        "\\-\\-max\\-cancels",
        "\\-\\-request\\-timeout",
        "\\-\\-page\\-size",
    ] {
        out.stdout_has(word);
    }
}
