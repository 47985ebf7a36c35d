//! Listing pages parsed straight into script values.
//!
//! `open_orders()` and `trades()` read 100,000 rows; going through the client's wire structs
//! first means a `String` per field of every row, copied again into the script's value. Here a
//! page's JSON is read once: each field's text is borrowed from the page where it has no
//! escapes, turned into the value the script gets (an interned string, a number, an id) and
//! dropped. The values are exactly those of [`convert::order_value`] and
//! [`convert::trade_value`] on the wire structs, field for field, including the client's
//! normalisation (`status`, `side`, `order_type`, `trader_side` in upper case) and its
//! reading of unexpected shapes (a number where text was expected is kept as its JSON text).

use std::borrow::Cow;
use std::fmt;

use rhai::{Array, Dynamic, Map};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::convert::{self, Interner, ORDER_FIELDS, OrderFields, TRADE_FIELDS};
use super::values::{OrderParts, OrderTexts, TradeValue};
use crate::clob::PageCursor;

/// What the pages of one listing of orders share: the texts seen, and the sets of text fields
/// orders have in common.
#[derive(Default)]
pub(crate) struct OrderListing {
    texts: OrderTexts,
}

/// Parses one page of `GET /data/orders`, appending its orders to `out`: records, or maps of
/// the selected `fields`.
pub(crate) fn order_page(
    body: &[u8],
    listing: &mut OrderListing,
    fields: Option<OrderFields>,
    out: &mut Array,
) -> Result<PageCursor, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let head = Page {
        rows: OrderRows {
            texts: &mut listing.texts,
            fields,
            out,
        },
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok(head)
}

/// Parses one page of `GET /data/trades`, appending its trades (records) to `out`.
pub(crate) fn trade_page(
    body: &[u8],
    seen: &mut Interner,
    out: &mut Array,
) -> Result<PageCursor, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let head = Page {
        rows: TradeRows { seen, out },
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok(head)
}

/// The rows of a page's `data` array (`null` or absent is none).
trait Rows<'de>: Sized {
    fn row<A: SeqAccess<'de>>(&mut self, seq: &mut A) -> Result<bool, A::Error>;
}

/// A page object: `data` goes to the rows, `next_cursor` is read as [`PageCursor`] reads it
/// (`null` is empty, a string itself, anything else its JSON text), every other key is skipped.
struct Page<R> {
    rows: R,
}

impl<'de, R: Rows<'de>> DeserializeSeed<'de> for Page<R> {
    type Value = PageCursor;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<PageCursor, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, R: Rows<'de>> Visitor<'de> for Page<R> {
    type Value = PageCursor;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a page of a listing")
    }
    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<PageCursor, A::Error> {
        let mut rows = None;
        let mut next_cursor = String::new();
        while let Some(key) = map.next_key::<Text<'de>>()? {
            match &*key.0 {
                "data" => rows = Some(map.next_value_seed(Data(&mut self.rows))?),
                "next_cursor" => next_cursor = map.next_value::<Lenient<'de>>()?.0.into_owned(),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let rows = rows.ok_or_else(|| de::Error::missing_field("data"))?;
        Ok(PageCursor { next_cursor, rows })
    }
}

struct Data<'r, R>(&'r mut R);

/// The rows of `data`; its value is how many there were.
impl<'de, R: Rows<'de>> DeserializeSeed<'de> for Data<'_, R> {
    type Value = usize;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<usize, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de, R: Rows<'de>> Visitor<'de> for Data<'_, R> {
    type Value = usize;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of rows or null")
    }
    fn visit_none<E: de::Error>(self) -> Result<usize, E> {
        Ok(0)
    }
    fn visit_unit<E: de::Error>(self) -> Result<usize, E> {
        Ok(0)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<usize, D::Error> {
        d.deserialize_seq(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<usize, A::Error> {
        let mut rows = 0;
        while self.0.row(&mut seq)? {
            rows += 1;
        }
        Ok(rows)
    }
}

/// A JSON string, borrowed from the page when it has no escapes.
struct Text<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// A field read as text the way the wire structs read it: `null` is empty, a string is itself,
/// anything else is its JSON text.
struct Lenient<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Lenient<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LenientVisitor)
    }
}

struct LenientVisitor;

impl LenientVisitor {
    fn json<'de>(value: &serde_json::Value) -> Lenient<'de> {
        Lenient(Cow::Owned(value.to_string()))
    }
}

impl<'de> Visitor<'de> for LenientVisitor {
    type Value = Lenient<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Lenient<'de>, E> {
        Ok(Lenient(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Lenient<'de>, E> {
        Ok(Lenient(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Lenient<'de>, E> {
        Ok(Lenient(Cow::Owned(v)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Lenient<'de>, E> {
        Ok(Lenient(Cow::Borrowed("")))
    }
    fn visit_none<E: de::Error>(self) -> Result<Lenient<'de>, E> {
        Ok(Lenient(Cow::Borrowed("")))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Lenient<'de>, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Lenient<'de>, E> {
        Ok(Lenient(Cow::Borrowed(if v { "true" } else { "false" })))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Lenient<'de>, E> {
        Ok(Self::json(&serde_json::Value::from(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Lenient<'de>, E> {
        Ok(Self::json(&serde_json::Value::from(v)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Lenient<'de>, E> {
        Ok(Self::json(&serde_json::Value::from(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Lenient<'de>, A::Error> {
        let value: serde_json::Value =
            de::Deserialize::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
        Ok(Self::json(&value))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Lenient<'de>, A::Error> {
        let value: serde_json::Value =
            de::Deserialize::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok(Self::json(&value))
    }
}

/// An integer field the way the wire structs read it: `null`, absent or blank is 0, a
/// number or numeric string is truncated to an integer, anything else is an error.
struct Integer(i64);

impl<'de> de::Deserialize<'de> for Integer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Lenient(text) = d.deserialize_any(IntegerVisitor)?;
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Ok(Integer(0));
        }
        trimmed
            .parse::<i64>()
            .or_else(|_| trimmed.parse::<f64>().map(|f| f as i64))
            .map(Integer)
            .map_err(|_| de::Error::custom(format!("expected an integer, got {text:?}")))
    }
}

/// Reads a number as its value's text, a string as itself; refuses arrays, maps, booleans.
struct IntegerVisitor;

impl<'de> Visitor<'de> for IntegerVisitor {
    type Value = Lenient<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an integer")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Lenient<'de>, E> {
        Ok(Lenient(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Lenient<'de>, E> {
        Ok(Lenient(Cow::Owned(v.to_owned())))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Lenient<'de>, E> {
        Ok(Lenient(Cow::Borrowed("")))
    }
    fn visit_none<E: de::Error>(self) -> Result<Lenient<'de>, E> {
        Ok(Lenient(Cow::Borrowed("")))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Lenient<'de>, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Lenient<'de>, E> {
        Ok(Lenient(Cow::Owned(v.to_string())))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Lenient<'de>, E> {
        // Past i64: the wire structs take the float value, saturated.
        Ok(Lenient(Cow::Owned(match i64::try_from(v) {
            Ok(v) => v.to_string(),
            Err(_) => i64::MAX.to_string(),
        })))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Lenient<'de>, E> {
        Ok(Lenient(Cow::Owned((v as i64).to_string())))
    }
}

/// A field's text in upper case (the client's normalisation of enumerated fields).
fn upper(text: Cow<'_, str>) -> Cow<'_, str> {
    if text.bytes().any(|b| b.is_ascii_lowercase()) {
        Cow::Owned(text.to_ascii_uppercase())
    } else {
        text
    }
}

fn field_index(fields: &[&str], key: &str) -> Option<usize> {
    fields.iter().position(|field| *field == key)
}

/// [`field_index`] for the keys of one row after another: the exchange sends each row's
/// fields in the same order, so the field after the last one found is tried first.
struct Fields<'f> {
    names: &'f [&'f str],
    next: usize,
}

impl<'f> Fields<'f> {
    fn new(names: &'f [&'f str]) -> Self {
        Fields { names, next: 0 }
    }

    fn index(&mut self, key: &str) -> Option<usize> {
        let index = if self.names.get(self.next) == Some(&key) {
            self.next
        } else {
            field_index(self.names, key)?
        };
        self.next = index + 1;
        Some(index)
    }
}

struct OrderRows<'a> {
    texts: &'a mut OrderTexts,
    fields: Option<OrderFields>,
    out: &'a mut Array,
}

impl<'de> Rows<'de> for OrderRows<'_> {
    fn row<A: SeqAccess<'de>>(&mut self, seq: &mut A) -> Result<bool, A::Error> {
        let Some(parts) = seq.next_element_seed(OrderRow {
            texts: &mut *self.texts,
        })?
        else {
            return Ok(false);
        };
        let order = parts.into_value(self.texts);
        self.out.push(match self.fields {
            None => Dynamic::from(order),
            Some(fields) => Dynamic::from_map(convert::order_map_of(&order, fields)),
        });
        Ok(true)
    }
}

/// One order: its fields, each read the way the wire structs read it.
struct OrderRow<'a> {
    texts: &'a mut OrderTexts,
}

impl<'de> DeserializeSeed<'de> for OrderRow<'_> {
    type Value = OrderParts;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for OrderRow<'_> {
    type Value = OrderParts;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an order")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let texts = self.texts;
        let mut parts = OrderParts::default();
        let mut fields = Fields::new(&ORDER_FIELDS);
        while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
            let Some(index) = fields.index(&key) else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            match index {
                // id: a string, required.
                0 => parts.set_id(&map.next_value::<Text<'de>>()?.0),
                // status, side, order_type: normalised to upper case.
                1 | 6 | 11 => {
                    let text = upper(map.next_value::<Lenient<'de>>()?.0);
                    parts.set_text(index, &text, texts);
                }
                13 => parts.set_created_at(map.next_value::<Integer>()?.0),
                14 => {
                    let ids = map.next_value::<Option<Vec<Text<'de>>>>()?;
                    let ids = ids.unwrap_or_default();
                    parts.set_trades(ids.iter().map(|Text(id)| &**id));
                }
                _ => parts.set_text(index, &map.next_value::<Lenient<'de>>()?.0, texts),
            }
        }
        if !parts.has_id() {
            return Err(de::Error::missing_field("id"));
        }
        Ok(parts)
    }
}

struct TradeRows<'a> {
    seen: &'a mut Interner,
    out: &'a mut Array,
}

impl<'de> Rows<'de> for TradeRows<'_> {
    fn row<A: SeqAccess<'de>>(&mut self, seq: &mut A) -> Result<bool, A::Error> {
        let Some(values) = seq.next_element_seed(TradeRow { seen: self.seen })? else {
            return Ok(false);
        };
        self.out.push(Dynamic::from(TradeValue::from_array(values)));
        Ok(true)
    }
}

const TRADE_LEN: usize = 18;

/// One trade: its values in [`TRADE_FIELDS`] order.
struct TradeRow<'a> {
    seen: &'a mut Interner,
}

impl<'de> DeserializeSeed<'de> for TradeRow<'_> {
    type Value = [Dynamic; TRADE_LEN];
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TradeRow<'_> {
    type Value = [Dynamic; TRADE_LEN];
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a trade")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let seen = self.seen;
        let mut values: [Option<Dynamic>; TRADE_LEN] = Default::default();
        let mut fields = Fields::new(TRADE_FIELDS);
        while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
            let Some(index) = fields.index(&key) else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            let value = match index {
                0 => Dynamic::from(rhai::ImmutableString::from(
                    &*map.next_value::<Text<'de>>()?.0,
                )),
                // taker_order_id, transaction_hash: one of a kind, not interned.
                1 | 14 => Dynamic::from(rhai::ImmutableString::from(
                    &*map.next_value::<Lenient<'de>>()?.0,
                )),
                // side, status, trader_side: upper case.
                4 | 8 | 16 => seen.get(&upper(map.next_value::<Lenient<'de>>()?.0)),
                5..=7 => convert::decimal(&map.next_value::<Lenient<'de>>()?.0),
                9 | 10 => convert::unix_seconds(&map.next_value::<Lenient<'de>>()?.0),
                15 => Dynamic::from_int(map.next_value::<Integer>()?.0),
                17 => Dynamic::from_array(map.next_value_seed(Makers { seen: &mut *seen })?),
                _ => seen.get(&map.next_value::<Lenient<'de>>()?.0),
            };
            values[index] = Some(value);
        }
        let [id, rest @ ..] = values;
        let id = id.ok_or_else(|| de::Error::missing_field("id"))?;
        let mut all = [const { Dynamic::UNIT }; TRADE_LEN];
        all[0] = id;
        for (index, (slot, value)) in all[1..].iter_mut().zip(rest).enumerate() {
            *slot = value.unwrap_or_else(|| match index + 1 {
                1 | 14 => Dynamic::from(rhai::ImmutableString::new()),
                5..=7 => convert::decimal(""),
                9 | 10 => convert::unix_seconds(""),
                15 => Dynamic::from_int(0),
                17 => Dynamic::from_array(Array::new()),
                _ => seen.get(""),
            });
        }
        Ok(all)
    }
}

/// A trade's `maker_orders` (`null` is none), each a map like [`convert::trade`]'s.
struct Makers<'a> {
    seen: &'a mut Interner,
}

impl<'de> DeserializeSeed<'de> for Makers<'_> {
    type Value = Array;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Array, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for Makers<'_> {
    type Value = Array;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of maker orders or null")
    }
    fn visit_none<E: de::Error>(self) -> Result<Array, E> {
        Ok(Array::new())
    }
    fn visit_unit<E: de::Error>(self) -> Result<Array, E> {
        Ok(Array::new())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Array, D::Error> {
        d.deserialize_seq(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Array, A::Error> {
        let mut makers = Array::new();
        while let Some(maker) = seq.next_element_seed(Maker {
            seen: &mut *self.seen,
        })? {
            makers.push(Dynamic::from_map(maker));
        }
        Ok(makers)
    }
}

/// The fields of a maker order, as [`convert::trade`] names them.
const MAKER_FIELDS: [&str; 9] = [
    "order_id",
    "owner",
    "maker_address",
    "matched_amount",
    "price",
    "fee_rate_bps",
    "asset_id",
    "outcome",
    "side",
];

struct Maker<'a> {
    seen: &'a mut Interner,
}

impl<'de> DeserializeSeed<'de> for Maker<'_> {
    type Value = Map;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Map, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Maker<'_> {
    type Value = Map;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a maker order")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Map, A::Error> {
        let seen = self.seen;
        let mut texts: [Option<Cow<'de, str>>; MAKER_FIELDS.len()] = Default::default();
        while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
            match field_index(&MAKER_FIELDS, &key) {
                Some(index) => texts[index] = Some(map.next_value::<Lenient<'de>>()?.0),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(MAKER_FIELDS
            .iter()
            .zip(texts)
            .enumerate()
            .map(|(index, (name, text))| {
                let text = text.unwrap_or(Cow::Borrowed(""));
                let value = match index {
                    0 => Dynamic::from(rhai::ImmutableString::from(&*text)),
                    3..=5 => convert::decimal(&text),
                    8 => seen.get(&upper(text)),
                    _ => seen.get(&text),
                };
                ((*name).into(), value)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clob::{OpenOrder, Page as WirePage, Trade};
    use crate::script::values::OrderValue;

    /// The same page through the wire structs (normalised as the client does) and through
    /// this module: the same values, field for field.
    fn same_orders(page: &str) {
        let mut listing = OrderListing::default();
        let mut seen = Interner::default();
        let mut fast = Array::new();
        let head = order_page(page.as_bytes(), &mut listing, None, &mut fast).expect("parses");
        let wire: WirePage<OpenOrder> = serde_json::from_str(page).expect("wire parses");
        // The cursor and the row count the listing's walk reads from a page.
        let cursor: PageCursor = serde_json::from_str(page).expect("cursor parses");
        assert_eq!(head.next_cursor, cursor.next_cursor);
        assert_eq!((head.rows, cursor.rows), (fast.len(), wire.data.len()));
        let slow: Vec<Dynamic> = wire
            .data
            .into_iter()
            .map(|mut o| {
                o.status.make_ascii_uppercase();
                o.side.make_ascii_uppercase();
                o.order_type.make_ascii_uppercase();
                convert::order_value(o, &mut seen)
            })
            .collect();
        let json = |values: &[Dynamic]| values.iter().map(convert::to_json).collect::<Vec<_>>();
        assert_eq!(json(&fast), json(&slow));
        // Field by field, of the same script type too (a float, an integer, a string).
        let typed = |values: &[Dynamic]| {
            values
                .iter()
                .flat_map(|value| {
                    let record = value.read_lock::<OrderValue>().expect("a record").clone();
                    ORDER_FIELDS.map(|name| {
                        let field = record.get(name).expect("a field");
                        (name, field.type_name(), field.to_string())
                    })
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(typed(&fast), typed(&slow));
        let mut lean = Array::new();
        let fields = OrderFields::select(["created_at", "price"]).expect("fields");
        order_page(page.as_bytes(), &mut listing, Some(fields), &mut lean).expect("parses");
        for (map, record) in lean.iter().zip(&fast) {
            let map = map.read_lock::<Map>().expect("a map").clone();
            let record = record.read_lock::<OrderValue>().expect("a record").clone();
            assert_eq!(map.len(), 3);
            for (name, value) in &map {
                let expected = record.get(name).expect("a field");
                assert_eq!(convert::to_json(value), convert::to_json(&expected));
            }
        }
    }

    #[test]
    fn orders_parsed_from_the_page_are_those_of_the_wire_structs() {
        same_orders(
            r#"{"data":[{"id":"0xabc","status":"live","owner":"key","maker_address":"0xm",
                "market":"0xmarket","asset_id":"1234","side":"buy","original_size":"100",
                "size_matched":"12.5","price":"0.45","outcome":"Yes","order_type":"gtd",
                "expiration":"1700003600","created_at":1700000000,"associate_trades":["t1","t\u0032"],
                "extra":{"nested":[1,2]}},
               {"id":"0x\u0041","status":null,"price":0.5,"original_size":7,"size_matched":"n/a",
                "expiration":1700000000.0,"created_at":"1700000001","associate_trades":null,
                "outcome":true,"market":{"a":1},"asset_id":[1,"x"]},
               {"id":"0xe","created_at":1.7e9,"expiration":"","price":"","side":"Sell"},
               {"id":"0xf","expiration":"never","price":"NaN","original_size":"-inf",
                "size_matched":" 2 ","associate_trades":[]},
               {"id":"0x10","associate_trades":["a\u0000b","c"],"status":"LIVE","owner":"key"}],
               "next_cursor":"LTE=","limit":500,"count":3}"#,
        );
        same_orders(r#"{"next_cursor":"LTE=","data":null}"#);
        same_orders(r#"{"data":[]}"#);
        same_orders(r#"{"next_cursor":null,"data":[{"id":"0x1"}],"limit":3}"#);
        same_orders(r#"{"next_cursor":1000,"data":[{"id":"0x1"},{"id":"0x2"}]}"#);
    }

    #[test]
    fn a_page_the_wire_structs_refuse_is_refused() {
        let mut out = Array::new();
        for page in [
            r#"{"next_cursor":"LTE="}"#,
            r#"{"data":[{"status":"LIVE"}]}"#,
            r#"{"data":[{"id":1}]}"#,
            r#"{"data":[{"id":"x","created_at":"soon"}]}"#,
            r#"{"data":[{"id":"x","associate_trades":[1]}]}"#,
            r#"{"data":[{"id":"x"}]} trailing"#,
            r#"{"data":{"id":"x"}}"#,
        ] {
            assert!(
                order_page(
                    page.as_bytes(),
                    &mut OrderListing::default(),
                    None,
                    &mut out
                )
                .is_err(),
                "{page}"
            );
            assert!(
                serde_json::from_str::<WirePage<OpenOrder>>(page).is_err(),
                "{page}"
            );
        }
    }

    #[test]
    fn trades_parsed_from_the_page_are_those_of_the_wire_structs() {
        let page = r#"{"data":[{"id":"t1","taker_order_id":"0xt","market":"0xm","asset_id":"55",
            "side":"sell","size":"113.82","fee_rate_bps":"0","price":"0.26","status":"confirmed",
            "match_time":"1795947347","last_update":1795947351,"outcome":"No","owner":"k",
            "maker_address":"0xa","transaction_hash":"0xh","bucket_index":"2","trader_side":"maker",
            "maker_orders":[{"order_id":"0xo","owner":"k","maker_address":"0xa",
                "matched_amount":"113.82","price":"0.26","fee_rate_bps":0,"asset_id":"55",
                "outcome":"No","side":"buy","other":1}]},
            {"id":"t\u0032","maker_orders":null,"bucket_index":null,"size":null},
            {"id":"t3","maker_orders":[{}],"transaction_hash":5}],"next_cursor":"LTE="}"#;
        let mut seen = Interner::default();
        let mut fast = Array::new();
        let head = trade_page(page.as_bytes(), &mut seen, &mut fast).expect("parses");
        assert_eq!((head.next_cursor.as_str(), head.rows), ("LTE=", 3));
        let wire: WirePage<Trade> = serde_json::from_str(page).expect("wire parses");
        let slow: Vec<Dynamic> = wire
            .data
            .into_iter()
            .map(|mut t| {
                t.status.make_ascii_uppercase();
                t.side.make_ascii_uppercase();
                t.trader_side.make_ascii_uppercase();
                for maker in &mut t.maker_orders {
                    maker.side.make_ascii_uppercase();
                }
                convert::trade_value(t, &mut seen)
            })
            .collect();
        let json = |values: &[Dynamic]| values.iter().map(convert::to_json).collect::<Vec<_>>();
        assert_eq!(json(&fast), json(&slow));
        assert_eq!(fast.len(), 3);
    }
}
