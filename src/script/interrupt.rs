//! Stopping a running script from outside: Ctrl-C, `--timeout`, a scheduler shutting down, or a
//! safety guard that fired.
//!
//! One [`Interrupt`] reaches every place a script can spend time: the engine's progress hook
//! (checked between operations, so tight loops stop), every blocked exchange request (raced
//! against [`Interrupt::cancelled`]), and `sleep` (a condition variable wait).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::errors::ScriptError;
use crate::exit::Exit;

/// Why a script was stopped before it finished on its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// Ctrl-C, or the caller (REPL, scheduler) asked the script to stop.
    Interrupted,
    /// The `--timeout` wall-clock limit passed.
    Timeout(Duration),
    /// A safety guard (`--max-cancels`) refused to go on.
    Guard(String),
    /// A script parameter was missing or of the wrong type.
    BadArgument(String),
    /// The audit log could not be written, so what it would have announced was not done.
    AuditLog(String),
}

impl StopReason {
    /// The process exit code for a run stopped this way (see DESIGN.md).
    pub fn exit(&self) -> Exit {
        match self {
            StopReason::Interrupted => Exit::Interrupted,
            // A script that overruns its time budget failed; the scheduler counts it as such.
            StopReason::Timeout(_) => Exit::ScriptFailed,
            StopReason::Guard(_) => Exit::Guard,
            StopReason::BadArgument(_) | StopReason::AuditLog(_) => Exit::Usage,
        }
    }

    /// What happened, in one sentence for the user.
    pub fn message(&self) -> String {
        match self {
            StopReason::Interrupted => {
                "interrupted: the script was stopped before it finished".into()
            }
            StopReason::Timeout(limit) => format!(
                "timed out: the script ran longer than --timeout {} and was stopped",
                humantime::format_duration(*limit)
            ),
            StopReason::Guard(message)
            | StopReason::BadArgument(message)
            | StopReason::AuditLog(message) => message.clone(),
        }
    }
}

/// A cloneable handle that stops a running script, even inside a tight loop, a blocked request
/// or `sleep`. The first reason given wins; [`Interrupt::reset`] re-arms it (the REPL does this
/// before each line).
#[derive(Clone, Debug, Default)]
pub struct Interrupt {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Fast path for the progress hook, which runs between every two operations.
    raised: AtomicBool,
    reason: Mutex<Option<StopReason>>,
    wake: Condvar,
    token: Mutex<CancellationToken>,
}

/// Locks a mutex whose data stays valid even if a holder panicked.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Interrupt {
    /// A handle that has not been triggered.
    pub fn new() -> Interrupt {
        Interrupt::default()
    }

    /// Stops the script for `reason` (ignored if it was already stopped for another reason).
    pub fn trigger(&self, reason: StopReason) {
        let mut current = lock(&self.inner.reason);
        if current.is_none() {
            *current = Some(reason);
        }
        self.inner.raised.store(true, Ordering::SeqCst);
        lock(&self.inner.token).cancel();
        self.inner.wake.notify_all();
    }

    /// Whether the script has been told to stop.
    pub fn is_triggered(&self) -> bool {
        self.inner.raised.load(Ordering::Relaxed)
    }

    /// Why the script was told to stop, if it was.
    pub fn reason(&self) -> Option<StopReason> {
        lock(&self.inner.reason).clone()
    }

    /// The error a finished evaluation ends with although its value came back: a safety guard
    /// or a bad parameter stopped a call that the script then caught with `try`/`catch`.
    pub fn swallowed_stop(&self) -> Option<ScriptError> {
        match self.reason()? {
            reason @ (StopReason::Guard(_)
            | StopReason::BadArgument(_)
            | StopReason::AuditLog(_)) => Some(ScriptError::plain(reason.exit(), reason.message())),
            _ => None,
        }
    }

    /// Re-arms the handle for the next evaluation.
    pub fn reset(&self) {
        let mut reason = lock(&self.inner.reason);
        *reason = None;
        self.inner.raised.store(false, Ordering::SeqCst);
        *lock(&self.inner.token) = CancellationToken::new();
    }

    /// A token that is cancelled when this handle is triggered; race blocking work against it.
    pub fn cancelled(&self) -> CancellationToken {
        lock(&self.inner.token).clone()
    }

    /// Sleeps for `duration` unless triggered first; returns `false` if it was interrupted.
    pub fn sleep(&self, duration: Duration) -> bool {
        let deadline = Instant::now() + duration;
        let mut reason = lock(&self.inner.reason);
        while reason.is_none() {
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            reason = match self.inner.wake.wait_timeout(reason, deadline - now) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_reason_wins_and_reset_rearms() {
        let interrupt = Interrupt::new();
        let token = interrupt.cancelled();
        interrupt.trigger(StopReason::Guard("limit".into()));
        interrupt.trigger(StopReason::Interrupted);
        assert!(interrupt.is_triggered() && token.is_cancelled());
        assert_eq!(interrupt.reason(), Some(StopReason::Guard("limit".into())));
        interrupt.reset();
        assert!(!interrupt.is_triggered() && !interrupt.cancelled().is_cancelled());
        assert_eq!(interrupt.reason(), None);
    }

    #[test]
    fn sleep_wakes_up_when_triggered_from_another_thread() {
        let interrupt = Interrupt::new();
        let other = interrupt.clone();
        let waker = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            other.trigger(StopReason::Interrupted);
        });
        assert!(!interrupt.sleep(Duration::from_secs(600)));
        waker.join().expect("waker thread");
        assert!(Interrupt::new().sleep(Duration::from_millis(1)));
    }
}

/// A wall-clock limit on one evaluation: triggers [`StopReason::Timeout`] on the interrupt
/// unless it is dropped first. Runs on its own thread, so it needs no async runtime; dropping
/// it wakes that thread at once.
#[derive(Debug)]
pub(crate) struct Deadline {
    _done: mpsc::Sender<()>,
}

impl Deadline {
    pub(crate) fn start(interrupt: Interrupt, limit: Duration) -> Deadline {
        let (done, finished) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            if finished.recv_timeout(limit) == Err(mpsc::RecvTimeoutError::Timeout) {
                interrupt.trigger(StopReason::Timeout(limit));
            }
        });
        Deadline { _done: done }
    }
}
