//! The observer of one cancel call: it writes the audit log ahead of every HTTP request (a
//! `sending` record on disk before the request leaves, one outcome record after it), counts
//! what the answers say for the summary, and draws the progress bar of a long paced cancel.
//!
//! The client's batching loop calls back into [`RequestLog`] (a [`CancelObserver`]) before each
//! request and after each outcome.

use std::borrow::Cow;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rhai::ImmutableString;
use tokio_util::sync::CancellationToken;

use super::record::{Phase, Record};
use crate::clob::{CancelObserver, CancelRequest, ClobError, RequestOutcome};
use crate::script::engine::HostState;

/// Cancel counters of one host, for the summary.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) canceled: AtomicU64,
    pub(crate) not_canceled: AtomicU64,
    pub(crate) would_cancel: AtomicU64,
    /// Ids whose request may have reached the exchange without an answer.
    pub(crate) unknown: AtomicU64,
    /// Ids a stopped or failed call never sent.
    pub(crate) unsent: AtomicU64,
    /// Run-unique request numbers.
    pub(crate) seq: AtomicU64,
}

/// The observer of one cancel call: writes the audit log ahead of every request, counts what
/// the answers say, and draws the progress bar.
pub(crate) struct RequestLog<'a> {
    state: &'a HostState,
    function: &'a str,
    stop: CancellationToken,
    bar: Mutex<Option<indicatif::ProgressBar>>,
    show: bool,
}

impl<'a> RequestLog<'a> {
    pub(crate) fn new(state: &'a HostState, function: &'a str) -> RequestLog<'a> {
        RequestLog {
            state,
            function,
            stop: state.interrupt.cancelled(),
            bar: Mutex::new(None),
            show: state.progress,
        }
    }

    /// Clears the progress bar.
    pub(crate) fn finish(&self) {
        if let Some(bar) = crate::script::engine::lock(&self.bar).take() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for RequestLog<'_> {
    fn drop(&mut self) {
        self.finish();
    }
}

impl CancelObserver for RequestLog<'_> {
    fn stop_token(&self) -> Option<CancellationToken> {
        Some(self.stop.clone())
    }

    fn sending(&self, request: &CancelRequest<'_>) -> Result<u64, String> {
        let seq = self.state.counters.seq.fetch_add(1, Ordering::SeqCst) + 1;
        let record = Record {
            request: Some(Cow::Borrowed(request.endpoint)),
            seq: Some(seq),
            attempt: Some(request.attempt),
            ids: (!request.ids.is_empty()).then(|| Record::ids(request.ids)),
            market: request.market.map(Cow::Borrowed),
            asset_id: request.asset_id.map(Cow::Borrowed),
            ..Record::new(Phase::Sending, self.function)
        };
        // The write-ahead rule: the record is on disk before the request leaves, or the
        // request (and every later one of this call) is not sent.
        self.state
            .safety
            .write_ahead(&self.state.audit_context(), &record)
            .map_err(|e| e.to_string())?;
        Ok(seq)
    }

    fn outcome(&self, seq: u64, request: &CancelRequest<'_>, outcome: &RequestOutcome<'_>) {
        let base = Record {
            request: Some(Cow::Borrowed(request.endpoint)),
            seq: Some(seq),
            ..Record::default()
        };
        let counters = &self.state.counters;
        let record = match outcome {
            RequestOutcome::Done(response) => {
                counters
                    .canceled
                    .fetch_add(response.canceled.len() as u64, Ordering::SeqCst);
                counters
                    .not_canceled
                    .fetch_add(response.not_canceled.len() as u64, Ordering::SeqCst);
                Record {
                    canceled: Some(Cow::Borrowed(&response.canceled)),
                    not_canceled: Some(Cow::Borrowed(&response.not_canceled)),
                    ..Record::new(Phase::Done, self.function)
                }
            }
            RequestOutcome::Refused { retry_after } => Record {
                error: Some(Cow::Owned(match retry_after {
                    Some(wait) => format!(
                        "refused by the rate limiter (429), nothing applied; sent again after {}",
                        humantime::format_duration(round_ms(*wait))
                    ),
                    None => "refused by the rate limiter (429), nothing applied; sent again in \
                             smaller batches"
                        .to_owned(),
                })),
                may_have_applied: Some(false),
                retrying: Some(true),
                ..Record::new(Phase::Failed, self.function)
            },
            RequestOutcome::Failed {
                error,
                may_have_applied,
                retrying,
            } => Record {
                error: Some(Cow::Owned(error.to_string())),
                may_have_applied: Some(*may_have_applied),
                retrying: Some(*retrying),
                ..Record::new(Phase::Failed, self.function)
            },
            RequestOutcome::Abandoned => Record {
                error: Some(Cow::Borrowed(
                    "the run was stopped while the request was in flight; its outcome is \
                     unknown (clobscript audit reconcile reads it from the exchange)",
                )),
                may_have_applied: Some(true),
                ..Record::new(Phase::Abandoned, self.function)
            },
        };
        let record = merge(base, record);
        self.state
            .safety
            .write_after(&self.state.audit_context(), &record);
    }

    fn progress(&self, done: usize, total: usize, eta: Duration) {
        if !self.show || done >= total {
            return;
        }
        let mut bar = crate::script::engine::lock(&self.bar);
        let bar = bar.get_or_insert_with(|| {
            let bar = indicatif::ProgressBar::new(total as u64);
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            bar
        });
        bar.set_position(done as u64);
        bar.set_message(format!(
            "{}: {done}/{total} orders, about {} left",
            self.function,
            humantime::format_duration(Duration::from_secs(eta.as_secs() + 1))
        ));
        bar.tick();
    }
}

fn round_ms(wait: Duration) -> Duration {
    Duration::from_millis(wait.as_millis() as u64)
}

/// `record` with the request, seq of `base`.
fn merge<'a>(base: Record<'a>, record: Record<'a>) -> Record<'a> {
    Record {
        request: base.request,
        seq: base.seq,
        ..record
    }
}

/// How a cancel call of `ids` (`None`: cancel-all or by market) that did not finish leaves
/// them: counted unknown or never sent, and the ids never sent recorded as `not_sent`.
pub(crate) fn count_unfinished(
    state: &HostState,
    function: &str,
    error: &ClobError,
    ids: Option<&[ImmutableString]>,
) {
    let counters = &state.counters;
    let not_sent = |unsent: &[&str]| {
        if unsent.is_empty() {
            return;
        }
        counters
            .unsent
            .fetch_add(unsent.len() as u64, Ordering::SeqCst);
        state.safety.write_after(
            &state.audit_context(),
            &Record {
                ids: Some(Record::ids(unsent)),
                reason: Some(Cow::Owned(error.to_string())),
                ..Record::new(Phase::NotSent, function)
            },
        );
    };
    match error {
        ClobError::CancelIncomplete {
            unknown, unsent, ..
        } => {
            counters
                .unknown
                .fetch_add(unknown.len() as u64, Ordering::SeqCst);
            let unsent: Vec<&str> = unsent.iter().map(String::as_str).collect();
            not_sent(&unsent);
        }
        ClobError::CancelUncertain { .. } => {
            counters
                .unknown
                .fetch_add(ids.map_or(1, |ids| ids.len()) as u64, Ordering::SeqCst);
        }
        _ => {
            // Nothing of the call reached the exchange.
            let unsent: Vec<&str> = ids
                .unwrap_or_default()
                .iter()
                .map(ImmutableString::as_str)
                .collect();
            not_sent(&unsent);
        }
    }
}
