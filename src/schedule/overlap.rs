//! The overlap policy: a job's run never starts while its previous run is still going (like a
//! Kubernetes CronJob with `concurrencyPolicy: Forbid`). [`RunSlot`] holds the one run a job
//! may have in flight.

use std::future::Future;

use chrono::{DateTime, Utc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::outcome::RunReport;
use crate::exit::Exit;

/// A start refused because a run is still going.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Busy {
    /// The number of the run in flight.
    pub run: u64,
}

/// The facts about a run that its record needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunTicket {
    pub run: u64,
    pub scheduled: DateTime<Utc>,
    pub started: DateTime<Utc>,
}

#[derive(Debug)]
struct InFlight {
    ticket: RunTicket,
    interrupt: CancellationToken,
    interrupted: bool,
    task: JoinHandle<RunReport>,
}

/// One job's run slot: empty, or holding the run in flight.
#[derive(Debug, Default)]
pub struct RunSlot {
    current: Option<InFlight>,
}

impl RunSlot {
    pub fn new() -> RunSlot {
        RunSlot::default()
    }

    /// The run in flight, if any.
    pub fn busy(&self) -> Option<Busy> {
        self.current.as_ref().map(|f| Busy { run: f.ticket.run })
    }

    /// Starts a run unless one is in flight. `run` receives the token that asks it to stop.
    pub fn try_start<F, Fut>(&mut self, ticket: RunTicket, run: F) -> Result<(), Busy>
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future<Output = RunReport> + Send + 'static,
    {
        if let Some(busy) = self.busy() {
            return Err(busy);
        }
        let interrupt = CancellationToken::new();
        let task = tokio::spawn(run(interrupt.clone()));
        self.current = Some(InFlight {
            ticket,
            interrupt,
            interrupted: false,
            task,
        });
        Ok(())
    }

    /// Asks the run in flight to stop.
    pub fn interrupt(&mut self) {
        if let Some(f) = self.current.as_mut() {
            f.interrupted = true;
            f.interrupt.cancel();
        }
    }

    /// Waits for the run in flight to end and empties the slot; never resolves when empty.
    /// The flag says whether the run had been interrupted.
    pub async fn finished(&mut self) -> (RunTicket, RunReport, bool) {
        let Some(f) = self.current.as_mut() else {
            return std::future::pending().await;
        };
        let report = match (&mut f.task).await {
            Ok(report) => report,
            Err(e) => RunReport::failed(
                Exit::ScriptFailed,
                format!("the run stopped abnormally: {e}"),
            ),
        };
        let ticket = f.ticket;
        let interrupted = f.interrupted;
        self.current = None;
        (ticket, report, interrupted)
    }

    /// Gives up on a run that ignored its interrupt: it is detached and the slot emptied.
    pub fn abandon(&mut self) -> Option<RunTicket> {
        self.current.take().map(|f| {
            f.task.abort();
            f.ticket
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::outcome::Outcome;

    fn ticket(run: u64) -> RunTicket {
        let t = Utc::now();
        RunTicket {
            run,
            scheduled: t,
            started: t,
        }
    }

    #[tokio::test]
    async fn a_second_start_while_the_first_runs_is_refused_naming_it() {
        let mut slot = RunSlot::new();
        let gate = CancellationToken::new();
        let open = gate.clone();
        slot.try_start(ticket(1), move |_| async move {
            open.cancelled().await;
            RunReport::ok(1, 0)
        })
        .expect("idle slot starts");
        let refused = slot.try_start(ticket(2), |_| async { RunReport::ok(0, 0) });
        assert_eq!(refused, Err(Busy { run: 1 }));
        gate.cancel();
        let (done, report, interrupted) = slot.finished().await;
        assert_eq!(
            (done.run, report.outcome, interrupted),
            (1, Outcome::Ok, false)
        );
        assert_eq!(slot.busy(), None);
        slot.try_start(ticket(2), |_| async { RunReport::ok(0, 0) })
            .expect("free again");
    }

    #[tokio::test]
    async fn interrupt_reaches_the_run_and_is_reported() {
        let mut slot = RunSlot::new();
        slot.try_start(ticket(1), |stop| async move {
            stop.cancelled().await;
            RunReport::interrupted("stopped")
        })
        .expect("starts");
        slot.interrupt();
        let (_, report, interrupted) = slot.finished().await;
        assert!(interrupted);
        assert_eq!(report.outcome, Outcome::Interrupted);
    }

    #[tokio::test]
    async fn a_panicking_run_is_a_failed_run_not_a_dead_scheduler() {
        let mut slot = RunSlot::new();
        slot.try_start(ticket(1), |_| async { panic!("boom") })
            .expect("starts");
        let (_, report, _) = slot.finished().await;
        assert_eq!(report.outcome, Outcome::Error);
        assert_eq!(report.exit, Exit::ScriptFailed);
    }
}
