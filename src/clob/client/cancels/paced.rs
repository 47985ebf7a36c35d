//! One attempt of a cancel request under a grant of the pacer: announced to the observer,
//! sent, its answer shown to the pacer and the observer; the stop and grace rules; the settling
//! of an answer after an ambiguous attempt; and the clock of time spent waiting for tokens.

use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tokio_util::sync::CancellationToken;

use super::{CancelObserver, CancelRequest, Client, ClobError, RequestOutcome, STOP_GRACE};
use crate::clob::client::answer::decode;
use crate::clob::client::transport::{Attempts, Call, Retryable, Step};
use crate::clob::ratelimit::{CancelGrant, CancelPacer, Verdict};
use crate::clob::types::{CancelResponse, messages};

/// Wall time spent waiting for the cancel bucket, overlapping waits counted once.
#[derive(Debug, Default)]
pub(in crate::clob::client) struct WaitClock {
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

    pub(in crate::clob::client) fn total(&self) -> Duration {
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
pub(super) enum Paced {
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
pub(super) async fn unless_stopped<F: Future>(
    stop: Option<&CancellationToken>,
    work: F,
) -> Option<F::Output> {
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
pub(super) async fn within_grace<F: Future>(
    stop: Option<&CancellationToken>,
    work: F,
) -> Option<F::Output> {
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

pub(super) fn stopped_error(endpoint: &str, reason: &str) -> ClobError {
    ClobError::NotSent {
        endpoint: endpoint.to_owned(),
        reason: reason.to_owned(),
    }
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Client {
    /// Waits for a grant of up to `wanted` ids, counting the wait; `None` once stopped.
    pub(super) async fn reserve(
        &self,
        pacer: &CancelPacer,
        wanted: usize,
        stop: Option<&CancellationToken>,
    ) -> Option<CancelGrant> {
        let _waiting = self.inner.wait_clock.begin();
        unless_stopped(stop, pacer.reserve(wanted)).await
    }

    /// One attempt of a cancel request under a grant: announced to the observer, sent, its
    /// answer shown to the pacer and the observer. `Again` when it should be sent again
    /// (after a `429` or a retryable failure, the backoff already waited).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn paced_attempt(
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
}

/// What one paced attempt came to.
pub(super) enum Attempted {
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
pub(super) fn settle_cancel(answer: CancelResponse, ambiguous: bool) -> CancelResponse {
    settle_cancel_where(answer, |_| ambiguous)
}

/// [`settle_cancel`] for ids of which only some were in an ambiguous attempt.
pub(super) fn settle_cancel_where(
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
