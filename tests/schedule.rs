//! `clobscript schedule` and `clobscript heartbeat` through the real binary, against a
//! simulator started here (its state is checked afterwards), and the deployment examples in
//! `examples/deploy/`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use clobscript::cli::{Cli, Command as Subcommand};
#[path = "common/mod.rs"]
mod support;
use clobscript::logging::LogFormat;
use support::isolated_command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the binary to completion with a private state folder.
fn clobscript(state: &Path, args: &[&str]) -> Output {
    isolated_command(state, &state.join("config"), state)
        .args(args)
        .output()
        .expect("the binary runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A folder with a trivial playbook in it.
fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("noop.rhai"), "let x = 1;\n").expect("script");
    dir
}

/// A simulator on a loopback port, served by its own runtime for the test's lifetime.
struct Exchange {
    sim: clobscript::sim::SimServer,
    _runtime: tokio::runtime::Runtime,
}

impl Exchange {
    fn start(config: clobscript::sim::SimConfig) -> Exchange {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let sim = runtime
            .block_on(clobscript::sim::SimServer::start(config))
            .expect("simulator starts");
        Exchange {
            sim,
            _runtime: runtime,
        }
    }

    /// A simulator with `orders` open-or-not orders and no other twist.
    fn with_orders(orders: usize) -> Exchange {
        Exchange::start(clobscript::sim::SimConfig {
            orders,
            ..Default::default()
        })
    }

    fn open_orders(&self) -> Vec<String> {
        self.sim.open_order_ids()
    }

    fn api_key(&self) -> &str {
        &self.sim.credentials().api_key
    }

    /// `clobscript ARGS` pointed at this exchange with its credentials in the environment, state
    /// and output in `dir`.
    fn clobscript(&self, dir: &Path, args: &[&str]) -> Command {
        let c = self.sim.credentials();
        let mut cmd = isolated_command(&dir.join("state"), &dir.join("config"), dir);
        cmd.args(args)
            .args(["--host", self.sim.url()])
            .current_dir(dir)
            .env("POLY_API_KEY", &c.api_key)
            .env("POLY_API_SECRET", c.secret.expose())
            .env("POLY_PASSPHRASE", c.passphrase.expose())
            .env("POLY_ADDRESS", &c.address);
        cmd
    }
}

/// A started clobscript process, its output going to files in its folder.
struct Running {
    child: Child,
    dir: PathBuf,
}

/// How a process ended.
struct Finished {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Only a safety net against a hung process, never a measurement.
const HANG_LIMIT: Duration = Duration::from_secs(60);

impl Running {
    fn spawn(mut cmd: Command, dir: &Path) -> Running {
        let stdout = std::fs::File::create(dir.join("stdout.txt")).expect("stdout file");
        let stderr = std::fs::File::create(dir.join("stderr.txt")).expect("stderr file");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .expect("the binary starts");
        Running {
            child,
            dir: dir.to_owned(),
        }
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{name} failed");
    }

    fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn finish(mut self) -> Finished {
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            if start.elapsed() > HANG_LIMIT {
                let _ = self.child.kill();
                panic!(
                    "clobscript did not exit: {}",
                    read(&self.dir.join("stderr.txt"))
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Finished {
            code: status.code(),
            stdout: read(&self.dir.join("stdout.txt")),
            stderr: read(&self.dir.join("stderr.txt")),
        }
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Polls `condition` until it holds (a safety-net limit, not a measurement).
fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < HANG_LIMIT, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The run log's records.
fn run_log(path: &Path) -> Vec<serde_json::Value> {
    read(path)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}

/// Records of runs that happened (not skipped starts).
fn runs(records: &[serde_json::Value]) -> Vec<&serde_json::Value> {
    records.iter().filter(|r| !r["run"].is_null()).collect()
}

/// A folder with the given playbooks in it.
fn playbooks(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("playbook");
    }
    dir
}

/// Cancels the first open order and prints its id.
const CANCEL_ONE: &str = "let orders = open_orders();\n\
                          if orders.len() > 0 { cancel(orders[0].id); print(orders[0].id); }\n";

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
                "100ms",
                "--max-runs",
                "3",
                "--run-log",
                "runs.jsonl",
            ],
        );
        let done = Running::spawn(cmd, dir.path()).finish();
        assert_eq!(done.code, Some(0), "{}", done.stderr);

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
        // Every request takes 400 ms, the schedule fires every 100 ms.
        let exchange = Exchange::start(clobscript::sim::SimConfig {
            orders: 10,
            latency: Some(Duration::from_millis(400)),
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
                "100ms",
                "--max-runs",
                "2",
                "--run-log",
                "runs.jsonl",
            ],
        );
        let done = Running::spawn(cmd, dir.path()).finish();
        assert_eq!(done.code, Some(0), "{}", done.stderr);
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
                "100ms",
                "--max-runs",
                "3",
                "--run-log",
                "runs.jsonl",
            ],
        );
        let done = Running::spawn(cmd, dir.path()).finish();
        assert_eq!(done.code, Some(0), "{}", done.stderr);
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
                "50ms",
                "--max-failures",
                "2",
                "--max-cancels",
                "1",
                "--run-log",
                "runs.jsonl",
            ],
        );
        let done = Running::spawn(cmd, dir.path()).finish();
        assert_eq!(done.code, Some(4), "{}", done.stderr);
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
             [jobs.one]\nscript = \"cancel_one.rhai\"\nevery = \"100ms\"\nmax_runs = 2\n\
             [jobs.given]\nscript = \"cancel_arg.rhai\"\nevery = \"150ms\"\nmax_runs = 1\n\
             args = {{ order = \"{target}\" }}\n"
        );
        std::fs::write(dir.path().join("jobs.toml"), jobs).expect("jobs file");
        let cmd = exchange.clobscript(dir.path(), &["schedule", "--jobs", "jobs.toml"]);
        let done = Running::spawn(cmd, dir.path()).finish();
        assert_eq!(done.code, Some(0), "{}", done.stderr);
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
        let out = isolated_command(
            &dir.path().join("state"),
            &dir.path().join("config"),
            dir.path(),
        )
        .args([
            "schedule",
            "cancel_one.rhai",
            "--sim",
            "--every",
            "100ms",
            "--max-runs",
            "2",
        ])
        .args(["--run-log", "runs.jsonl"])
        .current_dir(dir.path())
        .output()
        .expect("runs");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let canceled: Vec<&str> = stdout.lines().collect();
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
                "100ms",
                "--max-runs",
                "2",
                "--timeout",
                "200ms",
                "--run-log",
                "runs.jsonl",
            ],
        );
        let done = Running::spawn(cmd, dir.path()).finish();
        assert_eq!(done.code, Some(0), "{}", done.stderr);
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
    ) -> (Finished, PathBuf, tempfile::TempDir) {
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
        assert_eq!(done.code, Some(0), "{}", done.stderr);
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
        assert_eq!(done.code, Some(0), "{}", done.stderr);
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
        assert_eq!(done.code, Some(0), "{}", done.stderr);
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
        assert_eq!(done.code, Some(3), "{}", done.stderr);
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

mod bad_input {
    use super::*;

    fn refused(args: &[&str]) -> String {
        let dir = workdir();
        let script = dir.path().join("noop.rhai");
        let mut full = vec!["schedule", script.to_str().expect("utf-8 path")];
        full.extend_from_slice(args);
        let out = clobscript(dir.path(), &full);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(
            !dir.path().join("clobscript").join("runs.jsonl").exists(),
            "nothing may run"
        );
        stderr(&out)
    }

    #[test]
    fn a_bad_duration_is_refused_with_the_accepted_forms() {
        let msg = refused(&["--every", "5 minutes-ish"]);
        assert!(msg.contains("`5 minutes-ish` is not a duration"), "{msg}");
        assert!(msg.contains("`1h 30m`"), "{msg}");
    }

    #[test]
    fn a_bad_cron_expression_is_refused_naming_the_field() {
        let msg = refused(&["--cron", "0 25 * * *"]);
        assert!(msg.contains("hour field `25`"), "{msg}");
        let msg = refused(&["--cron", "*/5 * * * * *"]);
        assert!(msg.contains("five fields"), "{msg}");
    }

    #[test]
    fn an_unknown_time_zone_is_refused() {
        let msg = refused(&["--cron", "0 9 * * *", "--tz", "Mars/Olympus"]);
        assert!(msg.contains("`Mars/Olympus` is not a time zone"), "{msg}");
    }

    #[test]
    fn a_schedule_needs_every_or_cron() {
        let msg = refused(&[]);
        assert!(msg.contains("--every DURATION"), "{msg}");
        let msg = refused(&["--every", "5m", "--cron", "* * * * *"]);
        assert!(msg.contains("cannot be used with"), "{msg}");
    }

    #[test]
    fn zero_limits_and_a_jitter_as_long_as_the_interval_are_refused() {
        let msg = refused(&["--every", "1m", "--max-runs", "0"]);
        assert!(msg.contains("max-runs must be at least 1"), "{msg}");
        let msg = refused(&["--every", "1m", "--jitter", "1m"]);
        assert!(msg.contains("jitter (1m) must be shorter"), "{msg}");
    }

    #[test]
    fn a_missing_script_is_refused() {
        let dir = workdir();
        let out = clobscript(dir.path(), &["schedule", "absent.rhai", "--every", "1m"]);
        assert_eq!(out.status.code(), Some(2));
        assert!(stderr(&out).contains("absent.rhai"), "{}", stderr(&out));
    }

    fn jobs_file_refused(text: &str) -> String {
        let dir = workdir();
        let jobs = dir.path().join("jobs.toml");
        std::fs::write(&jobs, text).expect("jobs file");
        let out = clobscript(
            dir.path(),
            &["schedule", "--jobs", jobs.to_str().expect("utf-8")],
        );
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(!dir.path().join("clobscript").join("runs.jsonl").exists());
        stderr(&out)
    }

    #[test]
    fn an_invalid_jobs_file_is_refused_before_anything_runs() {
        // The first job is fine; the second is not, so nothing may start at all.
        let msg = jobs_file_refused(
            "[jobs.a]\nscript = \"noop.rhai\"\nevery = \"1s\"\n\
             [jobs.b]\nscript = \"noop.rhai\"\ncron = \"* * * *\"\n",
        );
        assert!(msg.contains("job `b`"), "{msg}");
        assert!(msg.contains("five fields"), "{msg}");
    }

    #[test]
    fn a_jobs_file_with_a_typo_points_at_the_line() {
        let msg =
            jobs_file_refused("[jobs.a]\nscript = \"noop.rhai\"\nevery = \"1m\"\nmax_run = 3\n");
        assert!(msg.contains("line 4"), "{msg}");
        assert!(msg.contains("unknown field `max_run`"), "{msg}");
    }

    #[test]
    fn a_jobs_file_with_every_on_the_command_line_is_refused() {
        let dir = workdir();
        let jobs = dir.path().join("jobs.toml");
        std::fs::write(&jobs, "[jobs.a]\nscript = \"noop.rhai\"\nevery = \"1m\"\n").expect("file");
        let out = clobscript(
            dir.path(),
            &[
                "schedule",
                "--jobs",
                jobs.to_str().expect("utf-8"),
                "--every",
                "1m",
            ],
        );
        assert_eq!(out.status.code(), Some(2));
        assert!(
            stderr(&out).contains("belong in the jobs file"),
            "{}",
            stderr(&out)
        );
    }
}

mod deploy_examples {
    use super::*;
    use yaml_rust2::{Yaml, YamlLoader};

    fn deploy(file: &str) -> String {
        std::fs::read_to_string(repo().join("examples/deploy").join(file)).expect("example file")
    }

    fn yaml(file: &str) -> Yaml {
        let mut docs = YamlLoader::load_from_str(&deploy(file)).expect("valid YAML");
        assert_eq!(docs.len(), 1, "{file}: one document");
        docs.remove(0)
    }

    /// The sections of a systemd unit file: (section, key, value), in order.
    fn unit(file: &str) -> Vec<(String, String, String)> {
        let mut section = String::new();
        let mut entries = Vec::new();
        for line in deploy(file).lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = name.to_owned();
                continue;
            }
            let (key, value) = line
                .split_once('=')
                .unwrap_or_else(|| panic!("{file}: `{line}` is not KEY=VALUE"));
            assert!(!section.is_empty(), "{file}: `{line}` outside a section");
            entries.push((section.clone(), key.to_owned(), value.to_owned()));
        }
        entries
    }

    fn value(entries: &[(String, String, String)], section: &str, key: &str) -> String {
        entries
            .iter()
            .find(|(s, k, _)| s == section && k == key)
            .map(|(_, _, v)| v.clone())
            .unwrap_or_else(|| panic!("no {key}= in [{section}]"))
    }

    /// Runs an example's command line for real against a simulator: the playbook path is
    /// mapped from its deployed folder to the repository's `scripts/`, and the host and
    /// credentials come from the simulator. Returns the stale orders before, the exchange, and
    /// how the run went.
    fn run_for_real(argv: &[String], deployed_folder: &str) -> (Vec<String>, Exchange, Finished) {
        let exchange = Exchange::with_orders(200);
        let cutoff = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs() as i64
            - 30 * 60;
        let stale = stale_orders(&exchange, cutoff);
        assert!(
            !stale.is_empty(),
            "the simulator has stale orders to cancel"
        );
        let args: Vec<String> = argv[1..]
            .iter()
            .map(|a| match a.strip_prefix(deployed_folder) {
                Some(file) => repo().join("scripts").join(file).display().to_string(),
                None => a.clone(),
            })
            .collect();
        let dir = tempfile::tempdir().expect("tempdir");
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let cmd = exchange.clobscript(dir.path(), &args);
        let done = Running::spawn(cmd, dir.path()).finish();
        (stale, exchange, done)
    }

    fn stale_orders(exchange: &Exchange, cutoff: i64) -> Vec<String> {
        exchange
            .sim
            .orders_of(exchange.api_key())
            .into_iter()
            .filter(|o| o.status == "LIVE" && o.created_at < cutoff)
            .map(|o| o.id)
            .collect()
    }

    /// The example's run did its job: exit 0, JSON log lines, every stale order canceled.
    fn assert_stale_orders_canceled(stale: &[String], exchange: &Exchange, done: &Finished) {
        assert_eq!(done.code, Some(0), "{}", done.stderr);
        let json_lines = done
            .stderr
            .lines()
            .filter(|l| serde_json::from_str::<serde_json::Value>(l).is_ok())
            .count();
        assert!(
            json_lines > 0,
            "--log-format json logs JSON lines: {}",
            done.stderr
        );
        for id in stale {
            assert_eq!(
                exchange.sim.order_status(id).as_deref(),
                Some("CANCELED"),
                "{id}"
            );
        }
    }

    /// Parses an argument vector the way the binary does.
    fn accepted(argv: &[String]) -> Cli {
        assert!(
            argv.first().is_some_and(|p| p.ends_with("clobscript")),
            "runs clobscript: {argv:?}"
        );
        Cli::try_parse_from(argv).unwrap_or_else(|e| panic!("{argv:?} is refused: {e}"))
    }

    #[test]
    fn the_systemd_timer_starts_a_one_shot_run_with_json_logs() {
        let service = unit("systemd/clobscript-cancel-stale.service");
        assert_eq!(value(&service, "Service", "Type"), "oneshot");
        assert!(value(&service, "Service", "EnvironmentFile").starts_with('/'));
        let argv: Vec<String> = value(&service, "Service", "ExecStart")
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        let cli = accepted(&argv);
        assert_eq!(cli.global.log_format, LogFormat::Json);
        let Subcommand::Run(run) = cli.command else {
            panic!("the service runs `clobscript run`: {argv:?}");
        };
        assert!(run.exec.timeout.is_some() && run.exec.max_cancels.is_some());

        let (stale, exchange, done) = run_for_real(&argv, "/etc/clobscript/playbooks/");
        assert_stale_orders_canceled(&stale, &exchange, &done);

        let timer = unit("systemd/clobscript-cancel-stale.timer");
        assert!(!value(&timer, "Timer", "OnCalendar").is_empty());
        assert_eq!(value(&timer, "Install", "WantedBy"), "timers.target");
    }

    #[test]
    fn the_systemd_scheduler_service_runs_the_example_jobs_file_with_heartbeats() {
        let service = unit("systemd/clobscript-scheduler.service");
        assert_eq!(value(&service, "Service", "KillSignal"), "SIGTERM");
        let argv: Vec<String> = value(&service, "Service", "ExecStart")
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        let cli = accepted(&argv);
        let Subcommand::Schedule(mut args) = cli.command else {
            panic!("the service runs `clobscript schedule`: {argv:?}");
        };
        assert!(args.heartbeat);
        assert_eq!(
            args.jobs.as_deref(),
            Some(Path::new("/etc/clobscript/jobs.toml"))
        );

        // The example jobs file, installed beside the playbooks it names, passes every check.
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("playbooks")).expect("dir");
        std::fs::write(dir.path().join("playbooks/cancel_stale.rhai"), "").expect("script");
        std::fs::write(dir.path().join("jobs.toml"), deploy("jobs.toml")).expect("copy");
        args.jobs = Some(dir.path().join("jobs.toml"));
        let plan = clobscript::cmd::schedule::plan(&args).expect("the example jobs file is valid");
        assert_eq!(plan.jobs.len(), 2);
        assert!(plan.heartbeat.is_some());
        // systemd must wait longer than the grace before it resorts to SIGKILL.
        let stop = clobscript::util::parse_duration(&value(&service, "Service", "TimeoutStopSec"))
            .expect("duration");
        assert!(stop > plan.grace);
    }

    #[test]
    fn the_kubernetes_cronjob_forbids_overlap_and_reads_credentials_from_the_secret() {
        let cron = yaml("kubernetes/cronjob.yaml");
        assert_eq!(cron["kind"].as_str(), Some("CronJob"));
        let spec = &cron["spec"];
        assert_eq!(spec["concurrencyPolicy"].as_str(), Some("Forbid"));
        let schedule = spec["schedule"].as_str().expect("schedule");
        clobscript::schedule::trigger::Trigger::cron(schedule, None).expect("valid cron");

        let pod = &spec["jobTemplate"]["spec"]["template"]["spec"];
        assert_eq!(pod["restartPolicy"].as_str(), Some("Never"));
        let container = &pod["containers"][0];
        let argv: Vec<String> = container["command"]
            .as_vec()
            .into_iter()
            .chain(container["args"].as_vec())
            .flatten()
            .map(|v| v.as_str().expect("string argument").to_owned())
            .collect();
        let cli = accepted(&argv);
        assert_eq!(cli.global.log_format, LogFormat::Json);
        assert!(matches!(cli.command, Subcommand::Run(_)), "{argv:?}");
        let (stale, exchange, done) = run_for_real(&argv, "/playbooks/");
        assert_stale_orders_canceled(&stale, &exchange, &done);

        let secret_name = container["envFrom"][0]["secretRef"]["name"]
            .as_str()
            .expect("envFrom secretRef");
        let secret = yaml("kubernetes/secret.example.yaml");
        assert_eq!(secret["kind"].as_str(), Some("Secret"));
        assert_eq!(secret["metadata"]["name"].as_str(), Some(secret_name));
        for key in [
            "POLY_API_KEY",
            "POLY_API_SECRET",
            "POLY_PASSPHRASE",
            "POLY_ADDRESS",
        ] {
            assert!(
                secret["stringData"][key].as_str().is_some(),
                "the Secret provides {key}"
            );
        }

        // Failures that a retry cannot fix end the Job; the codes are the documented ones.
        let rule = &spec["jobTemplate"]["spec"]["podFailurePolicy"]["rules"][0];
        assert_eq!(rule["action"].as_str(), Some("FailJob"));
        let codes: Vec<i64> = rule["onExitCodes"]["values"]
            .as_vec()
            .expect("exit codes")
            .iter()
            .filter_map(Yaml::as_i64)
            .collect();
        use clobscript::exit::Exit;
        assert_eq!(
            codes,
            [
                Exit::ScriptFailed.code() as i64,
                Exit::Usage.code() as i64,
                Exit::Guard.code() as i64
            ]
        );
    }
}
