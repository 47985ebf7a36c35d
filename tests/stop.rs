//! Stopping a large cancel part-way, end to end: the real binary against a simulator whose
//! answers are slowed down (so batches are in flight), stopped with SIGINT, SIGTERM,
//! `--timeout` or `kill -9` once the audit log shows the cancel under way. Afterwards the
//! exchange's real state is compared with the summary, `clobscript audit` and the log itself.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use clobscript::sim::{RateLimitMode, SimConfig, Tier};
use common::{Exchange, Output, read_json_lines_torn, wait_for};
use serde_json::Value;

/// Requests a cancel keeps in flight at once.
const CONCURRENCY: usize = 4;

const SCRIPT: &str = r#"
let ids = open_orders(#{ fields: ["id"] });
cancel_orders(ids);
"#;

struct Setup {
    open: usize,
    latency_ms: u64,
    fail_rate: f64,
    rate_limit: Option<Tier>,
}

impl Setup {
    fn plain(open: usize) -> Setup {
        Setup {
            open,
            latency_ms: 250,
            fail_rate: 0.0,
            rate_limit: None,
        }
    }

    fn start(&self) -> Exchange {
        Exchange::start(SimConfig {
            open_orders: Some(self.open),
            page_size: 10_000,
            latency: Some(Duration::from_millis(self.latency_ms)),
            fail_rate: self.fail_rate,
            rate_limit: self.rate_limit.map(|_| RateLimitMode::Enforce),
            tier: self.rate_limit.unwrap_or_default(),
            ..SimConfig::default()
        })
    }
}

fn strings(value: &Value) -> BTreeSet<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

fn spawn(exchange: &Exchange, log: &Path, extra: &[&str]) -> Child {
    spawn_script(
        exchange,
        &exchange.script("cancel.rhai", SCRIPT),
        log,
        extra,
    )
}

/// `clobscript run SCRIPT --audit LOG`, its stderr kept for the summary line.
fn spawn_script(exchange: &Exchange, script: &Path, log: &Path, extra: &[&str]) -> Child {
    let mut clob = exchange.clobscript();
    clob.arg("run")
        .arg(script)
        .arg("--audit")
        .arg(log)
        .args(extra);
    clob.into_command()
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("clobscript starts")
}

fn kill(child: &Child, signal: &str) {
    common::send_signal(child, signal);
}

/// The summary line's confirmed cancels (`… 120 orders canceled …`).
fn summary_canceled(out: &Output) -> usize {
    let line = out
        .stderr
        .lines()
        .rfind(|l| l.contains(" canceled, ") && l.contains(" not canceled"))
        .unwrap_or_else(|| panic!("no summary line:\n{}", out.stderr));
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words
        .iter()
        .position(|w| w.starts_with("canceled,"))
        .expect("canceled count");
    words[at - 2].parse().expect("a number")
}

/// What the log, the exchange and `clobscript audit` say, checked against each other.
struct Truth {
    /// Ids recorded `done` + canceled.
    confirmed: BTreeSet<String>,
    /// Ids sent without an outcome, by `clobscript audit`.
    unknown: BTreeSet<String>,
}

fn check(exchange: &Exchange, before: &BTreeMap<String, String>, log: &Path) -> Truth {
    // A `kill -9` may land while a record is being written: its line is cut short, and the
    // request it announces never left (records are whole on disk before a request leaves).
    let (records, torn) = read_json_lines_torn(log);
    let after = exchange.statuses();
    let sent: BTreeSet<String> = records
        .iter()
        .filter(|r| r["phase"] == "sending")
        .flat_map(|r| strings(&r["ids"]))
        .collect();
    let confirmed: BTreeSet<String> = records
        .iter()
        .filter(|r| r["phase"] == "done")
        .flat_map(|r| strings(&r["canceled"]))
        .collect();
    let largest_batch = records
        .iter()
        .filter(|r| r["phase"] == "sending")
        .map(|r| r["ids"].as_array().map_or(0, Vec::len))
        .max()
        .unwrap_or(0);
    for id in &confirmed {
        assert_eq!(after[id], "CANCELED", "{id} recorded canceled");
    }
    let canceled_now: BTreeSet<String> = before
        .iter()
        .filter(|(id, was)| *was == "LIVE" && after[*id] == "CANCELED")
        .map(|(id, _)| id.clone())
        .collect();
    for id in &canceled_now {
        assert!(
            sent.contains(id),
            "{id} was canceled without a sending record"
        );
    }
    let report = exchange.audit_json(log, &[]);
    assert_eq!(strings(&report["canceled"]), confirmed, "audit: canceled");
    assert_eq!(
        report["unreadable_lines"],
        u64::from(torn),
        "audit counts the torn line"
    );
    let unknown = strings(&report["unknown"]);
    assert!(
        unknown.len() <= CONCURRENCY * largest_batch,
        "{} unknown > {CONCURRENCY} × {largest_batch} in flight",
        unknown.len()
    );
    // What was never sent is still open on the exchange.
    for id in strings(&report["never_sent"]) {
        assert_eq!(after[&id], "LIVE", "{id} never sent");
    }
    Truth { confirmed, unknown }
}

/// Stops the run with `signal` once `phase` has been recorded `count` times.
fn stopped_with(setup: &Setup, signal: &str, phase: &str, count: usize) {
    let exchange = setup.start();
    let before = exchange.statuses();
    let log = exchange.work_dir().join("audit.jsonl");
    let mut child = spawn(&exchange, &log, &[]);
    wait_for(&log, phase, count, &mut child);
    kill(&child, signal);
    let out = common::wait(child);
    out.status(130);
    let truth = check(&exchange, &before, &log);
    assert_eq!(
        summary_canceled(&out),
        truth.confirmed.len(),
        "{}",
        out.stderr
    );
    assert!(truth.unknown.is_empty() || out.stderr.contains("unknown outcome"));
}

#[test]
fn sigint_during_the_first_request_keeps_its_answer() {
    stopped_with(&Setup::plain(4000), "INT", "sending", 1);
}

#[test]
fn sigint_after_the_first_answer_counts_every_confirmed_cancel() {
    stopped_with(&Setup::plain(8000), "INT", "done", 1);
}

#[test]
fn sigterm_after_the_first_answer_counts_every_confirmed_cancel() {
    stopped_with(&Setup::plain(8000), "TERM", "done", 1);
}

#[test]
fn sigterm_under_the_rate_limit_and_injected_failures_stays_truthful() {
    let setup = Setup {
        open: 1500,
        latency_ms: 100,
        fail_rate: 0.2,
        rate_limit: Some(Tier::Silver),
    };
    stopped_with(&setup, "TERM", "done", 2);
}

#[test]
fn a_timeout_mid_cancel_counts_every_confirmed_cancel() {
    let setup = Setup {
        open: 1500,
        latency_ms: 100,
        fail_rate: 0.0,
        rate_limit: Some(Tier::Standard),
    };
    let exchange = setup.start();
    let before = exchange.statuses();
    let log = exchange.work_dir().join("audit.jsonl");
    let child = spawn(&exchange, &log, &["--timeout", "3s"]);
    let out = common::wait(child);
    out.status(1).stderr_has("timed out");
    let truth = check(&exchange, &before, &log);
    assert!(!truth.confirmed.is_empty(), "some cancels were answered");
    assert_eq!(
        summary_canceled(&out),
        truth.confirmed.len(),
        "{}",
        out.stderr
    );
    let open_left = exchange
        .statuses()
        .values()
        .filter(|s| *s == "LIVE")
        .count();
    assert!(open_left > 0, "the timeout stopped the cancel part-way");
}

fn killed_at(setup: &Setup, phase: &str, count: usize) {
    let exchange = setup.start();
    let before = exchange.statuses();
    let log = exchange.work_dir().join("audit.jsonl");
    let mut child = spawn(&exchange, &log, &[]);
    wait_for(&log, phase, count, &mut child);
    kill(&child, "KILL");
    let out = common::wait(child);
    assert_eq!(out.code, None, "killed");
    // Answers of requests in flight may still land on the exchange: let them.
    std::thread::sleep(Duration::from_millis(setup.latency_ms * 3));
    check(&exchange, &before, &log);
}

#[test]
fn kill_9_during_the_first_request_leaves_only_it_unknown() {
    killed_at(&Setup::plain(4000), "sending", 1);
}

#[test]
fn kill_9_after_the_first_answer_leaves_at_most_the_requests_in_flight_unknown() {
    killed_at(&Setup::plain(8000), "done", 1);
}

#[test]
fn kill_9_under_the_rate_limit_and_injected_failures_stays_truthful() {
    let setup = Setup {
        open: 1500,
        latency_ms: 100,
        fail_rate: 0.2,
        rate_limit: Some(Tier::Silver),
    };
    killed_at(&setup, "done", 2);
    killed_at(&setup, "sending", 4);
}

/// A request still unanswered when the stop's grace runs out is recorded `abandoned`; its ids
/// are unknown (not counted canceled, not "never sent"), the exchange applies it anyway, and
/// `audit reconcile` then settles them from the exchange's own state.
#[test]
fn a_request_that_outlasts_the_grace_is_recorded_abandoned_and_reconcile_settles_it() {
    // Every answer takes longer than the 2 s grace a stopped run gives requests in flight.
    let exchange = Exchange::start(SimConfig {
        orders: 40,
        latency: Some(Duration::from_secs(3)),
        ..SimConfig::default()
    });
    let key = exchange.sim().credentials().api_key.clone();
    let ids: BTreeSet<String> = exchange
        .sim()
        .open_order_ids_of(&key)
        .into_iter()
        .take(5)
        .collect();
    assert_eq!(ids.len(), 5, "the account has open orders");
    let list: Vec<String> = ids.iter().map(|id| format!("{id:?}")).collect();
    let script = exchange.script(
        "five.rhai",
        &format!("cancel_orders([{}]);", list.join(", ")),
    );
    let log = exchange.work_dir().join("audit.jsonl");
    let mut child = spawn_script(&exchange, &script, &log, &[]);
    wait_for(&log, "sending", 1, &mut child);
    kill(&child, "INT");
    let out = common::wait(child);
    out.status(130).stderr_has("unknown outcome");
    assert_eq!(summary_canceled(&out), 0, "nothing was confirmed");

    let records = read_json_lines_torn(&log).0;
    let phases: Vec<&str> = records
        .iter()
        .filter(|r| r["request"] == "DELETE /orders")
        .filter_map(|r| r["phase"].as_str())
        .collect();
    assert_eq!(phases, ["sending", "abandoned"], "{records:?}");
    let report = exchange.audit_json(&log, &[]);
    assert_eq!(strings(&report["unknown"]), ids, "all five are unknown");
    assert!(strings(&report["canceled"]).is_empty());
    assert!(strings(&report["never_sent"]).is_empty(), "they were sent");

    // The exchange applies the request once its delay is over.
    let give_up = Instant::now() + Duration::from_secs(20);
    while ids.iter().any(|id| exchange.status(id) != "CANCELED") {
        assert!(
            Instant::now() < give_up,
            "the abandoned cancel never landed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    exchange
        .clobscript()
        .args(["audit", "reconcile", "--audit"])
        .arg(&log)
        .run()
        .status(0);
    let settled = exchange.audit_json(&log, &[]);
    assert_eq!(
        strings(&settled["canceled"]),
        ids,
        "reconcile found them canceled"
    );
    assert!(strings(&settled["unknown"]).is_empty());
}
