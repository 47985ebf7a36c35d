//! The Rhai host (in progress).

use crate::cli::{CheckArgs, GlobalArgs, RunArgs};
use crate::exit::Exit;

pub fn run_command(_global: &GlobalArgs, _args: RunArgs) -> Exit {
    eprintln!("clobscript: `run` is not available in this build yet");
    Exit::Usage
}

pub fn check_command(_args: &CheckArgs) -> Exit {
    eprintln!("clobscript: `check` is not available in this build yet");
    Exit::Usage
}

pub fn docs_command() -> Exit {
    eprintln!("clobscript: `docs` is not available in this build yet");
    Exit::Usage
}
