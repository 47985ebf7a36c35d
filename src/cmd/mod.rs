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
//! | `audit`, `audit reconcile` | [`audit`] |

pub mod audit;
pub mod auth;
pub mod exec;
pub mod repl;
pub mod run;
pub mod schedule;
pub mod session;
pub mod signals;
pub mod sim;

use std::fmt;
use std::io::Write as _;

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
    let cli = match Cli::try_parse() {
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

/// One line on stderr; a closed stderr is not worth failing over.
pub(crate) fn eprint_line(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}
