//! [`CancelPacer`]: sizes and times cancel requests so that they fit the signer's cancel bucket.
//!
//! How the pacer models the bucket: the server reports the balance after accounting
//! (`Poly-RateLimit-Remaining`, a whole number rounded down) with every metered answer; between
//! answers the pacer refills it locally at the tier's rate, capped at the burst, and deducts what
//! it grants. Every grant is therefore conservative: the server's balance at the moment a
//! request arrives is never lower than the pacer's estimate, unless another process spends
//! tokens of the same signer, and then the server's `429` + `Retry-After` corrects the pacer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use tokio::time::Instant;

use super::{BucketLimits, RateLimitHeaders, Tier};
use crate::clob::types::MAX_CANCEL_IDS;

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
    /// Told of every answer learnt from, so that callers waiting in `reserve` plan again (the
    /// first answer may show the exchange meters nothing, or a tier with a larger burst).
    learnt: Arc<tokio::sync::Notify>,
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
            learnt: Arc::new(tokio::sync::Notify::new()),
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
        // Registered before the state is read, so an answer learnt after the read wakes it.
        let mut learnt = std::pin::pin!(self.learnt.notified());
        loop {
            learnt.as_mut().enable();
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
            // At least a millisecond, so float rounding cannot spin. An answer learnt from in
            // the meantime may change the plan: look again then.
            tokio::select! {
                () = tokio::time::sleep(wait.max(Duration::from_millis(1))) => {}
                () = learnt.as_mut() => {}
            }
            learnt.set(self.learnt.notified());
        }
    }

    /// Learns from the answer to a granted request: the tier, the balance, a `429`'s wait.
    pub fn observe(&self, grant: CancelGrant, headers: &HeaderMap, status: StatusCode) -> Verdict {
        let size = grant.size;
        let ticket = grant.ticket;
        let verdict = self.learn(Some((ticket, size)), headers, status);
        drop(grant);
        self.learnt.notify_waiters();
        verdict
    }

    /// Learns from the answer to a cancel sent without a grant.
    pub fn observe_ungranted(&self, headers: &HeaderMap, status: StatusCode) -> Verdict {
        let verdict = self.learn(None, headers, status);
        self.learnt.notify_waiters();
        verdict
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
        drop(state);
        self.learnt.notify_waiters();
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
