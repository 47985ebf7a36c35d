//! The interactive shell (in progress).

use crate::cli::{GlobalArgs, ReplArgs};
use crate::exit::Exit;

pub fn command(_global: &GlobalArgs, _args: ReplArgs) -> Exit {
    eprintln!("clobscript: `repl` is not available in this build yet");
    Exit::Usage
}
