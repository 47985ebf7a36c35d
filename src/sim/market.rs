//! The rest of the public read API the official clients call: version, market parameters,
//! last trade prices, one market, and the batch forms of the book and price endpoints.
//!
//! Batch bodies are `[{"token_id": "…"}]` (`/prices` adds `"side"`). A malformed token id
//! fails the whole request with 400 `Invalid token id`, as the single endpoints do; a
//! well-formed id without a book is left out of the answer.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::amount::Amount;
use super::routes::midpoint_of;
use super::server::{ApiError, Shared};
use super::state::{BookError, Exchange, Side, Token};
use crate::clob::types::{OrderBook, messages};

type Reply<T> = Result<Json<T>, ApiError>;

/// The order version the exchange signs against (`GET /version`).
const ORDER_VERSION: u32 = 2;
/// Generated markets charge no fees.
const BASE_FEE_BPS: u32 = 0;

fn token_error(error: BookError) -> ApiError {
    match error {
        BookError::InvalidToken => ApiError::bad_request(messages::INVALID_TOKEN),
        BookError::NoBook => ApiError::new(StatusCode::NOT_FOUND, messages::NO_ORDERBOOK),
    }
}

/// The `token_id` of a query string (empty counts as absent).
fn query_token(
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Option<String>, ApiError> {
    let Query(pairs) =
        query.map_err(|e| ApiError::bad_request(format!("malformed query string: {e}")))?;
    Ok(pairs
        .into_iter()
        .find(|(key, value)| key == "token_id" && !value.trim().is_empty())
        .map(|(_, value)| value.trim().to_owned()))
}

fn with_token<T>(
    shared: &Shared,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    read: impl FnOnce(&Exchange, &Token) -> T,
) -> Reply<T> {
    let token_id = query_token(query)?;
    let exchange = shared.exchange();
    let token = exchange.token(token_id.as_deref()).map_err(token_error)?;
    Ok(Json(read(&exchange, token)))
}

/// One entry of a batch body.
struct BookParam {
    token_id: String,
    side: Option<String>,
}

/// Parses `[{"token_id": "…", "side": "BUY"}]`; a token id may also arrive as a JSON number.
fn book_params(body: &Bytes) -> Result<Vec<BookParam>, ApiError> {
    const EXPECTED: &str = r#"a JSON array of {"token_id": "<token id>"}"#;
    let invalid = |why: String| ApiError::bad_request(format!("{why}; expected {EXPECTED}"));
    let value: Value =
        serde_json::from_slice(body).map_err(|e| invalid(format!("invalid JSON body ({e})")))?;
    let Value::Array(items) = value else {
        return Err(invalid("the body is not an array".to_owned()));
    };
    items
        .into_iter()
        .map(|item| {
            let text = |value: Option<&Value>| match value {
                Some(Value::String(s)) => Some(s.trim().to_owned()),
                Some(Value::Number(n)) => Some(n.to_string()),
                _ => None,
            };
            let token_id = text(item.get("token_id"))
                .ok_or_else(|| invalid(format!("entry {item} has no token_id")))?;
            Ok(BookParam {
                token_id,
                side: text(item.get("side")).filter(|s| !s.is_empty()),
            })
        })
        .collect()
}

/// The tokens of a batch, in the order asked; unknown ones are left out.
fn batch_tokens<'a>(
    exchange: &'a Exchange,
    params: &'a [BookParam],
) -> Result<Vec<(&'a BookParam, &'a Token)>, ApiError> {
    let mut found = Vec::with_capacity(params.len());
    for param in params {
        match exchange.token(Some(&param.token_id)) {
            Ok(token) => found.push((param, token)),
            Err(BookError::NoBook) => {}
            Err(error) => return Err(token_error(error)),
        }
    }
    Ok(found)
}

fn best_price(token: &Token, side: Side) -> Option<Amount> {
    match side {
        Side::Buy => token.best_bid(),
        Side::Sell => token.best_ask(),
    }
}

fn spread_of(token: &Token) -> Amount {
    match (token.best_bid(), token.best_ask()) {
        (Some(bid), Some(ask)) => ask.saturating_sub(bid),
        _ => Amount::ZERO,
    }
}

#[derive(Debug, Serialize)]
pub struct VersionResponse {
    pub version: u32,
}

/// `GET /version`.
pub async fn version() -> Json<VersionResponse> {
    Json(VersionResponse {
        version: ORDER_VERSION,
    })
}

#[derive(Debug, Serialize)]
pub struct NegRiskResponse {
    pub neg_risk: bool,
}

/// `GET /neg-risk?token_id=`.
pub async fn neg_risk(
    State(shared): State<Arc<Shared>>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Reply<NegRiskResponse> {
    with_token(&shared, query, |_, token| NegRiskResponse {
        neg_risk: token.neg_risk,
    })
}

#[derive(Debug, Serialize)]
pub struct FeeRateResponse {
    pub base_fee: u32,
}

/// `GET /fee-rate?token_id=`: the market's base fee in basis points.
pub async fn fee_rate(
    State(shared): State<Arc<Shared>>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Reply<FeeRateResponse> {
    with_token(&shared, query, |_, _| FeeRateResponse {
        base_fee: BASE_FEE_BPS,
    })
}

#[derive(Debug, Serialize)]
pub struct LastTradePriceResponse {
    pub price: String,
    pub side: &'static str,
}

#[derive(Debug, Serialize)]
pub struct LastTradesPricesEntry {
    pub token_id: String,
    pub price: String,
    pub side: &'static str,
}

/// The side of a token's latest trade; `BUY` when it has none (clients expect a side).
fn last_side(exchange: &Exchange, token: &Token) -> &'static str {
    exchange
        .last_trade_side(&token.token_id)
        .unwrap_or(Side::Buy)
        .as_str()
}

/// `GET /last-trade-price?token_id=`.
pub async fn last_trade_price(
    State(shared): State<Arc<Shared>>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Reply<LastTradePriceResponse> {
    with_token(&shared, query, |exchange, token| LastTradePriceResponse {
        price: token.last_trade_price.to_string(),
        side: last_side(exchange, token),
    })
}

/// `POST /last-trades-prices`.
pub async fn last_trades_prices(
    State(shared): State<Arc<Shared>>,
    body: Bytes,
) -> Reply<Vec<LastTradesPricesEntry>> {
    let params = book_params(&body)?;
    let exchange = shared.exchange();
    let entries = batch_tokens(&exchange, &params)?
        .into_iter()
        .map(|(_, token)| LastTradesPricesEntry {
            token_id: token.token_id.clone(),
            price: token.last_trade_price.to_string(),
            side: last_side(&exchange, token),
        })
        .collect();
    Ok(Json(entries))
}

/// `POST /books`: the books asked for, in the order asked.
pub async fn books(State(shared): State<Arc<Shared>>, body: Bytes) -> Reply<Vec<OrderBook>> {
    let params = book_params(&body)?;
    let exchange = shared.exchange();
    let books = batch_tokens(&exchange, &params)?
        .into_iter()
        .map(|(_, token)| token.order_book())
        .collect();
    Ok(Json(books))
}

/// `POST /midpoints`: `{"<token id>": "<mid>"}`.
pub async fn midpoints(
    State(shared): State<Arc<Shared>>,
    body: Bytes,
) -> Reply<BTreeMap<String, String>> {
    let params = book_params(&body)?;
    let exchange = shared.exchange();
    let mids = batch_tokens(&exchange, &params)?
        .into_iter()
        .map(|(_, token)| (token.token_id.clone(), midpoint_of(token).to_string()))
        .collect();
    Ok(Json(mids))
}

/// `POST /prices`: `{"<token id>": {"BUY": "<price>"}}`; an empty side of a book is left out.
pub async fn prices(
    State(shared): State<Arc<Shared>>,
    body: Bytes,
) -> Reply<BTreeMap<String, BTreeMap<&'static str, String>>> {
    let params = book_params(&body)?;
    let exchange = shared.exchange();
    let mut prices: BTreeMap<String, BTreeMap<&'static str, String>> = BTreeMap::new();
    for (param, token) in batch_tokens(&exchange, &params)? {
        let side = param.side.as_deref().and_then(Side::parse).ok_or_else(|| {
            ApiError::bad_request(format!(
                "Invalid side for token {}: pass \"side\": \"BUY\" or \"SELL\"",
                param.token_id
            ))
        })?;
        if let Some(price) = best_price(token, side) {
            prices
                .entry(token.token_id.clone())
                .or_default()
                .insert(side.as_str(), price.to_string());
        }
    }
    Ok(Json(prices))
}

/// `POST /spreads`: `{"<token id>": "<spread>"}`.
pub async fn spreads(
    State(shared): State<Arc<Shared>>,
    body: Bytes,
) -> Reply<BTreeMap<String, String>> {
    let params = book_params(&body)?;
    let exchange = shared.exchange();
    let spreads = batch_tokens(&exchange, &params)?
        .into_iter()
        .map(|(_, token)| (token.token_id.clone(), spread_of(token).to_string()))
        .collect();
    Ok(Json(spreads))
}

#[derive(Debug, Serialize, Deserialize)]
pub struct MarketToken {
    pub token_id: String,
    pub outcome: String,
    pub price: f64,
    pub winner: bool,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Rewards {
    pub rates: Option<Vec<Value>>,
    pub min_size: f64,
    pub max_spread: f64,
}

/// `GET /markets/{condition_id}`, with the fields the official clients' types require.
#[derive(Debug, Serialize, Deserialize)]
#[allow(clippy::struct_excessive_bools)]
pub struct MarketResponse {
    pub enable_order_book: bool,
    pub active: bool,
    pub closed: bool,
    pub archived: bool,
    pub accepting_orders: bool,
    pub accepting_order_timestamp: Option<String>,
    pub minimum_order_size: f64,
    pub minimum_tick_size: f64,
    pub condition_id: String,
    pub question_id: String,
    pub question: String,
    pub description: String,
    pub market_slug: String,
    pub end_date_iso: Option<String>,
    pub game_start_time: Option<String>,
    pub seconds_delay: u64,
    pub fpmm: String,
    pub maker_base_fee: u32,
    pub taker_base_fee: u32,
    pub notifications_enabled: bool,
    pub neg_risk: bool,
    pub neg_risk_market_id: String,
    pub neg_risk_request_id: String,
    pub icon: String,
    pub image: String,
    pub rewards: Rewards,
    pub is_50_50_outcome: bool,
    pub tokens: Vec<MarketToken>,
    pub tags: Vec<String>,
}

/// `GET /markets/{condition_id}`: 404 `market not found` for an unknown id.
pub async fn market(
    State(shared): State<Arc<Shared>>,
    Path(condition_id): Path<String>,
) -> Reply<MarketResponse> {
    let exchange = shared.exchange();
    let wanted = condition_id.trim();
    let tokens: Vec<&Token> = exchange
        .tokens()
        .iter()
        .filter(|token| token.market.eq_ignore_ascii_case(wanted))
        .collect();
    let Some(first) = tokens.first() else {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "market not found"));
    };
    let mut markets: Vec<&str> = Vec::new();
    for token in exchange.tokens() {
        if !markets.contains(&token.market.as_str()) {
            markets.push(&token.market);
        }
    }
    let number = markets.iter().position(|m| *m == first.market).unwrap_or(0) + 1;
    Ok(Json(MarketResponse {
        enable_order_book: true,
        active: true,
        closed: false,
        archived: false,
        accepting_orders: true,
        accepting_order_timestamp: None,
        minimum_order_size: first.min_order_size.to_f64(),
        minimum_tick_size: first.tick_size.to_f64(),
        condition_id: first.market.clone(),
        question_id: first.market.clone(),
        question: format!("Simulated market {number}"),
        description: "A market of the clobscript simulator.".to_owned(),
        market_slug: format!("simulated-market-{number}"),
        end_date_iso: None,
        game_start_time: None,
        seconds_delay: 0,
        fpmm: String::new(),
        maker_base_fee: BASE_FEE_BPS,
        taker_base_fee: BASE_FEE_BPS,
        notifications_enabled: true,
        neg_risk: first.neg_risk,
        neg_risk_market_id: String::new(),
        neg_risk_request_id: String::new(),
        icon: String::new(),
        image: String::new(),
        rewards: Rewards {
            rates: None,
            min_size: 0.0,
            max_spread: 0.0,
        },
        is_50_50_outcome: false,
        tokens: tokens
            .iter()
            .map(|token| MarketToken {
                token_id: token.token_id.clone(),
                outcome: token.outcome.clone(),
                price: midpoint_of(token).to_f64(),
                winner: false,
            })
            .collect(),
        tags: Vec::new(),
    }))
}
