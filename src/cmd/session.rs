//! A connected session, the composition root: the one place that turns the command line into
//! a working exchange connection, for `run`, `repl`, `schedule` and `heartbeat` alike.
//!
//! [`Session::connect`] resolves the host and credentials (flags > `POLY_*`/`CLOB_HOST`
//! environment > config-file profile), reports every missing credential by name before any
//! request is made (exit 2), and builds the one shared [`Client`]. With `--sim [FIXTURE]` it
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

use crate::cli::{CredentialArgs, ExecArgs, GlobalArgs};
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
        Session::connect_with(global, exec.sim.as_deref(), &exec.credentials)
    }

    /// Connects from the pieces `heartbeat` has: an optional `--sim [FIXTURE]` and credential
    /// flags.
    pub fn connect_with(
        global: &GlobalArgs,
        sim: Option<&Path>,
        credentials: &CredentialArgs,
    ) -> Result<Session, SessionError> {
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
                Session::simulated_with(
                    SimConfig {
                        port: 0,
                        fixture,
                        ..SimConfig::default()
                    },
                    tune,
                )
            }
            None => {
                let settings = Settings::resolve(
                    credentials.to_profile(global.host.clone()),
                    Profile::from_env(|name| std::env::var(name).ok()),
                    config::config_path(),
                    global.profile.as_deref(),
                )?;
                // Named before anything is sent, so a half-configured run never starts.
                let credentials = settings.credentials()?;
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
        let sim = runtime.block_on(SimServer::start(config))?;
        let client = {
            let _entered = runtime.enter();
            let mut config = ClientConfig::new(sim.url(), Some(sim.credentials().clone()));
            tune(&mut config);
            Client::new(config)?
        };
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
