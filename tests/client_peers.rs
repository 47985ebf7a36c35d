//! `clob::Client` against misbehaving peers: servers that answer garbage or HTML, hang, close
//! connections, refuse them, redirect, announce cancel-only mode, or paginate forever. Each
//! peer is a tiny real server on a loopback port; the client must give a clear, typed error
//! within its bounds (or recover), never panic or hang.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use clobscript::clob::{Client, ClientConfig, ClobError, OrderFilter, RetryPolicy};
use clobscript::sim::demo_credentials;
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// What a raw peer does with every request it reads.
#[derive(Clone)]
enum Behaviour {
    /// Writes these bytes (a whole HTTP response) and closes.
    Reply(String),
    /// Never answers.
    Hang,
    /// Closes the connection without a word.
    Close,
}

struct RawPeer {
    url: String,
    requests: Arc<AtomicUsize>,
}

impl RawPeer {
    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

async fn raw_peer(behaviour: Behaviour) -> RawPeer {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = requests.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let behaviour = behaviour.clone();
            let counter = counter.clone();
            tokio::spawn(async move { serve_raw(stream, behaviour, counter).await });
        }
    });
    RawPeer { url, requests }
}

async fn serve_raw(mut stream: TcpStream, behaviour: Behaviour, counter: Arc<AtomicUsize>) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    // Read the head and the body its Content-Length announces, so the request was fully sent.
    loop {
        let Ok(n) = stream.read(&mut buf).await else {
            return;
        };
        if n == 0 {
            return;
        }
        seen.extend_from_slice(&buf[..n]);
        if let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&seen[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if seen.len() >= end + 4 + length {
                break;
            }
        }
    }
    counter.fetch_add(1, Ordering::SeqCst);
    match behaviour {
        Behaviour::Reply(response) => {
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        }
        Behaviour::Hang => tokio::time::sleep(Duration::from_secs(3600)).await,
        Behaviour::Close => drop(stream),
    }
}

fn http_response(status: &str, content_type: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn client_for(url: &str, attempts: u32) -> Client {
    let mut config = ClientConfig::new(url, Some(demo_credentials()));
    config.timeout = Duration::from_millis(300);
    config.retry = RetryPolicy {
        max_attempts: attempts,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        max_elapsed: Duration::from_secs(5),
    };
    Client::new(config).expect("client builds")
}

/// A safety net so that a regression shows as a failure, not a stuck suite.
async fn bounded<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), future)
        .await
        .expect("the client gave up within its own bounds")
}

#[tokio::test]
async fn a_garbage_answer_is_a_not_json_error_and_is_not_retried() {
    let peer = raw_peer(Behaviour::Reply(http_response(
        "200 OK",
        "application/json",
        "}{ this is not json",
    )))
    .await;
    let client = client_for(&peer.url, 4);
    let err = bounded(client.book("123")).await.unwrap_err();
    assert!(
        matches!(err, ClobError::NotJson { status: 200, .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("instead of JSON"), "{message}");
    assert!(message.contains("this is not json"), "{message}");
    assert_eq!(peer.requests(), 1);
}

#[tokio::test]
async fn an_html_error_page_is_retried_then_reported_as_the_exchange_being_unavailable() {
    let peer = raw_peer(Behaviour::Reply(http_response(
        "502 Bad Gateway",
        "text/html",
        "<html><body><h1>502 Bad Gateway</h1></body></html>",
    )))
    .await;
    let client = client_for(&peer.url, 3);
    let err = bounded(client.open_orders(&OrderFilter::default()))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ClobError::Unavailable {
                status: 502,
                attempts: 3,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("HTML page"), "{err}");
    assert_eq!(peer.requests(), 3);
    assert_eq!(client.stats().retries, 2);
}

#[tokio::test]
async fn an_html_page_on_a_4xx_points_at_the_host_setting() {
    let peer = raw_peer(Behaviour::Reply(http_response(
        "403 Forbidden",
        "text/html",
        "<html>blocked</html>",
    )))
    .await;
    let err = bounded(client_for(&peer.url, 3).server_time())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ClobError::NotJson {
                status: 403,
                html: true,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("--host"), "{err}");
    assert_eq!(peer.requests(), 1, "a 4xx is never retried");
}

#[tokio::test]
async fn a_server_that_hangs_is_a_timeout_error_after_the_bounded_attempts() {
    let peer = raw_peer(Behaviour::Hang).await;
    let client = client_for(&peer.url, 2);
    let err = bounded(client.open_orders(&OrderFilter::default()))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClobError::Timeout { attempts: 2, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("no answer from"), "{err}");
    assert_eq!(peer.requests(), 2);
}

#[tokio::test]
async fn a_server_that_closes_connections_is_a_connection_error() {
    let peer = raw_peer(Behaviour::Close).await;
    let client = client_for(&peer.url, 3);
    let err = bounded(client.server_time()).await.unwrap_err();
    assert!(
        matches!(err, ClobError::Connection { attempts: 3, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("cannot talk to"), "{err}");
    assert_eq!(peer.requests(), 3);
}

#[tokio::test]
async fn a_cancel_whose_connection_closed_after_sending_is_reported_as_uncertain() {
    let peer = raw_peer(Behaviour::Close).await;
    let err = bounded(client_for(&peer.url, 2).cancel("0xabc"))
        .await
        .unwrap_err();
    assert!(matches!(err, ClobError::CancelUncertain { .. }), "{err:?}");
    assert!(err.to_string().contains("re-read the open orders"), "{err}");

    let ids: Vec<String> = (0..4000).map(|i| format!("0x{i:x}")).collect();
    let err = bounded(client_for(&peer.url, 2).cancel_orders(&ids))
        .await
        .unwrap_err();
    let ClobError::CancelIncomplete {
        partial,
        unknown,
        unsent,
        ..
    } = &err
    else {
        panic!("expected an incomplete cancel, got {err:?}");
    };
    assert!(partial.canceled.is_empty() && partial.not_canceled.is_empty());
    // The batches that went out may have been applied; once one has failed for good the rest
    // are not sent at all, and every id is accounted for.
    assert!(!unknown.is_empty(), "{err:?}");
    assert_eq!(unknown.len() + unsent.len(), 4000);
    assert!(!unsent.is_empty(), "the rest was held back: {err:?}");
}

#[tokio::test]
async fn a_cancel_that_never_reached_the_exchange_is_a_plain_connection_error() {
    // A port with nobody listening: every connection is refused, so nothing was sent.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    drop(listener);
    let client = client_for(&url, 2);
    let err = bounded(client.cancel("0xabc")).await.unwrap_err();
    assert!(matches!(err, ClobError::Connection { .. }), "{err:?}");
    let err = bounded(client.cancel_orders(&["0xa", "0xb"]))
        .await
        .unwrap_err();
    assert!(matches!(err, ClobError::Connection { .. }), "{err:?}");
}

#[tokio::test]
async fn a_cancel_answered_with_garbage_is_reported_as_uncertain() {
    let peer = raw_peer(Behaviour::Reply(http_response(
        "200 OK",
        "application/json",
        "{\"canceled\":[\"0xabc\"",
    )))
    .await;
    let err = bounded(client_for(&peer.url, 3).cancel("0xabc"))
        .await
        .unwrap_err();
    let ClobError::CancelUncertain { source } = &err else {
        panic!("expected an uncertain cancel, got {err:?}");
    };
    assert!(matches!(**source, ClobError::NotJson { .. }), "{source:?}");
    assert_eq!(peer.requests(), 1);
}

#[tokio::test]
async fn cancel_only_mode_is_named_and_not_retried() {
    let peer = raw_peer(Behaviour::Reply(http_response(
        "503 Service Unavailable",
        "application/json",
        &json!({"error": clobscript::clob::messages::CANCEL_ONLY}).to_string(),
    )))
    .await;
    let client = client_for(&peer.url, 4);
    let err = bounded(client.open_orders(&OrderFilter::default()))
        .await
        .unwrap_err();
    assert!(matches!(err, ClobError::CancelOnly { .. }), "{err:?}");
    assert!(err.to_string().contains("cancel-only"), "{err}");
    assert_eq!(peer.requests(), 1);
}

#[tokio::test]
async fn a_redirect_is_not_followed_and_names_the_target() {
    let peer = raw_peer(Behaviour::Reply(
        "HTTP/1.1 301 Moved Permanently\r\nLocation: https://elsewhere.example/\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            .to_owned(),
    ))
    .await;
    let err = bounded(client_for(&peer.url, 3).cancel_all())
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClobError::UnexpectedResponse { status: 301, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("https://elsewhere.example/"),
        "{err}"
    );
    assert_eq!(peer.requests(), 1);
}

#[tokio::test]
async fn a_401_with_an_unreadable_clock_is_still_reported_as_bad_credentials() {
    let peer = raw_peer(Behaviour::Reply(http_response(
        "401 Unauthorized",
        "application/json",
        "{\"error\":\"Unauthorized/Invalid api key\"}",
    )))
    .await;
    let err = bounded(client_for(&peer.url, 3).order("0xabc"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ClobError::Unauthorized {
                skew_secs: None,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn a_host_that_is_not_an_http_url_is_refused_up_front() {
    for host in [
        "clob.polymarket.com",
        "ftp://example.com",
        "http://",
        "https://x/?a=b",
    ] {
        let err = Client::public(host).unwrap_err();
        assert!(
            matches!(err, ClobError::InvalidHost { .. }),
            "{host}: {err:?}"
        );
    }
}

// ---- pagination peers (axum, routed by cursor) --------------------------------------------

#[derive(Default)]
struct Pages {
    /// Requests seen per cursor.
    hits: Mutex<BTreeMap<String, usize>>,
}

async fn serve_pages(router: axum::Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    url
}

fn order(id: &str) -> serde_json::Value {
    json!({"id": id, "status": "LIVE", "asset_id": "1".repeat(78), "created_at": 1_700_000_000})
}

#[tokio::test]
async fn a_failed_page_is_retried_on_its_own_not_from_the_first_page() {
    async fn orders(
        State(pages): State<Arc<Pages>>,
        Query(query): Query<BTreeMap<String, String>>,
    ) -> axum::response::Response {
        let cursor = query.get("next_cursor").cloned().unwrap_or_default();
        let hits = {
            let mut hits = pages.hits.lock().unwrap();
            let n = hits.entry(cursor.clone()).or_default();
            *n += 1;
            *n
        };
        match cursor.as_str() {
            "MA==" => Json(json!({"data": [order("0x1"), order("0x2")], "next_cursor": "Mg==", "limit": 2, "count": 2})).into_response(),
            // The second page fails twice before it is served.
            "Mg==" if hits <= 2 => (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({"error": "boom"}))).into_response(),
            "Mg==" => Json(json!({"data": [order("0x3")], "next_cursor": "LTE=", "limit": 2, "count": 1})).into_response(),
            _ => (StatusCode::BAD_REQUEST, Json(json!({"error": "bad cursor"}))).into_response(),
        }
    }
    let pages = Arc::new(Pages::default());
    let url = serve_pages(
        axum::Router::new()
            .route("/data/orders", axum::routing::get(orders))
            .with_state(pages.clone()),
    )
    .await;
    let client = client_for(&url, 4);
    let listed = bounded(client.open_orders(&OrderFilter::default()))
        .await
        .expect("recovers");
    let ids: Vec<&str> = listed.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(ids, ["0x1", "0x2", "0x3"]);
    assert_eq!(listed[0].asset_id.len(), 78);
    let hits = pages.hits.lock().unwrap().clone();
    assert_eq!(
        hits,
        BTreeMap::from([("MA==".into(), 1), ("Mg==".into(), 3)])
    );
    assert_eq!(client.stats().retries, 2);
}

#[tokio::test]
async fn a_listing_that_repeats_a_cursor_is_an_error_not_an_endless_loop() {
    async fn orders(Query(query): Query<BTreeMap<String, String>>) -> Json<serde_json::Value> {
        let cursor = query.get("next_cursor").cloned().unwrap_or_default();
        // Always points back to the second page.
        Json(
            json!({"data": [order(&format!("0x{cursor}"))], "next_cursor": "MQ==", "limit": 1, "count": 1}),
        )
    }
    let url =
        serve_pages(axum::Router::new().route("/data/orders", axum::routing::get(orders))).await;
    let client = client_for(&url, 2);
    let err = bounded(client.open_orders(&OrderFilter::default()))
        .await
        .unwrap_err();
    assert!(matches!(err, ClobError::Pagination { .. }), "{err:?}");
    assert!(err.to_string().contains("MQ=="), "{err}");
    assert_eq!(client.stats().requests, 2);
}

#[tokio::test]
async fn tolerant_shapes_null_arrays_camel_case_string_numbers_and_lower_case_statuses_are_accepted()
 {
    async fn cancel() -> Json<serde_json::Value> {
        Json(json!({"canceled": null, "notCanceled": {"0xa": "the order is already canceled"}}))
    }
    async fn tick() -> Json<serde_json::Value> {
        Json(json!({"minimum_tick_size": "0.001"}))
    }
    async fn time() -> Json<serde_json::Value> {
        Json(json!("1700000000"))
    }
    async fn orders() -> Json<serde_json::Value> {
        Json(
            json!({"data": [{"id": "0x1", "status": "live", "side": "buy", "created_at": "1700000000", "associate_trades": null}], "next_cursor": "LTE="}),
        )
    }
    async fn trades() -> Json<serde_json::Value> {
        Json(json!({"data": null, "next_cursor": ""}))
    }
    let url = serve_pages(
        axum::Router::new()
            .route("/orders", axum::routing::delete(cancel))
            .route("/tick-size", axum::routing::get(tick))
            .route("/time", axum::routing::get(time))
            .route("/data/orders", axum::routing::get(orders))
            .route("/data/trades", axum::routing::get(trades)),
    )
    .await;
    let client = client_for(&url, 2);
    let result = client.cancel_orders(&["0xa"]).await.expect("cancel");
    assert!(result.canceled.is_empty());
    assert_eq!(result.not_canceled["0xa"], "the order is already canceled");
    assert_eq!(client.tick_size("1").await.expect("tick"), 0.001);
    assert_eq!(client.server_time().await.expect("time"), 1_700_000_000);
    let orders = client
        .open_orders(&OrderFilter::default())
        .await
        .expect("orders");
    assert_eq!(
        (orders[0].status.as_str(), orders[0].side.as_str()),
        ("LIVE", "BUY")
    );
    assert_eq!(orders[0].created_at, 1_700_000_000);
    assert!(orders[0].associate_trades.is_empty());
    let trades = client.trades(&Default::default()).await.expect("trades");
    assert!(trades.is_empty());
}
