//! `clobscript run`, `clobscript check` and `clobscript docs`.

use std::io::{IsTerminal as _, Write as _};

use super::session::Session;
use super::{CommandError, CommandResult, emit_summary, eprint_line, exec, signals};
use crate::cli::{CheckArgs, GlobalArgs, RunArgs};
use crate::exit::Exit;
use crate::script::{self, Host, ScriptError};

/// `clobscript run`: everything that can fail without an exchange is checked before
/// connecting; a failed run prints its error and summary and exits with its code.
pub fn run(global: &GlobalArgs, args: &RunArgs) -> CommandResult {
    let mut options = exec::run_options(args.script.clone(), &args.exec);
    options.print_to_stderr = args.json;
    // The process ends after this run.
    options.afterwards = if args.json {
        script::Afterwards::Json
    } else {
        script::Afterwards::Exit
    };
    options.json_lines = if crate::logging::json_lines() {
        crate::script::StderrLines::Json
    } else {
        crate::script::StderrLines::Text
    };
    options.progress = std::io::stderr().is_terminal();
    let prepared = script::prepare(&options, None)?;
    let session = Session::connect(global, &args.exec)?;
    signals::stop_script(&session.handle(), prepared.host().interrupt_handle());
    let outcome = prepared.execute(session.backend());
    if let Some(error) = &outcome.error {
        eprint_line(error.rendered());
    }
    emit_summary(
        &outcome.summary_line(),
        outcome.exit,
        outcome.duration,
        &outcome.summary,
    );
    if args.json
        && let Some(value) = &outcome.value
    {
        let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
        let _ = writeln!(std::io::stdout().lock(), "{text}");
    }
    session.shutdown();
    Ok(outcome.exit)
}

/// `clobscript check`.
pub fn check(args: &CheckArgs) -> CommandResult {
    let host = Host::offline();
    let script = host.compile_file(&args.script)?;
    let problems = host.unknown_functions(&script);
    if problems.is_empty() {
        let _ = writeln!(
            std::io::stdout().lock(),
            "ok: {} compiles and calls only known functions",
            args.script.display()
        );
        return Ok(Exit::Success);
    }
    let count = problems.len();
    let error = ScriptError::combined(Exit::Usage, problems);
    eprint_line(error.rendered());
    eprint_line(&format!(
        "{}: {count} problem{} found",
        args.script.display(),
        script::plural(count as u64)
    ));
    Ok(Exit::Usage)
}

/// `clobscript docs`.
pub fn docs() -> CommandResult {
    let text = Host::offline().reference_markdown();
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Ok(()) => Ok(Exit::Success),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(Exit::Success),
        Err(e) => Err(CommandError::new(
            Exit::Usage,
            format!("cannot write the reference: {e}"),
        )),
    }
}
