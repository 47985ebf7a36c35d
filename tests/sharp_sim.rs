//! Sharp edges of the simulator (issue 15): each test is named after the defect it pins.

#[path = "common/mod.rs"]
mod common;

use clobscript::clob::types::{ErrorBody, HeartbeatResponse, OpenOrder, Page};
use clobscript::clob::{Credentials, SigningKey};
use clobscript::sim::{SimConfig, SimServer};
use common::{Book, Exchange, isolated_command, unix_now};
use reqwest::{Method, StatusCode};
use serde_json::json;

/// Signs and sends one L2 request, query string as given.
async fn signed(
    server: &SimServer,
    method: Method,
    path_and_query: &str,
    body: Option<String>,
) -> reqwest::Response {
    let credentials: &Credentials = server.credentials();
    let key = SigningKey::from_secret(&credentials.secret).expect("valid secret");
    let path = path_and_query.split('?').next().unwrap_or(path_and_query);
    let now = unix_now();
    let mut request = reqwest::Client::new()
        .request(method.clone(), format!("{}{path_and_query}", server.url()))
        .header("POLY_ADDRESS", &credentials.address)
        .header("POLY_API_KEY", &credentials.api_key)
        .header("POLY_PASSPHRASE", credentials.passphrase.expose())
        .header("POLY_TIMESTAMP", now.to_string())
        .header(
            "POLY_SIGNATURE",
            key.sign(now, method.as_str(), path, body.as_deref()),
        );
    if let Some(body) = body {
        request = request
            .header("Content-Type", "application/json")
            .body(body);
    }
    request.send().await.expect("request sent")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defect_10_an_empty_next_cursor_is_answered_as_the_first_page() {
    let server = SimServer::start(SimConfig {
        orders: 60,
        page_size: 10,
        ..SimConfig::default()
    })
    .await
    .expect("simulator starts");
    let first: Page<OpenOrder> =
        signed(&server, Method::GET, "/data/orders?next_cursor=MA==", None)
            .await
            .json()
            .await
            .expect("page");
    let empty: Page<OpenOrder> = signed(&server, Method::GET, "/data/orders?next_cursor=", None)
        .await
        .json()
        .await
        .expect("page");
    assert!(!first.data.is_empty());
    let ids = |page: &Page<OpenOrder>| page.data.iter().map(|o| o.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&empty), ids(&first));
    assert_eq!(empty.next_cursor, first.next_cursor);
    assert_ne!(empty.next_cursor, "LTE=");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defect_9_a_heartbeat_with_an_id_the_exchange_does_not_hold_is_400_invalid_heartbeat_id() {
    let server = SimServer::start(SimConfig {
        orders: 20,
        ..SimConfig::default()
    })
    .await
    .expect("simulator starts");
    let key = server.credentials().api_key.clone();
    let answer = signed(
        &server,
        Method::POST,
        "/v1/heartbeats",
        Some(json!({"heartbeat_id": "not-a-real-id"}).to_string()),
    )
    .await;
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    let body: ErrorBody = answer.json().await.expect("error body");
    assert_eq!(body.error, "Invalid Heartbeat ID");
    assert!(
        !server.heartbeat_armed(&key),
        "a refused heartbeat arms nothing"
    );

    // A new chain from an empty id works, and its id is then the one to send.
    let first: HeartbeatResponse = signed(
        &server,
        Method::POST,
        "/v1/heartbeats",
        Some(json!({"heartbeat_id": ""}).to_string()),
    )
    .await
    .json()
    .await
    .expect("reply");
    let next = signed(
        &server,
        Method::POST,
        "/v1/heartbeats",
        Some(json!({"heartbeat_id": first.heartbeat_id}).to_string()),
    )
    .await;
    assert_eq!(next.status(), StatusCode::OK);
    let stale = signed(
        &server,
        Method::POST,
        "/v1/heartbeats",
        Some(json!({"heartbeat_id": first.heartbeat_id}).to_string()),
    )
    .await;
    assert_eq!(
        stale.status(),
        StatusCode::BAD_REQUEST,
        "an old id is not the chain's"
    );
    server.shutdown().await;
}

/// `clobscript sim ARGS` in a scratch environment, expected to refuse at once.
fn sim_refuses(args: &[&str]) -> common::Output {
    let dir = tempfile::tempdir().expect("tempdir");
    let child = isolated_command(dir.path(), dir.path(), dir.path())
        .current_dir(dir.path())
        .arg("sim")
        .args(["--port", "0"])
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("clobscript runs");
    // A simulator that accepted the input would serve until stopped: stop it, and fail below.
    let pid = child.id();
    let guard = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(30));
        let _ = std::process::Command::new("kill")
            .arg(pid.to_string())
            .status();
    });
    drop(guard);
    let output = child.wait_with_output().expect("clobscript ends");
    common::Output {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn write_fixture(dir: &std::path::Path, value: &serde_json::Value) -> String {
    let path = dir.join("fixture.json");
    std::fs::write(&path, value.to_string()).expect("write fixture");
    path.display().to_string()
}

#[test]
fn defect_5_a_fixture_whose_own_orders_cross_the_book_exits_2_naming_the_orders() {
    let mut book = Book::fixture().fixture;
    // A BUY 0.65 over the SELL 0.55 of FRESH_A on the same token.
    let orders = book["orders"].as_array_mut().expect("orders");
    let mut crossing = orders[0].clone();
    crossing["id"] = json!("0xc0ffee");
    crossing["price"] = json!("0.65");
    crossing["size_matched"] = json!("0");
    orders.push(crossing);
    let dir = tempfile::tempdir().expect("tempdir");
    let fixture = write_fixture(dir.path(), &book);
    sim_refuses(&["--fixture", &fixture])
        .status(2)
        .stderr_has("crossed")
        .stderr_has("0xc0ffee")
        .stderr_has(common::FRESH_A)
        .stderr_has("BUY 0.65")
        .stderr_has("SELL 0.55");

    // The library refuses the same fixture, so `--sim FIXTURE` does too.
    let refused = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(SimServer::start(SimConfig {
            fixture: Some(fixture.into()),
            port: 0,
            ..SimConfig::default()
        }));
    assert!(refused.is_err());
}

#[test]
fn defect_5_an_order_crossing_the_listed_liquidity_is_refused_too() {
    let mut book = Book::fixture().fixture;
    let orders = book["orders"].as_array_mut().expect("orders");
    // Market B's listed ask is 0.34: a BUY at 0.35 would have traded.
    let mut crossing = orders[3].clone();
    crossing["id"] = json!("0xb0b");
    crossing["price"] = json!("0.35");
    orders.push(crossing);
    let dir = tempfile::tempdir().expect("tempdir");
    let fixture = write_fixture(dir.path(), &book);
    sim_refuses(&["--fixture", &fixture])
        .status(2)
        .stderr_has("0xb0b")
        .stderr_has("listed ask 0.34");
}

#[test]
fn defect_7_sim_refuses_a_page_size_of_zero() {
    sim_refuses(&["--page-size", "0"])
        .status(2)
        .stderr_has("--page-size")
        .stderr_has("at least 1");
}

#[test]
fn defect_7_sim_refuses_a_fixture_together_with_orders() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fixture = write_fixture(dir.path(), &Book::fixture().fixture);
    sim_refuses(&["--fixture", &fixture, "--orders", "10"])
        .status(2)
        .stderr_has("--orders")
        .stderr_has("cannot be used with");
}

#[test]
fn defect_7_sim_refuses_orders_together_with_open_orders() {
    sim_refuses(&["--orders", "10", "--open-orders", "5"])
        .status(2)
        .stderr_has("cannot be used with");
}

#[test]
fn defect_7_a_fixture_that_is_an_empty_list_or_names_nothing_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fixture = write_fixture(dir.path(), &json!([]));
    sim_refuses(&["--fixture", &fixture])
        .status(2)
        .stderr_has("must be a JSON object");
    let fixture = write_fixture(dir.path(), &json!({}));
    sim_refuses(&["--fixture", &fixture])
        .status(2)
        .stderr_has("no accounts, markets, orders or trades");
}

#[test]
fn the_test_fixture_itself_is_not_crossed() {
    let exchange = Exchange::fixture(&Book::fixture());
    assert!(!exchange.statuses().is_empty());
}
