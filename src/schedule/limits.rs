//! `--max-runs` and `--max-failures`: when a job has run enough, or failed too often in a row.

use super::outcome::Outcome;

/// A limit that cannot be met.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    #[error("max-runs must be at least 1 (leave it out to run until stopped)")]
    ZeroMaxRuns,
    #[error("max-failures must be at least 1 (leave it out to keep going whatever fails)")]
    ZeroMaxFailures,
}

/// How long a job may go on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunLimits {
    max_runs: Option<u64>,
    max_failures: Option<u64>,
}

impl RunLimits {
    /// No limit: run until stopped.
    pub fn unlimited() -> RunLimits {
        RunLimits::default()
    }

    pub fn new(max_runs: Option<u64>, max_failures: Option<u64>) -> Result<RunLimits, LimitError> {
        if max_runs == Some(0) {
            return Err(LimitError::ZeroMaxRuns);
        }
        if max_failures == Some(0) {
            return Err(LimitError::ZeroMaxFailures);
        }
        Ok(RunLimits {
            max_runs,
            max_failures,
        })
    }

    pub fn max_runs(&self) -> Option<u64> {
        self.max_runs
    }

    pub fn max_failures(&self) -> Option<u64> {
        self.max_failures
    }
}

/// What the tally says after a run ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Keep scheduling.
    Continue,
    /// `max_failures` consecutive runs failed: stop.
    TooManyFailures { consecutive: u64 },
}

/// Counts one job's runs against its limits.
#[derive(Clone, Debug)]
pub struct RunTally {
    limits: RunLimits,
    started: u64,
    consecutive_failures: u64,
}

impl RunTally {
    pub fn new(limits: RunLimits) -> RunTally {
        RunTally {
            limits,
            started: 0,
            consecutive_failures: 0,
        }
    }

    /// Whether another run may start (`max_runs` not reached yet).
    pub fn may_start(&self) -> bool {
        self.limits.max_runs.is_none_or(|max| self.started < max)
    }

    /// Counts a started run; returns its number, from 1.
    pub fn start(&mut self) -> u64 {
        self.started += 1;
        self.started
    }

    /// Runs started so far.
    pub fn started(&self) -> u64 {
        self.started
    }

    /// Counts a finished run. A success resets the failure streak; an interruption leaves it.
    pub fn finish(&mut self, outcome: Outcome) -> Verdict {
        if outcome.is_failure() {
            self.consecutive_failures += 1;
        } else if outcome == Outcome::Ok {
            self.consecutive_failures = 0;
        }
        match self.limits.max_failures {
            Some(max) if self.consecutive_failures >= max => Verdict::TooManyFailures {
                consecutive: self.consecutive_failures,
            },
            _ => Verdict::Continue,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_runs_allows_exactly_that_many_starts() {
        let mut tally = RunTally::new(RunLimits::new(Some(3), None).expect("valid"));
        let mut numbers = Vec::new();
        while tally.may_start() {
            numbers.push(tally.start());
        }
        assert_eq!(numbers, [1, 2, 3]);
    }

    #[test]
    fn unlimited_always_allows_another_start() {
        let mut tally = RunTally::new(RunLimits::unlimited());
        for _ in 0..10_000 {
            tally.start();
        }
        assert!(tally.may_start());
    }

    #[test]
    fn consecutive_failures_stop_and_a_success_resets_the_streak() {
        let mut tally = RunTally::new(RunLimits::new(None, Some(2)).expect("valid"));
        assert_eq!(tally.finish(Outcome::Error), Verdict::Continue);
        assert_eq!(tally.finish(Outcome::Ok), Verdict::Continue);
        assert_eq!(tally.finish(Outcome::Timeout), Verdict::Continue);
        assert_eq!(
            tally.finish(Outcome::Error),
            Verdict::TooManyFailures { consecutive: 2 }
        );
    }

    #[test]
    fn skipped_starts_neither_fail_nor_reset_the_streak() {
        let mut tally = RunTally::new(RunLimits::new(None, Some(2)).expect("valid"));
        tally.finish(Outcome::Error);
        assert_eq!(tally.finish(Outcome::Skipped), Verdict::Continue);
        assert_eq!(
            tally.finish(Outcome::Error),
            Verdict::TooManyFailures { consecutive: 2 }
        );
    }

    #[test]
    fn zero_limits_are_refused() {
        assert_eq!(RunLimits::new(Some(0), None), Err(LimitError::ZeroMaxRuns));
        assert_eq!(
            RunLimits::new(None, Some(0)),
            Err(LimitError::ZeroMaxFailures)
        );
    }
}
