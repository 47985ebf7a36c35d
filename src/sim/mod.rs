//! The local CLOB simulator: an axum server over an in-memory exchange, speaking every endpoint
//! of PROTOCOL.md with the exchange's JSON shapes, L2 authentication, cursor pagination, cancel
//! semantics, heartbeats with the dead-man's switch, and optional rate limits, latency and
//! injected failures. Tests, benchmarks, the REPL and `--sim` all talk to it over real HTTP.
//!
//! Modules: `state` (the exchange and its indexes), `index` (open-order pages),
//! `generate` and `fixture` (where the state comes from), `server` and `routes` (HTTP),
//! `auth`, `ratelimit` and `faults` (what stands in front of the handlers), `ws` and `events`
//! (the user channel), `fills` (other traders taking liquidity).

mod amount;
mod auth;
mod events;
mod faults;
mod fills;
mod fixture;
mod generate;
mod index;
mod keys;
mod market;
mod ratelimit;
mod routes;
mod server;
mod state;
mod ws;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::clob::types::{OpenOrder, Trade};
use crate::clob::{Credentials, Secret};

pub use fixture::FixtureError;
pub use generate::{HISTORY_SECS, MARKETS, SECOND_PRIVATE_KEY, second_account};
pub use ratelimit::{RateLimitMode, Tier};
use server::Shared;
pub use state::StateError;
use state::{AccountNo, Clock, Exchange};

/// The private key of the demo account's address: Hardhat/Anvil test account #0, published
/// by every Ethereum development tool. A PUBLIC TEST KEY: anyone can sign with it, so it must
/// never hold funds. With it, any official client derives the demo credentials (nonce 0).
pub const DEMO_PRIVATE_KEY: &str =
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

/// The demo credentials `--sim` and a plain `clobscript sim` accept.
pub fn demo_credentials() -> Credentials {
    Credentials {
        api_key: "5f2b1c9e-3d4a-4b6f-8e7d-0a1b2c3d4e5f".to_owned(),
        secret: Secret::new("c2ltdWxhdG9yLWRlbW8tc2VjcmV0LTMyLWJ5dGVzISE="),
        passphrase: Secret::new("demo-passphrase"),
        address: "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266".to_owned(),
    }
}

/// The public test keys of the demo accounts, with a name for each.
const PUBLIC_TEST_KEYS: [(&str, &str); 2] = [
    (DEMO_PRIVATE_KEY, "Anvil account #0"),
    (SECOND_PRIVATE_KEY, "Anvil account #1"),
];

/// The public test key whose address is `address`, if it is one of the demo accounts'.
fn public_test_key(address: &str) -> Option<(&'static str, &'static str)> {
    PUBLIC_TEST_KEYS.into_iter().find(|(key, _)| {
        crate::clob::l1::PrivateKey::parse(key)
            .is_ok_and(|key| key.address().checksummed().eq_ignore_ascii_case(address))
    })
}

/// Everything that shapes a simulator run.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Loopback port; 0 picks a free one.
    pub port: u16,
    /// Generated orders of the primary account (every status); the second account gets a
    /// tenth as many. Ignored with a fixture.
    pub orders: usize,
    /// Instead of `orders`: generate until the primary account has exactly this many open
    /// orders (benchmarks size their runs by open orders).
    pub open_orders: Option<usize>,
    /// Seed of generated data and of injected failures.
    pub seed: u64,
    /// Load the state from this JSON file instead of generating it.
    pub fixture: Option<PathBuf>,
    /// The primary account's credentials.
    pub credentials: Credentials,
    /// Rows per page of `/data/orders` and `/data/trades`.
    pub page_size: usize,
    /// Delay before every response.
    pub latency: Option<Duration>,
    /// Share of requests that fail (0..=1), see [`FaultCounts`].
    pub fail_rate: f64,
    /// The exchange's rate limits (per-signer buckets and the IP layer): `None` meters nothing.
    pub rate_limit: Option<RateLimitMode>,
    /// The tier of every signer whose fixture account names none.
    pub tier: Tier,
    /// Dead-man's switch: a key that has sent a heartbeat loses its open orders this long
    /// after its last one.
    pub heartbeat_timeout: Duration,
    /// Accepted distance between `POLY_TIMESTAMP` and the simulator's clock.
    pub auth_window: Duration,
    /// Seconds added to the simulator's clock (for `/time` and the auth window), to play a
    /// client whose own clock is skewed.
    pub clock_offset: i64,
    /// Other traders fill one of the primary account's open orders this often (`--fills`).
    pub fills: Option<Duration>,
    /// Time between a filled trade's settlement steps (MATCHED → MINED → CONFIRMED).
    pub trade_status_delay: Duration,
    /// Share of filled trades (0..=1) that settle MATCHED → RETRYING → FAILED instead.
    pub trade_failure_rate: f64,
    /// Cut each user-channel connection after it has sent this many events (a fault).
    pub ws_drop_after: Option<u64>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            port: 0,
            orders: 3000,
            open_orders: None,
            seed: 1,
            fixture: None,
            credentials: demo_credentials(),
            page_size: crate::clob::DEFAULT_PAGE_SIZE,
            latency: None,
            fail_rate: 0.0,
            rate_limit: None,
            tier: Tier::Standard,
            heartbeat_timeout: Duration::from_secs(10),
            auth_window: Duration::from_secs(30),
            clock_offset: 0,
            fills: None,
            trade_status_delay: Duration::from_secs(1),
            trade_failure_rate: 0.05,
            ws_drop_after: None,
        }
    }
}

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error(transparent)]
    Fixture(#[from] FixtureError),
    #[error("the exchange state is not valid: {0}")]
    State(#[from] StateError),
    #[error(
        "port {port} is already in use; pick another with --port N, or --port 0 for any free port"
    )]
    PortInUse { port: u16 },
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Bind { port: u16, source: std::io::Error },
}

/// Injected failures so far (`--fail-rate`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Answered 500/503 before anything was done.
    pub rejected: u64,
    /// Applied, then the response was lost (500 or a dropped connection).
    pub lost: u64,
}

/// A running simulator on a loopback port. Dropping it stops the server too.
pub struct SimServer {
    url: String,
    credentials: Credentials,
    accounts: Vec<Credentials>,
    shared: Arc<Shared>,
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for SimServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimServer")
            .field("url", &self.url)
            .field("api_key", &self.credentials.api_key)
            .finish_non_exhaustive()
    }
}

/// How often the dead-man's switch looks for missed heartbeats.
fn sweep_interval(timeout: Duration) -> Duration {
    (timeout / 10).clamp(Duration::from_millis(5), Duration::from_millis(250))
}

impl SimServer {
    /// Binds 127.0.0.1:`config.port` (0 = any free port), loads or generates the state, and
    /// serves in the background on the current tokio runtime.
    pub async fn start(config: SimConfig) -> Result<SimServer, SimError> {
        let clock = Clock {
            offset_secs: config.clock_offset,
        };
        let mut data = match &config.fixture {
            Some(path) => fixture::load(path, &config.credentials, clock.now())?,
            None => {
                let second = second_account();
                generate::generate(&generate::Generation {
                    orders: config.orders,
                    open_orders: config.open_orders,
                    seed: config.seed,
                    now: clock.now(),
                    second: (second.api_key != config.credentials.api_key).then_some(second),
                    primary: config.credentials.clone(),
                })
            }
        };
        let accounts = data.accounts.clone();
        let stop = CancellationToken::new();
        let tiers: Vec<Tier> = accounts
            .iter()
            .map(|account| {
                data.tiers
                    .get(&account.address.trim().to_ascii_lowercase())
                    .copied()
                    .unwrap_or(config.tier)
            })
            .collect();
        data.tiers.clear();
        let mut exchange = Exchange::new(data, clock.now_millis())?;
        exchange.events = events::EventBus::new(config.ws_drop_after, stop.child_token());
        let listener = TcpListener::bind(("127.0.0.1", config.port))
            .await
            .map_err(|source| match source.kind() {
                std::io::ErrorKind::AddrInUse => SimError::PortInUse { port: config.port },
                _ => SimError::Bind {
                    port: config.port,
                    source,
                },
            })?;
        let port = listener
            .local_addr()
            .map_err(|source| SimError::Bind {
                port: config.port,
                source,
            })?
            .port();
        let shared = Arc::new(Shared::new(
            exchange,
            server::Settings {
                clock,
                page_size: config.page_size,
                auth_window: config.auth_window,
                heartbeat_timeout: config.heartbeat_timeout,
                latency: config.latency,
                fail_rate: config.fail_rate,
                seed: config.seed,
                rate_limit: config.rate_limit,
                tiers,
            },
        ));
        let app = server::router(shared.clone());
        let serve_stop = stop.clone();
        let server = tokio::spawn(async move {
            let serving = axum::serve(listener, app)
                .with_graceful_shutdown(async move { serve_stop.cancelled().await });
            if let Err(error) = serving.await {
                tracing::error!(%error, "simulator stopped serving");
            }
        });
        let sweeper = tokio::spawn(dead_mans_switch(shared.clone(), stop.clone()));
        let mut tasks = vec![server, sweeper];
        if let Some(interval) = config.fills {
            let settings = fills::FillSettings {
                interval,
                seed: config.seed,
                status_delay: config.trade_status_delay,
                failure_rate: config.trade_failure_rate,
            };
            tasks.push(tokio::spawn(fills::run(
                shared.clone(),
                settings,
                stop.clone(),
            )));
        }
        Ok(SimServer {
            url: format!("http://127.0.0.1:{port}"),
            credentials: accounts[0].clone(),
            accounts,
            shared,
            stop,
            tasks,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The user channel, `ws://127.0.0.1:PORT/ws/user`.
    pub fn ws_url(&self) -> String {
        format!("{}/ws/user", self.url.replacen("http://", "ws://", 1))
    }

    /// Cuts every open user-channel connection without a closing handshake (a fault for
    /// tests); returns how many were open.
    pub fn drop_ws_connections(&self) -> usize {
        self.shared.exchange().events.drop_connections()
    }

    /// User-channel connections open and subscribed right now.
    pub fn ws_connections(&self) -> usize {
        self.shared.exchange().events.connections()
    }

    /// The credentials of the simulator's primary account.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// The credentials of the second account (generated data always has one; a fixture may
    /// not), whose orders the primary key must never see or cancel.
    pub fn other_credentials(&self) -> Option<&Credentials> {
        self.accounts.get(1)
    }

    /// Every account, the primary first.
    pub fn accounts(&self) -> &[Credentials] {
        &self.accounts
    }

    fn account(&self, exchange: &Exchange, api_key: &str) -> Option<AccountNo> {
        exchange.account_by_key(api_key)
    }

    /// The current status of an order (`LIVE`, `CANCELED`, …), for tests to check state.
    pub fn order_status(&self, id: &str) -> Option<String> {
        self.shared.exchange().order_status(id).map(str::to_owned)
    }

    /// The statuses of many orders, in the order asked.
    pub fn order_statuses(&self, ids: &[String]) -> Vec<Option<String>> {
        let exchange = self.shared.exchange();
        ids.iter()
            .map(|id| exchange.order_status(id).map(str::to_owned))
            .collect()
    }

    /// Whether an order is scoring right now (`None` for unknown ids).
    pub fn is_scoring(&self, id: &str) -> Option<bool> {
        self.shared.exchange().scoring_flag(id)
    }

    /// Ids of the primary account's open orders, in listing order.
    pub fn open_order_ids(&self) -> Vec<String> {
        self.shared.exchange().open_order_ids(0)
    }

    /// Ids of any account's open orders, in listing order (empty for unknown keys).
    pub fn open_order_ids_of(&self, api_key: &str) -> Vec<String> {
        let exchange = self.shared.exchange();
        self.account(&exchange, api_key)
            .map(|account| exchange.open_order_ids(account))
            .unwrap_or_default()
    }

    /// Every order of an account, open or not, oldest first, as the wire shows them.
    pub fn orders_of(&self, api_key: &str) -> Vec<OpenOrder> {
        let exchange = self.shared.exchange();
        self.account(&exchange, api_key)
            .map(|account| exchange.all_orders(account))
            .unwrap_or_default()
    }

    /// Every trade of an account, by match time.
    pub fn trades_of(&self, api_key: &str) -> Vec<Trade> {
        let exchange = self.shared.exchange();
        self.account(&exchange, api_key)
            .map(|account| exchange.all_trades(account))
            .unwrap_or_default()
    }

    /// The API keys that authenticate for an address right now (any letter case), oldest
    /// first: the starting accounts' and those issued by `/auth/api-key`.
    pub fn api_keys_of(&self, address: &str) -> Vec<String> {
        self.shared.exchange().keys_of_address(address)
    }

    /// Every token id with a book.
    pub fn token_ids(&self) -> Vec<String> {
        self.shared.exchange().token_ids()
    }

    /// Whether a key's dead-man's switch is armed (it sent a heartbeat that has not expired).
    pub fn heartbeat_armed(&self, api_key: &str) -> bool {
        let exchange = self.shared.exchange();
        self.account(&exchange, api_key)
            .is_some_and(|account| exchange.accounts[account].heartbeat.is_some())
    }

    /// The heartbeat id last handed to a key, while its dead-man's switch is armed.
    pub fn heartbeat_id(&self, api_key: &str) -> Option<String> {
        let exchange = self.shared.exchange();
        let account = self.account(&exchange, api_key)?;
        exchange.accounts[account]
            .heartbeat
            .as_ref()
            .map(|h| h.id.clone())
    }

    /// Orders canceled by dead-man's switches so far.
    pub fn switch_cancels(&self) -> u64 {
        self.shared.exchange().switch_cancels
    }

    /// Requests served so far (every endpoint, including failed ones).
    pub fn requests_served(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// When the first request reached the simulator, if one has.
    pub fn first_request_at(&self) -> Option<std::time::Instant> {
        self.shared.first_request.get().copied()
    }

    /// Requests the IP layer delayed so far (`--rate-limit`), and their total delay.
    pub fn ip_throttled(&self) -> (u64, Duration) {
        (
            self.shared.ip_throttled.load(Ordering::Relaxed),
            Duration::from_micros(self.shared.ip_throttle_wait_us.load(Ordering::Relaxed)),
        )
    }

    /// The rate-limit tier of an account's signer (`None` for unknown keys).
    pub fn tier_of(&self, api_key: &str) -> Option<Tier> {
        let account = self.account(&self.shared.exchange(), api_key)?;
        Some(server::lock(&self.shared.limiter).tier_of(account))
    }

    /// Failures injected so far by `fail_rate`.
    pub fn faults_injected(&self) -> FaultCounts {
        FaultCounts {
            rejected: self.shared.faults_rejected.load(Ordering::Relaxed),
            lost: self.shared.faults_lost.load(Ordering::Relaxed),
        }
    }

    /// Stops serving and waits for the server task to end (at most a few seconds for
    /// requests in flight).
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        for task in std::mem::take(&mut self.tasks) {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Cancels every open order of a key whose heartbeats stopped.
async fn dead_mans_switch(shared: Arc<Shared>, stop: CancellationToken) {
    let mut ticks = tokio::time::interval(sweep_interval(shared.heartbeat_timeout));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            now = ticks.tick() => {
                let now_ms = shared.clock.now_millis();
                shared.exchange().fire_expired_switches(now, now_ms);
            }
        }
    }
}

/// The lines printed once the simulator is ready: the URL first (tools read that line), then
/// the credentials it accepts. A secret or passphrase is shown only when it is a public demo
/// value, never when it was given.
pub fn ready_lines(server: &SimServer) -> Vec<String> {
    let demo = [demo_credentials(), second_account()];
    let is_demo = |value: &Secret| {
        demo.iter()
            .any(|d| &d.secret == value || &d.passphrase == value)
    };
    let shown = |value: &Secret| {
        if is_demo(value) {
            value.expose().to_owned()
        } else {
            "(as given)".to_owned()
        }
    };
    let mut lines = vec![format!("clobscript sim listening on {}", server.url())];
    for (n, account) in server.accounts().iter().enumerate() {
        let role = if n == 0 { "primary" } else { "other" };
        lines.push(format!(
            "  {role} account: POLY_API_KEY={} POLY_ADDRESS={} POLY_PASSPHRASE={} POLY_API_SECRET={}",
            account.api_key,
            account.address,
            shown(&account.passphrase),
            shown(&account.secret),
        ));
        if let Some((key, name)) = public_test_key(&account.address) {
            lines.push(format!(
                "    POLY_PRIVATE_KEY={key} (PUBLIC TEST KEY, {name}: known to everyone, never fund it)"
            ));
        }
    }
    lines
}
