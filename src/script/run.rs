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
    /// Script output on stderr as JSON lines (`--log-format json`).
    pub json_lines: super::output::StderrLines,
    /// What becomes of the script's variables and final value after the run.
    pub afterwards: Afterwards,
}

/// What becomes of a run's variables and final value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Afterwards {
    /// Freed; nobody reads the value (the scheduler reports only the summary).
    #[default]
    Free,
    /// The value turned into JSON, in [`RunOutcome::value`].
    Json,
    /// Nobody reads the value and the process ends after this run (`clobscript run`): both
    /// are left for the system to take back at exit rather than freed one by one (100,000
    /// orders take tens of milliseconds to free, and a result naming as many ids longer
    /// still to turn into JSON).
    Exit,
}

impl RunOptions {
    /// The script host's options for these settings (the REPL uses them too). A malformed
    /// `--arg` is a usage error (exit 2).
    pub fn host_options(&self) -> Result<HostOptions, ScriptError> {
        let args = ScriptArgs::parse(&self.args)
            .map_err(|e| ScriptError::plain(Exit::Usage, e.to_string()))?;
        if self.timeout.is_some_and(|t| t.is_zero()) {
            return Err(ScriptError::plain(
                Exit::Usage,
                "--timeout must be longer than zero; write e.g. `30s` or `5m` (or leave it out \
                 for no limit)",
            ));
        }
        Ok(HostOptions {
            args,
            dry_run: self.dry_run,
            max_cancels: self.max_cancels,
            audit: self.audit.clone(),
            print_to_stderr: self.print_to_stderr,
            progress: self.progress,
            json_lines: self.json_lines,
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
    /// The script's final value as JSON, when it succeeded and [`Afterwards::Json`] asked
    /// for it.
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
    afterwards: Afterwards,
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
    let checked = host.static_check(&script);
    if !checked.problems.is_empty() {
        return Err(ScriptError::combined(Exit::Usage, checked.problems));
    }
    unread_args(&host_args(options)?, &checked.params, &options.script)?;
    Ok(PreparedRun {
        host,
        script,
        timeout: options.timeout,
        afterwards: options.afterwards,
    })
}

fn host_args(options: &RunOptions) -> Result<ScriptArgs, ScriptError> {
    ScriptArgs::parse(&options.args).map_err(|e| ScriptError::plain(Exit::Usage, e.to_string()))
}

/// Refuses `--arg` names the script never reads (a typo would otherwise leave the default in
/// force), naming the closest name it does read. A script that reads its parameters in a way
/// that cannot be known before it runs accepts every name.
fn unread_args(
    given: &ScriptArgs,
    reads: &super::check::ParamReads,
    script: &std::path::Path,
) -> Result<(), ScriptError> {
    if reads.dynamic {
        return Ok(());
    }
    let unread: Vec<String> = given
        .names()
        .filter(|name| !reads.names.contains(*name))
        .map(|name| {
            let hint = match super::errors::suggest(name, reads.names.iter().map(String::as_str)) {
                Some(close) => format!("did you mean `{close}`?"),
                None if reads.names.is_empty() => "it reads no parameters".to_owned(),
                None => format!(
                    "it reads {}",
                    reads
                        .names
                        .iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            format!(
                "--arg `{name}` is not a parameter of {}; {hint}",
                script.display()
            )
        })
        .collect();
    if unread.is_empty() {
        Ok(())
    } else {
        Err(ScriptError::plain(Exit::Usage, unread.join("\nerror: ")))
    }
}

impl PreparedRun {
    /// The host (for its interrupt handle, before [`PreparedRun::execute`] blocks).
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The host, the compiled script and the `--timeout`, for callers that evaluate it their
    /// own way (`watch` runs it once to set up, then calls its handlers).
    pub fn into_parts(self) -> (Host, Script, Option<Duration>) {
        (self.host, self.script, self.timeout)
    }

    /// Runs the script against `backend` on the calling thread (which must not be a runtime
    /// worker) and reports how it went.
    pub fn execute(self, backend: Backend) -> RunOutcome {
        let started = Instant::now();
        let PreparedRun {
            host,
            script,
            timeout,
            afterwards,
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
        let leave = afterwards == Afterwards::Exit;
        // The script's variables (a listing of 300,000 orders, say) go before its value is
        // turned into JSON, so the two are never held at once.
        if leave {
            std::mem::forget(scope);
        } else {
            drop(scope);
        }
        let duration = started.elapsed();
        let summary = host.summary();
        match result {
            Ok(value) => RunOutcome {
                exit: Exit::Success,
                error: None,
                value: if afterwards == Afterwards::Json {
                    Some(super::convert::to_json(&value))
                } else {
                    if leave {
                        std::mem::forget(value);
                    }
                    None
                },
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
