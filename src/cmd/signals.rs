//! The signal policy, in one place. Every command that runs for a while listens before it
//! starts its work, so a signal never reaches the default "die at once" action:
//!
//! - `run`: the first SIGINT/SIGTERM stops the script (exit 130 once it has stopped); a second
//!   one quits at once (130).
//! - `repl`: SIGINT stops the running line; in a piped session with nothing running it ends
//!   the session (130). An idle terminal prompt reads Ctrl-C as a key instead.
//! - `schedule`, `heartbeat`: the first SIGINT/SIGTERM starts no new runs and lets runs in
//!   flight finish within their grace period; a second one interrupts them.
//! - `watch`: the first SIGINT/SIGTERM runs no further handler and lets the running one finish
//!   within its grace period; a second one interrupts it. Either way the watch exits 0.
//! - `sim`: SIGINT/SIGTERM stop the simulator cleanly (exit 0).

use tokio::runtime::Handle;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::task::JoinHandle;

use super::eprint_line;
use crate::exit::Exit;
use crate::repl::{InterruptHook, OnInterrupt, STOPPED};
use crate::schedule::shutdown::Shutdown;
use crate::script::{Interrupt, StopReason};

/// The signals a command listens for. Create inside the runtime (or with it entered).
pub struct Signals {
    interrupt: Signal,
    terminate: Option<Signal>,
}

impl Signals {
    /// SIGINT and SIGTERM.
    pub fn interrupt_and_terminate() -> std::io::Result<Signals> {
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: Some(signal(SignalKind::terminate())?),
        })
    }

    /// SIGINT only (SIGTERM keeps its default action).
    pub fn interrupt_only() -> std::io::Result<Signals> {
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: None,
        })
    }

    /// The next signal's name (`SIGINT` or `SIGTERM`).
    pub async fn next(&mut self) -> &'static str {
        match &mut self.terminate {
            Some(terminate) => tokio::select! {
                _ = self.interrupt.recv() => "SIGINT",
                _ = terminate.recv() => "SIGTERM",
            },
            None => {
                self.interrupt.recv().await;
                "SIGINT"
            }
        }
    }
}

/// `run`: the first signal stops the script through `interrupt`, a second quits at once.
pub fn stop_script(handle: &Handle, interrupt: Interrupt) {
    let _entered = handle.enter();
    let Ok(mut signals) = Signals::interrupt_and_terminate() else {
        tracing::warn!("cannot listen for Ctrl-C; use --timeout to bound the run");
        return;
    };
    handle.spawn(async move {
        signals.next().await;
        interrupt.trigger(StopReason::Interrupted);
        eprint_line("interrupted: stopping the script (press Ctrl-C again to quit at once)");
        signals.next().await;
        std::process::exit(Exit::Interrupted.code());
    });
}

/// `repl`: every SIGINT goes to the session's hook.
pub fn repl(handle: &Handle, hook: InterruptHook) {
    let _entered = handle.enter();
    match Signals::interrupt_only() {
        Ok(mut signals) => {
            handle.spawn(async move {
                loop {
                    signals.next().await;
                    if hook.on_interrupt() == OnInterrupt::Quit {
                        eprint_line(STOPPED);
                        std::process::exit(Exit::Interrupted.code());
                    }
                }
            });
        }
        Err(error) => eprint_line(&format!(
            "warning: cannot listen for Ctrl-C ({error}); use --timeout to bound each line"
        )),
    }
}

/// What a first signal stops, for its message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stopping {
    /// `schedule`: runs, with a grace period for the one in flight.
    Runs,
    /// `heartbeat`: only heartbeats; nothing else runs.
    Heartbeats,
}

/// `schedule`, `heartbeat`: the first signal requests a stop, the second an interrupt. Call
/// from inside the runtime, before the first run or heartbeat.
pub fn scheduler(shutdown: Shutdown, stopping: Stopping) -> std::io::Result<JoinHandle<()>> {
    let mut signals = Signals::interrupt_and_terminate()?;
    Ok(tokio::spawn(async move {
        let name = signals.next().await;
        match stopping {
            Stopping::Runs => tracing::warn!(
                signal = name,
                "{name}: starting no new runs; a run in flight may finish within its grace \
                 period (send it again to interrupt now)"
            ),
            Stopping::Heartbeats => {
                tracing::warn!(signal = name, "{name}: stopping the heartbeats");
            }
        }
        shutdown.request_stop();
        let name = signals.next().await;
        tracing::warn!(signal = name, "{name} again: interrupting runs in flight");
        shutdown.request_interrupt();
    }))
}

/// `watch`: the first signal requests a stop, the second an interrupt. Call from inside the
/// runtime, before the script sets up.
pub fn watcher(shutdown: Shutdown) -> std::io::Result<JoinHandle<()>> {
    let mut signals = Signals::interrupt_and_terminate()?;
    Ok(tokio::spawn(async move {
        let name = signals.next().await;
        tracing::warn!(
            signal = name,
            "{name}: stopping the watch; a running handler may finish within its grace period \
             (send it again to interrupt it now)"
        );
        shutdown.request_stop();
        let name = signals.next().await;
        tracing::warn!(
            signal = name,
            "{name} again: interrupting the running handler"
        );
        shutdown.request_interrupt();
    }))
}

/// `sim`: resolves on the first SIGINT/SIGTERM.
pub async fn until_stopped() {
    match Signals::interrupt_and_terminate() {
        Ok(mut signals) => {
            signals.next().await;
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
