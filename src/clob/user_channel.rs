//! The exchange's user channel: a websocket that pushes every change to the account's orders
//! and trades (PROTOCOL.md, "User channel").
//!
//! [`run`] keeps one subscription alive until it is told to stop: it connects, sends the
//! subscription (`auth`, `markets`, `type: "user"`), sends text `PING` every
//! [`ChannelConfig::ping_interval`] and expects `PONG` before the next one, and reconnects with
//! exponential backoff and jitter whenever the connection fails, closes or goes quiet. What it
//! receives is handed on as [`Notice`]s, in order: [`Notice::Connected`] once a subscription is
//! live (a `PONG` answered after it, as messages are handled in order), then that connection's
//! events, then [`Notice::Disconnected`] when it is lost. Events published while no connection
//! was live are not replayed by the exchange: a caller that must see every event reads what it
//! missed through REST after each `Connected`.
//!
//! Parsing is lenient where the exchange has been seen to vary: a frame may hold one event or
//! an array of them, the trade time may be spelled `match_time` or `matchtime`, and times may
//! be in Unix seconds or milliseconds ([`parse_message`]).
//!
//! The credentials travel only inside the subscription message; nothing here logs them.

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Map, Value};
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_util::sync::CancellationToken;

use super::auth::Credentials;
use super::types::{OpenOrder, Trade};

/// The exchange's user channel.
pub const DEFAULT_URL: &str = "wss://ws-subscriptions-clob.polymarket.com/ws/user";

/// The exchange's keepalive cadence.
pub const PING_INTERVAL: Duration = Duration::from_secs(10);

/// How long to wait between reconnection attempts: `initial`, doubled after every failed
/// attempt up to `max`, each delay drawn between half and all of that (jitter, so many clients
/// cut off at once do not come back at once). A connection that got live resets it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(250),
            max: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    /// The ceiling of the delay before attempt `failures + 1`.
    pub fn ceiling(&self, failures: u32) -> Duration {
        let factor = 2u32.saturating_pow(failures.min(20));
        self.initial.saturating_mul(factor).min(self.max)
    }

    /// The delay before the next attempt after `failures` failed ones, with jitter.
    pub fn delay(&self, failures: u32) -> Duration {
        let ceiling = self.ceiling(failures);
        let half = ceiling / 2;
        let spread = u64::try_from(ceiling.saturating_sub(half).as_micros()).unwrap_or(u64::MAX);
        half + Duration::from_micros(rand::random_range(0..=spread))
    }
}

/// How to reach and keep the user channel.
#[derive(Clone, Debug)]
pub struct ChannelConfig {
    /// `wss://…/ws/user` (or `ws://` for a local simulator).
    pub url: String,
    /// The L2 credentials the subscription carries (the address is not sent).
    pub credentials: Credentials,
    /// Condition ids to subscribe to; empty means every market.
    pub markets: Vec<String>,
    /// Time between `PING`s; a `PONG` must arrive before the next one is due.
    pub ping_interval: Duration,
    /// Bound on connecting (TCP, TLS and the websocket handshake) and on the first `PONG`.
    pub connect_timeout: Duration,
    pub backoff: Backoff,
}

impl ChannelConfig {
    /// The exchange's cadence: `PING` every 10 s, 10 s to connect, the default backoff.
    pub fn new(url: impl Into<String>, credentials: Credentials) -> ChannelConfig {
        ChannelConfig {
            url: url.into(),
            credentials,
            markets: Vec::new(),
            ping_interval: PING_INTERVAL,
            connect_timeout: Duration::from_secs(10),
            backoff: Backoff::default(),
        }
    }
}

/// Checks that `url` can name a user channel: `ws://` or `wss://` with a host.
pub fn check_url(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url.trim()).map_err(|e| format!("`{url}`: {e}"))?;
    if !matches!(parsed.scheme(), "ws" | "wss") || parsed.host_str().is_none() {
        return Err(format!(
            "`{url}` is not a websocket URL: it must start with wss:// (or ws://) and name a host"
        ));
    }
    Ok(())
}

/// What an `order` event says happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrderEventType {
    Placement,
    Update,
    Cancellation,
    /// A `type` this client does not know, kept as sent.
    Other(String),
}

impl OrderEventType {
    pub fn parse(text: &str) -> OrderEventType {
        match text.trim().to_ascii_uppercase().as_str() {
            "PLACEMENT" => OrderEventType::Placement,
            "UPDATE" => OrderEventType::Update,
            "CANCELLATION" => OrderEventType::Cancellation,
            _ => OrderEventType::Other(text.trim().to_owned()),
        }
    }

    /// The wire spelling.
    pub fn as_str(&self) -> &str {
        match self {
            OrderEventType::Placement => "PLACEMENT",
            OrderEventType::Update => "UPDATE",
            OrderEventType::Cancellation => "CANCELLATION",
            OrderEventType::Other(text) => text,
        }
    }
}

/// `event_type: "order"`: the order as it is after the change.
#[derive(Clone, Debug, PartialEq)]
pub struct OrderEvent {
    pub kind: OrderEventType,
    pub order: OpenOrder,
    /// When the exchange sent it, Unix milliseconds.
    pub timestamp_ms: Option<i64>,
}

/// `event_type: "trade"`: the trade with its current `status` (`MATCHED`, `MINED`,
/// `CONFIRMED`, `RETRYING`, `FAILED`). `match_time` and `last_update` are Unix seconds.
#[derive(Clone, Debug, PartialEq)]
pub struct TradeEvent {
    pub trade: Trade,
    /// When the exchange sent it, Unix milliseconds.
    pub timestamp_ms: Option<i64>,
}

/// One event of the user channel.
#[derive(Clone, Debug, PartialEq)]
pub enum ChannelEvent {
    Order(OrderEvent),
    Trade(TradeEvent),
}

/// What [`run`] reports, in the order it happened.
#[derive(Clone, Debug, PartialEq)]
pub enum Notice {
    /// A subscription is live; `connection` counts them from 1. Events that follow belong to
    /// it; anything before it and after the previous connection was lost was missed.
    Connected {
        connection: u64,
    },
    Event(Box<ChannelEvent>),
    /// The live connection (or an attempt at one) ended; the next attempt is in `retry_in`.
    Disconnected {
        reason: String,
        retry_in: Duration,
    },
}

/// Why [`run`] gave up.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// The channel closed the connection with a policy violation: the credentials (or the
    /// subscription) were refused. Retrying would only be refused again.
    #[error("the user channel refused the subscription: {0}")]
    Refused(String),
}

/// Times at or above this are milliseconds (it is the year 5138 in seconds).
const MILLIS_THRESHOLD: i64 = 100_000_000_000;

fn as_i64(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64)),
        Value::String(s) => {
            let s = s.trim();
            s.parse::<i64>().ok().or_else(|| {
                s.parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .map(|f| f as i64)
            })
        }
        _ => None,
    }
}

/// A time in seconds or milliseconds, as Unix seconds.
pub fn unix_seconds(value: i64) -> i64 {
    if value.abs() >= MILLIS_THRESHOLD {
        value / 1000
    } else {
        value
    }
}

/// A time in seconds or milliseconds, as Unix milliseconds.
pub fn unix_millis(value: i64) -> i64 {
    if value.abs() >= MILLIS_THRESHOLD {
        value
    } else {
        value.saturating_mul(1000)
    }
}

/// Rewrites the time field `key` of `fields` as Unix seconds (a string, as REST sends it).
fn seconds_field(fields: &mut Map<String, Value>, key: &str) {
    if let Some(value) = fields.get(key).and_then(as_i64) {
        fields.insert(
            key.to_owned(),
            Value::String(unix_seconds(value).to_string()),
        );
    }
}

fn event_from(mut fields: Map<String, Value>) -> Result<Option<ChannelEvent>, String> {
    let event_type = fields
        .get("event_type")
        .and_then(Value::as_str)
        .map(|s| s.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let timestamp_ms = fields.get("timestamp").and_then(as_i64).map(unix_millis);
    match event_type.as_str() {
        "trade" => {
            if !fields.contains_key("match_time")
                && let Some(time) = fields.remove("matchtime")
            {
                fields.insert("match_time".into(), time);
            }
            seconds_field(&mut fields, "match_time");
            seconds_field(&mut fields, "last_update");
            let trade: Trade = serde_json::from_value(Value::Object(fields))
                .map_err(|e| format!("a trade event that does not parse: {e}"))?;
            Ok(Some(ChannelEvent::Trade(TradeEvent {
                trade,
                timestamp_ms,
            })))
        }
        "order" => {
            let kind =
                OrderEventType::parse(fields.get("type").and_then(Value::as_str).unwrap_or(""));
            seconds_field(&mut fields, "created_at");
            let order: OpenOrder = serde_json::from_value(Value::Object(fields))
                .map_err(|e| format!("an order event that does not parse: {e}"))?;
            Ok(Some(ChannelEvent::Order(OrderEvent {
                kind,
                order,
                timestamp_ms,
            })))
        }
        // Other event types (the market channel's, future ones) are not ours to act on.
        _ => Ok(None),
    }
}

/// The events in one text frame: a single object or an array of them. Objects whose
/// `event_type` is neither `order` nor `trade` are skipped.
pub fn parse_message(text: &str) -> Result<Vec<ChannelEvent>, String> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| format!("a message that is not JSON: {e}"))?;
    let objects = match value {
        Value::Array(items) => items,
        object @ Value::Object(_) => vec![object],
        other => {
            return Err(format!(
                "a message that is neither an event nor a list: {other}"
            ));
        }
    };
    let mut events = Vec::with_capacity(objects.len());
    for object in objects {
        match object {
            Value::Object(fields) => events.extend(event_from(fields)?),
            other => return Err(format!("a list entry that is not an event: {other}")),
        }
    }
    Ok(events)
}

/// The subscription message. Built only here and sent only on the socket.
fn subscription(config: &ChannelConfig) -> String {
    serde_json::json!({
        "auth": {
            "apiKey": config.credentials.api_key,
            "secret": config.credentials.secret.expose(),
            "passphrase": config.credentials.passphrase.expose(),
        },
        "markets": config.markets,
        "type": "user",
    })
    .to_string()
}

/// How one connection ended.
enum Ended {
    Stopped,
    Refused(String),
    Lost { reason: String, was_live: bool },
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Keeps the user channel subscribed until `stop` is cancelled (or `notices` is dropped),
/// reconnecting as often as it takes. Returns an error only when the channel refuses the
/// subscription itself.
pub async fn run(
    config: ChannelConfig,
    notices: UnboundedSender<Notice>,
    stop: CancellationToken,
) -> Result<(), ChannelError> {
    let mut failures: u32 = 0;
    let mut connections: u64 = 0;
    loop {
        let ended = tokio::select! {
            () = stop.cancelled() => Ended::Stopped,
            ended = connection(&config, &notices, &mut connections, &stop) => ended,
        };
        let reason = match ended {
            Ended::Stopped => return Ok(()),
            Ended::Refused(reason) => return Err(ChannelError::Refused(reason)),
            Ended::Lost { reason, was_live } => {
                if was_live {
                    failures = 0;
                }
                reason
            }
        };
        let retry_in = config.backoff.delay(failures);
        failures = failures.saturating_add(1);
        if notices
            .send(Notice::Disconnected { reason, retry_in })
            .is_err()
        {
            return Ok(());
        }
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            () = tokio::time::sleep(retry_in) => {}
        }
    }
}

/// Why a close frame ended the connection.
fn closed(frame: Option<&tokio_tungstenite::tungstenite::protocol::CloseFrame>) -> Ended {
    match frame {
        Some(frame) if frame.code == CloseCode::Policy => Ended::Refused(frame.reason.to_string()),
        Some(frame) => Ended::Lost {
            reason: format!(
                "the channel closed the connection ({}{}{})",
                u16::from(frame.code),
                if frame.reason.is_empty() { "" } else { ": " },
                frame.reason
            ),
            was_live: false,
        },
        None => Ended::Lost {
            reason: "the channel closed the connection".into(),
            was_live: false,
        },
    }
}

/// One connection: connect, subscribe, wait for the first `PONG`, then pass events on until
/// something ends it.
async fn connection(
    config: &ChannelConfig,
    notices: &UnboundedSender<Notice>,
    connections: &mut u64,
    stop: &CancellationToken,
) -> Ended {
    let lost = |reason: String| Ended::Lost {
        reason,
        was_live: false,
    };
    let connecting = tokio_tungstenite::connect_async(config.url.trim());
    let mut socket: Socket = match tokio::time::timeout(config.connect_timeout, connecting).await {
        Err(_) => return lost(format!("no connection within {:?}", config.connect_timeout)),
        Ok(Err(error)) => return lost(format!("cannot connect: {error}")),
        Ok(Ok((socket, _))) => socket,
    };
    if let Err(error) = socket.send(Message::text(subscription(config))).await {
        return lost(format!("cannot subscribe: {error}"));
    }
    if let Err(error) = socket.send(Message::text("PING")).await {
        return lost(format!("cannot send PING: {error}"));
    }
    // Events may come before the PONG; they belong after `Connected`.
    let mut early = Vec::new();
    let deadline = Instant::now() + config.connect_timeout;
    loop {
        let message = tokio::select! {
            () = stop.cancelled() => return Ended::Stopped,
            () = tokio::time::sleep_until(deadline) => {
                return lost("no PONG after subscribing".into());
            }
            message = socket.next() => message,
        };
        match message {
            Some(Ok(Message::Text(text))) if text.trim() == "PONG" => break,
            Some(Ok(Message::Text(text))) => early.push(text),
            Some(Ok(Message::Close(frame))) => return closed(frame.as_ref()),
            Some(Ok(_)) => {}
            Some(Err(error)) => return lost(format!("connection failed: {error}")),
            None => return lost("the connection ended".into()),
        }
    }
    *connections += 1;
    let connection = *connections;
    if notices.send(Notice::Connected { connection }).is_err() {
        return Ended::Stopped;
    }
    for text in early {
        if !forward(&text, notices) {
            return Ended::Stopped;
        }
    }
    let live = |reason: String| Ended::Lost {
        reason,
        was_live: true,
    };
    let mut pings =
        tokio::time::interval_at(Instant::now() + config.ping_interval, config.ping_interval);
    pings.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut awaiting_pong = false;
    loop {
        tokio::select! {
            () = stop.cancelled() => {
                let _ = socket.close(None).await;
                return Ended::Stopped;
            }
            _ = pings.tick() => {
                if awaiting_pong {
                    return live(format!("no PONG within {:?}", config.ping_interval));
                }
                if let Err(error) = socket.send(Message::text("PING")).await {
                    return live(format!("cannot send PING: {error}"));
                }
                awaiting_pong = true;
            }
            message = socket.next() => match message {
                Some(Ok(Message::Text(text))) => {
                    if text.trim() == "PONG" {
                        awaiting_pong = false;
                    } else if !forward(&text, notices) {
                        return Ended::Stopped;
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    return match closed(frame.as_ref()) {
                        Ended::Lost { reason, .. } => live(reason),
                        other => other,
                    };
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => return live(format!("connection failed: {error}")),
                None => return live("the connection ended".into()),
            },
        }
    }
}

/// Parses one frame and passes its events on; `false` once nobody listens any more.
fn forward(text: &str, notices: &UnboundedSender<Notice>) -> bool {
    match parse_message(text) {
        Ok(events) => events
            .into_iter()
            .all(|event| notices.send(Notice::Event(Box::new(event))).is_ok()),
        Err(error) => {
            tracing::warn!("user channel: ignored {error}");
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trades_accept_either_time_spelling_and_milliseconds() {
        let text = r#"[{"event_type":"trade","type":"TRADE","id":"t1","status":"MATCHED",
            "matchtime":"1700000000123","last_update":1700000001,"size":"5","price":"0.5",
            "timestamp":"1700000000"},
            {"event_type":"trade","id":"t2","match_time":"1700000002","status":"MINED"},
            {"event_type":"book","asset_id":"1"}]"#;
        let events = parse_message(text).expect("parses");
        assert_eq!(events.len(), 2, "the book event is not ours");
        let ChannelEvent::Trade(first) = &events[0] else {
            panic!("a trade: {events:?}");
        };
        assert_eq!(first.trade.match_time, "1700000000");
        assert_eq!(first.trade.last_update, "1700000001");
        assert_eq!(first.timestamp_ms, Some(1_700_000_000_000));
        let ChannelEvent::Trade(second) = &events[1] else {
            panic!("a trade: {events:?}");
        };
        assert_eq!(second.trade.match_time, "1700000002");
    }

    #[test]
    fn order_events_carry_their_type_and_the_order() {
        let text = r#"{"event_type":"order","type":"cancellation","id":"0x1","asset_id":"7",
            "created_at":"1700000000000","associate_trades":null,"size_matched":"0",
            "timestamp":"1700000000456"}"#;
        let events = parse_message(text).expect("parses");
        let [ChannelEvent::Order(event)] = events.as_slice() else {
            panic!("one order event: {events:?}");
        };
        assert_eq!(event.kind, OrderEventType::Cancellation);
        assert_eq!(event.order.id, "0x1");
        assert_eq!(event.order.created_at, 1_700_000_000);
        assert_eq!(event.timestamp_ms, Some(1_700_000_000_456));
        assert_eq!(
            OrderEventType::parse("PLACEMENT"),
            OrderEventType::Placement
        );
        assert_eq!(OrderEventType::parse("odd").as_str(), "odd");
    }

    #[test]
    fn malformed_messages_are_errors_not_panics() {
        assert!(parse_message("PONG").is_err());
        assert!(parse_message("3").is_err());
        assert!(parse_message("[1]").is_err());
        assert!(
            parse_message(r#"{"event_type":"trade"}"#).is_err(),
            "a trade needs an id"
        );
        assert_eq!(parse_message("[]").expect("empty list"), Vec::new());
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter_below_it() {
        let backoff = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        assert_eq!(backoff.ceiling(0), Duration::from_millis(100));
        assert_eq!(backoff.ceiling(3), Duration::from_millis(800));
        assert_eq!(backoff.ceiling(30), Duration::from_secs(1));
        for failures in 0..6 {
            let delay = backoff.delay(failures);
            let ceiling = backoff.ceiling(failures);
            assert!(
                delay >= ceiling / 2 && delay <= ceiling,
                "{delay:?} of {ceiling:?}"
            );
        }
    }

    #[test]
    fn only_websocket_urls_are_accepted() {
        assert!(check_url(DEFAULT_URL).is_ok());
        assert!(check_url("ws://127.0.0.1:8080/ws/user").is_ok());
        assert!(check_url("https://clob.polymarket.com").is_err());
        assert!(check_url("not a url").is_err());
    }

    #[test]
    fn the_subscription_carries_the_credentials_and_markets() {
        let credentials = Credentials {
            api_key: "k".into(),
            secret: crate::clob::Secret::new("s"),
            passphrase: crate::clob::Secret::new("p"),
            address: "0x1".into(),
        };
        let mut config = ChannelConfig::new(DEFAULT_URL, credentials);
        config.markets = vec!["0xm".into()];
        let value: Value = serde_json::from_str(&subscription(&config)).expect("json");
        assert_eq!(
            value,
            serde_json::json!({"auth": {"apiKey": "k", "secret": "s", "passphrase": "p"},
                               "markets": ["0xm"], "type": "user"})
        );
        assert!(
            !format!("{config:?}").contains("\"s\""),
            "Debug hides the secret"
        );
    }
}
