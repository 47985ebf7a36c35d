//! The safety guards, run by the real binary against a simulator started here: `--dry-run`
//! sends nothing, `--max-cancels` stops the call that would pass the limit; the exchange's
//! state is checked order by order afterwards.

#[path = "common/mod.rs"]
mod support;

use serde_json::Value;
use support::*;

fn playbook(name: &str) -> String {
    format!("scripts/{name}.rhai")
}

#[test]
fn dry_run_reports_what_would_be_canceled_and_leaves_the_exchange_untouched() {
    let exchange = Exchange::fixture(&Book::fixture());
    let before = exchange.statuses();
    let out = exchange
        .clobscript()
        .args(["run", &playbook("cancel_stale"), "--dry-run", "--json"])
        .run();
    out.status(0);
    assert_eq!(exchange.statuses(), before);
    let value = out.json();
    assert_eq!(ids(&value["would_cancel"]), sorted(&[OLD_A, OLD_B]));
    assert_eq!(ids(&value["canceled"]), Vec::<String>::new());
    assert_eq!(value["dry_run"], true);
    assert!(
        out.stderr
            .contains("dry run: 2 orders would have been canceled, no cancel was sent"),
        "{}",
        out.stderr
    );
    let audit = exchange.audit();
    assert_eq!(audit.len(), 2, "{audit:?}");
    assert_eq!(audit[0]["phase"], "run");
    assert_eq!(audit[0]["dry_run"], true);
    let audit = &audit[1..];
    assert_eq!(audit[0]["phase"], "dry_run");
    assert_eq!(ids(&audit[0]["would_cancel"]), sorted(&[OLD_A, OLD_B]));
}

#[test]
fn dry_run_of_cancel_all_lists_every_open_order_without_sending_a_cancel() {
    let exchange = Exchange::fixture(&Book::fixture());
    let before = exchange.statuses();
    let script = exchange.script("all.rhai", "cancel_all()");
    let out = exchange
        .clobscript()
        .arg("run")
        .arg(&script)
        .args(["--dry-run", "--json"])
        .run();
    out.status(0);
    assert_eq!(exchange.statuses(), before);
    assert_eq!(ids(&out.json()["would_cancel"]), sorted(OPEN));
}

const THREE_CALLS: &str = r#"
cancel("0x0a01");
cancel_orders(["0x0b01", "0x0a02"]);
cancel_orders(["0x0b02", "0x0a03"]);
print("not reached");
"#;

#[test]
fn max_cancels_stops_before_the_call_that_would_pass_the_limit() {
    let exchange = Exchange::fixture(&Book::fixture());
    let before = exchange.statuses();
    let script = exchange.script("three.rhai", THREE_CALLS);
    let out = exchange
        .clobscript()
        .arg("run")
        .arg(&script)
        .args(["--max-cancels", "3"])
        .run();
    out.status(4);
    assert_only_canceled(&before, &exchange.statuses(), &[OLD_A, OLD_B, FRESH_A]);
    assert!(!out.stdout.contains("not reached"));
    assert!(
        out.stderr.contains(
            "--max-cancels 3 stopped the run: `cancel_orders` would cancel 2 more orders after 3 \
             were sent for cancellation (5 > 3); nothing from this call was sent"
        ),
        "{}",
        out.stderr
    );
    out.stderr_has("three.rhai:4:1");
    out.stderr_has("3 orders canceled, 0 not canceled");
    let audit = exchange.audit();
    let refused: Vec<&Value> = audit.iter().filter(|r| r["phase"] == "refused").collect();
    assert_eq!(refused.len(), 1);
    assert_eq!(ids(&refused[0]["ids"]), sorted(&[FRESH_B, FAR_BUY]));
}

/// The guard counts the ids a call sends: an id given twice, once with spaces around it, and
/// a blank are one cancel, so a limit of 2 lets two such ids through.
#[test]
fn max_cancels_counts_each_id_once_as_it_is_sent() {
    let exchange = Exchange::fixture(&Book::fixture());
    let before = exchange.statuses();
    let script = exchange.script(
        "repeats.rhai",
        &format!(
            "let r = cancel_orders([\"{OLD_A}\", \" {OLD_A} \", \"\", \"{OLD_B}\", \"{OLD_B}\"]);\nr.canceled.len()\n"
        ),
    );
    let out = exchange
        .clobscript()
        .arg("run")
        .arg(&script)
        .args(["--max-cancels", "2", "--json"])
        .run();
    out.status(0);
    assert_eq!(out.stdout.trim(), "2", "{}", out.stderr);
    assert_only_canceled(&before, &exchange.statuses(), &[OLD_A, OLD_B]);
    let audit = exchange.audit();
    let sent: Vec<&Value> = audit.iter().filter(|r| r["phase"] == "sending").collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(ids(&sent[0]["ids"]), sorted(&[OLD_A, OLD_B]));
}

#[test]
fn max_cancels_cannot_be_escaped_with_try_catch() {
    let exchange = Exchange::fixture(&Book::fixture());
    let before = exchange.statuses();
    let script = exchange.script(
        "sneaky.rhai",
        r#"
        try { cancel_orders(["0x0a01", "0x0b01"]); } catch (e) { print("caught"); }
        cancel("0x0a02");
        "#,
    );
    let out = exchange
        .clobscript()
        .arg("run")
        .arg(&script)
        .args(["--max-cancels", "1"])
        .run();
    out.status(4);
    assert!(!out.stdout.contains("caught"));
    assert_only_canceled(&before, &exchange.statuses(), &[]);
}

#[test]
fn max_cancels_counts_cancel_all_by_listing_first_and_sends_nothing_over_the_limit() {
    let exchange = Exchange::fixture(&Book::fixture());
    let before = exchange.statuses();
    let script = exchange.script("all.rhai", "cancel_all()");
    let out = exchange
        .clobscript()
        .arg("run")
        .arg(&script)
        .args(["--max-cancels", "9"])
        .run();
    out.status(4);
    assert!(
        out.stderr
            .contains("`cancel_all` would cancel 10 more orders"),
        "{}",
        out.stderr
    );
    assert_only_canceled(&before, &exchange.statuses(), &[]);
}

#[test]
fn cancel_all_within_max_cancels_cancels_exactly_the_listed_orders() {
    let exchange = Exchange::fixture(&Book::fixture());
    let before = exchange.statuses();
    let script = exchange.script("all.rhai", "cancel_all()");
    let out = exchange
        .clobscript()
        .arg("run")
        .arg(&script)
        .args(["--max-cancels", "10", "--json"])
        .run();
    out.status(0);
    assert_only_canceled(&before, &exchange.statuses(), OPEN);
    assert_eq!(ids(&out.json()["canceled"]), sorted(OPEN));
}

#[test]
fn cancel_all_without_a_guard_uses_the_cancel_all_endpoint() {
    let exchange = Exchange::fixture(&Book::fixture());
    let before = exchange.statuses();
    let script = exchange.script("all.rhai", "cancel_all()");
    let out = exchange.clobscript().arg("run").arg(&script).run();
    out.status(0);
    assert_only_canceled(&before, &exchange.statuses(), OPEN);
    let audit = exchange.audit();
    assert_eq!(audit[0]["phase"], "run");
    assert_eq!(audit[1]["request"], "DELETE /cancel-all");
}
