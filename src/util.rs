//! Small parsers shared by the command line and the files it reads (the jobs file).

use std::time::Duration;

/// Parses a human duration such as `90s`, `5m`, `1h 30m` or `250ms`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim()).map_err(|e| {
        format!("`{text}` is not a duration ({e}); write e.g. `90s`, `5m`, `1h 30m` or `250ms`")
    })
}
