//! `clobscript watch` end to end: the real binary on the simulator's user channel (real
//! websockets), with other traders filling the account's orders (`SimConfig::fills`). Every
//! test checks the exchange's state or the simulator's own record of trades afterwards.

mod common;

use std::collections::{BTreeSet, HashSet};
use std::io::{BufRead as _, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use clobscript::sim::SimConfig;
use common::{Book, Exchange, OLD_A, OPEN, Output, send_signal};

/// Only a guard against a hang: every wait ends as soon as what it waits for has happened.
const PATIENCE: Duration = Duration::from_secs(60);

/// Generated orders, filled every `interval`; trades settle quickly and never fail.
fn filling(interval_ms: u64) -> SimConfig {
    SimConfig {
        orders: 300,
        fills: Some(Duration::from_millis(interval_ms)),
        trade_status_delay: Duration::from_millis(20),
        trade_failure_rate: 0.0,
        ..SimConfig::default()
    }
}

/// A watch in its own process, its output read line by line as it comes.
struct Watch {
    child: Child,
    lines: Receiver<(bool, String)>,
    stdout: Vec<String>,
    stderr: Vec<String>,
}

impl Watch {
    fn start(exchange: &Exchange, args: &[&str]) -> Watch {
        let mut clob = exchange.clobscript();
        clob.arg("watch")
            .args(args)
            .args(["--ws-url", &exchange.sim().ws_url()]);
        let mut child = clob
            .into_command()
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("clobscript starts");
        let (send, lines) = channel();
        let pipes: [(bool, Box<dyn std::io::Read + Send>); 2] = [
            (true, Box::new(child.stdout.take().expect("stdout"))),
            (false, Box::new(child.stderr.take().expect("stderr"))),
        ];
        for (is_stdout, pipe) in pipes {
            let send = send.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { return };
                    if send.send((is_stdout, line)).is_err() {
                        return;
                    }
                }
            });
        }
        Watch {
            child,
            lines,
            stdout: Vec::new(),
            stderr: Vec::new(),
        }
    }

    /// Reads output until `done` holds for what was read so far.
    fn until(&mut self, what: &str, done: impl Fn(&[String], &[String]) -> bool) {
        while !done(&self.stdout, &self.stderr) {
            match self.lines.recv_timeout(PATIENCE) {
                Ok((true, line)) => self.stdout.push(line),
                Ok((false, line)) => self.stderr.push(line),
                Err(error) => panic!(
                    "waited in vain for {what} ({error})\n--- stdout:\n{}\n--- stderr:\n{}",
                    self.stdout.join("\n"),
                    self.stderr.join("\n")
                ),
            }
        }
    }

    /// Waits for `n` stdout lines starting with `prefix`.
    fn until_stdout(&mut self, prefix: &str, n: usize) {
        self.until(&format!("{n} stdout lines {prefix:?}"), |out, _| {
            out.iter().filter(|l| l.starts_with(prefix)).count() >= n
        });
    }

    /// Waits for `n` stderr lines containing `text`.
    fn until_stderr(&mut self, text: &str, n: usize) {
        self.until(&format!("{n} stderr lines with {text:?}"), |_, err| {
            err.iter().filter(|l| l.contains(text)).count() >= n
        });
    }

    /// Sends SIGTERM and waits for the end.
    fn terminate(self) -> Output {
        send_signal(&self.child, "TERM");
        self.finish()
    }

    /// Waits for the process to end by itself and collects the rest of its output.
    fn finish(mut self) -> Output {
        let status = self.child.wait().expect("clobscript ends");
        while let Ok((is_stdout, line)) = self.lines.recv_timeout(Duration::from_secs(5)) {
            if is_stdout {
                self.stdout.push(line);
            } else {
                self.stderr.push(line);
            }
        }
        Output {
            code: status.code(),
            stdout: self.stdout.join("\n"),
            stderr: self.stderr.join("\n"),
        }
    }
}

/// The word after `prefix` on each stdout line that starts with it.
fn words_after(out: &Output, prefix: &str) -> Vec<String> {
    out.stdout
        .lines()
        .filter_map(|line| line.strip_prefix(prefix))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// The token ids of the primary account's open orders.
fn open_tokens(exchange: &Exchange) -> Vec<String> {
    exchange
        .live_orders()
        .into_iter()
        .map(|o| o.asset_id)
        .collect()
}

#[test]
fn cancel_on_fill_leaves_no_open_order_in_a_filled_token() {
    let exchange = Exchange::start(filling(150));
    let mut watch = Watch::start(&exchange, &["scripts/cancel_on_fill.rhai"]);
    watch.until_stderr("; pulled ", 3);
    let out = watch.terminate();
    out.status(0).stderr_has("watch stopped after");

    let sim = exchange.sim();
    let trades = sim.trades_of(&sim.credentials().api_key);
    // Every fill the playbook reported: its cancel had been answered when it logged it.
    let handled: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("; pulled "))
        .filter_map(|l| l.split("fill ").nth(1)?.split(':').next())
        .collect();
    assert!(handled.len() >= 3, "{}", out.stderr);
    let still_open = open_tokens(&exchange);
    for id in handled {
        let trade = trades
            .iter()
            .find(|t| t.id == id)
            .unwrap_or_else(|| panic!("the simulator has no trade {id}"));
        // The simulator places no orders: whatever is open now was open at the fill.
        assert!(
            !still_open.contains(&trade.asset_id),
            "orders still open in {} after fill {id}",
            trade.asset_id
        );
    }
    assert!(
        !still_open.is_empty(),
        "tokens without a fill keep their orders"
    );
}

#[test]
fn a_dropped_connection_misses_no_fill_and_handles_none_twice() {
    // Each connection is cut after 6 events (a fill makes 4), and fills come faster than the
    // shortest reconnection delay, so trades are matched while no connection is live.
    let exchange = Exchange::start(SimConfig {
        ws_drop_after: Some(6),
        ..filling(30)
    });
    let script = exchange.script(
        "fills.rhai",
        "on_fill(|trade| print(`fill ${trade.id} ${trade.source}`));",
    );
    let mut watch = Watch::start(&exchange, &[script.to_str().expect("utf-8")]);
    watch.until_stderr("reconnected", 3);
    exchange.sim().drop_ws_connections();
    watch.until_stderr("reconnected", 4);
    watch.until_stdout("fill ", 20);
    let out = watch.terminate();
    out.status(0);

    let handled = words_after(&out, "fill ");
    let unique: BTreeSet<&String> = handled.iter().collect();
    assert_eq!(
        unique.len(),
        handled.len(),
        "a trade handled twice: {handled:?}"
    );
    assert!(
        out.stdout.lines().any(|l| l.ends_with(" rest")),
        "some fills were read through REST after a reconnect:\n{}",
        out.stdout
    );
    // The simulator's trades, by match time: the handled ones are one unbroken run of them
    // (fills before the watch started and after it stopped are outside it).
    let sim = exchange.sim();
    let trades: Vec<String> = sim
        .trades_of(&sim.credentials().api_key)
        .into_iter()
        .map(|t| t.id)
        .collect();
    let first = trades
        .iter()
        .position(|id| unique.contains(id))
        .expect("handled trades are the simulator's");
    let run: BTreeSet<&String> = trades[first..first + unique.len()].iter().collect();
    assert_eq!(run, unique, "a fill in the middle was missed");
}

#[test]
fn a_dry_run_watch_sends_no_cancel() {
    let exchange = Exchange::start(filling(150));
    let before = exchange.statuses();
    let mut watch = Watch::start(&exchange, &["scripts/cancel_on_fill.rhai", "--dry-run"]);
    watch.until_stderr("; pulled ", 2);
    let out = watch.terminate();
    out.status(0).stderr_has("no cancel was sent");
    // Fills change orders to MATCHED; nothing may have been canceled.
    for (id, status) in exchange.statuses() {
        if status == "CANCELED" {
            assert_eq!(before[&id], "CANCELED", "{id} was canceled by a dry run");
        }
    }
    assert!(
        exchange
            .audit()
            .iter()
            .all(|record| record["phase"] != "sending"),
        "a dry run sends nothing"
    );
}

#[test]
fn the_kill_switch_cancels_everything_and_stops_the_watch() {
    let exchange = Exchange::start(filling(100));
    let other = exchange
        .sim()
        .other_credentials()
        .expect("a second account")
        .api_key
        .clone();
    let others_open = exchange.sim().open_order_ids_of(&other);
    let watch = Watch::start(
        &exchange,
        &[
            "scripts/fill_kill_switch.rhai",
            "--arg",
            "max_fills=2",
            "--arg",
            "max_size=1000000",
        ],
    );
    let out = watch.finish();
    out.status(0)
        .stderr_has("kill switch: 3 fills")
        .stderr_has("stopped by stop_watch");
    assert_eq!(exchange.sim().open_order_ids(), Vec::<String>::new());
    assert_eq!(exchange.sim().open_order_ids_of(&other), others_open);
}

#[test]
fn a_failing_handler_is_logged_and_the_watch_goes_on() {
    let exchange = Exchange::start(filling(100));
    let script = exchange.script(
        "flaky.rhai",
        r"let n = 0;
on_fill(|trade| {
    n += 1;
    print(`fill ${trade.id}`);
    if n % 2 == 1 { throw `boom ${n}` }
});",
    );
    let mut watch = Watch::start(
        &exchange,
        &[script.to_str().expect("utf-8"), "--max-failures", "2"],
    );
    watch.until_stdout("fill ", 5);
    let out = watch.terminate();
    out.status(0)
        .stderr_has("on_fill handler failed; the watch goes on")
        .stderr_has("boom 3");
}

#[test]
fn max_failures_stops_the_watch() {
    let exchange = Exchange::start(filling(100));
    let script = exchange.script("broken.rhai", r#"on_fill(|trade| throw "boom");"#);
    let out = Watch::start(
        &exchange,
        &[script.to_str().expect("utf-8"), "--max-failures", "2"],
    )
    .finish();
    out.status(1)
        .stderr_has("boom")
        .stderr_has("watch stopped by --max-failures (2 handler failures in a row)");
}

#[test]
fn sigterm_stops_a_watch_cleanly() {
    let exchange = Exchange::start(filling(100));
    let script = exchange.script(
        "ticks.rhai",
        r#"on_order(|event| print(`order ${event.type}`));
every("20ms", || print("tick"));"#,
    );
    let mut watch = Watch::start(&exchange, &[script.to_str().expect("utf-8")]);
    watch.until_stdout("order UPDATE", 1);
    watch.until_stdout("tick", 2);
    watch
        .terminate()
        .status(0)
        .stderr_has("SIGTERM: stopping the watch")
        .stderr_has("watch stopped after");
}

#[test]
fn a_handlers_own_cancel_comes_back_as_an_order_event() {
    let exchange = Exchange::fixture(&Book::fixture());
    let before = exchange.statuses();
    let script = exchange.script(
        "own.rhai",
        r#"let sent = false;
every("20ms", || if !sent { sent = true; cancel(ARGS.id); });
on_order(|event| {
    print(`${event.type} ${event.id} ${event.status} ${event.source}`);
    if event.type == "CANCELLATION" { stop_watch("saw it") }
});"#,
    );
    let out = Watch::start(
        &exchange,
        &[
            script.to_str().expect("utf-8"),
            "--arg",
            &format!("id={OLD_A}"),
        ],
    )
    .finish();
    out.status(0)
        // From the channel, or from the catch-up if the cancel beat the subscription.
        .stdout_has(&format!("CANCELLATION {OLD_A} CANCELED"))
        .stderr_has("stopped by stop_watch: saw it");
    common::assert_only_canceled(&before, &exchange.statuses(), &[OLD_A]);
    assert_eq!(exchange.sim().open_order_ids().len(), OPEN.len() - 1);
}

#[test]
fn max_cancels_holds_for_the_whole_watch() {
    let exchange = Exchange::start(filling(100));
    let canceled = |exchange: &Exchange| {
        exchange
            .statuses()
            .values()
            .filter(|s| s.as_str() == "CANCELED")
            .count()
    };
    let canceled_at_start = canceled(&exchange);
    let script = exchange.script(
        "each.rhai",
        r"on_fill(|trade| { cancel_market(#{ asset_id: trade.asset_id }); print(`fill ${trade.id}`); });",
    );
    let out = Watch::start(
        &exchange,
        &[script.to_str().expect("utf-8"), "--max-cancels", "30"],
    )
    .finish();
    out.status(4).stderr_has("stopped by a safety guard");
    let newly = canceled(&exchange) - canceled_at_start;
    assert!(newly > 0 && newly <= 30, "{newly} canceled");
}

#[test]
fn handlers_work_only_under_watch() {
    let exchange = Exchange::fixture(&Book::fixture());
    let script = exchange.script("run.rhai", "on_fill(|t| print(t.id));");
    exchange
        .clobscript()
        .args(["run", script.to_str().expect("utf-8")])
        .run()
        .status(1)
        .stderr_has("on_fill works only under `clobscript watch SCRIPT`");
    let idle = exchange.script("idle.rhai", "let x = 1;");
    exchange
        .clobscript()
        .args(["watch", idle.to_str().expect("utf-8")])
        .run()
        .status(2)
        .stderr_has("registered no handler");
    exchange
        .clobscript()
        .args([
            "watch",
            idle.to_str().expect("utf-8"),
            "--ws-url",
            "https://x",
        ])
        .run()
        .status(2)
        .stderr_has("is not a websocket URL");
}

#[test]
fn heartbeat_keeps_the_dead_mans_switch_armed_while_watching() {
    let exchange = Exchange::fixture(&Book::fixture());
    let key = exchange.sim().credentials().api_key.clone();
    let script = exchange.script("idle_ticks.rhai", r#"every("20ms", || print("tick"));"#);
    let mut watch = Watch::start(&exchange, &[script.to_str().expect("utf-8"), "--heartbeat"]);
    watch.until_stdout("tick", 1);
    assert!(exchange.sim().heartbeat_armed(&key), "a heartbeat was sent");
    watch
        .terminate()
        .status(0)
        .stderr_has("first heartbeat acknowledged");
    assert_eq!(exchange.sim().open_order_ids().len(), OPEN.len());
}

/// `--market`: only the named market's fills and order events reach the handlers, on the
/// channel and through the catch-up after a dropped connection, while the other markets fill
/// too.
#[test]
fn a_watch_on_one_market_handles_only_that_markets_events() {
    let exchange = Exchange::start(SimConfig {
        ws_drop_after: Some(12),
        ..filling(20)
    });
    let sim = exchange.sim();
    let key = sim.credentials().api_key.clone();
    let mut markets: Vec<String> = exchange
        .live_orders()
        .into_iter()
        .map(|o| o.market)
        .collect();
    markets.sort();
    markets.dedup();
    assert!(
        markets.len() > 2,
        "fills land in several markets: {markets:?}"
    );
    let market = markets[0].clone();
    let script = exchange.script(
        "one_market.rhai",
        "on_fill(|trade| print(`fill ${trade.id} ${trade.market} ${trade.source}`));
on_order(|event| print(`order ${event.market} ${event.type} ${event.source}`));",
    );
    let mut watch = Watch::start(
        &exchange,
        &[
            script.to_str().expect("utf-8"),
            "--market",
            &market.to_uppercase().replace("0X", "0x"),
        ],
    );
    watch.until_stdout("fill ", 4);
    watch.until_stderr("reconnected", 2);
    let out = watch.terminate();
    out.status(0);

    let fills: Vec<(String, String)> = out
        .stdout
        .lines()
        .filter_map(|line| line.strip_prefix("fill "))
        .map(|rest| {
            let words: Vec<&str> = rest.split_whitespace().collect();
            (words[0].to_owned(), words[1].to_owned())
        })
        .collect();
    assert!(fills.iter().all(|(_, m)| *m == market), "{}", out.stdout);
    let order_markets: Vec<&str> = out
        .stdout
        .lines()
        .filter_map(|line| line.strip_prefix("order "))
        .filter_map(|rest| rest.split_whitespace().next())
        .collect();
    assert!(!order_markets.is_empty(), "{}", out.stdout);
    assert!(order_markets.iter().all(|m| *m == market), "{}", out.stdout);
    // Meanwhile the other markets had fills of their own, none of them handled.
    let handled: HashSet<&str> = fills.iter().map(|(id, _)| id.as_str()).collect();
    let trades = sim.trades_of(&key);
    let first_handled = trades
        .iter()
        .position(|t| handled.contains(t.id.as_str()))
        .expect("handled trades are the simulator's");
    assert!(
        trades[first_handled..].iter().any(|t| t.market != market),
        "other markets filled during the watch"
    );
}

#[test]
fn a_blank_market_is_refused_before_anything_is_watched() {
    let exchange = Exchange::start(filling(1000));
    let script = exchange.script("fills.rhai", "on_fill(|trade| print(trade.id));");
    let out = exchange
        .clobscript()
        .args(["watch", script.to_str().expect("utf-8"), "--market", "  "])
        .args(["--ws-url", &exchange.sim().ws_url()])
        .run();
    out.status(2).stderr_has("--market needs a condition id");
    assert_eq!(exchange.sim().ws_connections(), 0);
}
