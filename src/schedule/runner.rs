//! The scheduler loop. Each job is one task that waits for its next fire, starts a run in its
//! [`RunSlot`] (or logs a skipped start when the slot is busy), records every finished run,
//! and counts runs and failures against its [`RunLimits`]. On shutdown a job starts nothing
//! new, lets a run in flight finish within the grace period, then interrupts it.
//!
//! The runner is generic over what a run is ([`RunJob`]): the command wires in the script
//! host, the tests wire in fake jobs.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::clock::Clock;
use super::limits::{RunLimits, RunTally, Verdict};
use super::outcome::{Outcome, RunReport};
use super::overlap::{RunSlot, RunTicket};
use super::runlog::{RunLog, RunRecord};
use super::shutdown::Shutdown;
use super::spec::{Fire, ScheduleSpec};
use crate::exit::Exit;

/// A boxed run, as [`RunJob::run_once`] returns it.
pub type RunFuture = Pin<Box<dyn Future<Output = RunReport> + Send + 'static>>;

/// Something the scheduler can run once. The run must end soon after `interrupt` is cancelled.
pub trait RunJob: Send + Sync + 'static {
    fn run_once(&self, interrupt: CancellationToken) -> RunFuture;
}

impl<F, Fut> RunJob for F
where
    F: Fn(CancellationToken) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = RunReport> + Send + 'static,
{
    fn run_once(&self, interrupt: CancellationToken) -> RunFuture {
        Box::pin(self(interrupt))
    }
}

/// One job as the runner sees it.
#[derive(Clone)]
pub struct ScheduledJob {
    pub name: String,
    pub spec: ScheduleSpec,
    pub limits: RunLimits,
    pub run: Arc<dyn RunJob>,
}

impl std::fmt::Debug for ScheduledJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScheduledJob")
            .field("name", &self.name)
            .field("spec", &self.spec)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// How one job's loop ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobEnd {
    /// `max_runs` reached (or the schedule never fires again).
    Done,
    /// Shutdown was requested.
    Stopped,
    /// `max_failures` consecutive runs failed; the last one's exit code and error.
    TooManyFailures {
        job: String,
        consecutive: u64,
        exit: Exit,
        error: Option<String>,
    },
}

/// How the whole scheduler ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SchedulerEnd {
    /// Every job reached its `max_runs`.
    Finished,
    /// A signal (or the caller) stopped it.
    Stopped,
    /// A job failed too often in a row; the others were stopped.
    TooManyFailures {
        job: String,
        consecutive: u64,
        exit: Exit,
        error: Option<String>,
    },
}

impl SchedulerEnd {
    /// The process exit code: 0 after a clean stop or when done; otherwise the last failing
    /// run's code (1 if that code would read as success or interruption).
    pub fn exit(&self) -> Exit {
        match self {
            SchedulerEnd::Finished | SchedulerEnd::Stopped => Exit::Success,
            SchedulerEnd::TooManyFailures { exit, .. } => match exit {
                Exit::Success | Exit::Interrupted => Exit::ScriptFailed,
                other => *other,
            },
        }
    }
}

/// The runner's own settings.
#[derive(Clone)]
pub struct Runner {
    clock: Arc<dyn Clock>,
    log: Arc<RunLog>,
    /// How long a run in flight may go on after a stop request before it is interrupted.
    grace: Duration,
    /// How long an interrupted run may take to stop before it is abandoned.
    interrupt_wait: Duration,
    /// Runs that ignored their interrupt and were left behind.
    abandoned: Arc<AtomicU64>,
}

/// An interrupted script stops at its next statement; this bounds one that is stuck elsewhere.
pub const DEFAULT_INTERRUPT_WAIT: Duration = Duration::from_secs(5);

impl Runner {
    pub fn new(clock: Arc<dyn Clock>, log: Arc<RunLog>, grace: Duration) -> Runner {
        Runner {
            clock,
            log,
            grace,
            interrupt_wait: DEFAULT_INTERRUPT_WAIT,
            abandoned: Arc::default(),
        }
    }

    /// How many runs ignored their interrupt and were left running: the caller should not
    /// wait for their threads when it exits.
    pub fn abandoned_runs(&self) -> u64 {
        self.abandoned.load(Ordering::SeqCst)
    }

    /// Overrides how long an interrupted run may take to stop.
    pub fn with_interrupt_wait(mut self, wait: Duration) -> Runner {
        self.interrupt_wait = wait;
        self
    }

    /// Runs every job until all are done, one fails too often, or `shutdown` stops them.
    pub async fn run_all(&self, jobs: Vec<ScheduledJob>, shutdown: Shutdown) -> SchedulerEnd {
        let mut tasks = JoinSet::new();
        for job in jobs {
            let runner = self.clone();
            let shutdown = shutdown.clone();
            tasks.spawn(async move { runner.run_job(job, shutdown).await });
        }
        let mut end = SchedulerEnd::Finished;
        while let Some(joined) = tasks.join_next().await {
            let job_end = joined.unwrap_or_else(|e| JobEnd::TooManyFailures {
                job: "scheduler".to_owned(),
                consecutive: 0,
                exit: Exit::ScriptFailed,
                error: Some(format!("a job's loop stopped abnormally: {e}")),
            });
            match job_end {
                JobEnd::Done => {}
                JobEnd::Stopped => {
                    if end == SchedulerEnd::Finished {
                        end = SchedulerEnd::Stopped;
                    }
                }
                JobEnd::TooManyFailures {
                    job,
                    consecutive,
                    exit,
                    error,
                } => {
                    if !matches!(end, SchedulerEnd::TooManyFailures { .. }) {
                        tracing::error!(
                            job = %job, consecutive, exit_code = exit.code(),
                            error = error.as_deref().unwrap_or(""),
                            "max-failures reached: stopping the scheduler"
                        );
                        end = SchedulerEnd::TooManyFailures {
                            job,
                            consecutive,
                            exit,
                            error,
                        };
                    }
                    shutdown.request_stop();
                }
            }
        }
        end
    }

    /// One job's loop.
    pub async fn run_job(&self, job: ScheduledJob, shutdown: Shutdown) -> JobEnd {
        let mut plan = job.spec.plan(self.clock.now());
        let mut slot = RunSlot::new();
        let mut tally = RunTally::new(job.limits);
        tracing::info!(
            job = %job.name,
            schedule = %job.spec.trigger().describe(),
            max_runs = job.limits.max_runs(),
            max_failures = job.limits.max_failures(),
            "job scheduled"
        );
        loop {
            let fire = plan.current().filter(|_| tally.may_start());
            if fire.is_none() && slot.busy().is_none() {
                return JobEnd::Done;
            }
            tokio::select! {
                biased;
                () = shutdown.stopping() => break,
                (ticket, report, interrupted) = slot.finished() => {
                    let outcome = self.record_finished(&job.name, ticket, report.clone(), interrupted);
                    if let Verdict::TooManyFailures { consecutive } = tally.finish(outcome) {
                        return JobEnd::TooManyFailures {
                            job: job.name.clone(),
                            consecutive,
                            exit: report.exit,
                            error: report.error,
                        };
                    }
                }
                () = self.wait_for(fire) => {
                    if let Some(fire) = fire {
                        self.fire(&job, fire, &mut slot, &mut tally);
                        let now = self.clock.now();
                        let advance = plan.advance(now);
                        if advance.missed > 0 {
                            tracing::warn!(
                                job = %job.name, missed = advance.missed,
                                "scheduled starts missed (the process was paused or the clock \
                                 jumped); they are not made up for"
                            );
                        }
                    }
                }
            }
        }
        self.wind_down(&job.name, &mut slot, &shutdown).await;
        JobEnd::Stopped
    }

    async fn wait_for(&self, fire: Option<Fire>) {
        match fire {
            Some(fire) => self.clock.sleep_until(fire.start_at).await,
            None => std::future::pending().await,
        }
    }

    /// A fire: start a run, or log the skip if the previous one is still going.
    fn fire(&self, job: &ScheduledJob, fire: Fire, slot: &mut RunSlot, tally: &mut RunTally) {
        if let Some(busy) = slot.busy() {
            self.log
                .record(&RunRecord::skipped(&job.name, fire.scheduled, busy.run));
            return;
        }
        let ticket = RunTicket {
            run: tally.start(),
            scheduled: fire.scheduled,
            started: self.clock.now(),
        };
        tracing::debug!(job = %job.name, run = ticket.run, "run started");
        let run = Arc::clone(&job.run);
        // The slot was just seen idle, so this start cannot be refused.
        let _ = slot.try_start(ticket, move |interrupt| run.run_once(interrupt));
    }

    /// Writes a finished run's record; an interrupted failure is recorded as `interrupted`.
    fn record_finished(
        &self,
        job: &str,
        ticket: RunTicket,
        mut report: RunReport,
        interrupted: bool,
    ) -> Outcome {
        if interrupted && report.outcome != Outcome::Ok {
            report.outcome = Outcome::Interrupted;
        }
        let ended = self.clock.now();
        self.log.record(&RunRecord::finished(
            job,
            ticket.run,
            ticket.scheduled,
            ticket.started,
            ended,
            &report,
        ));
        report.outcome
    }

    /// Shutdown of one job: the run in flight gets the grace period, then is interrupted, then
    /// (if it still will not stop) abandoned.
    async fn wind_down(&self, job: &str, slot: &mut RunSlot, shutdown: &Shutdown) {
        let Some(busy) = slot.busy() else {
            return;
        };
        tracing::warn!(
            job,
            run = busy.run,
            grace = %humantime::format_duration(self.grace),
            "stopping: waiting for the run in flight to finish"
        );
        tokio::select! {
            biased;
            (ticket, report, interrupted) = slot.finished() => {
                self.record_finished(job, ticket, report, interrupted);
                return;
            }
            () = tokio::time::sleep(self.grace) => {}
            () = shutdown.interrupting() => {}
        }
        tracing::warn!(
            job,
            run = busy.run,
            "grace period over: interrupting the run"
        );
        slot.interrupt();
        match tokio::time::timeout(self.interrupt_wait, slot.finished()).await {
            Ok((ticket, report, interrupted)) => {
                self.record_finished(job, ticket, report, interrupted);
            }
            Err(_) => {
                if let Some(ticket) = slot.abandon() {
                    self.abandoned.fetch_add(1, Ordering::SeqCst);
                    let report = RunReport::interrupted(format!(
                        "the run did not stop within {} of being interrupted and was abandoned",
                        humantime::format_duration(self.interrupt_wait)
                    ));
                    self.record_finished(job, ticket, report, true);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
