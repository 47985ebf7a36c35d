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
