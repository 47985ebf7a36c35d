//! The exported script functions, one `#[export_module]` per area.

use super::*;

/// Every listing fetches all pages and returns an array of orders (or trades) with the
/// exchange's field names: decimal amounts (`price`, `original_size`,
/// `size_matched`, `size`, ...) are floats, times (`created_at`, `expiration`, `match_time`,
/// `last_update`) are Unix seconds, ids and token ids (`asset_id`) are strings. Use Rhai's
/// `filter`, `map`, `sort` and `reduce` on the results.
///
/// An order (type `Order`) or trade (`Trade`) reads like a map — `o.price`, `o["price"]`,
/// `"price" in o`, `o.keys()`, `to_json(o)`, `print(o)`, `table(orders)` — but is read-only
/// and small (about a sixth of the memory of a map, its texts shared, and `filter` copies no
/// text). An unknown field is an error naming the fields. To change or add fields, make a
/// map first: `let m = to_map(o); m.note = "kept";`.
///
/// Build arrays with `filter`/`map` rather than `push` in a loop: the sandbox re-measures an
/// array every time it grows, which is slow for tens of thousands of items. A `filter` or
/// `retain` predicate that only compares fields with values (`|o| o.created_at < cutoff`,
/// `|o| o.side == "BUY" && o.price >= 0.5`) is answered without calling it: many times
/// quicker over a listing, with the same result.
#[export_module]
pub(super) mod orders_api {
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
    /// and `id`. With `fields`, each order is instead a map of only the named fields (and
    /// always `id`), which the script may change; orders without it are already small.
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
        let fields = filter
            .contains_key("fields")
            .then(|| order_fields("open_orders", &filter))
            .transpose()?;
        let filter = order_filter("open_orders", &filter)?;
        let client = state.client()?;
        // Each page becomes script values as it arrives, parsed straight from its JSON.
        let mut orders = Array::new();
        let mut listing = rows::OrderListing::default();
        state.request(
            "open_orders",
            Some("fetching open orders"),
            client.open_orders_raw(&filter, &mut |body| {
                rows::order_page(body, &mut listing, fields, &mut orders)
            }),
        )?;
        orders.shrink_to_fit();
        Ok(orders)
    }

    /// One order by id, whatever its status (`LIVE`, `MATCHED`, `CANCELED`, ...), or `()` when
    /// the account has no order with that id (the exchange answers `null`).
    ///
    /// ```rhai
    /// let o = order(id);
    /// if o == () { print(`${id} does not exist`); }
    /// ```
    #[rhai_fn(volatile, return_raw, global)]
    pub fn order(ctx: NativeCallContext, id: &str) -> Result<Dynamic, Box<EvalAltResult>> {
        let state = host(&ctx)?;
        let client = state.client()?;
        let lookup = async {
            match client.order(id).await {
                Ok(order) => Ok(Some(order)),
                // The client reports the exchange's `null` as "not found": no such order.
                Err(crate::clob::ClobError::NotFound { .. }) => Ok(None),
                Err(other) => Err(other),
            }
        };
        Ok(match state.request("order", None, lookup)? {
            Some(order) => convert::order_value(order, &mut convert::Interner::default()),
            None => Dynamic::UNIT,
        })
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
            client.trades_raw(&filter, &mut |body| {
                rows::trade_page(body, &mut seen, &mut trades)
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
pub(super) mod cancels_api {
    use super::*;

    /// Cancels one order.
    #[rhai_fn(volatile, return_raw, global)]
    pub fn cancel(ctx: NativeCallContext, id: &str) -> Result<Map, Box<EvalAltResult>> {
        let state = host(&ctx)?;
        state.cancel_ids("cancel", vec![id.into()], None)
    }

    /// Cancels many orders and merges the results into one. The requests are sized and paced
    /// to the signer's cancel rate limit (at most 3000 ids each; the tightest tier is assumed
    /// until the exchange names one), so none is refused for it. Takes ids, or orders as
    /// returned by `open_orders()`; duplicates are sent once.
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
        let listed = order_ids("cancel_orders", ids)?;
        state.cancel_ids("cancel_orders", listed, Some(ids))
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
pub(super) mod scoring_api {
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
        // The client sends each id once.
        let ids = order_ids("are_scoring", ids)?;
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
pub(super) mod market_api {
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
        let side = super::side("price", side)?;
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

    /// The books of many tokens in one request: a map from token id to book (as `book`
    /// returns it). Tokens without a book are left out. Takes token ids (strings); duplicates
    /// are asked for once.
    ///
    /// ```rhai
    /// let books = books(open_orders().map(|o| o.asset_id));
    /// ```
    #[rhai_fn(volatile, return_raw, global, pure)]
    pub fn books(ctx: NativeCallContext, tokens: &mut Array) -> Result<Map, Box<EvalAltResult>> {
        let state = host(&ctx)?;
        let tokens = token_ids("books", tokens)?;
        if tokens.is_empty() {
            return Ok(Map::new());
        }
        let client = state.client()?;
        let ids: Vec<&str> = tokens.iter().map(String::as_str).collect();
        let books = state.request("books", Some("fetching books"), client.books(&ids))?;
        Ok(books
            .into_iter()
            .map(|b| {
                (
                    b.asset_id.as_str().into(),
                    Dynamic::from_map(convert::book(b)),
                )
            })
            .collect())
    }

    /// Midpoints of many tokens in one request: a map from token id to float. Tokens without
    /// a book are left out, so `tok in mids` tells which have one.
    ///
    /// ```rhai
    /// let mids = midpoints(["7132…", "4410…"]);
    /// ```
    #[rhai_fn(volatile, return_raw, global, pure)]
    pub fn midpoints(
        ctx: NativeCallContext,
        tokens: &mut Array,
    ) -> Result<Map, Box<EvalAltResult>> {
        let state = host(&ctx)?;
        let tokens = token_ids("midpoints", tokens)?;
        if tokens.is_empty() {
            return Ok(Map::new());
        }
        let client = state.client()?;
        let ids: Vec<&str> = tokens.iter().map(String::as_str).collect();
        let mids = state.request("midpoints", None, client.midpoints(&ids))?;
        decimal_map("midpoints", mids)
    }

    /// Best prices on one side (`"BUY"` or `"SELL"`) for many tokens in one request: a map
    /// from token id to float. Tokens without a book or without orders on that side are left
    /// out.
    #[rhai_fn(volatile, return_raw, global, pure)]
    pub fn prices(
        ctx: NativeCallContext,
        tokens: &mut Array,
        side: &str,
    ) -> Result<Map, Box<EvalAltResult>> {
        let state = host(&ctx)?;
        let side = super::side("prices", side)?;
        let tokens = token_ids("prices", tokens)?;
        if tokens.is_empty() {
            return Ok(Map::new());
        }
        let client = state.client()?;
        let ids: Vec<&str> = tokens.iter().map(String::as_str).collect();
        let prices = state.request("prices", None, client.prices(&ids, side))?;
        decimal_map("prices", prices)
    }

    /// Spreads of many tokens in one request: a map from token id to float. Tokens without a
    /// book are left out.
    #[rhai_fn(volatile, return_raw, global, pure)]
    pub fn spreads(ctx: NativeCallContext, tokens: &mut Array) -> Result<Map, Box<EvalAltResult>> {
        let state = host(&ctx)?;
        let tokens = token_ids("spreads", tokens)?;
        if tokens.is_empty() {
            return Ok(Map::new());
        }
        let client = state.client()?;
        let ids: Vec<&str> = tokens.iter().map(String::as_str).collect();
        let spreads = state.request("spreads", None, client.spreads(&ids))?;
        decimal_map("spreads", spreads)
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
pub(super) mod time_api {
    use super::*;

    /// The current time in Unix seconds.
    #[rhai_fn(volatile, global)]
    pub fn now() -> i64 {
        crate::script::time::now()
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
        crate::script::time::duration_seconds(text).map_err(failure)
    }

    /// A time in Unix seconds from RFC 3339 (`"2024-05-01T12:00:00Z"`, any offset), or
    /// `"2024-05-01 12:00:00"` / `"2024-05-01"` in UTC.
    #[rhai_fn(return_raw, global)]
    pub fn parse_time(text: &str) -> Result<i64, Box<EvalAltResult>> {
        crate::script::time::parse_time(text).map_err(failure)
    }

    /// Unix seconds as RFC 3339 in UTC: `"2024-05-01T12:00:00Z"`.
    #[rhai_fn(name = "format_time", return_raw, global)]
    pub fn format_time(ts: i64) -> Result<String, Box<EvalAltResult>> {
        crate::script::time::format_time(ts).map_err(failure)
    }

    /// Unix seconds as RFC 3339 in an IANA time zone (`"Europe/London"`).
    #[rhai_fn(name = "format_time", return_raw, global)]
    pub fn format_time_in(ts: i64, zone: &str) -> Result<String, Box<EvalAltResult>> {
        crate::script::time::format_time_in(ts, zone).map_err(failure)
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
        if seconds.is_nan() || seconds < 0.0 {
            return Err(failure(format!(
                "sleep: the pause must be 0 seconds or more, not {seconds}"
            )));
        }
        let duration = std::time::Duration::try_from_secs_f64(seconds)
            .map_err(|_| failure(format!("sleep: {seconds:e} seconds is too long a pause")))?;
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
pub(super) mod params_api {
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
pub(super) mod output_api {
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

    /// Prints one order or trade as a two-column field/value table.
    #[rhai_fn(name = "table", volatile, return_raw, global, pure)]
    pub fn table_order(
        ctx: NativeCallContext,
        record: &mut crate::script::values::OrderValue,
    ) -> Result<(), Box<EvalAltResult>> {
        let state = host(&ctx)?;
        state.emit(&output::render_record(&record.to_map()));
        Ok(())
    }

    /// Prints one trade as a two-column field/value table.
    #[rhai_fn(name = "table", volatile, return_raw, global, pure)]
    pub fn table_trade(
        ctx: NativeCallContext,
        record: &mut crate::script::values::TradeValue,
    ) -> Result<(), Box<EvalAltResult>> {
        let state = host(&ctx)?;
        state.emit(&output::render_record(&record.to_map()));
        Ok(())
    }

    /// An order or trade as a map, which the script may change (orders and trades themselves
    /// are read-only).
    ///
    /// ```rhai
    /// let m = to_map(open_orders()[0]);
    /// m.note = "kept";
    /// ```
    #[rhai_fn(name = "to_map", global, pure)]
    pub fn order_to_map(record: &mut crate::script::values::OrderValue) -> Map {
        record.to_map()
    }

    /// A trade as a map, which the script may change.
    #[rhai_fn(name = "to_map", global, pure)]
    pub fn trade_to_map(record: &mut crate::script::values::TradeValue) -> Map {
        record.to_map()
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
pub(super) mod safety_api {
    use super::*;

    /// Whether cancels are only recorded (`--dry-run`) rather than sent.
    #[rhai_fn(volatile, return_raw, global)]
    pub fn is_dry_run(ctx: NativeCallContext) -> Result<bool, Box<EvalAltResult>> {
        Ok(host(&ctx)?.safety.is_dry_run())
    }
}
