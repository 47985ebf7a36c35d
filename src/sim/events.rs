//! The user channel's event bus: every change to an account's orders and trades is published
//! here, already rendered as the JSON text the exchange sends, and each `/ws/user` connection
//! picks out its own account's events. Publishing costs one atomic load while nobody listens:
//! events are rendered only when a connection is subscribed.
//!
//! The bus also carries the injected websocket faults: a drop signal that cuts every open
//! connection (`SimServer::drop_ws_connections`) and the per-connection event budget
//! (`SimConfig::ws_drop_after`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Serialize;
use serde_json::Value;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

use super::state::AccountNo;
use crate::clob::types::{OpenOrder, Trade};

/// Events a connection may fall behind by before it is closed (it then reconnects and reads
/// what it missed through REST, as against the exchange).
const CAPACITY: usize = 16_384;

/// What happened to an order, as the `type` of an `order` event. The exchange also sends
/// `PLACEMENT`; the simulator has no order entry, so it never does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderChange {
    Update,
    Cancellation,
}

impl OrderChange {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderChange::Update => "UPDATE",
            OrderChange::Cancellation => "CANCELLATION",
        }
    }
}

/// One published event: whose it is, which market it belongs to, and its wire text.
#[derive(Debug)]
pub struct UserEvent {
    pub account: AccountNo,
    pub market: String,
    pub text: String,
}

/// `event_type: "order"` as the exchange sends it: the order's fields (with `created_at` as a
/// string of Unix seconds, unlike REST), `order_owner`, `associate_trades` as `null` while the
/// order has none, and `timestamp` in Unix milliseconds.
#[derive(Serialize)]
struct OrderMessage<'a> {
    event_type: &'static str,
    #[serde(rename = "type")]
    change: &'static str,
    id: &'a str,
    owner: &'a str,
    order_owner: &'a str,
    market: &'a str,
    asset_id: &'a str,
    side: &'a str,
    price: &'a str,
    original_size: &'a str,
    size_matched: &'a str,
    associate_trades: Option<&'a [String]>,
    outcome: &'a str,
    order_type: &'a str,
    status: &'a str,
    maker_address: &'a str,
    created_at: String,
    expiration: &'a str,
    timestamp: String,
}

/// The wire text of an `order` event.
pub fn order_message(order: &OpenOrder, change: OrderChange, now_ms: i64) -> String {
    let message = OrderMessage {
        event_type: "order",
        change: change.as_str(),
        id: &order.id,
        owner: &order.owner,
        order_owner: &order.owner,
        market: &order.market,
        asset_id: &order.asset_id,
        side: &order.side,
        price: &order.price,
        original_size: &order.original_size,
        size_matched: &order.size_matched,
        associate_trades: (!order.associate_trades.is_empty())
            .then_some(order.associate_trades.as_slice()),
        outcome: &order.outcome,
        order_type: &order.order_type,
        status: &order.status,
        maker_address: &order.maker_address,
        created_at: order.created_at.to_string(),
        expiration: &order.expiration,
        timestamp: now_ms.to_string(),
    };
    serde_json::to_string(&message).unwrap_or_default()
}

/// The wire text of a `trade` event: the trade as `GET /data/trades` shows it, plus
/// `event_type: "trade"`, `type: "TRADE"`, `owner` (the receiving account's key),
/// `trade_owner` (the key of the trade's taker) and `timestamp` in Unix milliseconds.
pub fn trade_message(trade: &Trade, owner: &str, trade_owner: &str, now_ms: i64) -> String {
    let Ok(Value::Object(mut fields)) = serde_json::to_value(trade) else {
        return String::new();
    };
    let mut message = serde_json::Map::with_capacity(fields.len() + 4);
    message.insert("event_type".into(), "trade".into());
    message.insert("type".into(), "TRADE".into());
    message.append(&mut fields);
    message.insert("owner".into(), owner.into());
    message.insert("trade_owner".into(), trade_owner.into());
    message.insert("timestamp".into(), now_ms.to_string().into());
    serde_json::to_string(&message).unwrap_or_default()
}

#[derive(Debug)]
struct Bus {
    sender: broadcast::Sender<Arc<UserEvent>>,
    drops: watch::Sender<u64>,
    drop_after: Option<u64>,
    stop: CancellationToken,
    connections: AtomicUsize,
}

/// The publishing side, owned by the exchange state and shared with every connection.
#[derive(Clone, Debug)]
pub struct EventBus {
    bus: Arc<Bus>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus::new(None, CancellationToken::new())
    }
}

impl EventBus {
    /// A bus whose connections are dropped after `drop_after` events each (none: never), and
    /// which ends every connection when `stop` is cancelled.
    pub fn new(drop_after: Option<u64>, stop: CancellationToken) -> EventBus {
        let (sender, _) = broadcast::channel(CAPACITY);
        let (drops, _) = watch::channel(0);
        EventBus {
            bus: Arc::new(Bus {
                sender,
                drops,
                drop_after: drop_after.filter(|n| *n > 0),
                stop,
                connections: AtomicUsize::new(0),
            }),
        }
    }

    /// Whether any connection would receive an event: when not, nothing is rendered.
    pub fn has_listeners(&self) -> bool {
        self.bus.sender.receiver_count() > 0
    }

    /// Publishes the event `render` builds, if anyone listens.
    pub fn publish(&self, account: AccountNo, market: &str, render: impl FnOnce() -> String) {
        if !self.has_listeners() {
            return;
        }
        let text = render();
        if text.is_empty() {
            return;
        }
        // An error only means the last listener went away meanwhile.
        let _ = self.bus.sender.send(Arc::new(UserEvent {
            account,
            market: market.to_owned(),
            text,
        }));
    }

    /// A new listener; it sees every event published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<UserEvent>> {
        self.bus.sender.subscribe()
    }

    /// The drop signal: it changes whenever the connections are to be cut.
    pub fn drops(&self) -> watch::Receiver<u64> {
        self.bus.drops.subscribe()
    }

    /// Cuts every open connection without a closing handshake; returns how many were open.
    pub fn drop_connections(&self) -> usize {
        self.bus.drops.send_modify(|generation| *generation += 1);
        self.connections()
    }

    /// Events a connection may send before it is dropped.
    pub fn drop_after(&self) -> Option<u64> {
        self.bus.drop_after
    }

    /// Cancelled when the simulator stops.
    pub fn stopped(&self) -> CancellationToken {
        self.bus.stop.clone()
    }

    /// Open authenticated connections.
    pub fn connections(&self) -> usize {
        self.bus.connections.load(Ordering::Relaxed)
    }

    /// Counts a connection as open until the guard is dropped.
    pub fn connection_guard(&self) -> ConnectionGuard {
        self.bus.connections.fetch_add(1, Ordering::Relaxed);
        ConnectionGuard { bus: self.clone() }
    }
}

/// Keeps a connection counted while it is open.
#[derive(Debug)]
pub struct ConnectionGuard {
    bus: EventBus,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.bus.bus.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order() -> OpenOrder {
        OpenOrder {
            id: "0xabc".into(),
            status: "LIVE".into(),
            owner: "key".into(),
            maker_address: "0x01".into(),
            market: "0xm".into(),
            asset_id: "123".into(),
            side: "BUY".into(),
            original_size: "10".into(),
            size_matched: "0".into(),
            price: "0.5".into(),
            outcome: "Yes".into(),
            order_type: "GTC".into(),
            expiration: "0".into(),
            created_at: 1_700_000_000,
            associate_trades: Vec::new(),
        }
    }

    #[test]
    fn order_events_carry_the_exchange_spelling() {
        let text = order_message(&order(), OrderChange::Cancellation, 1_700_000_000_123);
        let value: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(value["event_type"], "order");
        assert_eq!(value["type"], "CANCELLATION");
        assert_eq!(value["created_at"], "1700000000");
        assert_eq!(value["timestamp"], "1700000000123");
        assert_eq!(value["associate_trades"], Value::Null);
        assert_eq!(value["order_owner"], "key");
    }

    #[test]
    fn nothing_is_rendered_without_a_listener() {
        let bus = EventBus::default();
        bus.publish(0, "0xm", || panic!("rendered with nobody listening"));
        let mut listener = bus.subscribe();
        bus.publish(0, "0xm", || "{}".to_owned());
        assert_eq!(listener.try_recv().expect("event").text, "{}");
    }
}
