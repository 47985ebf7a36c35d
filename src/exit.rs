//! The process exit codes documented in DESIGN.md; every command returns one of these.

/// Why clobscript stopped, as the shell sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// 0: success.
    Success,
    /// 1: the script failed at run time (an error or `throw`).
    ScriptFailed,
    /// 2: usage error, unreadable or uncompilable script, bad configuration.
    Usage,
    /// 3: an exchange/API failure that retries could not overcome (auth, network).
    Api,
    /// 4: a safety guard stopped the run (e.g. `--max-cancels`).
    Guard,
    /// 130: interrupted (SIGINT/Ctrl-C).
    Interrupted,
}

impl Exit {
    pub fn code(self) -> i32 {
        match self {
            Exit::Success => 0,
            Exit::ScriptFailed => 1,
            Exit::Usage => 2,
            Exit::Api => 3,
            Exit::Guard => 4,
            Exit::Interrupted => 130,
        }
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e.code() as u8)
    }
}
