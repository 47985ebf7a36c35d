//! One run of one playbook, for `run` and for each tick of the scheduler.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::args::ScriptArgs;
use super::cancels::AuditTarget;
use super::engine::{Backend, Host, HostOptions, Script, Summary};
use super::errors::ScriptError;
use super::interrupt::Interrupt;
use crate::exit::Exit;

/// Everything that shapes one run of a script.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    pub script: PathBuf,
    /// `KEY=VALUE` parameters as given to `--arg`.
    pub args: Vec<String>,
    pub dry_run: bool,
    pub max_cancels: Option<u64>,
    /// Wall-clock limit; the script is stopped (exit 1) when it passes.
    pub timeout: Option<Duration>,
    pub audit: AuditTarget,
    /// `print`/`table` to stderr instead of stdout.
    pub print_to_stderr: bool,
    /// Spinner on stderr during long fetches.
    pub progress: bool,
}

impl RunOptions {
    /// The script host's options for these settings (the REPL uses them too). A malformed
    /// `--arg` is a usage error (exit 2).
    pub fn host_options(&self) -> Result<HostOptions, ScriptError> {
        let args = ScriptArgs::parse(&self.args)
            .map_err(|e| ScriptError::plain(Exit::Usage, e.to_string()))?;
        Ok(HostOptions {
            args,
            dry_run: self.dry_run,
            max_cancels: self.max_cancels,
            audit: self.audit.clone(),
            print_to_stderr: self.print_to_stderr,
            progress: self.progress,
            ..HostOptions::default()
        })
    }
}

/// How a run ended.
#[derive(Debug)]
pub struct RunOutcome {
    pub exit: Exit,
    /// Why it failed, when it did.
    pub error: Option<ScriptError>,
    /// The script's final value as JSON, when it succeeded.
    pub value: Option<serde_json::Value>,
    /// Requests, retries and cancels of this run only.
    pub summary: Summary,
    pub duration: Duration,
}

impl RunOutcome {
    /// A run that failed before the script started.
    pub fn failed(error: ScriptError, duration: Duration) -> RunOutcome {
        RunOutcome {
            exit: error.exit(),
            error: Some(error),
            value: None,
            summary: Summary::default(),
            duration,
        }
    }

    /// `done in 1.20s: 4 requests, 12 orders canceled, 0 not canceled`.
    pub fn summary_line(&self) -> String {
        let verb = match self.exit {
            Exit::Success => "done in",
            Exit::Interrupted => "interrupted after",
            Exit::Guard => "stopped by a safety guard after",
            _ => "failed after",
        };
        format!(
            "{verb} {:.2}s: {}",
            self.duration.as_secs_f64(),
            self.summary.describe()
        )
    }
}

/// A script compiled and checked, with a host ready to connect: everything that can fail
/// without an exchange has been done.
#[derive(Debug)]
pub struct PreparedRun {
    host: Host,
    script: Script,
    timeout: Option<Duration>,
}

/// Parses the parameters, opens the audit log, compiles the script and checks every function
/// it calls (exit 2 on any of these). `stop`, if given, becomes the run's interrupt.
pub fn prepare(options: &RunOptions, stop: Option<Interrupt>) -> Result<PreparedRun, ScriptError> {
    let host = Host::new(HostOptions {
        interrupt: stop,
        ..options.host_options()?
    })
    .map_err(|e| ScriptError::plain(Exit::Usage, e.to_string()))?;
    let script = host.compile_file(&options.script)?;
    let problems = host.unknown_functions(&script);
    if !problems.is_empty() {
        return Err(ScriptError::combined(Exit::Usage, problems));
    }
    Ok(PreparedRun {
        host,
        script,
        timeout: options.timeout,
    })
}

impl PreparedRun {
    /// The host (for its interrupt handle, before [`PreparedRun::execute`] blocks).
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// Runs the script against `backend` on the calling thread (which must not be a runtime
    /// worker) and reports how it went.
    pub fn execute(self, backend: Backend) -> RunOutcome {
        let started = Instant::now();
        let PreparedRun {
            host,
            script,
            timeout,
        } = self;
        host.connect(backend);
        if let Err(e) = host.begin_run(&script.source().name) {
            return RunOutcome::failed(
                ScriptError::plain(Exit::Usage, e.to_string()),
                started.elapsed(),
            );
        }
        let mut scope = host.new_scope();
        let result = host.eval_bounded(&script, &mut scope, timeout);
        let duration = started.elapsed();
        let summary = host.summary();
        match result {
            Ok(value) => RunOutcome {
                exit: Exit::Success,
                error: None,
                value: Some(super::convert::to_json(&value)),
                summary,
                duration,
            },
            Err(error) => RunOutcome {
                summary,
                ..RunOutcome::failed(error, duration)
            },
        }
    }
}

/// One run of `options.script` on `backend`: what the scheduler calls for each tick. `stop`
/// interrupts it (e.g. on shutdown after a grace period); `options.timeout` bounds it. Call
/// from a thread that is not a runtime worker (e.g. inside `spawn_blocking`).
pub fn run_once(backend: Backend, options: &RunOptions, stop: &Interrupt) -> RunOutcome {
    let started = Instant::now();
    match prepare(options, Some(stop.clone())) {
        Ok(prepared) => prepared.execute(backend),
        Err(error) => RunOutcome::failed(error, started.elapsed()),
    }
}
