//! `--rate-limit [enforce|warn]`: the exchange's two layers of rate limits (PROTOCOL.md, "Rate
//! limits: two layers").
//!
//! - **Per signer address** ([`SignerLimiter`]): an order and a cancel token bucket per signer,
//!   sized by its tier ([`Tier`], shared with the client). `DELETE /order` costs 1,
//!   `DELETE /orders` one per submitted id, `/cancel-all` and `/cancel-market-orders` 1 up
//!   front and then 1 per order canceled (which may take the balance negative on the tiers that
//!   allow it, and floors at zero on the others). Admission is all or nothing: a request that
//!   does not fit is refused whole with `429` and changes nothing; one costing more than the
//!   burst can never fit and says so. In warning mode everything is processed and charged, and
//!   `Poly-RateLimit-Warning: true` marks what enforcement would have refused.
//! - **Per IP** ([`IpThrottle`]): the Cloudflare layer in front, which delays requests over its
//!   per-endpoint rates instead of refusing them. The simulator only ever sees loopback
//!   clients, so it keeps one set of buckets for everyone.
//!
//! `Retry-After` is whole seconds, rounded up (the HTTP form, and what the exchange sends);
//! `Poly-RateLimit-Reset` is whole Unix seconds, rounded up. Precise pacing does not need
//! fractions: `Poly-RateLimit-Remaining` and the tier's refill rate give the exact time.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::time::Instant;

use super::server::{ApiError, Shared, lock};
use super::state::AccountNo;
pub use crate::clob::ratelimit::{BucketKind, BucketLimits, Tier};
use crate::clob::ratelimit::{REMAINING_HEADER, RESET_HEADER, TIER_HEADER, WARNING_HEADER};
use crate::clob::types::messages;

/// What `--rate-limit` does with a request that does not fit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RateLimitMode {
    /// Refuse it: `429`, nothing processed.
    #[default]
    Enforce,
    /// Process it anyway and mark the answer `Poly-RateLimit-Warning: true`.
    Warn,
}

impl FromStr for RateLimitMode {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "" | "enforce" => Ok(RateLimitMode::Enforce),
            "warn" => Ok(RateLimitMode::Warn),
            _ => Err(format!(
                "unknown rate-limit mode {text:?}: expected enforce or warn"
            )),
        }
    }
}

#[derive(Debug)]
struct TokenBucket {
    balance: f64,
    at: Instant,
}

/// The balance and its headers after the limiter looked at a request.
#[derive(Clone, Debug, PartialEq)]
pub struct Meter {
    pub tier: Tier,
    /// Balance after accounting.
    pub remaining: f64,
    /// Unix seconds: when a refused request would fit, or when the bucket is full again.
    pub reset: f64,
    /// Warning mode: enforcement would have refused this request.
    pub warning: bool,
}

/// The limiter's answer to a request.
#[derive(Clone, Debug, PartialEq)]
pub enum Admission {
    /// Go ahead (also every request in warning mode); the cost is charged.
    Admitted(Meter),
    /// Does not fit now: `429` with `Retry-After`; nothing charged.
    Refused { meter: Meter, wait: Duration },
    /// Costs more than the burst, so it never fits: `429`, split it.
    OverBurst { meter: Meter, cost: usize },
}

/// The per-signer token buckets of every account.
#[derive(Debug)]
pub struct SignerLimiter {
    mode: Option<RateLimitMode>,
    /// Account → signer number (accounts sharing an address share buckets).
    signer_of: Vec<usize>,
    /// Signer number → tier.
    tiers: Vec<Tier>,
    buckets: HashMap<(usize, BucketKind), TokenBucket>,
}

impl SignerLimiter {
    /// `addresses` and `tiers` per account, in account order; `mode` `None` meters nothing.
    pub fn new(mode: Option<RateLimitMode>, accounts: &[(String, Tier)]) -> SignerLimiter {
        let mut signers: HashMap<String, usize> = HashMap::new();
        let mut tiers = Vec::new();
        let signer_of = accounts
            .iter()
            .map(|(address, tier)| {
                *signers
                    .entry(address.trim().to_ascii_lowercase())
                    .or_insert_with(|| {
                        tiers.push(*tier);
                        tiers.len() - 1
                    })
            })
            .collect();
        SignerLimiter {
            mode,
            signer_of,
            tiers,
            buckets: HashMap::new(),
        }
    }

    /// The tier of an account's signer.
    pub fn tier_of(&self, account: AccountNo) -> Tier {
        self.signer_of
            .get(account)
            .and_then(|signer| self.tiers.get(*signer))
            .copied()
            .unwrap_or_default()
    }

    /// The bucket refilled up to `now`, and its limits.
    fn bucket(
        &mut self,
        account: AccountNo,
        kind: BucketKind,
        now: Instant,
    ) -> (&mut TokenBucket, BucketLimits, Tier) {
        let signer = self.signer_of.get(account).copied().unwrap_or(usize::MAX);
        let tier = self.tier_of(account);
        let limits = tier.limits(kind);
        let bucket = self
            .buckets
            .entry((signer, kind))
            .or_insert_with(|| TokenBucket {
                balance: f64::from(limits.burst),
                at: now,
            });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.balance =
            (bucket.balance + elapsed * limits.rate_per_sec).min(f64::from(limits.burst));
        bucket.at = now;
        (bucket, limits, tier)
    }

    /// Decides a request costing `cost` tokens of `kind` and, if it goes ahead, charges it.
    /// `None` when rate limiting is off. `unix_now` is the simulator's clock in seconds.
    pub fn admit(
        &mut self,
        account: AccountNo,
        kind: BucketKind,
        cost: usize,
        now: Instant,
        unix_now: f64,
    ) -> Option<Admission> {
        let mode = self.mode?;
        let (bucket, limits, tier) = self.bucket(account, kind, now);
        let cost_tokens = cost as f64;
        let rate = limits.rate_per_sec;
        let burst = f64::from(limits.burst);
        let meter = |balance: f64, reset: f64, warning: bool| Meter {
            tier,
            remaining: balance,
            reset,
            warning,
        };
        let full_at = |balance: f64| unix_now + ((burst - balance) / rate).max(0.0);
        let refusal = if cost_tokens > burst {
            Some(Admission::OverBurst {
                meter: meter(bucket.balance, unix_now, false),
                cost,
            })
        } else if bucket.balance < cost_tokens {
            let wait = Duration::from_secs_f64((cost_tokens - bucket.balance) / rate);
            Some(Admission::Refused {
                meter: meter(bucket.balance, unix_now + wait.as_secs_f64(), false),
                wait,
            })
        } else {
            None
        };
        match (refusal, mode) {
            (Some(refusal), RateLimitMode::Enforce) => Some(refusal),
            (refusal, _) => {
                bucket.balance -= cost_tokens;
                if !tier.allows_negative_balance() {
                    bucket.balance = bucket.balance.max(0.0);
                }
                let balance = bucket.balance;
                Some(Admission::Admitted(meter(
                    balance,
                    full_at(balance),
                    refusal.is_some(),
                )))
            }
        }
    }

    /// Charges what a request cost after it ran (`/cancel-all`: the orders canceled). The
    /// balance may go negative where the tier allows it; elsewhere it floors at zero.
    pub fn charge_after(
        &mut self,
        account: AccountNo,
        kind: BucketKind,
        cost: usize,
        now: Instant,
        unix_now: f64,
    ) -> Option<Meter> {
        self.mode?;
        let (bucket, limits, tier) = self.bucket(account, kind, now);
        bucket.balance -= cost as f64;
        if !tier.allows_negative_balance() {
            bucket.balance = bucket.balance.max(0.0);
        }
        let full_in = ((f64::from(limits.burst) - bucket.balance) / limits.rate_per_sec).max(0.0);
        Some(Meter {
            tier,
            remaining: bucket.balance,
            reset: unix_now + full_in,
            warning: false,
        })
    }
}

/// Whole seconds, rounded up.
fn ceil_secs(value: f64) -> i64 {
    let value = value.ceil();
    if value.is_finite() { value as i64 } else { 0 }
}

/// Adds the `Poly-RateLimit-*` headers of a metered answer.
pub fn add_meter_headers(headers: &mut HeaderMap, meter: &Meter) {
    headers.insert(
        REMAINING_HEADER,
        HeaderValue::from(ceil_secs(meter.remaining.floor())),
    );
    headers.insert(RESET_HEADER, HeaderValue::from(ceil_secs(meter.reset)));
    headers.insert(TIER_HEADER, HeaderValue::from_static(meter.tier.name()));
    if meter.warning {
        headers.insert(WARNING_HEADER, HeaderValue::from_static("true"));
    }
}

/// The `429` for a request that does not fit now, with `Retry-After` in whole seconds.
pub fn too_many_requests(meter: &Meter, wait: Duration, cost: usize) -> Response {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let message = format!(
        "{}: this request costs {cost} cancel token(s) and the bucket holds {}; retry after {}s",
        messages::TOO_MANY_REQUESTS,
        meter.remaining.floor().max(0.0),
        seconds.max(1),
    );
    let mut response = ApiError::new(StatusCode::TOO_MANY_REQUESTS, message).into_response();
    let headers = response.headers_mut();
    add_meter_headers(headers, meter);
    headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
    response
}

/// The `429` for a batch that costs more than the burst: no wait can help it.
pub fn over_burst(meter: &Meter, cost: usize) -> Response {
    let burst = meter.tier.cancel().burst;
    let message = format!(
        "{}: this request costs {cost} cancel tokens, more than the {} tier's cancel burst of {burst}; \
         it can never be admitted: split it into requests of at most {burst} ids",
        messages::TOO_MANY_REQUESTS,
        meter.tier,
    );
    let mut response = ApiError::new(StatusCode::TOO_MANY_REQUESTS, message).into_response();
    add_meter_headers(response.headers_mut(), meter);
    response
}

// ---- the IP layer ----

/// The per-IP rules: (method or any, path, requests, window seconds). Every request also counts
/// against the general rule.
const IP_RULES: &[(Option<Method>, &str, u32, u32)] = &[
    (None, "/data/orders", 500, 10),
    (None, "/data/trades", 500, 10),
    (None, "/trades", 500, 10),
    (None, "/book", 1_500, 10),
    (None, "/price", 1_500, 10),
    (None, "/midpoint", 1_500, 10),
    (Some(Method::DELETE), "/order", 3_000, 10),
    (Some(Method::DELETE), "/order", 30_000, 600),
    (Some(Method::DELETE), "/orders", 1_000, 10),
    (Some(Method::DELETE), "/orders", 15_000, 600),
    (Some(Method::DELETE), "/cancel-all", 250, 10),
    (Some(Method::DELETE), "/cancel-all", 6_000, 600),
    (Some(Method::DELETE), "/cancel-market-orders", 1_000, 10),
    (Some(Method::DELETE), "/cancel-market-orders", 1_500, 600),
];

/// The general rule: 9,000 requests per 10 s.
const IP_GENERAL: (u32, u32) = (9_000, 10);

#[derive(Debug)]
struct Window {
    /// Free slots now; negative while requests queue for later slots.
    tokens: f64,
    capacity: f64,
    per_second: f64,
    at: Instant,
}

impl Window {
    fn new((requests, seconds): (u32, u32), now: Instant) -> Window {
        Window {
            tokens: f64::from(requests),
            capacity: f64::from(requests),
            per_second: f64::from(requests) / f64::from(seconds),
            at: now,
        }
    }

    /// Takes the next slot and says how long until it comes.
    fn take(&mut self, now: Instant) -> Duration {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        self.at = now;
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.per_second)
        }
    }
}

/// The Cloudflare layer: requests over a rule's rate wait for their slot (FIFO), never refused.
#[derive(Debug, Default)]
pub struct IpThrottle {
    windows: HashMap<usize, Window>,
}

impl IpThrottle {
    /// Books a slot in every rule the request falls under; how long it must wait.
    pub fn delay(&mut self, method: &Method, path: &str, now: Instant) -> Duration {
        let general = usize::MAX;
        let mut wait = self
            .windows
            .entry(general)
            .or_insert_with(|| Window::new(IP_GENERAL, now))
            .take(now);
        for (no, (rule_method, rule_path, requests, seconds)) in IP_RULES.iter().enumerate() {
            let applies = *rule_path == path && rule_method.as_ref().is_none_or(|m| m == method);
            if applies {
                let rule_wait = self
                    .windows
                    .entry(no)
                    .or_insert_with(|| Window::new((*requests, *seconds), now))
                    .take(now);
                wait = wait.max(rule_wait);
            }
        }
        wait
    }
}

/// Delays a request over the IP layer's rates (outermost layer, in front of everything).
pub async fn throttle_ip(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(throttle) = &shared.ip_throttle {
        let wait = lock(throttle).delay(request.method(), request.uri().path(), Instant::now());
        if !wait.is_zero() {
            shared.ip_throttled.fetch_add(1, Ordering::Relaxed);
            shared.ip_throttle_wait_us.fetch_add(
                u64::try_from(wait.as_micros()).unwrap_or(u64::MAX),
                Ordering::Relaxed,
            );
            tokio::time::sleep(wait).await;
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(mode: RateLimitMode, tier: Tier) -> SignerLimiter {
        SignerLimiter::new(
            Some(mode),
            &[
                ("0xAA".to_owned(), tier),
                ("0xaa".to_owned(), tier),
                ("0xbb".to_owned(), tier),
            ],
        )
    }

    fn admitted(admission: Option<Admission>) -> Meter {
        match admission {
            Some(Admission::Admitted(meter)) => meter,
            other => panic!("expected admission, got {other:?}"),
        }
    }

    #[test]
    fn a_request_that_does_not_fit_is_refused_whole_and_charges_nothing() {
        let mut limits = limiter(RateLimitMode::Enforce, Tier::Standard);
        let now = Instant::now();
        let meter = admitted(limits.admit(0, BucketKind::Cancel, 100, now, 1000.0));
        assert_eq!(meter.remaining, 20.0);
        // 100 → 20 left; 40 more need 20 tokens = 0.25 s.
        match limits.admit(0, BucketKind::Cancel, 40, now, 1000.0) {
            Some(Admission::Refused { meter, wait }) => {
                assert_eq!(wait, Duration::from_millis(250));
                assert_eq!(meter.remaining, 20.0);
                assert_eq!(meter.reset, 1000.25);
            }
            other => panic!("{other:?}"),
        }
        // Nothing was charged: 20 still fit.
        assert_eq!(
            admitted(limits.admit(0, BucketKind::Cancel, 20, now, 1000.0)).remaining,
            0.0
        );
    }

    #[test]
    fn accounts_with_one_address_share_buckets_and_others_do_not() {
        let mut limits = limiter(RateLimitMode::Enforce, Tier::Standard);
        let now = Instant::now();
        admitted(limits.admit(0, BucketKind::Cancel, 120, now, 0.0));
        assert!(matches!(
            limits.admit(1, BucketKind::Cancel, 1, now, 0.0),
            Some(Admission::Refused { .. })
        ));
        admitted(limits.admit(2, BucketKind::Cancel, 120, now, 0.0));
        // The order bucket is separate.
        admitted(limits.admit(0, BucketKind::Order, 60, now, 0.0));
    }

    #[test]
    fn charges_after_go_negative_on_gold_and_floor_at_zero_on_platinum() {
        let now = Instant::now();
        let mut gold = limiter(RateLimitMode::Enforce, Tier::Gold);
        admitted(gold.admit(0, BucketKind::Cancel, 1, now, 0.0));
        let meter = gold
            .charge_after(0, BucketKind::Cancel, 2000, now, 0.0)
            .expect("metered");
        assert_eq!(meter.remaining, -801.0);
        let mut platinum = limiter(RateLimitMode::Enforce, Tier::Platinum);
        admitted(platinum.admit(0, BucketKind::Cancel, 1, now, 0.0));
        let meter = platinum
            .charge_after(0, BucketKind::Cancel, 2000, now, 0.0)
            .expect("metered");
        assert_eq!(meter.remaining, 0.0);
    }

    #[test]
    fn over_the_burst_is_refused_even_from_a_full_bucket_and_warned_in_warning_mode() {
        let now = Instant::now();
        let mut enforce = limiter(RateLimitMode::Enforce, Tier::Standard);
        assert!(matches!(
            enforce.admit(0, BucketKind::Cancel, 121, now, 0.0),
            Some(Admission::OverBurst { cost: 121, .. })
        ));
        let mut warn = limiter(RateLimitMode::Warn, Tier::Standard);
        let meter = admitted(warn.admit(0, BucketKind::Cancel, 121, now, 0.0));
        assert!(meter.warning);
        assert_eq!(meter.remaining, -1.0);
        let mut off = SignerLimiter::new(None, &[("0xaa".to_owned(), Tier::Standard)]);
        assert_eq!(off.admit(0, BucketKind::Cancel, 5000, now, 0.0), None);
    }

    #[test]
    fn the_ip_layer_queues_requests_over_its_rate() {
        let mut throttle = IpThrottle::default();
        let now = Instant::now();
        for _ in 0..250 {
            assert_eq!(
                throttle.delay(&Method::DELETE, "/cancel-all", now),
                Duration::ZERO
            );
        }
        // 25 per second: the next two wait 40 and 80 ms.
        assert_eq!(
            throttle.delay(&Method::DELETE, "/cancel-all", now),
            Duration::from_millis(40)
        );
        assert_eq!(
            throttle.delay(&Method::DELETE, "/cancel-all", now),
            Duration::from_millis(80)
        );
        // Other endpoints are not held up (the general rule has room).
        assert_eq!(
            throttle.delay(&Method::GET, "/data/orders", now),
            Duration::ZERO
        );
    }
}
