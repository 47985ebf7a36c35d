//! What keeps a playbook from doing more than the operator meant: dry run and the
//! `--max-cancels` guard, and the gate every audit record passes through.
//!
//! The guard counts order ids *sent for cancellation* (an id the exchange reports under
//! `not_canceled` still counts): that is the number an operator can bound in advance. A cancel
//! call that would take the run past the limit sends nothing at all and stops the run (exit 4).
//! `cancel_all` and `cancel_market` cannot know their count up front, so while a limit or dry run
//! is active they first list the matching open orders and cancel exactly those ids (an order
//! placed between the listing and the cancel is left alone).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::log::{AuditContext, AuditLog, AuditWriteError};
use super::record::Record;

/// Dry run, the cancel guard and the run's cancel counters.
#[derive(Debug, Default)]
pub(crate) struct Safety {
    dry_run: AtomicBool,
    max_cancels: Option<u64>,
    /// Ids sent (or, in a dry run, that would have been sent) for cancellation so far.
    sent: AtomicU64,
    audit: Option<AuditLog>,
}

impl Safety {
    pub(crate) fn new(dry_run: bool, max_cancels: Option<u64>, audit: Option<AuditLog>) -> Safety {
        Safety {
            dry_run: AtomicBool::new(dry_run),
            max_cancels,
            audit,
            ..Safety::default()
        }
    }

    pub(crate) fn is_dry_run(&self) -> bool {
        self.dry_run.load(Ordering::SeqCst)
    }

    pub(crate) fn set_dry_run(&self, on: bool) {
        self.dry_run.store(on, Ordering::SeqCst);
    }

    pub(crate) fn max_cancels(&self) -> Option<u64> {
        self.max_cancels
    }

    /// Whether cancel-all / cancel-by-market must be turned into explicit ids first.
    pub(crate) fn needs_explicit_ids(&self) -> bool {
        self.is_dry_run() || self.max_cancels.is_some()
    }

    /// Reserves `count` ids against the guard, or explains why the call may not be sent.
    pub(crate) fn reserve(&self, function: &str, count: u64) -> Result<(), String> {
        let Some(limit) = self.max_cancels else {
            self.sent.fetch_add(count, Ordering::SeqCst);
            return Ok(());
        };
        let mut current = self.sent.load(Ordering::SeqCst);
        loop {
            let wanted = current.saturating_add(count);
            if wanted > limit {
                let verb = if self.is_dry_run() {
                    "would have been sent"
                } else {
                    "were sent"
                };
                return Err(format!(
                    "--max-cancels {limit} stopped the run: `{function}` would cancel {count} more \
                     order{} after {current} {verb} for cancellation ({wanted} > {limit}); \
                     nothing from this call was sent",
                    super::plural(count),
                ));
            }
            match self
                .sent
                .compare_exchange(current, wanted, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return Ok(()),
                Err(actual) => current = actual,
            }
        }
    }

    /// The audit log, if this host keeps one.
    pub(crate) fn log(&self) -> Option<&AuditLog> {
        self.audit.as_ref()
    }

    /// The write-ahead rule, in one place: `record` is written and flushed before what it
    /// announces happens, or that does not happen. A host without an audit log writes nothing.
    pub(crate) fn write_ahead(
        &self,
        context: &AuditContext,
        record: &Record<'_>,
    ) -> Result<(), AuditWriteError> {
        match &self.audit {
            Some(log) => log
                .record(context, record)
                .map_err(|source| AuditWriteError {
                    path: log.path().to_owned(),
                    source,
                }),
            None => Ok(()),
        }
    }

    /// Best effort, for an outcome: what it records already happened, so a failed write is
    /// only warned about.
    pub(crate) fn write_after(&self, context: &AuditContext, record: &Record<'_>) {
        if let Err(e) = self.write_ahead(context, record) {
            tracing::warn!("{e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guard_refuses_a_call_that_would_pass_the_limit_and_counts_nothing_for_it() {
        let safety = Safety::new(false, Some(5), None);
        assert!(safety.reserve("cancel_orders", 3).is_ok());
        let message = safety.reserve("cancel_orders", 3).unwrap_err();
        assert_eq!(
            message,
            "--max-cancels 5 stopped the run: `cancel_orders` would cancel 3 more orders after 3 \
             were sent for cancellation (6 > 5); nothing from this call was sent"
        );
        assert!(safety.reserve("cancel", 2).is_ok());
        assert!(safety.reserve("cancel", 1).is_err());
    }
}
