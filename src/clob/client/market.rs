//! The public market-data endpoints (no credentials needed), one token at a time and in
//! batches (`POST /books`, `/midpoints`, `/prices`, `/spreads`: one request for many tokens).

use std::collections::BTreeMap;

use reqwest::Method;
use serde::de::DeserializeOwned;

use super::transport::{Attempts, Call, required};
use super::{Client, ClobError};
use crate::clob::types::{
    MidpointResponse, OrderBook, PriceResponse, Side, SpreadResponse, TickSizeResponse,
};

impl Client {
    /// `GET /ok`: succeeds when the exchange answers at all.
    pub async fn ok(&self) -> Result<(), ClobError> {
        let call = Call::new(Method::GET, "/ok");
        self.execute(&call, &mut Attempts::default()).await?;
        Ok(())
    }

    /// `GET /book`: the order book of one token, levels in the exchange's order.
    pub async fn book(&self, token_id: &str) -> Result<OrderBook, ClobError> {
        let token_id = required(token_id, "GET /book", "a token id")?;
        let call = Call::new(Method::GET, "/book").query("token_id", token_id);
        self.fetch(&call).await
    }

    /// Midpoint as the exchange's decimal string.
    pub async fn midpoint(&self, token_id: &str) -> Result<String, ClobError> {
        let token_id = required(token_id, "GET /midpoint", "a token id")?;
        let call = Call::new(Method::GET, "/midpoint").query("token_id", token_id);
        Ok(self.fetch::<MidpointResponse>(&call).await?.mid)
    }

    /// `GET /price`: best price on one side, as the exchange's decimal string.
    pub async fn price(&self, token_id: &str, side: Side) -> Result<String, ClobError> {
        let token_id = required(token_id, "GET /price", "a token id")?;
        let call = Call::new(Method::GET, "/price")
            .query("token_id", token_id)
            .query("side", side.as_str());
        Ok(self.fetch::<PriceResponse>(&call).await?.price)
    }

    /// `GET /spread`: as the exchange's decimal string.
    pub async fn spread(&self, token_id: &str) -> Result<String, ClobError> {
        let token_id = required(token_id, "GET /spread", "a token id")?;
        let call = Call::new(Method::GET, "/spread").query("token_id", token_id);
        Ok(self.fetch::<SpreadResponse>(&call).await?.spread)
    }

    /// `GET /tick-size`: the minimum price increment of one token.
    pub async fn tick_size(&self, token_id: &str) -> Result<f64, ClobError> {
        let token_id = required(token_id, "GET /tick-size", "a token id")?;
        let call = Call::new(Method::GET, "/tick-size").query("token_id", token_id);
        Ok(self
            .fetch::<TickSizeResponse>(&call)
            .await?
            .minimum_tick_size)
    }

    /// `POST /books`: the books of many tokens, in the order asked. A token the exchange has
    /// no book for is left out.
    pub async fn books(&self, token_ids: &[&str]) -> Result<Vec<OrderBook>, ClobError> {
        let mut books = Vec::with_capacity(token_ids.len());
        for chunk in batches("POST /books", token_ids)? {
            let body = batch_body(chunk, None);
            books.extend(self.batch::<Vec<OrderBook>>("/books", body).await?);
        }
        Ok(books)
    }

    /// `POST /midpoints`: midpoints by token id, as the exchange's decimal strings. A token
    /// without a book is left out.
    pub async fn midpoints(
        &self,
        token_ids: &[&str],
    ) -> Result<BTreeMap<String, String>, ClobError> {
        self.batch_decimals("/midpoints", token_ids).await
    }

    /// `POST /spreads`: spreads by token id, as the exchange's decimal strings. A token
    /// without a book is left out.
    pub async fn spreads(&self, token_ids: &[&str]) -> Result<BTreeMap<String, String>, ClobError> {
        self.batch_decimals("/spreads", token_ids).await
    }

    /// `POST /prices`: the best price on one side for many tokens, by token id. A token
    /// without a book, or without orders on that side, is left out.
    pub async fn prices(
        &self,
        token_ids: &[&str],
        side: Side,
    ) -> Result<BTreeMap<String, String>, ClobError> {
        let mut prices = BTreeMap::new();
        for chunk in batches("POST /prices", token_ids)? {
            let body = batch_body(chunk, Some(side));
            let answer = self
                .batch::<BTreeMap<String, BTreeMap<String, serde_json::Value>>>("/prices", body)
                .await?;
            for (token, sides) in answer {
                let price = sides
                    .into_iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case(side.as_str()))
                    .map(|(_, value)| decimal_text(value));
                if let Some(price) = price {
                    prices.insert(token, price);
                }
            }
        }
        Ok(prices)
    }

    /// A batch endpoint answering `{"<token id>": "<decimal>"}`.
    async fn batch_decimals(
        &self,
        path: &'static str,
        token_ids: &[&str],
    ) -> Result<BTreeMap<String, String>, ClobError> {
        let mut values = BTreeMap::new();
        for chunk in batches(&format!("POST {path}"), token_ids)? {
            let body = batch_body(chunk, None);
            let answer = self
                .batch::<BTreeMap<String, serde_json::Value>>(path, body)
                .await?;
            values.extend(answer.into_iter().map(|(k, v)| (k, decimal_text(v))));
        }
        Ok(values)
    }

    async fn batch<T: DeserializeOwned>(
        &self,
        path: &'static str,
        body: String,
    ) -> Result<T, ClobError> {
        let call = Call::new(Method::POST, path).json(body);
        self.fetch(&call).await
    }
}

/// Most token ids one batch request carries; longer lists are sent in several (the exchange
/// documents no limit, so this stays well inside what a request body should hold).
const MAX_BATCH_TOKENS: usize = 500;

/// The token ids in request-sized chunks, each id checked as the single endpoints check it.
fn batches<'a>(
    endpoint: &str,
    token_ids: &'a [&'a str],
) -> Result<std::slice::Chunks<'a, &'a str>, ClobError> {
    for id in token_ids {
        required(id, endpoint, "a token id")?;
    }
    Ok(token_ids.chunks(MAX_BATCH_TOKENS))
}

/// `[{"token_id": "…"}]`, with `"side"` for `/prices`.
fn batch_body(token_ids: &[&str], side: Option<Side>) -> String {
    let items: Vec<serde_json::Value> = token_ids
        .iter()
        .map(|id| match side {
            Some(side) => serde_json::json!({"token_id": id.trim(), "side": side.as_str()}),
            None => serde_json::json!({"token_id": id.trim()}),
        })
        .collect();
    serde_json::Value::Array(items).to_string()
}

/// A decimal the exchange sent as a string or a number, as text.
fn decimal_text(value: serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text,
        other => other.to_string(),
    }
}
