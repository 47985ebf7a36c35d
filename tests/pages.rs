//! Listings read ahead: when the exchange's cursors are row offsets, pages after the first are
//! fetched several at a time. The rows must be exactly those of the one-page-at-a-time walk, in
//! its order, at the cost of at most `page_window - 1` extra requests; a server whose cursors are
//! not offsets (or stop being offsets, or skip rows) is walked one page at a time from the
//! moment it deviates, still complete and in order.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use clobscript::clob::types::{OpenOrder, Trade, decode_cursor, encode_cursor};
use clobscript::clob::{Client, ClientConfig, OrderFilter, RetryPolicy, TradeFilter};
use clobscript::sim::{SimConfig, SimServer, demo_credentials};
use serde_json::json;
use tokio::net::TcpListener;

const WINDOW: usize = 8;

fn config(url: &str, window: usize) -> ClientConfig {
    let mut config = ClientConfig::new(url, Some(demo_credentials()));
    config.timeout = Duration::from_secs(5);
    config.retry = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        max_elapsed: Duration::from_secs(5),
    };
    config.page_window = window;
    config
}

fn client(url: &str, window: usize) -> Client {
    Client::new(config(url, window)).expect("client builds")
}

/// A safety net so that a regression shows as a failure, not a stuck suite.
async fn bounded<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), future)
        .await
        .expect("the listing finished")
}

fn order_ids(orders: &[OpenOrder]) -> Vec<&str> {
    orders.iter().map(|o| o.id.as_str()).collect()
}

fn trade_ids(trades: &[Trade]) -> Vec<&str> {
    trades.iter().map(|t| t.id.as_str()).collect()
}

/// Lists orders and trades with the sequential walk and with reading ahead, against the same
/// simulator: the same rows in the same order; the sequential walk makes exactly one request
/// per page, reading ahead at most `WINDOW - 1` more per listing.
async fn compare_at(page_size: usize, orders: usize) {
    let server = SimServer::start(SimConfig {
        orders,
        page_size,
        ..SimConfig::default()
    })
    .await
    .expect("simulator starts");
    let expected = server.open_order_ids();
    let key = server.credentials().api_key.clone();
    let pages = |rows: usize| rows.div_ceil(page_size).max(1) as u64;

    let sequential = client(server.url(), 1);
    let before = server.requests_served();
    let walked = bounded(sequential.open_orders(&OrderFilter::default()))
        .await
        .expect("sequential walk");
    let open_pages = pages(walked.len());
    assert_eq!(server.requests_served() - before, open_pages);
    assert_eq!(sequential.stats().requests, open_pages);
    let mut sorted = order_ids(&walked);
    sorted.sort_unstable();
    let mut expected_sorted: Vec<&str> = expected.iter().map(String::as_str).collect();
    expected_sorted.sort_unstable();
    assert_eq!(sorted, expected_sorted, "page size {page_size}");

    let ahead = client(server.url(), WINDOW);
    let before = server.requests_served();
    let read = bounded(ahead.open_orders(&OrderFilter::default()))
        .await
        .expect("reading ahead");
    let served = server.requests_served() - before;
    assert_eq!(
        read, walked,
        "page size {page_size}: same orders, same order"
    );
    assert!(
        (open_pages..open_pages + WINDOW as u64).contains(&served),
        "page size {page_size}: {served} requests for {open_pages} pages"
    );

    let walked_trades = bounded(sequential.trades(&TradeFilter::default()))
        .await
        .expect("sequential trades");
    assert_eq!(walked_trades.len(), server.trades_of(&key).len());
    let before = server.requests_served();
    let read_trades = bounded(ahead.trades(&TradeFilter::default()))
        .await
        .expect("trades reading ahead");
    let served = server.requests_served() - before;
    let trade_pages = pages(walked_trades.len());
    assert_eq!(
        trade_ids(&read_trades),
        trade_ids(&walked_trades),
        "page size {page_size}"
    );
    assert_eq!(read_trades, walked_trades);
    assert!(
        (trade_pages..trade_pages + WINDOW as u64).contains(&served),
        "page size {page_size}: {served} trade requests for {trade_pages} pages"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_ahead_lists_what_the_sequential_walk_lists_at_every_page_size() {
    for page_size in [1, 7, 100, 500] {
        compare_at(page_size, 700).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_that_fills_its_last_page_exactly_is_complete() {
    // 1200 open orders are 12 full pages: the last one names the end cursor, and the pages
    // read past it are dropped.
    let server = SimServer::start(SimConfig {
        open_orders: Some(1200),
        page_size: 100,
        ..SimConfig::default()
    })
    .await
    .expect("simulator starts");
    let listed = bounded(client(server.url(), WINDOW).open_orders(&OrderFilter::default()))
        .await
        .expect("listing");
    assert_eq!(listed.len(), 1200);
    let sequential = bounded(client(server.url(), 1).open_orders(&OrderFilter::default()))
        .await
        .expect("listing");
    assert_eq!(listed, sequential);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filtered_listing_reads_ahead_and_matches_the_sequential_walk() {
    let server = SimServer::start(SimConfig {
        orders: 2000,
        page_size: 13,
        ..SimConfig::default()
    })
    .await
    .expect("simulator starts");
    let all = bounded(client(server.url(), 1).open_orders(&OrderFilter::default()))
        .await
        .expect("listing");
    let market = all[0].market.clone();
    let filter = OrderFilter {
        market: Some(market.clone()),
        ..OrderFilter::default()
    };
    let walked = bounded(client(server.url(), 1).open_orders(&filter))
        .await
        .expect("sequential");
    let read = bounded(client(server.url(), WINDOW).open_orders(&filter))
        .await
        .expect("ahead");
    assert!(walked.len() > 13 * 3, "several pages: {}", walked.len());
    assert!(walked.iter().all(|o| o.market == market));
    assert_eq!(read, walked);
}

// ---- peers whose cursors are not (or stop being) offsets ---------------------------------

/// How a peer names its pages.
#[derive(Clone, Copy, Debug)]
enum Cursors {
    /// `page-N`: opaque tokens, nothing to predict.
    Opaque,
    /// Row offsets for the first pages, opaque tokens from `switch_at` rows on.
    OffsetsThenOpaque { switch_at: usize },
    /// Row offsets, but the rows from `skip_at` on are one further than a page predicts (a
    /// server that skips a row, say one filled in between).
    OffsetsSkipping { skip_at: usize },
    /// Row offsets, with a short page at `short_at` (a server whose page size varies).
    OffsetsShortPage { short_at: usize },
}

struct Peer {
    rows: usize,
    page: usize,
    cursors: Cursors,
    /// Every cursor requested, in arrival order.
    requested: Mutex<Vec<String>>,
    /// Requests being answered now, and the most at once.
    in_flight: Mutex<(usize, usize)>,
}

impl Peer {
    /// The row offset a cursor names; `None` for a cursor this peer never gave.
    fn start_of(&self, cursor: &str) -> Option<usize> {
        if cursor.is_empty() || cursor == "MA==" {
            return Some(0);
        }
        if let Some(n) = cursor.strip_prefix("page-") {
            return n.parse().ok();
        }
        decode_cursor(cursor).and_then(|n| usize::try_from(n).ok())
    }

    /// This page's rows (a range) and the cursor of the next page.
    fn page_at(&self, start: usize) -> (std::ops::Range<usize>, String) {
        let mut len = self.page;
        if let Cursors::OffsetsShortPage { short_at } = self.cursors
            && start == short_at
        {
            len = self.page / 2;
        }
        let end = (start + len).min(self.rows);
        if end >= self.rows {
            return (start..end, "LTE=".to_owned());
        }
        let next = match self.cursors {
            Cursors::Opaque => format!("page-{end}"),
            Cursors::OffsetsThenOpaque { switch_at } if end >= switch_at => format!("page-{end}"),
            Cursors::OffsetsSkipping { skip_at } if end >= skip_at => {
                // Skips row `end`: the next page starts one further on.
                return (start..end, encode_cursor((end + 1) as i64));
            }
            _ => encode_cursor(end as i64),
        };
        (start..end, next)
    }

    /// The rows the sequential walk of this peer yields, and its number of pages.
    fn walk(&self) -> (Vec<String>, usize) {
        let mut ids = Vec::new();
        let mut start = 0;
        let mut pages = 0;
        loop {
            let (rows, next) = self.page_at(start);
            pages += 1;
            ids.extend(rows.map(|n| format!("0x{n:05}")));
            if next == "LTE=" {
                return (ids, pages);
            }
            start = self.start_of(&next).expect("a cursor of this peer");
        }
    }
}

async fn orders(
    State(peer): State<Arc<Peer>>,
    Query(query): Query<BTreeMap<String, String>>,
) -> axum::response::Response {
    let cursor = query.get("next_cursor").cloned().unwrap_or_default();
    peer.requested
        .lock()
        .expect("not poisoned")
        .push(cursor.clone());
    let Some(start) = peer.start_of(&cursor).filter(|s| *s <= peer.rows) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid next_cursor"})),
        )
            .into_response();
    };
    {
        let mut in_flight = peer.in_flight.lock().expect("not poisoned");
        in_flight.0 += 1;
        in_flight.1 = in_flight.1.max(in_flight.0);
    }
    // Long enough for requests sent together to overlap here.
    tokio::time::sleep(Duration::from_millis(5)).await;
    peer.in_flight.lock().expect("not poisoned").0 -= 1;
    let (rows, next) = peer.page_at(start);
    let data: Vec<_> = rows
        .map(|n| json!({"id": format!("0x{n:05}"), "status": "LIVE", "created_at": 1_700_000_000}))
        .collect();
    let count = data.len();
    Json(json!({"data": data, "next_cursor": next, "limit": peer.page, "count": count}))
        .into_response()
}

async fn serve(peer: Arc<Peer>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let router = axum::Router::new()
        .route("/data/orders", axum::routing::get(orders))
        .with_state(peer);
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    url
}

/// Lists a peer reading ahead; checks the rows against the peer's own sequential walk and
/// that the requests are that walk's plus at most the window's overshoot. Returns the cursors
/// the peer was asked for, the number of rows, and the most requests it had in flight at once.
async fn list_peer(cursors: Cursors) -> (Vec<String>, usize, usize) {
    let peer = Arc::new(Peer {
        rows: 1000,
        page: 50,
        cursors,
        requested: Mutex::new(Vec::new()),
        in_flight: Mutex::new((0, 0)),
    });
    let url = serve(peer.clone()).await;
    let listed = bounded(client(&url, WINDOW).open_orders(&OrderFilter::default()))
        .await
        .unwrap_or_else(|e| panic!("{cursors:?}: {e}"));
    let (expected, pages) = peer.walk();
    assert_eq!(
        listed.iter().map(|o| o.id.clone()).collect::<Vec<_>>(),
        expected,
        "{cursors:?}: the rows of the sequential walk, in order"
    );
    let requested = peer.requested.lock().expect("not poisoned").clone();
    assert!(
        (pages..pages + WINDOW).contains(&requested.len()),
        "{cursors:?}: {} requests for {pages} pages: {requested:?}",
        requested.len()
    );
    let most = peer.in_flight.lock().expect("not poisoned").1;
    (requested, expected.len(), most)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opaque_cursors_are_walked_one_page_at_a_time() {
    let (requested, rows, most_at_once) = list_peer(Cursors::Opaque).await;
    assert_eq!(rows, 1000);
    assert_eq!(most_at_once, 1);
    // Nothing to predict: exactly the pages the cursors named, in their order.
    let expected: Vec<String> = std::iter::once("MA==".to_owned())
        .chain((1..20).map(|n| format!("page-{}", n * 50)))
        .collect();
    assert_eq!(requested, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cursors_that_stop_being_offsets_fall_back_and_stay_complete() {
    let (requested, rows, most_at_once) =
        list_peer(Cursors::OffsetsThenOpaque { switch_at: 400 }).await;
    assert_eq!(rows, 1000);
    assert!(most_at_once > 1, "the offset pages were read ahead");
    // Once the walk fell back, each opaque page was asked for exactly once, in order.
    let opaque: Vec<&String> = requested
        .iter()
        .filter(|c| c.starts_with("page-"))
        .collect();
    let expected: Vec<String> = (8..20).map(|n| format!("page-{}", n * 50)).collect();
    assert_eq!(opaque, expected.iter().collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_that_skip_a_row_fall_back_and_list_what_the_cursors_name() {
    let (requested, rows, _) = list_peer(Cursors::OffsetsSkipping { skip_at: 300 }).await;
    assert!(rows < 1000, "the peer skipped rows: {rows}");
    // Pages up to the first skip were read ahead; every later one was asked for once.
    let after_skip = requested
        .iter()
        .filter_map(|c| decode_cursor(c))
        .filter(|offset| *offset > 300)
        .count();
    let mut distinct = requested.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), requested.len(), "no page asked for twice");
    assert!(after_skip > 5, "{requested:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_page_in_the_middle_falls_back_and_stays_complete() {
    let (requested, rows, _) = list_peer(Cursors::OffsetsShortPage { short_at: 500 }).await;
    assert_eq!(rows, 1000);
    // The page after the short one starts at 525, which no prediction named.
    assert!(requested.contains(&encode_cursor(525)), "{requested:?}");
}
