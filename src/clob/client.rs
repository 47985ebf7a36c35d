//! The async CLOB client: L2-signed reads and cancels plus the public market-data endpoints,
//! over one pooled reqwest client, with bounded retries, complete pagination, batched cancels
//! whose merged result stays truthful, and clock-skew diagnosis.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::{StreamExt as _, stream};
use reqwest::header::{self, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::de::{DeserializeOwned, IgnoredAny};
use tokio_util::task::AbortOnDropHandle;

use super::auth::{Credentials, SigningKey};
use super::pagination::{Cursors, Next};
use super::retry::{is_retryable_status, jitter, parse_retry_after};
use super::types::{
    CancelMarketRequest, CancelOrderRequest, CancelResponse, ErrorBody, HeartbeatRequest,
    HeartbeatResponse, MAX_CANCEL_IDS, MidpointResponse, OpenOrder, OrderBook, OrderScoring, Page,
    PageCursor, PriceResponse, SpreadResponse, TickSizeResponse, Trade, messages,
};

pub use super::error::ClobError;
pub use super::pagination::PageProgress;
pub use super::retry::RetryPolicy;

/// Filters of `GET /data/orders`; `None` (or an empty string) leaves a filter out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrderFilter {
    /// One order id.
    pub id: Option<String>,
    /// Condition id (`0x…`).
    pub market: Option<String>,
    /// Token id (a decimal string).
    pub asset_id: Option<String>,
}

/// Filters of `GET /data/trades`; `before`/`after` are Unix seconds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TradeFilter {
    /// One trade id.
    pub id: Option<String>,
    /// Condition id (`0x…`).
    pub market: Option<String>,
    /// Token id (a decimal string).
    pub asset_id: Option<String>,
    /// Only trades where this address was the maker.
    pub maker_address: Option<String>,
    /// Only trades matched before this Unix second.
    pub before: Option<i64>,
    /// Only trades matched after this Unix second.
    pub after: Option<i64>,
}

/// Order side for `GET /price`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// `BUY`.
    Buy,
    /// `SELL`.
    Sell,
}

impl Side {
    /// The wire spelling: `BUY` / `SELL`.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "BUY",
            Side::Sell => "SELL",
        }
    }
}

/// How to build a [`Client`].
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Base URL of the exchange, e.g. `https://clob.polymarket.com`.
    pub host: String,
    /// L2 credentials; `None` allows only the public endpoints.
    pub credentials: Option<Credentials>,
    /// Bound on one HTTP attempt, from connecting until the whole answer is read.
    pub timeout: Duration,
    /// Retry bounds for every request.
    pub retry: RetryPolicy,
    /// Sign with the exchange's clock (`GET /time`) instead of the local one.
    pub use_server_time: bool,
    /// How far the local clock may be from the exchange's before a 401 is blamed on it (the
    /// exchange's timestamp window).
    pub max_clock_skew: Duration,
    /// How many `DELETE /orders` batches may be in flight at once.
    pub cancel_concurrency: usize,
}

impl ClientConfig {
    /// Defaults: 15 s per attempt, [`RetryPolicy::default`], local clock, 30 s skew window,
    /// four concurrent cancel batches.
    pub fn new(host: impl Into<String>, credentials: Option<Credentials>) -> Self {
        Self {
            host: host.into(),
            credentials,
            timeout: Duration::from_secs(15),
            retry: RetryPolicy::default(),
            use_server_time: false,
            max_clock_skew: Duration::from_secs(30),
            cancel_concurrency: 4,
        }
    }
}

/// Requests made and retried so far by one client (and its clones).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// HTTP attempts sent, retries and `GET /time` look-ups included.
    pub requests: u64,
    /// Attempts that repeated an earlier failed one.
    pub retries: u64,
}

/// Answers bigger than this are refused rather than buffered (a 500-order page is ~0.5 MB).
const MAX_ANSWER_BYTES: usize = 64 * 1024 * 1024;
const USER_AGENT: &str = concat!("clobscript/", env!("CARGO_PKG_VERSION"));

static POLY_ADDRESS: HeaderName = HeaderName::from_static("poly_address");
static POLY_API_KEY: HeaderName = HeaderName::from_static("poly_api_key");
static POLY_PASSPHRASE: HeaderName = HeaderName::from_static("poly_passphrase");
static POLY_TIMESTAMP: HeaderName = HeaderName::from_static("poly_timestamp");
static POLY_SIGNATURE: HeaderName = HeaderName::from_static("poly_signature");

/// The credentials in the form every signed request needs, prepared once.
struct Signer {
    key: SigningKey,
    api_key: HeaderValue,
    passphrase: HeaderValue,
    address: HeaderValue,
}

impl Signer {
    fn new(credentials: &Credentials) -> Result<Signer, ClobError> {
        let key = SigningKey::from_secret(&credentials.secret).map_err(|e| {
            ClobError::InvalidCredentials {
                field: "API secret",
                reason: e.to_string(),
            }
        })?;
        let header = |field: &'static str, value: &str| {
            let mut value =
                HeaderValue::from_str(value.trim()).map_err(|_| ClobError::InvalidCredentials {
                    field,
                    reason: "it contains characters an HTTP header cannot carry".to_owned(),
                })?;
            value.set_sensitive(true);
            Ok::<_, ClobError>(value)
        };
        Ok(Signer {
            key,
            api_key: header("API key", &credentials.api_key)?,
            passphrase: header("passphrase", credentials.passphrase.expose())?,
            address: header("address", &credentials.address)?,
        })
    }
}

struct Inner {
    http: reqwest::Client,
    /// The host without a trailing slash; endpoint paths are appended to it.
    base: String,
    config: ClientConfig,
    signer: Option<Signer>,
    requests: AtomicU64,
    retries: AtomicU64,
    /// Exchange time minus local time, once read (only with `use_server_time`).
    server_offset: tokio::sync::Mutex<Option<i64>>,
}

/// The CLOB client: one per process, cheap to clone (clones share the connection pool, the
/// prepared signing key and the counters).
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("host", &self.inner.base)
            .field("credentials", &self.inner.config.credentials)
            .field("stats", &self.stats())
            .finish()
    }
}

/// One request as the client describes it before sending.
#[derive(Clone)]
struct Call {
    method: Method,
    /// The URL path, which is also what gets signed (never the query).
    path: String,
    query: Vec<(&'static str, String)>,
    /// Compact JSON, signed and sent byte for byte.
    body: Option<String>,
    signed: bool,
}

impl Call {
    fn new(method: Method, path: impl Into<String>) -> Call {
        Call {
            method,
            path: path.into(),
            query: Vec::new(),
            body: None,
            signed: false,
        }
    }

    fn signed(mut self) -> Call {
        self.signed = true;
        self
    }

    fn query(mut self, key: &'static str, value: &str) -> Call {
        self.query.push((key, value.to_owned()));
        self
    }

    /// Adds a filter unless it is absent or blank.
    fn filter(mut self, key: &'static str, value: Option<&str>) -> Call {
        if let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) {
            self.query.push((key, value.to_owned()));
        }
        self
    }

    fn json(mut self, body: String) -> Call {
        self.body = Some(body);
        self
    }

    fn endpoint(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// A complete HTTP answer.
struct Answer {
    status: StatusCode,
    retry_after: Option<Duration>,
    html: bool,
    location: Option<String>,
    body: Vec<u8>,
    oversized: bool,
}

/// What the attempts of one request did besides producing its final result.
#[derive(Debug, Default)]
struct Attempts {
    count: u32,
    /// Some attempt may have reached the exchange and taken effect without us seeing the
    /// answer (5xx, broken connection, timeout, or an unreadable 2xx).
    ambiguous: bool,
}

/// A failed attempt that may be retried.
enum Retryable {
    Status { answer: Answer, message: String },
    Transport(reqwest::Error),
}

impl Retryable {
    /// Whether the failed attempt may nonetheless have taken effect: a 429 or 425 was refused
    /// up front, and a connection that never opened carried nothing.
    fn ambiguous(&self) -> bool {
        match self {
            Retryable::Status { answer, .. } => answer.status.is_server_error(),
            Retryable::Transport(e) => !e.is_connect(),
        }
    }
}

impl Client {
    /// Builds the client: validates the host, prepares the signing key, and sets up the one
    /// connection pool (rustls, keep-alive, gzip, no redirects: a redirected signed request
    /// would carry a signature for the wrong path).
    pub fn new(config: ClientConfig) -> Result<Client, ClobError> {
        let base = config.host.trim().trim_end_matches('/').to_owned();
        let url = reqwest::Url::parse(&base).map_err(|e| ClobError::InvalidHost {
            host: config.host.clone(),
            reason: e.to_string(),
        })?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(ClobError::InvalidHost {
                host: config.host.clone(),
                reason: "the URL must start with http:// or https:// and name a host".to_owned(),
            });
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(ClobError::InvalidHost {
                host: config.host.clone(),
                reason: "the URL must not carry a query or fragment".to_owned(),
            });
        }
        let signer = config.credentials.as_ref().map(Signer::new).transpose()?;
        let mut default_headers = header::HeaderMap::new();
        default_headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        let mut builder = reqwest::Client::builder();
        if url.scheme() == "http" {
            // Plain HTTP (the simulator, a local proxy) never needs the system's root
            // certificates, and reading them costs several milliseconds at startup.
            builder = builder.tls_certs_only([]);
        }
        let http = builder
            .user_agent(USER_AGENT)
            .default_headers(default_headers)
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::none())
            .gzip(true)
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| ClobError::HttpSetup {
                detail: root_cause(&e),
            })?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base,
                config,
                signer,
                requests: AtomicU64::new(0),
                retries: AtomicU64::new(0),
                server_offset: tokio::sync::Mutex::new(None),
            }),
        })
    }

    /// A client for the public endpoints only (book, prices, time); L2 calls fail with
    /// [`ClobError::MissingCredentials`] without sending anything.
    pub fn public(host: impl Into<String>) -> Result<Client, ClobError> {
        Client::new(ClientConfig::new(host, None))
    }

    /// The base URL requests go to.
    pub fn host(&self) -> &str {
        &self.inner.base
    }

    /// Whether L2 credentials are configured.
    pub fn has_credentials(&self) -> bool {
        self.inner.signer.is_some()
    }

    /// The configuration the client was built with.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// Requests and retries made so far by this client and its clones.
    pub fn stats(&self) -> ClientStats {
        ClientStats {
            requests: self.inner.requests.load(Ordering::Relaxed),
            retries: self.inner.retries.load(Ordering::Relaxed),
        }
    }

    /// `GET /ok`: succeeds when the exchange answers at all.
    pub async fn ok(&self) -> Result<(), ClobError> {
        let call = Call::new(Method::GET, "/ok");
        self.execute(&call, &mut Attempts::default()).await?;
        Ok(())
    }

    /// `GET /time`: the exchange's clock in Unix seconds. Accepts a bare integer, a string, a
    /// float, milliseconds, or an object with a `time`-like field.
    pub async fn server_time(&self) -> Result<i64, ClobError> {
        let call = Call::new(Method::GET, "/time");
        let answer = self.execute(&call, &mut Attempts::default()).await?;
        parse_server_time(&answer.body).ok_or_else(|| {
            if serde_json::from_slice::<IgnoredAny>(&answer.body).is_err()
                && std::str::from_utf8(&answer.body).is_err()
            {
                not_json(&call, &answer)
            } else {
                ClobError::UnexpectedResponse {
                    endpoint: call.endpoint(),
                    status: answer.status.as_u16(),
                    detail: format!("expected Unix seconds, got {}", snippet(&answer.body)),
                }
            }
        })
    }

    /// `GET /data/order/{id}`: one order of this key; an unknown id is [`ClobError::NotFound`].
    pub async fn order(&self, id: &str) -> Result<OpenOrder, ClobError> {
        let id = required(id, "GET /data/order", "an order id")?;
        let call = Call::new(Method::GET, format!("/data/order/{}", encode_segment(id))).signed();
        // The exchange answers an id the key does not own with `null` rather than a 404.
        let mut order = self
            .fetch::<Option<OpenOrder>>(&call)
            .await?
            .ok_or_else(|| ClobError::NotFound {
                endpoint: call.endpoint(),
                message: messages::NOT_FOUND.to_owned(),
            })?;
        normalise_order(&mut order);
        Ok(order)
    }

    /// `GET /data/orders`: every open order matching the filter, all pages.
    pub async fn open_orders(&self, filter: &OrderFilter) -> Result<Vec<OpenOrder>, ClobError> {
        self.open_orders_with_progress(filter, &mut |_| {}).await
    }

    /// [`Client::open_orders`], calling `on_page` after every page.
    pub async fn open_orders_with_progress(
        &self,
        filter: &OrderFilter,
        on_page: &mut (dyn FnMut(PageProgress) + Send),
    ) -> Result<Vec<OpenOrder>, ClobError> {
        self.paginate(Self::open_orders_call(filter), normalise_order, on_page)
            .await
    }

    /// `GET /data/orders` page by page: every open order matching the filter, handed to
    /// `on_page` one page at a time (normalised as [`Client::open_orders`] does) and not kept.
    /// For callers that turn orders into something else, so two copies of a large listing are
    /// never alive at once.
    pub async fn open_orders_each(
        &self,
        filter: &OrderFilter,
        on_page: &mut (dyn FnMut(Vec<OpenOrder>) + Send),
    ) -> Result<(), ClobError> {
        self.paginate_normalised(Self::open_orders_call(filter), normalise_order, on_page)
            .await
    }

    fn open_orders_call(filter: &OrderFilter) -> Call {
        Call::new(Method::GET, "/data/orders")
            .signed()
            .filter("id", filter.id.as_deref())
            .filter("market", filter.market.as_deref())
            .filter("asset_id", filter.asset_id.as_deref())
    }

    /// `GET /data/trades`: every trade matching the filter, all pages.
    pub async fn trades(&self, filter: &TradeFilter) -> Result<Vec<Trade>, ClobError> {
        self.trades_with_progress(filter, &mut |_| {}).await
    }

    /// [`Client::trades`], calling `on_page` after every page.
    pub async fn trades_with_progress(
        &self,
        filter: &TradeFilter,
        on_page: &mut (dyn FnMut(PageProgress) + Send),
    ) -> Result<Vec<Trade>, ClobError> {
        self.paginate(Self::trades_call(filter), normalise_trade, on_page)
            .await
    }

    /// `GET /data/trades` page by page, like [`Client::open_orders_each`].
    pub async fn trades_each(
        &self,
        filter: &TradeFilter,
        on_page: &mut (dyn FnMut(Vec<Trade>) + Send),
    ) -> Result<(), ClobError> {
        self.paginate_normalised(Self::trades_call(filter), normalise_trade, on_page)
            .await
    }

    fn trades_call(filter: &TradeFilter) -> Call {
        let before = filter.before.map(|t| t.to_string());
        let after = filter.after.map(|t| t.to_string());
        Call::new(Method::GET, "/data/trades")
            .signed()
            .filter("id", filter.id.as_deref())
            .filter("market", filter.market.as_deref())
            .filter("asset_id", filter.asset_id.as_deref())
            .filter("maker_address", filter.maker_address.as_deref())
            .filter("before", before.as_deref())
            .filter("after", after.as_deref())
    }

    /// `DELETE /order`: cancels one order.
    pub async fn cancel(&self, id: &str) -> Result<CancelResponse, ClobError> {
        let id = required(id, "DELETE /order", "an order id")?;
        let body = to_json(&CancelOrderRequest {
            order_id: id.to_owned(),
        })?;
        let call = Call::new(Method::DELETE, "/order").signed().json(body);
        self.cancel_call(&call).await
    }

    /// `DELETE /orders`: cancels many orders. Duplicates are dropped, the ids go out in
    /// requests of at most 3000 (a few in flight at once), and the answers are merged into one.
    ///
    /// When a batch had an attempt that may have taken effect unseen (e.g. the answer was
    /// lost) and the retry reports an id as already canceled, that id counts as canceled. If a
    /// batch fails for good, the error is [`ClobError::CancelIncomplete`] with everything known.
    pub async fn cancel_orders<S: AsRef<str> + Sync>(
        &self,
        ids: &[S],
    ) -> Result<CancelResponse, ClobError> {
        self.signer("DELETE /orders")?;
        let mut seen = HashSet::with_capacity(ids.len());
        let unique: Vec<&str> = ids
            .iter()
            .map(|id| id.as_ref().trim())
            .filter(|id| !id.is_empty() && seen.insert(*id))
            .collect();
        drop(seen);
        if unique.is_empty() {
            return Ok(CancelResponse::default());
        }
        let concurrency = self.inner.config.cancel_concurrency.max(1);
        let outcomes: Vec<(&[&str], Result<CancelResponse, BatchFailure>)> =
            stream::iter(unique.chunks(MAX_CANCEL_IDS))
                .map(|batch| async move { (batch, self.cancel_batch(batch).await) })
                .buffered(concurrency)
                .collect()
                .await;

        let mut merged = CancelResponse::default();
        let mut unknown = Vec::new();
        let mut unsent = Vec::new();
        let mut first_error = None;
        let mut any_effect = false;
        for (batch, outcome) in outcomes {
            match outcome {
                Ok(answer) => {
                    any_effect = true;
                    merged.canceled.extend(answer.canceled);
                    merged.not_canceled.extend(answer.not_canceled);
                }
                Err(failure) => {
                    let ids = batch.iter().map(|id| (*id).to_owned());
                    if failure.ambiguous {
                        any_effect = true;
                        unknown.extend(ids);
                    } else {
                        unsent.extend(ids);
                    }
                    first_error.get_or_insert(failure.error);
                }
            }
        }
        match first_error {
            None => Ok(merged),
            // Nothing reached the exchange: the plain cause says it best.
            Some(error) if !any_effect => Err(error),
            Some(error) => Err(ClobError::CancelIncomplete {
                partial: Box::new(merged),
                unknown,
                unsent,
                source: Box::new(error),
            }),
        }
    }

    /// `DELETE /cancel-all`: cancels every open order of the key.
    pub async fn cancel_all(&self) -> Result<CancelResponse, ClobError> {
        let call = Call::new(Method::DELETE, "/cancel-all").signed();
        self.cancel_call(&call).await
    }

    /// `DELETE /cancel-market-orders`: cancels the orders of one market, one token, or one
    /// token of one market. Blank values count as absent; with neither, the call is refused
    /// (the exchange would cancel every order: use [`Client::cancel_all`] for that).
    pub async fn cancel_market(
        &self,
        market: Option<&str>,
        asset_id: Option<&str>,
    ) -> Result<CancelResponse, ClobError> {
        const ENDPOINT: &str = "DELETE /cancel-market-orders";
        self.signer(ENDPOINT)?;
        let given = |v: Option<&str>| {
            v.map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let request = CancelMarketRequest {
            market: given(market),
            asset_id: given(asset_id),
        };
        if request.market.is_none() && request.asset_id.is_none() {
            return Err(ClobError::InvalidArgument {
                endpoint: ENDPOINT.to_owned(),
                detail: "neither a market nor a token id was given, which would cancel every \
                         order; pass one, or use cancel_all to cancel everything"
                    .to_owned(),
            });
        }
        let call = Call::new(Method::DELETE, "/cancel-market-orders")
            .signed()
            .json(to_json(&request)?);
        self.cancel_call(&call).await
    }

    /// `GET /order-scoring`: whether one order is earning liquidity rewards.
    pub async fn is_scoring(&self, id: &str) -> Result<bool, ClobError> {
        let id = required(id, "GET /order-scoring", "an order id")?;
        let call = Call::new(Method::GET, "/order-scoring")
            .signed()
            .query("order_id", id);
        Ok(self.fetch::<OrderScoring>(&call).await?.scoring)
    }

    /// `POST /orders-scoring`: scoring of many orders, as the exchange reports it (id → bool).
    pub async fn are_scoring<S: AsRef<str> + Sync>(
        &self,
        ids: &[S],
    ) -> Result<BTreeMap<String, bool>, ClobError> {
        self.signer("POST /orders-scoring")?;
        let mut seen = HashSet::with_capacity(ids.len());
        let unique: Vec<&str> = ids
            .iter()
            .map(|id| id.as_ref().trim())
            .filter(|id| !id.is_empty() && seen.insert(*id))
            .collect();
        let mut scoring = BTreeMap::new();
        for batch in unique.chunks(MAX_CANCEL_IDS) {
            let call = Call::new(Method::POST, "/orders-scoring")
                .signed()
                .json(to_json(&batch)?);
            let answer: BTreeMap<String, serde_json::Value> = self.fetch(&call).await?;
            for (id, value) in answer {
                let flag = match &value {
                    serde_json::Value::Bool(b) => *b,
                    serde_json::Value::String(s) => s.eq_ignore_ascii_case("true"),
                    serde_json::Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
                    _ => false,
                };
                scoring.insert(id, flag);
            }
        }
        Ok(scoring)
    }

    /// `POST /v1/heartbeats`: keeps the dead-man's switch alive. Pass the id from the previous
    /// reply, or `None` the first time.
    pub async fn heartbeat(
        &self,
        heartbeat_id: Option<&str>,
    ) -> Result<HeartbeatResponse, ClobError> {
        let body = to_json(&HeartbeatRequest {
            heartbeat_id: Some(heartbeat_id.unwrap_or_default().to_owned()),
        })?;
        let call = Call::new(Method::POST, "/v1/heartbeats")
            .signed()
            .json(body);
        self.fetch(&call).await
    }

    /// `GET /book`: the order book of one token, levels in the exchange's order.
    pub async fn book(&self, token_id: &str) -> Result<OrderBook, ClobError> {
        let token_id = required(token_id, "GET /book", "a token id")?;
        let call = Call::new(Method::GET, "/book").query("token_id", token_id);
        self.fetch(&call).await
    }

    /// Midpoint as the exchange's decimal string.
    pub async fn midpoint(&self, token_id: &str) -> Result<String, ClobError> {
        let token_id = required(token_id, "GET /midpoint", "a token id")?;
        let call = Call::new(Method::GET, "/midpoint").query("token_id", token_id);
        Ok(self.fetch::<MidpointResponse>(&call).await?.mid)
    }

    /// `GET /price`: best price on one side, as the exchange's decimal string.
    pub async fn price(&self, token_id: &str, side: Side) -> Result<String, ClobError> {
        let token_id = required(token_id, "GET /price", "a token id")?;
        let call = Call::new(Method::GET, "/price")
            .query("token_id", token_id)
            .query("side", side.as_str());
        Ok(self.fetch::<PriceResponse>(&call).await?.price)
    }

    /// `GET /spread`: as the exchange's decimal string.
    pub async fn spread(&self, token_id: &str) -> Result<String, ClobError> {
        let token_id = required(token_id, "GET /spread", "a token id")?;
        let call = Call::new(Method::GET, "/spread").query("token_id", token_id);
        Ok(self.fetch::<SpreadResponse>(&call).await?.spread)
    }

    /// `GET /tick-size`: the minimum price increment of one token.
    pub async fn tick_size(&self, token_id: &str) -> Result<f64, ClobError> {
        let token_id = required(token_id, "GET /tick-size", "a token id")?;
        let call = Call::new(Method::GET, "/tick-size").query("token_id", token_id);
        Ok(self
            .fetch::<TickSizeResponse>(&call)
            .await?
            .minimum_tick_size)
    }

    // ---- internals -------------------------------------------------------------------------

    fn signer(&self, endpoint: &str) -> Result<&Signer, ClobError> {
        self.inner
            .signer
            .as_ref()
            .ok_or_else(|| ClobError::MissingCredentials {
                endpoint: endpoint.to_owned(),
            })
    }

    /// Sends a request and decodes its JSON answer.
    async fn fetch<T: DeserializeOwned>(&self, call: &Call) -> Result<T, ClobError> {
        let answer = self.execute(call, &mut Attempts::default()).await?;
        decode(call, &answer)
    }

    /// Fetches every page of a listing. Each page is retried on its own.
    /// Fetches every page into one list of normalised rows, reporting progress after each
    /// page.
    async fn paginate<T: DeserializeOwned + Send>(
        &self,
        template: Call,
        normalise: fn(&mut T),
        on_page: &mut (dyn FnMut(PageProgress) + Send),
    ) -> Result<Vec<T>, ClobError> {
        let mut items: Vec<T> = Vec::new();
        let mut pages = 0;
        self.paginate_normalised(template, normalise, &mut |page: Vec<T>| {
            pages += 1;
            if items.is_empty() {
                items = page;
            } else {
                items.extend(page);
            }
            on_page(PageProgress {
                pages,
                items: items.len(),
            });
        })
        .await?;
        Ok(items)
    }

    /// [`Client::paginate_each`] with every row normalised before it is handed over.
    async fn paginate_normalised<T: DeserializeOwned>(
        &self,
        template: Call,
        normalise: fn(&mut T),
        on_page: &mut (dyn FnMut(Vec<T>) + Send),
    ) -> Result<(), ClobError> {
        self.paginate_each(template, &mut |mut page: Vec<T>| {
            page.iter_mut().for_each(normalise);
            on_page(page);
        })
        .await
    }

    /// Walks the pages in cursor order and hands each page's rows to `sink` as it arrives, so
    /// a caller that converts rows keeps no copy of earlier pages. A failed page is retried on
    /// its own (see [`Client::execute`]).
    ///
    /// Each answer's cursor is read first (a cheap pass that skips the rows); when there is a
    /// next page, its request goes out before this page's rows are parsed and handed over, so
    /// the exchange and the network work while this process parses. It is only ever the page
    /// the cursor names: no request is made that the plain sequential walk would not make.
    async fn paginate_each<T: DeserializeOwned>(
        &self,
        template: Call,
        sink: &mut (dyn FnMut(Vec<T>) + Send),
    ) -> Result<(), ClobError> {
        let mut cursors = Cursors::new();
        let mut call = template;
        call.query
            .push(("next_cursor", cursors.current().to_owned()));
        let mut answer = self.execute(&call, &mut Attempts::default()).await?;
        loop {
            let cursor: PageCursor = decode(&call, &answer)?;
            let next = match cursors.advance(&cursor.next_cursor) {
                Ok(Next::Done) => None,
                Ok(Next::Fetch(cursor)) => {
                    let mut next = call.clone();
                    if let Some(slot) = next.query.last_mut() {
                        slot.1 = cursor;
                    }
                    Some(next)
                }
                Err(detail) => {
                    return Err(ClobError::Pagination {
                        endpoint: call.endpoint(),
                        detail,
                    });
                }
            };
            // Aborted if this walk is dropped (an interrupted script) or fails first.
            let prefetch = next.clone().map(|next| {
                let client = self.clone();
                AbortOnDropHandle::new(tokio::spawn(async move {
                    client.execute(&next, &mut Attempts::default()).await
                }))
            });
            let page: Page<T> = decode(&call, &answer)?;
            sink(page.data);
            let (Some(next), Some(prefetch)) = (next, prefetch) else {
                return Ok(());
            };
            answer = prefetch.await.map_err(|e| ClobError::Connection {
                endpoint: next.endpoint(),
                host: self.inner.base.clone(),
                detail: format!("the request task stopped: {e}"),
                attempts: 1,
            })??;
            call = next;
        }
    }

    /// Runs one cancel request and settles its answer (see [`settle_cancel`]).
    async fn cancel_call(&self, call: &Call) -> Result<CancelResponse, ClobError> {
        let mut attempts = Attempts::default();
        let result = match self.execute(call, &mut attempts).await {
            Ok(answer) => decode::<CancelResponse>(call, &answer).inspect_err(|_| {
                // A 2xx we cannot read most likely did cancel.
                attempts.ambiguous = true;
            }),
            Err(error) => Err(error),
        };
        let names_its_ids = call.path == "/order";
        if attempts.ambiguous && result.is_ok() && !names_its_ids {
            // Cancel-all and cancel-by-market answers list only what the last attempt canceled:
            // orders canceled by an earlier attempt whose answer was lost cannot be named.
            tracing::warn!(
                endpoint = %call.endpoint(),
                "an earlier attempt may have canceled orders that this result does not list"
            );
        }
        match result {
            Ok(answer) => Ok(settle_cancel(answer, attempts.ambiguous)),
            Err(error) if attempts.ambiguous => Err(ClobError::CancelUncertain {
                source: Box::new(error),
            }),
            Err(error) => Err(error),
        }
    }

    /// One `DELETE /orders` batch of at most 3000 ids.
    async fn cancel_batch(&self, ids: &[&str]) -> Result<CancelResponse, BatchFailure> {
        let body = to_json(&ids).map_err(|error| BatchFailure {
            error,
            ambiguous: false,
        })?;
        let call = Call::new(Method::DELETE, "/orders").signed().json(body);
        let mut attempts = Attempts::default();
        let result = match self.execute(&call, &mut attempts).await {
            Ok(answer) => decode::<CancelResponse>(&call, &answer).inspect_err(|_| {
                attempts.ambiguous = true;
            }),
            Err(error) => Err(error),
        };
        match result {
            Ok(answer) => Ok(settle_cancel(answer, attempts.ambiguous)),
            Err(error) => Err(BatchFailure {
                error,
                ambiguous: attempts.ambiguous,
            }),
        }
    }

    /// The timestamp to sign with: the local clock, or the exchange's when so configured (its
    /// offset is read once and reused).
    async fn timestamp(&self) -> Result<i64, ClobError> {
        let local = unix_now();
        if !self.inner.config.use_server_time {
            return Ok(local);
        }
        let mut offset = self.inner.server_offset.lock().await;
        let value = match *offset {
            Some(value) => value,
            None => {
                let value = self.measure_offset().await?;
                *offset = Some(value);
                value
            }
        };
        Ok(local + value)
    }

    /// Exchange time minus local time, in whole seconds.
    async fn measure_offset(&self) -> Result<i64, ClobError> {
        let before = SystemTime::now();
        // Boxed: `server_time` goes through `execute`, which may come back here.
        let server = Box::pin(self.server_time()).await?;
        let after = SystemTime::now();
        let midpoint = before + after.duration_since(before).unwrap_or_default() / 2;
        let local = midpoint
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        // The exchange reports whole seconds, so its true time lies in [server, server + 1).
        Ok((server as f64 + 0.5 - local).round() as i64)
    }

    /// Turns a 401 into the right error: clock skew when the clock we sign with is further
    /// from the exchange's than its window, bad credentials otherwise.
    async fn unauthorized(&self, call: &Call, message: String) -> ClobError {
        let endpoint = call.endpoint();
        let skew = match self.measure_offset().await {
            Ok(offset) => {
                let signing_offset = if self.inner.config.use_server_time {
                    self.inner.server_offset.lock().await.unwrap_or(0)
                } else {
                    0
                };
                Some(offset - signing_offset)
            }
            Err(_) => None,
        };
        match skew {
            Some(skew_secs)
                if skew_secs.unsigned_abs() > self.inner.config.max_clock_skew.as_secs() =>
            {
                ClobError::ClockSkew {
                    endpoint,
                    message,
                    skew_secs,
                }
            }
            skew_secs => ClobError::Unauthorized {
                endpoint,
                message,
                skew_secs,
            },
        }
    }

    /// Sends a request with retries, returning the first 2xx answer or the error that ended it.
    async fn execute(&self, call: &Call, attempts: &mut Attempts) -> Result<Answer, ClobError> {
        let signer = if call.signed {
            Some(self.signer(&call.endpoint())?)
        } else {
            None
        };
        let policy = &self.inner.config.retry;
        let started = Instant::now();
        let mut resynced_clock = false;
        loop {
            let timestamp = match signer {
                Some(_) => Some(self.timestamp().await?),
                None => None,
            };
            attempts.count += 1;
            let attempt = self.attempt(call, signer.zip(timestamp)).await;
            let failure = match attempt {
                Ok(answer) if answer.status.is_success() => return Ok(answer),
                Ok(answer) if answer.status == StatusCode::UNAUTHORIZED && call.signed => {
                    if self.inner.config.use_server_time && !resynced_clock {
                        // The cached offset may be stale (the local clock jumped): read the
                        // exchange's clock again and sign once more.
                        resynced_clock = true;
                        if let Ok(offset) = self.measure_offset().await {
                            *self.inner.server_offset.lock().await = Some(offset);
                            self.inner.retries.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                    }
                    return Err(self.unauthorized(call, error_message(&answer)).await);
                }
                Ok(answer) => {
                    let message = error_message(&answer);
                    if is_retryable_status(answer.status) && !is_trading_halt(&message) {
                        Retryable::Status { answer, message }
                    } else {
                        return Err(status_error(call, answer, message));
                    }
                }
                Err(error) => Retryable::Transport(error),
            };
            if failure.ambiguous() {
                attempts.ambiguous = true;
            }
            let wait = match &failure {
                Retryable::Status { answer, .. } => answer.retry_after.map(|after| {
                    // Spread concurrent waiters a little past the moment the exchange named.
                    after + jitter(policy.base_delay / 2)
                }),
                Retryable::Transport(_) => None,
            }
            .unwrap_or_else(|| policy.backoff(attempts.count));
            if attempts.count >= policy.max_attempts
                || started.elapsed() + wait > policy.max_elapsed
            {
                return Err(self.final_error(call, failure, attempts.count));
            }
            self.inner.retries.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                endpoint = %call.endpoint(),
                attempt = attempts.count,
                wait_ms = wait.as_millis() as u64,
                reason = %describe(&failure),
                "retrying"
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// One HTTP attempt, answer read in full.
    async fn attempt(
        &self,
        call: &Call,
        signing: Option<(&Signer, i64)>,
    ) -> Result<Answer, reqwest::Error> {
        self.inner.requests.fetch_add(1, Ordering::Relaxed);
        let url = format!("{}{}", self.inner.base, call.path);
        let mut request = self.inner.http.request(call.method.clone(), url);
        if !call.query.is_empty() {
            request = request.query(&call.query);
        }
        if let Some((signer, timestamp)) = signing {
            let signature = signer.key.sign(
                timestamp,
                call.method.as_str(),
                &call.path,
                call.body.as_deref(),
            );
            let mut signature =
                HeaderValue::from_str(&signature).unwrap_or_else(|_| HeaderValue::from_static(""));
            signature.set_sensitive(true);
            request = request
                .header(POLY_ADDRESS.clone(), signer.address.clone())
                .header(POLY_API_KEY.clone(), signer.api_key.clone())
                .header(POLY_PASSPHRASE.clone(), signer.passphrase.clone())
                .header(POLY_TIMESTAMP.clone(), timestamp)
                .header(POLY_SIGNATURE.clone(), signature);
        }
        if let Some(body) = &call.body {
            request = request
                .header(header::CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        let mut response = request.send().await?;
        let status = response.status();
        let headers = response.headers();
        let retry_after = headers
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let html = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains("html"));
        let location = headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let expected = response
            .content_length()
            .map_or(0, |n| usize::try_from(n).unwrap_or(0).min(MAX_ANSWER_BYTES));
        let mut body = Vec::with_capacity(expected);
        let mut oversized = false;
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                oversized = true;
                break;
            }
            body.extend_from_slice(&chunk);
        }
        tracing::debug!(
            endpoint = %call.endpoint(),
            status = status.as_u16(),
            bytes = body.len(),
            "answer"
        );
        Ok(Answer {
            status,
            retry_after,
            html,
            location,
            body,
            oversized,
        })
    }

    /// The error for a request whose retries ran out.
    fn final_error(&self, call: &Call, failure: Retryable, attempts: u32) -> ClobError {
        let endpoint = call.endpoint();
        match failure {
            Retryable::Status { answer, message }
                if answer.status == StatusCode::TOO_MANY_REQUESTS =>
            {
                ClobError::RateLimited {
                    endpoint,
                    message,
                    retry_after: answer.retry_after,
                    attempts,
                }
            }
            Retryable::Status { answer, message } => ClobError::Unavailable {
                endpoint,
                status: answer.status.as_u16(),
                message,
                attempts,
            },
            Retryable::Transport(error) if error.is_timeout() => ClobError::Timeout {
                endpoint,
                host: self.inner.base.clone(),
                timeout: self.inner.config.timeout,
                attempts,
            },
            Retryable::Transport(error) => ClobError::Connection {
                endpoint,
                host: self.inner.base.clone(),
                detail: root_cause(&error),
                attempts,
            },
        }
    }
}

/// A `DELETE /orders` batch that failed for good.
struct BatchFailure {
    error: ClobError,
    ambiguous: bool,
}

/// Enumerated fields arrive in either case from some servers; scripts compare them to the
/// documented upper-case spelling.
fn normalise_order(order: &mut OpenOrder) {
    order.status.make_ascii_uppercase();
    order.side.make_ascii_uppercase();
    order.order_type.make_ascii_uppercase();
}

fn normalise_trade(trade: &mut Trade) {
    trade.status.make_ascii_uppercase();
    trade.side.make_ascii_uppercase();
    trade.trader_side.make_ascii_uppercase();
    for maker in &mut trade.maker_orders {
        maker.side.make_ascii_uppercase();
    }
}

/// After an ambiguous attempt, an id the retry reports as already canceled was most likely
/// canceled by that earlier attempt of this same call: count it as canceled. Without such an
/// attempt the answer is taken as it is, so an order canceled before the call stays under
/// `not_canceled`.
fn settle_cancel(mut answer: CancelResponse, ambiguous: bool) -> CancelResponse {
    if ambiguous {
        let settled: Vec<String> = answer
            .not_canceled
            .iter()
            .filter(|(_, reason)| is_already_canceled(reason))
            .map(|(id, _)| id.clone())
            .collect();
        for id in settled {
            answer.not_canceled.remove(&id);
            answer.canceled.push(id);
        }
    }
    answer
}

fn is_already_canceled(reason: &str) -> bool {
    let reason = reason.to_ascii_lowercase();
    reason.contains(messages::ALREADY_CANCELED)
        || reason.contains("already canceled")
        || reason.contains("already cancelled")
}

/// The 503 answers that announce a trading state rather than a hiccup: retrying in a few
/// seconds would not change them.
fn is_trading_halt(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    message.contains("cancel-only") || message.contains("trading is currently disabled")
}

/// The error for a non-2xx answer that is not retried.
fn status_error(call: &Call, answer: Answer, message: String) -> ClobError {
    let endpoint = call.endpoint();
    let status = answer.status.as_u16();
    let lower = message.to_ascii_lowercase();
    if answer.status.is_redirection() {
        let target = answer.location.as_deref().unwrap_or("another URL");
        return ClobError::UnexpectedResponse {
            endpoint,
            status,
            detail: format!("redirected to {target}; use the final URL as --host"),
        };
    }
    if status == 503 && lower.contains("cancel-only") {
        return ClobError::CancelOnly {
            endpoint,
            status,
            message,
        };
    }
    if status == 503 && lower.contains("disabled") {
        return ClobError::TradingDisabled {
            endpoint,
            status,
            message,
        };
    }
    if !is_json(&answer.body) && (answer.html || !answer.body.is_empty()) {
        return not_json(call, &answer);
    }
    match status {
        401 => ClobError::Unauthorized {
            endpoint,
            message,
            skew_secs: None,
        },
        404 => ClobError::NotFound { endpoint, message },
        _ => ClobError::Rejected {
            endpoint,
            status,
            message,
        },
    }
}

/// The exchange's `error` text, or the best short description of the body.
fn error_message(answer: &Answer) -> String {
    if let Ok(body) = serde_json::from_slice::<ErrorBody>(&answer.body) {
        return body.error;
    }
    let reason = answer.status.canonical_reason().unwrap_or("error");
    if answer.html || looks_like_html(&answer.body) {
        return format!("{reason}, as an HTML page");
    }
    let text = snippet(&answer.body);
    if text.is_empty() {
        reason.to_owned()
    } else {
        text
    }
}

fn decode<T: DeserializeOwned>(call: &Call, answer: &Answer) -> Result<T, ClobError> {
    if answer.oversized {
        return Err(ClobError::UnexpectedResponse {
            endpoint: call.endpoint(),
            status: answer.status.as_u16(),
            detail: format!(
                "the answer is larger than {} MiB",
                MAX_ANSWER_BYTES / 1024 / 1024
            ),
        });
    }
    serde_json::from_slice(&answer.body).map_err(|error| {
        if is_json(&answer.body) {
            ClobError::UnexpectedResponse {
                endpoint: call.endpoint(),
                status: answer.status.as_u16(),
                detail: format!("{error}; the exchange's API may have changed"),
            }
        } else {
            not_json(call, answer)
        }
    })
}

fn not_json(call: &Call, answer: &Answer) -> ClobError {
    ClobError::NotJson {
        endpoint: call.endpoint(),
        status: answer.status.as_u16(),
        html: answer.html || looks_like_html(&answer.body),
        snippet: snippet(&answer.body),
    }
}

fn is_json(body: &[u8]) -> bool {
    serde_json::from_slice::<IgnoredAny>(body).is_ok()
}

fn looks_like_html(body: &[u8]) -> bool {
    body.trim_ascii_start().first() == Some(&b'<')
}

/// The start of a body as one printable line, for error messages.
fn snippet(body: &[u8]) -> String {
    const MAX_CHARS: usize = 120;
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX_CHARS * 4)]);
    let mut out: String = text
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_CHARS)
        .collect();
    if text.trim().chars().count() > MAX_CHARS || body.len() > MAX_CHARS * 4 {
        out.push('…');
    }
    out
}

fn describe(failure: &Retryable) -> String {
    match failure {
        Retryable::Status { answer, message } => format!("{} {message}", answer.status.as_u16()),
        Retryable::Transport(error) if error.is_timeout() => "timed out".to_owned(),
        Retryable::Transport(error) => root_cause(error),
    }
}

/// The innermost cause of an error: for network failures the most specific words
/// ("connection refused", "connection closed before message completed").
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// Reads `/time` in every shape seen: `1700000000`, `"1700000000"`, `1700000000.5`,
/// milliseconds, `{"time": …}`-style objects, or a bare number as plain text.
fn parse_server_time(body: &[u8]) -> Option<i64> {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(value) => seconds_from_value(&value),
        Err(_) => seconds_from_text(std::str::from_utf8(body).ok()?),
    }
}

fn seconds_from_value(value: &serde_json::Value) -> Option<i64> {
    match value {
        serde_json::Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .map(normalise_epoch),
        serde_json::Value::String(s) => seconds_from_text(s),
        serde_json::Value::Object(map) => {
            ["time", "timestamp", "server_time", "serverTime", "epoch"]
                .iter()
                .find_map(|key| map.get(*key))
                .and_then(seconds_from_value)
        }
        _ => None,
    }
}

fn seconds_from_text(text: &str) -> Option<i64> {
    let text = text.trim().trim_matches('"');
    if let Ok(n) = text.parse::<i64>() {
        return Some(normalise_epoch(n));
    }
    if let Ok(f) = text.parse::<f64>() {
        return f.is_finite().then(|| normalise_epoch(f as i64));
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp())
}

/// Milliseconds (anything past the year 5138 in seconds) become seconds.
fn normalise_epoch(value: i64) -> i64 {
    if value > 100_000_000_000 {
        value / 1000
    } else {
        value
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, ClobError> {
    serde_json::to_string(value).map_err(|e| ClobError::HttpSetup {
        detail: format!("cannot encode the request body: {e}"),
    })
}

fn required<'a>(value: &'a str, endpoint: &str, what: &str) -> Result<&'a str, ClobError> {
    let value = value.trim();
    if value.is_empty() {
        Err(ClobError::InvalidArgument {
            endpoint: endpoint.to_owned(),
            detail: format!("{what} is required, but an empty string was given"),
        })
    } else {
        Ok(value)
    }
}

/// Percent-encodes one path segment, so an id can never change the path that gets signed.
fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_time_accepts_every_known_shape() {
        for body in [
            &b"1700000000"[..],
            b"\"1700000000\"",
            b"1700000000.75",
            b"1700000000123",
            b"{\"time\":1700000000}",
            b"{\"timestamp\":\"1700000000\"}",
            b" 1700000000\n",
        ] {
            assert_eq!(
                parse_server_time(body),
                Some(1_700_000_000),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        assert_eq!(parse_server_time(b"<html>"), None);
        assert_eq!(parse_server_time(b"{\"other\":1}"), None);
    }

    #[test]
    fn already_canceled_counts_as_canceled_only_after_an_ambiguous_attempt() {
        let answer = CancelResponse {
            canceled: vec!["0xa".into()],
            not_canceled: BTreeMap::from([
                ("0xb".into(), messages::ALREADY_CANCELED.into()),
                ("0xc".into(), messages::NOT_FOUND.into()),
            ]),
        };
        let plain = settle_cancel(answer.clone(), false);
        assert_eq!(plain, answer);
        let settled = settle_cancel(answer, true);
        assert_eq!(settled.canceled, vec!["0xa", "0xb"]);
        assert_eq!(settled.not_canceled.keys().collect::<Vec<_>>(), vec!["0xc"]);
    }

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(encode_segment("0xAbC-1_2.3~"), "0xAbC-1_2.3~");
        assert_eq!(encode_segment("a/b?c d"), "a%2Fb%3Fc%20d");
    }

    #[test]
    fn snippets_are_one_bounded_line() {
        let long = "x".repeat(1000);
        let s = snippet(long.as_bytes());
        assert!(s.chars().count() <= 121 && s.ends_with('…'));
        assert_eq!(snippet(b"  bad\r\nthing  "), "bad  thing");
    }
}
