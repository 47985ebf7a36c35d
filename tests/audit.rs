//! The audit log end to end: a log that cannot be written stops a run before anything is
//! sent, and `clobscript audit` / `audit reconcile` read a run back against a simulator.

mod common;

use common::{Exchange, OPEN};

#[test]
fn audit_log_that_cannot_be_written_exits_2() {
    let exchange = Exchange::fixture(&common::Book::fixture());
    let before = exchange.statuses();
    let script = exchange.script("all.rhai", "cancel_all();");
    for extra in [&[][..], &["--dry-run"][..], &["--max-cancels", "100"][..]] {
        let out = exchange
            .clobscript()
            .args(["run".as_ref(), script.as_os_str()])
            .args(["--audit", "/dev/full"])
            .args(extra)
            .run();
        out.status(2)
            .stderr_has("cannot write the audit log /dev/full")
            .stderr_has("--audit FILE");
        assert!(
            !out.stderr.contains("safety guard"),
            "not a guard: {}",
            out.stderr
        );
    }
    assert_eq!(exchange.sim().requests_served(), 0, "nothing was sent");
    assert_eq!(exchange.statuses(), before);
    assert!(OPEN.iter().all(|id| exchange.status(id) == "LIVE"));
}

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::Duration;

use clobscript::sim::SimConfig;
use common::{CANCELED_OLD, OLD_A, OLD_B, read_json_lines, wait_for};
use serde_json::Value;

fn strings(value: &Value) -> BTreeSet<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn audit_tells_what_the_last_run_did_and_any_run_by_its_id() {
    let exchange = Exchange::fixture(&common::Book::fixture());
    let log = exchange.work_dir().join("audit.jsonl");
    let first = exchange.script("first.rhai", r#"cancel("0x0a01");"#);
    let second = exchange.script(
        "second.rhai",
        r#"cancel_orders(["0x0b01", "0x0a07", "0xdoesnotexist"]);"#,
    );
    for script in [&first, &second] {
        exchange
            .clobscript()
            .arg("run")
            .arg(script)
            .arg("--audit")
            .arg(&log)
            .run()
            .status(0);
    }
    let last = exchange.audit_json(&log, &[]);
    assert!(
        last["script"]
            .as_str()
            .is_some_and(|s| s.ends_with("second.rhai"))
    );
    assert_eq!(last["host"], exchange.sim().url());
    assert_eq!(strings(&last["canceled"]), set(&[OLD_B]));
    let not_canceled = last["not_canceled"].as_object().expect("map");
    assert_eq!(
        not_canceled.keys().cloned().collect::<BTreeSet<_>>(),
        set(&[CANCELED_OLD, "0xdoesnotexist"])
    );
    assert!(
        not_canceled
            .values()
            .all(|reason| reason.as_str().is_some_and(|r| !r.is_empty()))
    );
    assert_eq!(strings(&last["unknown"]), BTreeSet::new());
    assert_eq!(last["requests"], 1);
    assert_eq!(last["requests_without_outcome"], 0);

    let runs: Vec<String> = read_json_lines(&log)
        .iter()
        .filter(|r| r["phase"] == "run")
        .map(|r| r["run"].as_str().expect("run id").to_owned())
        .collect();
    assert_eq!(runs.len(), 2);
    let first_report = exchange.audit_json(&log, &["--run", &runs[0][..8]]);
    assert_eq!(first_report["run"], runs[0].as_str());
    assert_eq!(strings(&first_report["canceled"]), set(&[OLD_A]));

    let text = exchange
        .clobscript()
        .args(["audit", "--audit"])
        .arg(&log)
        .run();
    text.status(0)
        .stdout_has(&format!("run {}", runs[1]))
        .stdout_has("canceled:     1")
        .stdout_has("not canceled: 2")
        .stdout_has("unknown:      0");
}

#[test]
fn audit_shows_what_a_dry_run_would_have_canceled() {
    let exchange = Exchange::fixture(&common::Book::fixture());
    let log = exchange.work_dir().join("audit.jsonl");
    let script = exchange.script("dry.rhai", r#"cancel_orders(["0x0a01", "0x0b01"]);"#);
    exchange
        .clobscript()
        .arg("run")
        .arg(&script)
        .arg("--dry-run")
        .arg("--audit")
        .arg(&log)
        .run()
        .status(0);
    let report = exchange.audit_json(&log, &[]);
    assert_eq!(report["dry_run"], true);
    assert_eq!(strings(&report["would_cancel"]), set(&[OLD_A, OLD_B]));
    assert_eq!(strings(&report["canceled"]), BTreeSet::new());
    assert_eq!(report["requests"], 0);
}

#[test]
fn audit_refuses_a_missing_log_or_an_unknown_run() {
    let exchange = Exchange::fixture(&common::Book::fixture());
    let missing = exchange.work_dir().join("nope.jsonl");
    exchange
        .clobscript()
        .args(["audit", "--audit"])
        .arg(&missing)
        .run()
        .status(2)
        .stderr_has("cannot read the audit log");
    let log = exchange.work_dir().join("audit.jsonl");
    let script = exchange.script("one.rhai", r#"cancel("0x0a01");"#);
    exchange
        .clobscript()
        .arg("run")
        .arg(&script)
        .arg("--audit")
        .arg(&log)
        .run()
        .status(0);
    exchange
        .clobscript()
        .args(["audit", "--run", "zzzz", "--audit"])
        .arg(&log)
        .run()
        .status(2)
        .stderr_has("no run zzzz");
}

#[test]
fn reconcile_settles_a_run_whose_outcome_was_lost() {
    let exchange = Exchange::start(SimConfig {
        open_orders: Some(60),
        page_size: 10_000,
        latency: Some(Duration::from_millis(300)),
        ..SimConfig::default()
    });
    let log = exchange.work_dir().join("audit.jsonl");
    let script = exchange.script("all.rhai", "cancel_orders(open_orders());");
    let mut clob = exchange.clobscript();
    clob.arg("run").arg(&script).arg("--audit").arg(&log);
    let mut child = clob
        .into_command()
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starts");
    wait_for(&log, "sending", 1, &mut child);
    common::send_signal(&child, "KILL");
    child.wait().expect("ends");
    // The request in flight still reaches the exchange.
    std::thread::sleep(Duration::from_millis(900));

    let before = exchange.audit_json(&log, &[]);
    let unknown = strings(&before["unknown"]);
    assert!(
        !unknown.is_empty(),
        "the killed request's outcome is unknown"
    );
    assert_eq!(before["requests_without_outcome"], 1);

    // Against another exchange: refused, nothing appended.
    let lines = read_json_lines(&log).len();
    exchange
        .clobscript()
        .no_host()
        .args([
            "audit",
            "reconcile",
            "--host",
            "http://127.0.0.1:9",
            "--audit",
        ])
        .arg(&log)
        .run()
        .status(2)
        .stderr_has("reconcile against the exchange the run used");
    assert_eq!(read_json_lines(&log).len(), lines);

    let out = exchange
        .clobscript()
        .args(["audit", "reconcile", "--json", "--audit"])
        .arg(&log)
        .run();
    out.status(0);
    let value = out.json();
    let statuses = value["reconciled"]["statuses"].as_object().expect("map");
    assert_eq!(
        statuses.keys().cloned().collect::<BTreeSet<_>>(),
        unknown,
        "every unknown id was read"
    );
    let exchange_now = exchange.statuses();
    for (id, status) in statuses {
        assert_eq!(status.as_str(), Some(exchange_now[id].as_str()), "{id}");
    }
    let reconciled: Vec<Value> = read_json_lines(&log)
        .into_iter()
        .filter(|r| r["phase"] == "reconciled")
        .collect();
    assert!(!reconciled.is_empty());
    assert!(reconciled.iter().all(|r| r["run"] == before["run"]));

    let after = exchange.audit_json(&log, &[]);
    assert_eq!(after["run"], before["run"], "reconcile did not start a run");
    assert_eq!(
        strings(&after["unknown"]),
        BTreeSet::new(),
        "nothing stays unknown"
    );
    let canceled = strings(&after["canceled"]);
    for id in &unknown {
        if exchange_now[id] == "CANCELED" {
            assert!(canceled.contains(id), "{id}");
        } else {
            assert!(after["not_canceled"].get(id).is_some(), "{id}");
        }
    }
    // A second reconcile has nothing left to read.
    exchange
        .clobscript()
        .args(["audit", "reconcile", "--audit"])
        .arg(&log)
        .run()
        .status(0)
        .stdout_has("nothing to reconcile");
}

#[test]
fn each_run_opens_the_log_afresh_so_it_can_be_rotated_between_runs() {
    let exchange = Exchange::fixture(&common::Book::fixture());
    let log = exchange.work_dir().join("audit.jsonl");
    let rotated = exchange.work_dir().join("audit.jsonl.1");
    let script = exchange.script("one.rhai", r#"cancel("0x0a01");"#);
    let run = || {
        exchange
            .clobscript()
            .arg("run")
            .arg(&script)
            .arg("--audit")
            .arg(&log)
            .run()
            .status(0);
    };
    run();
    std::fs::rename(&log, &rotated).expect("rotate");
    run();
    let old = read_json_lines(&rotated);
    let new = read_json_lines(&log);
    assert_eq!(new[0]["phase"], "run", "the new file begins with its run");
    assert_ne!(old[0]["run"], new[0]["run"]);

    // The scheduler opens it per scheduled run too.
    let log = exchange.work_dir().join("sched.jsonl");
    let rotated = exchange.work_dir().join("sched.jsonl.1");
    let mut clob = exchange.clobscript();
    clob.arg("schedule")
        .arg(&script)
        .args(["--every", "2s", "--max-runs", "2", "--audit"])
        .arg(&log);
    let mut child = clob
        .into_command()
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starts");
    wait_for(&log, "done", 1, &mut child);
    std::fs::rename(&log, &rotated).expect("rotate");
    assert!(child.wait().expect("ends").success());
    let first: BTreeSet<String> = read_json_lines(&rotated)
        .iter()
        .map(|r| r["run"].as_str().unwrap_or_default().to_owned())
        .collect();
    let second: BTreeSet<String> = read_json_lines(&log)
        .iter()
        .map(|r| r["run"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(first.len(), 1, "one run before the rotation");
    assert_eq!(second.len(), 1, "the next run wrote a new file");
    assert!(first.is_disjoint(&second));
}

#[test]
fn a_log_cut_short_by_kill_9_still_records_and_reads_the_next_run() {
    let exchange = Exchange::fixture(&common::Book::fixture());
    let log = exchange.work_dir().join("audit.jsonl");
    // What `kill -9` in the middle of writing a `sending` record leaves: no newline at the end.
    std::fs::write(
        &log,
        br#"{"time":"2026-12-01T00:00:00.000Z","run":"r0","phase":"sen"#,
    )
    .expect("a torn log");
    let script = exchange.script("one.rhai", &format!(r#"cancel("{OLD_A}");"#));
    exchange
        .clobscript()
        .arg("run")
        .arg(&script)
        .arg("--audit")
        .arg(&log)
        .run()
        .status(0);
    assert_eq!(exchange.status(OLD_A), "CANCELED");
    let report = exchange.audit_json(&log, &[]);
    assert_eq!(strings(&report["canceled"]), set(&[OLD_A]));
    assert_eq!(report["requests"], 1);
    assert_eq!(report["unreadable_lines"], 1, "only the torn line is lost");
    let human = exchange
        .clobscript()
        .args(["audit", "--audit"])
        .arg(&log)
        .run();
    human
        .status(0)
        .stdout_has("canceled:     1")
        .stdout_has("1 line of the log could not be read");
}
