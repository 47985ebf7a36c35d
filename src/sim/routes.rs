//! The endpoint handlers. Request parsing accepts every client variant of PROTOCOL.md; replies
//! use the shared wire types so their JSON shapes are exactly the exchange's.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::time::Instant;

use super::amount::Amount;
use super::ratelimit::{
    Admission, BucketKind, Meter, add_meter_headers, over_burst, too_many_requests,
};
use super::server::{ApiError, Caller, Shared, lock};
use super::state::{BookError, Heartbeat, Listing, OrderQuery, Side, Token, TradeQuery};
use crate::clob::ratelimit::RateLimitTierResponse;
use crate::clob::types::{
    CancelResponse, END_CURSOR, HeartbeatResponse, MAX_CANCEL_IDS, MidpointResponse, OpenOrder,
    OrderScoring, Page, PriceResponse, SpreadResponse, TickSizeResponse, decode_cursor,
    encode_cursor, messages,
};

type Reply<T> = Result<Json<T>, ApiError>;

/// Query parameters in the order sent; empty values count as absent, as clients send `id=`.
pub struct Params(Vec<(String, String)>);

impl Params {
    fn parse(
        query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    ) -> Result<Params, ApiError> {
        query
            .map(|Query(pairs)| Params(pairs))
            .map_err(|e| ApiError::bad_request(format!("malformed query string: {e}")))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, value)| key == name && !value.trim().is_empty())
            .map(|(_, value)| value.trim())
    }

    fn owned(&self, name: &str) -> Option<String> {
        self.get(name).map(str::to_owned)
    }

    fn seconds(&self, name: &str) -> Result<Option<i64>, ApiError> {
        self.get(name)
            .map(|text| {
                text.parse().map_err(|_| {
                    ApiError::bad_request(format!("{name} must be Unix seconds, got {text:?}"))
                })
            })
            .transpose()
    }

    /// The row offset of `next_cursor`: `None` when the client passed the end cursor back.
    fn offset(&self) -> Result<Option<usize>, ApiError> {
        let Some(cursor) = self.get("next_cursor") else {
            return Ok(Some(0));
        };
        match decode_cursor(cursor) {
            Some(-1) => Ok(None),
            Some(offset) if offset >= 0 => Ok(Some(usize::try_from(offset).unwrap_or(usize::MAX))),
            _ => Err(ApiError::bad_request(format!(
                "invalid next_cursor {cursor:?}: pass back the cursor of the previous page, or MA== to start"
            ))),
        }
    }
}

fn page<T>(listing: Listing<T>, limit: usize) -> Page<T> {
    Page {
        count: listing.rows.len() as i64,
        data: listing.rows,
        next_cursor: listing.next_offset.map_or_else(
            || END_CURSOR.to_owned(),
            |offset| encode_cursor(offset as i64),
        ),
        limit: limit as i64,
    }
}

fn empty_page<T>(limit: usize) -> Page<T> {
    page(
        Listing {
            rows: Vec::new(),
            next_offset: None,
        },
        limit,
    )
}

fn json_body(body: &Bytes, expected: &str) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body ({e}); expected {expected}")))
}

fn id_list(body: &Bytes, expected: &str) -> Result<Vec<String>, ApiError> {
    let value = json_body(body, expected)?;
    let Value::Array(items) = value else {
        return Err(ApiError::bad_request(format!(
            "invalid body: expected {expected}"
        )));
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::String(id) => Ok(id),
            other => Err(ApiError::bad_request(format!(
                "invalid order id {other}: expected {expected}"
            ))),
        })
        .collect()
}

// ---- public endpoints ----

/// `GET /` and `GET /ok`.
pub async fn ok() -> Json<&'static str> {
    Json("OK")
}

/// `GET /time`: bare Unix seconds.
pub async fn time(State(shared): State<Arc<Shared>>) -> Json<i64> {
    Json(shared.clock.now())
}

fn with_token<T>(
    shared: &Shared,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    read: impl FnOnce(&Token, &Params) -> Result<T, ApiError>,
) -> Reply<T> {
    let params = Params::parse(query)?;
    let exchange = shared.exchange();
    match exchange.token(params.get("token_id")) {
        Ok(token) => read(token, &params).map(Json),
        Err(BookError::InvalidToken) => Err(ApiError::bad_request(messages::INVALID_TOKEN)),
        Err(BookError::NoBook) => Err(ApiError::new(StatusCode::NOT_FOUND, messages::NO_ORDERBOOK)),
    }
}

/// `GET /book?token_id=`.
pub async fn book(
    State(shared): State<Arc<Shared>>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Reply<crate::clob::types::OrderBook> {
    with_token(&shared, query, |token, _| Ok(token.order_book()))
}

/// The midpoint of the best bid and ask; with a side empty, the last trade price.
pub(super) fn midpoint_of(token: &Token) -> Amount {
    match (token.best_bid(), token.best_ask()) {
        (Some(bid), Some(ask)) => (bid + ask) / 2,
        _ => token.last_trade_price,
    }
}

/// `GET /midpoint?token_id=`.
pub async fn midpoint(
    State(shared): State<Arc<Shared>>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Reply<MidpointResponse> {
    with_token(&shared, query, |token, _| {
        Ok(MidpointResponse {
            mid: midpoint_of(token).to_string(),
        })
    })
}

/// `GET /price?token_id=&side=`: the best bid for BUY, the best ask for SELL.
pub async fn price(
    State(shared): State<Arc<Shared>>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Reply<PriceResponse> {
    with_token(&shared, query, |token, params| {
        let side = params
            .get("side")
            .and_then(Side::parse)
            .ok_or_else(|| ApiError::bad_request("Invalid side: pass side=BUY or side=SELL"))?;
        let best = match side {
            Side::Buy => token.best_bid(),
            Side::Sell => token.best_ask(),
        };
        let price = best.ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                format!("No orders on the {} side of this book", side.as_str()),
            )
        })?;
        Ok(PriceResponse {
            price: price.to_string(),
        })
    })
}

/// `GET /spread?token_id=`: best ask minus best bid ("0" with a side empty).
pub async fn spread(
    State(shared): State<Arc<Shared>>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Reply<SpreadResponse> {
    with_token(&shared, query, |token, _| {
        let spread = match (token.best_bid(), token.best_ask()) {
            (Some(bid), Some(ask)) => ask.saturating_sub(bid),
            _ => Amount::ZERO,
        };
        Ok(SpreadResponse {
            spread: spread.to_string(),
        })
    })
}

/// `GET /tick-size?token_id=`: a JSON number.
pub async fn tick_size(
    State(shared): State<Arc<Shared>>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Reply<TickSizeResponse> {
    with_token(&shared, query, |token, _| {
        Ok(TickSizeResponse {
            minimum_tick_size: token.tick_size.to_f64(),
        })
    })
}

// ---- private endpoints ----

/// `GET /data/order/{id}` and `GET /order/{id}`: the order, or `null` when the key has no
/// order with that id (what the exchange answers; the official Python client returns `None`).
pub async fn order(
    State(shared): State<Arc<Shared>>,
    Extension(Caller(account)): Extension<Caller>,
    Path(id): Path<String>,
) -> Json<Option<OpenOrder>> {
    Json(shared.exchange().order(account, &id))
}

/// `GET /data/orders`.
pub async fn open_orders(
    State(shared): State<Arc<Shared>>,
    Extension(Caller(account)): Extension<Caller>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Reply<Page<OpenOrder>> {
    let params = Params::parse(query)?;
    let limit = shared.page_size;
    let Some(offset) = params.offset()? else {
        return Ok(Json(empty_page(limit)));
    };
    let filter = OrderQuery {
        id: params.owned("id"),
        market: params.owned("market"),
        asset_id: params.owned("asset_id"),
    };
    let listing = shared
        .exchange()
        .open_orders(account, &filter, offset, limit);
    Ok(Json(page(listing, limit)))
}

/// `GET /data/trades` and `GET /trades`; `maker=` and `taker=` (Rust client) mean the same
/// as `maker_address=`.
pub async fn trades(
    State(shared): State<Arc<Shared>>,
    Extension(Caller(account)): Extension<Caller>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Reply<Page<crate::clob::types::Trade>> {
    let params = Params::parse(query)?;
    let limit = shared.page_size;
    let Some(offset) = params.offset()? else {
        return Ok(Json(empty_page(limit)));
    };
    let filter = TradeQuery {
        id: params.owned("id"),
        market: params.owned("market"),
        asset_id: params.owned("asset_id"),
        maker_address: params
            .owned("maker_address")
            .or_else(|| params.owned("maker"))
            .or_else(|| params.owned("taker")),
        before: params.seconds("before")?,
        after: params.seconds("after")?,
    };
    let listing = shared.exchange().trades(account, &filter, offset, limit);
    Ok(Json(page(listing, limit)))
}

/// The simulator's clock in Unix seconds, with milliseconds.
fn unix_now(shared: &Shared) -> f64 {
    shared.clock.now_millis() as f64 / 1000.0
}

/// Runs a cancel under the signer's cancel bucket: `upfront` tokens decide admission, all or
/// nothing (a refused request changes nothing); `after(response)` more are charged once it
/// ran. Metered answers carry the `Poly-RateLimit-*` headers.
fn metered_cancel(
    shared: &Shared,
    account: usize,
    upfront: usize,
    cancel: impl FnOnce() -> CancelResponse,
    after: impl FnOnce(&CancelResponse) -> usize,
) -> Response {
    let admission = lock(&shared.limiter).admit(
        account,
        BucketKind::Cancel,
        upfront,
        Instant::now(),
        unix_now(shared),
    );
    let mut meter = match admission {
        None => None,
        Some(Admission::Admitted(meter)) => Some(meter),
        Some(Admission::Refused { meter, wait }) => {
            return too_many_requests(&meter, wait, upfront);
        }
        Some(Admission::OverBurst { meter, cost }) => return over_burst(&meter, cost),
    };
    let response = cancel();
    let extra = after(&response);
    if extra > 0
        && let Some(meter) = meter.as_mut()
        && let Some(charged) = lock(&shared.limiter).charge_after(
            account,
            BucketKind::Cancel,
            extra,
            Instant::now(),
            unix_now(shared),
        )
    {
        *meter = Meter {
            warning: meter.warning,
            ..charged
        };
    }
    let mut reply = Json(response).into_response();
    if let Some(meter) = &meter {
        add_meter_headers(reply.headers_mut(), meter);
    }
    reply
}

/// `DELETE /order`, body `{"orderID":"<id>"}`.
pub async fn cancel_order(
    State(shared): State<Arc<Shared>>,
    Extension(Caller(account)): Extension<Caller>,
    body: Bytes,
) -> Result<Response, ApiError> {
    const EXPECTED: &str = r#"{"orderID":"<order id>"}"#;
    let value = json_body(&body, EXPECTED)?;
    let id = ["orderID", "orderId", "order_id"]
        .iter()
        .find_map(|key| value.get(key).and_then(Value::as_str))
        .filter(|id| !id.trim().is_empty())
        .ok_or_else(|| {
            ApiError::bad_request(format!("Invalid order payload: expected {EXPECTED}"))
        })?
        .to_owned();
    let now_ms = shared.clock.now_millis();
    Ok(metered_cancel(
        &shared,
        account,
        1,
        || shared.exchange().cancel(account, &[id], now_ms),
        |_| 0,
    ))
}

/// `DELETE /orders`, body `["<id>",…]`: at most 3000 ids; duplicates are ignored.
pub async fn cancel_orders(
    State(shared): State<Arc<Shared>>,
    Extension(Caller(account)): Extension<Caller>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let ids = id_list(&body, r#"a JSON array of order ids, ["<id>",…]"#)?;
    if ids.len() > MAX_CANCEL_IDS {
        return Err(ApiError::bad_request(format!(
            "Too many orders: {} ids in one request, at most {MAX_CANCEL_IDS}; split the batch",
            ids.len()
        )));
    }
    let now_ms = shared.clock.now_millis();
    // One token per submitted id, duplicates included.
    Ok(metered_cancel(
        &shared,
        account,
        ids.len(),
        || shared.exchange().cancel(account, &ids, now_ms),
        |_| 0,
    ))
}

/// `DELETE /cancel-all`.
pub async fn cancel_all(
    State(shared): State<Arc<Shared>>,
    Extension(Caller(account)): Extension<Caller>,
) -> Response {
    let now_ms = shared.clock.now_millis();
    metered_cancel(
        &shared,
        account,
        1,
        || {
            shared
                .exchange()
                .cancel_matching(account, None, None, now_ms)
        },
        |r| r.canceled.len(),
    )
}

/// A `market`/`asset_id` key of the cancel-market body: absent, `null` and `""` all mean "any".
fn optional_key(body: &Value, key: &str) -> Result<Option<String>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_owned())),
        Some(other) => Err(ApiError::bad_request(format!(
            "invalid {key} {other}: expected a string"
        ))),
    }
}

/// `DELETE /cancel-market-orders`, body `{"market":…,"asset_id":…}` (either may be left out).
pub async fn cancel_market_orders(
    State(shared): State<Arc<Shared>>,
    Extension(Caller(account)): Extension<Caller>,
    body: Bytes,
) -> Result<Response, ApiError> {
    const EXPECTED: &str = r#"{"market":"<condition id>","asset_id":"<token id>"}"#;
    let value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Default::default())
    } else {
        json_body(&body, EXPECTED)?
    };
    if !value.is_object() {
        return Err(ApiError::bad_request(format!(
            "invalid body: expected {EXPECTED}"
        )));
    }
    let market = optional_key(&value, "market")?;
    let asset_id = optional_key(&value, "asset_id")?;
    let now_ms = shared.clock.now_millis();
    Ok(metered_cancel(
        &shared,
        account,
        1,
        || {
            shared.exchange().cancel_matching(
                account,
                market.as_deref(),
                asset_id.as_deref(),
                now_ms,
            )
        },
        |r| r.canceled.len(),
    ))
}

/// `GET /order-scoring?order_id=`.
pub async fn order_scoring(
    State(shared): State<Arc<Shared>>,
    Extension(Caller(account)): Extension<Caller>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Reply<OrderScoring> {
    let params = Params::parse(query)?;
    let id = params.get("order_id").ok_or_else(|| {
        ApiError::bad_request("order_id is required: /order-scoring?order_id=<id>")
    })?;
    Ok(Json(OrderScoring {
        scoring: shared.exchange().is_scoring(account, id),
    }))
}

/// `POST /orders-scoring`, body `["<id>",…]` → `{"<id>": bool}`.
pub async fn orders_scoring(
    State(shared): State<Arc<Shared>>,
    Extension(Caller(account)): Extension<Caller>,
    body: Bytes,
) -> Reply<BTreeMap<String, bool>> {
    let ids = id_list(&body, r#"a JSON array of order ids, ["<id>",…]"#)?;
    let exchange = shared.exchange();
    Ok(Json(
        ids.into_iter()
            .map(|id| {
                let scoring = exchange.is_scoring(account, &id);
                (id, scoring)
            })
            .collect(),
    ))
}

/// `POST /v1/heartbeats` and `POST /heartbeats`: arms (or re-arms) the key's dead-man's switch.
/// No id (none, `""` or `null`) starts a new chain; otherwise the id must be the one the last
/// reply returned, as on the exchange: any other (an old one, or one from before the switch
/// fired) is `400 Invalid Heartbeat ID` and changes nothing.
pub async fn heartbeat(
    State(shared): State<Arc<Shared>>,
    Extension(Caller(account)): Extension<Caller>,
    body: Bytes,
) -> Reply<HeartbeatResponse> {
    let mut given = None;
    if !body.iter().all(u8::is_ascii_whitespace) {
        let value = json_body(&body, r#"{"heartbeat_id":"<id from the last reply>"}"#)?;
        match value.get("heartbeat_id") {
            None | Some(Value::Null) => {}
            Some(Value::String(id)) => {
                given = Some(id.trim().to_owned()).filter(|id| !id.is_empty());
            }
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "invalid heartbeat_id {other}: expected the id of the last reply as a string"
                )));
            }
        }
    }
    let mut exchange = shared.exchange();
    if let Some(given) = given {
        let current = exchange.accounts[account]
            .heartbeat
            .as_ref()
            .map(|h| h.id.as_str());
        if current != Some(given.as_str()) {
            return Err(ApiError::bad_request(messages::INVALID_HEARTBEAT_ID));
        }
    }
    let id = uuid::Uuid::new_v4().to_string();
    exchange.accounts[account].heartbeat = Some(Heartbeat {
        id: id.clone(),
        deadline: Instant::now() + shared.heartbeat_timeout,
    });
    Ok(Json(HeartbeatResponse {
        heartbeat_id: id,
        error: None,
    }))
}

/// `GET /v1/user/rate-limit-tier`: the tier of the caller's signer, also without
/// `--rate-limit`.
pub async fn rate_limit_tier(
    State(shared): State<Arc<Shared>>,
    Extension(Caller(account)): Extension<Caller>,
) -> Json<RateLimitTierResponse> {
    Json(RateLimitTierResponse::of(
        lock(&shared.limiter).tier_of(account),
    ))
}
