//! What a script shows: tables, and a progress spinner on stderr for long fetches.

use std::future::Future;
use std::time::{Duration, Instant};

use comfy_table::{CellAlignment, ContentArrangement, Table};
use rhai::{Array, Dynamic, Map};

use crate::clob::Client;

/// How a script's stderr lines are written: plain text, or JSON lines (`--log-format json`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StderrLines {
    #[default]
    Text,
    Json,
}

/// One line of script output on stderr in the shape of the `tracing` JSON lines.
pub(crate) fn json_line(level: &str, target: &str, message: &str) -> String {
    serde_json::json!({
        "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "level": level,
        "fields": {"message": message},
        "target": target,
    })
    .to_string()
}

/// How long a fetch runs before a spinner appears.
const SPINNER_DELAY: Duration = Duration::from_millis(400);

/// A number or value as a table cell: floats without float noise, ids never shortened.
fn cell_text(value: &Dynamic) -> String {
    if value.is_unit() {
        String::new()
    } else if let Ok(f) = value.as_float() {
        format_float(f)
    } else if value.is_string() || value.is_int() || value.is_bool() {
        value.to_string()
    } else {
        super::convert::to_json(value).to_string()
    }
}

/// Up to 6 decimals, trailing zeros dropped (`0.45`, `12`, `0.333333`).
pub(crate) fn format_float(f: f64) -> String {
    if !f.is_finite() {
        return f.to_string();
    }
    let text = format!("{f:.6}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}

/// Renders rows (maps) as a Markdown-style table. Without `columns`, every key of every row is
/// a column, `id` first and the rest alphabetical. Non-map rows become a `value` column.
pub(crate) fn render_table(rows: &Array, columns: Option<Vec<String>>) -> String {
    if rows.is_empty() {
        return "(no rows)".to_owned();
    }
    let maps: Vec<Map> = rows
        .iter()
        .map(|row| {
            super::values::as_map(row).unwrap_or_else(|| Map::from([("value".into(), row.clone())]))
        })
        .collect();
    let columns = columns.unwrap_or_else(|| {
        let mut keys: Vec<String> = Vec::new();
        for map in &maps {
            for key in map.keys() {
                if !keys.iter().any(|k| k == key.as_str()) {
                    keys.push(key.to_string());
                }
            }
        }
        keys.sort();
        if let Some(i) = keys.iter().position(|k| k == "id") {
            let id = keys.remove(i);
            keys.insert(0, id);
        }
        keys
    });
    let mut table = Table::new();
    table
        .load_style(comfy_table::presets::ASCII_MARKDOWN)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(columns.iter().map(String::as_str));
    for map in &maps {
        table.add_row(
            columns
                .iter()
                .map(|c| map.get(c.as_str()).map(cell_text).unwrap_or_default()),
        );
    }
    // Numbers line up on the right.
    for (index, name) in columns.iter().enumerate() {
        let numeric = maps.iter().all(|m| {
            m.get(name.as_str())
                .is_none_or(|v| v.is_int() || v.is_float() || v.is_unit())
        });
        if numeric && let Some(column) = table.column_mut(index) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    table.to_string()
}

/// One map as a two-column key/value table.
pub(crate) fn render_record(map: &Map) -> String {
    let rows: Array = map
        .iter()
        .map(|(key, value)| {
            Dynamic::from_map(Map::from([
                ("field".into(), Dynamic::from(key.to_string())),
                ("value".into(), Dynamic::from(cell_text(value))),
            ]))
        })
        .collect();
    render_table(&rows, Some(vec!["field".into(), "value".into()]))
}

/// Awaits `work`; if it takes a while and `show` is set, a spinner on stderr shows what is
/// being fetched and how many requests it has taken so far.
pub(crate) async fn with_progress<F: Future>(
    label: &str,
    client: &Client,
    show: bool,
    work: F,
) -> F::Output {
    if !show {
        return work.await;
    }
    let started = Instant::now();
    let requests_before = client.stats().requests;
    let mut spinner: Option<indicatif::ProgressBar> = None;
    let mut tick = tokio::time::interval(Duration::from_millis(120));
    tokio::pin!(work);
    loop {
        tokio::select! {
            output = &mut work => {
                if let Some(spinner) = spinner {
                    spinner.finish_and_clear();
                }
                return output;
            }
            _ = tick.tick() => {
                if started.elapsed() < SPINNER_DELAY {
                    continue;
                }
                let bar = spinner.get_or_insert_with(|| {
                    let bar = indicatif::ProgressBar::new_spinner();
                    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                    bar
                });
                let requests = client.stats().requests.saturating_sub(requests_before);
                bar.set_message(format!(
                    "{label}: {requests} request{} so far, {:.1}s",
                    super::cancels::plural(requests),
                    started.elapsed().as_secs_f64()
                ));
                bar.tick();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, price: f64, size: i64) -> Dynamic {
        Dynamic::from_map(Map::from([
            ("id".into(), id.into()),
            ("price".into(), Dynamic::from_float(price)),
            ("size".into(), Dynamic::from_int(size)),
        ]))
    }

    #[test]
    fn tables_keep_ids_whole_and_align_numbers() {
        let long_id = "0x5f0a7c3b2e1d4f6a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a";
        let text = render_table(
            &vec![row(long_id, 0.45, 10), row("0x1", 0.1 + 0.2, 250)],
            None,
        );
        let expected = [
            "| id                                                                 | price | size |",
            "|--------------------------------------------------------------------|-------|------|",
            "| 0x5f0a7c3b2e1d4f6a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a |  0.45 |   10 |",
            "| 0x1                                                                |   0.3 |  250 |",
        ]
        .join("\n");
        assert_eq!(text, expected);
        assert_eq!(render_table(&Array::new(), None), "(no rows)");
    }

    #[test]
    fn floats_are_shown_without_noise() {
        assert_eq!(format_float(12.0), "12");
        assert_eq!(format_float(0.1 + 0.2), "0.3");
        assert_eq!(format_float(1.0 / 3.0), "0.333333");
        assert_eq!(format_float(-0.0000001), "0");
    }
}
