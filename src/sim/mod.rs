//! The local CLOB simulator (in progress).

use crate::cli::SimArgs;
use crate::exit::Exit;

pub fn command(_args: SimArgs) -> Exit {
    eprintln!("clobscript: `sim` is not available in this build yet");
    Exit::Usage
}
