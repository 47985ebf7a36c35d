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

use crate::cli::{GlobalArgs, HeartbeatArgs, ScheduleArgs};
use crate::exit::Exit;

/// `clobscript schedule`.
pub fn command(_global: &GlobalArgs, _args: ScheduleArgs) -> Exit {
    eprintln!("clobscript: `schedule` is not available in this build yet");
    Exit::Usage
}

/// `clobscript heartbeat`.
pub fn heartbeat_command(_global: &GlobalArgs, _args: HeartbeatArgs) -> Exit {
    eprintln!("clobscript: `heartbeat` is not available in this build yet");
    Exit::Usage
}
