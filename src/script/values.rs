//! Orders and trades as script values: a read-only record over one shared, parsed row.
//!
//! A Rhai map of 15 entries takes three B-tree nodes (about 1.5 KB); an [`OrderValue`] holds its
//! fields by type in one shared [`OrderRow`] (176 bytes, text fields as shared strings), a
//! [`TradeValue`] in one shared array in the exchange's field order, and copying either
//! (as `filter` does for every element it keeps) bumps a reference count instead of copying
//! the fields. Scripts read it like a map: `o.price`, `o["price"]`, `"price" in o`, `o.keys()`,
//! `to_json(o)`, `print(o)`, `table(orders)`; an unknown field is an error naming the fields.
//! It cannot be changed: `to_map(o)` gives a map that can.

use std::fmt::Write as _;
use std::marker::PhantomData;
use std::sync::Arc;

use rhai::{Array, Dynamic, EvalAltResult, ImmutableString, Map, Module, Position};

use super::convert::{ORDER_FIELDS, TRADE_FIELDS};

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

/// Any row of `N` fields: each field a script value.
impl<const N: usize> Row for [Dynamic; N] {
    fn of(values: impl IntoIterator<Item = Dynamic>) -> Self {
        let mut values = values.into_iter();
        std::array::from_fn(|_| values.next().map_or(Dynamic::UNIT, stored))
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

/// An order's fields by type (160 bytes instead of fifteen 16-byte values): its text fields
/// (`id`, `status`, `owner`, `maker_address`, `market`, `asset_id`, `side`, `outcome`,
/// `order_type`) as shared strings, `created_at` as an integer, the numbers (`original_size`,
/// `size_matched`, `price`, `expiration`: a number, or the text the exchange sent when it is
/// not one) and `associate_trades` as values.
#[derive(Clone, Debug)]
pub(crate) struct OrderRow {
    texts: [ImmutableString; 9],
    numbers: [Dynamic; 4],
    created_at: rhai::INT,
    trades: Dynamic,
}

/// Where each order field is held: in `texts`, `numbers`, or (`None`) elsewhere.
const ORDER_SLOTS: [Slot; 15] = [
    Slot::Text(0),
    Slot::Text(1),
    Slot::Text(2),
    Slot::Text(3),
    Slot::Text(4),
    Slot::Text(5),
    Slot::Text(6),
    Slot::Number(0),
    Slot::Number(1),
    Slot::Number(2),
    Slot::Text(7),
    Slot::Text(8),
    Slot::Number(3),
    Slot::CreatedAt,
    Slot::Trades,
];

#[derive(Clone, Copy)]
enum Slot {
    Text(usize),
    Number(usize),
    CreatedAt,
    Trades,
}

impl Row for OrderRow {
    fn of(values: impl IntoIterator<Item = Dynamic>) -> Self {
        let mut row = OrderRow {
            texts: Default::default(),
            numbers: Default::default(),
            created_at: 0,
            trades: Dynamic::UNIT,
        };
        for (slot, value) in ORDER_SLOTS.iter().zip(values) {
            match *slot {
                // Every order's text fields are strings (see `convert::order_values` and the
                // page parser); anything else would be kept as its text.
                Slot::Text(at) => {
                    row.texts[at] = if value.is_string() {
                        value.into_immutable_string().unwrap_or_default()
                    } else {
                        value.to_string().into()
                    };
                }
                Slot::Number(at) => row.numbers[at] = value,
                // Always an integer (`created_at` is read as one).
                Slot::CreatedAt => row.created_at = value.as_int().unwrap_or_default(),
                Slot::Trades => row.trades = stored(value),
            }
        }
        row
    }
    fn value(&self, index: usize) -> Dynamic {
        match ORDER_SLOTS[index] {
            Slot::Text(at) => self.texts[at].clone().into(),
            Slot::Number(at) => self.numbers[at].clone(),
            Slot::CreatedAt => Dynamic::from_int(self.created_at),
            Slot::Trades => shown(&self.trades),
        }
    }
    fn id(&self) -> Option<ImmutableString> {
        Some(self.texts[0].clone())
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

#[derive(Clone, Debug)]
pub(crate) struct TradeKind;

impl Kind for TradeKind {
    const NAME: &'static str = "Trade";
    const WHAT: &'static str = "trade";
    const FIELDS: &'static [&'static str] = TRADE_FIELDS;
    type Row = [Dynamic; TRADE_LEN];
}

/// One row: its field values in `K::FIELDS` order, shared by every copy. An empty list (an
/// order's `associate_trades`, a trade's `maker_orders`: empty for nearly every open order) is
/// held as `()`, which no field ever is, so it takes no allocation of its own; every reader
/// goes through [`Record::value`], which gives it back as an empty array.
#[derive(Clone, Debug)]
pub(crate) struct Record<K: Kind> {
    values: Arc<K::Row>,
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
            values: Arc::new(K::Row::of(values)),
            kind: PhantomData,
        }
    }

    /// A record of `values`, one per field of `K::FIELDS`, in that order.
    pub(crate) fn from_array<const N: usize>(values: [Dynamic; N]) -> Self {
        debug_assert_eq!(N, K::FIELDS.len());
        Record {
            values: Arc::new(K::Row::of(values)),
            kind: PhantomData,
        }
    }

    fn index(name: &str) -> Option<usize> {
        K::FIELDS.iter().position(|field| *field == name)
    }

    /// Field `index`'s value, as scripts see it.
    fn value(&self, index: usize) -> Dynamic {
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
        assert!(order.values.trades.is_unit(), "held without an allocation");
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
