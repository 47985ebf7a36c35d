//! Wire types → Rhai values, and back to JSON.
//!
//! Listings give read-only records ([`OrderValue`], [`TradeValue`]); books, cancel answers and
//! `open_orders(#{ fields })` give maps. Both keep the exchange's own field names. Decimal strings become FLOAT, Unix-second strings
//! INT, ids and token ids stay strings. A field the exchange sent in an unexpected shape is kept
//! as the string it was rather than silently turned into zero.
//!
//! Large listings repeat the same few market ids, token ids, owners and statuses thousands of
//! times; [`Interner`] shares one string per distinct value so converting 100,000 orders costs
//! little more than the maps themselves.

use std::collections::{BTreeMap, HashSet};

use rhai::{Array, Dynamic, ImmutableString, Map};

use super::values::OrderValue;
#[cfg(test)]
use super::values::TradeValue;
use crate::clob::{
    BookLevel, CancelResponse, IndexedCancel, MakerOrder, OpenOrder, OrderBook, Trade,
};
use crate::util::QuickBuild;

/// Shares one [`ImmutableString`] per distinct value within one conversion.
#[derive(Default)]
pub(crate) struct Interner {
    seen: HashSet<ImmutableString, QuickBuild>,
}

impl Interner {
    pub(crate) fn get(&mut self, text: &str) -> Dynamic {
        if let Some(shared) = self.seen.get(text) {
            return shared.clone().into();
        }
        let shared = ImmutableString::from(text);
        self.seen.insert(shared.clone());
        shared.into()
    }
}

/// A decimal string as FLOAT; blank is 0.0; anything else unparsable stays a string.
pub(crate) fn decimal(text: &str) -> Dynamic {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Dynamic::from_float(0.0);
    }
    match trimmed.parse::<rhai::FLOAT>() {
        Ok(value) => Dynamic::from_float(value),
        Err(_) => text.into(),
    }
}

/// Unix seconds sent as a string, as INT; blank is 0; anything else unparsable stays a string.
pub(crate) fn unix_seconds(text: &str) -> Dynamic {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Dynamic::from_int(0);
    }
    match trimmed.parse::<rhai::INT>() {
        Ok(value) => Dynamic::from_int(value),
        Err(_) => match trimmed.parse::<f64>() {
            Ok(value) if value.is_finite() => Dynamic::from_int(value as rhai::INT),
            _ => text.into(),
        },
    }
}

fn strings(items: Vec<String>) -> Dynamic {
    Dynamic::from_array(items.into_iter().map(Dynamic::from).collect())
}

/// The fields of an order map, in the exchange's order.
pub const ORDER_FIELDS: [&str; 15] = [
    "id",
    "status",
    "owner",
    "maker_address",
    "market",
    "asset_id",
    "side",
    "original_size",
    "size_matched",
    "price",
    "outcome",
    "order_type",
    "expiration",
    "created_at",
    "associate_trades",
];

/// Which fields order maps carry: all by default, or the ones a script asked for with
/// `open_orders(#{ fields: [...] })`. A Rhai map of more than 11 entries takes three B-tree
/// nodes (about 1.5 KB) where a smaller one takes one (under 0.5 KB), which is what makes a
/// selection worth having for listings of 100,000 orders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct OrderFields(u16);

impl OrderFields {
    pub(crate) const ALL: OrderFields = OrderFields((1 << ORDER_FIELDS.len()) - 1);

    /// The named fields plus `id` (needed to cancel); an unknown name is an error naming it.
    pub(crate) fn select<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let mut mask = 1u16; // `id`
        for name in names {
            match ORDER_FIELDS.iter().position(|f| *f == name) {
                Some(index) => mask |= 1 << index,
                None => {
                    let hint = super::errors::suggest(name, ORDER_FIELDS.iter().copied())
                        .map(|s| format!("; did you mean `{s}`?"))
                        .unwrap_or_default();
                    return Err(format!(
                        "`{name}` is not an order field (fields: {}){hint}",
                        ORDER_FIELDS.join(", ")
                    ));
                }
            }
        }
        Ok(OrderFields(mask))
    }

    fn has(self, index: usize) -> bool {
        self.0 & (1 << index) != 0
    }
}

/// One order as a map with the exchange's field names (for values that carry more fields, such
/// as a watch's order events).
pub(crate) fn order(o: OpenOrder, strings_seen: &mut Interner) -> Map {
    order_with(o, strings_seen, OrderFields::ALL)
}

/// One order as a map holding the selected fields.
pub(crate) fn order_with(o: OpenOrder, seen: &mut Interner, fields: OrderFields) -> Map {
    ORDER_FIELDS
        .iter()
        .zip(order_values(o, seen))
        .enumerate()
        .filter(|(index, _)| fields.has(*index))
        .map(|(_, (name, value))| ((*name).into(), value))
        .collect()
}

/// An order's values (in [`ORDER_FIELDS`] order) as a map of the selected fields.
pub(crate) fn order_map_of(order: &OrderValue, fields: OrderFields) -> Map {
    ORDER_FIELDS
        .iter()
        .enumerate()
        .filter(|(index, _)| fields.has(*index))
        .map(|(index, name)| ((*name).into(), order.value(index)))
        .collect()
}

/// One order as the script value listings return: a read-only record of every field.
pub(crate) fn order_value(o: OpenOrder, seen: &mut Interner) -> Dynamic {
    Dynamic::from(OrderValue::new(order_values(o, seen)))
}

/// The values of an order's fields, in [`ORDER_FIELDS`] order.
fn order_values(o: OpenOrder, seen: &mut Interner) -> Vec<Dynamic> {
    vec![
        o.id.into(),
        seen.get(&o.status),
        seen.get(&o.owner),
        seen.get(&o.maker_address),
        seen.get(&o.market),
        seen.get(&o.asset_id),
        seen.get(&o.side),
        decimal(&o.original_size),
        decimal(&o.size_matched),
        decimal(&o.price),
        seen.get(&o.outcome),
        seen.get(&o.order_type),
        unix_seconds(&o.expiration),
        Dynamic::from_int(o.created_at),
        Dynamic::from_array(o.associate_trades.into_iter().map(Dynamic::from).collect()),
    ]
}

fn maker_order(m: MakerOrder, seen: &mut Interner) -> Dynamic {
    Dynamic::from_map(Map::from([
        ("order_id".into(), m.order_id.into()),
        ("owner".into(), seen.get(&m.owner)),
        ("maker_address".into(), seen.get(&m.maker_address)),
        ("matched_amount".into(), decimal(&m.matched_amount)),
        ("price".into(), decimal(&m.price)),
        ("fee_rate_bps".into(), decimal(&m.fee_rate_bps)),
        ("asset_id".into(), seen.get(&m.asset_id)),
        ("outcome".into(), seen.get(&m.outcome)),
        ("side".into(), seen.get(&m.side)),
    ]))
}

/// The fields of a trade map (what [`trade`] builds), for REPL completion after a `.`.
pub(crate) const TRADE_FIELDS: &[&str] = &[
    "id",
    "taker_order_id",
    "market",
    "asset_id",
    "side",
    "size",
    "fee_rate_bps",
    "price",
    "status",
    "match_time",
    "last_update",
    "outcome",
    "owner",
    "maker_address",
    "transaction_hash",
    "bucket_index",
    "trader_side",
    "maker_orders",
];

/// One trade as a map with the exchange's field names (for a watch's fills).
pub(crate) fn trade(t: Trade, seen: &mut Interner) -> Map {
    TRADE_FIELDS
        .iter()
        .zip(trade_values(t, seen))
        .map(|(name, value)| ((*name).into(), value))
        .collect()
}

/// One trade as the script value listings return: a read-only record of every field (the
/// listings build these straight from the page, see `rows`; this is their reference).
#[cfg(test)]
pub(crate) fn trade_value(t: Trade, seen: &mut Interner) -> Dynamic {
    Dynamic::from(TradeValue::new(trade_values(t, seen)))
}

/// The values of a trade's fields, in [`TRADE_FIELDS`] order.
fn trade_values(t: Trade, seen: &mut Interner) -> Vec<Dynamic> {
    let makers = t
        .maker_orders
        .into_iter()
        .map(|m| maker_order(m, seen))
        .collect::<Array>();
    vec![
        t.id.into(),
        t.taker_order_id.into(),
        seen.get(&t.market),
        seen.get(&t.asset_id),
        seen.get(&t.side),
        decimal(&t.size),
        decimal(&t.fee_rate_bps),
        decimal(&t.price),
        seen.get(&t.status),
        unix_seconds(&t.match_time),
        unix_seconds(&t.last_update),
        seen.get(&t.outcome),
        seen.get(&t.owner),
        seen.get(&t.maker_address),
        t.transaction_hash.into(),
        Dynamic::from_int(t.bucket_index),
        seen.get(&t.trader_side),
        Dynamic::from_array(makers),
    ]
}

fn levels(mut list: Vec<BookLevel>, best_is_highest: bool) -> Dynamic {
    // The exchange sends levels best-last; scripts get them best-first, sorted by price, so
    // `book.bids[0]` is the best bid whatever order they arrived in.
    let price = |level: &BookLevel| level.price.trim().parse::<f64>().unwrap_or(f64::NAN);
    list.sort_by(|a, b| {
        let order = price(a).total_cmp(&price(b));
        if best_is_highest {
            order.reverse()
        } else {
            order
        }
    });
    Dynamic::from_array(
        list.into_iter()
            .map(|level| {
                Dynamic::from_map(Map::from([
                    ("price".into(), decimal(&level.price)),
                    ("size".into(), decimal(&level.size)),
                ]))
            })
            .collect(),
    )
}

/// A book as a map; bids and asks are sorted best first.
pub(crate) fn book(b: OrderBook) -> Map {
    Map::from([
        ("market".into(), b.market.into()),
        ("asset_id".into(), b.asset_id.into()),
        ("timestamp".into(), unix_seconds(&b.timestamp)),
        ("hash".into(), b.hash.into()),
        ("bids".into(), levels(b.bids, true)),
        ("asks".into(), levels(b.asks, false)),
        ("min_order_size".into(), decimal(&b.min_order_size)),
        ("tick_size".into(), decimal(&b.tick_size)),
        ("neg_risk".into(), Dynamic::from_bool(b.neg_risk)),
        ("last_trade_price".into(), decimal(&b.last_trade_price)),
    ])
}

/// `#{canceled: [...], not_canceled: #{id: reason}}`.
pub(crate) fn cancel_response(response: CancelResponse) -> Map {
    let not_canceled = response
        .not_canceled
        .into_iter()
        .map(|(id, reason)| (id.into(), reason.into()))
        .collect::<Map>();
    Map::from([
        ("canceled".into(), strings(response.canceled)),
        ("not_canceled".into(), Dynamic::from_map(not_canceled)),
    ])
}

/// [`cancel_response`] for an answer to ids the script passed: canceled ids are the script's
/// own strings (a reference each), not a new copy.
pub(crate) fn cancel_response_sharing(answer: IndexedCancel, sent: &[ImmutableString]) -> Map {
    let shared = |at: usize| Dynamic::from(trimmed(&sent[at]));
    let mut canceled: Array =
        Vec::with_capacity(answer.canceled.len() + answer.canceled_other.len());
    canceled.extend(answer.canceled.iter().map(|&at| shared(at)));
    canceled.extend(answer.canceled_other.into_iter().map(Dynamic::from));
    let mut map = cancel_response(CancelResponse {
        canceled: Vec::new(),
        not_canceled: answer.not_canceled,
    });
    map.insert("canceled".into(), Dynamic::from_array(canceled));
    map
}

/// `id` trimmed of spaces: the same string when there are none.
pub(crate) fn trimmed(id: &ImmutableString) -> ImmutableString {
    let text = id.trim();
    if text.len() == id.len() {
        id.clone()
    } else {
        text.into()
    }
}

/// Scoring flags by order id.
pub(crate) fn scoring(flags: BTreeMap<String, bool>) -> Map {
    flags
        .into_iter()
        .map(|(id, scoring)| (id.into(), Dynamic::from_bool(scoring)))
        .collect()
}

/// A script value as JSON. Values JSON cannot hold (function pointers, custom types) become
/// their display text rather than failing the run at its very end.
pub(crate) fn to_json(value: &Dynamic) -> serde_json::Value {
    if let Some(record) = super::values::record_json(value) {
        return record;
    }
    if let Some(array) = value.read_lock::<Array>() {
        return serde_json::Value::Array(array.iter().map(to_json).collect());
    }
    if let Some(map) = value.read_lock::<Map>() {
        return serde_json::Value::Object(
            map.iter()
                .map(|(key, value)| (key.to_string(), to_json(value)))
                .collect(),
        );
    }
    serde_json::to_value(value).unwrap_or_else(|_| serde_json::Value::String(value.to_string()))
}

/// JSON text as a script value (objects → maps, arrays → arrays, integers → INT).
pub(crate) fn from_json(text: &str) -> Result<Dynamic, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("parse_json: not valid JSON: {e}"))?;
    rhai::serde::to_dynamic(value).map_err(|e| format!("parse_json: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_order() -> OpenOrder {
        serde_json::from_str(
            r#"{"id":"0xabc","status":"LIVE","owner":"key","maker_address":"0xm","market":"0xmarket",
                "asset_id":"123456789012345678901234567890123456789012345678901234567890123456789012345678",
                "side":"BUY","original_size":"100","size_matched":"12.5","price":"0.45","outcome":"Yes",
                "order_type":"GTD","expiration":"1700003600","created_at":1700000000,
                "associate_trades":["t1"]}"#,
        )
        .expect("order parses")
    }

    #[test]
    fn orders_become_maps_with_numbers_for_decimals_and_times() {
        let mut seen = Interner::default();
        let map = order(sample_order(), &mut seen);
        assert_eq!(map["price"].as_float(), Ok(0.45));
        assert_eq!(map["size_matched"].as_float(), Ok(12.5));
        assert_eq!(map["created_at"].as_int(), Ok(1_700_000_000));
        assert_eq!(map["expiration"].as_int(), Ok(1_700_003_600));
        assert_eq!(
            map["asset_id"].clone().into_string().map(|s| s.len()),
            Ok(78)
        );
        assert_eq!(map["id"].clone().into_string().as_deref(), Ok("0xabc"));
        assert_eq!(map.len(), 15);
    }

    #[test]
    fn unexpected_shapes_are_kept_as_text_not_zeroed() {
        assert!(decimal("n/a").is_string());
        assert_eq!(decimal("").as_float(), Ok(0.0));
        assert_eq!(unix_seconds("0").as_int(), Ok(0));
        assert_eq!(unix_seconds("1700000000.0").as_int(), Ok(1_700_000_000));
    }

    #[test]
    fn book_levels_are_sorted_best_first() {
        let level = |p: &str| BookLevel {
            price: p.into(),
            size: "10".into(),
        };
        let b = OrderBook {
            market: "m".into(),
            asset_id: "1".into(),
            timestamp: "1700000000".into(),
            hash: "h".into(),
            bids: vec![level("0.40"), level("0.48"), level("0.45")],
            asks: vec![level("0.60"), level("0.52"), level("0.55")],
            min_order_size: "5".into(),
            tick_size: "0.01".into(),
            neg_risk: false,
            last_trade_price: "0.5".into(),
        };
        let map = book(b);
        let first_price = |side: &str| {
            let levels = map[side].read_lock::<Array>().expect("array").clone();
            let level = levels[0].read_lock::<Map>().expect("map").clone();
            level["price"].as_float().expect("float")
        };
        assert_eq!(first_price("bids"), 0.48);
        assert_eq!(first_price("asks"), 0.52);
    }

    #[test]
    fn json_round_trips_plain_values() {
        let value = from_json(r#"{"a":[1,2.5,"x",true,null]}"#).expect("parses");
        assert_eq!(
            to_json(&value),
            serde_json::json!({"a":[1,2.5,"x",true,null]})
        );
        assert!(from_json("{").unwrap_err().contains("not valid JSON"));
    }

    #[test]
    fn the_field_lists_name_exactly_the_fields_of_order_and_trade_maps() {
        let keys = |map: Map| {
            let mut keys: Vec<String> = map.keys().map(|k| k.to_string()).collect();
            keys.sort();
            keys
        };
        let sorted = |fields: &[&str]| {
            let mut fields: Vec<String> = fields.iter().map(|f| (*f).to_owned()).collect();
            fields.sort();
            fields
        };
        let mut seen = Interner::default();
        assert_eq!(
            keys(order(sample_order(), &mut seen)),
            sorted(&ORDER_FIELDS[..])
        );
        let trade_value: Trade = serde_json::from_str(r#"{"id":"t1"}"#).expect("trade parses");
        assert_eq!(keys(trade(trade_value, &mut seen)), sorted(TRADE_FIELDS));
    }
}
