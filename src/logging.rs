//! Diagnostic logging to stderr through `tracing`, as text or JSON lines.

use std::io::{IsTerminal, Write as _};
use std::sync::atomic::{AtomicBool, Ordering};

use clap::ValueEnum;
use tracing_subscriber::EnvFilter;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Whether stderr carries JSON lines (`--log-format json`), for output that does not go
/// through `tracing` (error renderings, summaries).
static JSON_LINES: AtomicBool = AtomicBool::new(false);

/// Whether `--log-format json` is in force.
pub fn json_lines() -> bool {
    JSON_LINES.load(Ordering::Relaxed)
}

/// One diagnostic on stderr: `message` as is in text mode; with `--log-format json`, one JSON
/// object in the shape of the `tracing` lines (`timestamp`, `level`, `fields.message` and
/// `extra` fields, `target`), so a multi-line error rendering is one line too.
pub fn emit(level: &str, message: &str, extra: serde_json::Map<String, serde_json::Value>) {
    let text = if json_lines() {
        json_line(level, "clobscript", message, extra)
    } else {
        message.to_owned()
    };
    // A closed stderr is not worth failing over.
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// The JSON form of one diagnostic.
pub fn json_line(
    level: &str,
    target: &str,
    message: &str,
    extra: serde_json::Map<String, serde_json::Value>,
) -> String {
    let mut fields = serde_json::Map::new();
    fields.insert("message".into(), message.into());
    fields.extend(extra);
    serde_json::json!({
        "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "level": level,
        "fields": fields,
        "target": target,
    })
    .to_string()
}

/// Installs the global subscriber once. `verbosity` counts `-v` flags: 0 warnings and the
/// script's own log lines, 1 info, 2 debug, 3+ trace. `RUST_LOG` overrides.
pub fn init(verbosity: u8, format: LogFormat) {
    let level = match verbosity {
        0 => "warn,clobscript=info",
        1 => "info",
        2 => "debug,hyper=info,reqwest=info",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a person reading a terminal, never into files or journald.
        .with_ansi(std::io::stderr().is_terminal());
    JSON_LINES.store(format == LogFormat::Json, Ordering::Relaxed);
    let result = match format {
        LogFormat::Text => builder.with_target(false).try_init(),
        LogFormat::Json => builder.json().with_current_span(false).try_init(),
    };
    // A second init (tests, embedded use) keeps the first subscriber.
    let _ = result;
}
