//! The exchange's per-signer rate limits (PROTOCOL.md, "Rate limits: two layers"): the tier
//! table, the three `Poly-RateLimit-*` response headers, and [`CancelPacer`], which sizes and
//! times cancel requests so that they fit the signer's cancel bucket.
//!
//! The simulator enforces the same table, so both sides read it from here.
//!
//! How the pacer models the bucket: the server reports the balance after accounting
//! (`Poly-RateLimit-Remaining`, a whole number rounded down) with every metered answer; between
//! answers the pacer refills it locally at the tier's rate, capped at the burst, and deducts what
//! it grants. Every grant is therefore conservative: the server's balance at the moment a
//! request arrives is never lower than the pacer's estimate, unless another process spends
//! tokens of the same signer, and then the server's `429` + `Retry-After` corrects the pacer.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use tokio::time::Instant;

use super::retry::parse_retry_after;
use super::types::MAX_CANCEL_IDS;

/// `Poly-RateLimit-Remaining`: the bucket's balance after this request (may be negative).
pub const REMAINING_HEADER: &str = "Poly-RateLimit-Remaining";
/// `Poly-RateLimit-Reset`: a Unix time, see [`RateLimitHeaders::reset`].
pub const RESET_HEADER: &str = "Poly-RateLimit-Reset";
/// `Poly-RateLimit-Tier`: the signer's tier, in lower case (`standard`, `gold`, …).
pub const TIER_HEADER: &str = "Poly-RateLimit-Tier";
/// `Poly-RateLimit-Warning: true`: processed, but enforcement would have refused it.
pub const WARNING_HEADER: &str = "Poly-RateLimit-Warning";

/// A signer's volume tier; it sets the rate and burst of both buckets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tier {
    /// The tier of every signer below $30k of 30-day volume, and the tightest.
    #[default]
    Standard,
    Copper,
    Bronze,
    Silver,
    Gold,
    Platinum,
    Diamond,
    Elite,
}

/// One bucket's limits: tokens refilled per second and the most tokens it holds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BucketLimits {
    pub rate_per_sec: f64,
    pub burst: u32,
}

/// The two buckets of a signer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BucketKind {
    /// `POST /order`, `POST /orders`.
    Order,
    /// `DELETE /order`, `/orders`, `/cancel-all`, `/cancel-market-orders`.
    Cancel,
}

impl Tier {
    /// Every tier, from the tightest up.
    pub const ALL: [Tier; 8] = [
        Tier::Standard,
        Tier::Copper,
        Tier::Bronze,
        Tier::Silver,
        Tier::Gold,
        Tier::Platinum,
        Tier::Diamond,
        Tier::Elite,
    ];

    /// What a client assumes until the exchange has told it the tier.
    pub const TIGHTEST: Tier = Tier::Standard;

    /// The name the exchange uses, in lower case.
    pub fn name(self) -> &'static str {
        match self {
            Tier::Standard => "standard",
            Tier::Copper => "copper",
            Tier::Bronze => "bronze",
            Tier::Silver => "silver",
            Tier::Gold => "gold",
            Tier::Platinum => "platinum",
            Tier::Diamond => "diamond",
            Tier::Elite => "elite",
        }
    }

    /// (order rate, order burst, cancel rate, cancel burst), per the docs.
    fn table(self) -> (u32, u32, u32, u32) {
        match self {
            Tier::Standard => (40, 60, 80, 120),
            Tier::Copper => (60, 90, 120, 180),
            Tier::Bronze => (80, 120, 160, 240),
            Tier::Silver => (200, 300, 400, 600),
            Tier::Gold => (400, 600, 800, 1200),
            Tier::Platinum => (450, 675, 900, 1350),
            Tier::Diamond => (525, 787, 1050, 1575),
            Tier::Elite => (600, 900, 1200, 1800),
        }
    }

    /// The limits of one of the signer's buckets.
    pub fn limits(self, bucket: BucketKind) -> BucketLimits {
        let (order_rate, order_burst, cancel_rate, cancel_burst) = self.table();
        match bucket {
            BucketKind::Order => BucketLimits {
                rate_per_sec: f64::from(order_rate),
                burst: order_burst,
            },
            BucketKind::Cancel => BucketLimits {
                rate_per_sec: f64::from(cancel_rate),
                burst: cancel_burst,
            },
        }
    }

    /// The cancel bucket's limits.
    pub fn cancel(self) -> BucketLimits {
        self.limits(BucketKind::Cancel)
    }

    /// The order bucket's limits.
    pub fn order(self) -> BucketLimits {
        self.limits(BucketKind::Order)
    }

    /// Whether a balance may go below zero (charges after `/cancel-all` and
    /// `/cancel-market-orders`); the other tiers floor it at zero.
    pub fn allows_negative_balance(self) -> bool {
        self <= Tier::Gold
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A tier name that is not one of [`Tier::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown rate-limit tier {0:?}: expected one of standard, copper, bronze, silver, gold, platinum, diamond, elite"
)]
pub struct UnknownTier(pub String);

impl FromStr for Tier {
    type Err = UnknownTier;

    fn from_str(text: &str) -> Result<Tier, UnknownTier> {
        let wanted = text.trim();
        Tier::ALL
            .into_iter()
            .find(|tier| tier.name().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| UnknownTier(text.to_owned()))
    }
}

/// `GET /v1/user/rate-limit-tier`: the signer's tier. The docs name only the tier; the
/// simulator adds its limits, which clients may ignore.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RateLimitTierResponse {
    pub tier: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<TierBucket>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel: Option<TierBucket>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub negative_balance: Option<bool>,
}

/// One bucket's limits on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TierBucket {
    pub rate_per_sec: u32,
    pub burst: u32,
}

impl RateLimitTierResponse {
    /// The full answer for a tier.
    pub fn of(tier: Tier) -> RateLimitTierResponse {
        let (order_rate, order_burst, cancel_rate, cancel_burst) = tier.table();
        RateLimitTierResponse {
            tier: tier.name().to_owned(),
            order: Some(TierBucket {
                rate_per_sec: order_rate,
                burst: order_burst,
            }),
            cancel: Some(TierBucket {
                rate_per_sec: cancel_rate,
                burst: cancel_burst,
            }),
            negative_balance: Some(tier.allows_negative_balance()),
        }
    }
}

/// The rate-limit headers of one response, each `None` when absent or unreadable.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RateLimitHeaders {
    /// `Poly-RateLimit-Remaining`: the balance after accounting.
    pub remaining: Option<f64>,
    /// `Poly-RateLimit-Reset` in Unix seconds: on a `429` within the burst, when the request
    /// would fit; on an admitted request, when the bucket is full again (the simulator's
    /// reading; the exchange may send the current time).
    pub reset: Option<f64>,
    /// `Poly-RateLimit-Tier`, when it names a known tier.
    pub tier: Option<Tier>,
    /// `Poly-RateLimit-Tier` as sent, also when the name is not known.
    pub tier_name: Option<String>,
    /// `Poly-RateLimit-Warning: true`.
    pub warning: bool,
    /// `Retry-After` (seconds, decimal seconds or an HTTP date).
    pub retry_after: Option<Duration>,
}

impl RateLimitHeaders {
    /// Reads the headers of a response.
    pub fn parse(headers: &HeaderMap) -> RateLimitHeaders {
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::trim)
                .filter(|value| !value.is_empty())
        };
        let number = |name: &str| {
            text(name)
                .and_then(|value| value.parse::<f64>().ok())
                .filter(|value| value.is_finite())
        };
        let tier_name = text(TIER_HEADER).map(str::to_owned);
        RateLimitHeaders {
            remaining: number(REMAINING_HEADER),
            reset: number(RESET_HEADER),
            tier: tier_name.as_deref().and_then(|name| name.parse().ok()),
            tier_name,
            warning: text(WARNING_HEADER).is_some_and(|value| value.eq_ignore_ascii_case("true")),
            retry_after: text(RETRY_AFTER.as_str())
                .and_then(|value| parse_retry_after(value, SystemTime::now())),
        }
    }

    /// Whether the response carried any of the per-signer headers (`Retry-After` alone does
    /// not count: a proxy may send it too).
    pub fn is_metered(&self) -> bool {
        self.remaining.is_some() || self.reset.is_some() || self.tier_name.is_some()
    }
}

/// Permission to send one cancel request of `size` ids, from [`CancelPacer::reserve`]. Hand it
/// back with the response to [`CancelPacer::observe`]; dropping it instead (the request was
/// never sent, or no response came) releases it, and its tokens stay spent in the estimate.
#[derive(Debug)]
pub struct CancelGrant {
    /// Ids the request may carry: at most what was asked for, the burst and 3000.
    pub size: usize,
    /// How long `reserve` waited for the tokens.
    pub waited: Duration,
    ticket: u64,
    state: Arc<Mutex<PacerState>>,
}

impl Drop for CancelGrant {
    fn drop(&mut self) {
        lock(&self.state).in_flight.remove(&self.ticket);
    }
}

/// What a response told the pacer, for the caller's retry decision.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Not refused by the rate limiter (success or any other status).
    Passed,
    /// `429` within the burst: send the same ids again; the next `reserve` waits for this.
    RetryAfter(Duration),
    /// `429` without `Retry-After`: the batch exceeds the burst; the next `reserve` grants a
    /// smaller batch.
    Split,
}

/// The pacer's current view, for progress lines, dry runs and summaries.
#[derive(Clone, Debug, PartialEq)]
pub struct PacerStatus {
    /// The tier the exchange reported, if it has.
    pub tier: Option<Tier>,
    /// The tier the pacer plans with (the reported one, else the tightest).
    pub assumed_tier: Tier,
    /// The server sent no rate-limit headers: batches of 3000, no waiting.
    pub unmetered: bool,
    /// Estimated balance of the cancel bucket now (may be negative).
    pub balance: f64,
    /// Ids the next request may carry at most.
    pub batch_limit: usize,
    /// `429` answers seen so far.
    pub refusals: u64,
    /// Total time `reserve` has waited so far.
    pub waited: Duration,
}

#[derive(Debug)]
struct PacerState {
    tier: Option<Tier>,
    unmetered: bool,
    /// Balance estimate at `at`.
    balance: f64,
    at: Instant,
    /// No request before this (a `429`'s `Retry-After`).
    blocked_until: Option<Instant>,
    /// A burst learnt from an over-burst refusal when the tier was not reported.
    burst_cap: Option<usize>,
    /// Granted requests whose answer has not been observed: ticket → size.
    in_flight: HashMap<u64, usize>,
    next_ticket: u64,
    refusals: u64,
    waited: Duration,
}

fn lock(state: &Mutex<PacerState>) -> MutexGuard<'_, PacerState> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl PacerState {
    fn assumed_tier(&self) -> Tier {
        self.tier.unwrap_or(Tier::TIGHTEST)
    }

    fn limits(&self) -> BucketLimits {
        self.assumed_tier().cancel()
    }

    fn batch_limit(&self) -> usize {
        if self.unmetered {
            return MAX_CANCEL_IDS;
        }
        let burst = usize::try_from(self.limits().burst).unwrap_or(MAX_CANCEL_IDS);
        burst
            .min(self.burst_cap.unwrap_or(usize::MAX))
            .clamp(1, MAX_CANCEL_IDS)
    }

    /// The balance refilled up to `now`.
    fn balance_at(&self, now: Instant) -> f64 {
        let limits = self.limits();
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        (self.balance + elapsed * limits.rate_per_sec).min(f64::from(limits.burst))
    }

    fn settle(&mut self, now: Instant) {
        self.balance = self.balance_at(now);
        self.at = now;
    }

    /// How long until `cost` tokens are there (and any `Retry-After` has passed).
    fn wait_for(&self, cost: usize, now: Instant) -> Duration {
        let blocked = self
            .blocked_until
            .map_or(Duration::ZERO, |until| until.saturating_duration_since(now));
        let short = cost as f64 - self.balance_at(now);
        let refill = if short > 0.0 {
            Duration::from_secs_f64(short / self.limits().rate_per_sec)
        } else {
            Duration::ZERO
        };
        blocked.max(refill)
    }
}

/// Paces one signer's cancels to its cancel bucket. Cheap to clone; every clone shares the
/// same state, so all jobs and REPL lines of a process that cancel for one signer should share
/// one pacer.
///
/// A batching loop:
///
/// ```ignore
/// while !ids.is_empty() {
///     let grant = pacer.reserve(ids.len()).await;
///     let batch: Vec<_> = ids.drain(..grant.size).collect();
///     let response = send_delete_orders(&batch).await?;
///     match pacer.observe(grant, response.headers(), response.status()) {
///         Verdict::Passed => merge(response),
///         Verdict::RetryAfter(_) | Verdict::Split => ids.splice(0..0, batch),
///     }
/// }
/// ```
#[derive(Clone, Debug)]
pub struct CancelPacer {
    state: Arc<Mutex<PacerState>>,
}

impl Default for CancelPacer {
    fn default() -> Self {
        CancelPacer::new()
    }
}

impl CancelPacer {
    /// A pacer that knows nothing yet: it plans with the tightest tier and a full bucket.
    pub fn new() -> CancelPacer {
        let limits = Tier::TIGHTEST.cancel();
        CancelPacer {
            state: Arc::new(Mutex::new(PacerState {
                tier: None,
                unmetered: false,
                balance: f64::from(limits.burst),
                at: Instant::now(),
                blocked_until: None,
                burst_cap: None,
                in_flight: HashMap::new(),
                next_ticket: 0,
                refusals: 0,
                waited: Duration::ZERO,
            })),
        }
    }

    /// Grants `min(wanted, batch_limit)` ids (never more than the burst or 3000), waiting
    /// until the bucket holds that many and any `Retry-After` has passed. Waiting for a full
    /// batch rather than sending a smaller one now finishes a long run no later (the refill
    /// rate is the limit either way) in the fewest requests. The grant's tokens count as spent
    /// at once, so concurrent callers share the bucket. A request for 0 ids is granted 0 at
    /// once; `/cancel-all`, `/cancel-market-orders` and `DELETE /order` reserve 1.
    pub async fn reserve(&self, wanted: usize) -> CancelGrant {
        let started = Instant::now();
        loop {
            let wait = {
                let mut state = lock(&self.state);
                let now = Instant::now();
                let size = wanted.min(state.batch_limit());
                let wait = if state.unmetered || size == 0 {
                    Duration::ZERO
                } else {
                    state.wait_for(size, now)
                };
                if wait.is_zero() {
                    state.settle(now);
                    if !state.unmetered {
                        state.balance -= size as f64;
                    }
                    let waited = now.saturating_duration_since(started);
                    state.waited += waited;
                    let ticket = state.next_ticket;
                    state.next_ticket += 1;
                    state.in_flight.insert(ticket, size);
                    return CancelGrant {
                        size,
                        waited,
                        ticket,
                        state: self.state.clone(),
                    };
                }
                wait
            };
            // At least a millisecond, so float rounding cannot spin.
            tokio::time::sleep(wait.max(Duration::from_millis(1))).await;
        }
    }

    /// Learns from the answer to a granted request: the tier, the balance, a `429`'s wait.
    pub fn observe(&self, grant: CancelGrant, headers: &HeaderMap, status: StatusCode) -> Verdict {
        let size = grant.size;
        let ticket = grant.ticket;
        let verdict = self.learn(Some((ticket, size)), headers, status);
        drop(grant);
        verdict
    }

    /// Learns from the answer to a cancel sent without a grant.
    pub fn observe_ungranted(&self, headers: &HeaderMap, status: StatusCode) -> Verdict {
        self.learn(None, headers, status)
    }

    fn learn(
        &self,
        grant: Option<(u64, usize)>,
        headers: &HeaderMap,
        status: StatusCode,
    ) -> Verdict {
        let seen = RateLimitHeaders::parse(headers);
        let mut state = lock(&self.state);
        let now = Instant::now();
        if let Some((ticket, _)) = grant {
            state.in_flight.remove(&ticket);
        }
        if !seen.is_metered() {
            // Only a real answer of the exchange says it meters nothing; a failure (a proxy's
            // 5xx, a bare 429) says nothing about it.
            if status.is_success() {
                state.unmetered = true;
                state.blocked_until = None;
            } else if status == StatusCode::TOO_MANY_REQUESTS {
                state.refusals += 1;
                let wait = seen.retry_after.unwrap_or(Duration::from_secs(1));
                state.blocked_until = Some(now + wait);
                return Verdict::RetryAfter(wait);
            }
            return Verdict::Passed;
        }
        state.unmetered = false;
        if let Some(tier) = seen.tier {
            state.settle(now);
            state.tier = Some(tier);
            state.burst_cap = None;
        }
        if let Some(remaining) = seen.remaining {
            // The server's count misses requests still in flight: deduct them.
            let pending: usize = state.in_flight.values().sum();
            state.balance = remaining.floor() - pending as f64;
            state.at = now;
        }
        if status != StatusCode::TOO_MANY_REQUESTS {
            return Verdict::Passed;
        }
        state.refusals += 1;
        let reset_in = seen.reset.and_then(|reset| {
            let now_unix = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            let ahead = reset - now_unix;
            (ahead > 0.0).then(|| Duration::from_secs_f64(ahead.min(1e9)))
        });
        match seen.retry_after.or(reset_in) {
            Some(wait) => {
                state.blocked_until = Some(now + wait);
                Verdict::RetryAfter(wait)
            }
            None => {
                // Over the burst. With the tier reported the limit is known now; without it,
                // halve the batch until one fits.
                if seen.tier.is_none()
                    && let Some((_, size)) = grant
                {
                    state.burst_cap = Some((size / 2).max(1));
                }
                Verdict::Split
            }
        }
    }

    /// Treats the exchange as unmetered until an answer says otherwise (for a server known to
    /// send no rate-limit headers, such as an in-process simulator without rate limits).
    pub fn mark_unmetered(&self) {
        let mut state = lock(&self.state);
        state.unmetered = true;
        state.blocked_until = None;
    }

    /// Ids the next request may carry at most, at what the pacer knows now.
    pub fn batch_limit(&self) -> usize {
        lock(&self.state).batch_limit()
    }

    /// The time `ids` more cancels take from now at the assumed tier: the wait until the
    /// bucket holds them all (a `Retry-After` included), leaving out round trips. The batches
    /// are [`CancelPacer::batch_limit`] ids each, the last one smaller.
    pub fn estimate(&self, ids: usize) -> Duration {
        let state = lock(&self.state);
        if state.unmetered || ids == 0 {
            return Duration::ZERO;
        }
        state.wait_for(ids, Instant::now())
    }

    /// The requests `ids` cancels take at the current batch limit.
    pub fn requests_for(&self, ids: usize) -> usize {
        ids.div_ceil(self.batch_limit())
    }

    /// The tier the exchange reported, if any.
    pub fn tier(&self) -> Option<Tier> {
        lock(&self.state).tier
    }

    /// Everything the pacer knows, at this moment.
    pub fn status(&self) -> PacerStatus {
        let state = lock(&self.state);
        PacerStatus {
            tier: state.tier,
            assumed_tier: state.assumed_tier(),
            unmetered: state.unmetered,
            balance: state.balance_at(Instant::now()),
            batch_limit: state.batch_limit(),
            refusals: state.refusals,
            waited: state.waited,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).expect("header value"));
        }
        map
    }

    fn metered(tier: &str, remaining: i64) -> HeaderMap {
        headers(&[
            (TIER_HEADER, tier),
            (REMAINING_HEADER, &remaining.to_string()),
            (RESET_HEADER, "1764612536"),
        ])
    }

    #[test]
    fn the_tier_table_matches_the_docs() {
        assert_eq!(
            Tier::Standard.cancel(),
            BucketLimits {
                rate_per_sec: 80.0,
                burst: 120
            }
        );
        assert_eq!(Tier::Standard.order().burst, 60);
        assert_eq!(Tier::Diamond.order().burst, 787);
        assert_eq!(Tier::Elite.cancel().burst, 1800);
        assert!(Tier::Gold.allows_negative_balance());
        assert!(!Tier::Platinum.allows_negative_balance());
        // Every tier holds at least one second of its rate.
        for tier in Tier::ALL {
            let cancel = tier.cancel();
            assert!(f64::from(cancel.burst) >= cancel.rate_per_sec, "{tier}");
        }
    }

    #[test]
    fn tier_names_parse_in_any_case_and_unknown_ones_list_the_known() {
        assert_eq!("Platinum".parse::<Tier>(), Ok(Tier::Platinum));
        assert_eq!(" elite ".parse::<Tier>(), Ok(Tier::Elite));
        let err = "titanium".parse::<Tier>().unwrap_err();
        assert!(err.to_string().contains("standard, copper"), "{err}");
        for tier in Tier::ALL {
            assert_eq!(tier.to_string().parse::<Tier>(), Ok(tier));
        }
    }

    #[test]
    fn headers_parse_and_unreadable_values_count_as_absent() {
        let seen = RateLimitHeaders::parse(&headers(&[
            (REMAINING_HEADER, "-37"),
            (RESET_HEADER, "1764612536.5"),
            (TIER_HEADER, "Gold"),
            (WARNING_HEADER, "true"),
            ("Retry-After", "2"),
        ]));
        assert_eq!(seen.remaining, Some(-37.0));
        assert_eq!(seen.reset, Some(1_764_612_536.5));
        assert_eq!(seen.tier, Some(Tier::Gold));
        assert!(seen.warning);
        assert_eq!(seen.retry_after, Some(Duration::from_secs(2)));
        assert!(seen.is_metered());

        let odd = RateLimitHeaders::parse(&headers(&[
            (REMAINING_HEADER, "lots"),
            (TIER_HEADER, "titanium"),
        ]));
        assert_eq!(odd.remaining, None);
        assert_eq!(odd.tier, None);
        assert_eq!(odd.tier_name.as_deref(), Some("titanium"));
        assert!(odd.is_metered());
        assert!(!RateLimitHeaders::parse(&headers(&[("Retry-After", "1")])).is_metered());
    }

    #[tokio::test(start_paused = true)]
    async fn until_the_tier_is_known_batches_are_the_tightest_burst() {
        let pacer = CancelPacer::new();
        let grant = pacer.reserve(5000).await;
        assert_eq!(grant.size, 120);
        assert_eq!(grant.waited, Duration::ZERO);
        assert_eq!(pacer.status().assumed_tier, Tier::Standard);
        assert_eq!(pacer.tier(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_reported_tier_sets_the_batch_size_and_the_remaining_balance_the_wait() {
        let pacer = CancelPacer::new();
        let grant = pacer.reserve(5000).await;
        let verdict = pacer.observe(grant, &metered("elite", 1680), StatusCode::OK);
        assert_eq!(verdict, Verdict::Passed);
        assert_eq!(pacer.tier(), Some(Tier::Elite));
        assert_eq!(pacer.batch_limit(), 1800);
        // 1680 tokens now: a full batch of 1800 leaves 0.1 s later (waiting for a full batch
        // finishes no later than sending less now, in fewer requests).
        let grant = pacer.reserve(5000).await;
        assert_eq!(
            (grant.size, grant.waited),
            (1800, Duration::from_millis(100))
        );
        assert_eq!(pacer.reserve(0).await.size, 0);
        pacer.observe(grant, &metered("elite", 0), StatusCode::OK);
        // Empty: a full burst of 1800 takes 1.5 s at 1200/s.
        let grant = pacer.reserve(5000).await;
        assert_eq!(grant.size, 1800);
        assert!(
            grant.waited >= Duration::from_millis(1500)
                && grant.waited <= Duration::from_millis(1502),
            "{:?}",
            grant.waited
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_sequence_of_batches_runs_at_the_refill_rate() {
        let pacer = CancelPacer::new();
        let started = Instant::now();
        let mut left = 1000usize;
        let mut requests = 0;
        while left > 0 {
            let grant = pacer.reserve(left).await;
            left -= grant.size;
            requests += 1;
            let remaining = pacer.status().balance.floor() as i64;
            pacer.observe(grant, &metered("standard", remaining), StatusCode::OK);
        }
        // (1000 − 120) / 80 = 11 s, in batches of 120 (the last one 40).
        let elapsed = started.elapsed();
        assert!(
            elapsed >= Duration::from_secs(11) && elapsed <= Duration::from_millis(11_020),
            "{elapsed:?}"
        );
        assert_eq!(requests, 9);
    }

    #[tokio::test(start_paused = true)]
    async fn the_estimate_is_the_time_until_the_bucket_holds_every_id() {
        let pacer = CancelPacer::new();
        assert_eq!(pacer.estimate(120), Duration::ZERO);
        assert_eq!(pacer.estimate(1000), Duration::from_secs(11));
        assert_eq!(pacer.requests_for(1000), 9);
        let grant = pacer.reserve(1).await;
        pacer.observe(grant, &metered("gold", -400), StatusCode::OK);
        // In debt by 400 at 800/s: half a second before the first token, then 1200 more.
        assert_eq!(pacer.estimate(1200), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn no_rate_limit_headers_on_a_success_mean_3000_id_batches_without_waiting() {
        let pacer = CancelPacer::new();
        let grant = pacer.reserve(10_000).await;
        pacer.observe(grant, &HeaderMap::new(), StatusCode::OK);
        assert!(pacer.status().unmetered);
        for _ in 0..3 {
            let grant = pacer.reserve(10_000).await;
            assert_eq!((grant.size, grant.waited), (3000, Duration::ZERO));
        }
        assert_eq!(pacer.estimate(1_000_000), Duration::ZERO);
        // The server starts metering: back to the tier's burst.
        let grant = pacer.reserve(1).await;
        pacer.observe(grant, &metered("standard", 10), StatusCode::OK);
        assert_eq!(pacer.batch_limit(), 120);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_without_headers_does_not_mark_the_server_unmetered() {
        let pacer = CancelPacer::new();
        let grant = pacer.reserve(10).await;
        let verdict = pacer.observe(grant, &HeaderMap::new(), StatusCode::BAD_GATEWAY);
        assert_eq!(verdict, Verdict::Passed);
        assert!(!pacer.status().unmetered);
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_holds_the_next_request_for_its_retry_after() {
        let pacer = CancelPacer::new();
        let grant = pacer.reserve(120).await;
        let mut answer = metered("standard", 20);
        answer.insert("Retry-After", HeaderValue::from_static("3"));
        let verdict = pacer.observe(grant, &answer, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(verdict, Verdict::RetryAfter(Duration::from_secs(3)));
        assert_eq!(pacer.status().refusals, 1);
        // Refill alone would need 1.25 s; the exchange asked for 3.
        let grant = pacer.reserve(120).await;
        assert_eq!(grant.size, 120);
        assert!(grant.waited >= Duration::from_secs(3), "{:?}", grant.waited);
        assert!(pacer.status().waited >= Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn an_over_burst_429_without_a_tier_halves_the_batch() {
        let pacer = CancelPacer::new();
        let grant = pacer.reserve(500).await;
        assert_eq!(grant.size, 120);
        let verdict = pacer.observe(
            grant,
            &headers(&[(REMAINING_HEADER, "120")]),
            StatusCode::TOO_MANY_REQUESTS,
        );
        assert_eq!(verdict, Verdict::Split);
        assert_eq!(pacer.batch_limit(), 60);
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_reservations_share_one_bucket() {
        let pacer = CancelPacer::new();
        let a = pacer.reserve(100).await;
        // Only 20 tokens are left for a second job; 100 more take 1 s.
        let b = pacer.reserve(20).await;
        assert_eq!(b.waited, Duration::ZERO);
        let c = pacer.reserve(80).await;
        assert_eq!(c.waited, Duration::from_secs(1));
        // An answer for `a` that knows nothing of `b` and `c` yet does not free their tokens.
        pacer.observe(a, &metered("standard", 20), StatusCode::OK);
        assert!(pacer.status().balance < 0.0);
        drop((b, c));
    }
}
