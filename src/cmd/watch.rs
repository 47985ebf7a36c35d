//! `clobscript watch`: a playbook's handlers on the account's user channel.

use super::session::{Session, SessionError};
use super::{CommandError, CommandResult, eprint_line, exec, signals};
use crate::cli::{GlobalArgs, WatchArgs};
use crate::clob::user_channel::{self, ChannelConfig};
use crate::exit::Exit;
use crate::schedule::heartbeat::{self, Heartbeat, HeartbeatConfig};
use crate::schedule::shutdown::Shutdown;
use crate::schedule::watch::{self, WatchError, WatchPlan};
use crate::schedule::{self, DEFAULT_GRACE};
use crate::script;
use crate::sim::SimConfig;

fn usage(message: impl std::fmt::Display) -> CommandError {
    CommandError::new(Exit::Usage, message)
}

/// The flags that need no exchange, checked first.
fn check_flags(args: &WatchArgs) -> Result<Option<HeartbeatConfig>, CommandError> {
    if let Some(url) = &args.ws_url {
        user_channel::check_url(url).map_err(|e| usage(format_args!("--ws-url {e}")))?;
    }
    if args.max_failures == Some(0) {
        return Err(usage("--max-failures must be at least 1"));
    }
    if args.sim_fills.is_some_and(|interval| interval.is_zero()) {
        return Err(usage("--sim-fills must be longer than zero"));
    }
    let interval = args
        .heartbeat_interval
        .unwrap_or(heartbeat::DEFAULT_INTERVAL);
    if interval.is_zero() {
        return Err(usage(schedule::SetupError::ZeroHeartbeatInterval));
    }
    if args.heartbeat {
        schedule::warn_if_heartbeat_too_slow("a heartbeat interval", interval);
    }
    Ok(args.heartbeat.then(|| HeartbeatConfig::every(interval)))
}

/// `--sim [FIXTURE]` with `--sim-fills`, or the ordinary session.
fn connect(global: &GlobalArgs, args: &WatchArgs) -> Result<Session, SessionError> {
    match (&args.exec.sim, args.sim_fills) {
        (Some(fixture), Some(fills)) => {
            if global.host.is_some() {
                return Err(SessionError::SimWithHost);
            }
            let fixture = (!fixture.as_os_str().is_empty()).then(|| fixture.clone());
            Session::simulated(SimConfig {
                port: 0,
                fixture,
                fills: Some(fills),
                ..SimConfig::default()
            })
        }
        _ => Session::connect(global, &args.exec),
    }
}

/// `clobscript watch`: checks everything that needs no exchange, connects, runs the script to
/// set up, then its handlers until a signal (exit 0), `stop_watch()` (0), `--max-failures`
/// (1), a safety guard (4) or a refused subscription (3).
/// The `--market` ids, each once; a blank one is refused.
fn markets(given: &[String]) -> Result<Vec<String>, CommandError> {
    let mut markets: Vec<String> = Vec::with_capacity(given.len());
    for market in given {
        let market = market.trim();
        if market.is_empty() {
            return Err(usage(
                "--market needs a condition id (0x…), not an empty string",
            ));
        }
        if !markets.iter().any(|m| m.eq_ignore_ascii_case(market)) {
            markets.push(market.to_owned());
        }
    }
    Ok(markets)
}

pub fn watch(global: &GlobalArgs, args: &WatchArgs) -> CommandResult {
    let heartbeat = check_flags(args)?;
    let markets = markets(&args.markets)?;
    let options = exec::run_options(args.script.clone(), &args.exec);
    let prepared = script::prepare(&options, None)?;
    let session = connect(global, args)?;
    let Some(credentials) = session.client().config().credentials.clone() else {
        return Err(usage("the user channel needs API credentials"));
    };
    let url = match (&args.ws_url, session.sim()) {
        (Some(url), _) => url.trim().to_owned(),
        (None, Some(sim)) => sim.ws_url(),
        (None, None) => user_channel::DEFAULT_URL.to_owned(),
    };
    let mut channel = ChannelConfig::new(url, credentials);
    channel.markets = markets;
    let plan = WatchPlan {
        channel,
        max_failures: args.max_failures,
        timeout: args.exec.timeout,
        grace: args.grace.unwrap_or(DEFAULT_GRACE),
    };
    let (host, script, _) = prepared.into_parts();
    let shutdown = Shutdown::new();
    let listener = {
        let _entered = session.handle().enter();
        signals::watcher(shutdown.clone())
            .map_err(|e| usage(format_args!("cannot listen for SIGINT/SIGTERM: {e}")))?
    };
    let heartbeat_stop = tokio_util::sync::CancellationToken::new();
    let heartbeat = match heartbeat {
        Some(config) => {
            let started = session.block_on(Heartbeat::start(session.client().clone(), config));
            let beating = started.map_err(|e| CommandError::new(Exit::Api, e))?;
            Some(
                session
                    .handle()
                    .spawn(beating.keep_alive(heartbeat_stop.clone())),
            )
        }
        None => None,
    };
    let result = watch::watch(&host, &script, session.backend(), &plan, &shutdown);
    heartbeat_stop.cancel();
    if let Some(task) = heartbeat {
        let _ = session.block_on(task);
    }
    listener.abort();
    let exit = match result {
        Ok(report) => {
            eprint_line(&format!(
                "{}; {}",
                report.summary_line(),
                host.summary().describe()
            ));
            report.exit()
        }
        Err(WatchError::Setup(error)) => {
            eprint_line(error.rendered());
            eprint_line(&format!(
                "the setup run failed; nothing was watched: {}",
                host.summary().describe()
            ));
            error.exit()
        }
        Err(error) => {
            session.shutdown();
            return Err(CommandError::new(error.exit(), error));
        }
    };
    session.shutdown();
    Ok(exit)
}
