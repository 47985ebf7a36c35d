//! The CLOB's JSON shapes, shared by the client (which reads them) and the simulator (which
//! writes them). Field names are the exchange's own. Amounts stay decimal strings and token ids
//! stay strings (they are up to 78 digits). Deserialisation tolerates every variant listed in
//! PROTOCOL.md: `null` arrays, `notCanceled`, numbers sent as strings and the reverse.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Deserializer, Serialize};

/// The cursor of the first page (base64 of "0"); sending no cursor means the same.
pub const INITIAL_CURSOR: &str = "MA==";
/// The cursor returned with the last page (base64 of "-1").
pub const END_CURSOR: &str = "LTE=";
/// The most ids one `DELETE /orders` request may carry.
pub const MAX_CANCEL_IDS: usize = 3000;
/// The production page size for `/data/orders`.
pub const DEFAULT_PAGE_SIZE: usize = 500;

/// Which side of the book an order rests on (and, for `GET /price`, which best price).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// `BUY`.
    Buy,
    /// `SELL`.
    Sell,
}

impl Side {
    /// The wire spelling: `BUY` / `SELL`.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "BUY",
            Side::Sell => "SELL",
        }
    }

    /// The other side.
    #[must_use]
    pub fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }

    /// Parses `BUY`/`SELL` in any case.
    pub fn parse(text: &str) -> Option<Side> {
        match text.trim().to_ascii_uppercase().as_str() {
            "BUY" => Some(Side::Buy),
            "SELL" => Some(Side::Sell),
            _ => None,
        }
    }
}

/// Encodes a row offset as a page cursor.
pub fn encode_cursor(offset: i64) -> String {
    STANDARD.encode(offset.to_string())
}

/// Decodes a page cursor to a row offset; `None` for anything that is not base64 of an integer.
pub fn decode_cursor(cursor: &str) -> Option<i64> {
    let bytes = STANDARD.decode(cursor.trim()).ok()?;
    std::str::from_utf8(&bytes).ok()?.trim().parse().ok()
}

/// One order as `/data/orders` and `/data/order/{id}` return it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpenOrder {
    pub id: String,
    #[serde(default, deserialize_with = "de_string")]
    pub status: String,
    #[serde(default, deserialize_with = "de_string")]
    pub owner: String,
    #[serde(default, deserialize_with = "de_string")]
    pub maker_address: String,
    #[serde(default, deserialize_with = "de_string")]
    pub market: String,
    #[serde(default, deserialize_with = "de_string")]
    pub asset_id: String,
    #[serde(default, deserialize_with = "de_string")]
    pub side: String,
    #[serde(default, deserialize_with = "de_string")]
    pub original_size: String,
    #[serde(default, deserialize_with = "de_string")]
    pub size_matched: String,
    #[serde(default, deserialize_with = "de_string")]
    pub price: String,
    #[serde(default, deserialize_with = "de_string")]
    pub outcome: String,
    #[serde(default, deserialize_with = "de_string")]
    pub order_type: String,
    #[serde(default, deserialize_with = "de_string")]
    pub expiration: String,
    #[serde(default, deserialize_with = "de_i64")]
    pub created_at: i64,
    #[serde(default, deserialize_with = "de_vec")]
    pub associate_trades: Vec<String>,
}

/// A maker order inside a trade.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MakerOrder {
    #[serde(default, deserialize_with = "de_string")]
    pub order_id: String,
    #[serde(default, deserialize_with = "de_string")]
    pub owner: String,
    #[serde(default, deserialize_with = "de_string")]
    pub maker_address: String,
    #[serde(default, deserialize_with = "de_string")]
    pub matched_amount: String,
    #[serde(default, deserialize_with = "de_string")]
    pub price: String,
    #[serde(default, deserialize_with = "de_string")]
    pub fee_rate_bps: String,
    #[serde(default, deserialize_with = "de_string")]
    pub asset_id: String,
    #[serde(default, deserialize_with = "de_string")]
    pub outcome: String,
    #[serde(default, deserialize_with = "de_string")]
    pub side: String,
}

/// One trade as `/data/trades` returns it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trade {
    pub id: String,
    #[serde(default, deserialize_with = "de_string")]
    pub taker_order_id: String,
    #[serde(default, deserialize_with = "de_string")]
    pub market: String,
    #[serde(default, deserialize_with = "de_string")]
    pub asset_id: String,
    #[serde(default, deserialize_with = "de_string")]
    pub side: String,
    #[serde(default, deserialize_with = "de_string")]
    pub size: String,
    #[serde(default, deserialize_with = "de_string")]
    pub fee_rate_bps: String,
    #[serde(default, deserialize_with = "de_string")]
    pub price: String,
    #[serde(default, deserialize_with = "de_string")]
    pub status: String,
    #[serde(default, deserialize_with = "de_string")]
    pub match_time: String,
    #[serde(default, deserialize_with = "de_string")]
    pub last_update: String,
    #[serde(default, deserialize_with = "de_string")]
    pub outcome: String,
    #[serde(default, deserialize_with = "de_string")]
    pub owner: String,
    #[serde(default, deserialize_with = "de_string")]
    pub maker_address: String,
    #[serde(default, deserialize_with = "de_string")]
    pub transaction_hash: String,
    #[serde(default, deserialize_with = "de_i64")]
    pub bucket_index: i64,
    #[serde(default, deserialize_with = "de_string")]
    pub trader_side: String,
    #[serde(default, deserialize_with = "de_vec")]
    pub maker_orders: Vec<MakerOrder>,
}

/// One page of a paginated listing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
pub struct Page<T> {
    #[serde(deserialize_with = "de_vec")]
    pub data: Vec<T>,
    #[serde(default, deserialize_with = "de_string")]
    pub next_cursor: String,
    #[serde(default, deserialize_with = "de_i64")]
    pub limit: i64,
    #[serde(default, deserialize_with = "de_i64")]
    pub count: i64,
}

/// Only the cursor of a page and how many rows it holds: read before the rows, which serde
/// skips (counting them) without building them.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct PageCursor {
    #[serde(default, deserialize_with = "de_string")]
    pub next_cursor: String,
    /// The length of `data` (`null` or absent is 0).
    #[serde(default, rename = "data", deserialize_with = "de_count")]
    pub rows: usize,
}

/// The length of an array without building its elements; `null` is 0.
fn de_count<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    struct Count;
    impl<'de> serde::de::Visitor<'de> for Count {
        type Value = usize;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an array or null")
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<usize, E> {
            Ok(0)
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<usize, E> {
            Ok(0)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<usize, D2::Error> {
            d.deserialize_any(Count)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<usize, A::Error> {
            let mut rows = 0;
            while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                rows += 1;
            }
            Ok(rows)
        }
    }
    d.deserialize_option(Count)
}

/// The answer to every cancel endpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelResponse {
    #[serde(default, deserialize_with = "de_vec")]
    pub canceled: Vec<String>,
    #[serde(default, alias = "notCanceled", deserialize_with = "de_map")]
    pub not_canceled: BTreeMap<String, String>,
}

/// Body of `DELETE /order`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelOrderRequest {
    #[serde(rename = "orderID")]
    pub order_id: String,
}

/// Body of `DELETE /cancel-market-orders`; either key may be absent, `null` or `""`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelMarketRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset_id: Option<String>,
}

/// Answer of `GET /order-scoring`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderScoring {
    pub scoring: bool,
}

/// Body of `POST /v1/heartbeats`: the id from the previous reply, `""` or `null` the first time.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatRequest {
    #[serde(default)]
    pub heartbeat_id: Option<String>,
}

/// Answer of `POST /v1/heartbeats`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatResponse {
    #[serde(default, deserialize_with = "de_string")]
    pub heartbeat_id: String,
    #[serde(default)]
    pub error: Option<String>,
}

/// One price level of a book.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BookLevel {
    #[serde(deserialize_with = "de_string")]
    pub price: String,
    #[serde(deserialize_with = "de_string")]
    pub size: String,
}

/// `GET /book`. Field order is the order the `hash` is computed over; do not reorder.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderBook {
    #[serde(default, deserialize_with = "de_string")]
    pub market: String,
    #[serde(default, deserialize_with = "de_string")]
    pub asset_id: String,
    #[serde(default, deserialize_with = "de_string")]
    pub timestamp: String,
    #[serde(default, deserialize_with = "de_string")]
    pub hash: String,
    #[serde(default, deserialize_with = "de_vec")]
    pub bids: Vec<BookLevel>,
    #[serde(default, deserialize_with = "de_vec")]
    pub asks: Vec<BookLevel>,
    #[serde(default, deserialize_with = "de_string")]
    pub min_order_size: String,
    #[serde(default, deserialize_with = "de_string")]
    pub tick_size: String,
    #[serde(default)]
    pub neg_risk: bool,
    #[serde(default, deserialize_with = "de_string")]
    pub last_trade_price: String,
}

impl OrderBook {
    /// The exchange's book hash: hex SHA-1 of the compact JSON of the book with `hash` = "".
    pub fn compute_hash(&self) -> String {
        use sha1::Digest as _;
        let mut unhashed = self.clone();
        unhashed.hash = String::new();
        let json = serde_json::to_vec(&unhashed).unwrap_or_default();
        hex::encode(sha1::Sha1::digest(&json))
    }
}

/// `GET /midpoint`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MidpointResponse {
    #[serde(deserialize_with = "de_string")]
    pub mid: String,
}

/// `GET /price`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PriceResponse {
    #[serde(deserialize_with = "de_string")]
    pub price: String,
}

/// `GET /spread`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpreadResponse {
    #[serde(deserialize_with = "de_string")]
    pub spread: String,
}

/// `GET /tick-size`: a number on the wire, a string tolerated.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TickSizeResponse {
    #[serde(deserialize_with = "de_f64")]
    pub minimum_tick_size: f64,
}

/// The exchange's error body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
}

/// Known error texts.
pub mod messages {
    pub const UNAUTHORIZED: &str = "Unauthorized/Invalid api key";
    /// A heartbeat carrying an id the exchange does not hold (400): start a new chain.
    pub const INVALID_HEARTBEAT_ID: &str = "Invalid Heartbeat ID";
    pub const INVALID_TOKEN: &str = "Invalid token id";
    pub const NO_ORDERBOOK: &str = "No orderbook exists for the requested token id";
    pub const TOO_MANY_REQUESTS: &str = "Too Many Requests";
    pub const ALREADY_CANCELED: &str = "the order is already canceled";
    pub const NOT_FOUND: &str = "order not found";
    pub const CANCEL_ONLY: &str =
        "Trading is currently cancel-only. New orders are not accepted, but cancels are allowed.";
}

fn de_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s,
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::Bool(b) => b.to_string(),
        other => other.to_string(),
    })
}

fn de_i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    use serde::de::Error;
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::Null => Ok(0),
        serde_json::Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .ok_or_else(|| D::Error::custom(format!("expected an integer, got {n}"))),
        serde_json::Value::String(s) if s.trim().is_empty() => Ok(0),
        serde_json::Value::String(s) => s
            .trim()
            .parse::<i64>()
            .or_else(|_| s.trim().parse::<f64>().map(|f| f as i64))
            .map_err(|_| D::Error::custom(format!("expected an integer, got {s:?}"))),
        other => Err(D::Error::custom(format!(
            "expected an integer, got {other}"
        ))),
    }
}

fn de_f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    use serde::de::Error;
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::Number(n) => n
            .as_f64()
            .ok_or_else(|| D::Error::custom(format!("expected a number, got {n}"))),
        serde_json::Value::String(s) => s
            .trim()
            .parse::<f64>()
            .map_err(|_| D::Error::custom(format!("expected a number, got {s:?}"))),
        other => Err(D::Error::custom(format!("expected a number, got {other}"))),
    }
}

fn de_vec<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

fn de_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    let raw = Option::<BTreeMap<String, serde_json::Value>>::deserialize(d)?.unwrap_or_default();
    Ok(raw
        .into_iter()
        .map(|(k, v)| {
            let reason = match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            (k, reason)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_match_the_documented_constants() {
        assert_eq!(encode_cursor(0), INITIAL_CURSOR);
        assert_eq!(encode_cursor(-1), END_CURSOR);
        assert_eq!(decode_cursor("NTAw"), Some(500));
        assert_eq!(decode_cursor("!!"), None);
        assert_eq!(decode_cursor("YWJj"), None);
    }

    #[test]
    fn cancel_response_accepts_camel_case_and_nulls() {
        let r: CancelResponse = serde_json::from_str(
            r#"{"canceled":null,"notCanceled":{"0x1":"the order is already canceled"}}"#,
        )
        .expect("parses");
        assert!(r.canceled.is_empty());
        assert_eq!(r.not_canceled["0x1"], messages::ALREADY_CANCELED);
        let r: CancelResponse =
            serde_json::from_str(r#"{"canceled":["a"],"not_canceled":null}"#).expect("parses");
        assert_eq!(r.canceled, vec!["a"]);
    }

    #[test]
    fn tick_size_accepts_number_or_string() {
        let a: TickSizeResponse =
            serde_json::from_str(r#"{"minimum_tick_size":0.01}"#).expect("number");
        let b: TickSizeResponse =
            serde_json::from_str(r#"{"minimum_tick_size":"0.001"}"#).expect("string");
        assert_eq!((a.minimum_tick_size, b.minimum_tick_size), (0.01, 0.001));
    }

    #[test]
    fn order_tolerates_null_trades_and_string_created_at() {
        let o: OpenOrder = serde_json::from_str(
            r#"{"id":"0x1","status":"LIVE","asset_id":"123456789012345678901234567890123456789012345678901234567890123456789012345678","created_at":"1700000000","associate_trades":null,"expiration":0}"#,
        )
        .expect("parses");
        assert_eq!(o.created_at, 1_700_000_000);
        assert!(o.associate_trades.is_empty());
        assert_eq!(o.expiration, "0");
        assert_eq!(o.asset_id.len(), 78);
    }
}
