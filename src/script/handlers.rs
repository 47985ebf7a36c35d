//! Handlers for `clobscript watch`: the script registers them while it sets up
//! (`on_fill`, `on_order`, `every`), and the watch loop calls them for each event with
//! [`Host::call_handler`](super::Host::call_handler). Outside a watch the registering functions
//! fail with a message that says where they work.
//!
//! Here too: the values handlers receive (a fill is the trade as `trades()` shows it, an order
//! event the order as `open_orders()` shows it plus `type`), so they match the rest of the API.

use std::sync::Mutex;
use std::time::Duration;

use rhai::plugin::*;
use rhai::{Dynamic, EvalAltResult, FnPtr, Map, NativeCallContext, Position};

use super::convert;
use super::engine::{HostRef, lock};
use crate::clob::types::{OpenOrder, Trade};

/// The shortest interval `every` accepts.
pub const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// A timer handler: `every(interval, handler)`.
#[derive(Clone, Debug)]
pub struct Timer {
    pub interval: Duration,
    pub handler: FnPtr,
}

/// Everything a script registered while it set up, in registration order.
#[derive(Clone, Debug, Default)]
pub struct Handlers {
    pub fills: Vec<FnPtr>,
    pub orders: Vec<FnPtr>,
    pub timers: Vec<Timer>,
}

impl Handlers {
    pub fn is_empty(&self) -> bool {
        self.fills.is_empty() && self.orders.is_empty() && self.timers.is_empty()
    }
}

/// Where a host is in a watch's life.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Phase {
    /// Not a watch (`run`, `schedule`, the REPL, `check`).
    #[default]
    Off,
    /// The script's setup run: handlers may be registered.
    Setup,
    /// Handlers are running; registering more is refused.
    Watching,
}

#[derive(Debug, Default)]
struct State {
    phase: Phase,
    handlers: Handlers,
    stop: Option<String>,
}

/// The host's handler registry (one per host).
#[derive(Debug, Default)]
pub struct Registry {
    state: Mutex<State>,
}

impl Registry {
    /// Opens registration: the script's setup run comes next.
    pub fn begin_setup(&self) {
        let mut state = lock(&self.state);
        state.phase = Phase::Setup;
        state.handlers = Handlers::default();
        state.stop = None;
    }

    /// Closes registration and hands over what was registered.
    pub fn finish_setup(&self) -> Handlers {
        let mut state = lock(&self.state);
        state.phase = Phase::Watching;
        std::mem::take(&mut state.handlers)
    }

    /// The reason given to `stop_watch`, once a handler (or the setup) called it.
    pub fn stop_requested(&self) -> Option<String> {
        lock(&self.state).stop.clone()
    }

    fn register(
        &self,
        function: &str,
        add: impl FnOnce(&mut Handlers),
    ) -> Result<(), Box<EvalAltResult>> {
        let mut state = lock(&self.state);
        match state.phase {
            Phase::Setup => {
                add(&mut state.handlers);
                Ok(())
            }
            Phase::Off => Err(outside_watch(function)),
            Phase::Watching => Err(failure(format!(
                "{function}: handlers are registered while the script sets up (at its top \
                 level), not from inside a handler"
            ))),
        }
    }

    fn stop(&self, reason: String) -> Result<(), Box<EvalAltResult>> {
        let mut state = lock(&self.state);
        if state.phase == Phase::Off {
            return Err(outside_watch("stop_watch"));
        }
        state.stop.get_or_insert(reason);
        Ok(())
    }
}

fn failure(message: String) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(message.into(), Position::NONE).into()
}

fn outside_watch(function: &str) -> Box<EvalAltResult> {
    failure(format!(
        "{function} works only under `clobscript watch SCRIPT`, which runs the script once to \
         register its handlers and then calls them for each event; `run`, `schedule` and the \
         REPL have no events to react to"
    ))
}

fn registry<T>(
    ctx: &NativeCallContext,
    act: impl FnOnce(&Registry) -> Result<T, Box<EvalAltResult>>,
) -> Result<T, Box<EvalAltResult>> {
    let tag = ctx
        .tag()
        .and_then(|tag| tag.read_lock::<HostRef>().map(|r| r.0.clone()))
        .ok_or_else(|| failure("this function needs the clobscript host".into()))?;
    act(&tag.handlers)
}

/// The interval of `every`: a duration such as `"30s"`, `"5m"` or `"250ms"`.
fn interval(text: &str) -> Result<Duration, Box<EvalAltResult>> {
    let parsed = humantime::parse_duration(text.trim()).map_err(|e| {
        failure(format!(
            "every: `{text}` is not a duration ({e}); write e.g. \"30s\", \"5m\" or \"250ms\""
        ))
    })?;
    if parsed < MIN_INTERVAL {
        return Err(failure(format!(
            "every: the interval must be at least {}ms, not `{text}`",
            MIN_INTERVAL.as_millis()
        )));
    }
    Ok(parsed)
}

/// Reacting to the account's events under `clobscript watch SCRIPT`. The script runs once to
/// set up: it registers handlers with the functions below (at its top level), and the watch
/// then calls them, one at a time and in the order the events arrived, with the whole script
/// API. Closures keep their captured variables between calls, so a handler can count fills.
/// A handler's error is logged and the watch goes on (`--max-failures N` stops it after N
/// failures in a row); `--max-cancels`, `--dry-run` and the audit log apply to the whole watch.
/// Outside `watch` these functions fail.
///
/// ```rhai
/// on_fill(|trade| {
///     log_warn(`filled ${trade.size} @ ${trade.price} in ${trade.asset_id}`);
///     cancel_market(#{ asset_id: trade.asset_id });
/// });
/// ```
#[export_module]
pub(crate) mod watch_api {
    use super::*;

    /// Calls `handler(trade)` once for every trade of the account, the first time it is seen
    /// (normally its `MATCHED` event; a trade first read through REST after a reconnect comes
    /// with the status it has by then). Later status events of the same trade (`MINED`,
    /// `CONFIRMED`, `RETRYING`, `FAILED`) do not call it again. `trade` has the fields of
    /// `trades()` plus `source`: `"ws"` (from the user channel) or `"rest"` (read after a
    /// reconnect). Trades matched before the watch started are not passed.
    ///
    /// ```rhai
    /// on_fill(|trade| cancel_market(#{ asset_id: trade.asset_id }));
    /// ```
    #[rhai_fn(volatile, return_raw, global)]
    pub fn on_fill(ctx: NativeCallContext, handler: FnPtr) -> Result<(), Box<EvalAltResult>> {
        registry(&ctx, |registry| {
            registry.register("on_fill", |h| h.fills.push(handler))
        })
    }

    /// Calls `handler(event)` for every change to one of the account's orders: `event` is the
    /// order with the fields of `open_orders()` (its state after the change) plus `type`
    /// (`"PLACEMENT"`, `"UPDATE"` for a fill, `"CANCELLATION"`), `timestamp` (Unix seconds)
    /// and `source` (`"ws"`, or `"rest"` for a change found by comparing the open orders after
    /// a reconnect).
    ///
    /// ```rhai
    /// on_order(|event| if event.type == "CANCELLATION" { log_info(`${event.id} canceled`) });
    /// ```
    #[rhai_fn(volatile, return_raw, global)]
    pub fn on_order(ctx: NativeCallContext, handler: FnPtr) -> Result<(), Box<EvalAltResult>> {
        registry(&ctx, |registry| {
            registry.register("on_order", |h| h.orders.push(handler))
        })
    }

    /// Calls `handler()` every `interval` (e.g. `"30s"`, `"5m"`; at least 10 ms), the first
    /// time one interval after the watch started. A tick that comes while handlers are busy
    /// waits its turn; ticks do not pile up behind a slow handler.
    ///
    /// ```rhai
    /// every("1m", || log_info(`${open_orders().len()} orders open`));
    /// ```
    #[rhai_fn(volatile, return_raw, global)]
    pub fn every(
        ctx: NativeCallContext,
        interval: &str,
        handler: FnPtr,
    ) -> Result<(), Box<EvalAltResult>> {
        let interval = super::interval(interval)?;
        registry(&ctx, |registry| {
            registry.register("every", |h| h.timers.push(Timer { interval, handler }))
        })
    }

    /// Ends the watch once the running handler returns (exit 0): no further handler runs.
    /// The kill-switch playbook calls it after `cancel_all()`.
    #[rhai_fn(name = "stop_watch", volatile, return_raw, global)]
    pub fn stop_watch(ctx: NativeCallContext) -> Result<(), Box<EvalAltResult>> {
        stop_watch_because(ctx, "stop_watch() was called")
    }

    /// Ends the watch once the running handler returns (exit 0), logging `reason`.
    ///
    /// ```rhai
    /// cancel_all();
    /// stop_watch("kill switch: too many fills");
    /// ```
    #[rhai_fn(name = "stop_watch", volatile, return_raw, global)]
    pub fn stop_watch_because(
        ctx: NativeCallContext,
        reason: &str,
    ) -> Result<(), Box<EvalAltResult>> {
        registry(&ctx, |registry| registry.stop(reason.to_owned()))
    }
}

/// Where a handler's event came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Pushed by the user channel.
    Channel,
    /// Read through REST after a reconnect.
    Rest,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Channel => "ws",
            Source::Rest => "rest",
        }
    }
}

/// The value `on_fill` handlers receive.
pub fn fill_value(trade: Trade, source: Source) -> Dynamic {
    let mut map = convert::trade(trade, &mut convert::Interner::default());
    map.insert("source".into(), source.as_str().into());
    Dynamic::from_map(map)
}

/// The value `on_order` handlers receive.
pub fn order_event_value(
    kind: &str,
    order: OpenOrder,
    timestamp_ms: Option<i64>,
    source: Source,
) -> Dynamic {
    let mut map: Map = convert::order(order, &mut convert::Interner::default());
    map.insert("type".into(), kind.into());
    map.insert(
        "timestamp".into(),
        timestamp_ms.map_or(Dynamic::UNIT, |ms| Dynamic::from_int(ms / 1000)),
    );
    map.insert("source".into(), source.as_str().into());
    Dynamic::from_map(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_are_durations_of_at_least_ten_milliseconds() {
        assert_eq!(interval("30s").expect("ok"), Duration::from_secs(30));
        assert_eq!(interval(" 250ms ").expect("ok"), Duration::from_millis(250));
        assert!(interval("1ms").is_err());
        assert!(interval("soon").is_err());
    }

    #[test]
    fn registration_is_open_only_during_setup() {
        let registry = Registry::default();
        assert!(registry.register("on_fill", |_| {}).is_err());
        assert!(registry.stop("x".into()).is_err());
        registry.begin_setup();
        assert!(registry.register("on_fill", |_| {}).is_ok());
        let _ = registry.finish_setup();
        let refused = registry.register("on_fill", |_| {}).unwrap_err();
        assert!(
            refused.to_string().contains("while the script sets up"),
            "{refused}"
        );
        registry
            .stop("first".into())
            .expect("allowed while watching");
        registry
            .stop("second".into())
            .expect("allowed while watching");
        assert_eq!(registry.stop_requested().as_deref(), Some("first"));
    }
}
