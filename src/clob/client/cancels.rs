//! The cancel endpoints: every cancel request goes through the signer's [`CancelPacer`], so it
//! fits the exchange's cancel bucket; a `429` is waited out (or its batch split); the answers
//! of many batches, retries included, are merged into one truthful result; and a
//! [`CancelObserver`] hears of every HTTP request before it leaves and of its outcome after.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use tokio_util::sync::CancellationToken;

use super::answer::decode;
use super::transport::{Attempts, Call, Retryable, Step, required, to_json, unique_ids};
use super::{Client, ClobError};
use crate::clob::ratelimit::{CancelGrant, CancelPacer, PacerStatus, Verdict};
use crate::clob::types::{CancelMarketRequest, CancelOrderRequest, CancelResponse, messages};

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

/// Wall time spent waiting for the cancel bucket, overlapping waits counted once.
#[derive(Debug, Default)]
pub(super) struct WaitClock {
    state: Mutex<(usize, Option<Instant>, Duration)>,
}

impl WaitClock {
    fn lock(&self) -> std::sync::MutexGuard<'_, (usize, Option<Instant>, Duration)> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn begin(&self) -> WaitGuard<'_> {
        let mut state = self.lock();
        if state.0 == 0 {
            state.1 = Some(Instant::now());
        }
        state.0 += 1;
        WaitGuard(self)
    }

    pub(super) fn total(&self) -> Duration {
        let state = self.lock();
        state.2 + state.1.map_or(Duration::ZERO, |since| since.elapsed())
    }
}

struct WaitGuard<'a>(&'a WaitClock);

impl Drop for WaitGuard<'_> {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.0 = state.0.saturating_sub(1);
        if state.0 == 0
            && let Some(since) = state.1.take()
        {
            state.2 += since.elapsed();
        }
    }
}

/// A request announced to the observer: reports `Abandoned` if dropped before its outcome.
struct InFlight<'a> {
    observer: &'a dyn CancelObserver,
    seq: u64,
    request: CancelRequest<'a>,
    open: bool,
}

impl InFlight<'_> {
    fn finish(mut self, outcome: &RequestOutcome<'_>) {
        self.open = false;
        self.observer.outcome(self.seq, &self.request, outcome);
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if self.open {
            self.observer
                .outcome(self.seq, &self.request, &RequestOutcome::Abandoned);
        }
    }
}

/// How a paced request ended.
enum Paced {
    Answered(CancelResponse),
    /// Failed for good; `may_have_applied` when some attempt may have reached the exchange.
    Failed {
        error: ClobError,
        may_have_applied: bool,
    },
    /// Stopped before it could finish; `in_flight` when a request was out at that moment.
    Stopped {
        in_flight: bool,
    },
}

/// A future's output, or `None` once `stop` is cancelled.
async fn unless_stopped<F: Future>(stop: Option<&CancellationToken>, work: F) -> Option<F::Output> {
    match stop {
        Some(token) => tokio::select! {
            biased;
            () = token.cancelled() => None,
            output = work => Some(output),
        },
        None => Some(work.await),
    }
}

/// A request's answer, or `None` once `stop` was cancelled and [`STOP_GRACE`] passed.
async fn within_grace<F: Future>(stop: Option<&CancellationToken>, work: F) -> Option<F::Output> {
    match stop {
        Some(token) => {
            let deadline = async {
                token.cancelled().await;
                tokio::time::sleep(STOP_GRACE).await;
            };
            tokio::select! {
                output = work => Some(output),
                () = deadline => None,
            }
        }
        None => Some(work.await),
    }
}

fn stopped_error(endpoint: &str, reason: &str) -> ClobError {
    ClobError::NotSent {
        endpoint: endpoint.to_owned(),
        reason: reason.to_owned(),
    }
}

/// The state the batches of one `cancel_orders` call share.
struct Batches<'a> {
    queue: Mutex<VecDeque<&'a str>>,
    merge: Mutex<Merge<'a>>,
    total: usize,
    done: AtomicUsize,
    /// Set when a request could not be announced, or failed for good: nothing more is sent.
    halted: std::sync::atomic::AtomicBool,
    /// Cancelled once the queue is empty, so workers waiting for tokens give up.
    drained: CancellationToken,
}

#[derive(Default)]
struct Merge<'a> {
    response: CancelResponse,
    unknown: Vec<String>,
    unsent: Vec<String>,
    first_error: Option<ClobError>,
    any_effect: bool,
    /// Ids that were in an attempt that may have taken effect unseen.
    ambiguous: HashSet<&'a str>,
}

impl<'a> Merge<'a> {
    /// Ids that end without an answer: unknown if an attempt with them may have applied.
    fn unanswered(&mut self, ids: impl IntoIterator<Item = &'a str>, in_flight: bool) {
        for id in ids {
            if in_flight || self.ambiguous.contains(id) {
                self.any_effect = true;
                self.unknown.push(id.to_owned());
            } else {
                self.unsent.push(id.to_owned());
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
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

    /// `DELETE /order`: cancels one order.
    pub async fn cancel(&self, id: &str) -> Result<CancelResponse, ClobError> {
        self.cancel_observed(id, &NoObserver).await
    }

    /// [`Client::cancel`], telling `observer` of each request.
    pub async fn cancel_observed(
        &self,
        id: &str,
        observer: &dyn CancelObserver,
    ) -> Result<CancelResponse, ClobError> {
        let id = required(id, "DELETE /order", "an order id")?;
        let body = to_json(&CancelOrderRequest {
            order_id: id.to_owned(),
        })?;
        let call = Call::new(Method::DELETE, "/order").signed().json(body);
        let ids = [id];
        let request = CancelRequest {
            endpoint: "DELETE /order",
            ids: &ids,
            market: None,
            asset_id: None,
            attempt: 1,
        };
        self.cancel_call(&call, request, observer).await
    }

    /// `DELETE /orders`: cancels many orders. Duplicates are dropped; the ids go out in
    /// requests sized to what the signer's cancel bucket admits (never above its burst or
    /// 3000, a few in flight at once) paced at its refill rate; the answers are merged into one.
    ///
    /// When a batch had an attempt that may have taken effect unseen (e.g. the answer was
    /// lost) and the retry reports an id as already canceled, that id counts as canceled. If a
    /// batch fails for good, the error is [`ClobError::CancelIncomplete`] with everything known.
    pub async fn cancel_orders<S: AsRef<str> + Sync>(
        &self,
        ids: &[S],
    ) -> Result<CancelResponse, ClobError> {
        self.cancel_orders_observed(ids, &NoObserver).await
    }

    /// [`Client::cancel_orders`], telling `observer` of every request before it leaves and of
    /// its outcome after, and stopping when its stop token fires: no new request leaves,
    /// requests in flight get [`STOP_GRACE`], and the result (a
    /// [`ClobError::CancelIncomplete`]) keeps every answer that arrived.
    pub async fn cancel_orders_observed<S: AsRef<str> + Sync>(
        &self,
        ids: &[S],
        observer: &dyn CancelObserver,
    ) -> Result<CancelResponse, ClobError> {
        self.signer("DELETE /orders")?;
        let unique = unique_ids(ids);
        if unique.is_empty() {
            return Ok(CancelResponse::default());
        }
        let pacer = self.cancel_pacer();
        let batches = Batches {
            total: unique.len(),
            queue: Mutex::new(unique.iter().copied().collect()),
            merge: Mutex::new(Merge::default()),
            done: AtomicUsize::new(0),
            halted: std::sync::atomic::AtomicBool::new(false),
            drained: CancellationToken::new(),
        };
        let stop = observer.stop_token();
        // More workers than batches would only wait; with a known tier, a few in flight
        // overlap the round trips with the refill.
        let workers = self
            .inner
            .config
            .cancel_concurrency
            .max(1)
            .min(unique.len().div_ceil(pacer.batch_limit()));
        let work =
            (0..workers).map(|_| self.batch_worker(&pacer, &batches, observer, stop.as_ref()));
        futures_util::future::join_all(work).await;

        let Batches { queue, merge, .. } = batches;
        let mut merge = merge.into_inner().unwrap_or_else(|e| e.into_inner());
        let left: Vec<&str> = queue.into_inner().unwrap_or_else(|e| e.into_inner()).into();
        if !left.is_empty() {
            merge.unanswered(left, false);
            if merge.first_error.is_none() {
                let reason = if stop.as_ref().is_some_and(CancellationToken::is_cancelled) {
                    "the run was stopped"
                } else {
                    "an earlier request could not be recorded"
                };
                merge.first_error = Some(stopped_error("DELETE /orders", reason));
            }
        }
        let Merge {
            response,
            unknown,
            unsent,
            first_error,
            any_effect,
            ..
        } = merge;
        match first_error {
            None => Ok(response),
            // Nothing reached the exchange: the plain cause says it best.
            Some(error)
                if !any_effect
                    && response.canceled.is_empty()
                    && response.not_canceled.is_empty() =>
            {
                Err(error)
            }
            Some(error) => Err(ClobError::CancelIncomplete {
                partial: Box::new(response),
                unknown,
                unsent,
                source: Box::new(error),
            }),
        }
    }

    /// Takes batches off the shared queue until it is empty or the cancel stops.
    async fn batch_worker<'a>(
        &self,
        pacer: &CancelPacer,
        batches: &Batches<'a>,
        observer: &dyn CancelObserver,
        stop: Option<&CancellationToken>,
    ) {
        loop {
            if batches.halted.load(Ordering::SeqCst)
                || stop.is_some_and(CancellationToken::is_cancelled)
            {
                return;
            }
            let wanted = lock(&batches.queue).len();
            if wanted == 0 {
                return;
            }
            let waited =
                unless_stopped(Some(&batches.drained), self.reserve(pacer, wanted, stop)).await;
            let Some(Some(grant)) = waited else {
                return;
            };
            if batches.halted.load(Ordering::SeqCst) {
                return;
            }
            let batch: Vec<&'a str> = {
                let mut queue = lock(&batches.queue);
                let take = grant.size.min(queue.len());
                let batch = queue.drain(..take).collect();
                if queue.is_empty() {
                    batches.drained.cancel();
                }
                batch
            };
            if batch.is_empty() {
                return;
            }
            self.run_batch(pacer, batches, batch, grant, observer, stop)
                .await;
            let done = batches.done.load(Ordering::SeqCst);
            let left = batches.total.saturating_sub(done);
            observer.progress(done, batches.total, pacer.estimate(left));
        }
    }

    /// Waits for a grant of up to `wanted` ids, counting the wait; `None` once stopped.
    async fn reserve(
        &self,
        pacer: &CancelPacer,
        wanted: usize,
        stop: Option<&CancellationToken>,
    ) -> Option<CancelGrant> {
        let _waiting = self.inner.wait_clock.begin();
        unless_stopped(stop, pacer.reserve(wanted)).await
    }

    /// Sends one batch until it has an answer or fails for good: waits out `429`s (splitting
    /// an over-burst batch, the rest going back on the queue) and retries what may be retried.
    async fn run_batch<'a>(
        &self,
        pacer: &CancelPacer,
        batches: &Batches<'a>,
        mut batch: Vec<&'a str>,
        first: CancelGrant,
        observer: &dyn CancelObserver,
        stop: Option<&CancellationToken>,
    ) {
        let mut grant = Some(first);
        let mut attempts = Attempts::default();
        let mut attempt_no = 0u32;
        let mut lone_refusals = 0u32;
        let started = Instant::now();
        loop {
            let grant_now = match grant.take() {
                Some(grant) => grant,
                None => match self.reserve(pacer, batch.len(), stop).await {
                    Some(grant) => grant,
                    None => {
                        lock(&batches.merge).unanswered(batch, false);
                        return;
                    }
                },
            };
            if grant_now.size < batch.len() {
                let rest = batch.split_off(grant_now.size.max(1));
                let mut queue = lock(&batches.queue);
                for id in rest.into_iter().rev() {
                    queue.push_front(id);
                }
            }
            let call = match to_json(&batch) {
                Ok(body) => Call::new(Method::DELETE, "/orders").signed().json(body),
                Err(error) => {
                    let mut merge = lock(&batches.merge);
                    merge.unanswered(batch, false);
                    merge.first_error.get_or_insert(error);
                    return;
                }
            };
            attempt_no += 1;
            let request = CancelRequest {
                endpoint: "DELETE /orders",
                ids: &batch,
                market: None,
                asset_id: None,
                attempt: attempt_no,
            };
            let settle = |answer: CancelResponse, ambiguous: bool| {
                if !ambiguous {
                    return answer;
                }
                let mut merge = lock(&batches.merge);
                merge.ambiguous.extend(batch.iter().copied());
                let ambiguous = &merge.ambiguous;
                settle_cancel_where(answer, |id| ambiguous.contains(id))
            };
            let outcome = self
                .paced_attempt(
                    pacer,
                    &call,
                    request,
                    grant_now,
                    &mut attempts,
                    observer,
                    stop,
                    started,
                    &settle,
                )
                .await;
            match outcome {
                Attempted::Again => {
                    if attempts.ambiguous {
                        lock(&batches.merge).ambiguous.extend(batch.iter().copied());
                    }
                    let refused_single = batch.len() == 1
                        && attempts
                            .last
                            .as_ref()
                            .is_some_and(|(status, _)| *status == StatusCode::TOO_MANY_REQUESTS)
                        && pacer.status().balance >= 1.0;
                    if refused_single {
                        // Refused with tokens to spare and no wait named: a limiter the pacer
                        // cannot read. A bounded number of tries, a second apart.
                        lone_refusals += 1;
                        if lone_refusals > self.inner.config.retry.max_attempts {
                            let mut merge = lock(&batches.merge);
                            merge.unanswered(batch, false);
                            merge.first_error.get_or_insert(ClobError::RateLimited {
                                endpoint: "DELETE /orders".to_owned(),
                                message: "refused by the rate limiter".to_owned(),
                                retry_after: None,
                                attempts: attempt_no,
                            });
                            return;
                        }
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
                Attempted::Ended(Paced::Answered(answer)) => {
                    let mut merge = lock(&batches.merge);
                    merge.any_effect = true;
                    merge.response.canceled.extend(answer.canceled);
                    merge.response.not_canceled.extend(answer.not_canceled);
                    batches.done.fetch_add(batch.len(), Ordering::SeqCst);
                    return;
                }
                Attempted::Ended(Paced::Failed {
                    error,
                    may_have_applied,
                }) => {
                    // Retries could not get this batch through: the exchange is failing, so
                    // the ids still queued are not sent (they are reported as never sent).
                    batches.halted.store(true, Ordering::SeqCst);
                    batches.drained.cancel();
                    let mut merge = lock(&batches.merge);
                    if may_have_applied {
                        merge.ambiguous.extend(batch.iter().copied());
                    }
                    merge.unanswered(batch, false);
                    merge.first_error.get_or_insert(error);
                    return;
                }
                Attempted::Ended(Paced::Stopped { in_flight }) => {
                    if attempts.ambiguous {
                        lock(&batches.merge).ambiguous.extend(batch.iter().copied());
                    }
                    lock(&batches.merge).unanswered(batch, in_flight);
                    return;
                }
                Attempted::NotRecorded(reason) => {
                    batches.halted.store(true, Ordering::SeqCst);
                    let mut merge = lock(&batches.merge);
                    merge.unanswered(batch, false);
                    merge
                        .first_error
                        .get_or_insert(stopped_error("DELETE /orders", &reason));
                    return;
                }
            }
        }
    }

    /// One attempt of a cancel request under a grant: announced to the observer, sent, its
    /// answer shown to the pacer and the observer. `Again` when it should be sent again
    /// (after a `429` or a retryable failure, the backoff already waited).
    #[allow(clippy::too_many_arguments)]
    async fn paced_attempt(
        &self,
        pacer: &CancelPacer,
        call: &Call,
        request: CancelRequest<'_>,
        grant: CancelGrant,
        attempts: &mut Attempts,
        observer: &dyn CancelObserver,
        stop: Option<&CancellationToken>,
        started: Instant,
        settle: &(dyn Fn(CancelResponse, bool) -> CancelResponse + Sync),
    ) -> Attempted {
        if stop.is_some_and(CancellationToken::is_cancelled) {
            return Attempted::Ended(Paced::Stopped { in_flight: false });
        }
        let seq = match observer.sending(&request) {
            Ok(seq) => seq,
            Err(reason) => return Attempted::NotRecorded(reason),
        };
        let in_flight = InFlight {
            observer,
            seq,
            request,
            open: true,
        };
        let Some(step) = within_grace(stop, self.try_once(call, attempts)).await else {
            drop(grant);
            drop(in_flight);
            return Attempted::Ended(Paced::Stopped { in_flight: true });
        };
        let observe = |grant: CancelGrant, attempts: &Attempts| match &attempts.last {
            Some((status, headers)) => pacer.observe(grant, headers, *status),
            None => {
                drop(grant);
                Verdict::Passed
            }
        };
        match step {
            Step::Answered(answer) => {
                observe(grant, attempts);
                match decode::<CancelResponse>(call, &answer) {
                    Ok(response) => {
                        let response = settle(response, attempts.ambiguous);
                        in_flight.finish(&RequestOutcome::Done(&response));
                        Attempted::Ended(Paced::Answered(response))
                    }
                    Err(error) => {
                        // A 2xx we cannot read most likely did cancel.
                        attempts.ambiguous = true;
                        in_flight.finish(&RequestOutcome::Failed {
                            error: &error,
                            may_have_applied: true,
                            retrying: false,
                        });
                        Attempted::Ended(Paced::Failed {
                            error,
                            may_have_applied: true,
                        })
                    }
                }
            }
            Step::Fatal(error) => {
                observe(grant, attempts);
                in_flight.finish(&RequestOutcome::Failed {
                    error: &error,
                    may_have_applied: false,
                    retrying: false,
                });
                Attempted::Ended(Paced::Failed {
                    error,
                    may_have_applied: attempts.ambiguous,
                })
            }
            Step::Retry(failure) => {
                let refused = matches!(&failure, Retryable::Status { answer, .. }
                    if answer.status == StatusCode::TOO_MANY_REQUESTS);
                let verdict = observe(grant, attempts);
                if refused {
                    self.inner.refused.fetch_add(1, Ordering::Relaxed);
                    // A refusal applied nothing and does not use up the retry budget: the
                    // pacer's next grant waits for the tokens (or is smaller).
                    attempts.count = attempts.count.saturating_sub(1);
                    let retry_after = match verdict {
                        Verdict::RetryAfter(wait) => Some(wait),
                        Verdict::Split | Verdict::Passed => None,
                    };
                    tracing::info!(
                        endpoint = %call.endpoint(),
                        ids = request.ids.len(),
                        retry_after_ms = retry_after.map(|w| w.as_millis() as u64),
                        "the rate limiter refused a cancel; sending it again"
                    );
                    in_flight.finish(&RequestOutcome::Refused { retry_after });
                    return Attempted::Again;
                }
                let may_have_applied = failure.ambiguous();
                let policy = &self.inner.config.retry;
                let wait = self.retry_wait(&failure, attempts.count);
                let last = attempts.count >= policy.max_attempts
                    || started.elapsed() + wait > policy.max_elapsed;
                if last {
                    let error = self.final_error(call, failure, attempts.count);
                    in_flight.finish(&RequestOutcome::Failed {
                        error: &error,
                        may_have_applied,
                        retrying: false,
                    });
                    return Attempted::Ended(Paced::Failed {
                        error,
                        may_have_applied: attempts.ambiguous,
                    });
                }
                self.note_retry(call, attempts.count, wait, &failure);
                let error = self.final_error(call, failure, attempts.count);
                in_flight.finish(&RequestOutcome::Failed {
                    error: &error,
                    may_have_applied,
                    retrying: true,
                });
                if unless_stopped(stop, tokio::time::sleep(wait))
                    .await
                    .is_none()
                {
                    return Attempted::Ended(Paced::Stopped { in_flight: false });
                }
                Attempted::Again
            }
        }
    }

    /// `DELETE /cancel-all`: cancels every open order of the key.
    pub async fn cancel_all(&self) -> Result<CancelResponse, ClobError> {
        self.cancel_all_observed(&NoObserver).await
    }

    /// [`Client::cancel_all`], telling `observer` of each request.
    pub async fn cancel_all_observed(
        &self,
        observer: &dyn CancelObserver,
    ) -> Result<CancelResponse, ClobError> {
        let call = Call::new(Method::DELETE, "/cancel-all").signed();
        let request = CancelRequest {
            endpoint: "DELETE /cancel-all",
            ids: &[],
            market: None,
            asset_id: None,
            attempt: 1,
        };
        self.cancel_call(&call, request, observer).await
    }

    /// `DELETE /cancel-market-orders`: cancels the orders of one market, one token, or one
    /// token of one market. Blank values count as absent; with neither, the call is refused
    /// (the exchange would cancel every order: use [`Client::cancel_all`] for that).
    pub async fn cancel_market(
        &self,
        market: Option<&str>,
        asset_id: Option<&str>,
    ) -> Result<CancelResponse, ClobError> {
        self.cancel_market_observed(market, asset_id, &NoObserver)
            .await
    }

    /// [`Client::cancel_market`], telling `observer` of each request.
    pub async fn cancel_market_observed(
        &self,
        market: Option<&str>,
        asset_id: Option<&str>,
        observer: &dyn CancelObserver,
    ) -> Result<CancelResponse, ClobError> {
        const ENDPOINT: &str = "DELETE /cancel-market-orders";
        self.signer(ENDPOINT)?;
        let given = |v: Option<&str>| {
            v.map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let request = CancelMarketRequest {
            market: given(market),
            asset_id: given(asset_id),
        };
        if request.market.is_none() && request.asset_id.is_none() {
            return Err(ClobError::InvalidArgument {
                endpoint: ENDPOINT.to_owned(),
                detail: "neither a market nor a token id was given, which would cancel every \
                         order; pass one, or use cancel_all to cancel everything"
                    .to_owned(),
            });
        }
        let call = Call::new(Method::DELETE, "/cancel-market-orders")
            .signed()
            .json(to_json(&request)?);
        let announced = CancelRequest {
            endpoint: ENDPOINT,
            ids: &[],
            market: request.market.as_deref(),
            asset_id: request.asset_id.as_deref(),
            attempt: 1,
        };
        self.cancel_call(&call, announced, observer).await
    }

    /// Runs one cancel request through the pacer (reserving 1) and settles its answer (see
    /// [`settle_cancel`]).
    async fn cancel_call(
        &self,
        call: &Call,
        mut request: CancelRequest<'_>,
        observer: &dyn CancelObserver,
    ) -> Result<CancelResponse, ClobError> {
        self.signer(request.endpoint)?;
        let pacer = self.cancel_pacer();
        let stop = observer.stop_token();
        let mut attempts = Attempts::default();
        let started = Instant::now();
        let mut splits = 0u32;
        let endpoint = request.endpoint;
        let result = loop {
            let Some(grant) = self.reserve(&pacer, 1, stop.as_ref()).await else {
                break Err((stopped_error(endpoint, "the run was stopped"), false));
            };
            match self
                .paced_attempt(
                    &pacer,
                    call,
                    request,
                    grant,
                    &mut attempts,
                    observer,
                    stop.as_ref(),
                    started,
                    &settle_cancel,
                )
                .await
            {
                Attempted::Again => {
                    // A one-token request refused without a wait to go by: retry a bounded
                    // number of times, a second apart (the pacer holds the next grant).
                    if attempts
                        .last
                        .as_ref()
                        .is_some_and(|(s, _)| *s == StatusCode::TOO_MANY_REQUESTS)
                        && pacer.status().balance >= 1.0
                    {
                        splits += 1;
                        if splits > self.inner.config.retry.max_attempts {
                            break Err((
                                ClobError::RateLimited {
                                    endpoint: endpoint.to_owned(),
                                    message: "refused by the rate limiter".to_owned(),
                                    retry_after: None,
                                    attempts: attempts.count,
                                },
                                false,
                            ));
                        }
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    request.attempt += 1;
                }
                Attempted::Ended(Paced::Answered(answer)) => break Ok(answer),
                Attempted::Ended(Paced::Failed { error, .. }) => break Err((error, false)),
                Attempted::Ended(Paced::Stopped { in_flight }) => {
                    break Err((stopped_error(endpoint, "the run was stopped"), in_flight));
                }
                Attempted::NotRecorded(reason) => {
                    break Err((stopped_error(endpoint, &reason), false));
                }
            }
        };
        let names_its_ids = call.path == "/order";
        if attempts.ambiguous && result.is_ok() && !names_its_ids {
            // Cancel-all and cancel-by-market answers list only what the last attempt canceled:
            // orders canceled by an earlier attempt whose answer was lost cannot be named.
            tracing::warn!(
                endpoint = %call.endpoint(),
                "an earlier attempt may have canceled orders that this result does not list"
            );
        }
        match result {
            Ok(answer) => Ok(answer),
            Err((error, in_flight)) if attempts.ambiguous || in_flight => {
                Err(ClobError::CancelUncertain {
                    source: Box::new(error),
                })
            }
            Err((error, _)) => Err(error),
        }
    }
}

/// What one paced attempt came to.
enum Attempted {
    /// Send it again.
    Again,
    Ended(Paced),
    /// The observer could not record it; nothing was sent.
    NotRecorded(String),
}

/// After an ambiguous attempt, an id the retry reports as already canceled was most likely
/// canceled by that earlier attempt of this same call: count it as canceled. Without such an
/// attempt the answer is taken as it is, so an order canceled before the call stays under
/// `not_canceled`.
fn settle_cancel(answer: CancelResponse, ambiguous: bool) -> CancelResponse {
    settle_cancel_where(answer, |_| ambiguous)
}

/// [`settle_cancel`] for ids of which only some were in an ambiguous attempt.
fn settle_cancel_where(
    mut answer: CancelResponse,
    was_ambiguous: impl Fn(&str) -> bool,
) -> CancelResponse {
    let settled: Vec<String> = answer
        .not_canceled
        .iter()
        .filter(|(id, reason)| was_ambiguous(id) && is_already_canceled(reason))
        .map(|(id, _)| id.clone())
        .collect();
    for id in settled {
        answer.not_canceled.remove(&id);
        answer.canceled.push(id);
    }
    answer
}

fn is_already_canceled(reason: &str) -> bool {
    let reason = reason.to_ascii_lowercase();
    reason.contains(messages::ALREADY_CANCELED)
        || reason.contains("already canceled")
        || reason.contains("already cancelled")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn already_canceled_counts_as_canceled_only_after_an_ambiguous_attempt() {
        let answer = CancelResponse {
            canceled: vec!["0xa".into()],
            not_canceled: BTreeMap::from([
                ("0xb".into(), messages::ALREADY_CANCELED.into()),
                ("0xc".into(), messages::NOT_FOUND.into()),
            ]),
        };
        let plain = settle_cancel(answer.clone(), false);
        let only_c = settle_cancel_where(answer.clone(), |id| id == "0xc");
        assert_eq!(only_c, answer);
        assert_eq!(plain, answer);
        let settled = settle_cancel(answer, true);
        assert_eq!(settled.canceled, vec!["0xa", "0xb"]);
        assert_eq!(settled.not_canceled.keys().collect::<Vec<_>>(), vec!["0xc"]);
    }
}
