//! Time for scripts: everything is Unix seconds (INT), like the exchange's `created_at`.

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone, Utc};

/// The current Unix time in seconds.
pub(crate) fn now() -> i64 {
    Utc::now().timestamp()
}

/// `"1h 30m"` → 5400. Whole seconds; fractions are rounded down.
pub(crate) fn duration_seconds(text: &str) -> Result<i64, String> {
    let duration = humantime::parse_duration(text.trim()).map_err(|e| {
        format!(
            "duration: `{text}` is not a duration ({e}); write e.g. \"90s\", \"5m\", \"1h 30m\""
        )
    })?;
    i64::try_from(duration.as_secs()).map_err(|_| format!("duration: `{text}` is too long"))
}

/// RFC 3339 (`2024-05-01T12:00:00Z`, offsets allowed), `2024-05-01 12:00:00` (UTC) or
/// `2024-05-01` (midnight UTC) → Unix seconds.
pub(crate) fn parse_time(text: &str) -> Result<i64, String> {
    let trimmed = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(trimmed) {
        return Ok(t.timestamp());
    }
    for format in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(trimmed, format) {
            return Ok(t.and_utc().timestamp());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(trimmed, "%Y-%m-%d")
        && let Some(t) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(t.and_utc().timestamp());
    }
    Err(format!(
        "parse_time: `{text}` is not a time; write RFC 3339 such as \"2024-05-01T12:00:00Z\""
    ))
}

/// Unix seconds → RFC 3339 in UTC (`2024-05-01T12:00:00Z`).
pub(crate) fn format_time(ts: i64) -> Result<String, String> {
    Utc.timestamp_opt(ts, 0)
        .single()
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .ok_or_else(|| format!("format_time: {ts} is not a representable time"))
}

/// Unix seconds → RFC 3339 in an IANA time zone (`Europe/London`).
pub(crate) fn format_time_in(ts: i64, zone: &str) -> Result<String, String> {
    let tz: chrono_tz::Tz = zone.trim().parse().map_err(|_| {
        format!("format_time: `{zone}` is not an IANA time zone; write e.g. \"Europe/London\"")
    })?;
    tz.timestamp_opt(ts, 0)
        .single()
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .ok_or_else(|| format!("format_time: {ts} is not a representable time"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_times_convert_to_seconds() {
        assert_eq!(duration_seconds("1h 30m"), Ok(5400));
        assert_eq!(duration_seconds("90s"), Ok(90));
        assert!(
            duration_seconds("soon")
                .unwrap_err()
                .contains("not a duration")
        );
        assert_eq!(parse_time("2024-05-01T12:00:00Z"), Ok(1_714_564_800));
        assert_eq!(parse_time("2024-05-01T14:00:00+02:00"), Ok(1_714_564_800));
        assert_eq!(parse_time("2024-05-01 12:00:00"), Ok(1_714_564_800));
        assert_eq!(parse_time("2024-05-01"), Ok(1_714_521_600));
        assert!(parse_time("yesterday").is_err());
    }

    #[test]
    fn times_format_in_utc_or_a_named_zone() {
        assert_eq!(
            format_time(1_714_564_800).as_deref(),
            Ok("2024-05-01T12:00:00Z")
        );
        assert_eq!(
            format_time_in(1_714_564_800, "Europe/London").as_deref(),
            Ok("2024-05-01T13:00:00+01:00")
        );
        assert!(format_time_in(0, "Mars/Olympus").is_err());
    }
}
