//! The cancel functions of the script API, on the host state: the guard, dry run, the
//! write-ahead audit (through [`RequestLog`]), the counters and what the script gets back.
//! `run`, the REPL and the scheduler all cancel through here.

use std::io::Write as _;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rhai::{Array, Dynamic, ImmutableString, Map};

use super::dry_run;
use super::observer::{self, RequestLog};
use super::record::{Phase, Record};
use crate::clob::{CancelResponse, Client, ClobError, OrderFilter, STOP_GRACE, UniqueIds};
use crate::script::api::{Outcome, failure};
use crate::script::convert;
use crate::script::engine::{HostState, lock};
use crate::script::interrupt::StopReason;

/// The audit log could not be written before a request: nothing more was sent.
fn not_recorded(err: &ClobError) -> Option<&str> {
    let reason = match err {
        ClobError::NotSent { reason, .. } => reason,
        ClobError::CancelIncomplete { source, .. } | ClobError::CancelUncertain { source } => {
            return not_recorded(source);
        }
        _ => return None,
    };
    reason
        .starts_with("cannot write the audit log")
        .then_some(reason.as_str())
}

impl HostState {
    /// Writes an audit record ahead, or stops the run (exit 2): what cannot be recorded does
    /// not happen.
    pub(crate) fn audit_or_stop(&self, record: &Record<'_>) -> Outcome<()> {
        self.safety
            .write_ahead(&self.audit_context(), record)
            .map_err(|e| self.stop(StopReason::AuditLog(e.to_string())))
    }

    /// Best effort: what it records already happened, its record must not hide its result.
    pub(crate) fn audit_after(&self, record: &Record<'_>) {
        self.safety.write_after(&self.audit_context(), record);
    }

    /// Runs a cancel on the runtime. The client itself stops sending once the run is stopped
    /// and gives requests in flight [`STOP_GRACE`] to answer; this waits a moment longer at
    /// most, so every answer that arrived is counted.
    fn cancel_request<T>(
        &self,
        work: impl Future<Output = Result<T, ClobError>>,
    ) -> Outcome<Result<T, ClobError>> {
        let backend = self.backend()?;
        if self.interrupt.is_triggered() {
            return Err(self.terminated());
        }
        let token = self.interrupt.cancelled();
        let outcome = backend.handle.block_on(async {
            let backstop = async {
                token.cancelled().await;
                tokio::time::sleep(STOP_GRACE + Duration::from_secs(1)).await;
            };
            tokio::select! {
                result = work => Some(result),
                () = backstop => None,
            }
        });
        outcome.ok_or_else(|| self.terminated())
    }

    /// What a cancel call returns to the script, once the client is done: the converted
    /// answer; or, when the run was stopped meanwhile, the stop; or the failure (after
    /// counting what stayed unknown or unsent).
    fn cancel_result<T>(
        &self,
        function: &str,
        ids: Option<&[ImmutableString]>,
        result: Result<T, ClobError>,
        convert: impl FnOnce(T) -> Map,
    ) -> Outcome<Map> {
        match result {
            Ok(response) if !self.interrupt.is_triggered() => Ok(convert(response)),
            Ok(_) => Err(self.terminated()),
            Err(err) => {
                observer::count_unfinished(self, function, &err, ids);
                if let Some(reason) = not_recorded(&err) {
                    return Err(self.stop(StopReason::AuditLog(reason.to_owned())));
                }
                if self.interrupt.is_triggered() {
                    return Err(self.terminated());
                }
                let message = format!("{function} failed: {err}");
                self.record_api_failure(&message, err.exit());
                Err(failure(message))
            }
        }
    }

    /// Says so up front when `--timeout` leaves less time than cancelling `count` orders takes
    /// at the rate limit the client knows of.
    fn warn_if_too_slow(&self, function: &str, client: &Client, count: usize) {
        let Some(deadline) = *lock(&self.deadline) else {
            return;
        };
        let plan = client.cancel_plan(count);
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if plan.duration > left {
            let tier = plan.pacer.assumed_tier;
            let known = if plan.pacer.tier.is_some() {
                ""
            } else {
                " (assumed until the exchange reports it)"
            };
            let text = format!(
                "warning: {function}: {count} cancels take about {} at the {tier} tier's {} cancels/s{known}, \
                 more than the {} left before --timeout; the run will stop before they are all sent",
                humantime::format_duration(Duration::from_secs(plan.duration.as_secs() + 1)),
                tier.cancel().rate_per_sec,
                humantime::format_duration(Duration::from_secs(left.as_secs())),
            );
            let _ = writeln!(std::io::stderr().lock(), "{text}");
        }
    }

    /// Cancels exactly `ids` (trimmed, blanks and repeats dropped), paced to the rate limit,
    /// under the guard, dry run and audit log. `orders` are the maps the script passed, for
    /// the dry-run listing.
    pub(crate) fn cancel_ids(
        &self,
        function: &str,
        ids: Vec<ImmutableString>,
        orders: Option<&Array>,
    ) -> Outcome<Map> {
        // `cancel(id)` sends its one id as given (the client refuses a blank one).
        let single = (function == "cancel" && ids.len() == 1).then(|| ids[0].clone());
        let unique = UniqueIds::new(&ids);
        let count = if single.is_some() { 1 } else { unique.len() };
        if count == 0 {
            return Ok(self.empty_result());
        }
        // The ids sent, as the script's own strings where no space was trimmed.
        let listed = || -> Vec<ImmutableString> {
            match &single {
                Some(id) => vec![id.clone()],
                None => unique
                    .positions()
                    .iter()
                    .map(|&at| convert::trimmed(&ids[at]))
                    .collect(),
            }
        };
        if let Err(message) = self.safety.reserve(function, count as u64) {
            let refused = listed();
            self.audit_after(&Record {
                ids: Some(Record::ids(&refused)),
                reason: Some(message.as_str().into()),
                ..Record::new(Phase::Refused, function)
            });
            return Err(self.stop(StopReason::Guard(message)));
        }
        if self.safety.is_dry_run() {
            return self.dry_run(function, listed(), orders);
        }
        let client = self.client()?;
        self.warn_if_too_slow(function, &client, count);
        let log = RequestLog::new(self, function);
        if let Some(id) = &single {
            let result = self.cancel_request(client.cancel_observed(id, &log))?;
            log.finish();
            return self.cancel_result(function, Some(&listed()), result, convert::cancel_response);
        }
        let result = self.cancel_request(client.cancel_orders_indexed(&unique, &log))?;
        log.finish();
        let sent = if result.is_err() {
            listed()
        } else {
            Vec::new()
        };
        self.cancel_result(function, Some(&sent), result, |answer| {
            convert::cancel_response_sharing(answer, &ids)
        })
    }

    /// A dry run: records and lists what would be canceled, and what the real run would take.
    fn dry_run(
        &self,
        function: &str,
        ids: Vec<ImmutableString>,
        orders: Option<&Array>,
    ) -> Outcome<Map> {
        self.audit_or_stop(&Record {
            would_cancel: Some(Record::ids(&ids)),
            ..Record::new(Phase::DryRun, function)
        })?;
        let count = ids.len();
        self.counters
            .would_cancel
            .fetch_add(count as u64, Ordering::SeqCst);
        let rows = dry_run::listing_rows(&ids, orders, crate::script::time::now());
        let plan = self.client().ok().map(|client| client.cancel_plan(count));
        let mut text = dry_run::listing_table(&rows, dry_run::LISTED_ROWS);
        if let Some(plan) = &plan {
            text.push('\n');
            text.push_str(&dry_run::describe_plan(function, plan));
        }
        // A diagnostic like the run's summary: stdout stays the script's own output.
        let _ = writeln!(std::io::stderr().lock(), "{text}");
        let mut result = self.empty_result();
        result.insert(
            "would_cancel".into(),
            Dynamic::from_array(ids.into_iter().map(Dynamic::from).collect()),
        );
        result.insert("would_cancel_orders".into(), Dynamic::from_array(rows));
        if let Some(plan) = plan {
            result.insert("plan".into(), Dynamic::from_map(dry_run::plan_map(&plan)));
        }
        Ok(result)
    }

    pub(crate) fn empty_result(&self) -> Map {
        let mut result = convert::cancel_response(CancelResponse::default());
        if self.safety.is_dry_run() {
            result.insert("would_cancel".into(), Dynamic::from_array(Array::new()));
            result.insert("dry_run".into(), Dynamic::TRUE);
        }
        result
    }

    /// `cancel_all` (both `None`) or `cancel_market`.
    pub(crate) fn cancel_matching(
        &self,
        function: &str,
        market: Option<String>,
        asset_id: Option<String>,
    ) -> Outcome<Map> {
        let client = self.client()?;
        if self.safety.needs_explicit_ids() {
            // Under a guard or dry run the count must be known before anything is sent.
            let filter = OrderFilter {
                id: None,
                market: market.clone(),
                asset_id: asset_id.clone(),
            };
            let orders = self.request(
                function,
                Some("listing the orders to cancel"),
                client.open_orders(&filter),
            )?;
            let ids = orders.iter().map(|o| o.id.as_str().into()).collect();
            let mut seen = convert::Interner::default();
            let maps: Array = orders
                .into_iter()
                .map(|o| Dynamic::from_map(convert::order(o, &mut seen)))
                .collect();
            return self.cancel_ids(function, ids, Some(&maps));
        }
        let log = RequestLog::new(self, function);
        let result = match (&market, &asset_id) {
            (None, None) => self.cancel_request(client.cancel_all_observed(&log))?,
            _ => self.cancel_request(client.cancel_market_observed(
                market.as_deref(),
                asset_id.as_deref(),
                &log,
            ))?,
        };
        log.finish();
        self.cancel_result(function, None, result, convert::cancel_response)
    }

    pub(crate) fn cancel_market_checked(
        &self,
        market: Option<String>,
        asset_id: Option<String>,
    ) -> Outcome<Map> {
        if market.is_none() && asset_id.is_none() {
            return Err(failure(
                "cancel_market: give a market or an asset_id; to cancel every order use cancel_all()",
            ));
        }
        self.cancel_matching("cancel_market", market, asset_id)
    }
}
