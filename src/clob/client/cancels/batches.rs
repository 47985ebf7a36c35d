//! `cancel_orders`: the ids go on one queue, a few workers take batches off it as the pacer
//! grants them, and the answers (retries and splits included) merge into one result.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use tokio_util::sync::CancellationToken;

use super::paced::{Attempted, Paced, lock, settle_cancel_where, stopped_error, unless_stopped};
use super::{CancelObserver, CancelRequest, Client, ClobError, NoObserver};
use crate::clob::client::transport::{Attempts, Call, UniqueIds, to_json};
use crate::clob::ratelimit::{CancelGrant, CancelPacer};
use crate::clob::types::CancelResponse;

/// The answer to a `cancel_orders` call, with the canceled ids given as their positions in the
/// ids passed in: a caller holding 100,000 ids gets them back without a copy of each.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IndexedCancel {
    /// Positions (in the ids passed) of the ids the exchange canceled, in the order answered.
    pub canceled: Vec<usize>,
    /// Ids the exchange said it canceled that were not among those sent (never expected).
    pub canceled_other: Vec<String>,
    /// Ids the exchange did not cancel, with its reason.
    pub not_canceled: BTreeMap<String, String>,
}

impl IndexedCancel {
    /// The answer with every id as text, as the exchange gave it.
    pub fn into_response<S: AsRef<str>>(self, ids: &[S]) -> CancelResponse {
        let mut canceled: Vec<String> = self
            .canceled
            .iter()
            .map(|&at| ids[at].as_ref().trim().to_owned())
            .collect();
        canceled.extend(self.canceled_other);
        CancelResponse {
            canceled,
            not_canceled: self.not_canceled,
        }
    }
}

/// The state the batches of one `cancel_orders` call share. Ids are held as positions in the
/// caller's slice (`texts` gives their text).
struct Batches<'a, 'b> {
    texts: &'b [&'a str],
    queue: Mutex<VecDeque<usize>>,
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
    response: IndexedCancel,
    unknown: Vec<String>,
    unsent: Vec<String>,
    first_error: Option<ClobError>,
    any_effect: bool,
    /// Ids that were in an attempt that may have taken effect unseen.
    ambiguous: HashSet<&'a str>,
}

impl<'a> Merge<'a> {
    /// Takes in one batch's answer: each canceled id found among `sent` (the batch's
    /// positions and texts) is kept as its position, anything else as text.
    fn answered(&mut self, answer: CancelResponse, sent: &[usize], texts: &[&'a str]) {
        let position: HashMap<&str, usize, crate::util::QuickBuild> =
            sent.iter().map(|&at| (texts[at], at)).collect();
        for id in answer.canceled {
            match position.get(id.as_str()) {
                Some(&at) => self.response.canceled.push(at),
                None => self.response.canceled_other.push(id),
            }
        }
        self.response.not_canceled.extend(answer.not_canceled);
    }

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

impl Client {
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
        let answer = self
            .cancel_orders_indexed(&UniqueIds::new(ids), observer)
            .await?;
        Ok(answer.into_response(ids))
    }

    /// [`Client::cancel_orders_observed`] of the ids `ids` holds, answering with the canceled
    /// ids' positions (in the list `ids` was made from) instead of a copy of each.
    pub async fn cancel_orders_indexed(
        &self,
        ids: &UniqueIds<'_>,
        observer: &dyn CancelObserver,
    ) -> Result<IndexedCancel, ClobError> {
        self.signer("DELETE /orders")?;
        if ids.is_empty() {
            return Ok(IndexedCancel::default());
        }
        let pacer = self.cancel_pacer();
        let batches = Batches {
            texts: ids.texts(),
            total: ids.len(),
            queue: Mutex::new(ids.positions().iter().copied().collect()),
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
            .min(batches.total.div_ceil(pacer.batch_limit()));
        let work =
            (0..workers).map(|_| self.batch_worker(&pacer, &batches, observer, stop.as_ref()));
        futures_util::future::join_all(work).await;

        let Batches {
            queue,
            merge,
            texts,
            ..
        } = batches;
        let mut merge = merge.into_inner().unwrap_or_else(|e| e.into_inner());
        let left: Vec<&str> = queue
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .into_iter()
            .map(|at| texts[at])
            .collect();
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
                    && response.canceled_other.is_empty()
                    && response.not_canceled.is_empty() =>
            {
                Err(error)
            }
            Some(error) => Err(ClobError::CancelIncomplete {
                partial: Box::new(response.into_response(texts)),
                unknown,
                unsent,
                source: Box::new(error),
            }),
        }
    }

    /// Takes batches off the shared queue until it is empty or the cancel stops.
    async fn batch_worker(
        &self,
        pacer: &CancelPacer,
        batches: &Batches<'_, '_>,
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
            let batch: Vec<usize> = {
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

    /// an over-burst batch, the rest going back on the queue) and retries what may be retried.
    async fn run_batch<'a>(
        &self,
        pacer: &CancelPacer,
        batches: &Batches<'a, '_>,
        mut positions: Vec<usize>,
        first: CancelGrant,
        observer: &dyn CancelObserver,
        stop: Option<&CancellationToken>,
    ) {
        let mut grant = Some(first);
        let mut attempts = Attempts::default();
        let mut attempt_no = 0u32;
        let mut lone_refusals = 0u32;
        let started = Instant::now();
        let texts = &batches.texts;
        let mut batch: Vec<&'a str> = positions.iter().map(|&at| texts[at]).collect();
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
                let keep = grant_now.size.max(1);
                batch.truncate(keep);
                let rest = positions.split_off(keep);
                let mut queue = lock(&batches.queue);
                for at in rest.into_iter().rev() {
                    queue.push_front(at);
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
                    merge.answered(answer, &positions, texts);
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
                    let mut merge = lock(&batches.merge);
                    if attempts.ambiguous {
                        merge.ambiguous.extend(batch.iter().copied());
                    }
                    merge.unanswered(batch, in_flight);
                    // Even when nothing is left queued, the call did not finish: its result
                    // must say which ids have no answer.
                    merge.first_error.get_or_insert_with(|| {
                        stopped_error("DELETE /orders", "the run was stopped")
                    });
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
}
