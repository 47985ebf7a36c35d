//! Wall-clock time for the scheduler: cron names wall-clock times, so the scheduler reads the
//! system clock and sleeps towards wall-clock deadlines. Behind a trait so the loop's tests can
//! run on tokio's paused clock and finish instantly and deterministically.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// A source of "now" and a way to wait for a moment.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
    /// Resolves once `now() >= deadline`.
    fn sleep_until(&self, deadline: DateTime<Utc>)
    -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

/// Sleeps are cut into pieces no longer than this and the clock is read again after each, so
/// a wall-clock step (NTP, suspend) delays a fire by at most this much.
const RECHECK: Duration = Duration::from_secs(15);

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep_until(
        &self,
        deadline: DateTime<Utc>,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            loop {
                let Ok(left) = (deadline - Utc::now()).to_std() else {
                    return;
                };
                if left.is_zero() {
                    return;
                }
                tokio::time::sleep(left.min(RECHECK)).await;
            }
        })
    }
}

/// Wall time derived from tokio's clock, which tests pause and auto-advance.
#[cfg(test)]
#[derive(Clone, Debug)]
pub struct TokioClock {
    wall: DateTime<Utc>,
    mono: tokio::time::Instant,
}

#[cfg(test)]
impl TokioClock {
    /// `now()` reads `wall` at the moment of creation.
    pub fn starting_at(wall: DateTime<Utc>) -> TokioClock {
        TokioClock {
            wall,
            mono: tokio::time::Instant::now(),
        }
    }
}

#[cfg(test)]
impl Clock for TokioClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = chrono::TimeDelta::from_std(self.mono.elapsed()).unwrap_or_default();
        self.wall + elapsed
    }

    fn sleep_until(
        &self,
        deadline: DateTime<Utc>,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        let left = (deadline - self.wall).to_std().unwrap_or_default();
        Box::pin(tokio::time::sleep_until(self.mono + left))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn system_clock_sleep_reaches_its_deadline() {
        let clock = SystemClock;
        let deadline = clock.now() + chrono::TimeDelta::milliseconds(30);
        clock.sleep_until(deadline).await;
        assert!(clock.now() >= deadline);
    }

    #[test]
    fn system_clock_is_ready_at_once_for_a_past_deadline() {
        use futures_util::FutureExt;
        let clock = SystemClock;
        let past = clock.now() - chrono::TimeDelta::hours(1);
        assert_eq!(clock.sleep_until(past).now_or_never(), Some(()));
    }

    #[tokio::test(start_paused = true)]
    async fn tokio_clock_advances_with_paused_time() {
        let start = DateTime::parse_from_rfc3339("2025-03-01T10:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let clock = TokioClock::starting_at(start);
        clock
            .sleep_until(start + chrono::TimeDelta::minutes(5))
            .await;
        assert_eq!(clock.now(), start + chrono::TimeDelta::minutes(5));
    }
}
