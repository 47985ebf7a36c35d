//! The functions scripts call. One `#[export_module]` per area; each function's doc comment is
//! its help text (`clobscript docs`, the REPL's `:help`). The modules are registered as global
//! modules, after (and so in front of) Rhai's standard library.
//!
//! Exchange functions reach the shared [`HostState`] through the engine's tag, block on the
//! tokio runtime for the request (raced against the interrupt) and are marked volatile, as are
//! the ones that read the clock or host state, so the optimiser never folds them.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use rhai::plugin::*;
use rhai::{Array, Dynamic, EvalAltResult, ImmutableString, Map, NativeCallContext, Position};
use serde::Serialize;
use serde_json::json;

use super::engine::{HostRef, HostState};
use super::interrupt::StopReason;
use super::{args, convert, output};
use crate::clob::{
    CancelResponse, Client, ClobError, MAX_CANCEL_IDS, OrderFilter, Side, TradeFilter,
};

type Outcome<T> = Result<T, Box<EvalAltResult>>;

/// One area of the script API, in reference order.
pub(crate) struct AreaInfo {
    pub(crate) name: &'static str,
    pub(crate) title: &'static str,
}

pub(crate) const AREAS: &[AreaInfo] = &[
    AreaInfo {
        name: "orders",
        title: "Orders and trades",
    },
    AreaInfo {
        name: "cancels",
        title: "Cancelling orders",
    },
    AreaInfo {
        name: "scoring",
        title: "Reward scoring",
    },
    AreaInfo {
        name: "market",
        title: "Market data",
    },
    AreaInfo {
        name: "time",
        title: "Time",
    },
    AreaInfo {
        name: "params",
        title: "Parameters",
    },
    AreaInfo {
        name: "output",
        title: "Output",
    },
    AreaInfo {
        name: "safety",
        title: "Safety",
    },
];

/// The modules to register, by area name.
pub(crate) fn modules() -> Vec<(&'static str, Module)> {
    vec![
        ("orders", exported_module!(orders_api)),
        ("cancels", exported_module!(cancels_api)),
        ("scoring", exported_module!(scoring_api)),
        ("market", exported_module!(market_api)),
        ("time", exported_module!(time_api)),
        ("params", exported_module!(params_api)),
        ("output", exported_module!(output_api)),
        ("safety", exported_module!(safety_api)),
    ]
}

fn failure(message: impl Into<String>) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(message.into().into(), Position::NONE).into()
}

/// The host state behind a call.
fn host(ctx: &NativeCallContext) -> Outcome<Arc<HostState>> {
    ctx.tag()
        .and_then(|tag| tag.read_lock::<HostRef>().map(|r| r.0.clone()))
        .ok_or_else(|| failure("this function needs the clobscript host"))
}

/// An optional text filter value: `()` and `""` mean "not given"; numbers are accepted as text.
fn text_field(function: &str, map: &Map, key: &str) -> Outcome<Option<String>> {
    match map.get(key) {
        None => Ok(None),
        Some(v) if v.is_unit() => Ok(None),
        Some(v) if v.is_string() => {
            let text = v.to_string();
            Ok((!text.trim().is_empty()).then_some(text))
        }
        Some(v) if v.is_int() => Ok(Some(v.to_string())),
        Some(v) => Err(failure(format!(
            "{function}: `{key}` must be a string, not {}",
            v.type_name()
        ))),
    }
}

fn time_field(function: &str, map: &Map, key: &str) -> Outcome<Option<i64>> {
    match map.get(key) {
        None => Ok(None),
        Some(v) if v.is_unit() => Ok(None),
        Some(v) => match v.as_int() {
            Ok(ts) => Ok(Some(ts)),
            Err(_) => v.to_string().trim().parse::<i64>().map(Some).map_err(|_| {
                failure(format!(
                    "{function}: `{key}` must be Unix seconds (an int), not {}",
                    v.type_name()
                ))
            }),
        },
    }
}

/// Refuses filter keys the endpoint does not know (a typo would otherwise widen the filter).
fn known_keys(function: &str, map: &Map, allowed: &[&str]) -> Outcome<()> {
    for key in map.keys() {
        if !allowed.contains(&key.as_str()) {
            let hint = super::errors::suggest(key, allowed.iter().copied())
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
            return Err(failure(format!(
                "{function}: unknown filter `{key}` (known: {}){hint}",
                allowed.join(", ")
            )));
        }
    }
    Ok(())
}

fn order_filter(function: &str, map: &Map) -> Outcome<OrderFilter> {
    known_keys(function, map, &["market", "asset_id", "id", "fields"])?;
    Ok(OrderFilter {
        id: text_field(function, map, "id")?,
        market: text_field(function, map, "market")?,
        asset_id: text_field(function, map, "asset_id")?,
    })
}

/// The `fields` entry of an `open_orders` filter: an array of field names, or all fields.
fn order_fields(function: &str, map: &Map) -> Outcome<convert::OrderFields> {
    let Some(value) = map.get("fields") else {
        return Ok(convert::OrderFields::ALL);
    };
    let Some(names) = value.read_lock::<Array>() else {
        return Err(failure(format!(
            "{function}: `fields` must be an array of field names such as [\"id\", \"created_at\"], not {}",
            value.type_name()
        )));
    };
    let names = names
        .iter()
        .map(|name| {
            name.read_lock::<ImmutableString>()
                .map(|s| s.to_string())
                .ok_or_else(|| {
                    failure(format!(
                        "{function}: `fields` must hold field names (strings), not {}",
                        name.type_name()
                    ))
                })
        })
        .collect::<Outcome<Vec<String>>>()?;
    convert::OrderFields::select(names.iter().map(String::as_str))
        .map_err(|e| failure(format!("{function}: {e}")))
}

fn trade_filter(map: &Map) -> Outcome<TradeFilter> {
    let f = "trades";
    known_keys(
        f,
        map,
        &[
            "market",
            "asset_id",
            "id",
            "maker_address",
            "before",
            "after",
        ],
    )?;
    Ok(TradeFilter {
        id: text_field(f, map, "id")?,
        market: text_field(f, map, "market")?,
        asset_id: text_field(f, map, "asset_id")?,
        maker_address: text_field(f, map, "maker_address")?,
        before: time_field(f, map, "before")?,
        after: time_field(f, map, "after")?,
    })
}

/// An audit record about cancels, serialized straight from the ids and answers it names.
#[derive(Serialize)]
struct CancelRecord<'a> {
    phase: &'a str,
    function: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    request: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ids: Option<&'a [ImmutableString]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    would_cancel: Option<&'a [ImmutableString]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    canceled: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    not_canceled: Option<&'a BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}

impl<'a> CancelRecord<'a> {
    fn new(phase: &'a str, function: &'a str, request: Option<&'a str>) -> Self {
        CancelRecord {
            phase,
            function,
            request,
            ids: None,
            would_cancel: None,
            canceled: None,
            not_canceled: None,
            reason: None,
        }
    }

    /// What the exchange answered to a cancel request.
    fn answer(
        phase: &'a str,
        function: &'a str,
        request: &'a str,
        response: &'a CancelResponse,
    ) -> Self {
        CancelRecord {
            canceled: Some(&response.canceled),
            not_canceled: Some(&response.not_canceled),
            ..CancelRecord::new(phase, function, Some(request))
        }
    }
}

/// Order ids from an array of ids or of orders (maps with an `id`).
fn order_ids(function: &str, items: &Array) -> Outcome<Vec<ImmutableString>> {
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            // Ids are shared with the script's own strings, not copied.
            let text = |value: &Dynamic| value.read_lock::<ImmutableString>().map(|s| s.clone());
            if let Some(id) = text(item) {
                return Ok(id);
            }
            if let Some(map) = item.read_lock::<Map>()
                && let Some(id) = map.get("id").and_then(text)
            {
                return Ok(id);
            }
            Err(failure(format!(
                "{function}: item {index} is {}; pass order ids (strings) or orders (maps with an `id`)",
                item.type_name()
            )))
        })
        .collect()
}

fn dedup(mut ids: Vec<ImmutableString>) -> Vec<ImmutableString> {
    let first: Vec<bool> = {
        let mut seen = HashSet::with_capacity(ids.len());
        ids.iter().map(|id| seen.insert(id.as_str())).collect()
    };
    let mut first = first.into_iter();
    ids.retain(|_| first.next().unwrap_or(false));
    ids
}

fn side(text: &str) -> Outcome<Side> {
    match text.trim().to_ascii_uppercase().as_str() {
        "BUY" => Ok(Side::Buy),
        "SELL" => Ok(Side::Sell),
        _ => Err(failure(format!(
            "price: side must be \"BUY\" or \"SELL\", not {text:?}"
        ))),
    }
}

fn decimal_result(function: &str, text: String) -> Outcome<f64> {
    text.trim().parse::<f64>().map_err(|_| {
        failure(format!(
            "{function}: the exchange sent {text:?}, which is not a number"
        ))
    })
}

impl HostState {
    fn client(&self) -> Outcome<Client> {
        Ok(self.backend()?.client.clone())
    }

    /// Runs one exchange call on the runtime, stopping early if the script is interrupted.
    fn request<T>(
        &self,
        function: &str,
        progress: Option<&str>,
        work: impl Future<Output = Result<T, ClobError>>,
    ) -> Outcome<T> {
        let backend = self.backend()?;
        if self.interrupt.is_triggered() {
            return Err(self.terminated());
        }
        let token = self.interrupt.cancelled();
        let show = self.progress && progress.is_some();
        let label = progress.unwrap_or(function);
        let outcome = backend.handle.block_on(async {
            tokio::select! {
                biased;
                _ = token.cancelled() => None,
                result = output::with_progress(label, &backend.client, show, work) => Some(result),
            }
        });
        match outcome {
            None => Err(self.terminated()),
            Some(Ok(value)) => Ok(value),
            Some(Err(err)) => {
                let message = format!("{function} failed: {err}");
                self.record_api_failure(&message, err.exit());
                Err(failure(message))
            }
        }
    }

    /// Writes an audit record, or stops the run: a mutation that cannot be recorded is not sent.
    fn audit_or_stop<F: Serialize + ?Sized>(&self, fields: &F) -> Outcome<()> {
        self.safety
            .audit(&self.audit_context(), fields)
            .map_err(|e| {
                self.stop(StopReason::Guard(format!(
                    "cannot write the audit log ({e}); nothing more is sent (choose another file with --audit FILE)"
                )))
            })
    }

    /// Best effort: the request already happened, its record must not hide its result.
    fn audit_after<F: Serialize + ?Sized>(&self, fields: &F) {
        if let Err(e) = self.safety.audit(&self.audit_context(), fields) {
            tracing::warn!("cannot write the audit log: {e}");
        }
    }

    fn count(&self, response: &CancelResponse) {
        self.safety
            .canceled
            .fetch_add(response.canceled.len() as u64, Ordering::SeqCst);
        self.safety
            .not_canceled
            .fetch_add(response.not_canceled.len() as u64, Ordering::SeqCst);
    }

    fn record_failure(&self, function: &str, request: &str, err: &EvalAltResult) {
        let phase = if matches!(err, EvalAltResult::ErrorTerminated(..)) {
            "abandoned"
        } else {
            "failed"
        };
        let error = match err {
            EvalAltResult::ErrorRuntime(message, _) => message.to_string(),
            EvalAltResult::ErrorTerminated(..) => {
                "the run was stopped while the request was in flight; its outcome is unknown, \
                 re-read the orders before acting on them"
                    .to_owned()
            }
            other => other.to_string(),
        };
        self.audit_after(&json!({
            "phase": phase, "function": function, "request": request, "error": error,
        }));
    }

    /// Cancels exactly `ids` (deduplicated) in requests of at most 3000, under the guard,
    /// dry run and audit log.
    fn cancel_ids(&self, function: &str, ids: Vec<ImmutableString>) -> Outcome<Map> {
        let ids = dedup(ids);
        let count = ids.len() as u64;
        if count == 0 {
            return Ok(self.empty_result());
        }
        if let Err(message) = self.safety.reserve(function, count) {
            self.audit_after(&CancelRecord {
                ids: Some(&ids),
                reason: Some(&message),
                ..CancelRecord::new("refused", function, None)
            });
            return Err(self.stop(StopReason::Guard(message)));
        }
        if self.safety.is_dry_run() {
            self.audit_or_stop(&CancelRecord {
                would_cancel: Some(&ids),
                ..CancelRecord::new("dry_run", function, None)
            })?;
            self.safety.would_cancel.fetch_add(count, Ordering::SeqCst);
            let mut result = self.empty_result();
            result.insert(
                "would_cancel".into(),
                Dynamic::from_array(ids.into_iter().map(Dynamic::from).collect()),
            );
            return Ok(result);
        }
        let client = self.client()?;
        if function == "cancel" && ids.len() == 1 {
            let request = "DELETE /order";
            self.audit_or_stop(&CancelRecord {
                ids: Some(&ids),
                ..CancelRecord::new("sending", function, Some(request))
            })?;
            return self.send_cancel(function, request, &ids, client.cancel(&ids[0]));
        }
        // Every request is in the audit log before any is sent; the client then sends the
        // batches of at most 3000 ids a few at a time and merges the answers.
        let request = "DELETE /orders";
        for chunk in ids.chunks(MAX_CANCEL_IDS) {
            self.audit_or_stop(&CancelRecord {
                ids: Some(chunk),
                ..CancelRecord::new("sending", function, Some(request))
            })?;
        }
        self.send_cancel(function, request, &ids, client.cancel_orders(&ids))
    }

    /// Sends prepared cancels, counts and audits what the exchange canceled — also when only
    /// part of a multi-batch cancel got through — and converts the merged answer.
    fn send_cancel(
        &self,
        function: &str,
        request: &str,
        ids: &[ImmutableString],
        work: impl Future<Output = Result<CancelResponse, ClobError>>,
    ) -> Outcome<Map> {
        let label = format!(
            "canceling {} order{}",
            ids.len(),
            super::safety::plural(ids.len() as u64)
        );
        let work = async {
            let result = work.await;
            if let Err(ClobError::CancelIncomplete { partial, .. }) = &result {
                self.count(partial);
                self.audit_after(&CancelRecord::answer("partial", function, request, partial));
            }
            result
        };
        match self.request(function, Some(&label), work) {
            Ok(response) => {
                self.count(&response);
                self.audit_after(&CancelRecord::answer("done", function, request, &response));
                Ok(convert::cancel_response_sharing(response, ids))
            }
            Err(err) => {
                self.record_failure(function, request, &err);
                Err(err)
            }
        }
    }

    fn empty_result(&self) -> Map {
        let mut result = convert::cancel_response(CancelResponse::default());
        if self.safety.is_dry_run() {
            result.insert("would_cancel".into(), Dynamic::from_array(Array::new()));
            result.insert("dry_run".into(), Dynamic::TRUE);
        }
        result
    }

    /// `cancel_all` (both `None`) or `cancel_market`.
    fn cancel_matching(
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
            return self.cancel_ids(function, orders.into_iter().map(|o| o.id.into()).collect());
        }
        let every = market.is_none() && asset_id.is_none();
        let request = if every {
            "DELETE /cancel-all"
        } else {
            "DELETE /cancel-market-orders"
        };
        self.audit_or_stop(&json!({
            "phase": "sending", "function": function, "request": request,
            "market": market, "asset_id": asset_id,
        }))?;
        let result = if every {
            self.request(function, Some("canceling every order"), client.cancel_all())
        } else {
            self.request(
                function,
                Some("canceling the market's orders"),
                client.cancel_market(market.as_deref(), asset_id.as_deref()),
            )
        };
        match result {
            Ok(response) => {
                self.count(&response);
                self.audit_after(&json!({
                    "phase": "done", "function": function, "request": request,
                    "canceled": response.canceled, "not_canceled": response.not_canceled,
                }));
                Ok(convert::cancel_response(response))
            }
            Err(err) => {
                self.record_failure(function, request, &err);
                Err(err)
            }
        }
    }

    fn cancel_market_checked(
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

fn non_empty(text: &str) -> Option<String> {
    let trimmed = text.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

/// Every listing fetches all pages and returns an array of maps with the exchange's field
/// names: decimal amounts (`price`, `original_size`,
/// `size_matched`, `size`, ...) are floats, times (`created_at`, `expiration`, `match_time`,
/// `last_update`) are Unix seconds, ids and token ids (`asset_id`) are strings. Use Rhai's
/// `filter`, `map`, `sort` and `reduce` on the results.
///
/// Build arrays with `filter`/`map` rather than `push` in a loop: the sandbox re-measures an
/// array every time it grows, which is slow for tens of thousands of items.
#[export_module]
mod orders_api {
    use super::*;

    /// Every open order of the account, all pages fetched.
    ///
    /// ```rhai
    /// let stale = open_orders().filter(|o| o.created_at < now() - minutes(30));
    /// ```
    #[rhai_fn(name = "open_orders", volatile, return_raw, global)]
    pub fn open_orders(ctx: NativeCallContext) -> Result<Array, Box<EvalAltResult>> {
        open_orders_where(ctx, Map::new())
    }

    /// Open orders matching a filter: any of `market` (condition id), `asset_id` (token id)
    /// and `id`. `fields` keeps only the named fields in each map (and always `id`): a map
    /// of a few fields takes a third of the memory of a full one, which counts when an account
    /// has tens of thousands of orders.
    ///
    /// ```rhai
    /// let mine = open_orders(#{ market: "0x5f…", asset_id: "7132…" });
    /// let lean = open_orders(#{ fields: ["created_at", "market"] });
    /// ```
    #[rhai_fn(name = "open_orders", volatile, return_raw, global)]
    pub fn open_orders_where(
        ctx: NativeCallContext,
        filter: Map,
    ) -> Result<Array, Box<EvalAltResult>> {
        let state = host(&ctx)?;
        let fields = order_fields("open_orders", &filter)?;
        let filter = order_filter("open_orders", &filter)?;
        let client = state.client()?;
        // Each page becomes script values as it arrives: the wire structs of one page at most
        // live next to the maps.
        let mut orders = Array::new();
        let mut seen = convert::Interner::default();
        state.request(
            "open_orders",
            Some("fetching open orders"),
            client.open_orders_each(&filter, &mut |page| {
                orders.reserve(page.len());
                orders.extend(
                    page.into_iter()
                        .map(|o| Dynamic::from_map(convert::order_with(o, &mut seen, fields))),
                );
            }),
        )?;
        Ok(orders)
    }

    /// One order by id, whatever its status (`LIVE`, `MATCHED`, `CANCELED`, ...).
    #[rhai_fn(volatile, return_raw, global)]
    pub fn order(ctx: NativeCallContext, id: &str) -> Result<Map, Box<EvalAltResult>> {
        let state = host(&ctx)?;
        let client = state.client()?;
        let order = state.request("order", None, client.order(id))?;
        Ok(convert::order(order, &mut convert::Interner::default()))
    }

    /// Every trade of the account, all pages fetched.
    #[rhai_fn(name = "trades", volatile, return_raw, global)]
    pub fn trades(ctx: NativeCallContext) -> Result<Array, Box<EvalAltResult>> {
        trades_where(ctx, Map::new())
    }

    /// Trades matching a filter: any of `market`, `asset_id`, `id`, `maker_address`, and
    /// `before` / `after` (Unix seconds).
    ///
    /// ```rhai
    /// let fills = trades(#{ after: now() - hours(24) });
    /// ```
    #[rhai_fn(name = "trades", volatile, return_raw, global)]
    pub fn trades_where(ctx: NativeCallContext, filter: Map) -> Result<Array, Box<EvalAltResult>> {
        let state = host(&ctx)?;
        let filter = trade_filter(&filter)?;
        let client = state.client()?;
        let mut trades = Array::new();
        let mut seen = convert::Interner::default();
        state.request(
            "trades",
            Some("fetching trades"),
            client.trades_each(&filter, &mut |page| {
                trades.reserve(page.len());
                trades.extend(
                    page.into_iter()
                        .map(|t| Dynamic::from_map(convert::trade(t, &mut seen))),
                );
            }),
        )?;
        Ok(trades)
    }
}

/// Every cancel returns `#{canceled: [ids], not_canceled: #{id: reason}}`; an order that was
/// already canceled or does not exist is reported under `not_canceled`.
///
/// In a dry run (`--dry-run`) nothing is sent: the result has empty `canceled`, a
/// `would_cancel` array with the ids that would have been sent, and `dry_run: true`.
///
/// With `--max-cancels N`, a call that would take the run past N orders sent for cancellation
/// sends nothing and stops the run (exit 4); in a dry run the limit counts the orders that would
/// have been sent, so a rehearsal shows where the real run would stop. While a limit or dry run
/// is active, `cancel_all`
/// and `cancel_market` first list the matching open orders and cancel exactly those ids, so
/// the count is known before anything is sent.
///
/// Every request is recorded in the audit log before it is sent and again with its outcome.
#[export_module]
mod cancels_api {
    use super::*;

    /// Cancels one order.
    #[rhai_fn(volatile, return_raw, global)]
    pub fn cancel(ctx: NativeCallContext, id: &str) -> Result<Map, Box<EvalAltResult>> {
        let state = host(&ctx)?;
        state.cancel_ids("cancel", vec![id.into()])
    }

    /// Cancels many orders in as few requests as possible (at most 3000 ids each) and merges
    /// the results. Takes ids, or orders as returned by `open_orders()`; duplicates are sent
    /// once.
    ///
    /// ```rhai
    /// cancel_orders(open_orders().filter(|o| o.side == "BUY"));
    /// ```
    // By reference (`pure`: it does not change the array), so a listing of 100,000 orders is
    // not copied to be passed in.
    #[rhai_fn(volatile, return_raw, global, pure)]
    pub fn cancel_orders(
        ctx: NativeCallContext,
        ids: &mut Array,
    ) -> Result<Map, Box<EvalAltResult>> {
        let state = host(&ctx)?;
        let ids = order_ids("cancel_orders", ids)?;
        state.cancel_ids("cancel_orders", ids)
    }

    /// Cancels every open order of the account.
    #[rhai_fn(volatile, return_raw, global)]
    pub fn cancel_all(ctx: NativeCallContext) -> Result<Map, Box<EvalAltResult>> {
        let state = host(&ctx)?;
        state.cancel_matching("cancel_all", None, None)
    }

    /// Cancels every open order in one market (condition id).
    #[rhai_fn(name = "cancel_market", volatile, return_raw, global)]
    pub fn cancel_market(ctx: NativeCallContext, market: &str) -> Result<Map, Box<EvalAltResult>> {
        let state = host(&ctx)?;
        state.cancel_market_checked(non_empty(market), None)
    }

    /// Cancels every open order in one market and token (`""` for either means "any").
    #[rhai_fn(name = "cancel_market", volatile, return_raw, global)]
    pub fn cancel_market_and_token(
        ctx: NativeCallContext,
        market: &str,
        asset_id: &str,
    ) -> Result<Map, Box<EvalAltResult>> {
        let state = host(&ctx)?;
        state.cancel_market_checked(non_empty(market), non_empty(asset_id))
    }

    /// Cancels by `#{market, asset_id}`; at least one must be given.
    ///
    /// ```rhai
    /// cancel_market(#{ asset_id: "7132…" });
    /// ```
    #[rhai_fn(name = "cancel_market", volatile, return_raw, global)]
    pub fn cancel_market_where(
        ctx: NativeCallContext,
        filter: Map,
    ) -> Result<Map, Box<EvalAltResult>> {
        let state = host(&ctx)?;
        let function = "cancel_market";
        known_keys(function, &filter, &["market", "asset_id"])?;
        let market = text_field(function, &filter, "market")?;
        let asset_id = text_field(function, &filter, "asset_id")?;
        state.cancel_market_checked(market, asset_id)
    }
}

/// Whether your orders are earning liquidity rewards.
#[export_module]
mod scoring_api {
    use super::*;

    /// Whether one order is currently scoring for rewards.
    #[rhai_fn(volatile, return_raw, global)]
    pub fn is_scoring(ctx: NativeCallContext, id: &str) -> Result<bool, Box<EvalAltResult>> {
        let state = host(&ctx)?;
        let client = state.client()?;
        state.request("is_scoring", None, client.is_scoring(id))
    }

    /// Scoring of many orders in one request: a map from order id to bool. Takes ids or
    /// orders.
    ///
    /// ```rhai
    /// let orders = open_orders();
    /// let scoring = are_scoring(orders);
    /// let idle = orders.filter(|o| !scoring[o.id]);
    /// ```
    #[rhai_fn(volatile, return_raw, global, pure)]
    pub fn are_scoring(ctx: NativeCallContext, ids: &mut Array) -> Result<Map, Box<EvalAltResult>> {
        let state = host(&ctx)?;
        let ids = dedup(order_ids("are_scoring", ids)?);
        if ids.is_empty() {
            return Ok(Map::new());
        }
        let client = state.client()?;
        let flags = state.request(
            "are_scoring",
            Some("checking scoring"),
            client.are_scoring(&ids),
        )?;
        Ok(convert::scoring(flags))
    }
}

/// Public market data by token id (`asset_id`). Prices are floats.
#[export_module]
mod market_api {
    use super::*;

    /// The order book of a token: `#{market, asset_id, timestamp, hash, bids, asks,
    /// min_order_size, tick_size, neg_risk, last_trade_price}`. `bids` and `asks` are arrays of
    /// `#{price, size}`, best first (highest bid, lowest ask), whatever order the exchange sent.
    #[rhai_fn(volatile, return_raw, global)]
    pub fn book(ctx: NativeCallContext, token_id: &str) -> Result<Map, Box<EvalAltResult>> {
        let state = host(&ctx)?;
        let client = state.client()?;
        let book = state.request("book", None, client.book(token_id))?;
        Ok(convert::book(book))
    }

    /// The midpoint between the best bid and ask.
    #[rhai_fn(volatile, return_raw, global)]
    pub fn midpoint(ctx: NativeCallContext, token_id: &str) -> Result<f64, Box<EvalAltResult>> {
        let state = host(&ctx)?;
        let client = state.client()?;
        let mid = state.request("midpoint", None, client.midpoint(token_id))?;
        decimal_result("midpoint", mid)
    }

    /// The best price on one side: `side` is `"BUY"` or `"SELL"`.
    #[rhai_fn(volatile, return_raw, global)]
    pub fn price(
        ctx: NativeCallContext,
        token_id: &str,
        side: &str,
    ) -> Result<f64, Box<EvalAltResult>> {
        let state = host(&ctx)?;
        let side = super::side(side)?;
        let client = state.client()?;
        let price = state.request("price", None, client.price(token_id, side))?;
        decimal_result("price", price)
    }

    /// The bid-ask spread.
    #[rhai_fn(volatile, return_raw, global)]
    pub fn spread(ctx: NativeCallContext, token_id: &str) -> Result<f64, Box<EvalAltResult>> {
        let state = host(&ctx)?;
        let client = state.client()?;
        let spread = state.request("spread", None, client.spread(token_id))?;
        decimal_result("spread", spread)
    }

    /// The minimum price increment.
    #[rhai_fn(volatile, return_raw, global)]
    pub fn tick_size(ctx: NativeCallContext, token_id: &str) -> Result<f64, Box<EvalAltResult>> {
        let state = host(&ctx)?;
        let client = state.client()?;
        state.request("tick_size", None, client.tick_size(token_id))
    }

    /// The exchange's clock, in Unix seconds.
    #[rhai_fn(volatile, return_raw, global)]
    pub fn server_time(ctx: NativeCallContext) -> Result<i64, Box<EvalAltResult>> {
        let state = host(&ctx)?;
        let client = state.client()?;
        state.request("server_time", None, client.server_time())
    }
}

/// Time is Unix seconds (int) throughout, like the exchange's `created_at`. Durations are
/// seconds too, so `now() - minutes(30)` is "thirty minutes ago".
#[export_module]
mod time_api {
    use super::*;

    /// The current time in Unix seconds.
    #[rhai_fn(volatile, global)]
    pub fn now() -> i64 {
        super::super::time::now()
    }

    /// `n` seconds (for symmetry: `now() - seconds(90)`).
    #[rhai_fn(name = "seconds", global)]
    pub fn seconds(n: i64) -> i64 {
        n
    }

    /// `n` seconds, rounded to whole seconds.
    #[rhai_fn(name = "seconds", global)]
    pub fn seconds_float(n: f64) -> i64 {
        n.round() as i64
    }

    /// `n` minutes in seconds.
    #[rhai_fn(name = "minutes", global)]
    pub fn minutes(n: i64) -> i64 {
        n.saturating_mul(60)
    }

    /// `n` minutes in seconds (`minutes(1.5)` is 90).
    #[rhai_fn(name = "minutes", global)]
    pub fn minutes_float(n: f64) -> i64 {
        (n * 60.0).round() as i64
    }

    /// `n` hours in seconds.
    #[rhai_fn(name = "hours", global)]
    pub fn hours(n: i64) -> i64 {
        n.saturating_mul(3600)
    }

    /// `n` hours in seconds.
    #[rhai_fn(name = "hours", global)]
    pub fn hours_float(n: f64) -> i64 {
        (n * 3600.0).round() as i64
    }

    /// `n` days in seconds.
    #[rhai_fn(name = "days", global)]
    pub fn days(n: i64) -> i64 {
        n.saturating_mul(86_400)
    }

    /// `n` days in seconds.
    #[rhai_fn(name = "days", global)]
    pub fn days_float(n: f64) -> i64 {
        (n * 86_400.0).round() as i64
    }

    /// A human duration in seconds: `duration("1h 30m")` is 5400. Units: `s`, `m`, `h`, `d`,
    /// `w`, also spelled out (`90 seconds`).
    #[rhai_fn(return_raw, global)]
    pub fn duration(text: &str) -> Result<i64, Box<EvalAltResult>> {
        super::super::time::duration_seconds(text).map_err(failure)
    }

    /// A time in Unix seconds from RFC 3339 (`"2024-05-01T12:00:00Z"`, any offset), or
    /// `"2024-05-01 12:00:00"` / `"2024-05-01"` in UTC.
    #[rhai_fn(return_raw, global)]
    pub fn parse_time(text: &str) -> Result<i64, Box<EvalAltResult>> {
        super::super::time::parse_time(text).map_err(failure)
    }

    /// Unix seconds as RFC 3339 in UTC: `"2024-05-01T12:00:00Z"`.
    #[rhai_fn(name = "format_time", return_raw, global)]
    pub fn format_time(ts: i64) -> Result<String, Box<EvalAltResult>> {
        super::super::time::format_time(ts).map_err(failure)
    }

    /// Unix seconds as RFC 3339 in an IANA time zone (`"Europe/London"`).
    #[rhai_fn(name = "format_time", return_raw, global)]
    pub fn format_time_in(ts: i64, zone: &str) -> Result<String, Box<EvalAltResult>> {
        super::super::time::format_time_in(ts, zone).map_err(failure)
    }

    /// Pauses for `seconds`. Ctrl-C and `--timeout` end the pause (and the script) at once.
    #[rhai_fn(name = "sleep", volatile, return_raw, global)]
    pub fn sleep(ctx: NativeCallContext, seconds: i64) -> Result<(), Box<EvalAltResult>> {
        sleep_float(ctx, seconds as f64)
    }

    /// Pauses for a fraction of seconds (`sleep(0.5)`).
    #[rhai_fn(name = "sleep", volatile, return_raw, global)]
    pub fn sleep_float(ctx: NativeCallContext, seconds: f64) -> Result<(), Box<EvalAltResult>> {
        let state = host(&ctx)?;
        let duration = std::time::Duration::try_from_secs_f64(seconds.max(0.0))
            .map_err(|_| failure(format!("sleep: {seconds} is not a number of seconds")))?;
        if state.interrupt.sleep(duration) {
            Ok(())
        } else {
            Err(state.terminated())
        }
    }
}

/// Script parameters from `--arg KEY=VALUE`. The constant `ARGS` is a map of every parameter,
/// typed by its text: `30` is an int, `0.05` a float, `true` a bool, anything else (including
/// token ids too long for an int) a string; `"42"` in double quotes stays a string.
#[export_module]
mod params_api {
    use super::*;

    /// A required parameter, typed by its text. A missing one stops the run (exit 2) with a
    /// message naming it.
    #[rhai_fn(name = "arg", volatile, return_raw, global)]
    pub fn arg(ctx: NativeCallContext, name: &str) -> Result<Dynamic, Box<EvalAltResult>> {
        let state = host(&ctx)?;
        match state.args.raw(name) {
            Some(raw) => Ok(args::typed(raw)),
            None => Err(state.stop(super::StopReason::BadArgument(format!(
                "this script needs --arg {name}=VALUE"
            )))),
        }
    }

    /// A parameter converted to the type of `default`, or `default` when it was not given:
    /// `arg("minutes", 30)` is an int, `arg("token", "")` the token id's exact digits. A value
    /// that does not convert stops the run (exit 2).
    #[rhai_fn(name = "arg", volatile, return_raw, global)]
    pub fn arg_or(
        ctx: NativeCallContext,
        name: &str,
        default: Dynamic,
    ) -> Result<Dynamic, Box<EvalAltResult>> {
        let state = host(&ctx)?;
        match state.args.raw(name) {
            None => Ok(default),
            Some(raw) => args::coerce(name, raw, &default)
                .map_err(|message| state.stop(super::StopReason::BadArgument(message))),
        }
    }
}

/// Showing results. `print(value)` writes a line to stdout (to stderr with `--json`, so stdout
/// stays valid JSON) and `debug(value)` to stderr. Log lines go to stderr through the
/// diagnostics logger (`--log-format json` makes them JSON).
#[export_module]
mod output_api {
    use super::*;

    /// Prints an array of maps as a table, one column per key (`id` first). Ids are never
    /// shortened.
    #[rhai_fn(name = "table", volatile, return_raw, global, pure)]
    pub fn table(ctx: NativeCallContext, rows: &mut Array) -> Result<(), Box<EvalAltResult>> {
        let state = host(&ctx)?;
        state.emit(&output::render_table(rows, None));
        Ok(())
    }

    /// Prints an array of maps as a table with the given columns, in that order.
    ///
    /// ```rhai
    /// table(open_orders(), ["id", "side", "price", "original_size"]);
    /// ```
    #[rhai_fn(name = "table", volatile, return_raw, global, pure)]
    pub fn table_columns(
        ctx: NativeCallContext,
        rows: &mut Array,
        columns: Array,
    ) -> Result<(), Box<EvalAltResult>> {
        let state = host(&ctx)?;
        let columns = columns.iter().map(|c| c.to_string()).collect();
        state.emit(&output::render_table(rows, Some(columns)));
        Ok(())
    }

    /// Prints one map as a two-column field/value table.
    #[rhai_fn(name = "table", volatile, return_raw, global)]
    pub fn table_record(ctx: NativeCallContext, record: Map) -> Result<(), Box<EvalAltResult>> {
        let state = host(&ctx)?;
        state.emit(&output::render_record(&record));
        Ok(())
    }

    /// A value as compact JSON text.
    #[rhai_fn(global)]
    pub fn to_json(value: Dynamic) -> String {
        convert::to_json(&value).to_string()
    }

    /// JSON text as a value: objects become maps, arrays arrays, whole numbers ints.
    #[rhai_fn(return_raw, global)]
    pub fn parse_json(text: &str) -> Result<Dynamic, Box<EvalAltResult>> {
        convert::from_json(text).map_err(failure)
    }

    /// Logs an informational line on stderr.
    #[rhai_fn(volatile, global)]
    pub fn log_info(message: Dynamic) {
        tracing::info!(target: "clobscript::script", "{message}");
    }

    /// Logs a warning on stderr.
    #[rhai_fn(volatile, global)]
    pub fn log_warn(message: Dynamic) {
        tracing::warn!(target: "clobscript::script", "{message}");
    }

    /// Logs an error on stderr (the script carries on; `throw` to stop it).
    #[rhai_fn(volatile, global)]
    pub fn log_error(message: Dynamic) {
        tracing::error!(target: "clobscript::script", "{message}");
    }
}

/// The run's safety switches (`--dry-run`, `--max-cancels`) are set on the command line; a
/// script can only read them.
#[export_module]
mod safety_api {
    use super::*;

    /// Whether cancels are only recorded (`--dry-run`) rather than sent.
    #[rhai_fn(volatile, return_raw, global)]
    pub fn is_dry_run(ctx: NativeCallContext) -> Result<bool, Box<EvalAltResult>> {
        Ok(host(&ctx)?.safety.is_dry_run())
    }
}
