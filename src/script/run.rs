//! One run of one playbook, for `run` and for each tick of the scheduler; and the `check` and
//! `docs` commands.

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::args::ScriptArgs;
use super::engine::{Backend, Host, HostOptions, Script, Summary};
use super::errors::ScriptError;
use super::interrupt::{Interrupt, StopReason};
use super::safety::AuditTarget;
use crate::cli::{CheckArgs, ExecArgs, GlobalArgs, RunArgs};
use crate::exit::Exit;
use crate::session::Session;

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
    /// The options `run`/`schedule` flags describe for `script`.
    pub fn from_exec(script: PathBuf, exec: &ExecArgs) -> RunOptions {
        RunOptions {
            script,
            args: exec.args.clone(),
            dry_run: exec.dry_run,
            max_cancels: exec.max_cancels,
            timeout: exec.timeout,
            audit: exec
                .audit
                .clone()
                .map_or(AuditTarget::Default, AuditTarget::File),
            print_to_stderr: false,
            progress: false,
        }
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
    fn failed(error: ScriptError, duration: Duration) -> RunOutcome {
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
    let args = ScriptArgs::parse(&options.args)
        .map_err(|e| ScriptError::plain(Exit::Usage, e.to_string()))?;
    let host = Host::new(HostOptions {
        args,
        dry_run: options.dry_run,
        max_cancels: options.max_cancels,
        audit: options.audit.clone(),
        print_to_stderr: options.print_to_stderr,
        progress: options.progress,
        interrupt: stop,
        ..HostOptions::default()
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
        let handle = backend.handle.clone();
        host.connect(backend);
        let interrupt = host.interrupt_handle();
        let timer = timeout.map(|limit| {
            let interrupt = interrupt.clone();
            handle.spawn(async move {
                tokio::time::sleep(limit).await;
                interrupt.trigger(StopReason::Timeout(limit));
            })
        });
        let mut scope = host.new_scope();
        let result = host.eval(&script, &mut scope);
        if let Some(timer) = timer {
            timer.abort();
        }
        let duration = started.elapsed();
        let summary = host.summary();
        // A guard that fired inside a call the script swallowed still ends the run badly.
        let result = match (result, interrupt.swallowed_stop()) {
            (Ok(_), Some(error)) => Err(error),
            (result, _) => result,
        };
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

/// One run of `options.script` on an existing session: what the scheduler calls for each tick.
/// `stop` interrupts it (e.g. on shutdown after a grace period); `options.timeout` bounds it.
/// Call from a thread that is not a runtime worker (e.g. inside `spawn_blocking`).
pub fn run_once(session: &Session, options: &RunOptions, stop: &Interrupt) -> RunOutcome {
    let started = Instant::now();
    match prepare(options, Some(stop.clone())) {
        Ok(prepared) => prepared.execute(session.backend()),
        Err(error) => RunOutcome::failed(error, started.elapsed()),
    }
}

fn print_err(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// Ctrl-C (and SIGTERM) stop the script; a second one quits at once. The listeners are
/// registered before the script starts, so a signal can never hit the default handler.
fn watch_signals(session: &Session, interrupt: Interrupt) {
    let handle = session.handle();
    let _entered = handle.enter();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut interrupts), Ok(mut terminates)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            tracing::warn!("cannot listen for Ctrl-C; use --timeout to bound the run");
            return;
        };
        handle.spawn(async move {
            tokio::select! {
                _ = interrupts.recv() => {}
                _ = terminates.recv() => {}
            }
            interrupt.trigger(StopReason::Interrupted);
            print_err("interrupted: stopping the script (press Ctrl-C again to quit at once)");
            tokio::select! {
                _ = interrupts.recv() => {}
                _ = terminates.recv() => {}
            }
            std::process::exit(Exit::Interrupted.code());
        });
    }
    #[cfg(not(unix))]
    handle.spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            interrupt.trigger(StopReason::Interrupted);
            print_err("interrupted: stopping the script (press Ctrl-C again to quit at once)");
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(Exit::Interrupted.code());
            }
        }
    });
}

/// `clobscript run`.
pub fn run_command(global: &GlobalArgs, args: RunArgs) -> Exit {
    let mut options = RunOptions::from_exec(args.script.clone(), &args.exec);
    options.print_to_stderr = args.json;
    options.progress = std::io::stderr().is_terminal();
    let prepared = match prepare(&options, None) {
        Ok(prepared) => prepared,
        Err(error) => {
            print_err(error.rendered());
            return error.exit();
        }
    };
    let session = match Session::connect(global, &args.exec) {
        Ok(session) => session,
        Err(error) => {
            print_err(&format!("error: {error}"));
            return error.exit();
        }
    };
    watch_signals(&session, prepared.host().interrupt_handle());
    let outcome = prepared.execute(session.backend());
    if let Some(error) = &outcome.error {
        print_err(error.rendered());
    }
    print_err(&outcome.summary_line());
    if args.json
        && let Some(value) = &outcome.value
    {
        let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
        let _ = writeln!(std::io::stdout().lock(), "{text}");
    }
    session.shutdown();
    outcome.exit
}

/// `clobscript check`.
pub fn check_command(args: &CheckArgs) -> Exit {
    let host = Host::offline();
    let script = match host.compile_file(&args.script) {
        Ok(script) => script,
        Err(error) => {
            print_err(error.rendered());
            return error.exit();
        }
    };
    let problems = host.unknown_functions(&script);
    if problems.is_empty() {
        let _ = writeln!(
            std::io::stdout().lock(),
            "ok: {} compiles and calls only known functions",
            args.script.display()
        );
        return Exit::Success;
    }
    let count = problems.len();
    let error = ScriptError::combined(Exit::Usage, problems);
    print_err(error.rendered());
    print_err(&format!(
        "{}: {count} problem{} found",
        args.script.display(),
        super::safety::plural(count as u64)
    ));
    Exit::Usage
}

/// `clobscript docs`.
pub fn docs_command() -> Exit {
    let text = Host::offline().reference_markdown();
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Ok(()) => Exit::Success,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Exit::Success,
        Err(e) => {
            print_err(&format!("error: cannot write the reference: {e}"));
            Exit::Usage
        }
    }
}
