//! The exchange's clock: `GET /time` in every shape seen, the timestamp requests are signed
//! with, and telling clock skew from bad credentials on a 401.

use std::time::{SystemTime, UNIX_EPOCH};

use reqwest::Method;
use serde::de::IgnoredAny;

use super::answer::{not_json, snippet};
use super::transport::{Attempts, Call};
use super::{Client, ClobError};

impl Client {
    /// `GET /time`: the exchange's clock in Unix seconds. Accepts a bare integer, a string, a
    /// float, milliseconds, or an object with a `time`-like field.
    pub async fn server_time(&self) -> Result<i64, ClobError> {
        let call = Call::new(Method::GET, "/time");
        let answer = self.execute(&call, &mut Attempts::default()).await?;
        parse_server_time(&answer.body).ok_or_else(|| {
            if serde_json::from_slice::<IgnoredAny>(&answer.body).is_err()
                && std::str::from_utf8(&answer.body).is_err()
            {
                not_json(&call, &answer)
            } else {
                ClobError::UnexpectedResponse {
                    endpoint: call.endpoint(),
                    status: answer.status.as_u16(),
                    detail: format!("expected Unix seconds, got {}", snippet(&answer.body)),
                }
            }
        })
    }

    /// The timestamp to sign with: the local clock, or the exchange's when so configured (its
    /// offset is read once and reused).
    pub(super) async fn timestamp(&self) -> Result<i64, ClobError> {
        let local = unix_now();
        if !self.inner.config.use_server_time {
            return Ok(local);
        }
        let mut offset = self.inner.server_offset.lock().await;
        let value = match *offset {
            Some(value) => value,
            None => {
                let value = self.measure_offset().await?;
                *offset = Some(value);
                value
            }
        };
        Ok(local + value)
    }

    /// Exchange time minus local time, in whole seconds.
    pub(super) async fn measure_offset(&self) -> Result<i64, ClobError> {
        let before = SystemTime::now();
        // Boxed: `server_time` goes through `execute`, which may come back here.
        let server = Box::pin(self.server_time()).await?;
        let after = SystemTime::now();
        let midpoint = before + after.duration_since(before).unwrap_or_default() / 2;
        let local = midpoint
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        // The exchange reports whole seconds, so its true time lies in [server, server + 1).
        Ok((server as f64 + 0.5 - local).round() as i64)
    }

    /// Turns a 401 into the right error: clock skew when the clock we sign with is further
    /// from the exchange's than its window, bad credentials otherwise.
    pub(super) async fn unauthorized(&self, call: &Call, message: String) -> ClobError {
        let endpoint = call.endpoint();
        let skew = match self.measure_offset().await {
            Ok(offset) => {
                let signing_offset = if self.inner.config.use_server_time {
                    self.inner.server_offset.lock().await.unwrap_or(0)
                } else {
                    0
                };
                Some(offset - signing_offset)
            }
            Err(_) => None,
        };
        match skew {
            Some(skew_secs)
                if skew_secs.unsigned_abs() > self.inner.config.max_clock_skew.as_secs() =>
            {
                ClobError::ClockSkew {
                    endpoint,
                    message,
                    skew_secs,
                }
            }
            skew_secs => ClobError::Unauthorized {
                endpoint,
                message,
                skew_secs,
            },
        }
    }
}

/// Reads `/time` in every shape seen: `1700000000`, `"1700000000"`, `1700000000.5`,
/// milliseconds, `{"time": …}`-style objects, or a bare number as plain text.
fn parse_server_time(body: &[u8]) -> Option<i64> {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(value) => seconds_from_value(&value),
        Err(_) => seconds_from_text(std::str::from_utf8(body).ok()?),
    }
}

fn seconds_from_value(value: &serde_json::Value) -> Option<i64> {
    match value {
        serde_json::Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .map(normalise_epoch),
        serde_json::Value::String(s) => seconds_from_text(s),
        serde_json::Value::Object(map) => {
            ["time", "timestamp", "server_time", "serverTime", "epoch"]
                .iter()
                .find_map(|key| map.get(*key))
                .and_then(seconds_from_value)
        }
        _ => None,
    }
}

fn seconds_from_text(text: &str) -> Option<i64> {
    let text = text.trim().trim_matches('"');
    if let Ok(n) = text.parse::<i64>() {
        return Some(normalise_epoch(n));
    }
    if let Ok(f) = text.parse::<f64>() {
        return f.is_finite().then(|| normalise_epoch(f as i64));
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp())
}

/// Milliseconds (anything past the year 5138 in seconds) become seconds.
fn normalise_epoch(value: i64) -> i64 {
    if value > 100_000_000_000 {
        value / 1000
    } else {
        value
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_time_accepts_every_known_shape() {
        for body in [
            &b"1700000000"[..],
            b"\"1700000000\"",
            b"1700000000.75",
            b"1700000000123",
            b"{\"time\":1700000000}",
            b"{\"timestamp\":\"1700000000\"}",
            b" 1700000000\n",
        ] {
            assert_eq!(
                parse_server_time(body),
                Some(1_700_000_000),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        assert_eq!(parse_server_time(b"<html>"), None);
        assert_eq!(parse_server_time(b"{\"other\":1}"), None);
    }
}
