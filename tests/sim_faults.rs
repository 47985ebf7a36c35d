//! The simulator's heartbeats (the dead-man's switch), injected failures, latency, a skewed
//! clock, seeded generation and fixtures, over real HTTP.

use std::time::{Duration, Instant};

use clobscript::clob::types::{
    HeartbeatResponse, MidpointResponse, OpenOrder, OrderBook, OrderScoring, Page, Trade, messages,
};
use clobscript::sim::{SimConfig, SimServer, demo_credentials};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[path = "common/mod.rs"]
mod support;
use support::l2::*;
use support::unix_now;

async fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_that_stops_sending_heartbeats_loses_its_open_orders() {
    let server = start(SimConfig {
        heartbeat_timeout: Duration::from_millis(300),
        ..config(300)
    })
    .await;
    let api = Api::primary(&server);
    let key = server.credentials().api_key.clone();
    let other_key = server
        .other_credentials()
        .expect("second account")
        .api_key
        .clone();
    let other_open = server.open_order_ids_of(&other_key);

    // Without a first heartbeat, nothing is armed.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(!server.open_order_ids().is_empty());
    assert!(!server.heartbeat_armed(&key));

    let first: HeartbeatResponse = api
        .ok(
            Method::POST,
            "/v1/heartbeats",
            &[],
            Some(r#"{"heartbeat_id":null}"#.into()),
        )
        .await;
    assert!(first.error.is_none());
    assert!(!first.heartbeat_id.is_empty());
    let raw: serde_json::Value = api
        .ok(
            Method::POST,
            "/heartbeats",
            &[],
            Some(json!({ "heartbeat_id": first.heartbeat_id }).to_string()),
        )
        .await;
    assert!(raw["error"].is_null() && raw["heartbeat_id"].is_string());
    assert!(server.heartbeat_armed(&key));
    assert_eq!(
        server.heartbeat_id(&key).as_deref(),
        raw["heartbeat_id"].as_str()
    );

    wait_until("the switch fires", || server.open_order_ids().is_empty()).await;
    assert!(!server.heartbeat_armed(&key));
    assert!(server.switch_cancels() > 0);
    assert!(server.orders_of(&key).iter().all(|o| o.status != "LIVE"));
    assert_eq!(server.open_order_ids_of(&other_key), other_open);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_in_time_keep_orders_open() {
    let timeout = Duration::from_millis(800);
    let server = start(SimConfig {
        heartbeat_timeout: timeout,
        ..config(200)
    })
    .await;
    let api = Api::primary(&server);
    let open = server.open_order_ids();
    let mut id = String::new();
    let started = Instant::now();
    while started.elapsed() < timeout * 2 {
        let reply: HeartbeatResponse = api
            .ok(
                Method::POST,
                "/v1/heartbeats",
                &[],
                Some(json!({ "heartbeat_id": id }).to_string()),
            )
            .await;
        id = reply.heartbeat_id;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(server.open_order_ids(), open);
    assert_eq!(server.switch_cancels(), 0);
    server.shutdown().await;
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Outcome {
    Ok,
    Status(u16),
    Dropped,
}

/// Cancels `ids` one request each and reports what each request looked like to the client
/// and whether the order was canceled afterwards.
async fn cancel_one_by_one(server: &SimServer, ids: &[String]) -> Vec<(Outcome, bool)> {
    let api = Api::primary(server);
    let mut outcomes = Vec::new();
    for id in ids {
        let body = json!({ "orderID": id }).to_string();
        let headers = api.headers(unix_now(), &Method::DELETE, "/order", Some(&body));
        let outcome = match api
            .send_with(Method::DELETE, "/order", &[], Some(body), headers)
            .await
        {
            Err(_) => Outcome::Dropped,
            Ok(response) => {
                let status = response.status();
                match response.bytes().await {
                    Err(_) => Outcome::Dropped,
                    Ok(_) if status == StatusCode::OK => Outcome::Ok,
                    Ok(_) => Outcome::Status(status.as_u16()),
                }
            }
        };
        let canceled = server.order_status(id).as_deref() == Some("CANCELED");
        outcomes.push((outcome, canceled));
    }
    outcomes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_failures_come_before_the_change_or_after_it_and_repeat_for_a_seed() {
    let faulty = || SimConfig {
        fail_rate: 1.0,
        seed: 42,
        ..config(200)
    };
    let server = start(faulty()).await;
    let ids: Vec<String> = server.open_order_ids()[..40].to_vec();
    let outcomes = cancel_one_by_one(&server, &ids).await;

    assert!(
        outcomes.iter().all(|(o, _)| *o != Outcome::Ok),
        "every request fails"
    );
    // 503 always comes before anything happened; a dropped connection always after.
    assert!(outcomes.contains(&(Outcome::Status(503), false)));
    assert!(!outcomes.contains(&(Outcome::Status(503), true)));
    assert!(outcomes.contains(&(Outcome::Dropped, true)));
    assert!(!outcomes.contains(&(Outcome::Dropped, false)));
    // 500 comes both ways: the client cannot tell, only re-reading the state can.
    assert!(outcomes.contains(&(Outcome::Status(500), false)));
    assert!(outcomes.contains(&(Outcome::Status(500), true)));

    let faults = server.faults_injected();
    let applied = outcomes.iter().filter(|(_, canceled)| *canceled).count() as u64;
    assert_eq!(faults.lost, applied);
    assert_eq!(faults.rejected + faults.lost, ids.len() as u64);
    assert_eq!(server.requests_served(), ids.len() as u64);
    server.shutdown().await;

    let again = start(faulty()).await;
    assert_eq!(cancel_one_by_one(&again, &ids).await, outcomes);
    again.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_share_of_requests_fails_and_the_rest_are_served() {
    let server = start(SimConfig {
        fail_rate: 0.3,
        seed: 3,
        ..config(200)
    })
    .await;
    let ids: Vec<String> = server.open_order_ids()[..60].to_vec();
    let outcomes = cancel_one_by_one(&server, &ids).await;
    let served = outcomes.iter().filter(|(o, _)| *o == Outcome::Ok).count();
    assert!(served > 0 && served < ids.len(), "{served}");
    assert!(
        outcomes
            .iter()
            .filter(|(o, _)| *o == Outcome::Ok)
            .all(|(_, canceled)| *canceled)
    );
    let faults = server.faults_injected();
    assert_eq!((faults.rejected + faults.lost) as usize, ids.len() - served);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_delays_every_response() {
    let latency = Duration::from_millis(150);
    let server = start(SimConfig {
        latency: Some(latency),
        ..config(50)
    })
    .await;
    let api = Api::primary(&server);
    let started = Instant::now();
    let _: String = public(&server, "/ok", &[]).await;
    assert!(started.elapsed() >= latency);
    let started = Instant::now();
    let _: Page<OpenOrder> = api.get("/data/orders", &[]).await;
    assert!(started.elapsed() >= latency);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skewed_clock_rejects_local_timestamps_and_accepts_server_time() {
    let server = start(SimConfig {
        clock_offset: 120,
        ..config(50)
    })
    .await;
    let api = Api::primary(&server);
    let server_time: i64 = public(&server, "/time", &[]).await;
    assert!((server_time - unix_now() - 120).abs() <= 2, "{server_time}");

    let local = api.send(Method::GET, "/data/orders", &[], None).await;
    assert_eq!(error_of(local).await.0, StatusCode::UNAUTHORIZED);
    let headers = api.headers(server_time, &Method::GET, "/data/orders", None);
    let response = api
        .send_with(Method::GET, "/data/orders", &[], None, headers)
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_seed_serves_the_same_orders() {
    let a = start(config(300)).await;
    let b = start(config(300)).await;
    assert_eq!(a.open_order_ids(), b.open_order_ids());
    assert_eq!(a.token_ids(), b.token_ids());
    let c = start(SimConfig {
        seed: 2,
        ..config(300)
    })
    .await;
    assert_ne!(a.open_order_ids(), c.open_order_ids());
    for server in [a, b, c] {
        server.shutdown().await;
    }
}

const TOKEN_YES: &str =
    "71321045679252212594626385532706912750332728571942532289631379312455583992563";
const TOKEN_NO: &str =
    "52114319501245915516055106046884209969926127482827954674443846427813813222426";

fn fixture_text() -> String {
    let demo = demo_credentials();
    json!({
        "accounts": [
            { "api_key": demo.api_key, "secret": demo.secret.expose(),
              "passphrase": demo.passphrase.expose(), "address": demo.address },
            { "api_key": "fixture-second-key", "secret": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
              "passphrase": "second", "address": "0x2222222222222222222222222222222222222222" }
        ],
        "markets": [{
            "market": "0xmarket1",
            "tick_size": "0.01",
            "tokens": [
                { "token_id": TOKEN_YES, "outcome": "Yes",
                  "bids": [{ "price": "0.40", "size": "100" }],
                  "asks": [{ "price": "0.60", "size": "50" }] },
                { "token_id": TOKEN_NO, "outcome": "No" }
            ]
        }],
        "orders": [
            { "id": "0xa1", "owner": demo.api_key, "asset_id": TOKEN_YES, "side": "BUY",
              "price": "0.45", "original_size": "20", "size_matched": "5", "created_at": 1700000100,
              "scoring": true, "associate_trades": ["t1"] },
            { "id": "0xa2", "owner": demo.api_key, "asset_id": TOKEN_YES, "side": "SELL",
              "price": "0.55", "original_size": "10", "created_at": 1700000000,
              "order_type": "GTD", "expiration": "1800000000" },
            { "id": "0xa3", "owner": demo.api_key, "asset_id": TOKEN_NO, "side": "BUY",
              "price": 0.3, "original_size": 7, "status": "MATCHED", "size_matched": "7", "created_at": 1700000200 },
            { "id": "0xb1", "owner": "fixture-second-key", "asset_id": TOKEN_YES, "side": "BUY",
              "price": "0.44", "original_size": "3", "created_at": 1700000050 }
        ],
        "trades": [
            { "id": "t1", "taker_order_id": "0xtaker", "market": "0xmarket1", "asset_id": TOKEN_YES,
              "side": "SELL", "size": "5", "price": "0.45", "fee_rate_bps": "0", "status": "CONFIRMED",
              "match_time": "1700000150", "last_update": "1700000160", "outcome": "Yes",
              "owner": demo.api_key, "maker_address": demo.address, "transaction_hash": "0xhash",
              "bucket_index": 0, "trader_side": "MAKER", "maker_orders": [] }
        ]
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixture_loads_accounts_orders_trades_and_books() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state.json");
    std::fs::write(&path, fixture_text()).expect("write fixture");
    let server = start(SimConfig {
        fixture: Some(path),
        ..SimConfig::default()
    })
    .await;
    assert_eq!(server.credentials().api_key, demo_credentials().api_key);
    assert_eq!(
        server.other_credentials().map(|c| c.api_key.as_str()),
        Some("fixture-second-key")
    );
    let api = Api::primary(&server);

    let open: Vec<OpenOrder> = api.all_pages("/data/orders", &[]).await;
    // Oldest first.
    assert_eq!(
        open.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(),
        ["0xa2", "0xa1"]
    );
    assert_eq!(open[1].market, "0xmarket1");
    assert_eq!(open[1].outcome, "Yes");
    assert_eq!(
        (open[1].size_matched.as_str(), open[1].order_type.as_str()),
        ("5", "GTC")
    );
    assert_eq!(
        (open[0].order_type.as_str(), open[0].expiration.as_str()),
        ("GTD", "1800000000")
    );
    let matched: Option<OpenOrder> = api.get("/data/order/0xa3", &[]).await;
    assert_eq!(
        matched.map(|o| (o.status, o.price)),
        Some(("MATCHED".into(), "0.3".into()))
    );

    let trades: Vec<Trade> = api.all_pages("/data/trades", &[]).await;
    assert_eq!(trades.len(), 1);
    let scoring: OrderScoring = api.get("/order-scoring", &[("order_id", "0xa1")]).await;
    assert!(scoring.scoring);

    // The book holds the listed liquidity plus every account's open orders.
    let book: OrderBook = public(&server, "/book", &[("token_id", TOKEN_YES)]).await;
    let levels = |side: &[clobscript::clob::types::BookLevel]| -> Vec<(String, String)> {
        side.iter()
            .map(|l| (l.price.clone(), l.size.clone()))
            .collect()
    };
    let pair = |p: &str, s: &str| (p.to_owned(), s.to_owned());
    assert_eq!(
        levels(&book.bids),
        vec![pair("0.4", "100"), pair("0.44", "3"), pair("0.45", "15")]
    );
    assert_eq!(
        levels(&book.asks),
        vec![pair("0.6", "50"), pair("0.55", "10")]
    );
    let mid: MidpointResponse = public(&server, "/midpoint", &[("token_id", TOKEN_YES)]).await;
    assert_eq!(mid.mid, "0.5");

    let result = api.cancel("/orders", json!(["0xa1", "0xb1"])).await;
    assert_eq!(result.canceled, vec!["0xa1".to_owned()]);
    assert_eq!(result.not_canceled["0xb1"], messages::NOT_FOUND);
    assert_eq!(server.order_status("0xb1").as_deref(), Some("LIVE"));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_fixture_names_what_is_wrong() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.json");
    let text = fixture_text().replace(r#""price":"0.45""#, r#""price":"0.455""#);
    std::fs::write(&path, text).expect("write fixture");
    let error = SimServer::start(SimConfig {
        fixture: Some(path.clone()),
        ..SimConfig::default()
    })
    .await
    .expect_err("refused");
    let message = error.to_string();
    assert!(message.contains("bad.json"), "{message}");
    assert!(
        message.contains("orders[0] (0xa1): price 0.455"),
        "{message}"
    );

    let missing = SimServer::start(SimConfig {
        fixture: Some(dir.path().join("absent.json")),
        ..SimConfig::default()
    })
    .await
    .expect_err("refused");
    assert!(
        missing.to_string().contains("cannot read fixture"),
        "{missing}"
    );
}
