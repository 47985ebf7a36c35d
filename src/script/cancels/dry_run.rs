//! The dry run's side of the cancel path: the listing of what would be canceled (a table of
//! the first rows, every row in the result) and the real run's plan.

use std::time::Duration;

use rhai::{Array, Dynamic, ImmutableString, Map};

use crate::clob::CancelPlan;

/// Rows of a dry run's listing shown as a table (all of them are in the `--json` result).
pub(crate) const LISTED_ROWS: usize = 20;

/// A dry run's listing: one row per id, with what the script's order maps tell of it (id in
/// full, market, outcome, side, price, size left, age).
pub(crate) fn listing_rows(ids: &[ImmutableString], orders: Option<&Array>, now: i64) -> Array {
    let mut known: std::collections::HashMap<ImmutableString, Map> =
        std::collections::HashMap::new();
    for item in orders.into_iter().flatten() {
        // Order maps and order records alike.
        let Some(order) = crate::script::as_map(item) else {
            continue;
        };
        let Some(id) = order
            .get("id")
            .and_then(|v| v.read_lock::<ImmutableString>().map(|s| s.clone()))
        else {
            continue;
        };
        let mut row = Map::new();
        row.insert("id".into(), Dynamic::from(id.clone()));
        for key in ["market", "outcome", "side", "price"] {
            if let Some(value) = order.get(key) {
                row.insert(key.into(), value.clone());
            }
        }
        let number = |key: &str| {
            order.get(key).and_then(|v| {
                v.as_float()
                    .ok()
                    .or_else(|| v.as_int().ok().map(|i| i as f64))
            })
        };
        if let Some(original) = number("original_size") {
            let left = original - number("size_matched").unwrap_or(0.0);
            row.insert("size_left".into(), Dynamic::from_float(left));
        }
        if let Some(created) = order.get("created_at").and_then(|v| v.as_int().ok())
            && created > 0
        {
            row.insert(
                "age".into(),
                Dynamic::from(short_age(now.saturating_sub(created).max(0))),
            );
        }
        known.insert(id, row);
    }
    ids.iter()
        .map(|id| {
            let row = known.remove(id).unwrap_or_else(|| {
                let mut row = Map::new();
                row.insert("id".into(), Dynamic::from(id.clone()));
                row
            });
            Dynamic::from_map(row)
        })
        .collect()
}

/// The first `limit` rows as a table, and how many there are in all.
/// An order's age the way a trader reads it at a glance: its two largest units (`1d 23h`,
/// `47m 5s`, `12s`).
fn short_age(seconds: i64) -> String {
    let units = [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)];
    let mut parts = Vec::new();
    let mut left = seconds;
    for (name, size) in units {
        if left >= size || (parts.is_empty() && size == 1) {
            parts.push(format!("{}{name}", left / size));
            left %= size;
        } else if !parts.is_empty() {
            // A zero between two shown units is still shown: `1d 0h`, not `1d 5m`.
            parts.push(format!("0{name}"));
        }
        if parts.len() == 2 {
            break;
        }
    }
    parts.join(" ")
}

pub(crate) fn listing_table(rows: &Array, limit: usize) -> String {
    let columns: Vec<String> = [
        "id",
        "market",
        "outcome",
        "side",
        "price",
        "size_left",
        "age",
    ]
    .into_iter()
    .filter(|c| {
        *c == "id"
            || rows
                .iter()
                .take(limit)
                .any(|r| r.read_lock::<Map>().is_some_and(|m| m.contains_key(*c)))
    })
    .map(str::to_owned)
    .collect();
    let shown: Array = rows.iter().take(limit).cloned().collect();
    let mut text = crate::script::output::render_table(&shown, Some(columns));
    let total = rows.len();
    if total > limit {
        text.push_str(&format!(
            "\n… and {} more: {total} orders would be canceled (the call's result lists them all under `would_cancel_orders`; `run --json` prints it)",
            total - limit
        ));
    } else {
        text.push_str(&format!(
            "\n{total} order{} would be canceled",
            super::plural(total as u64)
        ));
    }
    text
}

/// `dry run: 5000 cancels in 42 requests of up to 120 ids, about 1m 1s at the standard tier`.
pub(crate) fn describe_plan(function: &str, plan: &CancelPlan) -> String {
    let tier = if plan.pacer.unmetered {
        "the exchange meters nothing".to_owned()
    } else if plan.pacer.tier.is_some() {
        format!("at the {} tier", plan.pacer.assumed_tier)
    } else {
        format!(
            "at the {} tier (assumed until the exchange reports it)",
            plan.pacer.assumed_tier
        )
    };
    format!(
        "dry run: {function} would send {} cancel{} in {} request{} of up to {} ids, taking about {} ({tier}); nothing was sent",
        plan.ids,
        super::plural(plan.ids as u64),
        plan.requests,
        super::plural(plan.requests as u64),
        plan.batch_limit,
        about(plan.duration),
    )
}

/// A duration as an estimate: whole seconds from a second on (`2m 2s`, not `2m 2s 287ms`).
fn about(duration: Duration) -> String {
    let shown = if duration >= Duration::from_secs(1) {
        Duration::from_secs(duration.as_secs() + u64::from(duration.subsec_millis() >= 500))
    } else {
        Duration::from_millis(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX))
    };
    humantime::format_duration(shown).to_string()
}

/// The plan as a map for the script's result.
pub(crate) fn plan_map(plan: &CancelPlan) -> Map {
    let mut map = Map::new();
    map.insert("requests".into(), Dynamic::from_int(plan.requests as i64));
    map.insert(
        "batch_limit".into(),
        Dynamic::from_int(plan.batch_limit as i64),
    );
    map.insert(
        "seconds".into(),
        Dynamic::from_float((plan.duration.as_secs_f64() * 1000.0).round() / 1000.0),
    );
    map.insert(
        "tier".into(),
        Dynamic::from(plan.pacer.assumed_tier.name().to_owned()),
    );
    map.insert(
        "tier_known".into(),
        Dynamic::from_bool(plan.pacer.tier.is_some()),
    );
    map.insert("unmetered".into(), Dynamic::from_bool(plan.pacer.unmetered));
    map
}

#[cfg(test)]
mod tests {
    use super::{Duration, about, short_age};

    #[test]
    fn an_estimate_shows_whole_seconds_from_a_second_on() {
        assert_eq!(about(Duration::from_millis(122_287)), "2m 2s");
        assert_eq!(about(Duration::from_millis(1_500)), "2s");
        assert_eq!(about(Duration::from_millis(300)), "300ms");
        assert_eq!(about(Duration::ZERO), "0s");
    }

    #[test]
    fn ages_show_their_two_largest_units() {
        assert_eq!(short_age(0), "0s");
        assert_eq!(short_age(12), "12s");
        assert_eq!(short_age(47 * 60 + 5), "47m 5s");
        assert_eq!(short_age(3 * 3600), "3h 0m");
        assert_eq!(short_age(86_400 + 23 * 3600 + 33 * 60), "1d 23h");
        assert_eq!(short_age(86_400 + 5 * 60), "1d 0h");
    }
}
