//! The read endpoints the official clients call besides the book and price ones: version,
//! market parameters, last trade prices, one market, and the batch forms. Batch answers are
//! checked against the single-token endpoints of the same running exchange.

use std::collections::BTreeMap;

use clobscript::clob::types::{
    ErrorBody, MidpointResponse, OrderBook, PriceResponse, SpreadResponse, TickSizeResponse,
    messages,
};
use clobscript::sim::{SimConfig, SimServer};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

const UNKNOWN_TOKEN: &str = "123456789";

async fn start() -> SimServer {
    SimServer::start(SimConfig {
        orders: 200,
        ..SimConfig::default()
    })
    .await
    .expect("simulator starts")
}

async fn get_raw(server: &SimServer, path: &str, token_id: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{}{path}", server.url()))
        .query(&[("token_id", token_id)])
        .send()
        .await
        .expect("simulator answers")
}

async fn get<T: DeserializeOwned>(server: &SimServer, path: &str, query: &[(&str, &str)]) -> T {
    let response = reqwest::Client::new()
        .get(format!("{}{path}", server.url()))
        .query(query)
        .send()
        .await
        .expect("simulator answers");
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.json().await.expect("JSON")
}

async fn post_raw(server: &SimServer, path: &str, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}{path}", server.url()))
        .json(body)
        .send()
        .await
        .expect("simulator answers")
}

async fn post<T: DeserializeOwned>(server: &SimServer, path: &str, body: &Value) -> T {
    let response = post_raw(server, path, body).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.json().await.expect("JSON")
}

async fn error_of(response: reqwest::Response) -> (StatusCode, String) {
    let status = response.status();
    let body: ErrorBody = response.json().await.expect("error body");
    (status, body.error)
}

fn token_params(tokens: &[String]) -> Value {
    Value::Array(tokens.iter().map(|t| json!({ "token_id": t })).collect())
}

#[tokio::test]
async fn version_is_the_current_order_version() {
    let server = start().await;
    let version: Value = get(&server, "/version", &[]).await;
    assert_eq!(version, json!({ "version": 2 }));
}

#[tokio::test]
async fn market_parameters_agree_with_the_book() {
    let server = start().await;
    for token in server.token_ids() {
        let query = [("token_id", token.as_str())];
        let book: OrderBook = get(&server, "/book", &query).await;
        let neg_risk: Value = get(&server, "/neg-risk", &query).await;
        let fee: Value = get(&server, "/fee-rate", &query).await;
        let last: Value = get(&server, "/last-trade-price", &query).await;

        assert_eq!(neg_risk, json!({ "neg_risk": book.neg_risk }));
        assert!(fee["base_fee"].is_u64(), "{fee}");
        assert_eq!(last["price"], json!(book.last_trade_price));
        assert!(
            matches!(last["side"].as_str(), Some("BUY" | "SELL")),
            "{last}"
        );
    }
}

#[tokio::test]
async fn market_parameters_of_bad_tokens_are_the_documented_errors() {
    let server = start().await;
    for path in ["/neg-risk", "/fee-rate", "/last-trade-price"] {
        assert_eq!(
            error_of(get_raw(&server, path, "not-a-number").await).await,
            (StatusCode::BAD_REQUEST, messages::INVALID_TOKEN.to_owned()),
            "{path}"
        );
        assert_eq!(
            error_of(get_raw(&server, path, UNKNOWN_TOKEN).await).await,
            (StatusCode::NOT_FOUND, messages::NO_ORDERBOOK.to_owned()),
            "{path}"
        );
    }
}

#[tokio::test]
async fn batch_books_are_the_single_books_in_the_order_asked_without_unknown_tokens() {
    let server = start().await;
    let mut tokens = server.token_ids();
    tokens.reverse();
    let mut asked = tokens.clone();
    asked.insert(1, UNKNOWN_TOKEN.to_owned());

    let books: Vec<OrderBook> = post(&server, "/books", &token_params(&asked)).await;

    let mut single = Vec::new();
    for token in &tokens {
        single.push(get::<OrderBook>(&server, "/book", &[("token_id", token)]).await);
    }
    assert_eq!(books, single);
}

#[tokio::test]
async fn batch_midpoints_spreads_and_prices_match_the_single_endpoints() {
    let server = start().await;
    let tokens = server.token_ids();
    let params = token_params(&tokens);
    let sided = Value::Array(
        tokens
            .iter()
            .flat_map(|t| {
                [
                    json!({"token_id": t, "side": "BUY"}),
                    json!({"token_id": t, "side": "SELL"}),
                ]
            })
            .collect(),
    );

    let mids: BTreeMap<String, String> = post(&server, "/midpoints", &params).await;
    let spreads: BTreeMap<String, String> = post(&server, "/spreads", &params).await;
    let prices: BTreeMap<String, BTreeMap<String, String>> = post(&server, "/prices", &sided).await;

    assert_eq!(mids.len(), tokens.len());
    for token in &tokens {
        let query = [("token_id", token.as_str())];
        let mid: MidpointResponse = get(&server, "/midpoint", &query).await;
        let spread: SpreadResponse = get(&server, "/spread", &query).await;
        assert_eq!(mids[token], mid.mid);
        assert_eq!(spreads[token], spread.spread);
        for side in ["BUY", "SELL"] {
            let price: PriceResponse =
                get(&server, "/price", &[("token_id", token), ("side", side)]).await;
            assert_eq!(prices[token][side], price.price, "{token} {side}");
        }
    }
}

#[tokio::test]
async fn batch_last_trade_prices_match_the_single_endpoint() {
    let server = start().await;
    let tokens = server.token_ids();

    let batch: Vec<Value> = post(&server, "/last-trades-prices", &token_params(&tokens)).await;

    assert_eq!(batch.len(), tokens.len());
    for (entry, token) in batch.iter().zip(&tokens) {
        let single: Value = get(&server, "/last-trade-price", &[("token_id", token)]).await;
        assert_eq!(entry["token_id"], json!(token));
        assert_eq!(entry["price"], single["price"]);
        assert_eq!(entry["side"], single["side"]);
    }
}

#[tokio::test]
async fn a_market_lists_its_tokens_with_the_books_parameters() {
    let server = start().await;
    let token = server.token_ids().remove(0);
    let book: OrderBook = get(&server, "/book", &[("token_id", &token)]).await;
    let tick: TickSizeResponse = get(&server, "/tick-size", &[("token_id", &token)]).await;

    let market: Value = get(&server, &format!("/markets/{}", book.market), &[]).await;

    assert_eq!(market["condition_id"], json!(book.market));
    assert_eq!(market["neg_risk"], json!(book.neg_risk));
    assert_eq!(
        market["minimum_tick_size"].as_f64(),
        Some(tick.minimum_tick_size)
    );
    let tokens = market["tokens"].as_array().expect("tokens");
    assert!(tokens.iter().any(|t| t["token_id"] == json!(token)));
    for listed in tokens {
        let id = listed["token_id"].as_str().expect("token id");
        let its_book: OrderBook = get(&server, "/book", &[("token_id", id)]).await;
        assert_eq!(its_book.market, book.market);
    }
}

#[tokio::test]
async fn an_unknown_market_is_404() {
    let server = start().await;
    let response = reqwest::Client::new()
        .get(format!("{}/markets/0xdead", server.url()))
        .send()
        .await
        .expect("simulator answers");
    assert_eq!(
        error_of(response).await,
        (StatusCode::NOT_FOUND, "market not found".to_owned())
    );
}

#[tokio::test]
async fn malformed_batch_bodies_are_400_with_an_error_body() {
    let server = start().await;
    let token = server.token_ids().remove(0);
    let cases = [
        ("/books", json!({ "token_id": token })),
        ("/midpoints", json!([{ "asset": token }])),
        ("/spreads", json!([{ "token_id": "not-a-number" }])),
        ("/prices", json!([{ "token_id": token }])),
        ("/prices", json!([{ "token_id": token, "side": "UP" }])),
        ("/last-trades-prices", json!("nonsense")),
    ];
    for (path, body) in cases {
        let (status, message) = error_of(post_raw(&server, path, &body).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {body}");
        assert!(!message.is_empty());
    }
}
