//! Orders and trades as script values: a read-only record over one parsed row.
//!
//! A Rhai map of 15 entries takes three B-tree nodes (about 1.5 KB); an [`OrderValue`] holds its
//! fields by type in an [`OrderRow`] of 72 bytes (its texts shared strings, the texts most
//! orders of a listing have in common held once), a [`TradeValue`] in one shared array in the
//! exchange's field order; copying either (as `filter` does for every element it keeps)
//! copies no text. Scripts read it like a map: `o.price`, `o["price"]`, `"price" in o`, `o.keys()`,
//! `to_json(o)`, `print(o)`, `table(orders)`; an unknown field is an error naming the fields.
//! It cannot be changed: `to_map(o)` gives a map that can.

use std::fmt::Write as _;
use std::marker::PhantomData;
use std::sync::Arc;

use rhai::{Array, Dynamic, EvalAltResult, FLOAT, INT, ImmutableString, Map, Module, Position};

use super::convert::{ORDER_FIELDS, TRADE_FIELDS};

mod parts;
pub(crate) use parts::{OrderParts, OrderTexts};

/// What kind of row a [`Record`] is.
pub(crate) trait Kind: 'static + Send + Sync + Clone {
    /// The script's type name (`type_of(o)`).
    const NAME: &'static str;
    /// The word used in messages.
    const WHAT: &'static str;
    /// The fields, in the order the record holds them.
    const FIELDS: &'static [&'static str];
    /// How the field values are held.
    type Row: Row;
}

/// The field values of one row, in `K::FIELDS` order.
pub(crate) trait Row: 'static + Send + Sync + Clone + std::fmt::Debug {
    /// A row of `values`, one per field.
    fn of(values: impl IntoIterator<Item = Dynamic>) -> Self;
    /// Field `index`'s value, as scripts see it.
    fn value(&self, index: usize) -> Dynamic;
    /// The row's `id` (field 0), shared.
    fn id(&self) -> Option<ImmutableString>;
}

/// Any row of `N` fields: each field a script value, the row shared by every copy.
impl<const N: usize> Row for Arc<[Dynamic; N]> {
    fn of(values: impl IntoIterator<Item = Dynamic>) -> Self {
        let mut values = values.into_iter();
        Arc::new(std::array::from_fn(|_| {
            values.next().map_or(Dynamic::UNIT, stored)
        }))
    }
    fn value(&self, index: usize) -> Dynamic {
        shown(&self[index])
    }
    fn id(&self) -> Option<ImmutableString> {
        self.first()?
            .read_lock::<ImmutableString>()
            .map(|s| s.clone())
    }
}

/// An order's fields by type, 72 bytes: its `id` as a shared string; the eight text fields
/// that orders of one listing have in common (`status`, `owner`, `maker_address`, `market`,
/// `asset_id`, `side`, `outcome`, `order_type`) as one shared set of shared strings, held
/// once for all the orders with the same ones; the sizes and `price` as floats,
/// `expiration` and `created_at` as integers; `associate_trades`, when there are any, as one
/// text; and, for the rare order that has one, a value that is not of its field's type (a
/// number the exchange sent as text that is not a number: kept as that text, as always).
/// Copying it (as `filter` does for every element it keeps) copies these 72 bytes and shares
/// the strings.
#[derive(Clone, Debug)]
pub(crate) struct OrderRow {
    id: ImmutableString,
    texts: Arc<[ImmutableString; ORDER_TEXTS]>,
    /// `original_size`, `size_matched`, `price`.
    sizes: [FLOAT; 3],
    expiration: INT,
    created_at: INT,
    /// The ids of `associate_trades`, each followed by a NUL (behind a thin pointer: a row
    /// of 80 bytes would take a 96-byte block).
    trades: Option<Arc<String>>,
    odd: Option<Box<Odd>>,
}

/// The values of the typed fields that are not of their type, by [`Slot::Size`] index, then
/// `expiration`, `created_at`, and `associate_trades` (when it is not a list of strings
/// without a NUL).
type Odd = [Option<Dynamic>; 6];

/// The number of an order's text fields held in the shared set.
const ORDER_TEXTS: usize = 8;

/// Where each order field is held.
const ORDER_SLOTS: [Slot; 15] = [
    Slot::Id,
    Slot::Text(0),
    Slot::Text(1),
    Slot::Text(2),
    Slot::Text(3),
    Slot::Text(4),
    Slot::Text(5),
    Slot::Size(0),
    Slot::Size(1),
    Slot::Size(2),
    Slot::Text(6),
    Slot::Text(7),
    Slot::Expiration,
    Slot::CreatedAt,
    Slot::Trades,
];

#[derive(Clone, Copy)]
enum Slot {
    Id,
    Text(usize),
    Size(usize),
    Expiration,
    CreatedAt,
    Trades,
}

/// The index in [`Odd`] of `expiration`, `created_at`, `associate_trades`.
const EXPIRATION: usize = 3;
const CREATED_AT: usize = 4;
const TRADES: usize = 5;

/// A text field's value as a shared string. Every order's text fields are strings (see
/// `convert::order_values` and the page parser); anything else would be kept as its text.
fn text_of(value: Dynamic) -> ImmutableString {
    if value.is_string() {
        value.into_immutable_string().unwrap_or_default()
    } else {
        value.to_string().into()
    }
}

impl OrderRow {
    /// The value of typed field `at` when it is not of its type.
    fn odd_value(&self, at: usize) -> Option<Dynamic> {
        self.odd.as_ref()?[at].clone()
    }
}

/// A list of trade ids as one text, each followed by a NUL; `None` for any other value.
fn joined_ids(value: &Dynamic) -> Option<Arc<String>> {
    let ids = value.read_lock::<Array>()?;
    let locked: Vec<_> = ids
        .iter()
        .map(|id| id.read_lock::<ImmutableString>())
        .collect::<Option<_>>()?;
    join_ids(locked.iter().map(|id| id.as_str()))
}

/// Trade ids as one text, each followed by a NUL; `None` when one holds a NUL itself.
fn join_ids<'t>(ids: impl Iterator<Item = &'t str> + Clone) -> Option<Arc<String>> {
    let mut text = String::with_capacity(ids.clone().map(|id| id.len() + 1).sum());
    for id in ids {
        if id.contains('\0') {
            return None;
        }
        text.push_str(id);
        text.push('\0');
    }
    Some(Arc::new(text))
}

/// The list of trade ids [`joined_ids`] made.
fn split_ids(text: &str) -> Array {
    text.split_terminator('\0')
        .map(|id| Dynamic::from(ImmutableString::from(id)))
        .collect()
}

impl Row for OrderRow {
    fn of(values: impl IntoIterator<Item = Dynamic>) -> Self {
        let mut id = ImmutableString::new();
        let mut texts: [ImmutableString; ORDER_TEXTS] = Default::default();
        let mut sizes = [0.0; 3];
        let mut expiration = 0;
        let mut created_at = 0;
        let mut trades = None;
        let mut odd: Option<Box<Odd>> = None;
        for (slot, value) in ORDER_SLOTS.iter().zip(values) {
            match *slot {
                Slot::Id => id = text_of(value),
                Slot::Text(at) => texts[at] = text_of(value),
                Slot::Size(at) => match value.as_float() {
                    Ok(number) => sizes[at] = number,
                    Err(_) => odd.get_or_insert_default()[at] = Some(value),
                },
                Slot::Expiration => match value.as_int() {
                    Ok(number) => expiration = number,
                    Err(_) => odd.get_or_insert_default()[EXPIRATION] = Some(value),
                },
                Slot::CreatedAt => match value.as_int() {
                    Ok(number) => created_at = number,
                    Err(_) => odd.get_or_insert_default()[CREATED_AT] = Some(value),
                },
                Slot::Trades => {
                    let value = stored(value);
                    if !value.is_unit() {
                        match joined_ids(&value) {
                            Some(ids) => trades = Some(ids),
                            None => odd.get_or_insert_default()[TRADES] = Some(value),
                        }
                    }
                }
            }
        }
        OrderRow {
            id,
            texts: Arc::new(texts),
            sizes,
            expiration,
            created_at,
            trades,
            odd,
        }
    }
    fn value(&self, index: usize) -> Dynamic {
        match ORDER_SLOTS[index] {
            Slot::Id => self.id.clone().into(),
            Slot::Text(at) => self.texts[at].clone().into(),
            Slot::Size(at) => self
                .odd_value(at)
                .unwrap_or_else(|| Dynamic::from_float(self.sizes[at])),
            Slot::Expiration => self
                .odd_value(EXPIRATION)
                .unwrap_or_else(|| Dynamic::from_int(self.expiration)),
            Slot::CreatedAt => self
                .odd_value(CREATED_AT)
                .unwrap_or_else(|| Dynamic::from_int(self.created_at)),
            Slot::Trades => self.odd_value(TRADES).unwrap_or_else(|| {
                Dynamic::from_array(
                    self.trades
                        .as_deref()
                        .map(|ids| split_ids(ids))
                        .unwrap_or_default(),
                )
            }),
        }
    }
    fn id(&self) -> Option<ImmutableString> {
        Some(self.id.clone())
    }
}

#[derive(Clone, Debug)]
pub(crate) struct OrderKind;

impl Kind for OrderKind {
    const NAME: &'static str = "Order";
    const WHAT: &'static str = "order";
    const FIELDS: &'static [&'static str] = &ORDER_FIELDS;
    type Row = OrderRow;
}

/// The number of a trade's fields.
const TRADE_LEN: usize = 18;
const _: () = assert!(TRADE_FIELDS.len() == TRADE_LEN);
const _: () = assert!(std::mem::size_of::<OrderRow>() == 72);

#[derive(Clone, Debug)]
pub(crate) struct TradeKind;

impl Kind for TradeKind {
    const NAME: &'static str = "Trade";
    const WHAT: &'static str = "trade";
    const FIELDS: &'static [&'static str] = TRADE_FIELDS;
    type Row = Arc<[Dynamic; TRADE_LEN]>;
}

/// One row: its field values in `K::FIELDS` order. An empty list (an order's
/// `associate_trades`, a trade's `maker_orders`: empty for nearly every open order) takes no
/// allocation of its own; every reader goes through [`Record::value`], which gives it back as
/// an empty array.
#[derive(Clone, Debug)]
pub(crate) struct Record<K: Kind> {
    values: K::Row,
    kind: PhantomData<K>,
}

/// An order as scripts get it from `open_orders()` and `order(id)`.
pub(crate) type OrderValue = Record<OrderKind>;
/// A trade as scripts get it from `trades()`.
pub(crate) type TradeValue = Record<TradeKind>;

impl<K: Kind> Record<K> {
    /// A record of `values`, one per field of `K::FIELDS`, in that order.
    pub(crate) fn new(values: Vec<Dynamic>) -> Self {
        debug_assert_eq!(values.len(), K::FIELDS.len());
        Record {
            values: K::Row::of(values),
            kind: PhantomData,
        }
    }

    /// A record of `values`, one per field of `K::FIELDS`, in that order.
    pub(crate) fn from_array<const N: usize>(values: [Dynamic; N]) -> Self {
        debug_assert_eq!(N, K::FIELDS.len());
        Record {
            values: K::Row::of(values),
            kind: PhantomData,
        }
    }

    fn index(name: &str) -> Option<usize> {
        K::FIELDS.iter().position(|field| *field == name)
    }

    /// The place of field `name`, for [`Record::value`].
    pub(crate) fn field_index(name: &str) -> Option<usize> {
        Self::index(name)
    }

    /// Field `index`'s value, as scripts see it.
    pub(crate) fn value(&self, index: usize) -> Dynamic {
        self.values.value(index)
    }

    /// One field's value.
    pub(crate) fn get(&self, name: &str) -> Option<Dynamic> {
        Self::index(name).map(|index| self.value(index))
    }

    fn fields(&self) -> impl Iterator<Item = (&'static str, Dynamic)> + '_ {
        K::FIELDS
            .iter()
            .enumerate()
            .map(|(index, name)| (*name, self.value(index)))
    }

    /// The fields as a map (a copy the script may change).
    pub(crate) fn to_map(&self) -> Map {
        self.fields()
            .map(|(name, value)| (name.into(), value.clone()))
            .collect()
    }

    /// The fields as a JSON object, in field order.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Object(
            self.fields()
                .map(|(name, value)| (name.to_owned(), super::convert::to_json(&value)))
                .collect(),
        )
    }

    fn unknown(name: &str) -> Box<EvalAltResult> {
        let hint = super::errors::suggest(name, K::FIELDS.iter().copied())
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_default();
        EvalAltResult::ErrorRuntime(
            format!(
                "`{name}` is not {} {} field (fields: {}){hint}",
                article(K::WHAT),
                K::WHAT,
                K::FIELDS.join(", ")
            )
            .into(),
            Position::NONE,
        )
        .into()
    }

    fn read_only(name: &str) -> Box<EvalAltResult> {
        EvalAltResult::ErrorRuntime(
            format!(
                "{}s from the exchange cannot be changed (setting `{name}`): `let m = to_map(o);` gives a map that can",
                capitalised(K::WHAT)
            )
            .into(),
            Position::NONE,
        )
        .into()
    }

    /// Accepts "setting" field `index` to the value it already has; refuses any change.
    fn unchanged(
        &self,
        index: usize,
        name: &str,
        value: &Dynamic,
    ) -> Result<(), Box<EvalAltResult>> {
        let current = self.value(index);
        let same = current.type_id() == value.type_id()
            && super::convert::to_json(&current) == super::convert::to_json(value);
        if same {
            Ok(())
        } else {
            Err(Self::read_only(name))
        }
    }

    /// Map-like text: `Order #{"id": "0x…", "status": "LIVE", …}`.
    fn text(&self, debug: bool) -> String {
        let mut text = format!("{} #{{", K::NAME);
        for (no, (name, value)) in self.fields().enumerate() {
            if no > 0 {
                text.push_str(", ");
            }
            let shown = if value.is_string() || debug {
                format!("{value:?}")
            } else {
                value.to_string()
            };
            let _ = write!(text, "\"{name}\": {shown}");
        }
        text.push('}');
        text
    }
}

/// How a field's value is held: an empty array as `()`.
fn stored(value: Dynamic) -> Dynamic {
    if value
        .read_lock::<Array>()
        .is_some_and(|items| items.is_empty())
    {
        Dynamic::UNIT
    } else {
        value
    }
}

/// A held value as scripts see it: `()` is the empty array it stands for.
fn shown(value: &Dynamic) -> Dynamic {
    if value.is_unit() {
        Dynamic::from_array(Array::new())
    } else {
        value.clone()
    }
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// The map an order or trade stands for, or a map itself; `None` for anything else.
pub(crate) fn as_map(value: &Dynamic) -> Option<Map> {
    if let Some(map) = value.read_lock::<Map>() {
        return Some(map.clone());
    }
    if let Some(order) = value.read_lock::<OrderValue>() {
        return Some(order.to_map());
    }
    value.read_lock::<TradeValue>().map(|trade| trade.to_map())
}

/// Whether a value is an order or trade record.
pub(crate) fn is_record(value: &Dynamic) -> bool {
    value.is::<OrderValue>() || value.is::<TradeValue>()
}

/// The word for a record in messages (`order`, `trade`), or `None` for any other value.
pub(crate) fn record_word(value: &Dynamic) -> Option<&'static str> {
    if value.is::<OrderValue>() {
        Some(OrderKind::WHAT)
    } else if value.is::<TradeValue>() {
        Some(TradeKind::WHAT)
    } else {
        None
    }
}

/// The script's name of a record type from its Rust type name (`Order`, `Trade`).
pub(crate) fn record_type_name(rust_name: &str) -> Option<&'static str> {
    if rust_name.contains("values::Record<") || rust_name.contains("values::") {
        Some(if rust_name.contains("Trade") {
            TradeKind::NAME
        } else {
            OrderKind::NAME
        })
    } else {
        None
    }
}

/// The JSON of an order or trade; `None` for any other value.
pub(crate) fn record_json(value: &Dynamic) -> Option<serde_json::Value> {
    if let Some(order) = value.read_lock::<OrderValue>() {
        return Some(order.to_json());
    }
    value.read_lock::<TradeValue>().map(|trade| trade.to_json())
}

/// The `id` of an order value (shared, not copied); `None` for any other value.
pub(crate) fn order_id(value: &Dynamic) -> Option<ImmutableString> {
    let order = value.read_lock::<OrderValue>()?;
    order.values.id()
}

/// The types with their getters, indexers and map-like functions, as one global module.
pub(crate) fn module() -> Module {
    let mut module = Module::new();
    register::<OrderKind>(&mut module);
    register::<TradeKind>(&mut module);
    module
}

fn register<K: Kind>(module: &mut Module) {
    module.set_custom_type::<Record<K>>(K::NAME);
    for (index, name) in K::FIELDS.iter().enumerate() {
        module.set_getter_fn(name, move |record: &mut Record<K>| Ok(record.value(index)));
    }
    module.set_indexer_get_fn(|record: &mut Record<K>, name: ImmutableString| {
        record.get(&name).ok_or_else(|| Record::<K>::unknown(&name))
    });
    // Rhai writes a property back after a method call on it (`o.associate_trades.len()`), so
    // setting a field to the value it has is allowed; any real change is refused.
    for (index, name) in K::FIELDS.iter().enumerate() {
        module.set_setter_fn(name, move |record: &mut Record<K>, value: Dynamic| {
            record.unchanged(index, name, &value)
        });
    }
    module.set_indexer_set_fn(
        |record: &mut Record<K>, name: ImmutableString, value: Dynamic| match Record::<K>::index(
            &name,
        ) {
            Some(index) => record.unchanged(index, &name, &value),
            None => Err(Record::<K>::read_only(&name)),
        },
    );
    module.set_native_fn("contains", |_: &mut Record<K>, name: ImmutableString| {
        Ok(Record::<K>::index(&name).is_some())
    });
    module.set_native_fn("keys", |_: &mut Record<K>| {
        Ok(K::FIELDS
            .iter()
            .map(|name| Dynamic::from(ImmutableString::from(*name)))
            .collect::<Array>())
    });
    module.set_native_fn("values", |record: &mut Record<K>| {
        Ok((0..K::FIELDS.len())
            .map(|index| record.value(index))
            .collect::<Array>())
    });
    module.set_native_fn("len", |_: &mut Record<K>| {
        Ok(rhai::INT::try_from(K::FIELDS.len()).unwrap_or(rhai::INT::MAX))
    });
    module.set_native_fn("to_string", |record: &mut Record<K>| Ok(record.text(false)));
    module.set_native_fn("to_debug", |record: &mut Record<K>| Ok(record.text(true)));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An order with no trades: its `associate_trades` is held as `()` but every reader sees
    /// an empty array.
    #[test]
    fn an_empty_list_field_reads_as_an_empty_array_everywhere() {
        let mut values: Vec<Dynamic> = ORDER_FIELDS
            .iter()
            .map(|name| Dynamic::from(ImmutableString::from(*name)))
            .collect();
        values[14] = Dynamic::from_array(Array::new());
        let order = OrderValue::new(values);
        assert!(order.values.trades.is_none(), "held without an allocation");
        let field = order.get("associate_trades").expect("a field");
        assert!(field.read_lock::<Array>().is_some_and(|a| a.is_empty()));
        assert_eq!(order.to_json()["associate_trades"], serde_json::json!([]));
        assert!(order.to_map()["associate_trades"].is_array());
        assert!(order.text(false).contains("\"associate_trades\": []"));

        let mut engine = rhai::Engine::new();
        engine.register_global_module(module().into());
        let mut scope = rhai::Scope::new();
        scope.push("o", order);
        let script = r#"
            let same = o.associate_trades.len();
            o.associate_trades = [];
            let refused = false;
            try { o.associate_trades.push("x"); } catch { refused = true; }
            [same, type_of(o.associate_trades), type_of(o["associate_trades"]),
             o.values()[14].len(), refused, o.associate_trades.len()]
        "#;
        let result: Array = engine
            .eval_with_scope(&mut scope, script)
            .expect("the script runs");
        let shown: Vec<String> = result.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["0", "array", "array", "0", "true", "0"]);
    }
}
