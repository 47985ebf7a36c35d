//! Unattended runs: `clobscript schedule` (interval or cron, one script or a jobs file) and
//! `clobscript heartbeat`.
//!
//! The pieces, each in its own module:
//! - [`trigger`]: `--every` / `--cron` / `--tz` and the next fire time;
//! - [`jitter`], [`spec`]: the whole timing of a job and its sequence of fires;
//! - [`limits`]: `--max-runs` and `--max-failures`;
//! - [`overlap`]: a run never starts while the job's previous run is going;
//! - [`shutdown`]: SIGINT/SIGTERM, grace, interrupt;
//! - [`runlog`]: one JSON line per run;
//! - [`runner`]: the loop that composes them, generic over what a run is;
//! - [`heartbeat`]: the exchange's dead-man's switch kept alive;
//! - [`jobs`]: job definitions from flags or a TOML file;
//! - [`script_job`]: a run of a playbook on the shared session.

pub mod clock;
pub mod heartbeat;
pub mod jitter;
pub mod jobs;
pub mod limits;
pub mod outcome;
pub mod overlap;
pub mod runlog;
pub mod runner;
pub mod script_job;
pub mod shutdown;
pub mod spec;
pub mod trigger;

pub use outcome::{Outcome, RunReport};
pub use runner::{RunJob, Runner, ScheduledJob, SchedulerEnd};

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::cli::{GlobalArgs, HeartbeatArgs, ScheduleArgs};
use crate::clob::Client;
use crate::exit::Exit;
use crate::script::{Backend, RunOptions};
use crate::session::Session;
use clock::SystemClock;
use heartbeat::{Heartbeat, HeartbeatConfig};
use jobs::{JobDefaults, JobDefinition, JobError, JobsFileError};
use runlog::RunLog;
use script_job::ScriptJob;
use shutdown::{Shutdown, listen_for_signals};

/// How long a run in flight may go on after SIGINT/SIGTERM, unless told otherwise.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(10);

/// The exchange cancels after about this long without a heartbeat.
const EXCHANGE_HEARTBEAT_WINDOW: Duration = Duration::from_secs(10);

/// Something wrong with the command line or jobs file, found before anything runs (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Job(#[from] JobError),
    #[error(transparent)]
    JobsFile(#[from] JobsFileError),
    #[error("the heartbeat interval must be longer than zero")]
    ZeroHeartbeatInterval,
}

/// Everything `schedule` will do, checked.
#[derive(Debug)]
pub struct SchedulePlan {
    pub jobs: Vec<JobDefinition>,
    pub run_log: PathBuf,
    /// `Some` when `--heartbeat` (or `heartbeat = true` in the jobs file).
    pub heartbeat: Option<HeartbeatConfig>,
    pub grace: Duration,
}

/// Checks the flags (and jobs file): every job, duration, expression and limit.
pub fn plan(args: &ScheduleArgs) -> Result<SchedulePlan, SetupError> {
    let (jobs, file) = match (&args.jobs, &args.script) {
        (Some(path), _) => {
            if args.every.is_some() || args.cron.is_some() || args.tz.is_some() {
                return Err(JobError::FlagsWithJobsFile.into());
            }
            let file = jobs::load(path, &JobDefaults::from_args(args))?;
            (file.jobs, file.settings)
        }
        (None, Some(script)) => (vec![jobs::from_flags(script, args)?], Default::default()),
        (None, None) => return Err(JobError::MissingTrigger.into()),
    };
    let heartbeat_on = args.heartbeat || file.heartbeat.unwrap_or(false);
    let interval = args
        .heartbeat_interval
        .or(file.heartbeat_interval)
        .unwrap_or(heartbeat::DEFAULT_INTERVAL);
    if interval.is_zero() {
        return Err(SetupError::ZeroHeartbeatInterval);
    }
    if heartbeat_on && interval >= EXCHANGE_HEARTBEAT_WINDOW {
        tracing::warn!(
            "a heartbeat interval of {} is not shorter than the exchange's ~10 s window: it may \
             cancel this key's orders between heartbeats",
            humantime::format_duration(interval)
        );
    }
    Ok(SchedulePlan {
        jobs,
        run_log: args
            .run_log
            .clone()
            .or(file.run_log)
            .unwrap_or_else(runlog::default_path),
        heartbeat: heartbeat_on.then(|| HeartbeatConfig::every(interval)),
        grace: args.grace.or(file.grace).unwrap_or(DEFAULT_GRACE),
    })
}

fn fail(message: impl std::fmt::Display) {
    eprintln!("clobscript: {message}");
}

/// `clobscript schedule`: checks everything, connects once, then runs the jobs until they are
/// done, one fails too often, or a signal stops them.
pub fn command(global: &GlobalArgs, args: ScheduleArgs) -> Exit {
    let plan = match plan(&args) {
        Ok(plan) => plan,
        Err(e) => {
            fail(e);
            return Exit::Usage;
        }
    };
    let mut options = Vec::with_capacity(plan.jobs.len());
    for job in &plan.jobs {
        match script_job::preflight(job, &args.exec) {
            Ok(o) => options.push(o),
            Err(e) => {
                fail(format_args!(
                    "job `{}` cannot run:\n{}",
                    job.name,
                    e.rendered()
                ));
                return e.exit();
            }
        }
    }
    let log = match RunLog::open(&plan.run_log) {
        Ok(log) => log,
        Err(e) => {
            fail(e);
            return Exit::Usage;
        }
    };
    let session = match Session::connect(global, &args.exec) {
        Ok(session) => session,
        Err(e) => {
            fail(&e);
            return e.exit();
        }
    };
    let backend = session.backend();
    let client = session.client().clone();
    let (exit, abandoned) = session.block_on(serve(plan, options, backend, client, log));
    if abandoned > 0 {
        // A run ignored its interrupt; waiting for its thread could hang the exit.
        tracing::warn!("{abandoned} run(s) did not stop; exiting without waiting for them");
        std::mem::forget(session);
    } else {
        session.shutdown();
    }
    exit
}

/// The scheduler proper, on the session's runtime. Returns the exit code and the number of
/// runs left behind.
async fn serve(
    plan: SchedulePlan,
    options: Vec<RunOptions>,
    backend: Backend,
    client: Client,
    log: RunLog,
) -> (Exit, u64) {
    let shutdown = Shutdown::new();
    // Before the first run or heartbeat, so a SIGTERM during either is a clean stop.
    let signals = match listen_for_signals(shutdown.clone()) {
        Ok(task) => task,
        Err(e) => {
            fail(format_args!("cannot listen for SIGINT/SIGTERM: {e}"));
            return (Exit::Usage, 0);
        }
    };
    let heartbeat_stop = CancellationToken::new();
    let heartbeat = match plan.heartbeat {
        Some(config) => match Heartbeat::start(client, config).await {
            Ok(hb) => Some(tokio::spawn(hb.keep_alive(heartbeat_stop.clone()))),
            Err(e) => {
                fail(format_args!("{e}; no job was started"));
                signals.abort();
                return (Exit::Api, 0);
            }
        },
        None => None,
    };
    let jobs = plan
        .jobs
        .into_iter()
        .zip(options)
        .map(|(job, options)| ScheduledJob {
            name: job.name,
            spec: job.spec,
            limits: job.limits,
            run: Arc::new(ScriptJob::new(options, backend.clone())),
        })
        .collect();
    let runner = Runner::new(Arc::new(SystemClock), Arc::new(log), plan.grace);
    let end = runner.run_all(jobs, shutdown).await;
    // The heartbeat outlives the last run, so orders stay protected until the very end.
    heartbeat_stop.cancel();
    if let Some(task) = heartbeat {
        let _ = task.await;
    }
    signals.abort();
    match &end {
        SchedulerEnd::Finished => tracing::info!("every job reached its max-runs: done"),
        SchedulerEnd::Stopped => tracing::info!("scheduler stopped cleanly"),
        SchedulerEnd::TooManyFailures { .. } => {}
    }
    (end.exit(), runner.abandoned_runs())
}

/// `clobscript heartbeat`: keeps the exchange heartbeat alive until SIGINT/SIGTERM (exit 0).
pub fn heartbeat_command(global: &GlobalArgs, args: HeartbeatArgs) -> Exit {
    if args.interval.is_zero() {
        fail(SetupError::ZeroHeartbeatInterval);
        return Exit::Usage;
    }
    if args.interval >= EXCHANGE_HEARTBEAT_WINDOW {
        tracing::warn!(
            "an interval of {} is not shorter than the exchange's ~10 s window: it may cancel \
             this key's orders between heartbeats",
            humantime::format_duration(args.interval)
        );
    }
    let session = match Session::connect_with(global, args.sim.as_deref(), &args.credentials) {
        Ok(session) => session,
        Err(e) => {
            fail(&e);
            return e.exit();
        }
    };
    let client = session.client().clone();
    let config = HeartbeatConfig::every(args.interval);
    let exit = session.block_on(async move {
        let shutdown = Shutdown::new();
        let signals = match listen_for_signals(shutdown.clone()) {
            Ok(task) => task,
            Err(e) => {
                fail(format_args!("cannot listen for SIGINT/SIGTERM: {e}"));
                return Exit::Usage;
            }
        };
        let exit = match Heartbeat::start(client, config).await {
            Ok(hb) => {
                hb.keep_alive(shutdown.stop_token()).await;
                Exit::Success
            }
            Err(e) => {
                fail(e);
                Exit::Api
            }
        };
        signals.abort();
        exit
    });
    session.shutdown();
    exit
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn schedule_args(argv: &[&str]) -> ScheduleArgs {
        let cli = Cli::try_parse_from(["clobscript", "schedule"].iter().chain(argv))
            .expect("valid command line");
        match cli.command {
            Command::Schedule(args) => args,
            other => panic!("not schedule: {other:?}"),
        }
    }

    fn jobs_dir(settings: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("a.rhai"), "").expect("script");
        let text = format!("{settings}\n[jobs.a]\nscript = \"a.rhai\"\nevery = \"1m\"\n");
        std::fs::write(dir.path().join("jobs.toml"), text).expect("jobs file");
        dir
    }

    #[test]
    fn without_settings_the_defaults_apply() {
        let dir = jobs_dir("");
        let jobs = dir.path().join("jobs.toml");
        let plan = plan(&schedule_args(&["--jobs", jobs.to_str().expect("utf-8")])).expect("ok");
        assert_eq!(plan.grace, DEFAULT_GRACE);
        assert_eq!(plan.heartbeat, None);
        assert_eq!(plan.run_log, runlog::default_path());
    }

    #[test]
    fn jobs_file_settings_apply_and_command_line_flags_win() {
        let dir = jobs_dir(
            "grace = \"1m\"\nheartbeat = true\nheartbeat_interval = \"2s\"\nrun_log = \"r.jsonl\"",
        );
        let jobs = dir.path().join("jobs.toml");
        let jobs = jobs.to_str().expect("utf-8");
        let from_file = plan(&schedule_args(&["--jobs", jobs])).expect("ok");
        assert_eq!(from_file.grace, Duration::from_secs(60));
        assert_eq!(
            from_file.heartbeat,
            Some(HeartbeatConfig::every(Duration::from_secs(2)))
        );
        assert_eq!(from_file.run_log, dir.path().join("r.jsonl"));

        let flags = plan(&schedule_args(&[
            "--jobs",
            jobs,
            "--grace",
            "5s",
            "--heartbeat-interval",
            "300ms",
            "--run-log",
            "mine.jsonl",
        ]))
        .expect("ok");
        assert_eq!(flags.grace, Duration::from_secs(5));
        assert_eq!(
            flags.heartbeat,
            Some(HeartbeatConfig::every(Duration::from_millis(300)))
        );
        assert_eq!(flags.run_log, PathBuf::from("mine.jsonl"));
    }

    #[test]
    fn a_zero_heartbeat_interval_is_refused() {
        let dir = jobs_dir("");
        let script = dir.path().join("a.rhai");
        let err = plan(&schedule_args(&[
            script.to_str().expect("utf-8"),
            "--every",
            "1m",
            "--heartbeat",
            "--heartbeat-interval",
            "0s",
        ]))
        .unwrap_err();
        assert!(matches!(err, SetupError::ZeroHeartbeatInterval), "{err}");
    }
}
