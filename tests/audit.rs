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
