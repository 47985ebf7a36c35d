//! Scheduled runs and heartbeats (in progress).

use crate::cli::{GlobalArgs, HeartbeatArgs, ScheduleArgs};
use crate::exit::Exit;

pub fn command(_global: &GlobalArgs, _args: ScheduleArgs) -> Exit {
    eprintln!("clobscript: `schedule` is not available in this build yet");
    Exit::Usage
}

pub fn heartbeat_command(_global: &GlobalArgs, _args: HeartbeatArgs) -> Exit {
    eprintln!("clobscript: `heartbeat` is not available in this build yet");
    Exit::Usage
}
