//! Cursor bookkeeping for the paginated listings (`/data/orders`, `/data/trades`).
//!
//! The first request sends `MA==`; the last page answers `LTE=`. Any other cursor is passed back
//! verbatim. A server that hands back a cursor it already gave, or that never stops, is an
//! error: a listing that silently loops or stops early is exactly the bug users hit.
//!
//! [`ListingPace`] spaces the listing requests of one client under the exchange's per-IP limit
//! for `/data/orders` and `/data/trades`, so pages fetched in parallel are not queued by it.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::types::{END_CURSOR, INITIAL_CURSOR};

/// The exchange's per-IP limit for each listing endpoint: this many requests per [`PACE_WINDOW`].
pub const LISTING_REQUESTS: u32 = 500;
/// The window of [`LISTING_REQUESTS`].
pub const PACE_WINDOW: Duration = Duration::from_secs(10);
/// How many pages of one listing may be in flight at once by default.
pub const DEFAULT_PAGE_WINDOW: usize = 8;

/// A token bucket per listing endpoint (full at the start, refilled at the limit's rate): each
/// request takes a slot and waits until it comes.
#[derive(Debug)]
pub(crate) struct ListingPace {
    /// Free slots and when they were counted, for `/data/orders` and `/data/trades`.
    buckets: Mutex<[(f64, Instant); 2]>,
}

impl ListingPace {
    pub(crate) fn new() -> Self {
        let now = Instant::now();
        ListingPace {
            buckets: Mutex::new([(f64::from(LISTING_REQUESTS), now); 2]),
        }
    }

    /// Books the next slot for a request to `path`; how long to wait before sending it. Paths
    /// other than the two listings are not paced.
    pub(crate) fn slot(&self, path: &str) -> Duration {
        let index = match path {
            "/data/orders" => 0,
            "/data/trades" => 1,
            _ => return Duration::ZERO,
        };
        let capacity = f64::from(LISTING_REQUESTS);
        let per_second = capacity / PACE_WINDOW.as_secs_f64();
        let now = Instant::now();
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (tokens, at) = &mut buckets[index];
        let refill = now.saturating_duration_since(*at).as_secs_f64() * per_second;
        *tokens = (*tokens + refill).min(capacity) - 1.0;
        *at = now;
        if *tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-*tokens / per_second)
        }
    }
}

/// More pages than any real account has (5 million orders at the production page size).
pub const MAX_PAGES: usize = 10_000;

/// What to do after a page.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// Fetch the page at this cursor.
    Fetch(String),
    /// The listing is complete.
    Done,
}

/// Tracks the cursors of one listing.
#[derive(Debug)]
pub(crate) struct Cursors {
    seen: HashSet<String>,
    current: String,
    pages: usize,
}

impl Cursors {
    pub(crate) fn new() -> Self {
        Self {
            seen: HashSet::from([INITIAL_CURSOR.to_owned()]),
            current: INITIAL_CURSOR.to_owned(),
            pages: 0,
        }
    }

    /// The cursor of the page to fetch now.
    pub(crate) fn current(&self) -> &str {
        &self.current
    }

    /// Records a received page's `next_cursor` and says what comes next, or why the listing
    /// cannot go on.
    pub(crate) fn advance(&mut self, next_cursor: &str) -> Result<Next, String> {
        self.pages += 1;
        let next = next_cursor.trim();
        // An empty cursor cannot be followed (sending none restarts at the first page), so it
        // ends the listing like `LTE=` does.
        if next.is_empty() || next == END_CURSOR {
            return Ok(Next::Done);
        }
        if !self.seen.insert(next.to_owned()) {
            return Err(format!(
                "page {} returned cursor {next:?} again after it was already followed",
                self.pages
            ));
        }
        if self.pages >= MAX_PAGES {
            return Err(format!("more than {MAX_PAGES} pages"));
        }
        self.current = next.to_owned();
        Ok(Next::Fetch(self.current.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clob::types::encode_cursor;

    #[test]
    fn the_pace_lets_a_burst_through_then_spaces_requests_at_the_limits_rate() {
        let pace = ListingPace::new();
        for _ in 0..LISTING_REQUESTS {
            assert_eq!(pace.slot("/data/orders"), Duration::ZERO);
        }
        let wait = pace.slot("/data/orders");
        assert!(wait > Duration::ZERO && wait <= Duration::from_millis(20));
        assert_eq!(pace.slot("/data/trades"), Duration::ZERO, "its own bucket");
        assert_eq!(pace.slot("/book"), Duration::ZERO, "not a listing");
    }

    #[test]
    fn follows_new_cursors_until_the_end_cursor() {
        let mut c = Cursors::new();
        assert_eq!(c.current(), "MA==");
        assert_eq!(c.advance("NTAw"), Ok(Next::Fetch("NTAw".into())));
        assert_eq!(c.current(), "NTAw");
        assert_eq!(c.advance("LTE="), Ok(Next::Done));
    }

    #[test]
    fn empty_cursor_ends_the_listing() {
        assert_eq!(Cursors::new().advance(""), Ok(Next::Done));
    }

    #[test]
    fn a_repeated_cursor_is_an_error() {
        let mut c = Cursors::new();
        assert!(c.advance("NTAw").is_ok());
        assert!(c.advance("MTAwMA==").is_ok());
        assert!(c.advance("NTAw").unwrap_err().contains("again"));
        assert!(Cursors::new().advance("MA==").is_err());
    }

    #[test]
    fn a_listing_that_never_ends_is_an_error() {
        let mut c = Cursors::new();
        let mut outcome = Ok(Next::Done);
        for offset in 1..=MAX_PAGES as i64 + 1 {
            outcome = c.advance(&encode_cursor(offset));
            if outcome.is_err() {
                break;
            }
        }
        assert!(outcome.unwrap_err().contains("pages"));
    }
}
