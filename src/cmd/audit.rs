//! `clobscript audit` and `clobscript audit reconcile`: what a run did, read back from the audit
//! log, and the unknown outcomes settled by reading the exchange.

use std::io::Write as _;
use std::path::PathBuf;

use super::session::Session;
use super::{CommandError, CommandResult};
use crate::cli::{AuditAction, AuditArgs, AuditSelect, GlobalArgs};
use crate::exit::Exit;
use crate::script::AuditTarget;
use crate::script::cancels::read::{self, ReadError};
use crate::script::cancels::reconcile::{self, ReconcileError};

/// `clobscript audit [reconcile]`.
pub fn audit(global: &GlobalArgs, args: &AuditArgs) -> CommandResult {
    match &args.action {
        None => show(&args.select),
        Some(AuditAction::Reconcile(select)) => settle(global, &merged(&args.select, select)),
    }
}

/// `audit --run X reconcile` and `audit reconcile --run X` mean the same.
fn merged(outer: &AuditSelect, inner: &AuditSelect) -> AuditSelect {
    AuditSelect {
        run: inner.run.clone().or_else(|| outer.run.clone()),
        json: inner.json || outer.json,
        audit: inner.audit.clone().or_else(|| outer.audit.clone()),
    }
}

fn log_path(select: &AuditSelect) -> PathBuf {
    select.audit.clone().unwrap_or_else(|| {
        AuditTarget::Default
            .path()
            .unwrap_or_else(|| PathBuf::from("audit.jsonl"))
    })
}

fn read_failed(error: &ReadError) -> CommandError {
    CommandError::new(Exit::Usage, error)
}

fn print(text: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{}", text.trim_end());
}

fn json(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

fn show(select: &AuditSelect) -> CommandResult {
    let report =
        read::read_run(&log_path(select), select.run.as_deref()).map_err(|e| read_failed(&e))?;
    if select.json {
        print(&json(&report));
    } else {
        print(&report.describe());
    }
    Ok(Exit::Success)
}

fn settle(global: &GlobalArgs, select: &AuditSelect) -> CommandResult {
    let path = log_path(select);
    // Which run, and whether the log is readable, before any credential or request.
    read::read_run(&path, select.run.as_deref()).map_err(|e| read_failed(&e))?;
    let session = Session::connect_with(global, None)?;
    let result = session.block_on(reconcile::reconcile(
        session.client(),
        &path,
        select.run.as_deref(),
    ));
    session.shutdown();
    let (before, found) = result.map_err(|e| match e {
        ReconcileError::Read(e) => read_failed(&e),
        other => CommandError::new(Exit::Usage, other),
    })?;
    let after = read::read_run(&path, Some(&before.run)).map_err(|e| read_failed(&e))?;
    if select.json {
        #[derive(serde::Serialize)]
        struct Both<'a> {
            reconciled: &'a reconcile::Reconciled,
            report: &'a read::RunReport,
        }
        print(&json(&Both {
            reconciled: &found,
            report: &after,
        }));
    } else {
        print(&found.describe());
        print(&after.describe());
    }
    Ok(if found.failed.is_empty() {
        Exit::Success
    } else {
        Exit::Api
    })
}
