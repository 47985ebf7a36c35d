//! Orders made straight from the fields of a listing's page, without a script value per field.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::marker::PhantomData;
use std::sync::Arc;

use rhai::{Dynamic, FLOAT, INT, ImmutableString};

use super::{
    EXPIRATION, ORDER_SLOTS, ORDER_TEXTS, Odd, OrderRow, OrderValue, Record, Slot, TRADES, join_ids,
};
use crate::util::QuickHash;

/// The texts of one listing's orders, for orders made straight from a page's fields
/// ([`OrderParts`]): each distinct text held once, and each set of an order's eight shared
/// texts once (up to [`OrderTexts::MOST_SETS`] sets). A field whose text is the one the previous
/// order had (the owner, the status: nearly always) is matched without hashing.
#[derive(Default)]
pub(crate) struct OrderTexts {
    strings: Vec<ImmutableString>,
    numbers: HashMap<ImmutableString, u32, BuildHasherDefault<QuickHash>>,
    sets: HashMap<
        [u32; ORDER_TEXTS],
        Arc<[ImmutableString; ORDER_TEXTS]>,
        BuildHasherDefault<QuickHash>,
    >,
    last: [Option<u32>; ORDER_TEXTS],
}

impl OrderTexts {
    /// Past this many sets, new ones are not kept (a listing has one per market side and order
    /// type: a few hundred).
    const MOST_SETS: usize = 4096;

    /// The number of `text`, the value of the shared text field `at` of an order.
    fn number(&mut self, at: usize, text: &str) -> u32 {
        if let Some(last) = self.last[at]
            && self.strings[last as usize] == text
        {
            return last;
        }
        let number = match self.numbers.get(text) {
            Some(&number) => number,
            None => {
                let number = u32::try_from(self.strings.len()).unwrap_or(u32::MAX);
                let shared = ImmutableString::from(text);
                self.strings.push(shared.clone());
                self.numbers.insert(shared, number);
                number
            }
        };
        self.last[at] = Some(number);
        number
    }

    fn set(&mut self, numbers: [u32; ORDER_TEXTS]) -> Arc<[ImmutableString; ORDER_TEXTS]> {
        if let Some(set) = self.sets.get(&numbers) {
            return Arc::clone(set);
        }
        let set = Arc::new(numbers.map(|number| self.strings[number as usize].clone()));
        if self.sets.len() < Self::MOST_SETS {
            self.sets.insert(numbers, Arc::clone(&set));
        }
        set
    }
}

/// One order's fields as a page gives them, each set by its field's reading (the same as
/// [`convert::decimal`](super::super::convert::decimal) and the others give the order maps); a field
/// never set has its default (an empty text, 0, no trades).
pub(crate) struct OrderParts {
    id: Option<ImmutableString>,
    texts: [Option<u32>; ORDER_TEXTS],
    sizes: [FLOAT; 3],
    expiration: INT,
    created_at: INT,
    trades: Option<Arc<String>>,
    odd: Option<Box<Odd>>,
}

impl Default for OrderParts {
    fn default() -> Self {
        OrderParts {
            id: None,
            texts: [None; ORDER_TEXTS],
            sizes: [0.0; 3],
            expiration: 0,
            created_at: 0,
            trades: None,
            odd: None,
        }
    }
}

impl OrderParts {
    fn set_odd(&mut self, at: usize, value: Option<Dynamic>) {
        if value.is_some() || self.odd.is_some() {
            self.odd.get_or_insert_default()[at] = value;
        }
    }

    /// Field `index` of [`ORDER_FIELDS`] from its text: a shared text, a size (`price`
    /// too) or `expiration`. The others have their own setters.
    pub(crate) fn set_text(&mut self, index: usize, text: &str, texts: &mut OrderTexts) {
        match ORDER_SLOTS[index] {
            Slot::Text(at) => self.texts[at] = Some(texts.number(at, text)),
            Slot::Size(at) => {
                let value = super::super::convert::decimal(text);
                match value.as_float() {
                    Ok(number) => {
                        self.sizes[at] = number;
                        self.set_odd(at, None);
                    }
                    Err(_) => self.set_odd(at, Some(value)),
                }
            }
            Slot::Expiration => {
                let value = super::super::convert::unix_seconds(text);
                match value.as_int() {
                    Ok(number) => {
                        self.expiration = number;
                        self.set_odd(EXPIRATION, None);
                    }
                    Err(_) => self.set_odd(EXPIRATION, Some(value)),
                }
            }
            Slot::Id | Slot::CreatedAt | Slot::Trades => {
                debug_assert!(false, "field {index} has its own setter");
            }
        }
    }

    pub(crate) fn set_id(&mut self, id: &str) {
        self.id = Some(id.into());
    }

    pub(crate) fn set_created_at(&mut self, seconds: INT) {
        self.created_at = seconds;
    }

    /// `associate_trades`: the ids of the order's trades.
    pub(crate) fn set_trades<'t>(&mut self, ids: impl ExactSizeIterator<Item = &'t str>) {
        self.set_odd(TRADES, None);
        self.trades = None;
        if ids.len() == 0 {
            return;
        }
        let ids: Vec<&str> = ids.collect();
        match join_ids(ids.iter().copied()) {
            Some(joined) => self.trades = Some(joined),
            None => {
                let array = ids
                    .into_iter()
                    .map(|id| Dynamic::from(ImmutableString::from(id)))
                    .collect();
                self.set_odd(TRADES, Some(Dynamic::from_array(array)));
            }
        }
    }

    /// Whether the order's `id` was there.
    pub(crate) fn has_id(&self) -> bool {
        self.id.is_some()
    }

    /// The order, its texts shared with the listing's other orders.
    pub(crate) fn into_value(self, texts: &mut OrderTexts) -> OrderValue {
        let mut numbers = [0; ORDER_TEXTS];
        for (at, (number, given)) in numbers.iter_mut().zip(self.texts).enumerate() {
            *number = given.unwrap_or_else(|| texts.number(at, ""));
        }
        Record {
            values: OrderRow {
                id: self.id.unwrap_or_default(),
                texts: texts.set(numbers),
                sizes: self.sizes,
                expiration: self.expiration,
                created_at: self.created_at,
                trades: self.trades,
                odd: self.odd,
            },
            kind: PhantomData,
        }
    }
}
