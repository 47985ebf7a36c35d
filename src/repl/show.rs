//! How a result is shown: an array of maps as a table (ids whole, so they can be copied), a map
//! as aligned fields and values, anything else as Rhai prints it; `()` not at all.

use rhai::{Array, Dynamic};

use crate::script::{as_map, is_record, record_word, render_record, render_table};

/// A map, or an order or trade (which read like maps).
fn map_like(value: &Dynamic) -> bool {
    value.is_map() || is_record(value)
}

/// The text to print for a line's value, or `None` for `()`.
pub(crate) fn show(value: &Dynamic) -> Option<String> {
    if value.is_unit() {
        return None;
    }
    if let Some(rows) = value.read_lock::<Array>() {
        let table = !rows.is_empty() && rows.iter().all(map_like);
        return Some(if table {
            render_table(&rows, None)
        } else {
            value.to_string()
        });
    }
    if let Some(map) = as_map(value) {
        return Some(if map.is_empty() {
            "#{}".to_owned()
        } else {
            render_record(&map)
        });
    }
    Some(value.to_string())
}

/// A one-line description of a variable's value for `:vars`: scalars as they are, collections
/// by size (a listing of thousands of orders does not belong in an overview).
pub(crate) fn brief(value: &Dynamic) -> String {
    if let Some(items) = value.read_lock::<Array>() {
        let first = items.first().and_then(record_word);
        let kind =
            if let Some(word) = first.filter(|w| items.iter().all(|i| record_word(i) == Some(w))) {
                format!("{word}s")
            } else if !items.is_empty() && items.iter().all(map_like) {
                "maps".to_owned()
            } else {
                "items".to_owned()
            };
        return format!("array of {} {kind}", items.len());
    }
    if let Some(map) = as_map(value) {
        if map.is_empty() {
            return "#{}".to_owned();
        }
        let mut keys: Vec<&str> = map.keys().map(|k| k.as_str()).collect();
        keys.sort_unstable();
        const SHOWN: usize = 6;
        let more = keys.len().saturating_sub(SHOWN);
        keys.truncate(SHOWN);
        let mut text = format!("map: {}", keys.join(", "));
        if more > 0 {
            text.push_str(&format!(", … ({more} more)"));
        }
        return text;
    }
    if value.is_string() {
        return format!("{value:?}");
    }
    value.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rhai::Map;

    fn order(id: &str, price: f64) -> Dynamic {
        Dynamic::from_map(Map::from([
            ("id".into(), id.into()),
            ("price".into(), Dynamic::from_float(price)),
        ]))
    }

    #[test]
    fn arrays_of_maps_are_tables_and_maps_are_fields() {
        let id = "0x5f0a7c3b2e1d4f6a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a";
        let rows = Dynamic::from_array(vec![order(id, 0.45), order("0x1", 0.5)]);
        let table = show(&rows).expect("shown");
        assert!(table.lines().next().is_some_and(|h| h.contains("| id")));
        assert!(table.contains(id), "{table}");
        let record = show(&order(id, 0.45)).expect("shown");
        assert!(
            record.contains("| field") && record.contains(id),
            "{record}"
        );
    }

    #[test]
    fn scalars_are_plain_and_unit_is_silent() {
        assert_eq!(show(&Dynamic::UNIT), None);
        assert_eq!(show(&Dynamic::from("text")).as_deref(), Some("text"));
        assert_eq!(show(&Dynamic::from_int(42)).as_deref(), Some("42"));
        assert_eq!(show(&Dynamic::from_bool(true)).as_deref(), Some("true"));
        assert_eq!(
            show(&Dynamic::from_array(Vec::new())).as_deref(),
            Some("[]")
        );
        assert_eq!(show(&Dynamic::from_map(Map::new())).as_deref(), Some("#{}"));
    }

    #[test]
    fn variables_are_summarised_by_size() {
        let rows = Dynamic::from_array(vec![order("0x1", 0.1), order("0x2", 0.2)]);
        assert_eq!(brief(&rows), "array of 2 maps");
        assert_eq!(brief(&order("0x1", 0.1)), "map: id, price");
        assert_eq!(brief(&Dynamic::from("0x1")), "\"0x1\"");
    }
}
