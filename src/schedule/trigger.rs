//! When a job fires: a fixed interval (`--every`) or a standard 5-field cron expression
//! (`--cron`), evaluated in UTC or the zone named by `--tz`.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

/// A schedule that cannot be used, with what to write instead.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TriggerError {
    #[error(
        "`{expr}` is not a cron expression ({reason}); write the five fields `minute hour \
         day-of-month month day-of-week`, e.g. `*/5 * * * *` or `30 9 * * MON-FRI`"
    )]
    Cron { expr: String, reason: String },
    #[error("the cron expression `{expr}` never fires; check the day-of-month and month fields")]
    NeverFires { expr: String },
    #[error(
        "`{0}` is not a time zone; use an IANA name such as `UTC`, `Europe/London` or \
         `America/New_York`"
    )]
    TimeZone(String),
    #[error("the interval must be longer than zero; write e.g. `90s`, `5m` or `1h 30m`")]
    ZeroInterval,
    #[error(
        "the interval `{0}` is too short: runs must be at least 1s apart (each run sends \
         requests to the exchange); write e.g. `1s`, `30s` or `5m`"
    )]
    IntervalTooShort(String),
    #[error("the interval `{0}` is too long; use at most a few years")]
    IntervalTooLong(String),
    #[error("a time zone only applies to a cron schedule, not to a fixed interval")]
    TimeZoneWithoutCron,
}

/// The shortest `--every` interval.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// A parsed cron expression and the zone it is read in.
#[derive(Clone)]
pub struct CronTrigger {
    expr: String,
    cron: Cron,
    zone: Tz,
}

impl CronTrigger {
    /// Parses a standard 5-field expression (nicknames such as `@hourly` too) and checks that it
    /// fires at least once from now on.
    pub fn parse(expr: &str, zone: Option<&str>) -> Result<CronTrigger, TriggerError> {
        let zone = match zone {
            Some(name) => parse_zone(name)?,
            None => Tz::UTC,
        };
        let cron = five_field_parser()
            .parse(expr)
            .map_err(|e| TriggerError::Cron {
                expr: expr.trim().to_owned(),
                reason: cron_reason(expr, &e),
            })?;
        let trigger = CronTrigger {
            expr: expr.trim().to_owned(),
            cron,
            zone,
        };
        match trigger.next_after(Utc::now()) {
            Some(_) => Ok(trigger),
            None => Err(TriggerError::NeverFires {
                expr: trigger.expr.clone(),
            }),
        }
    }

    /// The first time strictly after `after` that the expression matches.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = after.with_timezone(&self.zone);
        self.cron
            .find_next_occurrence(&local, false)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The expression as written.
    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// The zone the expression is read in.
    pub fn zone(&self) -> Tz {
        self.zone
    }
}

impl fmt::Debug for CronTrigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CronTrigger")
            .field("expr", &self.expr)
            .field("zone", &self.zone)
            .finish()
    }
}

/// croner's messages are terse and do not say which field is wrong: name it.
fn cron_reason(expr: &str, e: &croner::errors::CronError) -> String {
    use croner::errors::CronError;
    let detail = match e {
        CronError::EmptyPattern => return "it is empty".to_owned(),
        CronError::InvalidPattern(msg) if msg.contains("fields") => {
            return "it must have exactly five fields".to_owned();
        }
        CronError::ComponentError(msg) => msg.clone(),
        CronError::IllegalCharacters(_) => "illegal character".to_owned(),
        other => other.to_string(),
    };
    let detail = detail.trim_end_matches('.').to_lowercase();
    match bad_field(expr) {
        Some((name, part)) => format!("{name} field `{part}`: {detail}"),
        None => detail,
    }
}

/// The first of the five fields that fails on its own (the others replaced by `*`).
fn bad_field(expr: &str) -> Option<(&'static str, String)> {
    const NAMES: [&str; 5] = ["minute", "hour", "day-of-month", "month", "day-of-week"];
    let parts: Vec<&str> = expr.split_whitespace().collect();
    if parts.len() != NAMES.len() {
        return None;
    }
    let parser = five_field_parser();
    (0..parts.len()).find_map(|i| {
        let alone: Vec<&str> = (0..parts.len())
            .map(|j| if i == j { parts[j] } else { "*" })
            .collect();
        parser
            .parse(&alone.join(" "))
            .is_err()
            .then(|| (NAMES[i], parts[i].to_owned()))
    })
}

fn five_field_parser() -> CronParser {
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
}

/// Parses an IANA zone name (`Europe/London`), case-insensitively.
pub fn parse_zone(name: &str) -> Result<Tz, TriggerError> {
    let name = name.trim();
    name.parse::<Tz>()
        .ok()
        .or_else(|| {
            chrono_tz::TZ_VARIANTS
                .iter()
                .copied()
                .find(|tz| tz.name().eq_ignore_ascii_case(name))
        })
        .ok_or_else(|| TriggerError::TimeZone(name.to_owned()))
}

/// What makes a job fire.
#[derive(Clone, Debug)]
pub enum Trigger {
    /// Every `period`, counted from the scheduler's start.
    Every(TimeDelta),
    /// Whenever the cron expression matches (boxed: a parsed expression is large).
    Cron(Box<CronTrigger>),
}

impl Trigger {
    /// A fixed interval; zero and absurdly long ones are refused.
    pub fn every(period: Duration) -> Result<Trigger, TriggerError> {
        if period.is_zero() {
            return Err(TriggerError::ZeroInterval);
        }
        if period < MIN_INTERVAL {
            return Err(TriggerError::IntervalTooShort(
                humantime::format_duration(period).to_string(),
            ));
        }
        let delta = TimeDelta::from_std(period)
            .ok()
            .filter(|d| d.num_nanoseconds().is_some())
            .ok_or_else(|| {
                TriggerError::IntervalTooLong(humantime::format_duration(period).to_string())
            })?;
        Ok(Trigger::Every(delta))
    }

    /// A cron expression read in `zone` (UTC when `None`).
    pub fn cron(expr: &str, zone: Option<&str>) -> Result<Trigger, TriggerError> {
        CronTrigger::parse(expr, zone).map(|c| Trigger::Cron(Box::new(c)))
    }

    /// From the `--every` / `--cron` / `--tz` trio (exactly one of `every` and `cron`).
    pub fn from_parts(
        every: Option<Duration>,
        cron: Option<&str>,
        zone: Option<&str>,
    ) -> Result<Option<Trigger>, TriggerError> {
        match (every, cron) {
            (Some(_), _) if zone.is_some() => Err(TriggerError::TimeZoneWithoutCron),
            (Some(period), _) => Trigger::every(period).map(Some),
            (None, Some(expr)) => Trigger::cron(expr, zone).map(Some),
            (None, None) => Ok(None),
        }
    }

    /// The first fire strictly after `after`; an interval is counted in whole periods from
    /// `anchor` (so a late wake-up does not shift later fires). `None`: never again.
    pub fn next_after(&self, anchor: DateTime<Utc>, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Trigger::Every(period) => {
                let period_ns = period.num_nanoseconds()?;
                let elapsed_ns = (after - anchor).num_nanoseconds()?;
                let periods = if elapsed_ns < 0 {
                    1
                } else {
                    elapsed_ns / period_ns + 1
                };
                let offset = periods.checked_mul(period_ns)?;
                anchor.checked_add_signed(TimeDelta::nanoseconds(offset))
            }
            Trigger::Cron(cron) => cron.next_after(after),
        }
    }

    /// The shortest gap between two fires over the next `fires` fire times from `from`
    /// (`None` for an interval or a cron that fires less than twice).
    pub fn shortest_cron_gap(&self, from: DateTime<Utc>, fires: usize) -> Option<TimeDelta> {
        let Trigger::Cron(cron) = self else {
            return None;
        };
        let mut last = cron.next_after(from)?;
        let mut shortest: Option<TimeDelta> = None;
        for _ in 1..fires {
            let Some(next) = cron.next_after(last) else {
                break;
            };
            let gap = next - last;
            shortest = Some(shortest.map_or(gap, |s| s.min(gap)));
            last = next;
        }
        shortest
    }

    /// A short human description for logs, e.g. `every 5m` or `cron "*/5 * * * *" (UTC)`.
    pub fn describe(&self) -> String {
        match self {
            Trigger::Every(period) => match period.to_std() {
                Ok(d) => format!("every {}", humantime::format_duration(d)),
                Err(_) => format!("every {period}"),
            },
            Trigger::Cron(cron) => format!("cron \"{}\" ({})", cron.expr(), cron.zone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("test time")
            .with_timezone(&Utc)
    }

    fn fires(trigger: &Trigger, from: &str, n: usize) -> Vec<String> {
        let anchor = at(from);
        let mut t = anchor;
        let mut out = Vec::new();
        for _ in 0..n {
            t = trigger.next_after(anchor, t).expect("fires");
            out.push(t.to_rfc3339());
        }
        out
    }

    #[test]
    fn cron_every_five_minutes_fires_on_the_five_minute_marks() {
        let t = Trigger::cron("*/5 * * * *", None).expect("valid");
        assert_eq!(
            fires(&t, "2025-03-01T10:02:30Z", 3),
            [
                "2025-03-01T10:05:00+00:00",
                "2025-03-01T10:10:00+00:00",
                "2025-03-01T10:15:00+00:00"
            ]
        );
    }

    #[test]
    fn cron_fire_exactly_on_a_match_is_the_next_one_not_the_same() {
        let c = CronTrigger::parse("0 * * * *", None).expect("valid");
        let next = c.next_after(at("2025-03-01T10:00:00Z")).expect("fires");
        assert_eq!(next, at("2025-03-01T11:00:00Z"));
    }

    #[test]
    fn cron_weekdays_skip_the_weekend() {
        let t = Trigger::cron("30 9 * * MON-FRI", None).expect("valid");
        // 2025-03-07 is a Friday.
        assert_eq!(
            fires(&t, "2025-03-07T10:00:00Z", 2),
            ["2025-03-10T09:30:00+00:00", "2025-03-11T09:30:00+00:00"]
        );
    }

    #[test]
    fn cron_in_a_time_zone_follows_its_daylight_saving_change() {
        let t = Trigger::cron("0 9 * * *", Some("Europe/London")).expect("ok");
        // Clocks go forward on 2025-03-30: 09:00 London is 09:00Z before, 08:00Z after.
        assert_eq!(
            fires(&t, "2025-03-29T00:00:00Z", 2),
            ["2025-03-29T09:00:00+00:00", "2025-03-30T08:00:00+00:00"]
        );
    }

    #[test]
    fn cron_nicknames_are_accepted() {
        let c = CronTrigger::parse("@hourly", None).expect("valid");
        assert_eq!(
            c.next_after(at("2025-03-01T10:20:00Z")),
            Some(at("2025-03-01T11:00:00Z"))
        );
    }

    #[test]
    fn cron_with_six_fields_is_refused_with_the_five_field_form() {
        let err = CronTrigger::parse("0 */5 * * * *", None).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("`0 */5 * * * *` is not a cron expression"),
            "{msg}"
        );
        assert!(msg.contains("five fields"), "{msg}");
    }

    #[test]
    fn cron_with_out_of_range_or_garbage_fields_is_refused() {
        for expr in [
            "61 * * * *",
            "* * * * *x",
            "every minute",
            "",
            "*/0 * * * *",
        ] {
            let err = CronTrigger::parse(expr, None).unwrap_err();
            assert!(
                matches!(err, TriggerError::Cron { .. }),
                "{expr:?} gave {err:?}"
            );
        }
    }

    #[test]
    fn a_bad_cron_field_is_named() {
        let err = CronTrigger::parse("0 25 * * *", None).unwrap_err();
        assert!(
            err.to_string()
                .contains("(hour field `25`: number out of bounds)"),
            "{err}"
        );
        let err = CronTrigger::parse("*/5 * * * FUNDAY", None).unwrap_err();
        assert!(
            err.to_string().contains("day-of-week field `FUNDAY`"),
            "{err}"
        );
    }

    #[test]
    fn cron_that_can_never_match_is_refused() {
        let err = CronTrigger::parse("0 0 30 2 *", None).unwrap_err();
        assert_eq!(
            err,
            TriggerError::NeverFires {
                expr: "0 0 30 2 *".into()
            }
        );
    }

    #[test]
    fn unknown_time_zone_is_refused_and_names_are_case_insensitive() {
        let err = CronTrigger::parse("* * * * *", Some("Mars/Olympus")).unwrap_err();
        assert!(
            err.to_string()
                .contains("`Mars/Olympus` is not a time zone")
        );
        let c = CronTrigger::parse("* * * * *", Some("europe/london")).expect("valid");
        assert_eq!(c.zone(), Tz::Europe__London);
    }

    #[test]
    fn interval_fires_in_whole_periods_from_the_anchor() {
        let t = Trigger::every(Duration::from_secs(90)).expect("valid");
        assert_eq!(
            fires(&t, "2025-03-01T10:00:00Z", 3),
            [
                "2025-03-01T10:01:30+00:00",
                "2025-03-01T10:03:00+00:00",
                "2025-03-01T10:04:30+00:00"
            ]
        );
    }

    #[test]
    fn interval_after_a_late_wake_up_keeps_its_phase() {
        let t = Trigger::every(Duration::from_secs(60)).expect("valid");
        let anchor = at("2025-03-01T10:00:00Z");
        let next = t.next_after(anchor, at("2025-03-01T10:07:12Z"));
        assert_eq!(next, Some(at("2025-03-01T10:08:00Z")));
    }

    #[test]
    fn zero_interval_and_time_zone_with_interval_are_refused() {
        assert_eq!(
            Trigger::every(Duration::ZERO).unwrap_err(),
            TriggerError::ZeroInterval
        );
        let err = Trigger::from_parts(Some(Duration::from_secs(5)), None, Some("UTC")).unwrap_err();
        assert_eq!(err, TriggerError::TimeZoneWithoutCron);
        let err = Trigger::every(Duration::from_secs(u64::MAX)).unwrap_err();
        assert!(matches!(err, TriggerError::IntervalTooLong(_)), "{err:?}");
    }
}
