//! The cancel path of a script host, in one place: the audit record (one type, typed phases),
//! the write-ahead rule (a `sending` record on disk before each HTTP request leaves, one
//! outcome record after it), the counters the summary reports, the progress bar of a long
//! paced cancel, and the dry-run plan and listing.
//!
//! The client's batching loop calls back into [`RequestLog`] (a [`CancelObserver`]) before each
//! request and after each outcome; `run`, the REPL and the scheduler all cancel through the
//! script API's functions, so they all share this.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use rhai::{Array, Dynamic, ImmutableString, Map};

use super::engine::HostState;
use crate::clob::{CancelObserver, CancelPlan, CancelRequest, ClobError, RequestOutcome};

/// Rows of a dry run's listing shown as a table (all of them are in the `--json` result).
pub(crate) const LISTED_ROWS: usize = 20;

/// What an audit record says happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// A request is about to leave (written and flushed before it does).
    Sending,
    /// The request was answered: `canceled`, `not_canceled`.
    Done,
    /// The request failed: `error`, `may_have_applied`, `retrying`.
    Failed,
    /// The run stopped while the request was in flight: its outcome is unknown.
    Abandoned,
    /// A dry run would have sent these ids (`would_cancel`).
    DryRun,
    /// `--max-cancels` refused the call: nothing was sent (`ids`, `reason`).
    Refused,
    /// `clobscript audit reconcile` read the exchange for ids whose outcome was unknown.
    Reconciled,
}

/// One line of the audit log (besides `time`, `run`, `script` and `host`, which the log adds).
/// Serialized straight from the caller's data: ids are borrowed, not copied.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Record<'a> {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<Cow<'a, str>>,
    pub phase: Option<Phase>,
    /// The script function (`cancel_orders`, `cancel_all`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<Cow<'a, str>>,
    /// The endpoint, e.g. `DELETE /orders`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<Cow<'a, str>>,
    /// The request's number, unique within the run; its outcome record names the same one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// 1 for the first attempt of these ids, 2, 3, … for retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ids: Option<Vec<Cow<'a, str>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset_id: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canceled: Option<Cow<'a, [String]>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_canceled: Option<Cow<'a, BTreeMap<String, String>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub may_have_applied: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retrying: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub would_cancel: Option<Vec<Cow<'a, str>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Cow<'a, str>>,
    /// `reconciled`: each id's status on the exchange (`CANCELED`, `LIVE`, `NOT_FOUND`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statuses: Option<BTreeMap<String, String>>,
}

impl<'a> Record<'a> {
    pub fn new(phase: Phase, function: &'a str) -> Record<'a> {
        Record {
            phase: Some(phase),
            function: Some(Cow::Borrowed(function)),
            ..Record::default()
        }
    }

    pub fn ids<S: AsRef<str>>(ids: &'a [S]) -> Vec<Cow<'a, str>> {
        ids.iter().map(|id| Cow::Borrowed(id.as_ref())).collect()
    }
}

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

    fn write(&self, record: &Record<'_>) -> std::io::Result<()> {
        self.state.safety.audit(&self.state.audit_context(), record)
    }

    /// Clears the progress bar.
    pub(crate) fn finish(&self) {
        if let Some(bar) = super::engine::lock(&self.bar).take() {
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
        self.write(&record).map_err(|e| {
            let path = self
                .state
                .safety
                .audit
                .as_ref()
                .map(|log| log.path().display().to_string())
                .unwrap_or_default();
            format!("cannot write the audit log {path} ({e}); nothing more is sent")
        })?;
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
        if let Err(e) = self.write(&record) {
            tracing::warn!("cannot write the audit log: {e}");
        }
    }

    fn progress(&self, done: usize, total: usize, eta: Duration) {
        if !self.show || done >= total {
            return;
        }
        let mut bar = super::engine::lock(&self.bar);
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

/// How a cancel call of `ids` orders (`None`: cancel-all or by market) that did not finish
/// leaves them: counted unknown or never sent.
pub(crate) fn count_unfinished(state: &HostState, error: &ClobError, ids: Option<usize>) {
    let counters = &state.counters;
    match error {
        ClobError::CancelIncomplete {
            unknown, unsent, ..
        } => {
            counters
                .unknown
                .fetch_add(unknown.len() as u64, Ordering::SeqCst);
            counters
                .unsent
                .fetch_add(unsent.len() as u64, Ordering::SeqCst);
        }
        ClobError::CancelUncertain { .. } => {
            counters
                .unknown
                .fetch_add(ids.unwrap_or(1) as u64, Ordering::SeqCst);
        }
        _ => {
            // Nothing of the call reached the exchange.
            counters
                .unsent
                .fetch_add(ids.unwrap_or(0) as u64, Ordering::SeqCst);
        }
    }
}

/// A dry run's listing: one row per id, with what the script's order maps tell of it (id in
/// full, market, outcome, side, price, size left, age).
pub(crate) fn listing_rows(ids: &[ImmutableString], orders: Option<&Array>, now: i64) -> Array {
    let mut known: std::collections::HashMap<ImmutableString, Map> =
        std::collections::HashMap::new();
    for item in orders.into_iter().flatten() {
        let Some(order) = item.read_lock::<Map>() else {
            continue;
        };
        let Some(id) = order
            .get("id")
            .and_then(|v| v.read_lock::<ImmutableString>().map(|s| s.clone()))
        else {
            continue;
        };
        let mut row = Map::new();
        row.insert("id".into(), Dynamic::from(id.clone()));
        for key in ["market", "outcome", "side", "price"] {
            if let Some(value) = order.get(key) {
                row.insert(key.into(), value.clone());
            }
        }
        let number = |key: &str| {
            order.get(key).and_then(|v| {
                v.as_float()
                    .ok()
                    .or_else(|| v.as_int().ok().map(|i| i as f64))
            })
        };
        if let Some(original) = number("original_size") {
            let left = original - number("size_matched").unwrap_or(0.0);
            row.insert("size_left".into(), Dynamic::from_float(left));
        }
        if let Some(created) = order.get("created_at").and_then(|v| v.as_int().ok())
            && created > 0
        {
            let age = Duration::from_secs(now.saturating_sub(created).max(0) as u64);
            row.insert(
                "age".into(),
                Dynamic::from(humantime::format_duration(age).to_string()),
            );
        }
        known.insert(id, row);
    }
    ids.iter()
        .map(|id| {
            let row = known.remove(id).unwrap_or_else(|| {
                let mut row = Map::new();
                row.insert("id".into(), Dynamic::from(id.clone()));
                row
            });
            Dynamic::from_map(row)
        })
        .collect()
}

/// The first `limit` rows as a table, and how many there are in all.
pub(crate) fn listing_table(rows: &Array, limit: usize) -> String {
    let columns: Vec<String> = [
        "id",
        "market",
        "outcome",
        "side",
        "price",
        "size_left",
        "age",
    ]
    .into_iter()
    .filter(|c| {
        *c == "id"
            || rows
                .iter()
                .take(limit)
                .any(|r| r.read_lock::<Map>().is_some_and(|m| m.contains_key(*c)))
    })
    .map(str::to_owned)
    .collect();
    let shown: Array = rows.iter().take(limit).cloned().collect();
    let mut text = super::output::render_table(&shown, Some(columns));
    let total = rows.len();
    if total > limit {
        text.push_str(&format!(
            "\n… and {} more: {total} orders would be canceled (all of them with --json)",
            total - limit
        ));
    } else {
        text.push_str(&format!(
            "\n{total} order{} would be canceled",
            super::safety::plural(total as u64)
        ));
    }
    text
}

/// `dry run: 5000 cancels in 42 requests of up to 120 ids, about 1m 1s at the standard tier`.
pub(crate) fn describe_plan(function: &str, plan: &CancelPlan) -> String {
    let tier = if plan.pacer.unmetered {
        "the exchange meters nothing".to_owned()
    } else if plan.pacer.tier.is_some() {
        format!("at the {} tier", plan.pacer.assumed_tier)
    } else {
        format!(
            "at the {} tier (assumed until the exchange reports it)",
            plan.pacer.assumed_tier
        )
    };
    format!(
        "dry run: {function} would send {} cancel{} in {} request{} of up to {} ids, taking about {} ({tier}); nothing was sent",
        plan.ids,
        super::safety::plural(plan.ids as u64),
        plan.requests,
        super::safety::plural(plan.requests as u64),
        plan.batch_limit,
        humantime::format_duration(Duration::from_millis(plan.duration.as_millis() as u64)),
    )
}

/// The plan as a map for the script's result.
pub(crate) fn plan_map(plan: &CancelPlan) -> Map {
    let mut map = Map::new();
    map.insert("requests".into(), Dynamic::from_int(plan.requests as i64));
    map.insert(
        "batch_limit".into(),
        Dynamic::from_int(plan.batch_limit as i64),
    );
    map.insert(
        "seconds".into(),
        Dynamic::from_float((plan.duration.as_secs_f64() * 1000.0).round() / 1000.0),
    );
    map.insert(
        "tier".into(),
        Dynamic::from(plan.pacer.assumed_tier.name().to_owned()),
    );
    map.insert(
        "tier_known".into(),
        Dynamic::from_bool(plan.pacer.tier.is_some()),
    );
    map.insert("unmetered".into(), Dynamic::from_bool(plan.pacer.unmetered));
    map
}
