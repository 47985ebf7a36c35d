//! No event lost, none handled twice: what the watch has seen of the account's trades and
//! orders, which events are new, and what a reconnect missed (read through REST).
//!
//! Trades: every trade id is passed on once, the first time it is seen, whether on the user
//! channel or in a REST listing. `watermark` is a time (Unix seconds, the exchange's clock)
//! before which every trade has been seen: at the start the watch's start time (the trades
//! listed then are history and marked seen), afterwards the latest `match_time` of a complete
//! catch-up listing. A catch-up lists the trades matched at or after it. Trades matched while
//! a connection was live arrive on it; the ones matched while none was are in that listing,
//! because each catch-up starts only once the new subscription is live.
//!
//! Orders (only when an `on_order` handler wants them): the open orders as last known. A
//! catch-up compares them with the open orders now: a new one is a `PLACEMENT`, a changed
//! `size_matched` an `UPDATE`, and one no longer open is read by id and becomes a
//! `CANCELLATION` (canceled) or an `UPDATE` (filled). A channel event that only repeats what
//! is already known (the catch-up reported it first) is dropped, and nothing is passed on for
//! an order after it closed.
//!
//! Markets (`watch --market`): when some are named, only their trades and orders are followed,
//! on the channel and in every listing; none named is every market.

use std::collections::{HashMap, HashSet};

use futures_util::StreamExt as _;

use crate::clob::types::{OpenOrder, Trade};
use crate::clob::user_channel::{OrderEvent, OrderEventType, unix_seconds};
use crate::clob::{Client, ClobError, OrderFilter, TradeFilter};

/// Missing orders read by id at once during a catch-up.
const LOOKUP_CONCURRENCY: usize = 8;

/// What the tracker follows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Follow {
    pub trades: bool,
    pub orders: bool,
}

fn match_time(trade: &Trade) -> i64 {
    trade
        .match_time
        .trim()
        .parse::<i64>()
        .map_or(0, unix_seconds)
}

fn amount(text: &str) -> f64 {
    text.trim().parse::<f64>().unwrap_or(0.0)
}

fn is_open(order: &OpenOrder) -> bool {
    let status = order.status.trim().to_ascii_uppercase();
    if matches!(
        status.as_str(),
        "MATCHED" | "CANCELED" | "CANCELLED" | "CANCELED_MARKET_RESOLVED" | "INVALID"
    ) {
        return false;
    }
    let original = order.original_size.trim();
    original.is_empty() || amount(&order.size_matched) < amount(original)
}

/// The same state, as far as an `order` event goes.
fn same_state(a: &OpenOrder, b: &OpenOrder) -> bool {
    a.status.trim().eq_ignore_ascii_case(b.status.trim())
        && (amount(&a.size_matched) - amount(&b.size_matched)).abs() < 1e-9
}

/// What a catch-up found, in the order to hand on.
#[derive(Debug, Default)]
pub struct Missed {
    pub trades: Vec<Trade>,
    pub orders: Vec<OrderEvent>,
}

#[derive(Debug, Default)]
pub struct Tracker {
    follow: Follow,
    /// The markets followed (condition ids as given); empty for every market.
    markets: Vec<String>,
    seen_trades: HashSet<String>,
    watermark: i64,
    open: HashMap<String, OpenOrder>,
    closed: HashSet<String>,
}

impl Tracker {
    /// The state at the start of a watch: the exchange's time, the trades matched from a
    /// second before it (history: never handed on), and the open orders (when followed).
    pub async fn baseline(
        client: &Client,
        follow: Follow,
        markets: &[String],
    ) -> Result<Tracker, ClobError> {
        let mut tracker = Tracker {
            follow,
            markets: markets.to_vec(),
            ..Tracker::default()
        };
        if follow.trades {
            let start = client.server_time().await?;
            tracker.watermark = start;
            let history = tracker.trades_after(client, start - 2).await?;
            tracker
                .seen_trades
                .extend(history.into_iter().map(|trade| trade.id));
        }
        if follow.orders {
            let open = tracker.open_orders(client).await?;
            tracker.open = open.into_iter().map(|o| (o.id.clone(), o)).collect();
        }
        Ok(tracker)
    }

    /// Whether `market` is followed.
    fn follows(&self, market: &str) -> bool {
        self.markets.is_empty()
            || self
                .markets
                .iter()
                .any(|followed| followed.eq_ignore_ascii_case(market.trim()))
    }

    /// The trades matched after `after` in the markets followed.
    async fn trades_after(&self, client: &Client, after: i64) -> Result<Vec<Trade>, ClobError> {
        let filter = |market: Option<&String>| TradeFilter {
            market: market.cloned(),
            after: Some(after),
            ..TradeFilter::default()
        };
        if self.markets.is_empty() {
            return client.trades(&filter(None)).await;
        }
        let mut all = Vec::new();
        for market in &self.markets {
            all.extend(client.trades(&filter(Some(market))).await?);
        }
        Ok(all)
    }

    /// The open orders in the markets followed.
    async fn open_orders(&self, client: &Client) -> Result<Vec<OpenOrder>, ClobError> {
        if self.markets.is_empty() {
            return client.open_orders(&OrderFilter::default()).await;
        }
        let mut all = Vec::new();
        for market in &self.markets {
            let filter = OrderFilter {
                market: Some(market.clone()),
                ..OrderFilter::default()
            };
            all.extend(client.open_orders(&filter).await?);
        }
        Ok(all)
    }

    /// A trade from the channel: `Some` the first time its id is seen.
    pub fn trade(&mut self, trade: Trade) -> Option<Trade> {
        (self.follow.trades
            && self.follows(&trade.market)
            && self.seen_trades.insert(trade.id.clone()))
        .then_some(trade)
    }

    /// An order event from the channel: `Some` unless it repeats what is known.
    pub fn order(&mut self, event: OrderEvent) -> Option<OrderEvent> {
        if !self.follow.orders
            || !self.follows(&event.order.market)
            || self.closed.contains(&event.order.id)
        {
            return None;
        }
        let id = event.order.id.clone();
        if event.kind != OrderEventType::Cancellation
            && let Some(known) = self.open.get(&id)
            && same_state(known, &event.order)
        {
            return None;
        }
        if event.kind == OrderEventType::Cancellation || !is_open(&event.order) {
            self.open.remove(&id);
            self.closed.insert(id);
        } else {
            self.open.insert(id, event.order.clone());
        }
        Some(event)
    }

    /// Reads what happened while no connection was live (call once the new subscription is
    /// live). New trades come oldest first; they and the order changes are marked seen.
    pub async fn catch_up(&mut self, client: &Client) -> Result<Missed, ClobError> {
        let mut missed = Missed::default();
        if self.follow.trades {
            let mut listed = self.trades_after(client, self.watermark - 1).await?;
            listed.sort_by_key(match_time);
            let latest = listed.iter().map(match_time).max();
            missed.trades = listed
                .into_iter()
                .filter(|trade| self.seen_trades.insert(trade.id.clone()))
                .collect();
            if let Some(latest) = latest {
                self.watermark = self.watermark.max(latest);
            }
        }
        if self.follow.orders {
            missed.orders = self.orders_changed(client).await?;
        }
        Ok(missed)
    }

    async fn orders_changed(&mut self, client: &Client) -> Result<Vec<OrderEvent>, ClobError> {
        let now = self.open_orders(client).await?;
        let mut events = Vec::new();
        let still_open: HashSet<&str> = now.iter().map(|o| o.id.as_str()).collect();
        let gone: Vec<String> = self
            .open
            .keys()
            .filter(|id| !still_open.contains(id.as_str()))
            .cloned()
            .collect();
        for order in &now {
            if self.closed.contains(&order.id) {
                continue;
            }
            let kind = match self.open.get(&order.id) {
                None => OrderEventType::Placement,
                Some(known) if !same_state(known, order) => OrderEventType::Update,
                Some(_) => continue,
            };
            events.push(rest_event(kind, order.clone()));
        }
        let looked_up: Vec<(String, Result<OpenOrder, ClobError>)> =
            futures_util::stream::iter(gone)
                .map(|id| async move {
                    let order = client.order(&id).await;
                    (id, order)
                })
                .buffered(LOOKUP_CONCURRENCY)
                .collect()
                .await;
        for (id, order) in looked_up {
            let order = match order {
                Ok(order) => order,
                // Not the key's any more (or never was): it left the book, reason unknown.
                Err(ClobError::NotFound { .. }) => {
                    self.open.remove(&id);
                    continue;
                }
                Err(error) => return Err(error),
            };
            let kind = if order.status.trim().eq_ignore_ascii_case("MATCHED") {
                OrderEventType::Update
            } else {
                OrderEventType::Cancellation
            };
            events.push(rest_event(kind, order));
        }
        for event in &events {
            let id = event.order.id.clone();
            if event.kind == OrderEventType::Cancellation || !is_open(&event.order) {
                self.open.remove(&id);
                self.closed.insert(id);
            } else {
                self.open.insert(id, event.order.clone());
            }
        }
        Ok(events)
    }
}

fn rest_event(kind: OrderEventType, order: OpenOrder) -> OrderEvent {
    OrderEvent {
        kind,
        order,
        timestamp_ms: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trade(id: &str) -> Trade {
        serde_json::from_value(serde_json::json!({"id": id, "match_time": "1700000000"}))
            .expect("trade")
    }

    fn order(id: &str, status: &str, matched: &str) -> OpenOrder {
        serde_json::from_value(serde_json::json!({
            "id": id, "status": status, "original_size": "10", "size_matched": matched,
        }))
        .expect("order")
    }

    fn event(kind: OrderEventType, order: OpenOrder) -> OrderEvent {
        OrderEvent {
            kind,
            order,
            timestamp_ms: Some(1),
        }
    }

    fn following() -> Tracker {
        Tracker {
            follow: Follow {
                trades: true,
                orders: true,
            },
            ..Tracker::default()
        }
    }

    #[test]
    fn a_trade_is_handed_on_once_whatever_its_later_statuses() {
        let mut tracker = following();
        assert!(tracker.trade(trade("t1")).is_some());
        assert!(tracker.trade(trade("t1")).is_none());
        assert!(tracker.trade(trade("t2")).is_some());
        let mut history = following();
        history.seen_trades.insert("old".into());
        assert!(history.trade(trade("old")).is_none());
    }

    #[test]
    fn order_events_that_repeat_known_state_are_dropped() {
        let mut tracker = following();
        tracker.open.insert("o1".into(), order("o1", "LIVE", "0"));
        let fill = event(OrderEventType::Update, order("o1", "LIVE", "4"));
        assert!(tracker.order(fill.clone()).is_some());
        assert!(tracker.order(fill).is_none(), "the same fill again");
        let cancel = event(OrderEventType::Cancellation, order("o1", "CANCELED", "4"));
        assert!(tracker.order(cancel.clone()).is_some());
        assert!(tracker.order(cancel).is_none(), "closed orders stay closed");
        let late = event(OrderEventType::Update, order("o1", "LIVE", "5"));
        assert!(tracker.order(late).is_none());
    }

    #[test]
    fn a_full_fill_closes_the_order() {
        let mut tracker = following();
        tracker.open.insert("o2".into(), order("o2", "LIVE", "0"));
        let filled = event(OrderEventType::Update, order("o2", "MATCHED", "10"));
        assert!(tracker.order(filled).is_some());
        assert!(!tracker.open.contains_key("o2") && tracker.closed.contains("o2"));
    }

    #[test]
    fn nothing_is_handed_on_that_is_not_followed() {
        let mut tracker = Tracker::default();
        assert!(tracker.trade(trade("t1")).is_none());
        assert!(
            tracker
                .order(event(OrderEventType::Placement, order("o", "LIVE", "0")))
                .is_none()
        );
    }
}
