//! Helpers for the tests of the library's `clob::Client` against a `SimServer` started in the
//! test: a simulator, a client with fast retries, and checks of the exchange's state.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use clobscript::clob::types::{OpenOrder, Trade};
use clobscript::clob::{Client, ClientConfig, RetryPolicy};
use clobscript::sim::{SimConfig, SimServer};

pub async fn sim(config: SimConfig) -> SimServer {
    SimServer::start(config).await.expect("simulator starts")
}

pub async fn sim_with(orders: usize, page_size: usize) -> SimServer {
    sim(SimConfig {
        orders,
        page_size,
        ..SimConfig::default()
    })
    .await
}

/// Retries fast enough for tests: tens of milliseconds.
pub fn quick_retries(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(40),
        max_elapsed: Duration::from_secs(10),
    }
}

pub fn config_for(server: &SimServer) -> ClientConfig {
    let mut config = ClientConfig::new(server.url(), Some(server.credentials().clone()));
    config.timeout = Duration::from_secs(5);
    config.retry = quick_retries(4);
    config
}

pub fn client(server: &SimServer) -> Client {
    Client::new(config_for(server)).expect("client builds")
}

pub fn primary_orders(server: &SimServer) -> Vec<OpenOrder> {
    server.orders_of(&server.credentials().api_key)
}

pub fn primary_trades(server: &SimServer) -> Vec<Trade> {
    server.trades_of(&server.credentials().api_key)
}

pub fn ids(orders: &[OpenOrder]) -> Vec<String> {
    orders.iter().map(|o| o.id.clone()).collect()
}

pub fn set(ids: &[String]) -> BTreeSet<String> {
    ids.iter().cloned().collect()
}

/// Compares two id sets, printing only the differences (ids are long, sets are large).
#[track_caller]
pub fn assert_same_ids(got: &[String], want: &[String], context: &str) {
    let (got, want) = (set(got), set(want));
    let missing: Vec<_> = want.difference(&got).take(5).collect();
    let extra: Vec<_> = got.difference(&want).take(5).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{context}: {} missing (e.g. {missing:?}), {} unexpected (e.g. {extra:?})",
        want.difference(&got).count(),
        got.difference(&want).count()
    );
}

/// Every order status of every account, to check that nothing else changed.
pub fn all_statuses(server: &SimServer) -> BTreeMap<String, String> {
    server
        .accounts()
        .iter()
        .flat_map(|c| server.orders_of(&c.api_key))
        .map(|o| {
            let status = server.order_status(&o.id).unwrap_or_default();
            (o.id, status)
        })
        .collect()
}

/// Asserts that exactly `canceled` went from open to CANCELED and nothing else changed.
pub fn assert_only_canceled(
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
    canceled: &BTreeSet<String>,
) {
    assert_eq!(before.len(), after.len());
    for (id, old) in before {
        let new = &after[id];
        if canceled.contains(id) {
            assert_eq!(old, "LIVE", "{id} was not open before");
            assert_eq!(new, "CANCELED", "{id} should be canceled");
        } else {
            assert_eq!(old, new, "{id} changed although not asked for");
        }
    }
}
