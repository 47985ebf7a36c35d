//! `clobscript watch`'s event loop: the script runs once to set up and register its handlers,
//! then the handlers run for each event of the account's user channel, one at a time, in the
//! order the events arrived.
//!
//! Three kinds of task feed one queue, and the calling thread (never a runtime worker: the
//! script API blocks on the runtime) takes items off it and runs the handlers:
//! - the user channel ([`crate::clob::user_channel::run`]), whose notices pass through the
//!   [`tracker::Tracker`]: after every (re)connection it reads what was missed through REST
//!   before the connection's own events, and it hands each trade on once;
//! - one timer per `every(...)`, which never queues a tick while its previous one waits;
//! - the stop: on the shutdown's first level no further handler starts, and the running one
//!   may finish within the grace period (the second level, or the end of the grace, interrupts
//!   it through the host's interrupt, so its cancels end on the normal cancel path).
//!
//! The watch ends on a stop (exit 0), `stop_watch()` (exit 0), `--max-failures` handler
//! failures in a row (exit 1), a safety guard (exit 4, like `run`), or the channel refusing
//! the credentials (exit 3). Every handler shares the one host: `--max-cancels`, dry run and
//! the audit log apply to the whole watch.

mod tracker;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rhai::{Dynamic, FnPtr};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio_util::sync::CancellationToken;

use super::shutdown::Shutdown;
use crate::clob::types::Trade;
use crate::clob::user_channel::{self, ChannelConfig, ChannelEvent, Notice, OrderEvent};
use crate::clob::{Client, ClobError};
use crate::exit::Exit;
use crate::script::{
    Backend, Handlers, Host, Script, ScriptError, Source, StopReason, fill_value, order_event_value,
};
use tracker::{Follow, Tracker};

/// How a watch runs.
#[derive(Clone, Debug)]
pub struct WatchPlan {
    /// The user channel to subscribe to.
    pub channel: ChannelConfig,
    /// Stop (exit 1) after this many handler failures in a row.
    pub max_failures: Option<u64>,
    /// `--timeout`: a bound on the setup run and on each handler run.
    pub timeout: Option<Duration>,
    /// How long a running handler may go on after a stop request.
    pub grace: Duration,
}

/// Why a watch could not start.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The setup run failed (its error renders itself).
    #[error("{}", .0.rendered())]
    Setup(ScriptError),
    #[error(
        "{script} registered no handler: call on_fill(|trade| …), on_order(|event| …) or \
         every(\"30s\", || …) at its top level"
    )]
    NoHandlers { script: String },
    #[error("cannot read the account's trades and orders to start from: {0}")]
    Baseline(#[source] ClobError),
}

impl WatchError {
    pub fn exit(&self) -> Exit {
        match self {
            WatchError::Setup(error) => error.exit(),
            WatchError::NoHandlers { .. } => Exit::Usage,
            WatchError::Baseline(error) => error.exit(),
        }
    }
}

/// Why a watch ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WatchEnd {
    /// SIGINT/SIGTERM (the shutdown's stop).
    Stopped,
    /// A handler (or the setup) called `stop_watch`.
    StopWatch(String),
    /// `--max-failures` handler failures in a row.
    TooManyFailures(u64),
    /// A safety guard (`--max-cancels`, an unwritable audit log) stopped a handler.
    Guard(String),
    /// The user channel refused the subscription.
    Refused(String),
}

impl WatchEnd {
    pub fn exit(&self) -> Exit {
        match self {
            WatchEnd::Stopped | WatchEnd::StopWatch(_) => Exit::Success,
            WatchEnd::TooManyFailures(_) => Exit::ScriptFailed,
            WatchEnd::Guard(_) => Exit::Guard,
            WatchEnd::Refused(_) => Exit::Api,
        }
    }

    /// In one sentence.
    pub fn describe(&self) -> String {
        match self {
            WatchEnd::Stopped => "stopped".into(),
            WatchEnd::StopWatch(reason) => format!("stopped by stop_watch: {reason}"),
            WatchEnd::TooManyFailures(n) => {
                format!("stopped by --max-failures ({n} handler failures in a row)")
            }
            WatchEnd::Guard(message) => format!("stopped by a safety guard: {message}"),
            WatchEnd::Refused(message) => message.clone(),
        }
    }
}

/// What a watch did.
#[derive(Clone, Debug)]
pub struct WatchReport {
    pub end: WatchEnd,
    /// Trades handed to `on_fill` handlers.
    pub fills: u64,
    /// Order events handed to `on_order` handlers.
    pub order_events: u64,
    /// Timer ticks run.
    pub ticks: u64,
    /// Handler runs that failed.
    pub failures: u64,
    /// Connections the channel made (a reconnect adds one).
    pub connections: u64,
    pub duration: Duration,
}

impl WatchReport {
    fn stopped(duration: Duration) -> WatchReport {
        WatchReport {
            end: WatchEnd::Stopped,
            fills: 0,
            order_events: 0,
            ticks: 0,
            failures: 0,
            connections: 0,
            duration,
        }
    }

    pub fn exit(&self) -> Exit {
        self.end.exit()
    }

    /// `watch stopped after 12.30s: 4 fills, 9 order events, 2 ticks, 0 handler failures, 1 connection`.
    pub fn summary_line(&self) -> String {
        let plural =
            |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        format!(
            "watch {} after {:.2}s: {}, {}, {}, {}, {}",
            self.end.describe(),
            self.duration.as_secs_f64(),
            plural(self.fills, "fill", "fills"),
            plural(self.order_events, "order event", "order events"),
            plural(self.ticks, "tick", "ticks"),
            plural(self.failures, "handler failure", "handler failures"),
            plural(self.connections, "connection", "connections"),
        )
    }
}

/// One thing for the script thread to do.
enum Item {
    Fill(Box<Trade>, Source),
    Order(Box<OrderEvent>, Source),
    Tick(usize),
    Connected,
    Refused(String),
    Stop,
}

/// Runs `script` to set up, then its handlers until the watch ends. Call from a thread that is
/// not a runtime worker; `backend.handle` drives the channel, the timers and the requests.
pub fn watch(
    host: &Host,
    script: &Script,
    backend: Backend,
    plan: &WatchPlan,
    shutdown: &Shutdown,
) -> Result<WatchReport, WatchError> {
    let started = Instant::now();
    let handle = backend.handle.clone();
    let client = backend.client.clone();
    host.connect(backend);
    let stop = CancellationToken::new();
    // Every task of this watch ends with it, however it returns.
    let _stop_on_return = stop.clone().drop_guard();
    let (items, mut queue) = unbounded_channel();
    let _entered = handle.enter();
    // Before the setup, so a stop during it is honoured (and a long setup interrupted).
    spawn_stop(shutdown, host, &items, &stop, plan.grace);
    host.handlers().begin_setup();
    let mut scope = host.new_scope();
    let setup = host.eval_bounded(script, &mut scope, plan.timeout);
    let handlers = host.handlers().finish_setup();
    let _setup_value = setup.map_err(WatchError::Setup)?;
    if handlers.is_empty() {
        return Err(WatchError::NoHandlers {
            script: script.source().name.clone(),
        });
    }
    let mut report = WatchReport::stopped(Duration::ZERO);
    if let Some(reason) = host.handlers().stop_requested() {
        report.end = WatchEnd::StopWatch(reason);
        report.duration = started.elapsed();
        return Ok(report);
    }
    let follow = Follow {
        trades: !handlers.fills.is_empty(),
        orders: !handlers.orders.is_empty(),
    };
    let tracker = match handle.block_on(Tracker::baseline(&client, follow, &plan.channel.markets)) {
        Ok(tracker) => tracker,
        Err(error) => return Err(WatchError::Baseline(error)),
    };
    if follow.trades || follow.orders {
        tracing::info!(url = %plan.channel.url, "user channel: connecting");
        let (notices, incoming) = unbounded_channel();
        let channel = plan.channel.clone();
        let refused = items.clone();
        let channel_stop = stop.clone();
        tokio::spawn(async move {
            if let Err(error) = user_channel::run(channel, notices, channel_stop).await {
                let _ = refused.send(Item::Refused(error.to_string()));
            }
        });
        tokio::spawn(feed(client, tracker, incoming, items.clone(), stop.clone()));
    }
    let pending = start_timers(&handlers, &items, &stop);
    drop(items);

    let mut failures_in_a_row = 0;
    while let Some(item) = queue.blocking_recv() {
        if shutdown.is_stopping() {
            break;
        }
        let (what, list, value): (&str, &[FnPtr], Option<Dynamic>) = match item {
            Item::Stop => break,
            Item::Refused(message) => {
                report.end = WatchEnd::Refused(message);
                break;
            }
            Item::Connected => {
                report.connections += 1;
                continue;
            }
            Item::Fill(trade, source) => {
                report.fills += 1;
                ("on_fill", &handlers.fills, Some(fill_value(*trade, source)))
            }
            Item::Order(event, source) => {
                report.order_events += 1;
                let value =
                    order_event_value(event.kind.as_str(), event.order, event.timestamp_ms, source);
                ("on_order", &handlers.orders, Some(value))
            }
            Item::Tick(index) => {
                pending[index].store(false, Ordering::SeqCst);
                report.ticks += 1;
                (
                    "every",
                    std::slice::from_ref(&handlers.timers[index].handler),
                    None,
                )
            }
        };
        let mut ended = None;
        for handler in list {
            let args = value.iter().cloned().collect();
            match host.call_handler(script, handler, args, plan.timeout) {
                Ok(_) => failures_in_a_row = 0,
                Err(error) => {
                    if let Some(end) = failed(host, shutdown, what, &error) {
                        ended = Some(end);
                        break;
                    }
                    report.failures += 1;
                    failures_in_a_row += 1;
                    if plan
                        .max_failures
                        .is_some_and(|max| failures_in_a_row >= max)
                    {
                        ended = Some(WatchEnd::TooManyFailures(failures_in_a_row));
                        break;
                    }
                }
            }
            if let Some(reason) = host.handlers().stop_requested() {
                ended = Some(WatchEnd::StopWatch(reason));
                break;
            }
        }
        if let Some(end) = ended {
            report.end = end;
            break;
        }
    }
    stop.cancel();
    if matches!(report.end, WatchEnd::StopWatch(_)) {
        tracing::warn!("{}", report.end.describe());
    }
    report.duration = started.elapsed();
    Ok(report)
}

/// What a handler's failure means: `Some` when it ends the watch (a guard, a stop), `None` when
/// it is logged and the watch goes on.
fn failed(host: &Host, shutdown: &Shutdown, what: &str, error: &ScriptError) -> Option<WatchEnd> {
    let interrupt = host.interrupt_handle();
    match interrupt.reason() {
        Some(StopReason::Guard(message)) => return Some(WatchEnd::Guard(message)),
        Some(StopReason::Interrupted) if shutdown.is_stopping() => {
            tracing::warn!("{what} handler interrupted by the stop");
            return Some(WatchEnd::Stopped);
        }
        _ => {}
    }
    if error.exit() == Exit::Guard {
        return Some(WatchEnd::Guard(error.rendered().to_owned()));
    }
    tracing::error!(
        "{what} handler failed; the watch goes on:\n{}",
        error.rendered()
    );
    // A timeout (or a bad parameter) stopped only this handler: re-arm for the next one.
    host.clear_interrupt();
    None
}

/// One task per `every(...)`. A tick is queued only when the previous one has been taken.
fn start_timers(
    handlers: &Handlers,
    items: &UnboundedSender<Item>,
    stop: &CancellationToken,
) -> Vec<Arc<AtomicBool>> {
    handlers
        .timers
        .iter()
        .enumerate()
        .map(|(index, timer)| {
            let pending = Arc::new(AtomicBool::new(false));
            let flag = pending.clone();
            let items = items.clone();
            let stop = stop.clone();
            let interval = timer.interval;
            tokio::spawn(async move {
                let start = tokio::time::Instant::now() + interval;
                let mut ticks = tokio::time::interval_at(start, interval);
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tokio::select! {
                        () = stop.cancelled() => return,
                        _ = ticks.tick() => {}
                    }
                    if !flag.swap(true, Ordering::SeqCst) && items.send(Item::Tick(index)).is_err()
                    {
                        return;
                    }
                }
            });
            pending
        })
        .collect()
}

/// On the shutdown's stop: no further handler, and the running one interrupted after `grace`
/// (or at once on the second signal).
fn spawn_stop(
    shutdown: &Shutdown,
    host: &Host,
    items: &UnboundedSender<Item>,
    stop: &CancellationToken,
    grace: Duration,
) {
    let shutdown = shutdown.clone();
    let interrupt = host.interrupt_handle();
    let items = items.clone();
    let done = stop.clone();
    tokio::spawn(async move {
        tokio::select! {
            () = done.cancelled() => return,
            () = shutdown.stopping() => {}
        }
        let _ = items.send(Item::Stop);
        tokio::select! {
            () = done.cancelled() => return,
            () = shutdown.interrupting() => {}
            () = tokio::time::sleep(grace) => {}
        }
        interrupt.trigger(StopReason::Interrupted);
    });
}

/// The channel's notices, through the tracker, onto the queue: after every connection the
/// catch-up first (retried until it succeeds or the watch stops), then the connection's events.
async fn feed(
    client: Client,
    mut tracker: Tracker,
    mut notices: UnboundedReceiver<Notice>,
    items: UnboundedSender<Item>,
    stop: CancellationToken,
) {
    let send = |item: Item| items.send(item).is_ok();
    loop {
        let notice = tokio::select! {
            () = stop.cancelled() => return,
            notice = notices.recv() => notice,
        };
        let Some(notice) = notice else { return };
        let delivered = match notice {
            Notice::Connected { connection } => {
                if connection == 1 {
                    tracing::info!("user channel: connected");
                } else {
                    tracing::warn!(
                        connection,
                        "user channel: reconnected; reading what was missed through REST"
                    );
                }
                if !send(Item::Connected) {
                    return;
                }
                let Some(missed) = catch_up(&client, &mut tracker, &stop).await else {
                    return;
                };
                if connection > 1 || !missed.trades.is_empty() || !missed.orders.is_empty() {
                    tracing::info!(
                        "user channel: caught up ({} missed trade{}, {} order change{})",
                        missed.trades.len(),
                        if missed.trades.len() == 1 { "" } else { "s" },
                        missed.orders.len(),
                        if missed.orders.len() == 1 { "" } else { "s" },
                    );
                }
                missed
                    .trades
                    .into_iter()
                    .all(|trade| send(Item::Fill(Box::new(trade), Source::Rest)))
                    && missed
                        .orders
                        .into_iter()
                        .all(|event| send(Item::Order(Box::new(event), Source::Rest)))
            }
            Notice::Event(event) => match *event {
                ChannelEvent::Trade(event) => match tracker.trade(event.trade) {
                    Some(trade) => send(Item::Fill(Box::new(trade), Source::Channel)),
                    None => true,
                },
                ChannelEvent::Order(event) => match tracker.order(event) {
                    Some(event) => send(Item::Order(Box::new(event), Source::Channel)),
                    None => true,
                },
            },
            Notice::Disconnected { reason, retry_in } => {
                tracing::warn!(
                    "user channel: disconnected ({reason}); reconnecting in {}",
                    humantime::format_duration(round_to_millis(retry_in))
                );
                true
            }
        };
        if !delivered {
            return;
        }
    }
}

fn round_to_millis(duration: Duration) -> Duration {
    Duration::from_millis(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX))
}

/// The catch-up, retried every second until it succeeds; `None` if the watch stopped first.
async fn catch_up(
    client: &Client,
    tracker: &mut Tracker,
    stop: &CancellationToken,
) -> Option<tracker::Missed> {
    loop {
        match tracker.catch_up(client).await {
            Ok(missed) => return Some(missed),
            Err(error) => {
                tracing::error!(
                    "user channel: cannot read what was missed ({error}); retrying in 1s"
                );
                tokio::select! {
                    () = stop.cancelled() => return None,
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    }
}
