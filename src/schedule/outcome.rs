//! What one run of a job came to, as the scheduler and the run log see it.

use serde::Serialize;

use crate::exit::Exit;

/// How a run ended (or why a fire did not start one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The script finished without error.
    Ok,
    /// The script failed: a run-time error, `throw`, an API failure or a safety guard.
    Error,
    /// The script ran past its `--timeout`.
    Timeout,
    /// The fire came while the job's previous run was still going, so no run started.
    Skipped,
    /// Shutdown interrupted the run after its grace period.
    Interrupted,
}

impl Outcome {
    /// Whether this counts towards `--max-failures`.
    pub fn is_failure(self) -> bool {
        matches!(self, Outcome::Error | Outcome::Timeout)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Timeout => "timeout",
            Outcome::Skipped => "skipped",
            Outcome::Interrupted => "interrupted",
        }
    }
}

/// The result of one run, as the thing being scheduled reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunReport {
    pub outcome: Outcome,
    /// The exit code a one-shot `clobscript run` would have ended with.
    pub exit: Exit,
    /// Exchange requests the run made.
    pub requests: u64,
    /// Orders the run canceled (or would have, in a dry run).
    pub canceled: u64,
    /// What went wrong, for every outcome but `ok`.
    pub error: Option<String>,
}

impl RunReport {
    /// A successful run.
    pub fn ok(requests: u64, canceled: u64) -> RunReport {
        RunReport {
            outcome: Outcome::Ok,
            exit: Exit::Success,
            requests,
            canceled,
            error: None,
        }
    }

    /// A failed run with its exit code and message.
    pub fn failed(exit: Exit, error: impl Into<String>) -> RunReport {
        RunReport {
            outcome: Outcome::Error,
            exit,
            requests: 0,
            canceled: 0,
            error: Some(error.into()),
        }
    }

    /// A run stopped by its `--timeout`.
    pub fn timed_out(error: impl Into<String>) -> RunReport {
        RunReport {
            outcome: Outcome::Timeout,
            ..RunReport::failed(Exit::ScriptFailed, error)
        }
    }

    /// A run stopped by shutdown.
    pub fn interrupted(error: impl Into<String>) -> RunReport {
        RunReport {
            outcome: Outcome::Interrupted,
            ..RunReport::failed(Exit::Interrupted, error)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_errors_and_timeouts_count_as_failures() {
        assert!(Outcome::Error.is_failure());
        assert!(Outcome::Timeout.is_failure());
        assert!(!Outcome::Ok.is_failure());
        assert!(!Outcome::Skipped.is_failure());
        assert!(!Outcome::Interrupted.is_failure());
    }

    #[test]
    fn outcomes_serialize_as_the_run_log_words() {
        let words: Vec<String> = [
            Outcome::Ok,
            Outcome::Error,
            Outcome::Timeout,
            Outcome::Skipped,
            Outcome::Interrupted,
        ]
        .iter()
        .map(|o| serde_json::to_string(o).expect("serializes"))
        .collect();
        assert_eq!(
            words,
            [
                "\"ok\"",
                "\"error\"",
                "\"timeout\"",
                "\"skipped\"",
                "\"interrupted\""
            ]
        );
        assert_eq!(Outcome::Interrupted.as_str(), "interrupted");
    }
}
