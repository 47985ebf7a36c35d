//! What every request handler shares, the exchange's error replies, and the router that wires
//! endpoints, authentication, rate limits and injected faults together.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};

use super::faults::FaultInjector;
use super::keys::KeyRegistry;
use super::ratelimit::{IpThrottle, RateLimitMode, SignerLimiter, Tier};
use super::state::{AccountNo, Clock, Exchange};
use super::{auth, faults, keys, market, ratelimit, routes, ws};
use crate::clob::types::{ErrorBody, messages};

/// The authenticated caller of a private endpoint, set by the L2 middleware.
#[derive(Clone, Copy, Debug)]
pub struct Caller(pub AccountNo);

/// State shared by every request.
#[derive(Debug)]
pub struct Shared {
    exchange: Mutex<Exchange>,
    pub clock: Clock,
    pub page_size: usize,
    pub auth_window: Duration,
    pub heartbeat_timeout: Duration,
    pub latency: Option<Duration>,
    pub faults: Option<Mutex<FaultInjector>>,
    /// The per-signer buckets (they meter nothing without `--rate-limit`, but know the tiers).
    pub limiter: Mutex<SignerLimiter>,
    /// The IP layer in front, with `--rate-limit`.
    pub ip_throttle: Option<Mutex<IpThrottle>>,
    /// Requests the IP layer delayed, and their total delay in microseconds.
    pub ip_throttled: AtomicU64,
    pub ip_throttle_wait_us: AtomicU64,
    pub requests: AtomicU64,
    /// When the first request arrived (benchmarks measure process start to first request).
    pub first_request: std::sync::OnceLock<std::time::Instant>,
    /// Requests answered with an injected 500/503 before anything happened.
    pub faults_rejected: AtomicU64,
    /// Requests whose change was applied but whose response was lost.
    pub faults_lost: AtomicU64,
    /// API keys issued from wallet signatures; lock it before the exchange.
    pub keys: Mutex<KeyRegistry>,
}

/// Locks a mutex, recovering the data if a previous holder panicked: the exchange's updates
/// are single steps, so the state stays consistent.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The settings [`Shared`] is built from (a subset of the public config).
#[derive(Debug)]
pub struct Settings {
    pub clock: Clock,
    pub page_size: usize,
    pub auth_window: Duration,
    pub heartbeat_timeout: Duration,
    pub latency: Option<Duration>,
    pub fail_rate: f64,
    pub seed: u64,
    pub rate_limit: Option<RateLimitMode>,
    /// The tier of each account's signer, in account order.
    pub tiers: Vec<Tier>,
}

impl Shared {
    pub fn new(exchange: Exchange, settings: Settings) -> Shared {
        let signers: Vec<(String, Tier)> = exchange
            .accounts
            .iter()
            .enumerate()
            .map(|(no, account)| {
                let tier = settings.tiers.get(no).copied().unwrap_or_default();
                (account.credentials.address.clone(), tier)
            })
            .collect();
        let limiter = SignerLimiter::new(settings.rate_limit, &signers);
        let keys = Mutex::new(KeyRegistry::new(settings.seed, &exchange));
        Shared {
            keys,
            exchange: Mutex::new(exchange),
            clock: settings.clock,
            page_size: settings.page_size.max(1),
            auth_window: settings.auth_window,
            heartbeat_timeout: settings.heartbeat_timeout,
            latency: settings.latency.filter(|d| !d.is_zero()),
            faults: (settings.fail_rate > 0.0)
                .then(|| Mutex::new(FaultInjector::new(settings.seed, settings.fail_rate))),
            limiter: Mutex::new(limiter),
            ip_throttle: settings
                .rate_limit
                .map(|_| Mutex::new(IpThrottle::default())),
            ip_throttled: AtomicU64::new(0),
            ip_throttle_wait_us: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            first_request: std::sync::OnceLock::new(),
            faults_rejected: AtomicU64::new(0),
            faults_lost: AtomicU64::new(0),
        }
    }

    pub fn exchange(&self) -> MutexGuard<'_, Exchange> {
        lock(&self.exchange)
    }
}

/// An error answered as the exchange does: a status and `{"error": "<message>"}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, messages::UNAUTHORIZED)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(ErrorBody {
                error: self.message,
            }),
        )
            .into_response()
    }
}

async fn not_found(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("no endpoint {method} {}", uri.path()),
    )
}

/// Every endpoint of PROTOCOL.md. Layers run outside-in: the IP layer's throttle first (it
/// stands in front of the exchange), then faults and latency (every request), then L2
/// authentication on the private endpoints; the cancel handlers meter their own per-signer
/// costs, which depend on the request's body and outcome.
pub fn router(shared: Arc<Shared>) -> Router {
    let private = Router::new()
        .route("/order", delete(routes::cancel_order))
        .route("/orders", delete(routes::cancel_orders))
        .route("/cancel-all", delete(routes::cancel_all))
        .route(
            "/cancel-market-orders",
            delete(routes::cancel_market_orders),
        )
        .route("/data/order/{id}", get(routes::order))
        .route("/order/{id}", get(routes::order))
        .route("/data/orders", get(routes::open_orders))
        .route("/data/trades", get(routes::trades))
        .route("/trades", get(routes::trades))
        .route("/order-scoring", get(routes::order_scoring))
        .route("/orders-scoring", post(routes::orders_scoring))
        .route("/v1/heartbeats", post(routes::heartbeat))
        .route("/heartbeats", post(routes::heartbeat))
        .route("/v1/user/rate-limit-tier", get(routes::rate_limit_tier))
        .route("/auth/api-keys", get(keys::api_keys))
        .route("/auth/api-key", delete(keys::delete_api_key))
        .route("/auth/ban-status/closed-only", get(keys::closed_only))
        .route_layer(from_fn_with_state(shared.clone(), auth::require_l2));
    let public = Router::new()
        .route("/", get(routes::ok))
        .route("/ok", get(routes::ok))
        .route("/time", get(routes::time))
        .route("/book", get(routes::book))
        .route("/midpoint", get(routes::midpoint))
        .route("/price", get(routes::price))
        .route("/spread", get(routes::spread))
        .route("/tick-size", get(routes::tick_size))
        .route("/auth/api-key", post(keys::create_api_key))
        .route("/auth/derive-api-key", get(keys::derive_api_key))
        .route("/version", get(market::version))
        .route("/neg-risk", get(market::neg_risk))
        .route("/fee-rate", get(market::fee_rate))
        .route("/last-trade-price", get(market::last_trade_price))
        .route("/last-trades-prices", post(market::last_trades_prices))
        .route("/markets/{condition_id}", get(market::market))
        .route("/books", post(market::books))
        .route("/midpoints", post(market::midpoints))
        .route("/prices", post(market::prices))
        .route("/spreads", post(market::spreads));
    private
        .merge(public)
        .fallback(not_found)
        .layer(from_fn_with_state(shared.clone(), faults::inject))
        .layer(from_fn_with_state(shared.clone(), ratelimit::throttle_ip))
        // The user channel stays clear of injected HTTP faults, latency and the IP throttle.
        .route("/ws/user", get(ws::user_channel))
        .route("/_sim/ws/drop", post(ws::drop_connections))
        .with_state(shared)
}
