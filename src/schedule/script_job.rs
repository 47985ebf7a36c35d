//! The bridge from the runner to the script host: a [`RunJob`] that runs one playbook on the
//! shared session, with fresh script state each time, and reports how it went.

use std::path::PathBuf;

use tokio_util::sync::CancellationToken;

use super::jobs::{JobDefinition, RunSettings};
use super::outcome::{Outcome, RunReport};
use super::runner::{RunFuture, RunJob};
use crate::exit::Exit;
use crate::script::{self, Backend, Interrupt, RunOptions, RunOutcome, ScriptError, StopReason};

/// The script host's options for one job's runs: the job's settings over `shared` (the
/// options every job has in common, such as the audit log).
pub fn run_options(script: PathBuf, settings: &RunSettings, shared: &RunOptions) -> RunOptions {
    RunOptions {
        script,
        args: settings.args.clone(),
        dry_run: settings.dry_run,
        max_cancels: settings.max_cancels,
        timeout: settings.timeout,
        ..shared.clone()
    }
}

/// Compiles a job's script and checks its parameters, so a broken job stops the scheduler
/// before anything runs rather than failing at every tick.
pub fn preflight(job: &JobDefinition, shared: &RunOptions) -> Result<RunOptions, ScriptError> {
    let options = run_options(job.script.clone(), &job.run, shared);
    script::prepare(&options, None)?;
    Ok(options)
}

/// One job's playbook, run on the session's exchange connection.
#[derive(Clone, Debug)]
pub struct ScriptJob {
    options: RunOptions,
    backend: Backend,
}

impl ScriptJob {
    pub fn new(options: RunOptions, backend: Backend) -> ScriptJob {
        ScriptJob { options, backend }
    }
}

impl RunJob for ScriptJob {
    fn run_once(&self, interrupt: CancellationToken) -> RunFuture {
        let options = self.options.clone();
        let backend = self.backend.clone();
        Box::pin(async move {
            let stop = Interrupt::new();
            let relay = {
                let stop = stop.clone();
                tokio::spawn(async move {
                    interrupt.cancelled().await;
                    stop.trigger(StopReason::Interrupted);
                })
            };
            // Rhai is synchronous and its functions block on requests: off the runtime workers.
            let run = tokio::task::spawn_blocking(move || {
                let outcome = script::run_once(backend, &options, &stop);
                (outcome, stop.reason())
            });
            let report = match run.await {
                Ok((outcome, reason)) => report_of(&outcome, reason),
                Err(e) => RunReport::failed(
                    Exit::ScriptFailed,
                    format!("the script's thread stopped abnormally: {e}"),
                ),
            };
            relay.abort();
            report
        })
    }
}

/// How the scheduler sees a script run: a timeout and an interruption are told apart from
/// other failures by why the script was stopped.
fn report_of(outcome: &RunOutcome, reason: Option<StopReason>) -> RunReport {
    let summary = &outcome.summary;
    let error = outcome.error.as_ref().map(|e| e.headline().to_owned());
    let outcome_kind = match (outcome.exit, reason) {
        (Exit::Success, _) => Outcome::Ok,
        (_, Some(StopReason::Timeout(_))) => Outcome::Timeout,
        (_, Some(StopReason::Interrupted)) => Outcome::Interrupted,
        _ => Outcome::Error,
    };
    RunReport {
        outcome: outcome_kind,
        exit: outcome.exit,
        requests: summary.requests,
        canceled: summary.canceled,
        error,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::script::Summary;

    fn outcome(exit: Exit, error: Option<&str>) -> RunOutcome {
        RunOutcome {
            exit,
            error: error.map(|e| ScriptError::plain(exit, e)),
            value: None,
            summary: Summary {
                requests: 7,
                canceled: 3,
                ..Summary::default()
            },
            duration: Duration::from_millis(5),
        }
    }

    #[test]
    fn a_successful_run_is_ok_with_its_counts() {
        let report = report_of(&outcome(Exit::Success, None), None);
        assert_eq!(report, RunReport::ok(7, 3));
    }

    #[test]
    fn the_stop_reason_tells_timeout_and_interruption_from_errors() {
        let timed_out = report_of(
            &outcome(Exit::ScriptFailed, Some("timed out")),
            Some(StopReason::Timeout(Duration::from_secs(1))),
        );
        assert_eq!(timed_out.outcome, Outcome::Timeout);
        let interrupted = report_of(
            &outcome(Exit::Interrupted, Some("interrupted")),
            Some(StopReason::Interrupted),
        );
        assert_eq!(interrupted.outcome, Outcome::Interrupted);
        let guard = report_of(
            &outcome(Exit::Guard, Some("max-cancels")),
            Some(StopReason::Guard("max-cancels".into())),
        );
        assert_eq!(
            (guard.outcome, guard.exit, guard.error.as_deref()),
            (Outcome::Error, Exit::Guard, Some("max-cancels"))
        );
    }

    #[test]
    fn job_settings_override_the_shared_flags_but_keep_the_audit_log() {
        let shared = RunOptions {
            args: vec!["ignored=1".into()],
            audit: script::AuditTarget::File("audit.jsonl".into()),
            ..RunOptions::default()
        };
        let settings = RunSettings {
            args: vec!["minutes=30".into()],
            dry_run: true,
            max_cancels: Some(5),
            timeout: Some(Duration::from_secs(9)),
        };
        let options = run_options("a.rhai".into(), &settings, &shared);
        assert_eq!(options.args, ["minutes=30"]);
        assert!(options.dry_run);
        assert_eq!(options.max_cancels, Some(5));
        assert_eq!(options.timeout, Some(Duration::from_secs(9)));
        assert!(
            matches!(options.audit, script::AuditTarget::File(ref p) if p.ends_with("audit.jsonl"))
        );
    }
}
