//! The functions scripts call. One `#[export_module]` per area; each function's doc comment is
//! its help text (`clobscript docs`, the REPL's `:help`). The modules are registered as global
//! modules, after (and so in front of) Rhai's standard library.
//!
//! Exchange functions reach the shared [`HostState`] through the engine's tag, block on the
//! tokio runtime for the request (raced against the interrupt) and are marked volatile, as are
//! the ones that read the clock or host state, so the optimiser never folds them.
//!
//! Here: the areas' list and the argument helpers; `calls`: the exchange and safety work
//! behind the functions (on [`HostState`]); `areas`: the exported functions, one module per
//! area.

mod areas;
mod calls;

use areas::{
    cancels_api, market_api, orders_api, output_api, params_api, safety_api, scoring_api, time_api,
};

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::sync::Arc;

use rhai::plugin::*;
use rhai::{Array, Dynamic, EvalAltResult, ImmutableString, Map, NativeCallContext, Position};

use super::engine::{HostRef, HostState};
use super::interrupt::StopReason;
use super::{args, convert, output, rows};
use crate::clob::{Client, ClobError, OrderFilter, Side, TradeFilter};

pub(crate) type Outcome<T> = Result<T, Box<EvalAltResult>>;

/// One area of the script API, in reference order.
pub(crate) struct AreaInfo {
    pub(crate) name: &'static str,
    pub(crate) title: &'static str,
}

pub(crate) const AREAS: &[AreaInfo] = &[
    AreaInfo {
        name: "orders",
        title: "Orders and trades",
    },
    AreaInfo {
        name: "cancels",
        title: "Cancelling orders",
    },
    AreaInfo {
        name: "scoring",
        title: "Reward scoring",
    },
    AreaInfo {
        name: "market",
        title: "Market data",
    },
    AreaInfo {
        name: "time",
        title: "Time",
    },
    AreaInfo {
        name: "params",
        title: "Parameters",
    },
    AreaInfo {
        name: "output",
        title: "Output",
    },
    AreaInfo {
        name: "safety",
        title: "Safety",
    },
    AreaInfo {
        name: "watch",
        title: "Watching the user channel",
    },
];

/// The modules to register, by area name.
pub(crate) fn modules() -> Vec<(&'static str, Module)> {
    vec![
        ("orders", exported_module!(orders_api)),
        ("cancels", exported_module!(cancels_api)),
        ("scoring", exported_module!(scoring_api)),
        ("market", exported_module!(market_api)),
        ("time", exported_module!(time_api)),
        ("params", exported_module!(params_api)),
        ("output", exported_module!(output_api)),
        ("safety", exported_module!(safety_api)),
        ("watch", exported_module!(super::handlers::watch_api)),
    ]
}

pub(crate) fn failure(message: impl Into<String>) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(message.into().into(), Position::NONE).into()
}

/// The host state behind a call.
fn host(ctx: &NativeCallContext) -> Outcome<Arc<HostState>> {
    ctx.tag()
        .and_then(|tag| tag.read_lock::<HostRef>().map(|r| r.0.clone()))
        .ok_or_else(|| failure("this function needs the clobscript host"))
}

/// An optional text filter value: `()` and `""` mean "not given"; numbers are accepted as text.
fn text_field(function: &str, map: &Map, key: &str) -> Outcome<Option<String>> {
    match map.get(key) {
        None => Ok(None),
        Some(v) if v.is_unit() => Ok(None),
        Some(v) if v.is_string() => {
            let text = v.to_string();
            Ok((!text.trim().is_empty()).then_some(text))
        }
        // A token id is a decimal number, so an INT is one; every other id is a hex string.
        Some(v) if v.is_int() && key == "asset_id" => Ok(Some(v.to_string())),
        Some(v) => Err(failure(format!(
            "{function}: `{key}` must be a string ({}), not {}",
            match key {
                "market" => "a condition id such as \"0x5f…\"",
                "asset_id" => "a token id",
                "maker_address" => "an address such as \"0xab…\"",
                _ => "an order or trade id such as \"0x1a…\"",
            },
            v.type_name()
        ))),
    }
}

fn time_field(function: &str, map: &Map, key: &str) -> Outcome<Option<i64>> {
    match map.get(key) {
        None => Ok(None),
        Some(v) if v.is_unit() => Ok(None),
        Some(v) => match v.as_int() {
            Ok(ts) => Ok(Some(ts)),
            Err(_) => v.to_string().trim().parse::<i64>().map(Some).map_err(|_| {
                failure(format!(
                    "{function}: `{key}` must be Unix seconds (an int), not {}",
                    v.type_name()
                ))
            }),
        },
    }
}

/// Refuses filter keys the endpoint does not know (a typo would otherwise widen the filter).
fn known_keys(function: &str, map: &Map, allowed: &[&str]) -> Outcome<()> {
    for key in map.keys() {
        if !allowed.contains(&key.as_str()) {
            let hint = super::errors::suggest(key, allowed.iter().copied())
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
            return Err(failure(format!(
                "{function}: unknown filter `{key}` (known: {}){hint}",
                allowed.join(", ")
            )));
        }
    }
    Ok(())
}

fn order_filter(function: &str, map: &Map) -> Outcome<OrderFilter> {
    known_keys(function, map, &["market", "asset_id", "id", "fields"])?;
    Ok(OrderFilter {
        id: text_field(function, map, "id")?,
        market: text_field(function, map, "market")?,
        asset_id: text_field(function, map, "asset_id")?,
    })
}

/// The `fields` entry of an `open_orders` filter: an array of field names, or all fields.
fn order_fields(function: &str, map: &Map) -> Outcome<convert::OrderFields> {
    let Some(value) = map.get("fields") else {
        return Ok(convert::OrderFields::ALL);
    };
    let Some(names) = value.read_lock::<Array>() else {
        return Err(failure(format!(
            "{function}: `fields` must be an array of field names such as [\"id\", \"created_at\"], not {}",
            value.type_name()
        )));
    };
    let names = names
        .iter()
        .map(|name| {
            name.read_lock::<ImmutableString>()
                .map(|s| s.to_string())
                .ok_or_else(|| {
                    failure(format!(
                        "{function}: `fields` must hold field names (strings), not {}",
                        name.type_name()
                    ))
                })
        })
        .collect::<Outcome<Vec<String>>>()?;
    convert::OrderFields::select(names.iter().map(String::as_str))
        .map_err(|e| failure(format!("{function}: {e}")))
}

fn trade_filter(map: &Map) -> Outcome<TradeFilter> {
    let f = "trades";
    known_keys(
        f,
        map,
        &[
            "market",
            "asset_id",
            "id",
            "maker_address",
            "before",
            "after",
        ],
    )?;
    Ok(TradeFilter {
        id: text_field(f, map, "id")?,
        market: text_field(f, map, "market")?,
        asset_id: text_field(f, map, "asset_id")?,
        maker_address: text_field(f, map, "maker_address")?,
        before: time_field(f, map, "before")?,
        after: time_field(f, map, "after")?,
    })
}

/// Order ids from an array of ids or of orders (maps with an `id`).
fn order_ids(function: &str, items: &Array) -> Outcome<Vec<ImmutableString>> {
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            // Ids are shared with the script's own strings, not copied.
            let text = |value: &Dynamic| value.read_lock::<ImmutableString>().map(|s| s.clone());
            if let Some(id) = text(item).or_else(|| super::values::order_id(item)) {
                return Ok(id);
            }
            if let Some(map) = item.read_lock::<Map>()
                && let Some(id) = map.get("id").and_then(text)
            {
                return Ok(id);
            }
            Err(failure(format!(
                "{function}: item {index} is {}; pass order ids (strings) or orders (maps with an `id`)",
                item.type_name()
            )))
        })
        .collect()
}

fn side(function: &str, text: &str) -> Outcome<Side> {
    match text.trim().to_ascii_uppercase().as_str() {
        "BUY" => Ok(Side::Buy),
        "SELL" => Ok(Side::Sell),
        _ => Err(failure(format!(
            "{function}: side must be \"BUY\" or \"SELL\", not {text:?}"
        ))),
    }
}

/// Token ids from an array of strings (or whole numbers), each once, in first-seen order.
fn token_ids(function: &str, items: &Array) -> Outcome<Vec<String>> {
    let mut seen = HashSet::with_capacity(items.len());
    let mut ids = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let id = if let Some(text) = item.read_lock::<ImmutableString>() {
            text.trim().to_owned()
        } else if item.is_int() {
            item.to_string()
        } else {
            return Err(failure(format!(
                "{function}: item {index} is {}; pass token ids (strings)",
                item.type_name()
            )));
        };
        if id.is_empty() {
            return Err(failure(format!(
                "{function}: item {index} is an empty string, not a token id"
            )));
        }
        if seen.insert(id.clone()) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// A map of decimal strings by token id as a map of floats.
fn decimal_map(function: &str, values: BTreeMap<String, String>) -> Outcome<Map> {
    values
        .into_iter()
        .map(|(token, text)| {
            Ok((
                token.into(),
                Dynamic::from_float(decimal_result(function, text)?),
            ))
        })
        .collect()
}

fn decimal_result(function: &str, text: String) -> Outcome<f64> {
    text.trim().parse::<f64>().map_err(|_| {
        failure(format!(
            "{function}: the exchange sent {text:?}, which is not a number"
        ))
    })
}

fn non_empty(text: &str) -> Option<String> {
    let trimmed = text.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}
