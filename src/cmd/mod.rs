//! The command layer: the only code that sees the command line.
//!
//! Each command turns its clap arguments ([`crate::cli`]) into the domain's own option types
//! (`RunOptions`, `SimConfig`, `SchedulePlan`, ...), calls the library, and returns
//! [`CommandResult`]. [`report`] is the one place that prints a command's error and maps it to
//! the exit code; [`signals`] is the one signal policy; [`session`] is the composition root
//! that connects to the exchange.
//!
//! | command | module |
//! | --- | --- |
//! | `run`, `check`, `docs` | [`run`] |
//! | `repl` | [`repl`] |
//! | `schedule`, `heartbeat` | [`schedule`] |
//! | `sim` | [`sim`] |
//! | `auth` | [`auth`] |
//! | `watch` | [`watch`] |
//! | `audit`, `audit reconcile` | [`audit`] |

pub mod audit;
pub mod auth;
pub mod completions;
pub mod exec;
pub mod repl;
pub mod run;
pub mod schedule;
pub mod session;
pub mod signals;
pub mod sim;
pub mod watch;

use std::ffi::OsString;
use std::fmt;

use clap::Parser as _;

use crate::cli::{Cli, Command};
use crate::exit::Exit;
use crate::script::ScriptError;
use session::SessionError;

/// Why a command failed: what to tell the user, and the exit code.
#[derive(Debug)]
pub struct CommandError {
    exit: Exit,
    /// The whole text to print (already prefixed, or a rendered script error).
    text: String,
}

impl CommandError {
    /// A failure described in one message, printed as `error: {message}`.
    pub fn new(exit: Exit, message: impl fmt::Display) -> CommandError {
        CommandError {
            exit,
            text: format!("error: {message}"),
        }
    }

    /// A script error, printed as it renders itself (source excerpt and all).
    pub fn script(error: &ScriptError) -> CommandError {
        CommandError {
            exit: error.exit(),
            text: error.rendered().to_owned(),
        }
    }

    /// The exit code this failure maps to.
    pub fn exit(&self) -> Exit {
        self.exit
    }
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl From<SessionError> for CommandError {
    fn from(error: SessionError) -> CommandError {
        CommandError::new(error.exit(), error)
    }
}

impl From<ScriptError> for CommandError {
    fn from(error: ScriptError) -> CommandError {
        CommandError::script(&error)
    }
}

/// What every command returns: the exit code of a command that ran (a failed run included,
/// which reports itself), or the error that stopped it.
pub type CommandResult = Result<Exit, CommandError>;

/// Entry point of the binary: parse, set up logging, dispatch, and return the exit code.
pub fn main() -> Exit {
    let cli = match parse(std::env::args_os().collect()) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    Exit::Success
                }
                _ => Exit::Usage,
            };
        }
    };
    crate::logging::init(cli.global.verbose, cli.global.log_format);
    dispatch(cli)
}

/// Parses the command line. `run --sim play.rhai` (the flag first) would hand the script to
/// `--sim` as its fixture and then miss the script: when the script is missing and the value
/// after `--sim` is not a `.json` fixture, that value is read as the script instead.
pub fn parse(argv: Vec<OsString>) -> Result<Cli, clap::Error> {
    match Cli::try_parse_from(&argv) {
        Err(first) if first.kind() == clap::error::ErrorKind::MissingRequiredArgument => {
            match sim_value_as_script(&argv) {
                Some(fixed) => Cli::try_parse_from(fixed).map_err(|_| first),
                None => Err(first),
            }
        }
        parsed => parsed,
    }
}

/// `… --sim X …` rewritten as `… --sim= X …` (generated data, X positional), when X may be a
/// script: not a flag and not a `.json` fixture.
fn sim_value_as_script(argv: &[OsString]) -> Option<Vec<OsString>> {
    let at = argv.iter().position(|a| a == "--sim")?;
    let value = argv.get(at + 1)?.to_str()?;
    if value.starts_with('-') || value.to_ascii_lowercase().ends_with(".json") {
        return None;
    }
    let mut fixed = argv.to_vec();
    fixed[at] = OsString::from("--sim=");
    Some(fixed)
}

/// Runs one parsed command and reports how it ended.
pub fn dispatch(cli: Cli) -> Exit {
    report(execute(cli))
}

fn execute(cli: Cli) -> CommandResult {
    let global = cli.global;
    match cli.command {
        Command::Run(args) => run::run(&global, &args),
        Command::Check(args) => run::check(&args),
        Command::Docs => run::docs(),
        Command::Repl(args) => repl::repl(&global, &args),
        Command::Schedule(args) => schedule::schedule(&global, &args),
        Command::Heartbeat(args) => schedule::heartbeat(&global, &args),
        Command::Sim(args) => sim::sim(&args),
        Command::Auth(args) => auth::auth(&global, &args),
        Command::Watch(args) => watch::watch(&global, &args),
        Command::Completions(args) => completions::completions(&args),
        Command::Man => completions::man(),
        Command::Audit(args) => audit::audit(&global, &args),
    }
}

/// The one place a command's error is printed (on stderr) and turned into the exit code.
pub fn report(result: CommandResult) -> Exit {
    match result {
        Ok(exit) => exit,
        Err(error) => {
            eprint_line(&error.text);
            error.exit
        }
    }
}

/// One message on stderr (a JSON line with `--log-format json`), its level read from its
/// prefix (`error:`, `warning:`); a closed stderr is not worth failing over.
pub(crate) fn eprint_line(text: &str) {
    let level = if text.starts_with("warning:") {
        "WARN"
    } else if text.starts_with("error:") {
        "ERROR"
    } else {
        "INFO"
    };
    crate::logging::emit(level, text, serde_json::Map::new());
}

/// A run's summary line on stderr: the text, or with `--log-format json` one JSON object with
/// the counts as fields (`summary: true`, `exit`, `duration_s` and the summary's own counts).
pub(crate) fn emit_summary(
    line: &str,
    exit: Exit,
    duration: std::time::Duration,
    counts: &impl serde::Serialize,
) {
    let mut fields = serde_json::Map::new();
    if crate::logging::json_lines() {
        fields.insert("summary".into(), true.into());
        fields.insert("exit".into(), exit.code().into());
        fields.insert("duration_s".into(), duration.as_secs_f64().into());
        if let Ok(serde_json::Value::Object(counts)) = serde_json::to_value(counts) {
            fields.extend(counts);
        }
    }
    let level = if exit == Exit::Success {
        "INFO"
    } else {
        "ERROR"
    };
    crate::logging::emit(level, line, fields);
}
