//! clobscript: Rhai playbooks for the Polymarket CLOB order API, with a local simulator.
//!
//! See DESIGN.md (shared) for the contract between modules: `clob` speaks the wire protocol,
//! `sim` serves it, `script` embeds Rhai over `clob`, `repl` and `schedule` drive `script`,
//! `config` resolves credentials, `cli` holds the clap definitions, and `cmd` (the only code
//! that sees them) turns each command's flags into the domain's options and runs it. See
//! ARCHITECTURE.md for the layers.

pub mod cli;
pub mod clob;
pub mod cmd;
pub mod config;
pub mod exit;
pub mod logging;
pub mod repl;
pub mod schedule;
pub mod script;
pub mod sim;
pub mod util;
