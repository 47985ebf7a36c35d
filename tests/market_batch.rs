//! One request for many tokens: the client's batch market-data calls (`POST /books`,
//! `/midpoints`, `/prices`, `/spreads`) checked against the single-token endpoints over real
//! HTTP, the script functions behind them, and `cancel_far_from_mid` using one request for all
//! its tokens.

#[path = "common/mod.rs"]
mod support;

use clobscript::clob::{Client, ClobError, Side};
use clobscript::sim::{SimConfig, SimServer};
use support::*;

/// A well-formed token id the exchange has no book for.
const NO_BOOK: &str = "123456789";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

#[test]
fn batch_calls_answer_what_the_single_token_endpoints_answer_in_one_request_each() {
    let rt = runtime();
    rt.block_on(async {
        let server = SimServer::start(SimConfig::default())
            .await
            .expect("simulator starts");
        let tokens = server.token_ids();
        assert!(tokens.len() > 3, "several tokens");
        let client = Client::public(server.url()).expect("client");
        let mut asked: Vec<&str> = tokens.iter().map(String::as_str).collect();
        asked.push(NO_BOOK);

        let before = server.requests_served();
        let mids = client.midpoints(&asked).await.expect("midpoints");
        let spreads = client.spreads(&asked).await.expect("spreads");
        let bids = client.prices(&asked, Side::Buy).await.expect("prices");
        let asks = client.prices(&asked, Side::Sell).await.expect("prices");
        let books = client.books(&asked).await.expect("books");
        assert_eq!(server.requests_served() - before, 5, "one request per call");

        assert!(
            !mids.contains_key(NO_BOOK),
            "a token without a book is left out"
        );
        assert_eq!(mids.len(), tokens.len());
        assert_eq!(books.len(), tokens.len());
        for (token, book) in tokens.iter().zip(&books) {
            assert_eq!(&book.asset_id, token, "books in the order asked");
            let single = client.book(token).await.expect("book");
            assert_eq!(book.bids, single.bids);
            assert_eq!(book.asks, single.asks);
            assert_eq!(mids[token], client.midpoint(token).await.expect("midpoint"));
            assert_eq!(spreads[token], client.spread(token).await.expect("spread"));
            for (side, batch) in [(Side::Buy, &bids), (Side::Sell, &asks)] {
                match client.price(token, side).await {
                    Ok(price) => assert_eq!(batch.get(token), Some(&price), "{token} {side:?}"),
                    Err(_) => assert!(!batch.contains_key(token), "{token} {side:?}"),
                }
            }
        }
    });
}

#[test]
fn an_empty_token_id_is_refused_before_anything_is_sent() {
    let rt = runtime();
    rt.block_on(async {
        let server = SimServer::start(SimConfig::default())
            .await
            .expect("simulator starts");
        let client = Client::public(server.url()).expect("client");
        let before = server.requests_served();
        let err = client.midpoints(&["1", " "]).await.unwrap_err();
        assert!(matches!(err, ClobError::InvalidArgument { .. }), "{err:?}");
        let err = client.books(&[""]).await.unwrap_err();
        assert!(matches!(err, ClobError::InvalidArgument { .. }), "{err:?}");
        assert_eq!(server.requests_served(), before);
        // A malformed id is the exchange's 400, as for the single endpoints.
        assert!(client.spreads(&["not-a-token"]).await.is_err());
    });
}

#[test]
fn the_script_functions_return_maps_by_token_with_floats() {
    let exchange = Exchange::fixture(&Book::fixture());
    let script = exchange.script(
        "batch.rhai",
        &format!(
            r#"let tokens = ["{TOKEN_A_YES}", "{TOKEN_B}", "{TOKEN_A_YES}", "{NO_BOOK}"];
#{{
    mids: midpoints(tokens),
    spreads: spreads(tokens),
    bids: prices(tokens, "BUY"),
    asks: prices(tokens, "sell"),
    books: books(tokens),
    single: midpoint("{TOKEN_A_YES}"),
    none: midpoints([]),
}}
"#
        ),
    );
    let before = exchange.sim().requests_served();
    let out = exchange
        .clobscript()
        .args(["run", "--json"])
        .arg(&script)
        .run();
    out.status(0);
    // Five batch calls and one single midpoint; the empty batch sends nothing.
    assert_eq!(exchange.sim().requests_served() - before, 6);
    let value = out.json();
    assert_eq!(value["mids"][TOKEN_A_YES], 0.5);
    assert_eq!(value["mids"][TOKEN_B], 0.325);
    assert_eq!(value["mids"][TOKEN_A_YES], value["single"]);
    assert!(value["mids"].get(NO_BOOK).is_none(), "{value}");
    assert_eq!(value["mids"].as_object().map(|m| m.len()), Some(2));
    assert!(value["spreads"][TOKEN_B].is_f64(), "{value}");
    assert!(value["bids"][TOKEN_A_YES].as_f64() < value["asks"][TOKEN_A_YES].as_f64());
    let bids = &value["books"][TOKEN_A_YES]["bids"];
    assert!(
        bids[0]["price"].as_f64() >= bids[1]["price"].as_f64(),
        "best first"
    );
    assert_eq!(value["none"], serde_json::json!({}));
}

#[test]
fn batch_functions_refuse_what_is_not_a_token_id() {
    let exchange = Exchange::fixture(&Book::fixture());
    let script = exchange.script("bad.rhai", "midpoints([#{ a: 1 }])\n");
    let before = exchange.sim().requests_served();
    let out = exchange.clobscript().arg("run").arg(&script).run();
    out.status(1);
    out.stderr_has("midpoints: item 0 is map; pass token ids");
    let script = exchange.script("side.rhai", &format!("prices([\"{TOKEN_B}\"], \"UP\")\n"));
    let out = exchange.clobscript().arg("run").arg(&script).run();
    out.status(1);
    out.stderr_has("side must be");
    assert_eq!(exchange.sim().requests_served(), before);
}

#[test]
fn cancel_far_from_mid_reads_every_midpoint_in_one_request() {
    let exchange = Exchange::fixture(&Book::fixture());
    let before_statuses = exchange.statuses();
    let before = exchange.sim().requests_served();
    let out = exchange
        .clobscript()
        .args([
            "run",
            "scripts/cancel_far_from_mid.rhai",
            "--json",
            "--arg",
            "distance=0.1",
        ])
        .run();
    out.status(0);
    // One page of open orders, one request for the three tokens' midpoints, one cancel.
    assert_eq!(exchange.sim().requests_served() - before, 3);
    assert_only_canceled(
        &before_statuses,
        &exchange.statuses(),
        &[FAR_BUY, JUST_OVER, FAR_SELL],
    );
    let value = out.json();
    assert_eq!(value["midpoints"][TOKEN_A_YES], 0.5);
    assert_eq!(value["midpoints"][TOKEN_B], 0.325);
}
