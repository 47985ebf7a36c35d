//! The cancel path of a script host, in one place. `run`, the REPL and the scheduler all cancel
//! through the script API's functions, so they all share it:
//!
//! | piece | what it holds |
//! | --- | --- |
//! | [`record`] | the audit record: one type for every line, typed [`Phase`]s |
//! | [`log`] | the audit log file, opened once per run, one JSON line per record |
//! | [`guard`] | dry run, `--max-cancels`, and the write-ahead rule (`Safety::write_ahead`) |
//! | [`observer`] | [`observer::RequestLog`]: told by the client before each HTTP request (a `sending` record on disk first) and after its outcome; the counters of the summary; the progress bar |
//! | [`calls`] | the cancel functions behind `cancel`, `cancel_orders`, `cancel_all`, `cancel_market` |
//! | [`dry_run`] | a dry run's listing and the real run's plan |
//! | [`read`] | reading a run back from the log (`clobscript audit`) |
//! | [`reconcile`] | reading the exchange for the ids whose outcome is unknown (`clobscript audit reconcile`) |

mod calls;
pub(crate) mod dry_run;
pub(crate) mod guard;
pub(crate) mod log;
pub(crate) mod observer;
pub mod read;
pub mod reconcile;
pub mod record;

pub(crate) use guard::Safety;
pub(crate) use log::{AuditContext, AuditLog};
pub use log::{AuditOpenError, AuditTarget, AuditWriteError};
pub use record::{Phase, Record};

pub(crate) fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}
