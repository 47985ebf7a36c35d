//! The simulator's orders over real HTTP: pagination, the order and trade filters, cancel
//! semantics and the 3000-id limit, one key against another, and scoring. The exchange state is
//! checked through the server's inspection helpers afterwards.

use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

use clobscript::clob::types::{
    CancelResponse, OpenOrder, OrderBook, OrderScoring, Page, Trade, messages,
};
use clobscript::sim::SimServer;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[path = "common/mod.rs"]
mod support;
use support::l2::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagination_walks_every_open_order_once_with_the_documented_cursors() {
    let server = start(config(1500)).await;
    let api = Api::primary(&server);
    let open = server.open_order_ids();
    assert!(open.len() > 1000 && open.len() <= 1500, "{}", open.len());

    let first: Page<OpenOrder> = api.get("/data/orders", &[]).await;
    let same: Page<OpenOrder> = api.get("/data/orders", &[("next_cursor", "MA==")]).await;
    assert_eq!(first, same);
    assert_eq!(
        (first.limit, first.count, first.next_cursor.as_str()),
        (500, 500, "NTAw")
    );
    let second: Page<OpenOrder> = api.get("/data/orders", &[("next_cursor", "NTAw")]).await;
    assert_eq!(second.next_cursor, "MTAwMA==");
    let third: Page<OpenOrder> = api
        .get("/data/orders", &[("next_cursor", "MTAwMA==")])
        .await;
    assert_eq!(third.next_cursor, "LTE=");
    assert_eq!(third.count as usize, open.len() - 1000);

    let listed: Vec<String> = [first, second, third]
        .into_iter()
        .flat_map(|p| p.data)
        .map(|o| o.id)
        .collect();
    assert_eq!(listed, open);
    let unique: HashSet<&String> = listed.iter().collect();
    assert_eq!(unique.len(), listed.len());

    let after_end: Page<OpenOrder> = api.get("/data/orders", &[("next_cursor", "LTE=")]).await;
    assert!(after_end.data.is_empty());
    assert_eq!(after_end.next_cursor, "LTE=");

    // Trades page the same way.
    let trades: Vec<Trade> = api.all_pages("/data/trades", &[]).await;
    assert_eq!(trades, server.trades_of(&server.credentials().api_key));
    assert!(trades.len() > 500, "{}", trades.len());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_filters_select_by_id_market_and_token() {
    let server = start(config(800)).await;
    let api = Api::primary(&server);
    let key = server.credentials().api_key.clone();
    let live: Vec<OpenOrder> = server
        .orders_of(&key)
        .into_iter()
        .filter(|o| o.status == "LIVE")
        .collect();
    let sample = live[7].clone();

    let by_market: Vec<OpenOrder> = api
        .all_pages("/data/orders", &[("market", &sample.market)])
        .await;
    let expected: Vec<&OpenOrder> = live.iter().filter(|o| o.market == sample.market).collect();
    assert_eq!(by_market.iter().collect::<Vec<_>>(), expected);

    let by_asset: Vec<OpenOrder> = api
        .all_pages("/data/orders", &[("asset_id", &sample.asset_id)])
        .await;
    let expected: Vec<&OpenOrder> = live
        .iter()
        .filter(|o| o.asset_id == sample.asset_id)
        .collect();
    assert_eq!(by_asset.iter().collect::<Vec<_>>(), expected);
    assert!(by_asset.len() < by_market.len());

    let by_id: Vec<OpenOrder> = api.all_pages("/data/orders", &[("id", &sample.id)]).await;
    assert_eq!(by_id, vec![sample.clone()]);
    let both: Vec<OpenOrder> = api
        .all_pages(
            "/data/orders",
            &[("market", &sample.market), ("asset_id", &sample.asset_id)],
        )
        .await;
    assert_eq!(both, by_asset);
    // Empty values mean "no filter", as clients send `id=&market=`.
    let unfiltered: Vec<OpenOrder> = api
        .all_pages("/data/orders", &[("id", ""), ("market", "")])
        .await;
    assert_eq!(unfiltered, live);
    let mismatched: Vec<OpenOrder> = api
        .all_pages(
            "/data/orders",
            &[("market", "0xnot-a-market"), ("asset_id", &sample.asset_id)],
        )
        .await;
    assert!(mismatched.is_empty());

    // The order lookup and its alias show any status; an unknown id is `null`.
    let matched = server
        .orders_of(&key)
        .into_iter()
        .find(|o| o.status == "MATCHED")
        .expect("a matched order");
    for path in [
        format!("/data/order/{}", matched.id),
        format!("/order/{}", matched.id),
    ] {
        let order: Option<OpenOrder> = api.get(&path, &[]).await;
        assert_eq!(order.as_ref(), Some(&matched));
        assert!(!matched.associate_trades.is_empty());
    }
    let unknown: Option<OpenOrder> = api.get("/data/order/0xdoesnotexist", &[]).await;
    assert_eq!(unknown, None);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trade_filters_select_by_id_market_token_maker_and_time() {
    let server = start(config(600)).await;
    let api = Api::primary(&server);
    let all = server.trades_of(&server.credentials().api_key);
    let sample = all[all.len() / 2].clone();
    let time = |t: &Trade| t.match_time.parse::<i64>().expect("seconds");

    let by_id: Vec<Trade> = api.all_pages("/data/trades", &[("id", &sample.id)]).await;
    assert_eq!(by_id, vec![sample.clone()]);
    let by_market: Vec<Trade> = api
        .all_pages("/data/trades", &[("market", &sample.market)])
        .await;
    assert_eq!(
        by_market,
        all.iter()
            .filter(|t| t.market == sample.market)
            .cloned()
            .collect::<Vec<_>>()
    );
    let by_asset: Vec<Trade> = api
        .all_pages("/trades", &[("asset_id", &sample.asset_id)])
        .await;
    assert_eq!(
        by_asset,
        all.iter()
            .filter(|t| t.asset_id == sample.asset_id)
            .cloned()
            .collect::<Vec<_>>()
    );

    let pivot = time(&sample).to_string();
    let before: Vec<Trade> = api.all_pages("/data/trades", &[("before", &pivot)]).await;
    let after: Vec<Trade> = api.all_pages("/data/trades", &[("after", &pivot)]).await;
    assert!(before.iter().all(|t| time(t) < time(&sample)));
    assert!(after.iter().all(|t| time(t) > time(&sample)));
    let at_pivot = all.iter().filter(|t| time(t) == time(&sample)).count();
    assert_eq!(before.len() + after.len() + at_pivot, all.len());

    let mine = server
        .credentials()
        .address
        .to_uppercase()
        .replacen("0X", "0x", 1);
    let by_maker: Vec<Trade> = api
        .all_pages("/data/trades", &[("maker_address", &mine)])
        .await;
    assert_eq!(by_maker, all);
    let rust_variant: Vec<Trade> = api.all_pages("/data/trades", &[("maker", &mine)]).await;
    assert_eq!(rust_variant, all);
    let stranger: Vec<Trade> = api
        .all_pages(
            "/data/trades",
            &[(
                "maker_address",
                "0x9999999999999999999999999999999999999999",
            )],
        )
        .await;
    assert!(stranger.is_empty());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canceled_order_leaves_the_list_reads_back_canceled_and_cannot_be_canceled_again() {
    let server = start(config(300)).await;
    let api = Api::primary(&server);
    let key = server.credentials().api_key.clone();
    let order = server
        .orders_of(&key)
        .into_iter()
        .find(|o| o.status == "LIVE")
        .expect("a live order");
    let book_size = |book: &OrderBook| -> f64 {
        let levels = if order.side == "BUY" {
            &book.bids
        } else {
            &book.asks
        };
        levels
            .iter()
            .find(|l| l.price == order.price)
            .map_or(0.0, |l| decimal(&l.size))
    };
    let q = [("token_id", order.asset_id.as_str())];
    let book_before: OrderBook = public(&server, "/book", &q).await;

    let first = api.cancel("/order", json!({ "orderID": order.id })).await;
    assert_eq!(first.canceled, vec![order.id.clone()]);
    assert!(first.not_canceled.is_empty());
    assert_eq!(server.order_status(&order.id).as_deref(), Some("CANCELED"));
    assert!(!server.open_order_ids().contains(&order.id));
    let listed: Vec<OpenOrder> = api.all_pages("/data/orders", &[]).await;
    assert!(listed.iter().all(|o| o.id != order.id));
    let read: Option<OpenOrder> = api.get(&format!("/data/order/{}", order.id), &[]).await;
    assert_eq!(read.map(|o| o.status).as_deref(), Some("CANCELED"));

    let book_after: OrderBook = public(&server, "/book", &q).await;
    let remaining = decimal(&order.original_size) - decimal(&order.size_matched);
    assert!((book_size(&book_before) - book_size(&book_after) - remaining).abs() < 1e-6);
    assert_ne!(book_before.hash, book_after.hash);

    let second = api.cancel("/order", json!({ "orderID": order.id })).await;
    assert!(second.canceled.is_empty());
    assert_eq!(second.not_canceled[&order.id], messages::ALREADY_CANCELED);

    let matched = server
        .orders_of(&key)
        .into_iter()
        .find(|o| o.status == "MATCHED")
        .expect("a matched order");
    let many = api
        .cancel("/orders", json!([order.id, "0xunknown", matched.id]))
        .await;
    assert!(many.canceled.is_empty());
    assert_eq!(many.not_canceled[&order.id], messages::ALREADY_CANCELED);
    assert_eq!(many.not_canceled["0xunknown"], messages::NOT_FOUND);
    assert!(many.not_canceled[&matched.id].contains("matched"));
    assert_eq!(server.order_status(&matched.id).as_deref(), Some("MATCHED"));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_many_takes_up_to_3000_ids_and_ignores_duplicates() {
    let server = start(config(2000)).await;
    let api = Api::primary(&server);
    let open = server.open_order_ids();
    let batch: Vec<String> = open[..1000].to_vec();

    let too_many: Vec<String> = batch.iter().cycle().take(3001).cloned().collect();
    let response = api
        .send(
            Method::DELETE,
            "/orders",
            &[],
            Some(json!(too_many).to_string()),
        )
        .await;
    let (status, message) = error_of(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.contains("3000"), "{message}");
    assert_eq!(
        server.open_order_ids(),
        open,
        "a refused batch cancels nothing"
    );

    let with_duplicates: Vec<String> = batch.iter().cycle().take(3000).cloned().collect();
    let result = api.cancel("/orders", json!(with_duplicates)).await;
    assert_eq!(result.canceled, batch);
    assert!(result.not_canceled.is_empty());
    let statuses = server.order_statuses(&batch);
    assert!(statuses.iter().all(|s| s.as_deref() == Some("CANCELED")));
    assert_eq!(server.open_order_ids(), open[1000..].to_vec());

    let empty = api.cancel("/orders", json!([])).await;
    assert_eq!(empty, CancelResponse::default());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_by_token_by_market_and_all_touch_only_what_they_name() {
    let server = start(config(900)).await;
    let api = Api::primary(&server);
    let key = server.credentials().api_key.clone();
    let other_key = server
        .other_credentials()
        .expect("second account")
        .api_key
        .clone();
    let other_open = server.open_order_ids_of(&other_key);
    let live = |server: &SimServer| -> Vec<OpenOrder> {
        server
            .orders_of(&key)
            .into_iter()
            .filter(|o| o.status == "LIVE")
            .collect()
    };
    let sample = live(&server)[0].clone();

    // Token, with the market given as null (a variant official clients send).
    let in_token: Vec<String> = live(&server)
        .into_iter()
        .filter(|o| o.asset_id == sample.asset_id)
        .map(|o| o.id)
        .collect();
    let result = api
        .cancel(
            "/cancel-market-orders",
            json!({ "market": null, "asset_id": sample.asset_id }),
        )
        .await;
    assert_eq!(result.canceled, in_token);
    assert!(live(&server).iter().all(|o| o.asset_id != sample.asset_id));

    // Market, with the token as "".
    let in_market: Vec<String> = live(&server)
        .into_iter()
        .filter(|o| o.market == sample.market)
        .map(|o| o.id)
        .collect();
    assert!(!in_market.is_empty());
    let result = api
        .cancel(
            "/cancel-market-orders",
            json!({ "market": sample.market, "asset_id": "" }),
        )
        .await;
    assert_eq!(result.canceled, in_market);
    let left = live(&server);
    assert!(left.iter().all(|o| o.market != sample.market));
    assert!(!left.is_empty());

    // Both keys absent: every order; the other key is never touched.
    let result = api.cancel("/cancel-market-orders", json!({})).await;
    assert_eq!(
        result.canceled,
        left.iter().map(|o| o.id.clone()).collect::<Vec<_>>()
    );
    assert!(server.open_order_ids().is_empty());
    assert_eq!(server.open_order_ids_of(&other_key), other_open);

    let other = server.other_credentials().expect("second account").clone();
    let other_api = Api::new(&server, &other);
    let all: CancelResponse = other_api.ok(Method::DELETE, "/cancel-all", &[], None).await;
    assert_eq!(all.canceled, other_open);
    assert!(server.open_order_ids_of(&other_key).is_empty());
    let again: CancelResponse = other_api.ok(Method::DELETE, "/cancel-all", &[], None).await;
    assert!(again.canceled.is_empty());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_key_never_sees_or_cancels_another_keys_orders() {
    let server = start(config(500)).await;
    let api = Api::primary(&server);
    let other = server.other_credentials().expect("second account").clone();
    let theirs = server.open_order_ids_of(&other.api_key);
    assert!(!theirs.is_empty());
    let their_trades = server.trades_of(&other.api_key);
    assert!(!their_trades.is_empty());

    let mine: Vec<OpenOrder> = api.all_pages("/data/orders", &[]).await;
    assert!(mine.iter().all(|o| o.owner == server.credentials().api_key));
    assert!(mine.iter().all(|o| !theirs.contains(&o.id)));
    let trades: Vec<Trade> = api.all_pages("/data/trades", &[]).await;
    assert!(
        trades
            .iter()
            .all(|t| their_trades.iter().all(|theirs| theirs.id != t.id))
    );
    let lookup: Option<OpenOrder> = api.get(&format!("/data/order/{}", theirs[0]), &[]).await;
    assert_eq!(lookup, None);
    let by_id: Vec<OpenOrder> = api.all_pages("/data/orders", &[("id", &theirs[0])]).await;
    assert!(by_id.is_empty());

    let result = api.cancel("/orders", json!(theirs)).await;
    assert!(result.canceled.is_empty());
    assert_eq!(result.not_canceled.len(), theirs.len());
    assert!(
        result
            .not_canceled
            .values()
            .all(|r| r == messages::NOT_FOUND)
    );
    let one = api.cancel("/order", json!({ "orderID": theirs[0] })).await;
    assert!(one.canceled.is_empty());
    let scoring: OrderScoring = api.get("/order-scoring", &[("order_id", &theirs[0])]).await;
    assert!(!scoring.scoring);
    let _: CancelResponse = api.ok(Method::DELETE, "/cancel-all", &[], None).await;
    assert_eq!(server.open_order_ids_of(&other.api_key), theirs);

    // The other key sees its own.
    let other_api = Api::new(&server, &other);
    let listed: Vec<OpenOrder> = other_api.all_pages("/data/orders", &[]).await;
    assert_eq!(listed.into_iter().map(|o| o.id).collect::<Vec<_>>(), theirs);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scoring_answers_for_one_order_and_for_many() {
    let server = start(config(400)).await;
    let api = Api::primary(&server);
    let open = server.open_order_ids();
    let ids: Vec<String> = open.iter().take(60).cloned().collect();
    let expected: BTreeMap<String, bool> = ids
        .iter()
        .map(|id| (id.clone(), server.is_scoring(id).expect("known")))
        .collect();
    assert!(expected.values().any(|s| *s) && expected.values().any(|s| !*s));

    let many: BTreeMap<String, bool> = api
        .ok(
            Method::POST,
            "/orders-scoring",
            &[],
            Some(json!(ids).to_string()),
        )
        .await;
    assert_eq!(many, expected);
    for id in ids.iter().take(10) {
        let one: OrderScoring = api.get("/order-scoring", &[("order_id", id)]).await;
        assert_eq!(one.scoring, expected[id]);
    }
    let unknown: BTreeMap<String, bool> = api
        .ok(
            Method::POST,
            "/orders-scoring",
            &[],
            Some(json!(["0xnope"]).to_string()),
        )
        .await;
    assert!(!unknown["0xnope"]);

    // A canceled order stops scoring.
    let scoring_id = expected
        .iter()
        .find(|(_, s)| **s)
        .map(|(id, _)| id.clone())
        .expect("one scores");
    api.cancel("/order", json!({ "orderID": scoring_id })).await;
    let after: OrderScoring = api
        .get("/order-scoring", &[("order_id", &scoring_id)])
        .await;
    assert!(!after.scoring);
    server.shutdown().await;
}

/// Prints how long a page of 500 orders takes from a 100,000-order state (no assertion on
/// time). Run with `cargo test --release --test sim_orders -- --ignored --nocapture page_latency`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a check; run it in release mode"]
async fn page_latency_at_100k_orders() {
    let started = Instant::now();
    let server = start(config(100_000)).await;
    let startup = started.elapsed();
    let api = Api::primary(&server);
    let open = server.open_order_ids();
    // Cancel every other order of the first half, so pages must skip closed orders.
    let victims: Vec<String> = open[..open.len() / 2].iter().step_by(2).cloned().collect();
    for chunk in victims.chunks(3000) {
        api.cancel("/orders", json!(chunk)).await;
    }
    let remaining = server.open_order_ids().len();
    let mut timings = Vec::new();
    for offset in [0, remaining / 4, remaining / 2, remaining - 600] {
        let cursor = clobscript::clob::types::encode_cursor(offset as i64);
        for _ in 0..20 {
            let t = Instant::now();
            let page: Page<OpenOrder> = api.get("/data/orders", &[("next_cursor", &cursor)]).await;
            timings.push(t.elapsed());
            assert_eq!(page.data.len(), 500);
        }
    }
    timings.sort();
    println!(
        "100k orders ({} open after cancels): startup {:?}; page of 500 over HTTP: median {:?}, p90 {:?}, max {:?}",
        remaining,
        startup,
        timings[timings.len() / 2],
        timings[timings.len() * 9 / 10],
        timings[timings.len() - 1]
    );
    server.shutdown().await;
}
