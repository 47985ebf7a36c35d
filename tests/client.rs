//! `clob::Client` against the simulator over real HTTP: every endpoint and filter, pagination at
//! several page sizes, the 3000-id split, scoring and heartbeats (authentication, the clock,
//! rate limits and injected failures are in `client_faults.rs`). Each test checks the exchange
//! state afterwards through the simulator's inspection helpers.

use std::collections::{BTreeMap, BTreeSet};

use clobscript::clob::types::{OpenOrder, Trade, messages};
use clobscript::clob::{Client, ClobError, OrderFilter, Side, TradeFilter};
use clobscript::exit::Exit;

#[path = "common/mod.rs"]
mod support;
use support::client::*;
use support::unix_now;

// ---- public endpoints ---------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_endpoints_answer_without_credentials() {
    let server = sim_with(200, 500).await;
    let public = Client::public(server.url()).expect("client builds");
    let token = server.token_ids().into_iter().next().expect("a token");

    public.ok().await.expect("ok");
    let time = public.server_time().await.expect("time");
    assert!((time - unix_now()).abs() <= 2, "server time {time}");

    let book = public.book(&token).await.expect("book");
    assert_eq!(book.asset_id, token);
    assert!(!book.bids.is_empty() && !book.asks.is_empty());
    assert_eq!(book.hash, book.compute_hash(), "hash matches the book sent");

    let mid: f64 = public.midpoint(&token).await.expect("mid").parse().unwrap();
    let buy: f64 = public
        .price(&token, Side::Buy)
        .await
        .expect("buy")
        .parse()
        .unwrap();
    let sell: f64 = public
        .price(&token, Side::Sell)
        .await
        .expect("sell")
        .parse()
        .unwrap();
    let spread: f64 = public
        .spread(&token)
        .await
        .expect("spread")
        .parse()
        .unwrap();
    let best_bid = book
        .bids
        .iter()
        .map(|l| l.price.parse::<f64>().unwrap())
        .fold(f64::MIN, f64::max);
    let best_ask = book
        .asks
        .iter()
        .map(|l| l.price.parse::<f64>().unwrap())
        .fold(f64::MAX, f64::min);
    assert!(
        best_bid <= mid && mid <= best_ask,
        "{best_bid} {mid} {best_ask}"
    );
    assert!((spread - (best_ask - best_bid)).abs() < 1e-9);
    assert!(buy == best_bid || buy == best_ask, "BUY price {buy}");
    assert!(sell == best_bid || sell == best_ask, "SELL price {sell}");
    assert_ne!(buy, sell);

    let tick = public.tick_size(&token).await.expect("tick size");
    assert_eq!(tick, book.tick_size.parse::<f64>().unwrap());
    assert_eq!(public.stats().retries, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_without_a_book_or_a_malformed_token_is_a_clear_error_without_retries() {
    let server = sim_with(50, 500).await;
    let public = Client::public(server.url()).expect("client builds");
    let absent = "1".repeat(78);

    let err = public.book(&absent).await.unwrap_err();
    assert!(matches!(err, ClobError::NotFound { .. }), "{err:?}");
    assert_eq!(err.server_message(), Some(messages::NO_ORDERBOOK));

    let err = public.midpoint("not-a-token").await.unwrap_err();
    assert!(
        matches!(err, ClobError::Rejected { status: 400, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains(messages::INVALID_TOKEN), "{err}");
    assert_eq!(public.stats().retries, 0, "4xx answers are never retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l2_calls_without_credentials_fail_before_sending_anything() {
    let server = sim_with(50, 500).await;
    let public = Client::public(server.url()).expect("client builds");
    let served = server.requests_served();

    let errors = [
        public
            .open_orders(&OrderFilter::default())
            .await
            .unwrap_err(),
        public.trades(&TradeFilter::default()).await.unwrap_err(),
        public.order("0xabc").await.unwrap_err(),
        public.cancel("0xabc").await.unwrap_err(),
        public.cancel_orders(&["0xabc"]).await.unwrap_err(),
        public.cancel_all().await.unwrap_err(),
        public.cancel_market(Some("0x1"), None).await.unwrap_err(),
        public.is_scoring("0xabc").await.unwrap_err(),
        public.are_scoring(&["0xabc"]).await.unwrap_err(),
        public.heartbeat(None).await.unwrap_err(),
    ];
    for err in errors {
        assert!(
            matches!(err, ClobError::MissingCredentials { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("POLY_API_KEY"), "{err}");
        assert_eq!(err.exit(), Exit::Usage);
    }
    assert_eq!(server.requests_served(), served);
    assert_eq!(public.stats().requests, 0);
}

// ---- orders and pagination ----------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_orders_fetches_every_page_at_every_page_size() {
    for page_size in [1, 7, 100, 500] {
        let server = sim_with(300, page_size).await;
        let expected = server.open_order_ids();
        assert!(expected.len() > 100, "enough open orders to page");
        let client = client(&server);
        let mut progress = Vec::new();
        let mut orders = Vec::new();
        client
            .open_orders_each(&OrderFilter::default(), &mut |page| {
                orders.extend(page);
                progress.push(orders.len());
            })
            .await
            .expect("open orders");

        assert_eq!(ids(&orders), expected, "page size {page_size}");
        let pages = expected.len().div_ceil(page_size);
        assert_eq!(progress.len(), pages, "page size {page_size}");
        assert_eq!(progress.last(), Some(&expected.len()));
        // Pages are read ahead while the cursors are the offsets they predict: at most the
        // window's overshoot (7) past the last page.
        let requests = client.stats().requests;
        assert!(
            (pages as u64..pages as u64 + 8).contains(&requests),
            "{requests} requests for {pages} pages at page size {page_size}"
        );
        // A read-ahead request dropped once the walk ended may never reach the exchange.
        let served = server.requests_served();
        assert!(
            served >= pages as u64 && served <= requests,
            "{served} served, {requests} sent, page size {page_size}"
        );
        assert!(orders.iter().all(|o| o.status == "LIVE"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_orders_past_the_production_page_size_are_all_listed() {
    let server = sim_with(3000, 500).await;
    let expected = server.open_order_ids();
    assert!(expected.len() > 500, "{} open orders", expected.len());
    let orders = client(&server)
        .open_orders(&OrderFilter::default())
        .await
        .expect("open orders");
    assert_eq!(ids(&orders), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_orders_filters_by_market_token_and_id() {
    let server = sim_with(400, 25).await;
    let client = client(&server);
    let open: Vec<OpenOrder> = primary_orders(&server)
        .into_iter()
        .filter(|o| o.status == "LIVE")
        .collect();
    let sample = open[open.len() / 2].clone();
    let expected = |keep: &dyn Fn(&OpenOrder) -> bool| -> BTreeSet<String> {
        open.iter()
            .filter(|o| keep(o))
            .map(|o| o.id.clone())
            .collect()
    };
    let listed =
        |orders: Vec<OpenOrder>| -> BTreeSet<String> { orders.into_iter().map(|o| o.id).collect() };

    let by_market = OrderFilter {
        market: Some(sample.market.clone()),
        ..OrderFilter::default()
    };
    let got = listed(client.open_orders(&by_market).await.expect("by market"));
    assert_eq!(got, expected(&|o| o.market == sample.market));
    assert!(got.len() < open.len());

    let by_token = OrderFilter {
        asset_id: Some(sample.asset_id.clone()),
        ..OrderFilter::default()
    };
    let got = listed(client.open_orders(&by_token).await.expect("by token"));
    assert_eq!(got, expected(&|o| o.asset_id == sample.asset_id));
    assert!(sample.asset_id.len() > 20, "token ids stay long strings");

    let by_both = OrderFilter {
        market: Some(sample.market.clone()),
        asset_id: Some(sample.asset_id.clone()),
        ..OrderFilter::default()
    };
    let got = listed(client.open_orders(&by_both).await.expect("by both"));
    assert_eq!(got, expected(&|o| o.asset_id == sample.asset_id));

    let by_id = OrderFilter {
        id: Some(sample.id.clone()),
        ..OrderFilter::default()
    };
    let got = client.open_orders(&by_id).await.expect("by id");
    assert_eq!(got, vec![sample.clone()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_returns_one_order_exactly_as_the_exchange_holds_it() {
    let server = sim_with(100, 500).await;
    let client = client(&server);
    for order in primary_orders(&server).into_iter().take(10) {
        assert_eq!(client.order(&order.id).await.expect("order"), order);
    }
    let err = client.order("0xdoesnotexist").await.unwrap_err();
    assert!(matches!(err, ClobError::NotFound { .. }), "{err:?}");
    assert!(
        err.to_string().contains("GET /data/order/0xdoesnotexist"),
        "{err}"
    );
}

// ---- trades -------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trades_fetches_every_page_and_honours_every_filter() {
    let server = sim_with(600, 9).await;
    let client = client(&server);
    let all = primary_trades(&server);
    assert!(all.len() > 20, "{} trades", all.len());
    let listed = |trades: Vec<Trade>| -> Vec<String> { trades.into_iter().map(|t| t.id).collect() };
    let expected = |keep: &dyn Fn(&Trade) -> bool| -> Vec<String> {
        all.iter()
            .filter(|t| keep(t))
            .map(|t| t.id.clone())
            .collect()
    };
    let time = |t: &Trade| t.match_time.parse::<i64>().unwrap();

    let got = listed(client.trades(&TradeFilter::default()).await.expect("all"));
    assert_eq!(got, expected(&|_| true));

    let sample = all[all.len() / 2].clone();
    type Keep<'a> = Box<dyn Fn(&Trade) -> bool + 'a>;
    let cases: Vec<(TradeFilter, Keep)> = vec![
        (
            TradeFilter {
                id: Some(sample.id.clone()),
                ..TradeFilter::default()
            },
            Box::new(|t: &Trade| t.id == sample.id),
        ),
        (
            TradeFilter {
                market: Some(sample.market.clone()),
                ..TradeFilter::default()
            },
            Box::new(|t: &Trade| t.market == sample.market),
        ),
        (
            TradeFilter {
                asset_id: Some(sample.asset_id.clone()),
                ..TradeFilter::default()
            },
            Box::new(|t: &Trade| t.asset_id == sample.asset_id),
        ),
        (
            TradeFilter {
                maker_address: Some(sample.maker_address.clone()),
                ..TradeFilter::default()
            },
            Box::new(|t: &Trade| {
                t.maker_address.eq_ignore_ascii_case(&sample.maker_address)
                    || t.maker_orders
                        .iter()
                        .any(|m| m.maker_address.eq_ignore_ascii_case(&sample.maker_address))
            }),
        ),
        (
            TradeFilter {
                before: Some(time(&sample)),
                ..TradeFilter::default()
            },
            Box::new(|t: &Trade| time(t) < time(&sample)),
        ),
        (
            TradeFilter {
                after: Some(time(&sample)),
                ..TradeFilter::default()
            },
            Box::new(|t: &Trade| time(t) > time(&sample)),
        ),
        (
            TradeFilter {
                market: Some(sample.market.clone()),
                after: Some(time(&all[0])),
                before: Some(time(&sample) + 1),
                ..TradeFilter::default()
            },
            Box::new(|t: &Trade| {
                t.market == sample.market && time(t) > time(&all[0]) && time(t) <= time(&sample)
            }),
        ),
    ];
    for (filter, keep) in cases {
        let want = expected(&*keep);
        assert!(!want.is_empty(), "{filter:?} selects something");
        let got = listed(client.trades(&filter).await.expect("trades"));
        assert_eq!(got, want, "{filter:?}");
    }
}

// ---- cancels ------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_one_order_then_again_then_an_unknown_one() {
    let server = sim_with(100, 500).await;
    let client = client(&server);
    let id = server.open_order_ids()[3].clone();
    let before = all_statuses(&server);

    let first = client.cancel(&id).await.expect("cancel");
    assert_eq!(first.canceled, vec![id.clone()]);
    assert!(first.not_canceled.is_empty());
    assert_only_canceled(
        &before,
        &all_statuses(&server),
        &set(std::slice::from_ref(&id)),
    );

    let again = client.cancel(&id).await.expect("cancel again");
    assert!(again.canceled.is_empty());
    assert_eq!(again.not_canceled[&id], messages::ALREADY_CANCELED);

    let unknown = client.cancel("0xunknown").await.expect("cancel unknown");
    assert!(unknown.canceled.is_empty());
    assert!(unknown.not_canceled.contains_key("0xunknown"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_orders_splits_into_batches_of_3000_and_merges_one_truthful_result() {
    let server = sim_with(12_000, 500).await;
    let client = client(&server);
    let open = server.open_order_ids();
    assert!(open.len() > 6_500, "{} open orders", open.len());

    // One order already canceled before the call: it must stay under not_canceled.
    let earlier = open[0].clone();
    client.cancel(&earlier).await.expect("earlier cancel");
    let targets: Vec<String> = open[1..6_501].to_vec();
    let mut asked = targets.clone();
    asked.extend(targets[..50].iter().cloned()); // duplicates
    asked.push(earlier.clone());
    asked.push("0xnot-an-order".to_owned());
    let before = all_statuses(&server);
    let requests_before = client.stats().requests;

    let result = client.cancel_orders(&asked).await.expect("cancel orders");

    // 6,502 distinct ids: three requests (3000 + 3000 + 502).
    assert_eq!(client.stats().requests - requests_before, 3);
    assert_eq!(result.canceled.len(), targets.len(), "no duplicates");
    assert_same_ids(&result.canceled, &targets, "merged canceled");
    assert_eq!(
        result.not_canceled.keys().cloned().collect::<BTreeSet<_>>(),
        set(&[earlier.clone(), "0xnot-an-order".to_owned()])
    );
    assert_eq!(result.not_canceled[&earlier], messages::ALREADY_CANCELED);
    assert_only_canceled(&before, &all_statuses(&server), &set(&targets));
    assert!(
        server.open_order_ids() == open[6_501..],
        "exactly the orders not asked for are still open"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_orders_with_nothing_to_cancel_sends_nothing() {
    let server = sim_with(50, 500).await;
    let client = client(&server);
    let result = client
        .cancel_orders(&[String::new(), "  ".to_owned()])
        .await
        .expect("empty cancel");
    assert!(result.canceled.is_empty() && result.not_canceled.is_empty());
    assert_eq!(client.stats().requests, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_all_cancels_exactly_the_open_orders_of_the_key() {
    let server = sim_with(400, 500).await;
    let client = client(&server);
    let open = server.open_order_ids();
    let other = server
        .other_credentials()
        .expect("second account")
        .api_key
        .clone();
    let other_open = server.open_order_ids_of(&other);
    assert!(!other_open.is_empty());
    let before = all_statuses(&server);

    let result = client.cancel_all().await.expect("cancel all");

    assert_same_ids(&result.canceled, &open, "cancel all");
    assert!(server.open_order_ids().is_empty());
    assert_eq!(server.open_order_ids_of(&other), other_open);
    assert_only_canceled(&before, &all_statuses(&server), &set(&open));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_market_cancels_by_market_by_token_and_by_both() {
    let server = sim_with(600, 500).await;
    let client = client(&server);
    let open_orders = || -> Vec<OpenOrder> {
        primary_orders(&server)
            .into_iter()
            .filter(|o| server.order_status(&o.id).as_deref() == Some("LIVE"))
            .collect()
    };
    let pick = |keep: &dyn Fn(&OpenOrder) -> bool, orders: &[OpenOrder]| -> BTreeSet<String> {
        orders
            .iter()
            .filter(|o| keep(o))
            .map(|o| o.id.clone())
            .collect()
    };

    // By token of one market.
    let open = open_orders();
    let sample = open[0].clone();
    let want = pick(
        &|o| o.market == sample.market && o.asset_id == sample.asset_id,
        &open,
    );
    let before = all_statuses(&server);
    let result = client
        .cancel_market(Some(&sample.market), Some(&sample.asset_id))
        .await
        .expect("by market and token");
    assert_eq!(set(&result.canceled), want);
    assert_only_canceled(&before, &all_statuses(&server), &want);

    // By token alone.
    let open = open_orders();
    let sample = open.last().expect("open orders left").clone();
    let want = pick(&|o| o.asset_id == sample.asset_id, &open);
    let before = all_statuses(&server);
    let result = client
        .cancel_market(None, Some(&sample.asset_id))
        .await
        .expect("by token");
    assert_eq!(set(&result.canceled), want);
    assert_only_canceled(&before, &all_statuses(&server), &want);

    // By market alone.
    let open = open_orders();
    let sample = open[open.len() / 2].clone();
    let want = pick(&|o| o.market == sample.market, &open);
    let before = all_statuses(&server);
    let result = client
        .cancel_market(Some(&sample.market), Some(""))
        .await
        .expect("by market");
    assert_eq!(set(&result.canceled), want);
    assert_only_canceled(&before, &all_statuses(&server), &want);
    assert!(
        !server.open_order_ids().is_empty(),
        "other markets untouched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_market_without_market_or_token_is_refused_before_sending() {
    let server = sim_with(100, 500).await;
    let client = client(&server);
    let open = server.open_order_ids();
    let err = client.cancel_market(None, Some(" ")).await.unwrap_err();
    assert!(matches!(err, ClobError::InvalidArgument { .. }), "{err:?}");
    assert!(err.to_string().contains("cancel_all"), "{err}");
    assert_eq!(client.stats().requests, 0);
    assert_eq!(server.open_order_ids(), open);
}

// ---- scoring and heartbeats ---------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scoring_of_one_and_many_orders_matches_the_exchange() {
    let server = sim_with(300, 500).await;
    let client = client(&server);
    let ids = server.open_order_ids();
    let sample: Vec<String> = ids.iter().take(40).cloned().collect();
    let expected: BTreeMap<String, bool> = sample
        .iter()
        .map(|id| (id.clone(), server.is_scoring(id).expect("known order")))
        .collect();
    assert!(expected.values().any(|s| *s) && expected.values().any(|s| !*s));

    for id in sample.iter().take(10) {
        assert_eq!(client.is_scoring(id).await.expect("scoring"), expected[id]);
    }
    let mut asked = sample.clone();
    asked.push(sample[0].clone());
    assert_eq!(client.are_scoring(&asked).await.expect("scoring"), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_chain_their_ids_and_arm_the_switch() {
    let server = sim_with(50, 500).await;
    let client = client(&server);
    let key = server.credentials().api_key.clone();
    assert!(!server.heartbeat_armed(&key));

    let first = client.heartbeat(None).await.expect("first heartbeat");
    assert!(!first.heartbeat_id.is_empty());
    assert_eq!(first.error, None);
    assert!(server.heartbeat_armed(&key));
    let second = client
        .heartbeat(Some(&first.heartbeat_id))
        .await
        .expect("second heartbeat");
    assert!(!second.heartbeat_id.is_empty());
}
