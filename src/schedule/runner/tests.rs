//! The loop's policies, driven with fake jobs on tokio's paused clock: every wait is exact, so
//! the expected run log can be written out in full.

use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::*;
use crate::schedule::clock::TokioClock;
use crate::schedule::trigger::Trigger;

const START: &str = "2025-03-01T10:00:00Z";

/// A writer the test can read back.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn records(&self) -> Vec<Value> {
        let bytes = self.0.lock().expect("lock").clone();
        String::from_utf8(bytes)
            .expect("utf-8")
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect()
    }
}

fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(START)
        .expect("time")
        .with_timezone(&Utc)
}

fn runner(grace: Duration) -> (Runner, Captured) {
    let captured = Captured::default();
    let log = Arc::new(RunLog::to_writer(captured.clone()));
    let clock = Arc::new(TokioClock::starting_at(start()));
    (Runner::new(clock, log, grace), captured)
}

fn every(secs: u64) -> ScheduleSpec {
    let trigger = Trigger::every(Duration::from_secs(secs)).expect("valid");
    ScheduleSpec::new(trigger, Duration::ZERO, true).expect("valid")
}

fn job(name: &str, spec: ScheduleSpec, limits: RunLimits, run: impl RunJob) -> ScheduledJob {
    ScheduledJob {
        name: name.to_owned(),
        spec,
        limits,
        run: Arc::new(run),
    }
}

fn max_runs(n: u64) -> RunLimits {
    RunLimits::new(Some(n), None).expect("valid")
}

/// A job that takes `secs` of (paused) time and succeeds.
fn taking(secs: u64) -> impl RunJob {
    move |_stop: CancellationToken| async move {
        tokio::time::sleep(Duration::from_secs(secs)).await;
        RunReport::ok(2, 1)
    }
}

/// A job that runs until interrupted (or an hour passes).
fn until_interrupted() -> impl RunJob {
    |stop: CancellationToken| async move {
        tokio::select! {
            () = stop.cancelled() => RunReport::interrupted("interrupted by the scheduler"),
            () = tokio::time::sleep(Duration::from_secs(3600)) => RunReport::ok(0, 0),
        }
    }
}

fn field<'a>(records: &'a [Value], name: &str) -> Vec<&'a Value> {
    records.iter().map(|r| &r[name]).collect()
}

#[tokio::test(start_paused = true)]
async fn max_runs_n_logs_n_runs_and_finishes() {
    let (runner, log) = runner(Duration::from_secs(10));
    let jobs = vec![job("stale", every(60), max_runs(3), taking(1))];
    let end = runner.run_all(jobs, Shutdown::new()).await;
    assert_eq!(end, SchedulerEnd::Finished);
    assert_eq!(end.exit(), Exit::Success);
    let records = log.records();
    assert_eq!(field(&records, "run"), [1, 2, 3]);
    assert_eq!(field(&records, "outcome"), ["ok", "ok", "ok"]);
    assert_eq!(
        field(&records, "scheduled"),
        [
            "2025-03-01T10:00:00.000Z",
            "2025-03-01T10:01:00.000Z",
            "2025-03-01T10:02:00.000Z"
        ]
    );
    assert_eq!(field(&records, "duration_ms"), [1000, 1000, 1000]);
    assert_eq!(field(&records, "requests"), [2, 2, 2]);
    assert_eq!(field(&records, "canceled"), [1, 1, 1]);
}

#[tokio::test(start_paused = true)]
async fn a_start_while_the_previous_run_is_going_is_skipped_and_logged() {
    let (runner, log) = runner(Duration::from_secs(10));
    // Each run takes 150 s of a 60 s schedule.
    let jobs = vec![job("slow", every(60), max_runs(2), taking(150))];
    runner.run_all(jobs, Shutdown::new()).await;
    let records = log.records();
    let summary: Vec<(String, String, Value)> = records
        .iter()
        .map(|r| {
            (
                r["outcome"].as_str().unwrap_or_default().to_owned(),
                r["scheduled"].as_str().unwrap_or_default().to_owned(),
                r["still_running"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "skipped".into(),
                "2025-03-01T10:01:00.000Z".into(),
                Value::from(1)
            ),
            (
                "skipped".into(),
                "2025-03-01T10:02:00.000Z".into(),
                Value::from(1)
            ),
            ("ok".into(), "2025-03-01T10:00:00.000Z".into(), Value::Null),
            ("ok".into(), "2025-03-01T10:03:00.000Z".into(), Value::Null),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_failing_run_is_logged_and_the_schedule_goes_on() {
    let (runner, log) = runner(Duration::from_secs(10));
    let count = Arc::new(AtomicU64::new(0));
    let flaky = move |_stop: CancellationToken| {
        let n = count.fetch_add(1, Ordering::SeqCst) + 1;
        async move {
            if n % 2 == 1 {
                RunReport::failed(Exit::ScriptFailed, format!("throw in run {n}"))
            } else {
                RunReport::ok(1, 0)
            }
        }
    };
    let end = runner
        .run_all(
            vec![job("flaky", every(30), max_runs(4), flaky)],
            Shutdown::new(),
        )
        .await;
    assert_eq!(end.exit(), Exit::Success);
    let records = log.records();
    assert_eq!(field(&records, "outcome"), ["error", "ok", "error", "ok"]);
    assert_eq!(field(&records, "exit_code"), [1, 0, 1, 0]);
    assert_eq!(records[2]["error"], "throw in run 3");
}

#[tokio::test(start_paused = true)]
async fn max_failures_consecutive_failures_stop_with_the_last_exit_code() {
    let (runner, log) = runner(Duration::from_secs(10));
    let failing =
        |_stop: CancellationToken| async { RunReport::failed(Exit::Api, "401 Unauthorized") };
    let limits = RunLimits::new(None, Some(3)).expect("valid");
    let end = runner
        .run_all(
            vec![job("broken", every(60), limits, failing)],
            Shutdown::new(),
        )
        .await;
    assert_eq!(
        end,
        SchedulerEnd::TooManyFailures {
            job: "broken".into(),
            consecutive: 3,
            exit: Exit::Api,
            error: Some("401 Unauthorized".into()),
        }
    );
    assert_eq!(end.exit(), Exit::Api);
    assert_eq!(log.records().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn timeouts_count_as_failures() {
    let (runner, log) = runner(Duration::from_secs(10));
    let slow = |_stop: CancellationToken| async { RunReport::timed_out("ran past --timeout 5s") };
    let limits = RunLimits::new(None, Some(2)).expect("valid");
    let end = runner
        .run_all(vec![job("slow", every(60), limits, slow)], Shutdown::new())
        .await;
    assert_eq!(end.exit(), Exit::ScriptFailed);
    assert_eq!(field(&log.records(), "outcome"), ["timeout", "timeout"]);
}

#[tokio::test(start_paused = true)]
async fn stop_lets_a_run_in_flight_finish_within_the_grace_period() {
    let (runner, log) = runner(Duration::from_secs(60));
    let shutdown = Shutdown::new();
    let stopper = shutdown.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(10)).await;
        stopper.request_stop();
    });
    let jobs = vec![job("tidy", every(300), RunLimits::unlimited(), taking(30))];
    let end = runner.run_all(jobs, shutdown).await;
    assert_eq!(end, SchedulerEnd::Stopped);
    assert_eq!(end.exit(), Exit::Success);
    let records = log.records();
    assert_eq!(field(&records, "outcome"), ["ok"]);
    assert_eq!(field(&records, "duration_ms"), [30_000]);
}

#[tokio::test(start_paused = true)]
async fn stop_interrupts_a_run_that_outlasts_the_grace_period() {
    let (runner, log) = runner(Duration::from_secs(5));
    let shutdown = Shutdown::new();
    let stopper = shutdown.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(10)).await;
        stopper.request_stop();
    });
    let jobs = vec![job(
        "long",
        every(300),
        RunLimits::unlimited(),
        until_interrupted(),
    )];
    let end = runner.run_all(jobs, shutdown).await;
    assert_eq!(end.exit(), Exit::Success);
    let records = log.records();
    assert_eq!(field(&records, "outcome"), ["interrupted"]);
    assert_eq!(field(&records, "exit_code"), [130]);
    // Stopped at 10 s, interrupted after the 5 s grace.
    assert_eq!(field(&records, "duration_ms"), [15_000]);
}

#[tokio::test(start_paused = true)]
async fn a_second_signal_interrupts_without_waiting_out_the_grace() {
    let (runner, log) = runner(Duration::from_secs(600));
    let shutdown = Shutdown::new();
    let stopper = shutdown.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(10)).await;
        stopper.request_stop();
        tokio::time::sleep(Duration::from_secs(2)).await;
        stopper.request_interrupt();
    });
    let jobs = vec![job(
        "long",
        every(300),
        RunLimits::unlimited(),
        until_interrupted(),
    )];
    runner.run_all(jobs, shutdown).await;
    assert_eq!(field(&log.records(), "duration_ms"), [12_000]);
}

#[tokio::test(start_paused = true)]
async fn a_stop_before_the_first_fire_starts_nothing() {
    let (runner, log) = runner(Duration::from_secs(1));
    let shutdown = Shutdown::new();
    shutdown.request_stop();
    let end = runner
        .run_all(
            vec![job("x", every(60), RunLimits::unlimited(), taking(1))],
            shutdown,
        )
        .await;
    assert_eq!(end, SchedulerEnd::Stopped);
    assert!(log.records().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_run_that_ignores_its_interrupt_is_abandoned() {
    let (runner, log) = runner_with_wait(Duration::from_secs(1), Duration::from_secs(2));
    let shutdown = Shutdown::new();
    let stopper = shutdown.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        stopper.request_stop();
    });
    let stubborn = |_stop: CancellationToken| async {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        RunReport::ok(0, 0)
    };
    runner
        .run_all(
            vec![job("x", every(60), RunLimits::unlimited(), stubborn)],
            shutdown,
        )
        .await;
    let records = log.records();
    assert_eq!(field(&records, "outcome"), ["interrupted"]);
    let error = records[0]["error"].as_str().unwrap_or_default();
    assert!(error.contains("abandoned"), "{error}");
    // Stopped at 1 s, 1 s of grace, 2 s to obey the interrupt.
    assert_eq!(field(&records, "duration_ms"), [4_000]);
    assert_eq!(runner.abandoned_runs(), 1);
}

fn runner_with_wait(grace: Duration, wait: Duration) -> (Runner, Captured) {
    let (runner, log) = runner(grace);
    (runner.with_interrupt_wait(wait), log)
}

#[tokio::test(start_paused = true)]
async fn one_job_failing_too_often_stops_the_others_after_their_grace() {
    let (runner, log) = runner(Duration::from_secs(20));
    let failing =
        |_stop: CancellationToken| async { RunReport::failed(Exit::Guard, "max-cancels") };
    let jobs = vec![
        job(
            "broken",
            every(60),
            RunLimits::new(None, Some(1)).expect("valid"),
            failing,
        ),
        job("steady", every(60), RunLimits::unlimited(), taking(10)),
    ];
    let end = runner.run_all(jobs, Shutdown::new()).await;
    assert_eq!(end.exit(), Exit::Guard);
    let mut outcomes: Vec<(String, String)> = log
        .records()
        .iter()
        .map(|r| {
            (
                r["job"].as_str().unwrap_or_default().to_owned(),
                r["outcome"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    outcomes.sort();
    assert_eq!(
        outcomes,
        [
            ("broken".to_owned(), "error".to_owned()),
            ("steady".to_owned(), "ok".to_owned())
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn cron_schedule_without_run_now_waits_for_its_matches() {
    let (runner, log) = runner(Duration::from_secs(10));
    let cron = Trigger::cron("*/5 * * * *", None).expect("valid");
    let spec = ScheduleSpec::new(cron, Duration::ZERO, false).expect("valid");
    runner
        .run_all(
            vec![job("c", spec, max_runs(2), taking(1))],
            Shutdown::new(),
        )
        .await;
    assert_eq!(
        field(&log.records(), "scheduled"),
        ["2025-03-01T10:05:00.000Z", "2025-03-01T10:10:00.000Z"]
    );
}

#[tokio::test(start_paused = true)]
async fn jobs_run_independently_each_to_its_own_max_runs() {
    let (runner, log) = runner(Duration::from_secs(10));
    let jobs = vec![
        job("fast", every(10), max_runs(3), taking(1)),
        job("slow", every(25), max_runs(1), taking(1)),
    ];
    assert_eq!(
        runner.run_all(jobs, Shutdown::new()).await,
        SchedulerEnd::Finished
    );
    let records = log.records();
    let count = |name: &str| records.iter().filter(|r| r["job"] == name).count();
    assert_eq!((count("fast"), count("slow")), (3, 1));
}
