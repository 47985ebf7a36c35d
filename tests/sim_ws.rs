//! The simulator's user channel over real websockets: subscription and keepalive, refused
//! credentials, one event for every change to the account's orders however it was caused (REST
//! cancels, the dead-man's switch, fills), trade settlement, the market filter, the drop faults
//! and deterministic fills. Events are checked against the exchange's REST state afterwards.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use clobscript::clob::types::{CancelResponse, OpenOrder, Page, Trade};
use clobscript::clob::{Credentials, Secret};
use clobscript::sim::{SimConfig, SimServer};
use futures_util::{SinkExt as _, StreamExt as _};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

#[path = "common/mod.rs"]
mod support;
use support::l2::{Api, start};
use support::{Output, isolated_in};

/// Only a guard against a hang: every wait below ends as soon as what it waits for arrives.
const PATIENCE: Duration = Duration::from_secs(20);

fn orders(n: usize) -> SimConfig {
    SimConfig {
        orders: n,
        ..SimConfig::default()
    }
}

/// Fills every 20 ms, settlement steps 5 ms apart, no failures unless asked.
fn filling(seed: u64) -> SimConfig {
    SimConfig {
        orders: 200,
        seed,
        fills: Some(Duration::from_millis(20)),
        trade_status_delay: Duration::from_millis(5),
        trade_failure_rate: 0.0,
        ..SimConfig::default()
    }
}

/// The calls these tests make, over the signed client of `common/l2.rs`.
impl Api {
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
    ) -> T {
        self.ok(method, path, query, body.map(|b| b.to_string()))
            .await
    }

    /// A cancel endpoint (`DELETE`), with or without a body.
    async fn delete(&self, path: &str, body: Option<Value>) -> CancelResponse {
        self.call(Method::DELETE, path, &[], body).await
    }

    async fn order(&self, id: &str) -> OpenOrder {
        self.call(Method::GET, &format!("/data/order/{id}"), &[], None)
            .await
    }

    async fn trade(&self, id: &str) -> Trade {
        let page: Page<Trade> = self
            .call(Method::GET, "/data/trades", &[("id", id)], None)
            .await;
        assert_eq!(page.data.len(), 1, "trade {id}");
        page.data.into_iter().next().expect("one trade")
    }
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What a connection ended with.
#[derive(Debug)]
enum Ending {
    /// A close frame: code and reason.
    Closed(CloseCode, String),
    /// The TCP connection went away without a closing handshake.
    Dropped,
}

/// A user-channel connection; events that arrive while waiting for a PONG are kept in order.
struct Channel {
    socket: Socket,
    pending: std::collections::VecDeque<Value>,
}

fn subscription(credentials: &Credentials, markets: &[&str]) -> Value {
    json!({
        "auth": {
            "apiKey": credentials.api_key,
            "secret": credentials.secret.expose(),
            "passphrase": credentials.passphrase.expose(),
        },
        "markets": markets,
        "type": "user",
    })
}

async fn connect(server: &SimServer) -> Socket {
    let (socket, _) = tokio_tungstenite::connect_async(server.ws_url())
        .await
        .expect("websocket handshake");
    socket
}

impl Channel {
    /// Connects, subscribes and waits for the PONG that shows the subscription is live.
    async fn open(server: &SimServer, credentials: &Credentials, markets: &[&str]) -> Channel {
        let mut channel = Channel {
            socket: connect(server).await,
            pending: Default::default(),
        };
        channel.send(subscription(credentials, markets)).await;
        channel.ping().await;
        channel
    }

    async fn send(&mut self, message: Value) {
        self.socket
            .send(Message::Text(message.to_string().into()))
            .await
            .expect("sent");
    }

    /// Sends `PING` and waits for `PONG`; the server handles messages in order, so whatever
    /// was sent before is in effect afterwards.
    async fn ping(&mut self) {
        self.socket
            .send(Message::Text("PING".into()))
            .await
            .expect("ping sent");
        loop {
            match self.frame().await {
                Frame::Pong => return,
                Frame::Event(event) => self.pending.push_back(event),
                Frame::End(ending) => panic!("connection ended while waiting for PONG: {ending:?}"),
            }
        }
    }

    async fn frame(&mut self) -> Frame {
        loop {
            let next = tokio::time::timeout(PATIENCE, self.socket.next())
                .await
                .expect("the server answers in time");
            match next {
                None | Some(Err(_)) => return Frame::End(Ending::Dropped),
                Some(Ok(Message::Text(text))) if text.as_str() == "PONG" => return Frame::Pong,
                Some(Ok(Message::Text(text))) => {
                    let value: Value = serde_json::from_str(text.as_str())
                        .unwrap_or_else(|e| panic!("event is JSON ({e}): {text}"));
                    assert!(value.is_object(), "one JSON object per frame: {text}");
                    return Frame::Event(value);
                }
                Some(Ok(Message::Close(frame))) => {
                    let (code, reason) = frame.map_or((CloseCode::Status, String::new()), |f| {
                        (f.code, f.reason.to_string())
                    });
                    return Frame::End(Ending::Closed(code, reason));
                }
                Some(Ok(_)) => {}
            }
        }
    }

    async fn event(&mut self) -> Value {
        if let Some(event) = self.pending.pop_front() {
            return event;
        }
        match self.frame().await {
            Frame::Event(event) => event,
            Frame::Pong => panic!("unexpected PONG"),
            Frame::End(ending) => panic!("connection ended while waiting for an event: {ending:?}"),
        }
    }

    async fn events(&mut self, n: usize) -> Vec<Value> {
        let mut events = Vec::with_capacity(n);
        for _ in 0..n {
            events.push(self.event().await);
        }
        events
    }

    /// Reads until the connection ends, returning the events before it and how it ended.
    async fn until_end(&mut self) -> (Vec<Value>, Ending) {
        let mut events: Vec<Value> = self.pending.drain(..).collect();
        loop {
            match self.frame().await {
                Frame::Event(event) => events.push(event),
                Frame::Pong => {}
                Frame::End(ending) => return (events, ending),
            }
        }
    }
}

enum Frame {
    Pong,
    Event(Value),
    End(Ending),
}

fn text<'a>(event: &'a Value, key: &str) -> &'a str {
    event[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is a string in {event}"))
}

const ORDER_FIELDS: [&str; 16] = [
    "id",
    "owner",
    "market",
    "asset_id",
    "side",
    "price",
    "original_size",
    "size_matched",
    "outcome",
    "order_type",
    "status",
    "maker_address",
    "created_at",
    "expiration",
    "timestamp",
    "order_owner",
];

/// Checks an `order` event's shape and that it describes `order` (the REST view).
fn assert_order_event(event: &Value, change: &str, order: &OpenOrder) {
    assert_eq!(event["event_type"], "order", "{event}");
    assert_eq!(event["type"], change, "{event}");
    for field in ORDER_FIELDS {
        text(event, field);
    }
    assert!(
        event["associate_trades"].is_null() || event["associate_trades"].is_array(),
        "{event}"
    );
    assert_eq!(text(event, "id"), order.id);
    assert_eq!(text(event, "owner"), order.owner);
    assert_eq!(text(event, "market"), order.market);
    assert_eq!(text(event, "asset_id"), order.asset_id);
    assert_eq!(text(event, "side"), order.side);
    assert_eq!(text(event, "price"), order.price);
    assert_eq!(text(event, "original_size"), order.original_size);
    assert_eq!(text(event, "size_matched"), order.size_matched);
    assert_eq!(text(event, "status"), order.status);
    assert_eq!(text(event, "order_type"), order.order_type);
    assert_eq!(text(event, "maker_address"), order.maker_address);
    assert_eq!(text(event, "created_at"), order.created_at.to_string());
    assert_eq!(text(event, "expiration"), order.expiration);
    let timestamp: i64 = text(event, "timestamp").parse().expect("milliseconds");
    assert!(timestamp > 1_000_000_000_000, "milliseconds: {timestamp}");
}

fn ids(events: &[Value]) -> BTreeSet<String> {
    events.iter().map(|e| text(e, "id").to_owned()).collect()
}

fn open_orders_of(server: &SimServer, api_key: &str) -> Vec<OpenOrder> {
    server
        .orders_of(api_key)
        .into_iter()
        .filter(|o| o.status == "LIVE")
        .collect()
}

#[tokio::test]
async fn ping_is_answered_with_pong_before_and_after_subscribing() {
    let server = start(orders(20)).await;
    let mut socket = connect(&server).await;
    socket
        .send(Message::Text("PING".into()))
        .await
        .expect("sent");
    let reply = socket.next().await.expect("a reply").expect("a frame");
    assert_eq!(reply, Message::Text("PONG".into()));

    let mut channel = Channel {
        socket,
        pending: Default::default(),
    };
    channel.send(subscription(server.credentials(), &[])).await;
    channel.ping().await;
    channel.ping().await;
    assert!(channel.pending.is_empty(), "no event without a change");
    assert_eq!(server.ws_connections(), 1);
}

#[tokio::test]
async fn bad_credentials_are_refused_with_a_close_frame_and_no_events() {
    let server = start(orders(20)).await;
    let good = server.credentials().clone();
    let wrong_secret = Credentials {
        secret: Secret::new("c2VjcmV0LWZvci10ZXN0cy1vbmx5LTMyLWJ5dGVzIQ=="),
        ..good.clone()
    };
    let wrong_passphrase = Credentials {
        passphrase: Secret::new("not-the-passphrase"),
        ..good.clone()
    };
    let unknown_key = Credentials {
        api_key: "11111111-1111-4111-8111-111111111111".into(),
        ..good.clone()
    };
    let no_auth = json!({"markets": [], "type": "user"});
    for message in [
        subscription(&wrong_secret, &[]),
        subscription(&wrong_passphrase, &[]),
        subscription(&unknown_key, &[]),
        no_auth,
    ] {
        let mut channel = Channel {
            socket: connect(&server).await,
            pending: Default::default(),
        };
        channel.send(message).await;
        let (events, ending) = channel.until_end().await;
        assert!(events.is_empty());
        match ending {
            Ending::Closed(code, reason) => {
                assert_eq!(code, CloseCode::Policy);
                assert_eq!(reason, "Unauthorized/Invalid api key");
            }
            Ending::Dropped => panic!("refused without a close frame"),
        }
    }

    let mut channel = Channel {
        socket: connect(&server).await,
        pending: Default::default(),
    };
    channel
        .socket
        .send(Message::Text("{not json".into()))
        .await
        .expect("sent");
    match channel.until_end().await.1 {
        Ending::Closed(code, reason) => {
            assert_eq!(code, CloseCode::Policy);
            assert!(
                reason.starts_with("invalid subscription message"),
                "{reason}"
            );
        }
        Ending::Dropped => panic!("refused without a close frame"),
    }
    assert_eq!(server.ws_connections(), 0);
}

#[tokio::test]
async fn every_rest_cancel_path_announces_each_canceled_order() {
    let server = start(orders(300)).await;
    let api = Api::new(&server, server.credentials());
    let mut channel = Channel::open(&server, server.credentials(), &[]).await;
    let open = open_orders_of(&server, &server.credentials().api_key);
    assert!(open.len() > 10, "enough open orders: {}", open.len());

    // DELETE /order
    let one = &open[0];
    let response = api.delete("/order", Some(json!({"orderID": one.id}))).await;
    assert_eq!(response.canceled, vec![one.id.clone()]);
    let event = channel.event().await;
    assert_order_event(&event, "CANCELLATION", &api.order(&one.id).await);
    assert_eq!(event["status"], "CANCELED");

    // A second cancel of the same order changes nothing and announces nothing.
    let again = api.delete("/order", Some(json!({"orderID": one.id}))).await;
    assert!(again.canceled.is_empty());

    // DELETE /orders
    let many = [open[1].id.clone(), open[2].id.clone(), one.id.clone()];
    let response = api.delete("/orders", Some(json!(many))).await;
    assert_eq!(response.canceled, &many[..2]);
    let events = channel.events(2).await;
    assert_eq!(ids(&events), many[..2].iter().cloned().collect());
    for event in &events {
        assert_order_event(event, "CANCELLATION", &api.order(text(event, "id")).await);
    }

    // DELETE /cancel-market-orders
    let market = open[3].market.clone();
    let response = api
        .delete("/cancel-market-orders", Some(json!({"market": market})))
        .await;
    assert!(!response.canceled.is_empty());
    let events = channel.events(response.canceled.len()).await;
    assert_eq!(ids(&events), response.canceled.iter().cloned().collect());
    assert!(events.iter().all(|e| e["market"] == market.as_str()));

    // DELETE /cancel-all
    let response = api.delete("/cancel-all", None).await;
    let events = channel.events(response.canceled.len()).await;
    assert_eq!(ids(&events), response.canceled.iter().cloned().collect());
    for event in &events {
        assert_eq!(event["type"], "CANCELLATION");
        assert_eq!(event["status"], "CANCELED");
    }
    assert!(server.open_order_ids().is_empty());

    // Every event has been read: a PONG comes next, not another event.
    channel.ping().await;
    assert!(channel.pending.is_empty(), "{:?}", channel.pending);
}

#[tokio::test]
async fn another_accounts_changes_never_reach_the_channel() {
    let server = start(orders(300)).await;
    let other = server
        .other_credentials()
        .expect("a second account")
        .clone();
    let mut channel = Channel::open(&server, server.credentials(), &[]).await;
    let mut theirs = Channel::open(&server, &other, &[]).await;

    let canceled = Api::new(&server, &other).delete("/cancel-all", None).await;
    assert!(!canceled.canceled.is_empty());
    let mine = server.open_order_ids()[0].clone();
    Api::new(&server, server.credentials())
        .delete("/order", Some(json!({"orderID": mine})))
        .await;

    let first = channel.event().await;
    assert_eq!(
        text(&first, "id"),
        mine,
        "the other account's cancels came first"
    );
    let events = theirs.events(canceled.canceled.len()).await;
    assert_eq!(ids(&events), canceled.canceled.iter().cloned().collect());
    assert!(events.iter().all(|e| e["owner"] == other.api_key.as_str()));
}

#[tokio::test]
async fn the_dead_mans_switch_announces_every_order_it_cancels() {
    let server = start(SimConfig {
        heartbeat_timeout: Duration::from_millis(200),
        ..orders(200)
    })
    .await;
    let api = Api::new(&server, server.credentials());
    let mut channel = Channel::open(&server, server.credentials(), &[]).await;
    let open: BTreeSet<String> = server.open_order_ids().into_iter().collect();
    let _: Value = api
        .call(
            Method::POST,
            "/v1/heartbeats",
            &[],
            Some(json!({"heartbeat_id": ""})),
        )
        .await;

    let events = channel.events(open.len()).await;
    assert_eq!(ids(&events), open);
    assert!(events.iter().all(|e| e["type"] == "CANCELLATION"));
    assert!(server.open_order_ids().is_empty());
    assert_eq!(server.switch_cancels(), open.len() as u64);
}

/// Reads events until `n` trades have reached a final status; returns every event read.
async fn until_settled(channel: &mut Channel, n: usize) -> Vec<Value> {
    let mut events = Vec::new();
    let mut settled = 0;
    while settled < n {
        let event = channel.event().await;
        if event["event_type"] == "trade"
            && matches!(event["status"].as_str(), Some("CONFIRMED" | "FAILED"))
        {
            settled += 1;
        }
        events.push(event);
    }
    events
}

#[tokio::test]
async fn fills_announce_trades_through_settlement_and_order_updates_matching_rest() {
    let server = start(filling(5)).await;
    let api = Api::new(&server, server.credentials());
    let key = server.credentials().api_key.clone();
    let before: HashMap<String, OpenOrder> = open_orders_of(&server, &key)
        .into_iter()
        .map(|o| (o.id.clone(), o))
        .collect();
    let mut channel = Channel::open(&server, server.credentials(), &[]).await;
    let events = until_settled(&mut channel, 3).await;

    let mut statuses: HashMap<String, Vec<String>> = HashMap::new();
    let mut matched_orders: HashMap<String, String> = HashMap::new();
    for (n, event) in events.iter().enumerate() {
        match text(event, "event_type") {
            "trade" => {
                assert_eq!(event["type"], "TRADE");
                for field in [
                    "id",
                    "taker_order_id",
                    "market",
                    "asset_id",
                    "side",
                    "size",
                    "price",
                    "fee_rate_bps",
                    "match_time",
                    "last_update",
                    "outcome",
                    "owner",
                    "trade_owner",
                    "maker_address",
                    "transaction_hash",
                    "trader_side",
                    "timestamp",
                ] {
                    text(event, field);
                }
                assert_eq!(event["trader_side"], "MAKER");
                assert_eq!(event["owner"], key.as_str());
                let trade_id = text(event, "id").to_owned();
                let status = text(event, "status").to_owned();
                if status == "MATCHED" {
                    // The order's UPDATE follows its trade.
                    let update = &events[n + 1];
                    assert_eq!(update["event_type"], "order");
                    assert_eq!(update["type"], "UPDATE");
                    let maker = &event["maker_orders"][0];
                    assert_eq!(maker["order_id"], update["id"]);
                    assert_eq!(maker["matched_amount"], event["size"]);
                    let associated = update["associate_trades"].as_array().expect("trades");
                    assert!(associated.contains(&json!(trade_id)));
                    matched_orders.insert(trade_id.clone(), text(update, "id").to_owned());
                }
                if status == "MINED" || status == "CONFIRMED" {
                    assert_ne!(text(event, "transaction_hash"), "");
                }
                statuses.entry(trade_id).or_default().push(status);
            }
            "order" => assert_eq!(event["type"], "UPDATE"),
            other => panic!("unexpected event_type {other}"),
        }
    }

    let confirmed: Vec<&String> = statuses
        .iter()
        .filter(|(_, s)| s.last().map(String::as_str) == Some("CONFIRMED"))
        .map(|(id, _)| id)
        .collect();
    assert!(confirmed.len() >= 3);
    for trade_id in confirmed {
        assert_eq!(statuses[trade_id], ["MATCHED", "MINED", "CONFIRMED"]);
        // REST agrees with the events.
        let trade = api.trade(trade_id).await;
        assert_eq!(trade.status, "CONFIRMED");
        assert_eq!(trade.trader_side, "MAKER");
        let order_id = &matched_orders[trade_id];
        assert_eq!(&trade.maker_orders[0].order_id, order_id);
        let order = api.order(order_id).await;
        assert!(order.associate_trades.contains(trade_id));
        let was = &before[order_id];
        let matched: f64 = order.size_matched.parse().expect("decimal");
        let original: f64 = order.original_size.parse().expect("decimal");
        assert!(matched > was.size_matched.parse::<f64>().expect("decimal"));
        if matched >= original {
            assert_eq!(order.status, "MATCHED");
            assert!(!server.open_order_ids().contains(order_id));
            assert_eq!(server.is_scoring(order_id), Some(false));
        } else {
            assert_eq!(order.status, "LIVE");
        }
    }
}

#[tokio::test]
async fn a_failing_settlement_goes_matched_retrying_failed() {
    let server = start(SimConfig {
        trade_failure_rate: 1.0,
        ..filling(5)
    })
    .await;
    let api = Api::new(&server, server.credentials());
    let mut channel = Channel::open(&server, server.credentials(), &[]).await;
    let events = until_settled(&mut channel, 1).await;
    let last = events.last().expect("an event");
    assert_eq!(last["status"], "FAILED");
    let trade_id = text(last, "id");
    let statuses: Vec<&str> = events
        .iter()
        .filter(|e| e["event_type"] == "trade" && e["id"] == trade_id)
        .map(|e| text(e, "status"))
        .collect();
    assert_eq!(statuses, ["MATCHED", "RETRYING", "FAILED"]);
    assert_eq!(api.trade(trade_id).await.status, "FAILED");
}

#[tokio::test]
async fn the_market_filter_follows_subscribe_and_unsubscribe() {
    let server = start(orders(300)).await;
    let api = Api::new(&server, server.credentials());
    let open = open_orders_of(&server, &server.credentials().api_key);
    let market_a = open[0].market.clone();
    let in_a: Vec<&OpenOrder> = open.iter().filter(|o| o.market == market_a).collect();
    let market_b = open
        .iter()
        .find(|o| o.market != market_a)
        .expect("two markets")
        .market
        .clone();
    let in_b: Vec<&OpenOrder> = open.iter().filter(|o| o.market == market_b).collect();
    assert!(in_a.len() >= 3 && in_b.len() >= 3);
    let cancel = |id: &str| {
        let body = json!({"orderID": id});
        let api = &api;
        async move { api.delete("/order", Some(body)).await }
    };

    let mut channel = Channel::open(&server, server.credentials(), &[&market_a]).await;
    cancel(&in_b[0].id).await;
    cancel(&in_a[0].id).await;
    assert_eq!(text(&channel.event().await, "id"), in_a[0].id);

    channel
        .send(json!({"operation": "subscribe", "markets": [market_b]}))
        .await;
    channel.ping().await;
    cancel(&in_b[1].id).await;
    assert_eq!(text(&channel.event().await, "id"), in_b[1].id);

    channel
        .send(json!({"operation": "unsubscribe", "markets": [market_a]}))
        .await;
    channel.ping().await;
    cancel(&in_a[1].id).await;
    cancel(&in_b[2].id).await;
    assert_eq!(text(&channel.event().await, "id"), in_b[2].id);

    // Subscribing to an empty list means every market again.
    channel
        .send(json!({"operation": "subscribe", "markets": []}))
        .await;
    channel.ping().await;
    cancel(&in_a[2].id).await;
    assert_eq!(text(&channel.event().await, "id"), in_a[2].id);
}

#[tokio::test]
async fn dropping_connections_cuts_them_without_a_closing_handshake() {
    let server = start(orders(100)).await;
    let mut first = Channel::open(&server, server.credentials(), &[]).await;
    let mut second = Channel::open(&server, server.credentials(), &[]).await;
    assert_eq!(server.drop_ws_connections(), 2);
    for channel in [&mut first, &mut second] {
        let (events, ending) = channel.until_end().await;
        assert!(events.is_empty());
        assert!(matches!(ending, Ending::Dropped), "{ending:?}");
    }

    // The admin endpoint does the same, for a simulator in another process.
    let mut third = Channel::open(&server, server.credentials(), &[]).await;
    let reply: Value = reqwest::Client::new()
        .post(format!("{}/_sim/ws/drop", server.url()))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(reply, json!({"dropped": 1}));
    assert!(matches!(third.until_end().await.1, Ending::Dropped));

    // A new connection works as before.
    let mut again = Channel::open(&server, server.credentials(), &[]).await;
    let id = server.open_order_ids()[0].clone();
    Api::new(&server, server.credentials())
        .delete("/order", Some(json!({"orderID": id})))
        .await;
    assert_eq!(text(&again.event().await, "id"), id);
}

#[tokio::test]
async fn ws_drop_after_cuts_each_connection_after_that_many_events() {
    let server = start(SimConfig {
        ws_drop_after: Some(3),
        ..orders(200)
    })
    .await;
    let mut channel = Channel::open(&server, server.credentials(), &[]).await;
    let canceled = Api::new(&server, server.credentials())
        .delete("/cancel-all", None)
        .await;
    assert!(canceled.canceled.len() > 3);
    let (events, ending) = channel.until_end().await;
    assert_eq!(events.len(), 3);
    assert!(matches!(ending, Ending::Dropped), "{ending:?}");
    // The orders announced are the first ones canceled; the rest were missed.
    let announced: Vec<&str> = events.iter().map(|e| text(e, "id")).collect();
    assert_eq!(announced, canceled.canceled[..3]);
}

/// The first `n` fills of a simulator: (trade id, order id, size, price).
async fn first_fills(seed: u64, n: usize) -> Vec<(String, String, String, String)> {
    let server = start(filling(seed)).await;
    let mut channel = Channel::open(&server, server.credentials(), &[]).await;
    let mut fills = Vec::new();
    while fills.len() < n {
        let event = channel.event().await;
        if event["event_type"] == "trade" && event["status"] == "MATCHED" {
            fills.push((
                text(&event, "id").to_owned(),
                event["maker_orders"][0]["order_id"]
                    .as_str()
                    .expect("order id")
                    .to_owned(),
                text(&event, "size").to_owned(),
                text(&event, "price").to_owned(),
            ));
        }
    }
    // Every fill is on record in REST too.
    let trades: Vec<String> = server
        .trades_of(&server.credentials().api_key)
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert!(fills.iter().all(|f| trades.contains(&f.0)));
    fills
}

#[tokio::test]
async fn fills_are_the_same_for_the_same_seed() {
    let a = first_fills(11, 6).await;
    let b = first_fills(11, 6).await;
    assert_eq!(a, b);
    let c = first_fills(12, 6).await;
    assert_ne!(a, c);
}

#[test]
fn the_binary_fills_with_the_fills_flag() {
    use std::io::BufRead as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let bad: Output = isolated_in(dir.path())
        .args(["sim", "--port", "0", "--fills", "often"])
        .output()
        .expect("runs")
        .into();
    bad.status(2);

    let mut child = isolated_in(dir.path())
        .args(["sim", "--port", "0", "--orders", "50", "--fills", "20ms"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("starts");
    let stdout = child.stdout.take().expect("stdout");
    let first = std::io::BufReader::new(stdout)
        .lines()
        .next()
        .expect("a line")
        .expect("text");
    let url = first
        .strip_prefix("clobscript sim listening on ")
        .unwrap_or_else(|| panic!("ready line: {first}"))
        .replacen("http://", "ws://", 1);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let event = runtime.block_on(async {
        let (socket, _) = tokio_tungstenite::connect_async(format!("{url}/ws/user"))
            .await
            .expect("handshake");
        let mut channel = Channel {
            socket,
            pending: Default::default(),
        };
        channel
            .send(subscription(&clobscript::sim::demo_credentials(), &[]))
            .await;
        channel.event().await
    });
    assert_eq!(event["event_type"], "trade");
    assert_eq!(event["status"], "MATCHED");
    let _ = child.kill();
    let _ = child.wait();
}
