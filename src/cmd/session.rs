//! A connected session, the composition root: the one place that turns the command line into
//! a working exchange connection, for `run`, `repl`, `schedule` and `heartbeat` alike.
//!
//! [`Session::connect`] resolves the host and credentials from one source (`--profile NAME`,
//! else all four `POLY_*` variables, else the `default` profile: see [`crate::config`]),
//! reports every missing credential by name before any request is made (exit 2), says at `-v`
//! which source it used, and builds the one shared [`Client`]. With `--sim [FIXTURE]` it
//! instead starts an in-process [`SimServer`] on `127.0.0.1:0` (generated data, or the
//! fixture), with the simulator's demo credentials, and points the client at it.
//!
//! The session owns the tokio runtime that drives every request (and the simulator, which
//! lives as long as the session). Script code runs on an ordinary thread and blocks on
//! [`Session::handle`]; never drop a session from inside an async task.
//!
//! ```no_run
//! # use clobscript::{cli::{GlobalArgs, ExecArgs}, cmd::session::Session};
//! # fn demo(global: &GlobalArgs, exec: &ExecArgs) -> Result<(), clobscript::cmd::session::SessionError> {
//! let session = Session::connect(global, exec)?;
//! let orders = session.block_on(session.client().open_orders(&Default::default()));
//! session.shutdown();
//! # Ok(()) }
//! ```

use std::future::Future;
use std::path::Path;

use tokio::runtime::{Handle, Runtime};

use crate::cli::{ExecArgs, GlobalArgs};
use crate::clob::{Client, ClientConfig, ClobError};
use crate::config::{self, ConfigError, Profile, Settings};
use crate::exit::Exit;
use crate::script::Backend;
use crate::sim::{SimConfig, SimError, SimServer};

/// Why a session could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("--sim runs its own exchange and cannot be combined with --host; drop one of them")]
    SimWithHost,
    #[error("cannot start the simulator: {0}")]
    Sim(#[from] SimError),
    #[error("cannot start the simulator: {0}")]
    SimSetting(String),
    #[error("cannot set up the exchange client: {0}")]
    Client(#[from] ClobError),
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    #[error("--request-timeout must be longer than zero; write e.g. `30s`")]
    ZeroRequestTimeout,
}

impl SessionError {
    /// The process exit code for this failure.
    pub fn exit(&self) -> Exit {
        match self {
            SessionError::Client(err) => err.exit(),
            _ => Exit::Usage,
        }
    }
}

/// A runtime, a client and (with `--sim`) the simulator it talks to.
#[derive(Debug)]
pub struct Session {
    runtime: Runtime,
    client: Client,
    sim: Option<SimServer>,
}

impl Session {
    /// Connects as `run`, `repl` and `schedule` are told to by their flags.
    pub fn connect(global: &GlobalArgs, exec: &ExecArgs) -> Result<Session, SessionError> {
        Session::connect_with(global, exec.sim.as_deref())
    }

    /// Connects from the pieces `heartbeat` has: an optional `--sim [FIXTURE]`.
    pub fn connect_with(global: &GlobalArgs, sim: Option<&Path>) -> Result<Session, SessionError> {
        if global.request_timeout.is_some_and(|t| t.is_zero()) {
            return Err(SessionError::ZeroRequestTimeout);
        }
        let tune = |config: &mut ClientConfig| {
            if let Some(timeout) = global.request_timeout {
                config.timeout = timeout;
            }
        };
        match sim {
            Some(fixture) => {
                if global.host.is_some() {
                    return Err(SessionError::SimWithHost);
                }
                let fixture = (!fixture.as_os_str().is_empty()).then(|| fixture.to_path_buf());
                if global.verbose > 0 {
                    tracing::info!("credentials: the simulator's demo account (--sim)");
                }
                // Rehearsing under the exchange's rate limits: CLOB_SIM_RATE_LIMIT=enforce|warn
                // and CLOB_SIM_TIER=NAME set the in-process simulator's limits.
                let rate_limit = match std::env::var("CLOB_SIM_RATE_LIMIT") {
                    Ok(mode) => Some(mode.parse().map_err(SessionError::SimSetting)?),
                    Err(_) => None,
                };
                let tier = match std::env::var("CLOB_SIM_TIER") {
                    Ok(name) => {
                        name.parse()
                            .map_err(|e: crate::clob::ratelimit::UnknownTier| {
                                SessionError::SimSetting(format!("CLOB_SIM_TIER: {e}"))
                            })?
                    }
                    Err(_) => SimConfig::default().tier,
                };
                Session::simulated_with(
                    SimConfig {
                        port: 0,
                        fixture,
                        rate_limit,
                        tier,
                        ..SimConfig::default()
                    },
                    tune,
                )
            }
            None => {
                // Named before anything is sent, so a half-configured run never starts.
                let settings = resolve_settings(global)?;
                let credentials = settings.credentials;
                let runtime = new_runtime(Some(2))?;
                let client = {
                    let _entered = runtime.enter();
                    let mut config = ClientConfig::new(settings.host, Some(credentials));
                    config.use_server_time = global.server_time;
                    tune(&mut config);
                    Client::new(config)?
                };
                Ok(Session {
                    runtime,
                    client,
                    sim: None,
                })
            }
        }
    }

    /// Starts an in-process simulator with `config` and connects to it with its credentials.
    pub fn simulated(config: SimConfig) -> Result<Session, SessionError> {
        Session::simulated_with(config, |_| {})
    }

    /// [`Session::simulated`], with the client's configuration adjusted by `tune`.
    fn simulated_with(
        config: SimConfig,
        tune: impl FnOnce(&mut ClientConfig),
    ) -> Result<Session, SessionError> {
        let runtime = new_runtime(Some(2))?;
        let metered = config.rate_limit.is_some();
        let sim = runtime.block_on(SimServer::start(config))?;
        let client = {
            let _entered = runtime.enter();
            let mut config = ClientConfig::new(sim.url(), Some(sim.credentials().clone()));
            tune(&mut config);
            Client::new(config)?
        };
        if !metered {
            // This exchange meters nothing: the first cancel goes out in batches of 3000.
            client.assume_unmetered();
        }
        Ok(Session {
            runtime,
            client,
            sim: Some(sim),
        })
    }

    /// The runtime that drives requests (for `block_on` from script threads, and for tasks).
    pub fn handle(&self) -> Handle {
        self.runtime.handle().clone()
    }

    /// Runs a future to completion on the session's runtime (not from inside a runtime task).
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// The shared client (cheap to clone).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The exchange URL in use.
    pub fn host(&self) -> &str {
        self.client.host()
    }

    /// The in-process simulator, when the session was started with `--sim`.
    pub fn sim(&self) -> Option<&SimServer> {
        self.sim.as_ref()
    }

    /// What a script [`Host`](crate::script::Host) needs to reach the exchange.
    pub fn backend(&self) -> Backend {
        Backend {
            client: self.client.clone(),
            handle: self.handle(),
        }
    }

    /// Stops the simulator (if any) cleanly and then the runtime.
    pub fn shutdown(mut self) {
        if let Some(sim) = self.sim.take() {
            self.runtime.block_on(sim.shutdown());
        }
    }
}

/// The host and credentials `global` points at, from exactly one source, which is named at
/// `-v` (never a secret: the source, the API key's first characters and the address).
pub(crate) fn resolve_settings(global: &GlobalArgs) -> Result<Settings, SessionError> {
    let settings = Settings::resolve(
        global.host.clone(),
        Profile::from_env(|name| std::env::var(name).ok()),
        config::config_path(),
        global.profile.as_deref(),
    )?;
    if global.verbose > 0 {
        tracing::info!(
            api_key = %key_prefix(&settings.credentials.api_key),
            address = %settings.credentials.address,
            host = %settings.host,
            "credentials from {}",
            settings.source
        );
        if settings.environment_ignored {
            tracing::info!("POLY_* environment variables ignored: --profile names the source");
        }
    }
    Ok(settings)
}

/// The first eight characters of an API key and an ellipsis: enough to tell keys apart.
pub(crate) fn key_prefix(api_key: &str) -> String {
    let prefix: String = api_key.chars().take(8).collect();
    format!("{prefix}…")
}

/// The async runtime of a command: `workers` threads (default: one per core). A session
/// uses two: the script thread blocks on requests while the workers drive the connection
/// pool, timers, the Ctrl-C listener and (with --sim) the simulator.
pub(crate) fn new_runtime(workers: Option<usize>) -> Result<Runtime, SessionError> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(workers) = workers {
        builder.worker_threads(workers);
    }
    builder
        .thread_name("clobscript-io")
        .enable_all()
        .build()
        .map_err(SessionError::Runtime)
}
