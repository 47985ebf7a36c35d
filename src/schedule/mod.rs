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
//! - [`jobs`]: job definitions from flags or a TOML file.

pub mod clock;
pub mod heartbeat;
pub mod jitter;
pub mod jobs;
pub mod limits;
pub mod outcome;
pub mod overlap;
pub mod runlog;
pub mod runner;
pub mod shutdown;
pub mod spec;
pub mod trigger;

pub use outcome::{Outcome, RunReport};
pub use runner::{RunJob, Runner, ScheduledJob, SchedulerEnd};

use std::path::PathBuf;
use std::time::Duration;

use crate::cli::{GlobalArgs, HeartbeatArgs, ScheduleArgs};
use crate::exit::Exit;
use heartbeat::HeartbeatConfig;
use jobs::{JobDefaults, JobDefinition, JobError, JobsFileError};

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

/// `clobscript schedule`.
pub fn command(_global: &GlobalArgs, args: ScheduleArgs) -> Exit {
    let _plan = match plan(&args) {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("clobscript: {e}");
            return Exit::Usage;
        }
    };
    eprintln!("clobscript: `schedule` is not available in this build yet");
    Exit::Usage
}

/// `clobscript heartbeat`.
pub fn heartbeat_command(_global: &GlobalArgs, _args: HeartbeatArgs) -> Exit {
    eprintln!("clobscript: `heartbeat` is not available in this build yet");
    Exit::Usage
}
