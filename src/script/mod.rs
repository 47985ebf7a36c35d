//! The Rhai host: the CLOB API for playbooks, and the pieces `run`, `check`, `docs`, the REPL
//! and the scheduler build on (their commands live in `crate::cmd`).
//!
//! # For `run` and the scheduler
//!
//! [`run_once`] runs one script on a connected [`Backend`] and returns
//! a [`RunOutcome`]: exit code, error, final value as JSON, requests/retries/cancel counts and
//! duration. [`prepare`] + [`PreparedRun::execute`] split the same thing in two, so everything
//! that can fail without an exchange (bad `--arg`, unreadable or uncompilable script, unknown
//! functions, unwritable audit log) is reported before connecting.
//!
//! # For the REPL
//!
//! A [`Host`] is one engine plus shared state (exchange connection, dry-run flag, cancel guard,
//! audit log, counters). Typical use:
//!
//! ```no_run
//! # use clobscript::script::{Backend, Host, RunOptions, SourceText};
//! # fn demo(backend: Backend) -> Result<(), Box<dyn std::error::Error>> {
//! # let options = RunOptions::default();
//! let host = Host::new(options.host_options()?)?; // --arg, --dry-run, --max-cancels, --audit
//! host.connect(backend);
//! let mut scope = host.new_scope(); // keep it: variables survive between lines
//! let script = host.compile_source(SourceText::new("<repl>", "open_orders().len()", None))?;
//! let stop = host.interrupt_handle(); // give this to the Ctrl-C handler
//! let value = host.eval_bounded(&script, &mut scope, None)?; // Some(limit) for --timeout
//! host.clear_interrupt(); // before the next line, in case it was stopped
//! # Ok(()) }
//! ```
//!
//! `fn` definitions live in the AST: to keep them across lines, merge each new line's AST into
//! the previous one ([`Script::ast_mut`], `rhai::AST::combine`). [`Host::functions`] and
//! [`Host::api_areas`] list the API with its help text (the same metadata `docs` prints);
//! [`Host::summary`] reports requests and cancels; [`Host::set_dry_run`] switches dry run.
//!
//! # Errors and exit codes
//!
//! [`ScriptError`] carries the rendered message (file:line:col, the source line, a caret, a
//! hint) and the exit code: 1 run-time failure or `throw` (and `--timeout`), 2 bad script or
//! parameters, 3 exchange failure (the client's typed error decides), 4 a safety guard, 130
//! interrupted.

mod api;
mod args;
mod arrays;
pub mod cancels;
mod check;
mod convert;
mod docs;
mod engine;
mod errors;
mod handlers;
mod interrupt;
mod output;
mod predicate;
mod resolver;
mod rows;
mod run;
mod source;
mod time;
mod values;

pub use args::{ArgError, ScriptArgs};
pub(crate) use cancels::plural;
pub use cancels::{AuditOpenError, AuditTarget, AuditWriteError};
pub(crate) use convert::{ORDER_FIELDS, TRADE_FIELDS};
pub use docs::{AreaDoc, FnDoc};
pub use engine::{Backend, Host, HostOptions, Limits, Script, SourceText, Summary};
pub use errors::ScriptError;
pub(crate) use errors::rhai_type_name;
pub use handlers::{
    Handlers, MIN_INTERVAL, Registry, Source, Timer, fill_value, order_event_value,
};
pub use interrupt::{Interrupt, StopReason};
pub use output::StderrLines;
pub(crate) use output::{render_record, render_table};
pub use run::{Afterwards, PreparedRun, RunOptions, RunOutcome, prepare, run_once};
pub(crate) use values::{as_map, is_record, record_word};
