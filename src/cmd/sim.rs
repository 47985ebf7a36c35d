//! `clobscript sim`.

use std::io::Write as _;

use super::session::new_runtime;
use super::{CommandError, CommandResult, eprint_line, signals};
use crate::cli::SimArgs;
use crate::clob::{Credentials, Secret};
use crate::exit::Exit;
use crate::sim::{SimConfig, SimServer, demo_credentials, ready_lines};

/// The configuration of `clobscript sim` flags; credential flags left out fall back to the
/// demo credentials one by one.
pub fn config_from_args(args: &SimArgs) -> SimConfig {
    let demo = demo_credentials();
    SimConfig {
        port: args.port,
        orders: args.orders,
        open_orders: args.open_orders,
        seed: args.seed,
        fixture: args.fixture.clone(),
        credentials: Credentials {
            api_key: args.api_key.clone().unwrap_or(demo.api_key),
            secret: args.secret.clone().map_or(demo.secret, Secret::new),
            passphrase: args.passphrase.clone().map_or(demo.passphrase, Secret::new),
            address: args.address.clone().unwrap_or(demo.address),
        },
        page_size: args.page_size,
        latency: args.latency,
        fail_rate: args.fail_rate,
        rate_limit: args.rate_limit,
        tier: args.tier,
        heartbeat_timeout: args.heartbeat_timeout,
        auth_window: args.auth_window,
        clock_offset: 0,
        fills: args.fills,
        ..SimConfig::default()
    }
}

/// `clobscript sim`: serves until SIGINT/SIGTERM, then stops cleanly (exit 0). A bad fixture or
/// a busy port is a usage error (exit 2).
pub fn sim(args: &SimArgs) -> CommandResult {
    let config = config_from_args(args);
    let runtime = new_runtime(None)?;
    runtime.block_on(async move {
        let server = SimServer::start(config)
            .await
            .map_err(|error| CommandError::new(Exit::Usage, error))?;
        if let Some(given) = &args.api_key
            && server.accounts().iter().all(|a| &a.api_key != given)
        {
            eprint_line(&format!(
                "warning: the fixture lists its own accounts, so --api-key {given} is not accepted"
            ));
        }
        let mut stdout = std::io::stdout().lock();
        for line in ready_lines(&server) {
            let _ = writeln!(stdout, "{line}");
        }
        let _ = stdout.flush();
        drop(stdout);
        signals::until_stopped().await;
        server.shutdown().await;
        Ok(Exit::Success)
    })
}
