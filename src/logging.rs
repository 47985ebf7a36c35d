//! Diagnostic logging to stderr through `tracing`, as text or JSON lines.

use std::io::IsTerminal;

use clap::ValueEnum;
use tracing_subscriber::EnvFilter;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
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
    let result = match format {
        LogFormat::Text => builder.with_target(false).try_init(),
        LogFormat::Json => builder.json().with_current_span(false).try_init(),
    };
    // A second init (tests, embedded use) keeps the first subscriber.
    let _ = result;
}
