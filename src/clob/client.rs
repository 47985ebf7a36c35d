//! The async CLOB client (skeleton: the public interface the script host codes against; the
//! bodies are being written in the client issue).

use std::collections::BTreeMap;
use std::time::Duration;

use super::auth::Credentials;
use super::types::{CancelResponse, HeartbeatResponse, OpenOrder, OrderBook, Trade};
use crate::exit::Exit;

/// Filters of `GET /data/orders`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrderFilter {
    pub id: Option<String>,
    pub market: Option<String>,
    pub asset_id: Option<String>,
}

/// Filters of `GET /data/trades`; `before`/`after` are Unix seconds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TradeFilter {
    pub id: Option<String>,
    pub market: Option<String>,
    pub asset_id: Option<String>,
    pub maker_address: Option<String>,
    pub before: Option<i64>,
    pub after: Option<i64>,
}

/// Order side for `GET /price`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "BUY",
            Side::Sell => "SELL",
        }
    }
}

/// Retry bounds: attempts and total time, exponential backoff with jitter.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(5),
            max_elapsed: Duration::from_secs(30),
        }
    }
}

/// How to build a [`Client`].
#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub host: String,
    pub credentials: Option<Credentials>,
    pub timeout: Duration,
    pub retry: RetryPolicy,
    /// Sign with the exchange's clock (`GET /time`) instead of the local one.
    pub use_server_time: bool,
}

impl ClientConfig {
    pub fn new(host: impl Into<String>, credentials: Option<Credentials>) -> Self {
        Self {
            host: host.into(),
            credentials,
            timeout: Duration::from_secs(15),
            retry: RetryPolicy::default(),
            use_server_time: false,
        }
    }
}

/// Requests made and retried so far by one client.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientStats {
    pub requests: u64,
    pub retries: u64,
}

/// A failed exchange call, with what the user should do about it in its message.
#[derive(Debug, thiserror::Error)]
pub enum ClobError {
    #[error("{endpoint}: not implemented yet")]
    NotImplemented { endpoint: String },
}

impl ClobError {
    /// The process exit code this failure maps to.
    pub fn exit(&self) -> Exit {
        Exit::Api
    }
}

/// The CLOB client: one per process, cheap to clone (shares its connection pool and counters).
#[derive(Clone, Debug)]
pub struct Client {
    config: ClientConfig,
}

fn todo(endpoint: &str) -> ClobError {
    ClobError::NotImplemented {
        endpoint: endpoint.to_owned(),
    }
}

impl Client {
    pub fn new(config: ClientConfig) -> Result<Client, ClobError> {
        Ok(Client { config })
    }
    pub fn host(&self) -> &str {
        &self.config.host
    }
    pub fn stats(&self) -> ClientStats {
        ClientStats::default()
    }
    pub async fn ok(&self) -> Result<(), ClobError> {
        Err(todo("GET /ok"))
    }
    pub async fn server_time(&self) -> Result<i64, ClobError> {
        Err(todo("GET /time"))
    }
    pub async fn order(&self, _id: &str) -> Result<OpenOrder, ClobError> {
        Err(todo("GET /data/order"))
    }
    pub async fn open_orders(&self, _filter: &OrderFilter) -> Result<Vec<OpenOrder>, ClobError> {
        Err(todo("GET /data/orders"))
    }
    pub async fn trades(&self, _filter: &TradeFilter) -> Result<Vec<Trade>, ClobError> {
        Err(todo("GET /data/trades"))
    }
    pub async fn cancel(&self, _id: &str) -> Result<CancelResponse, ClobError> {
        Err(todo("DELETE /order"))
    }
    pub async fn cancel_orders(&self, _ids: &[String]) -> Result<CancelResponse, ClobError> {
        Err(todo("DELETE /orders"))
    }
    pub async fn cancel_all(&self) -> Result<CancelResponse, ClobError> {
        Err(todo("DELETE /cancel-all"))
    }
    pub async fn cancel_market(
        &self,
        _market: Option<&str>,
        _asset_id: Option<&str>,
    ) -> Result<CancelResponse, ClobError> {
        Err(todo("DELETE /cancel-market-orders"))
    }
    pub async fn is_scoring(&self, _id: &str) -> Result<bool, ClobError> {
        Err(todo("GET /order-scoring"))
    }
    pub async fn are_scoring(&self, _ids: &[String]) -> Result<BTreeMap<String, bool>, ClobError> {
        Err(todo("POST /orders-scoring"))
    }
    pub async fn heartbeat(
        &self,
        _heartbeat_id: Option<&str>,
    ) -> Result<HeartbeatResponse, ClobError> {
        Err(todo("POST /v1/heartbeats"))
    }
    pub async fn book(&self, _token_id: &str) -> Result<OrderBook, ClobError> {
        Err(todo("GET /book"))
    }
    /// Midpoint as the exchange's decimal string.
    pub async fn midpoint(&self, _token_id: &str) -> Result<String, ClobError> {
        Err(todo("GET /midpoint"))
    }
    pub async fn price(&self, _token_id: &str, _side: Side) -> Result<String, ClobError> {
        Err(todo("GET /price"))
    }
    pub async fn spread(&self, _token_id: &str) -> Result<String, ClobError> {
        Err(todo("GET /spread"))
    }
    pub async fn tick_size(&self, _token_id: &str) -> Result<f64, ClobError> {
        Err(todo("GET /tick-size"))
    }
}
