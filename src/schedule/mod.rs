//! Unattended runs: `clobscript schedule` (interval or cron, one script or a jobs file) and
//! `clobscript heartbeat`.
//!
//! The pieces, each in its own module:
//! - [`trigger`]: `--every` / `--cron` / `--tz` and the next fire time;
//! - [`jitter`], [`spec`]: the whole timing of a job and its sequence of fires;
//! - [`limits`]: `--max-runs` and `--max-failures`;
//! - [`overlap`]: a run never starts while the job's previous run is going;
//! - [`shutdown`]: the two stop levels (grace, interrupt) signals are turned into;
//! - [`runlog`]: one JSON line per run;
//! - [`runner`]: the loop that composes them, generic over what a run is;
//! - [`heartbeat`]: the exchange's dead-man's switch kept alive;
//! - [`jobs`]: job definitions from flags or a TOML file;
//! - [`script_job`]: a run of a playbook on the shared session.
//!
//! [`serve`] composes them for `clobscript schedule`; the command itself (flags into a
//! [`SchedulePlan`], connecting, signals) lives in `crate::cmd::schedule`.

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
pub mod watch;

pub use outcome::{Outcome, RunReport};
pub use runner::{RunJob, Runner, ScheduledJob, SchedulerEnd};

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::clob::Client;
use crate::exit::Exit;
use crate::script::{Backend, RunOptions};
use clock::SystemClock;
use heartbeat::{Heartbeat, HeartbeatConfig, HeartbeatError};
use jobs::{JobDefinition, JobError, JobsFileError};
use runlog::RunLog;
use script_job::ScriptJob;
use shutdown::Shutdown;

/// How long a run in flight may go on after SIGINT/SIGTERM, unless told otherwise.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(10);

/// The exchange cancels after about this long without a heartbeat.
pub const EXCHANGE_HEARTBEAT_WINDOW: Duration = Duration::from_secs(10);

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

/// Warns when heartbeats every `interval` may be too slow for the exchange's window
/// (`what` names the setting: "a heartbeat interval", "an interval").
pub fn warn_if_heartbeat_too_slow(what: &str, interval: Duration) {
    if interval >= EXCHANGE_HEARTBEAT_WINDOW {
        tracing::warn!(
            "{what} of {} is not shorter than the exchange's ~10 s window: it may cancel this \
             key's orders between heartbeats",
            humantime::format_duration(interval)
        );
    }
}

/// Why [`serve`] could not start.
#[derive(Debug, thiserror::Error)]
#[error("{0}; no job was started")]
pub struct ServeError(#[from] pub HeartbeatError);

/// The scheduler proper, on the session's runtime: every job (with its prepared `options`,
/// in the plan's order) until they are done, one fails too often, or `shutdown` stops them.
/// Returns the exit code and the number of runs left behind. A heartbeat that cannot start
/// (exit 3) starts no job.
pub async fn serve(
    plan: SchedulePlan,
    options: Vec<RunOptions>,
    backend: Backend,
    client: Client,
    log: RunLog,
    shutdown: Shutdown,
) -> Result<(Exit, u64), ServeError> {
    let heartbeat_stop = CancellationToken::new();
    let heartbeat = match plan.heartbeat {
        Some(config) => {
            let hb = Heartbeat::start(client, config).await?;
            Some(tokio::spawn(hb.keep_alive(heartbeat_stop.clone())))
        }
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
    match &end {
        SchedulerEnd::Finished => tracing::info!("every job reached its max-runs: done"),
        SchedulerEnd::Stopped => tracing::info!("scheduler stopped cleanly"),
        SchedulerEnd::TooManyFailures { .. } => {}
    }
    Ok((end.exit(), runner.abandoned_runs()))
}
