//! A job's whole timing: its trigger, jitter and whether it runs at once; and the sequence of
//! fire times that follows from them.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use super::jitter::Jitter;
use super::trigger::Trigger;

/// A timing that does not make sense as a whole.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error(
        "the jitter ({jitter}) must be shorter than the interval ({every}), or runs would drift \
         into each other's slots"
    )]
    JitterNotShorterThanInterval { jitter: String, every: String },
    #[error(
        "the jitter ({jitter}) must be shorter than the shortest gap between the cron \
         expression's fire times ({gap}), or runs would drift into each other's slots"
    )]
    JitterNotShorterThanCronGap { jitter: String, gap: String },
}

/// How many upcoming fire times a cron expression's shortest gap is looked for in (a year of
/// a daily schedule, a week of a five-minute one).
const CRON_FIRES_CHECKED: usize = 2016;

/// When a job runs.
#[derive(Clone, Debug)]
pub struct ScheduleSpec {
    trigger: Trigger,
    jitter: Duration,
    run_now: bool,
}

impl ScheduleSpec {
    /// Checks that the parts fit together.
    pub fn new(trigger: Trigger, jitter: Duration, run_now: bool) -> Result<Self, SpecError> {
        if let Trigger::Every(period) = &trigger {
            let jitter_delta = TimeDelta::from_std(jitter).unwrap_or(TimeDelta::MAX);
            if !jitter.is_zero() && jitter_delta >= *period {
                return Err(SpecError::JitterNotShorterThanInterval {
                    jitter: humantime::format_duration(jitter).to_string(),
                    every: period
                        .to_std()
                        .map(|d| humantime::format_duration(d).to_string())
                        .unwrap_or_else(|_| period.to_string()),
                });
            }
        }
        if !jitter.is_zero()
            && let Some(gap) = trigger.shortest_cron_gap(Utc::now(), CRON_FIRES_CHECKED)
            && TimeDelta::from_std(jitter).unwrap_or(TimeDelta::MAX) >= gap
        {
            return Err(SpecError::JitterNotShorterThanCronGap {
                jitter: humantime::format_duration(jitter).to_string(),
                gap: gap
                    .to_std()
                    .map(|d| humantime::format_duration(d).to_string())
                    .unwrap_or_else(|_| gap.to_string()),
            });
        }
        Ok(ScheduleSpec {
            trigger,
            jitter,
            run_now,
        })
    }

    pub fn trigger(&self) -> &Trigger {
        &self.trigger
    }

    pub fn jitter(&self) -> Duration {
        self.jitter
    }

    pub fn run_now(&self) -> bool {
        self.run_now
    }

    /// The fire times from `start` on, with unpredictable jitter.
    pub fn plan(&self, start: DateTime<Utc>) -> FirePlan {
        self.plan_with(start, Jitter::up_to(self.jitter))
    }

    /// The fire times from `start` on, with the given jitter source.
    pub fn plan_with(&self, start: DateTime<Utc>, mut jitter: Jitter) -> FirePlan {
        let first = if self.run_now {
            // An immediate first run is what the user asked for: no jitter on it.
            Some(Fire {
                scheduled: start,
                start_at: start,
            })
        } else {
            self.trigger
                .next_after(start, start)
                .map(|t| Fire::jittered(t, &mut jitter))
        };
        FirePlan {
            trigger: self.trigger.clone(),
            anchor: start,
            jitter,
            current: first,
        }
    }
}

/// One fire: the time the schedule names, and the moment the run may start (after jitter).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fire {
    pub scheduled: DateTime<Utc>,
    pub start_at: DateTime<Utc>,
}

impl Fire {
    fn jittered(scheduled: DateTime<Utc>, jitter: &mut Jitter) -> Fire {
        let delay = TimeDelta::from_std(jitter.sample()).unwrap_or_default();
        Fire {
            scheduled,
            start_at: scheduled.checked_add_signed(delay).unwrap_or(scheduled),
        }
    }
}

/// The upcoming fires of one job.
#[derive(Debug)]
pub struct FirePlan {
    trigger: Trigger,
    anchor: DateTime<Utc>,
    jitter: Jitter,
    current: Option<Fire>,
}

/// What moving to the next fire found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Advance {
    /// Scheduled times that passed while the process was not looking (suspended, or a fire
    /// that jitter pushed past the next one); they are not made up for.
    pub missed: u64,
}

impl FirePlan {
    /// The next fire, or `None` when the schedule never fires again.
    pub fn current(&self) -> Option<Fire> {
        self.current
    }

    /// Moves past the current fire to the first one scheduled after `now`.
    pub fn advance(&mut self, now: DateTime<Utc>) -> Advance {
        let Some(done) = self.current else {
            return Advance { missed: 0 };
        };
        let mut missed = 0;
        let mut next = self.trigger.next_after(self.anchor, done.scheduled);
        // Count (a bounded number of) fires already in the past, then jump over the rest.
        while let Some(t) = next {
            if t > now {
                break;
            }
            missed += 1;
            if missed >= 1000 {
                next = self.trigger.next_after(self.anchor, now);
                break;
            }
            next = self.trigger.next_after(self.anchor, t);
        }
        self.current = next.map(|t| Fire::jittered(t, &mut self.jitter));
        Advance { missed }
    }
}

#[cfg(test)]
mod tests {
    use super::super::trigger::Trigger;
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("test time")
            .with_timezone(&Utc)
    }

    fn every(secs: u64) -> Trigger {
        Trigger::every(Duration::from_secs(secs)).expect("valid")
    }

    #[test]
    fn run_now_fires_at_start_then_follows_the_interval() {
        let spec = ScheduleSpec::new(every(60), Duration::ZERO, true).expect("valid");
        let start = at("2025-03-01T10:00:00Z");
        let mut plan = spec.plan(start);
        let mut seen = Vec::new();
        for _ in 0..3 {
            let fire = plan.current().expect("fires");
            seen.push(fire.scheduled);
            plan.advance(fire.start_at);
        }
        assert_eq!(
            seen,
            [
                start,
                at("2025-03-01T10:01:00Z"),
                at("2025-03-01T10:02:00Z")
            ]
        );
    }

    #[test]
    fn no_run_now_waits_for_the_first_scheduled_time() {
        let cron = Trigger::cron("*/15 * * * *", None).expect("valid");
        let spec = ScheduleSpec::new(cron, Duration::ZERO, false).expect("valid");
        let plan = spec.plan(at("2025-03-01T10:07:00Z"));
        assert_eq!(
            plan.current().map(|f| f.scheduled),
            Some(at("2025-03-01T10:15:00Z"))
        );
    }

    #[test]
    fn jitter_delays_the_start_but_not_the_scheduled_time() {
        let spec = ScheduleSpec::new(every(60), Duration::from_secs(10), false).expect("valid");
        let start = at("2025-03-01T10:00:00Z");
        let mut plan = spec.plan_with(start, Jitter::seeded(Duration::from_secs(10), 3));
        for k in 1..=20 {
            let fire = plan.current().expect("fires");
            assert_eq!(fire.scheduled, start + TimeDelta::seconds(60 * k));
            assert!(fire.start_at >= fire.scheduled);
            assert!(fire.start_at <= fire.scheduled + TimeDelta::seconds(10));
            plan.advance(fire.start_at);
        }
    }

    #[test]
    fn fires_missed_while_asleep_are_counted_and_not_made_up() {
        let spec = ScheduleSpec::new(every(60), Duration::ZERO, true).expect("valid");
        let start = at("2025-03-01T10:00:00Z");
        let mut plan = spec.plan(start);
        let advance = plan.advance(at("2025-03-01T10:05:30Z"));
        assert_eq!(advance.missed, 5);
        assert_eq!(
            plan.current().map(|f| f.scheduled),
            Some(at("2025-03-01T10:06:00Z"))
        );
    }

    #[test]
    fn jitter_as_long_as_the_interval_is_refused() {
        let err = ScheduleSpec::new(every(60), Duration::from_secs(60), true).unwrap_err();
        assert!(
            err.to_string()
                .contains("jitter (1m) must be shorter than the interval (1m)")
        );
    }
}
