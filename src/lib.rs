//! clobscript: Rhai playbooks for the Polymarket CLOB order API, with a local simulator.
//!
//! See DESIGN.md (shared) for the contract between modules: `clob` speaks the wire protocol,
//! `sim` serves it, `script` embeds Rhai over `clob`, `repl` and `schedule` drive `script`,
//! `config` resolves credentials, and `cli` only parses and dispatches.

pub mod cli;
pub mod clob;
pub mod config;
pub mod exit;
pub mod logging;
pub mod repl;
pub mod schedule;
pub mod script;
pub mod session;
pub mod sim;
