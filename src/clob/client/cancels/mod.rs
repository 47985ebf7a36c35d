//! The cancel endpoints: every cancel request goes through the signer's [`CancelPacer`], so it
//! fits the exchange's cancel bucket; a `429` is waited out (or its batch split); the answers
//! of many batches, retries included, are merged into one truthful result; and a
//! [`CancelObserver`] hears of every HTTP request before it leaves and of its outcome after.
//!
//! By concern: this module holds what a caller sees (the observer, the plan, the pacer);
//! [`paced`] is one attempt of a request under a grant of the pacer and the settling of its
//! answer, shared by [`batches`] (`cancel_orders`: the queue, its workers and the merged
//! result) and [`single`] (`cancel`, `cancel_all`, `cancel_market`: one request each).

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{Client, ClobError};
use crate::clob::ratelimit::{CancelPacer, PacerStatus};
use crate::clob::types::CancelResponse;

mod batches;

pub use batches::IndexedCancel;
mod paced;
mod single;

pub(super) use paced::WaitClock;
use paced::lock;

/// How long requests already in flight may take to answer once a cancel is told to stop.
pub const STOP_GRACE: Duration = Duration::from_secs(2);

/// One HTTP request of a cancel, as the observer is told of it.
#[derive(Clone, Copy, Debug)]
pub struct CancelRequest<'a> {
    /// `DELETE /orders`, `DELETE /order`, `DELETE /cancel-all`, `DELETE /cancel-market-orders`.
    pub endpoint: &'static str,
    /// Exactly the ids this request carries (empty for cancel-all and cancel-by-market).
    pub ids: &'a [&'a str],
    pub market: Option<&'a str>,
    pub asset_id: Option<&'a str>,
    /// 1 for the first attempt of these ids, then 2, 3, … for retries.
    pub attempt: u32,
}

/// What became of one HTTP request.
#[derive(Debug)]
pub enum RequestOutcome<'a> {
    /// Answered: what the exchange canceled and did not (settled after an ambiguous attempt).
    Done(&'a CancelResponse),
    /// Refused by the rate limiter (`429`): nothing was applied; the ids are sent again.
    Refused { retry_after: Option<Duration> },
    /// Failed; `may_have_applied` when the exchange may have acted on it anyway (a 5xx, a
    /// lost connection, an unreadable answer). `retrying` when the ids are sent again.
    Failed {
        error: &'a ClobError,
        may_have_applied: bool,
        retrying: bool,
    },
    /// Stopped while in flight: the outcome is unknown.
    Abandoned,
}

/// Hears of every cancel request before it is sent and of its outcome after. It knows nothing
/// of what called the client (a script, a scheduler job).
pub trait CancelObserver: Send + Sync {
    /// Once cancelled, no new request leaves; requests in flight get [`STOP_GRACE`].
    fn stop_token(&self) -> Option<CancellationToken> {
        None
    }
    /// Called before each request leaves; returns its sequence number. An error keeps the
    /// request (and every later one of this call) from being sent.
    fn sending(&self, request: &CancelRequest<'_>) -> Result<u64, String> {
        let _ = request;
        Ok(0)
    }
    /// The outcome of the request `sending` numbered `seq`.
    fn outcome(&self, seq: u64, request: &CancelRequest<'_>, outcome: &RequestOutcome<'_>) {
        let _ = (seq, request, outcome);
    }
    /// `done` of `total` ids have an answer; `eta` is the pacer's estimate for the rest.
    fn progress(&self, done: usize, total: usize, eta: Duration) {
        let _ = (done, total, eta);
    }
}

/// An observer that does nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoObserver;

impl CancelObserver for NoObserver {}

/// What a cancel of `ids` orders would take at what the pacer knows now.
#[derive(Clone, Debug, PartialEq)]
pub struct CancelPlan {
    pub ids: usize,
    pub requests: usize,
    pub batch_limit: usize,
    /// The wait for the rate limit (round trips left out).
    pub duration: Duration,
    pub pacer: PacerStatus,
}

impl Client {
    /// The cancel pacer of this client's signer, shared by every clone.
    pub fn cancel_pacer(&self) -> CancelPacer {
        let key = self
            .inner
            .config
            .credentials
            .as_ref()
            .map(|c| c.address.trim().to_ascii_lowercase())
            .unwrap_or_default();
        lock(&self.inner.pacers).entry(key).or_default().clone()
    }

    /// What cancelling `ids` orders would take now: requests, batch size and the wait.
    pub fn cancel_plan(&self, ids: usize) -> CancelPlan {
        let pacer = self.cancel_pacer();
        CancelPlan {
            ids,
            requests: pacer.requests_for(ids),
            batch_limit: pacer.batch_limit(),
            duration: pacer.estimate(ids),
            pacer: pacer.status(),
        }
    }

    /// Tells the pacer that the exchange meters nothing (an in-process simulator without rate
    /// limits), so the first cancel already goes out in batches of 3000.
    pub fn assume_unmetered(&self) {
        self.cancel_pacer().mark_unmetered();
    }
}
