//! `--rate-limit`: per-key token buckets with the documented limits. Every request takes one
//! token from the general bucket and from its endpoint's bucket; cancels also draw on the cancel
//! bucket, where `DELETE /orders` costs one token per id and `/cancel-all` and
//! `/cancel-market-orders` cost 1 + orders canceled. A cancel is admitted while the bucket holds
//! a token and may then take it below zero (a 3000-id batch against a burst of 120 must be
//! possible); the debt is paid back by refill before the next cancel. Rejections are 429 with
//! `Retry-After` in whole seconds.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::time::Instant;

use super::server::{ApiError, Caller, Shared, lock};
use super::state::AccountNo;
use crate::clob::types::messages;

/// Whose buckets a request draws on: public endpoints share one set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Subject {
    Public,
    Account(AccountNo),
}

/// The documented limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Bucket {
    /// 9,000 requests per 10 s.
    General,
    /// `/data/orders`: 500 per 10 s.
    Orders,
    /// `/data/trades`: 500 per 10 s.
    Trades,
    /// `/book`, `/price`, `/midpoint`: 1,500 per 10 s.
    MarketData,
    /// Cancels: burst 120, refilling 80 per second.
    Cancel,
}

impl Bucket {
    /// (capacity, tokens refilled per second)
    fn limits(self) -> (f64, f64) {
        match self {
            Bucket::General => (9_000.0, 900.0),
            Bucket::Orders | Bucket::Trades => (500.0, 50.0),
            Bucket::MarketData => (1_500.0, 150.0),
            Bucket::Cancel => (120.0, 80.0),
        }
    }

    /// The endpoint bucket of a path, besides the general one.
    fn of_path(path: &str) -> Option<Bucket> {
        match path {
            "/data/orders" => Some(Bucket::Orders),
            "/data/trades" | "/trades" => Some(Bucket::Trades),
            "/book" | "/price" | "/midpoint" => Some(Bucket::MarketData),
            _ => None,
        }
    }
}

#[derive(Debug)]
struct TokenBucket {
    tokens: f64,
    capacity: f64,
    per_second: f64,
    refilled: Instant,
}

impl TokenBucket {
    fn new(bucket: Bucket, now: Instant) -> TokenBucket {
        let (capacity, per_second) = bucket.limits();
        TokenBucket {
            tokens: capacity,
            capacity,
            per_second,
            refilled: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        self.refilled = now;
    }

    /// How long until one token is available.
    fn wait(&self) -> Duration {
        Duration::from_secs_f64(((1.0 - self.tokens) / self.per_second).max(0.0))
    }
}

/// All buckets of all keys.
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: HashMap<(Subject, Bucket), TokenBucket>,
}

impl RateLimiter {
    fn bucket(&mut self, subject: Subject, bucket: Bucket, now: Instant) -> &mut TokenBucket {
        let entry = self
            .buckets
            .entry((subject, bucket))
            .or_insert_with(|| TokenBucket::new(bucket, now));
        entry.refill(now);
        entry
    }

    /// Takes one token from each bucket, or none if any is empty (then: how long to wait).
    pub fn take(
        &mut self,
        subject: Subject,
        buckets: &[Bucket],
        now: Instant,
    ) -> Result<(), Duration> {
        let wait = buckets
            .iter()
            .map(|b| self.bucket(subject, *b, now).wait())
            .max()
            .unwrap_or_default();
        if !wait.is_zero() {
            return Err(wait);
        }
        for b in buckets {
            self.bucket(subject, *b, now).tokens -= 1.0;
        }
        Ok(())
    }

    /// Whether a cancel may start now (the cancel bucket holds at least one token).
    pub fn admit_cancel(&mut self, account: AccountNo, now: Instant) -> Result<(), Duration> {
        let wait = self
            .bucket(Subject::Account(account), Bucket::Cancel, now)
            .wait();
        if wait.is_zero() { Ok(()) } else { Err(wait) }
    }

    /// Charges a finished cancel its cost; the bucket may go below zero.
    pub fn charge_cancel(&mut self, account: AccountNo, cost: usize, now: Instant) {
        self.bucket(Subject::Account(account), Bucket::Cancel, now)
            .tokens -= cost as f64;
    }
}

/// The 429 answer, with `Retry-After` rounded up to whole seconds.
pub fn too_many_requests(wait: Duration) -> Response {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let mut response =
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, messages::TOO_MANY_REQUESTS).into_response();
    let headers = response.headers_mut();
    headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
    headers.insert("Poly-RateLimit-Remaining", HeaderValue::from_static("0"));
    response
}

fn limit(shared: &Shared, subject: Subject, path: &str) -> Result<(), Duration> {
    let Some(limiter) = &shared.limiter else {
        return Ok(());
    };
    let mut buckets = vec![Bucket::General];
    buckets.extend(Bucket::of_path(path));
    lock(limiter).take(subject, &buckets, Instant::now())
}

/// Rate limits of private endpoints, per API key (runs after authentication).
pub async fn limit_private(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let subject = request
        .extensions()
        .get::<Caller>()
        .map_or(Subject::Public, |caller| Subject::Account(caller.0));
    match limit(&shared, subject, request.uri().path()) {
        Ok(()) => next.run(request).await,
        Err(wait) => too_many_requests(wait),
    }
}

/// Rate limits of public endpoints, shared by every caller.
pub async fn limit_public(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    match limit(&shared, Subject::Public, request.uri().path()) {
        Ok(()) => next.run(request).await,
        Err(wait) => too_many_requests(wait),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cancel_bucket_goes_into_debt_and_refills_at_80_per_second() {
        let mut limiter = RateLimiter::default();
        let start = Instant::now();
        assert!(limiter.admit_cancel(0, start).is_ok());
        limiter.charge_cancel(0, 200, start);
        // 120 - 200 = -80: one second of refill until a token is back.
        let wait = limiter.admit_cancel(0, start).expect_err("in debt");
        assert!(wait > Duration::from_millis(1000) && wait <= Duration::from_millis(1013));
        assert!(
            limiter
                .admit_cancel(0, start + Duration::from_millis(1013))
                .is_ok()
        );
        // Another key is not affected.
        assert!(limiter.admit_cancel(1, start).is_ok());
    }

    #[test]
    fn an_endpoint_bucket_empties_after_its_burst() {
        let mut limiter = RateLimiter::default();
        let now = Instant::now();
        let buckets = [Bucket::General, Bucket::Orders];
        for _ in 0..500 {
            assert!(limiter.take(Subject::Account(0), &buckets, now).is_ok());
        }
        let wait = limiter
            .take(Subject::Account(0), &buckets, now)
            .expect_err("empty");
        assert_eq!(wait, Duration::from_millis(20));
        assert!(
            limiter
                .take(Subject::Account(0), &[Bucket::General], now)
                .is_ok()
        );
    }
}
