//! The simulator over real HTTP: the public endpoints, every auth failure, the request shapes
//! the official clients send, malformed input, and the `sim` binary itself (orders, listings and
//! cancels are in `sim_orders.rs`, heartbeats, faults and fixtures in `sim_faults.rs`, rate
//! limits in `sim_ratelimit.rs`). Requests are signed with `SigningKey` and sent with reqwest;
//! the exchange state is checked through the server's inspection helpers afterwards.

use clobscript::clob::types::{
    CancelResponse, HeartbeatResponse, MidpointResponse, OpenOrder, OrderBook, Page, PriceResponse,
    SpreadResponse, TickSizeResponse, messages,
};
use clobscript::clob::{Secret, SigningKey};
use clobscript::sim::{SimConfig, demo_credentials};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[path = "common/mod.rs"]
mod support;
use support::l2::*;
use support::{Output, isolated_in, unix_now};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_endpoints_answer_with_the_documented_shapes() {
    let server = start(config(300)).await;
    let root: String = public(&server, "/", &[]).await;
    let ok: String = public(&server, "/ok", &[]).await;
    assert_eq!((root.as_str(), ok.as_str()), ("OK", "OK"));
    let time: i64 = public(&server, "/time", &[]).await;
    assert!((time - unix_now()).abs() <= 2, "{time}");

    let tokens = server.token_ids();
    assert!(tokens.len() >= 10);
    for token in &tokens {
        let q = [("token_id", token.as_str())];
        let book: OrderBook = public(&server, "/book", &q).await;
        assert_eq!(book.hash, book.compute_hash());
        assert_eq!(&book.asset_id, token);
        let bids: Vec<f64> = book.bids.iter().map(|l| decimal(&l.price)).collect();
        let asks: Vec<f64> = book.asks.iter().map(|l| decimal(&l.price)).collect();
        assert!(bids.windows(2).all(|w| w[0] < w[1]), "bids best-last");
        assert!(asks.windows(2).all(|w| w[0] > w[1]), "asks best-last");
        let (best_bid, best_ask) = (*bids.last().expect("bids"), *asks.last().expect("asks"));
        assert!(best_bid < best_ask);

        let mid: MidpointResponse = public(&server, "/midpoint", &q).await;
        assert!((decimal(&mid.mid) - (best_bid + best_ask) / 2.0).abs() < 1e-9);
        let buy: PriceResponse =
            public(&server, "/price", &[("token_id", token), ("side", "BUY")]).await;
        let sell: PriceResponse =
            public(&server, "/price", &[("token_id", token), ("side", "SELL")]).await;
        assert_eq!(
            (decimal(&buy.price), decimal(&sell.price)),
            (best_bid, best_ask)
        );
        let spread: SpreadResponse = public(&server, "/spread", &q).await;
        assert!((decimal(&spread.spread) - (best_ask - best_bid)).abs() < 1e-9);
        let tick: TickSizeResponse = public(&server, "/tick-size", &q).await;
        assert_eq!(tick.minimum_tick_size, decimal(&book.tick_size));
        // The tick is a JSON number on the wire.
        let raw: serde_json::Value = public(&server, "/tick-size", &q).await;
        assert!(raw["minimum_tick_size"].is_number());
    }

    let http = reqwest::Client::new();
    let get = |query: &'static str| http.get(format!("{}/book?{query}", server.url())).send();
    assert_eq!(
        error_of(get("token_id=abc").await.expect("sent")).await,
        (StatusCode::BAD_REQUEST, messages::INVALID_TOKEN.to_owned())
    );
    assert_eq!(
        error_of(get("").await.expect("sent")).await,
        (StatusCode::BAD_REQUEST, messages::INVALID_TOKEN.to_owned())
    );
    assert_eq!(
        error_of(get("token_id=123").await.expect("sent")).await,
        (StatusCode::NOT_FOUND, messages::NO_ORDERBOOK.to_owned())
    );
    let bad_side = http
        .get(format!(
            "{}/price?token_id={}&side=HOLD",
            server.url(),
            tokens[0]
        ))
        .send()
        .await
        .expect("sent");
    assert_eq!(bad_side.status(), StatusCode::BAD_REQUEST);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_auth_failure_is_401_with_the_documented_body_and_changes_nothing() {
    let server = start(config(200)).await;
    let api = Api::primary(&server);
    let victim = server.open_order_ids()[0].clone();
    let body = json!({ "orderID": victim }).to_string();
    let now = unix_now();
    let good = api.headers(now, &Method::DELETE, "/order", Some(&body));
    let replace = |name: &str, value: &str| -> Vec<(&'static str, String)> {
        good.iter()
            .map(|(n, v)| {
                (
                    *n,
                    if *n == name {
                        value.to_owned()
                    } else {
                        v.clone()
                    },
                )
            })
            .collect()
    };
    let stale = |ts: i64| api.headers(ts, &Method::DELETE, "/order", Some(&body));
    let other_secret =
        SigningKey::from_secret(&Secret::new("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="))
            .expect("valid")
            .sign(now, "DELETE", "/order", Some(&body));
    let cases: Vec<(&str, Vec<(&'static str, String)>)> = vec![
        (
            "wrong api key",
            replace("POLY_API_KEY", "00000000-0000-4000-8000-000000000000"),
        ),
        (
            "wrong passphrase",
            replace("POLY_PASSPHRASE", "not-the-passphrase"),
        ),
        (
            "wrong address",
            replace("POLY_ADDRESS", "0x1111111111111111111111111111111111111111"),
        ),
        (
            "signature of another secret",
            replace("POLY_SIGNATURE", &other_secret),
        ),
        (
            "signature not base64",
            replace("POLY_SIGNATURE", "not a signature"),
        ),
        (
            "timestamp not a number",
            replace("POLY_TIMESTAMP", "yesterday"),
        ),
        ("timestamp 31 s old", stale(now - 31)),
        ("timestamp 31 s ahead", stale(now + 31)),
        (
            "signed for another path",
            api.headers(now, &Method::DELETE, "/orders", Some(&body)),
        ),
        (
            "signed for another method",
            api.headers(now, &Method::GET, "/order", Some(&body)),
        ),
        (
            "signed without the body",
            api.headers(now, &Method::DELETE, "/order", None),
        ),
    ];
    let mut missing = Vec::new();
    for name in [
        "POLY_ADDRESS",
        "POLY_API_KEY",
        "POLY_PASSPHRASE",
        "POLY_TIMESTAMP",
        "POLY_SIGNATURE",
    ] {
        missing.push((
            name,
            good.iter().filter(|(n, _)| *n != name).cloned().collect(),
        ));
    }
    for (case, headers) in cases.into_iter().chain(missing) {
        let response = api
            .send_with(Method::DELETE, "/order", &[], Some(body.clone()), headers)
            .await
            .expect("sent");
        assert_eq!(
            error_of(response).await,
            (StatusCode::UNAUTHORIZED, messages::UNAUTHORIZED.to_owned()),
            "{case}"
        );
    }
    assert_eq!(server.order_status(&victim).as_deref(), Some("LIVE"));

    // Within the window, both directions of clock difference are fine.
    for ts in [now - 25, now + 25] {
        let headers = api.headers(ts, &Method::GET, "/data/orders", None);
        let response = api
            .send_with(
                Method::GET,
                "/data/orders",
                &[("id", &victim)],
                None,
                headers,
            )
            .await
            .expect("sent");
        assert_eq!(response.status(), StatusCode::OK);
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_signature_serves_every_page_and_the_address_matches_in_any_case() {
    // As the official Python and TypeScript clients do: sign once, reuse for every page.
    let server = start(SimConfig {
        page_size: 100,
        ..config(600)
    })
    .await;
    let mut api = Api::primary(&server);
    api.credentials.address = api
        .credentials
        .address
        .to_uppercase()
        .replacen("0X", "0x", 1);
    let headers = api.headers(unix_now(), &Method::GET, "/data/orders", None);
    let mut cursor = "MA==".to_owned();
    let mut seen = Vec::new();
    while cursor != "LTE=" {
        let response = api
            .send_with(
                Method::GET,
                "/data/orders",
                &[("next_cursor", &cursor)],
                None,
                headers.clone(),
            )
            .await
            .expect("sent");
        assert_eq!(response.status(), StatusCode::OK);
        let page: Page<OpenOrder> = response.json().await.expect("page");
        seen.extend(page.data.into_iter().map(|o| o.id));
        cursor = page.next_cursor;
    }
    assert_eq!(seen, server.open_order_ids());
    server.shutdown().await;
}

/// Sends a request exactly as given: raw URL (query and all), raw body, signed over `signed`.
async fn raw(
    api: &Api,
    method: Method,
    url_path: &str,
    body: Option<&str>,
    signed: Option<&str>,
) -> reqwest::Response {
    let path = url_path.split('?').next().unwrap_or(url_path);
    let mut request = api
        .http
        .request(method.clone(), format!("{}{url_path}", api.base));
    for (name, value) in api.headers(unix_now(), &method, path, signed) {
        request = request.header(name, value);
    }
    if let Some(body) = body {
        request = request
            .header("Content-Type", "application/json")
            .body(body.to_owned());
    }
    request.send().await.expect("sent")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_clients_request_shapes_are_accepted() {
    let server = start(config(900)).await;
    let api = Api::primary(&server);
    let open = server.open_order_ids();
    let sample = server
        .orders_of(&server.credentials().api_key)
        .into_iter()
        .find(|o| o.status == "LIVE")
        .expect("a live order");

    // The Python client builds query strings by hand: unencoded `==`, a bare `?`.
    for url in [
        "/data/orders?next_cursor=MA==".to_owned(),
        "/data/orders?".to_owned(),
        format!("/data/orders?market={}&next_cursor=MA==", sample.market),
        "/data/trades?next_cursor=MA==".to_owned(),
    ] {
        let response = raw(&api, Method::GET, &url, None, None).await;
        assert_eq!(response.status(), StatusCode::OK, "{url}");
    }
    let second: Page<OpenOrder> = raw(
        &api,
        Method::GET,
        "/data/orders?next_cursor=NTAw",
        None,
        None,
    )
    .await
    .json()
    .await
    .expect("page");
    assert_eq!(second.data[0].id, open[500]);

    // Python sends `json.dumps` (with spaces) and signs `str(body)` with quotes swapped: the
    // same text, except that `None` stays a Python literal in what is signed.
    let spaced = format!(r#"{{"orderID": "{}"}}"#, open[0]);
    let response = raw(&api, Method::DELETE, "/order", Some(&spaced), Some(&spaced)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let list = format!(r#"["{}", "{}"]"#, open[1], open[2]);
    let response = raw(&api, Method::DELETE, "/orders", Some(&list), Some(&list)).await;
    let result: CancelResponse = response.json().await.expect("cancel response");
    assert_eq!(result.canceled, vec![open[1].clone(), open[2].clone()]);
    let sent = format!(r#"{{"market": null, "asset_id": "{}"}}"#, sample.asset_id);
    let signed = sent.replace("null", "None");
    let response = raw(
        &api,
        Method::DELETE,
        "/cancel-market-orders",
        Some(&sent),
        Some(&signed),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(server.order_status(&sample.id).as_deref(), Some("CANCELED"));
    for id in &open[..3] {
        assert_eq!(server.order_status(id).as_deref(), Some("CANCELED"));
    }

    // TypeScript and Rust send compact JSON and sign it as sent; a heartbeat may have no body.
    let compact = json!([open[3]]).to_string();
    let response = raw(
        &api,
        Method::DELETE,
        "/orders",
        Some(&compact),
        Some(&compact),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = raw(&api, Method::POST, "/v1/heartbeats", None, None).await;
    let heartbeat: HeartbeatResponse = response.json().await.expect("heartbeat");
    assert!(!heartbeat.heartbeat_id.is_empty());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_cursors_queries_and_bodies_are_400_with_an_error_body() {
    let server = start(config(100)).await;
    let api = Api::primary(&server);
    let before = server.open_order_ids();
    for cursor in ["!!!", "YWJj", "LTI="] {
        let response = api
            .send(
                Method::GET,
                "/data/orders",
                &[("next_cursor", cursor)],
                None,
            )
            .await;
        let (status, message) = error_of(response).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{cursor}");
        assert!(message.contains("next_cursor"), "{message}");
    }
    let response = api
        .send(Method::GET, "/data/trades", &[("before", "noon")], None)
        .await;
    assert_eq!(error_of(response).await.0, StatusCode::BAD_REQUEST);
    let bodies = [
        ("/orders", "not json"),
        ("/orders", r#"{"orderID":"0x1"}"#),
        ("/orders", "[1,2]"),
        ("/order", "{}"),
        ("/order", r#"["0x1"]"#),
        ("/order", ""),
        ("/cancel-market-orders", r#"{"market":5}"#),
        ("/cancel-market-orders", "[]"),
    ];
    for (path, body) in bodies {
        let response = api
            .send(
                Method::DELETE,
                path,
                &[],
                (!body.is_empty()).then(|| body.to_owned()),
            )
            .await;
        let (status, message) = error_of(response).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {body}");
        assert!(!message.is_empty());
    }
    let response = api
        .send(Method::POST, "/orders-scoring", &[], Some("{}".into()))
        .await;
    assert_eq!(error_of(response).await.0, StatusCode::BAD_REQUEST);
    let response = api.send(Method::GET, "/order-scoring", &[], None).await;
    assert_eq!(error_of(response).await.0, StatusCode::BAD_REQUEST);
    let response = api.send(Method::GET, "/no-such-endpoint", &[], None).await;
    assert_eq!(error_of(response).await.0, StatusCode::NOT_FOUND);
    assert_eq!(server.open_order_ids(), before);
    server.shutdown().await;
}

#[test]
fn the_binary_exits_2_on_a_bad_fixture_or_a_busy_port() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.json");
    std::fs::write(&path, r#"{"orders": [{"id": "0x1"}]}"#).expect("write");
    let out: Output = isolated_in(dir.path())
        .args(["sim", "--port", "0", "--fixture"])
        .arg(&path)
        .output()
        .expect("runs")
        .into();
    out.status(2)
        .stderr_has("bad.json")
        .stderr_has("missing field");

    let busy = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = busy.local_addr().expect("addr").port().to_string();
    let out: Output = isolated_in(dir.path())
        .args(["sim", "--port", &port])
        .output()
        .expect("runs")
        .into();
    out.status(2).stderr_has("already in use");
}

#[test]
fn the_binary_prints_its_url_serves_and_stops_cleanly_on_sigterm() {
    use std::io::BufRead as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = isolated_in(dir.path())
        .args([
            "sim",
            "--port",
            "0",
            "--orders",
            "100",
            "--secret",
            "c2VjcmV0LWZvci10ZXN0cy1vbmx5LTMyLWJ5dGVzIQ==",
            "--passphrase",
            "given-passphrase",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = std::io::BufReader::new(stdout).lines();
    let first = lines.next().expect("a line").expect("text");
    let url = first
        .strip_prefix("clobscript sim listening on ")
        .unwrap_or_else(|| panic!("ready line: {first}"))
        .to_owned();
    assert!(url.starts_with("http://127.0.0.1:"));
    let rest: Vec<String> = lines.by_ref().take(2).map(|l| l.expect("text")).collect();
    let printed = rest.join("\n");
    assert!(printed.contains(&demo_credentials().api_key), "{printed}");
    assert!(
        !printed.contains("c2VjcmV0LWZvci10ZXN0cy1vbmx5LTMyLWJ5dGVzIQ=="),
        "{printed}"
    );
    assert!(!printed.contains("given-passphrase"), "{printed}");

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let ok: String = runtime.block_on(async {
        reqwest::get(format!("{url}/ok"))
            .await
            .expect("served")
            .json()
            .await
            .expect("json")
    });
    assert_eq!(ok, "OK");

    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let status = child.wait().expect("exits");
    assert_eq!(status.code(), Some(0));
}
