//! `clobscript schedule` and `clobscript heartbeat` through the real binary, against a
//! simulator started here (its state is checked afterwards): runs, timeouts, shutdown and the
//! heartbeat (refused input and the deployment examples are in `schedule_config.rs`).

use std::path::PathBuf;
use std::time::Duration;

#[path = "common/mod.rs"]
mod support;
use support::schedule::*;
use support::{Output, isolated_in};

mod runs {
    use super::*;

    #[test]
    fn max_runs_n_gives_n_logged_runs_each_acting_on_the_exchange() {
        let exchange = Exchange::with_orders(20);
        let before = exchange.open_orders();
        let dir = playbooks(&[("cancel_one.rhai", CANCEL_ONE)]);
        let cmd = exchange.clobscript(
            dir.path(),
            &[
                "schedule",
                "cancel_one.rhai",
                "--every",
                "1s",
                "--max-runs",
                "3",
                "--run-log",
                "runs.jsonl",
            ],
        );
        let done = Running::spawn(cmd, dir.path()).finish();
        done.status(0);

        let records = run_log(&dir.path().join("runs.jsonl"));
        let runs = runs(&records);
        let numbers: Vec<_> = runs.iter().map(|r| r["run"].as_u64()).collect();
        assert_eq!(numbers, [Some(1), Some(2), Some(3)]);
        for r in &runs {
            assert_eq!(r["job"], "cancel_one");
            assert_eq!(r["outcome"], "ok");
            assert_eq!(r["exit_code"], 0);
            assert_eq!(r["canceled"], 1);
            assert!(r["requests"].as_u64() >= Some(2), "{r}");
        }
        // One session for all runs: each run saw the previous one's cancel.
        let canceled: Vec<&str> = done.stdout.lines().collect();
        assert_eq!(canceled, before[..3].to_vec());
        assert_eq!(exchange.open_orders(), before[3..].to_vec());
        for id in canceled {
            assert_eq!(exchange.sim.order_status(id).as_deref(), Some("CANCELED"));
        }
    }

    #[test]
    fn a_start_while_the_previous_run_is_going_is_skipped_and_logged() {
        // Every request takes 1.2 s (a run lists, then cancels), the schedule fires every 1 s.
        let exchange = Exchange::start(clobscript::sim::SimConfig {
            orders: 10,
            latency: Some(Duration::from_millis(1200)),
            ..Default::default()
        });
        let before = exchange.open_orders().len();
        let dir = playbooks(&[("cancel_one.rhai", CANCEL_ONE)]);
        let cmd = exchange.clobscript(
            dir.path(),
            &[
                "schedule",
                "cancel_one.rhai",
                "--every",
                "1s",
                "--max-runs",
                "2",
                "--run-log",
                "runs.jsonl",
            ],
        );
        let done = Running::spawn(cmd, dir.path()).finish();
        done.status(0);
        let records = run_log(&dir.path().join("runs.jsonl"));
        let skipped: Vec<_> = records
            .iter()
            .filter(|r| r["outcome"] == "skipped")
            .collect();
        assert!(!skipped.is_empty(), "{records:?}");
        for r in &skipped {
            assert!(r["started"].is_null() && r["run"].is_null(), "{r}");
            assert!(r["still_running"].as_u64().is_some(), "{r}");
        }
        assert_eq!(runs(&records).len(), 2);
        // Never two runs at once: the two cancels hit two different orders.
        assert_eq!(exchange.open_orders().len(), before - 2);
        assert!(done.stderr.contains("start skipped"), "{}", done.stderr);
    }

    #[test]
    fn a_failing_script_is_logged_and_the_schedule_goes_on() {
        let exchange = Exchange::with_orders(20);
        let before = exchange.open_orders().len();
        let script = format!("{CANCEL_ONE}throw \"gave up after one cancel\";\n");
        let dir = playbooks(&[("flaky.rhai", &script)]);
        let cmd = exchange.clobscript(
            dir.path(),
            &[
                "schedule",
                "flaky.rhai",
                "--every",
                "1s",
                "--max-runs",
                "3",
                "--run-log",
                "runs.jsonl",
            ],
        );
        let done = Running::spawn(cmd, dir.path()).finish();
        done.status(0);
        let records = run_log(&dir.path().join("runs.jsonl"));
        let runs = runs(&records);
        assert_eq!(runs.len(), 3);
        for r in &runs {
            assert_eq!(r["outcome"], "error");
            assert_eq!(r["exit_code"], 1);
            let error = r["error"].as_str().unwrap_or_default();
            assert!(error.contains("gave up after one cancel"), "{error}");
        }
        assert_eq!(exchange.open_orders().len(), before - 3);
    }

    #[test]
    fn max_failures_stops_the_schedule_with_the_failing_runs_exit_code() {
        let exchange = Exchange::with_orders(20);
        let before = exchange.open_orders();
        // Two cancels per run against --max-cancels 1: the guard stops every run (exit 4).
        let script = "let orders = open_orders();\ncancel_orders([orders[0].id, orders[1].id]);\n";
        let dir = playbooks(&[("greedy.rhai", script)]);
        let cmd = exchange.clobscript(
            dir.path(),
            &[
                "schedule",
                "greedy.rhai",
                "--every",
                "1s",
                "--max-failures",
                "2",
                "--max-cancels",
                "1",
                "--run-log",
                "runs.jsonl",
            ],
        );
        let done = Running::spawn(cmd, dir.path()).finish();
        done.status(4);
        assert!(
            done.stderr.contains("max-failures reached"),
            "{}",
            done.stderr
        );
        let records = run_log(&dir.path().join("runs.jsonl"));
        let outcomes: Vec<_> = runs(&records)
            .iter()
            .map(|r| r["exit_code"].clone())
            .collect();
        assert_eq!(outcomes, [4, 4]);
        assert_eq!(
            exchange.open_orders(),
            before,
            "the guard let no cancel through"
        );
    }

    #[test]
    fn a_jobs_file_runs_each_job_with_its_own_schedule_and_args() {
        let exchange = Exchange::with_orders(20);
        let before = exchange.open_orders().len();
        let target = exchange.open_orders()[5].clone();
        let dir = playbooks(&[
            ("cancel_one.rhai", CANCEL_ONE),
            ("cancel_arg.rhai", "cancel(arg(\"order\", \"\"));\n"),
        ]);
        let jobs = format!(
            "run_log = \"runs.jsonl\"\n\
             [jobs.one]\nscript = \"cancel_one.rhai\"\nevery = \"1s\"\nmax_runs = 2\n\
             [jobs.given]\nscript = \"cancel_arg.rhai\"\nevery = \"1s\"\nmax_runs = 1\n\
             args = {{ order = \"{target}\" }}\n"
        );
        std::fs::write(dir.path().join("jobs.toml"), jobs).expect("jobs file");
        let cmd = exchange.clobscript(dir.path(), &["schedule", "--jobs", "jobs.toml"]);
        let done = Running::spawn(cmd, dir.path()).finish();
        done.status(0);
        let records = run_log(&dir.path().join("runs.jsonl"));
        let count = |job: &str| runs(&records).iter().filter(|r| r["job"] == job).count();
        assert_eq!((count("one"), count("given")), (2, 1));
        assert_eq!(
            exchange.sim.order_status(&target).as_deref(),
            Some("CANCELED")
        );
        assert_eq!(exchange.open_orders().len(), before - 3);
    }

    #[test]
    fn sim_runs_share_one_in_process_simulator() {
        let dir = playbooks(&[("cancel_one.rhai", CANCEL_ONE)]);
        let out: Output = isolated_in(dir.path())
            .args([
                "schedule",
                "cancel_one.rhai",
                "--sim",
                "--every",
                "1s",
                "--max-runs",
                "2",
            ])
            .args(["--run-log", "runs.jsonl"])
            .current_dir(dir.path())
            .output()
            .expect("runs")
            .into();
        out.status(0);
        let canceled: Vec<&str> = out.stdout.lines().collect();
        assert_eq!(canceled.len(), 2);
        assert_ne!(
            canceled[0], canceled[1],
            "the second run saw the first run's cancel"
        );
    }
}

mod timeouts {
    use super::*;

    #[test]
    fn a_run_past_its_timeout_is_logged_as_timeout_and_the_schedule_goes_on() {
        // Listing the orders takes 1 s; the run may take 200 ms.
        let exchange = Exchange::start(clobscript::sim::SimConfig {
            orders: 10,
            latency: Some(Duration::from_secs(1)),
            ..Default::default()
        });
        let before = exchange.open_orders();
        let dir = playbooks(&[("sweep.rhai", "let orders = open_orders();\ncancel_all();\n")]);
        let cmd = exchange.clobscript(
            dir.path(),
            &[
                "schedule",
                "sweep.rhai",
                "--every",
                "1s",
                "--max-runs",
                "2",
                "--timeout",
                "200ms",
                "--run-log",
                "runs.jsonl",
            ],
        );
        let done = Running::spawn(cmd, dir.path()).finish();
        done.status(0);
        let records = run_log(&dir.path().join("runs.jsonl"));
        let runs = runs(&records);
        assert_eq!(runs.len(), 2);
        for r in runs {
            assert_eq!(r["outcome"], "timeout");
            assert_eq!(r["exit_code"], 1);
            let error = r["error"].as_str().unwrap_or_default();
            assert!(error.contains("timed out"), "{error}");
        }
        assert_eq!(
            exchange.open_orders(),
            before,
            "no run got as far as cancel_all"
        );
    }
}

mod shutdown {
    use super::*;

    /// A run whose first request (listing the orders) takes 1.5 s, then cancels everything.
    fn slow_exchange() -> Exchange {
        Exchange::start(clobscript::sim::SimConfig {
            orders: 10,
            latency: Some(Duration::from_millis(1500)),
            ..Default::default()
        })
    }

    const LIST_THEN_CANCEL_ALL: &str = "let orders = open_orders();\ncancel_all();\n";

    fn start_and_terminate_mid_run(
        exchange: &Exchange,
        grace: &str,
        signal: &str,
    ) -> (Output, PathBuf, tempfile::TempDir) {
        let dir = playbooks(&[("sweep.rhai", LIST_THEN_CANCEL_ALL)]);
        let cmd = exchange.clobscript(
            dir.path(),
            &[
                "schedule",
                "sweep.rhai",
                "--every",
                "1h",
                "--grace",
                grace,
                "--run-log",
                "runs.jsonl",
            ],
        );
        let running = Running::spawn(cmd, dir.path());
        // The first request has reached the exchange: a run is in flight.
        eventually("the run's first request", || {
            exchange.sim.requests_served() > 0
        });
        running.signal(signal);
        let done = running.finish();
        let log = dir.path().join("runs.jsonl");
        (done, log, dir)
    }

    #[test]
    fn sigterm_interrupts_a_run_in_flight_after_the_grace_period_and_exits_0() {
        let exchange = slow_exchange();
        let before = exchange.open_orders();
        let (done, log, _dir) = start_and_terminate_mid_run(&exchange, "100ms", "TERM");
        done.status(0);
        let records = run_log(&log);
        assert_eq!(records.len(), 1, "{records:?}");
        assert_eq!(records[0]["outcome"], "interrupted");
        assert_eq!(records[0]["exit_code"], 130);
        assert_eq!(
            exchange.open_orders(),
            before,
            "the cancel after the interrupt was never sent"
        );
        assert!(done.stderr.contains("SIGTERM"), "{}", done.stderr);
    }

    #[test]
    fn sigint_lets_a_run_in_flight_finish_within_the_grace_period() {
        let exchange = slow_exchange();
        let (done, log, _dir) = start_and_terminate_mid_run(&exchange, "30s", "INT");
        done.status(0);
        let records = run_log(&log);
        assert_eq!(records.len(), 1, "{records:?}");
        assert_eq!(records[0]["outcome"], "ok");
        assert!(
            exchange.open_orders().is_empty(),
            "the run finished its cancel_all"
        );
    }
}

mod heartbeat {
    use super::*;

    /// A simulator whose dead-man's switch fires after 2 s without a heartbeat (ten times the
    /// heartbeat interval used here).
    fn exchange_with_switch() -> Exchange {
        Exchange::start(clobscript::sim::SimConfig {
            orders: 10,
            heartbeat_timeout: Duration::from_secs(2),
            ..Default::default()
        })
    }

    /// Waits until heartbeats arrive, then for several switch periods, checking that no order
    /// was canceled meanwhile.
    fn orders_survive_while_alive(exchange: &Exchange, process: &mut Running, before: &[String]) {
        eventually("the first heartbeat", || {
            exchange.sim.heartbeat_armed(exchange.api_key())
        });
        // Longer than the switch's 2 s.
        for _ in 0..6 {
            std::thread::sleep(Duration::from_millis(500));
            assert!(
                process.is_running(),
                "{}",
                read(&process.dir.join("stderr.txt"))
            );
            assert_eq!(
                exchange.open_orders(),
                before,
                "heartbeats keep the orders alive"
            );
        }
        assert_eq!(exchange.sim.switch_cancels(), 0);
    }

    #[test]
    fn the_schedulers_heartbeat_keeps_orders_alive_until_it_is_killed() {
        let exchange = exchange_with_switch();
        let before = exchange.open_orders();
        assert!(!before.is_empty());
        let dir = playbooks(&[("noop.rhai", "let checked = true;\n")]);
        let cmd = exchange.clobscript(
            dir.path(),
            &[
                "schedule",
                "noop.rhai",
                "--every",
                "1h",
                "--heartbeat",
                "--heartbeat-interval",
                "200ms",
                "--run-log",
                "runs.jsonl",
            ],
        );
        let mut process = Running::spawn(cmd, dir.path());
        orders_survive_while_alive(&exchange, &mut process, &before);

        // A crash: no goodbye, no more heartbeats. The exchange cancels the key's orders.
        process.signal("KILL");
        let done = process.finish();
        assert_eq!(done.code, None, "killed by a signal");
        eventually("the dead-man's switch", || {
            exchange.open_orders().is_empty()
        });
        assert_eq!(exchange.sim.switch_cancels(), before.len() as u64);
        for id in &before {
            assert_eq!(exchange.sim.order_status(id).as_deref(), Some("CANCELED"));
        }
    }

    #[test]
    fn the_heartbeat_command_beats_until_sigterm_then_exits_0() {
        let exchange = exchange_with_switch();
        let before = exchange.open_orders();
        let dir = playbooks(&[]);
        let cmd = exchange.clobscript(dir.path(), &["heartbeat", "--interval", "200ms"]);
        let mut process = Running::spawn(cmd, dir.path());
        orders_survive_while_alive(&exchange, &mut process, &before);
        process.signal("TERM");
        let done = process.finish();
        done.status(0);
        assert!(
            done.stderr.contains("heartbeats stopped"),
            "{}",
            done.stderr
        );
        // Stopping the heartbeats arms the switch all the same.
        eventually("the dead-man's switch", || {
            exchange.open_orders().is_empty()
        });
    }

    #[test]
    fn a_first_heartbeat_the_exchange_refuses_stops_the_scheduler_before_any_run() {
        let exchange = exchange_with_switch();
        let before = exchange.open_orders();
        let dir = playbooks(&[("cancel_one.rhai", CANCEL_ONE)]);
        let mut cmd = exchange.clobscript(
            dir.path(),
            &[
                "schedule",
                "cancel_one.rhai",
                "--every",
                "1h",
                "--heartbeat",
                "--run-log",
                "runs.jsonl",
            ],
        );
        cmd.env("POLY_PASSPHRASE", "not-the-passphrase");
        let done = Running::spawn(cmd, dir.path()).finish();
        done.status(3);
        assert!(
            done.stderr.contains("first heartbeat failed"),
            "{}",
            done.stderr
        );
        assert!(
            !done.stderr.contains("not-the-passphrase"),
            "secrets stay out of messages"
        );
        assert!(run_log(&dir.path().join("runs.jsonl")).is_empty());
        assert_eq!(exchange.open_orders(), before);
    }
}
