//! The user channel, `GET /ws/user` (websocket), as the exchange speaks it.
//!
//! The first text message subscribes: `{"auth":{"apiKey","secret","passphrase"},"markets":[…],
//! "type":"user"}` (extra keys such as `operation` or `initial_dump` are ignored). Credentials
//! that do not match an account close the connection with code 1008 and the reason
//! `Unauthorized/Invalid api key`, before any event. There is no acknowledgement: a `PONG`
//! answered after the subscription shows it is live, since messages are handled in order.
//! Later `{"operation":"subscribe"|"unsubscribe","markets":[…]}` change the market filter;
//! text `PING` is answered `PONG` at any time. Each event is one text frame holding one JSON
//! object.
//!
//! Market filter: an empty `markets` list in the first message means every market. Later,
//! `subscribe` adds markets (an empty list: every market again) and `unsubscribe` removes them
//! (an empty list: none).
//!
//! Faults: `SimServer::drop_ws_connections` and `POST /_sim/ws/drop` cut every open connection,
//! and `SimConfig::ws_drop_after` cuts each connection after it has sent that many events; a cut
//! closes the TCP connection without a closing handshake, as a network failure would. Events
//! published while a client is away are not replayed (the exchange does not either).

use std::collections::HashSet;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::response::Response;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use super::server::Shared;
use super::state::AccountNo;
use crate::clob::types::messages;

/// The subscription message and its later updates; every key is optional on the wire.
#[derive(Debug, Default, Deserialize)]
struct Subscription {
    #[serde(default)]
    auth: Option<Auth>,
    #[serde(default)]
    markets: Option<Vec<String>>,
    #[serde(default, rename = "type")]
    channel: Option<String>,
    #[serde(default)]
    operation: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Auth {
    #[serde(default, rename = "apiKey", alias = "api_key", alias = "key")]
    api_key: Option<String>,
    #[serde(default)]
    secret: Option<String>,
    #[serde(default)]
    passphrase: Option<String>,
}

/// Which markets' events a connection receives.
#[derive(Clone, Debug, PartialEq, Eq)]
enum MarketFilter {
    All { except: HashSet<String> },
    Only(HashSet<String>),
}

fn normalise(markets: Vec<String>) -> HashSet<String> {
    markets
        .into_iter()
        .map(|m| m.trim().to_ascii_lowercase())
        .filter(|m| !m.is_empty())
        .collect()
}

impl MarketFilter {
    fn initial(markets: Vec<String>) -> MarketFilter {
        let markets = normalise(markets);
        if markets.is_empty() {
            MarketFilter::All {
                except: HashSet::new(),
            }
        } else {
            MarketFilter::Only(markets)
        }
    }

    fn subscribe(&mut self, markets: Vec<String>) {
        let markets = normalise(markets);
        if markets.is_empty() {
            *self = MarketFilter::initial(Vec::new());
            return;
        }
        match self {
            MarketFilter::All { except } => except.retain(|m| !markets.contains(m)),
            MarketFilter::Only(only) => only.extend(markets),
        }
    }

    fn unsubscribe(&mut self, markets: Vec<String>) {
        let markets = normalise(markets);
        if markets.is_empty() {
            *self = MarketFilter::Only(HashSet::new());
            return;
        }
        match self {
            MarketFilter::All { except } => except.extend(markets),
            MarketFilter::Only(only) => only.retain(|m| !markets.contains(m)),
        }
    }

    fn accepts(&self, market: &str) -> bool {
        let market = market.to_ascii_lowercase();
        match self {
            MarketFilter::All { except } => !except.contains(&market),
            MarketFilter::Only(only) => only.contains(&market),
        }
    }
}

/// Why a first message was refused: the close reason (at most 123 bytes on the wire).
fn refuse_reason(error: &str) -> String {
    let mut reason = format!("invalid subscription message: {error}");
    if reason.len() > 120 {
        let mut cut = 120;
        while !reason.is_char_boundary(cut) {
            cut -= 1;
        }
        reason.truncate(cut);
    }
    reason
}

/// The account whose credentials the subscription carries.
fn authenticate(shared: &Shared, auth: Option<&Auth>) -> Option<AccountNo> {
    let auth = auth?;
    let exchange = shared.exchange();
    let account = exchange.account_by_key(auth.api_key.as_deref()?.trim())?;
    let credentials = &exchange.accounts[account].credentials;
    (auth.secret.as_deref() == Some(credentials.secret.expose())
        && auth.passphrase.as_deref() == Some(credentials.passphrase.expose()))
    .then_some(account)
}

async fn close(mut socket: WebSocket, code: u16, reason: String) {
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        })))
        .await;
}

/// `GET /ws/user`: upgrades to a websocket and serves the user channel on it.
pub async fn user_channel(
    State(shared): State<Arc<Shared>>,
    upgrade: WebSocketUpgrade,
) -> Response {
    upgrade.on_upgrade(move |socket| serve(shared, socket))
}

/// `POST /_sim/ws/drop`: a test-only fault, not part of the exchange's protocol. Cuts every open
/// user-channel connection and answers `{"dropped": <how many were open>}`.
pub async fn drop_connections(State(shared): State<Arc<Shared>>) -> Json<serde_json::Value> {
    let dropped = shared.exchange().events.drop_connections();
    Json(serde_json::json!({ "dropped": dropped }))
}

/// Waits for the subscription message, answering `PING`s meanwhile.
async fn first_message(socket: &mut WebSocket) -> Option<String> {
    loop {
        match socket.recv().await? {
            Ok(Message::Text(text)) if text.trim() == "PING" => {
                socket.send(Message::Text("PONG".into())).await.ok()?;
            }
            Ok(Message::Text(text)) => return Some(text.to_string()),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

async fn serve(shared: Arc<Shared>, mut socket: WebSocket) {
    let bus = shared.exchange().events.clone();
    let Some(text) = first_message(&mut socket).await else {
        return;
    };
    let subscription: Subscription = match serde_json::from_str(&text) {
        Ok(subscription) => subscription,
        Err(error) => {
            let reason = refuse_reason(&error.to_string());
            return close(socket, close_code::POLICY, reason).await;
        }
    };
    if let Some(channel) = &subscription.channel
        && !channel.trim().eq_ignore_ascii_case("user")
    {
        let reason = refuse_reason(&format!("type {channel:?} on the user channel"));
        return close(socket, close_code::POLICY, reason).await;
    }
    let Some(account) = authenticate(&shared, subscription.auth.as_ref()) else {
        tracing::debug!("user channel: refused a subscription with unknown credentials");
        return close(
            socket,
            close_code::POLICY,
            messages::UNAUTHORIZED.to_owned(),
        )
        .await;
    };
    let mut filter = MarketFilter::initial(subscription.markets.unwrap_or_default());
    let mut events = bus.subscribe();
    let mut drops = bus.drops();
    let stop = bus.stopped();
    let _open = bus.connection_guard();
    let mut sent: u64 = 0;
    loop {
        tokio::select! {
            () = stop.cancelled() => {
                return close(socket, close_code::AWAY, "the simulator is stopping".into()).await;
            }
            // A cut: return without a closing handshake, dropping the TCP connection.
            _ = drops.changed() => return,
            message = socket.recv() => match message {
                Some(Ok(Message::Text(text))) => {
                    if text.trim() == "PING" {
                        if socket.send(Message::Text("PONG".into())).await.is_err() {
                            return;
                        }
                    } else {
                        update_filter(&mut filter, &text);
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
            event = events.recv() => match event {
                Ok(event) => {
                    if event.account != account || !filter.accepts(&event.market) {
                        continue;
                    }
                    if socket.send(Message::Text(event.text.as_str().into())).await.is_err() {
                        return;
                    }
                    sent += 1;
                    if bus.drop_after().is_some_and(|limit| sent >= limit) {
                        return;
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    let reason = format!("fell behind by {missed} events; reconnect and read them through REST");
                    return close(socket, close_code::ERROR, reason).await;
                }
                Err(RecvError::Closed) => return,
            },
        }
    }
}

/// Applies a later `subscribe`/`unsubscribe` message; anything else is ignored.
fn update_filter(filter: &mut MarketFilter, text: &str) {
    let Ok(update) = serde_json::from_str::<Subscription>(text) else {
        tracing::debug!("user channel: ignored a message that is not JSON");
        return;
    };
    let markets = update.markets.unwrap_or_default();
    match update.operation.as_deref().map(str::trim) {
        Some(op) if op.eq_ignore_ascii_case("unsubscribe") => filter.unsubscribe(markets),
        Some(op) if op.eq_ignore_ascii_case("subscribe") => filter.subscribe(markets),
        // A repeated subscription message without an operation adds its markets.
        None if update.auth.is_some() => filter.subscribe(markets),
        _ => tracing::debug!("user channel: ignored a message with no known operation"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn markets(list: &[&str]) -> Vec<String> {
        list.iter().map(|m| (*m).to_owned()).collect()
    }

    #[test]
    fn an_empty_list_means_every_market() {
        let mut filter = MarketFilter::initial(Vec::new());
        assert!(filter.accepts("0xaa"));
        filter.unsubscribe(markets(&["0xAA"]));
        assert!(!filter.accepts("0xaa"));
        assert!(filter.accepts("0xbb"));
        filter.subscribe(markets(&["0xaa"]));
        assert!(filter.accepts("0xaa"));
        filter.unsubscribe(Vec::new());
        assert!(!filter.accepts("0xbb"));
    }

    #[test]
    fn a_market_list_is_a_whitelist() {
        let mut filter = MarketFilter::initial(markets(&["0xaa"]));
        assert!(filter.accepts("0xAA"));
        assert!(!filter.accepts("0xbb"));
        filter.subscribe(markets(&["0xbb"]));
        assert!(filter.accepts("0xbb"));
        filter.unsubscribe(markets(&["0xaa"]));
        assert!(!filter.accepts("0xaa"));
        filter.subscribe(Vec::new());
        assert!(filter.accepts("0xcc"));
    }

    #[test]
    fn close_reasons_fit_a_close_frame() {
        assert!(refuse_reason(&"é".repeat(200)).len() <= 123);
    }
}
