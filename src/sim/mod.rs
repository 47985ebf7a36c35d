//! The local CLOB simulator (skeleton: the public interface `--sim`, tests and benchmarks use;
//! the server itself is being written in the simulator issue).

use std::path::PathBuf;
use std::time::Duration;

use crate::cli::SimArgs;
use crate::clob::{Credentials, Secret};
use crate::exit::Exit;

/// The demo credentials `--sim` and a plain `clobscript sim` accept.
pub fn demo_credentials() -> Credentials {
    Credentials {
        api_key: "00000000-0000-4000-8000-00000000demo".to_owned(),
        secret: Secret::new("c2ltdWxhdG9yLWRlbW8tc2VjcmV0LTMyLWJ5dGVzISE="),
        passphrase: Secret::new("demo-passphrase"),
        address: "0x00000000000000000000000000000000000de300".to_owned(),
    }
}

/// Everything that shapes a simulator run.
#[derive(Clone, Debug)]
pub struct SimConfig {
    pub port: u16,
    pub orders: usize,
    pub seed: u64,
    pub fixture: Option<PathBuf>,
    pub credentials: Credentials,
    pub page_size: usize,
    pub latency: Option<Duration>,
    pub fail_rate: f64,
    pub rate_limit: bool,
    pub heartbeat_timeout: Duration,
    pub auth_window: Duration,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            port: 0,
            orders: 3000,
            seed: 1,
            fixture: None,
            credentials: demo_credentials(),
            page_size: crate::clob::DEFAULT_PAGE_SIZE,
            latency: None,
            fail_rate: 0.0,
            rate_limit: false,
            heartbeat_timeout: Duration::from_secs(10),
            auth_window: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("the simulator is not implemented yet")]
    NotImplemented,
}

/// A running simulator on a loopback port.
#[derive(Debug)]
pub struct SimServer {
    url: String,
    credentials: Credentials,
}

impl SimServer {
    /// Binds 127.0.0.1:`config.port` (0 = any free port), loads or generates the state, and
    /// serves in the background on the current tokio runtime.
    pub async fn start(_config: SimConfig) -> Result<SimServer, SimError> {
        Err(SimError::NotImplemented)
    }
    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }
    /// The credentials of the simulator's primary account.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }
    /// The current status of an order (`LIVE`, `CANCELED`, …), for tests to check state.
    pub fn order_status(&self, _id: &str) -> Option<String> {
        None
    }
    /// Ids of the primary account's open orders, in listing order.
    pub fn open_order_ids(&self) -> Vec<String> {
        Vec::new()
    }
    /// Requests served so far (every endpoint, including failed ones).
    pub fn requests_served(&self) -> u64 {
        0
    }
    /// Stops serving and waits for the server task to end.
    pub async fn shutdown(self) {}
}

pub fn command(_args: SimArgs) -> Exit {
    eprintln!("clobscript: `sim` is not available in this build yet");
    Exit::Usage
}
