//! The client under the exchange's rate limits, end to end: the real binary against a
//! simulator that enforces the per-signer cancel buckets (`--rate-limit`, tier standard unless
//! a test needs another), with the exchange's state checked afterwards.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Stdio;

use clobscript::sim::{RateLimitMode, SimConfig, Tier};
use common::{Exchange, Output, ids};
use serde_json::Value;

fn metered(orders: usize, mode: RateLimitMode, tier: Tier) -> Exchange {
    Exchange::start(SimConfig {
        orders,
        rate_limit: Some(mode),
        tier,
        ..SimConfig::default()
    })
}

fn playbook(name: &str) -> String {
    format!("{}/scripts/{name}.rhai", env!("CARGO_MANIFEST_DIR"))
}

fn statuses(exchange: &Exchange) -> BTreeMap<String, String> {
    exchange.statuses()
}

/// Ids whose status changed from LIVE to CANCELED, and a check that nothing else changed.
fn newly_canceled(
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) -> BTreeSet<String> {
    let mut canceled = BTreeSet::new();
    for (id, was) in before {
        let now = &after[id];
        if was != now {
            assert_eq!((was.as_str(), now.as_str()), ("LIVE", "CANCELED"), "{id}");
            canceled.insert(id.clone());
        }
    }
    canceled
}

fn set(value: &Value) -> BTreeSet<String> {
    ids(value).into_iter().collect()
}

/// The run was never refused by the rate limiter.
#[track_caller]
fn never_refused(out: &Output) {
    assert!(
        !out.stderr.contains("requests refused") || out.stderr.contains(" 0 requests refused"),
        "{}",
        out.stderr
    );
}

#[test]
fn every_playbook_succeeds_under_the_standard_tier_and_cancels_exactly_what_it_reports() {
    let exchange = metered(1000, RateLimitMode::Enforce, Tier::Standard);
    let key = exchange.sim().credentials().api_key.clone();
    let market = exchange
        .sim()
        .orders_of(&key)
        .into_iter()
        .find(|o| o.status == "LIVE")
        .map(|o| o.market)
        .expect("an open order");
    let runs: Vec<(&str, Vec<String>)> = vec![
        ("report", vec![]),
        ("cancel_expiring", vec!["minutes=100000".into()]),
        ("cancel_far_from_mid", vec!["distance=0.05".into()]),
        ("cancel_not_scoring", vec![]),
        ("cancel_market", vec![format!("market={market}")]),
        ("cancel_stale", vec!["minutes=0".into()]),
    ];
    let (mut total, mut largest) = (0, 0);
    for (name, args) in runs {
        let before = statuses(&exchange);
        let mut clob = exchange.clobscript();
        clob.args(["run", &playbook(name), "--json"]);
        for arg in &args {
            clob.args(["--arg", arg]);
        }
        let out = clob.run();
        out.status(0);
        never_refused(&out);
        let changed = newly_canceled(&before, &statuses(&exchange));
        let value = out.json();
        if name == "report" {
            assert!(changed.is_empty(), "report changes nothing");
            continue;
        }
        assert_eq!(
            set(&value["canceled"]),
            changed,
            "{name}: reported == canceled"
        );
        total += changed.len();
        largest = largest.max(changed.len());
    }
    assert!(
        largest > 120,
        "a playbook needed several paced batches: {largest}"
    );
    assert!(total > 240, "{total}");
    assert!(exchange.sim().open_order_ids_of(&key).is_empty());
}

#[test]
fn two_processes_on_one_signer_both_finish_exactly() {
    let exchange = metered(700, RateLimitMode::Enforce, Tier::Standard);
    let key = exchange.sim().credentials().api_key.clone();
    let mut open = exchange.sim().open_order_ids_of(&key);
    open.sort();
    assert!(open.len() > 300, "{}", open.len());
    let (a, b): (Vec<_>, Vec<_>) = open.iter().enumerate().partition(|(i, _)| i % 2 == 0);
    let half = |part: Vec<(usize, &String)>| {
        part.into_iter()
            .map(|(_, id)| id.as_str())
            .collect::<Vec<_>>()
            .join(",")
    };
    let script = exchange.script(
        "mine.rhai",
        "let mine = arg(\"ids\", \"\").split(\",\");\ncancel_orders(mine)\n",
    );
    let before = statuses(&exchange);
    let children: Vec<_> = [half(a), half(b)]
        .into_iter()
        .map(|list| {
            let mut clob = exchange.clobscript();
            clob.args(["run", "--json"])
                .arg(&script)
                .args(["--arg", &format!("ids={list}")]);
            clob.into_command()
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("starts")
        })
        .collect();
    let mut reported = BTreeSet::new();
    for child in children {
        let output = child.wait_with_output().expect("ends");
        let out = Output {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        out.status(0);
        let canceled = set(&out.json()["canceled"]);
        assert!(reported.is_disjoint(&canceled));
        reported.extend(canceled);
    }
    let changed = newly_canceled(&before, &statuses(&exchange));
    assert_eq!(reported, changed);
    assert_eq!(changed, open.into_iter().collect());
}

#[test]
fn injected_failures_and_rate_limits_together_end_in_the_exact_intended_state() {
    let exchange = Exchange::start(SimConfig {
        orders: 450,
        rate_limit: Some(RateLimitMode::Enforce),
        tier: Tier::Silver,
        fail_rate: 0.2,
        seed: 7,
        ..SimConfig::default()
    });
    let key = exchange.sim().credentials().api_key.clone();
    let open: BTreeSet<String> = exchange.sim().open_order_ids_of(&key).into_iter().collect();
    let before = statuses(&exchange);
    let script = exchange.script(
        "every.rhai",
        "let ids = [];\nfor o in open_orders() { ids.push(o.id); }\nlet r = cancel_orders(ids);\n\
         // Half of them once more: already canceled, they must stay under not_canceled.\n\
         let again = cancel_orders(ids.extract(0, 10));\n\
         #{ canceled: r.canceled, again: again.not_canceled.keys() }\n",
    );
    let value = exchange.run_json(&script);
    let changed = newly_canceled(&before, &statuses(&exchange));
    assert_eq!(changed, open, "every open order canceled, nothing else");
    assert_eq!(set(&value["canceled"]), open, "reported exactly");
    assert_eq!(value["again"].as_array().map(Vec::len), Some(10));
    assert!(
        exchange.sim().faults_injected().lost > 0 || exchange.sim().faults_injected().rejected > 0
    );
}

#[test]
fn in_warning_mode_the_client_still_paces_and_cancels_everything() {
    let exchange = metered(400, RateLimitMode::Warn, Tier::Standard);
    let key = exchange.sim().credentials().api_key.clone();
    let before = statuses(&exchange);
    let out = exchange
        .clobscript()
        .args([
            "run",
            &playbook("cancel_stale"),
            "--json",
            "--arg",
            "minutes=0",
        ])
        .run();
    out.status(0);
    never_refused(&out);
    out.stderr_has("waiting");
    let changed = newly_canceled(&before, &statuses(&exchange));
    assert_eq!(set(&out.json()["canceled"]), changed);
    assert!(exchange.sim().open_order_ids_of(&key).is_empty());
}

#[test]
fn a_timeout_shorter_than_the_estimated_work_says_so_up_front() {
    let exchange = metered(900, RateLimitMode::Enforce, Tier::Standard);
    let key = exchange.sim().credentials().api_key.clone();
    let open = exchange.sim().open_order_ids_of(&key).len();
    assert!(open > 400, "{open}");
    let out = exchange
        .clobscript()
        .args([
            "run",
            &playbook("cancel_stale"),
            "--arg",
            "minutes=0",
            "--timeout",
            "2s",
        ])
        .run();
    out.status(1)
        .stderr_has("warning: cancel_orders:")
        .stderr_has("at the standard tier")
        .stderr_has("before --timeout")
        .stderr_has("timed out");
    // What the summary counts is what the exchange canceled.
    let left = exchange.sim().open_order_ids_of(&key).len();
    let canceled = open - left;
    assert!(left > 0, "the timeout stopped it");
    out.stderr_has(&format!("{canceled} orders canceled"));
}

#[test]
fn a_dry_run_lists_the_orders_and_the_time_the_real_run_would_take() {
    let exchange = metered(400, RateLimitMode::Enforce, Tier::Standard);
    let key = exchange.sim().credentials().api_key.clone();
    let open = exchange.sim().open_order_ids_of(&key);
    let script = exchange.script("all.rhai", "cancel_orders(open_orders())\n");
    let out = exchange
        .clobscript()
        .args(["run", "--json", "--dry-run"])
        .arg(&script)
        .run();
    out.status(0)
        .stderr_has("| id ")
        .stderr_has("| market ")
        .stderr_has(&format!("{} orders would be canceled", open.len()))
        .stderr_has("requests of up to 120 ids")
        .stderr_has("standard tier");
    let value = out.json();
    let rows = value["would_cancel_orders"].as_array().expect("rows");
    assert_eq!(rows.len(), open.len(), "every row with --json");
    assert!(
        rows[0]["side"].is_string() && rows[0]["age"].is_string(),
        "{}",
        rows[0]
    );
    assert_eq!(
        value["plan"]["requests"].as_u64(),
        Some(open.len().div_ceil(120) as u64)
    );
    assert_eq!(exchange.sim().open_order_ids_of(&key).len(), open.len());
}
