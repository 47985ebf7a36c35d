//! The async CLOB client: L2-signed reads and cancels plus the public market-data endpoints,
//! over one pooled reqwest client, with bounded retries, complete pagination, batched cancels
//! whose merged result stays truthful, and clock-skew diagnosis.
//!
//! The pieces, by concern:
//! - [`transport`]: building, signing and sending one request, with retries;
//! - [`answer`]: classifying an answer that is not a success into a [`ClobError`];
//! - [`clock`]: the exchange's clock, signing timestamps, and clock-skew diagnosis;
//! - the endpoints by area: [`listings`] (orders and trades), [`cancels`], [`market`] data,
//!   [`scoring`] and the heartbeat, and the API [`keys`] (L1 and L2).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::header::{self, HeaderValue};

mod answer;
mod cancels;
mod clock;
mod keys;
mod listings;
mod market;
mod scoring;
mod transport;

pub use super::error::ClobError;
pub use super::retry::RetryPolicy;
pub use cancels::{
    CancelObserver, CancelPlan, CancelRequest, IndexedCancel, NoObserver, RequestOutcome,
    STOP_GRACE,
};
pub use keys::{KeyOrigin, KeyRequestError};
pub use listings::{OrderFilter, TradeFilter};
pub use transport::UniqueIds;

use super::auth::Credentials;
use transport::{Signer, USER_AGENT, root_cause};

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
    /// How many pages of a listing may be in flight at once when the exchange's cursors are
    /// row offsets (1: one page after another).
    pub page_window: usize,
}

impl ClientConfig {
    /// Defaults: 15 s per attempt, [`RetryPolicy::default`], local clock, 30 s skew window,
    /// four concurrent cancel batches, eight pages in flight (`CLOBSCRIPT_PAGE_WINDOW` in the
    /// environment overrides that: `1` walks the pages one after another, for comparisons).
    pub fn new(host: impl Into<String>, credentials: Option<Credentials>) -> Self {
        Self {
            host: host.into(),
            credentials,
            timeout: Duration::from_secs(15),
            retry: RetryPolicy::default(),
            use_server_time: false,
            max_clock_skew: Duration::from_secs(30),
            cancel_concurrency: 4,
            page_window: std::env::var("CLOBSCRIPT_PAGE_WINDOW")
                .ok()
                .and_then(|text| text.trim().parse::<usize>().ok())
                .filter(|window| *window > 0)
                .unwrap_or(super::pagination::DEFAULT_PAGE_WINDOW),
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
    /// Cancel requests the exchange's rate limiter refused (`429`); each was sent again.
    pub refused: u64,
    /// Wall time spent waiting for the cancel bucket (pacing and `Retry-After`), overlapping
    /// waits of concurrent batches counted once.
    pub rate_limit_wait: Duration,
}

struct Inner {
    http: reqwest::Client,
    /// The host without a trailing slash; endpoint paths are appended to it.
    base: String,
    config: ClientConfig,
    signer: Option<Signer>,
    requests: AtomicU64,
    retries: AtomicU64,
    refused: AtomicU64,
    /// One cancel pacer per signer address, shared by every clone (all jobs, REPL lines).
    pacers:
        std::sync::Mutex<std::collections::HashMap<String, crate::clob::ratelimit::CancelPacer>>,
    wait_clock: cancels::WaitClock,
    /// Exchange time minus local time, once read (only with `use_server_time`).
    server_offset: tokio::sync::Mutex<Option<i64>>,
    /// Spaces listing requests under the exchange's per-IP limit.
    listing_pace: super::pagination::ListingPace,
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
                refused: AtomicU64::new(0),
                pacers: std::sync::Mutex::new(std::collections::HashMap::new()),
                wait_clock: cancels::WaitClock::default(),
                server_offset: tokio::sync::Mutex::new(None),
                listing_pace: super::pagination::ListingPace::new(),
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
            refused: self.inner.refused.load(Ordering::Relaxed),
            rate_limit_wait: self.inner.wait_clock.total(),
        }
    }
}
