//! The user-channel client over real websockets: it reports a live subscription and the
//! account's events from the simulator, gives up on refused credentials, and reconnects when a
//! server stops answering `PING` or drops the connection.

use std::time::Duration;

use clobscript::clob::user_channel::{
    self, Backoff, ChannelConfig, ChannelError, ChannelEvent, Notice, OrderEventType,
};
use clobscript::clob::{Client, ClientConfig, Secret};
use clobscript::sim::{SimConfig, SimServer};
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

/// Only a guard against a hang.
const PATIENCE: Duration = Duration::from_secs(20);

fn quick(config: ChannelConfig) -> ChannelConfig {
    ChannelConfig {
        backoff: Backoff {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(100),
        },
        ..config
    }
}

async fn next(notices: &mut UnboundedReceiver<Notice>) -> Notice {
    tokio::time::timeout(PATIENCE, notices.recv())
        .await
        .expect("a notice in time")
        .expect("the channel is running")
}

#[tokio::test]
async fn a_live_subscription_reports_the_accounts_cancels() {
    let sim = SimServer::start(SimConfig {
        orders: 100,
        ..SimConfig::default()
    })
    .await
    .expect("simulator");
    let config = quick(ChannelConfig::new(sim.ws_url(), sim.credentials().clone()));
    let (send, mut notices) = unbounded_channel();
    let stop = CancellationToken::new();
    let channel = tokio::spawn(user_channel::run(config, send, stop.clone()));
    assert_eq!(
        next(&mut notices).await,
        Notice::Connected { connection: 1 }
    );

    let client = Client::new(ClientConfig::new(
        sim.url(),
        Some(sim.credentials().clone()),
    ))
    .expect("client");
    let id = sim
        .open_order_ids()
        .into_iter()
        .next()
        .expect("an open order");
    let answer = client.cancel(&id).await.expect("cancel");
    assert_eq!(answer.canceled, vec![id.clone()]);
    let Notice::Event(event) = next(&mut notices).await else {
        panic!("an event");
    };
    let ChannelEvent::Order(event) = *event else {
        panic!("an order event: {event:?}");
    };
    assert_eq!(event.kind, OrderEventType::Cancellation);
    assert_eq!(event.order.id, id);
    assert_eq!(event.order.status, "CANCELED");

    stop.cancel();
    channel.await.expect("joins").expect("a clean stop");
    sim.shutdown().await;
}

#[tokio::test]
async fn refused_credentials_end_the_channel() {
    let sim = SimServer::start(SimConfig {
        orders: 10,
        ..SimConfig::default()
    })
    .await
    .expect("simulator");
    let mut credentials = sim.credentials().clone();
    credentials.secret = Secret::new("d3Jvbmc=");
    let config = quick(ChannelConfig::new(sim.ws_url(), credentials));
    let (send, _notices) = unbounded_channel();
    let ended = tokio::time::timeout(
        PATIENCE,
        user_channel::run(config, send, CancellationToken::new()),
    )
    .await
    .expect("ends in time");
    let Err(ChannelError::Refused(reason)) = ended else {
        panic!("refused: {ended:?}");
    };
    assert!(reason.contains("Unauthorized"), "{reason}");
    sim.shutdown().await;
}

/// A user channel that answers only the first `PING` of each connection.
async fn silent_server() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("ws://{}/ws/user", listener.local_addr().expect("address"));
    let server = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut socket) = tokio_tungstenite::accept_async(stream).await else {
                    return;
                };
                let mut answered = false;
                while let Some(Ok(message)) = socket.next().await {
                    if message == Message::text("PING") && !answered {
                        answered = true;
                        if socket.send(Message::text("PONG")).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    (url, server)
}

#[tokio::test]
async fn a_missing_pong_means_reconnecting() {
    let (url, server) = silent_server().await;
    let credentials = clobscript::sim::demo_credentials();
    let config = ChannelConfig {
        ping_interval: Duration::from_millis(50),
        ..quick(ChannelConfig::new(url, credentials))
    };
    let (send, mut notices) = unbounded_channel();
    let stop = CancellationToken::new();
    let channel = tokio::spawn(user_channel::run(config, send, stop.clone()));
    assert_eq!(
        next(&mut notices).await,
        Notice::Connected { connection: 1 }
    );
    let Notice::Disconnected { reason, retry_in } = next(&mut notices).await else {
        panic!("a disconnect");
    };
    assert!(reason.contains("no PONG"), "{reason}");
    assert!(retry_in <= Duration::from_millis(100), "{retry_in:?}");
    assert_eq!(
        next(&mut notices).await,
        Notice::Connected { connection: 2 }
    );
    stop.cancel();
    channel.await.expect("joins").expect("a clean stop");
    server.abort();
}

#[tokio::test]
async fn a_dropped_connection_is_reestablished() {
    let sim = SimServer::start(SimConfig {
        orders: 10,
        ..SimConfig::default()
    })
    .await
    .expect("simulator");
    let config = quick(ChannelConfig::new(sim.ws_url(), sim.credentials().clone()));
    let (send, mut notices) = unbounded_channel();
    let stop = CancellationToken::new();
    let channel = tokio::spawn(user_channel::run(config, send, stop.clone()));
    assert_eq!(
        next(&mut notices).await,
        Notice::Connected { connection: 1 }
    );
    assert_eq!(sim.drop_ws_connections(), 1);
    assert!(matches!(
        next(&mut notices).await,
        Notice::Disconnected { .. }
    ));
    assert_eq!(
        next(&mut notices).await,
        Notice::Connected { connection: 2 }
    );
    stop.cancel();
    channel.await.expect("joins").expect("a clean stop");
    sim.shutdown().await;
}
