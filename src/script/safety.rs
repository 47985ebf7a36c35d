//! What keeps a playbook from doing more than the operator meant: dry run, the `--max-cancels`
//! guard, and the append-only audit log of every mutating request.
//!
//! The guard counts order ids *sent for cancellation* (an id the exchange reports under
//! `not_canceled` still counts): that is the number an operator can bound in advance. A cancel
//! call that would take the run past the limit sends nothing at all and stops the run (exit 4).
//! `cancel_all` and `cancel_market` cannot know their count up front, so while a limit or dry run
//! is active they first list the matching open orders and cancel exactly those ids (an order
//! placed between the listing and the cancel is left alone).
//!
//! The audit log gets one JSON line before each mutating request is sent (`"phase":"sending"`)
//! and one after (`"done"`, `"failed"`, or `"abandoned"` when the run was stopped mid-request and
//! the outcome is unknown), plus `"dry_run"` and `"refused"` lines for cancels that were not sent.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use serde::Serialize;

/// Where the audit log goes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum AuditTarget {
    /// `$XDG_STATE_HOME/clobscript/audit.jsonl`.
    #[default]
    Default,
    /// A file of the caller's choice (`--audit FILE`).
    File(PathBuf),
    /// No audit log (only for hosts that never talk to an exchange: `check`, `docs`, tests).
    Off,
}

impl AuditTarget {
    /// The file this target writes to, if any.
    pub fn path(&self) -> Option<PathBuf> {
        match self {
            AuditTarget::Default => Some(crate::config::state_dir().join("audit.jsonl")),
            AuditTarget::File(path) => Some(path.clone()),
            AuditTarget::Off => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot open the audit log {path}: {source} (choose another file with --audit FILE)")]
pub struct AuditOpenError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// An append-only JSON-lines file shared by every cancel of one host.
#[derive(Debug)]
pub(crate) struct AuditLog {
    path: PathBuf,
    file: Mutex<File>,
    run_id: String,
}

impl AuditLog {
    pub(crate) fn open(path: &Path) -> Result<AuditLog, AuditOpenError> {
        let fail = |source| AuditOpenError {
            path: path.to_owned(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(fail)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(fail)?;
        Ok(AuditLog {
            path: path.to_owned(),
            file: Mutex::new(file),
            run_id: uuid::Uuid::new_v4().to_string(),
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record; `fields` must serialize as a JSON object. Each line is written with
    /// a single `write` call so concurrent runs sharing the file never interleave within a
    /// line. Fields are serialized straight from the caller's data: a record naming 100,000
    /// ids costs its text, not a second copy of every id.
    pub(crate) fn record<F: Serialize + ?Sized>(
        &self,
        context: &AuditContext,
        fields: &F,
    ) -> std::io::Result<()> {
        #[derive(Serialize)]
        struct Line<'a, F: Serialize + ?Sized> {
            time: String,
            run: &'a str,
            script: &'a str,
            host: &'a str,
            #[serde(flatten)]
            fields: &'a F,
        }
        let line = Line {
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            run: &self.run_id,
            script: &context.script,
            host: &context.host,
            fields,
        };
        let mut text = serde_json::to_vec(&line).map_err(std::io::Error::other)?;
        text.push(b'\n');
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        file.write_all(&text)?;
        file.flush()
    }
}

/// Who is doing the mutating, for every audit record.
#[derive(Clone, Debug, Default)]
pub(crate) struct AuditContext {
    pub(crate) script: String,
    pub(crate) host: String,
}

/// Dry run, the cancel guard and the run's cancel counters.
#[derive(Debug, Default)]
pub(crate) struct Safety {
    dry_run: AtomicBool,
    max_cancels: Option<u64>,
    /// Ids sent (or, in a dry run, that would have been sent) for cancellation so far.
    sent: AtomicU64,
    pub(crate) audit: Option<AuditLog>,
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
                    plural(count),
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

    /// Writes one audit record; a host without an audit log writes nothing.
    pub(crate) fn audit<F: Serialize + ?Sized>(
        &self,
        context: &AuditContext,
        fields: &F,
    ) -> std::io::Result<()> {
        match &self.audit {
            Some(log) => log.record(context, fields),
            None => Ok(()),
        }
    }
}

pub(crate) fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

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

    #[test]
    fn audit_records_are_appended_as_json_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nested").join("audit.jsonl");
        let context = AuditContext {
            script: "s.rhai".into(),
            host: "http://x".into(),
        };
        for phase in ["sending", "done"] {
            let log = AuditLog::open(&path).expect("opens");
            log.record(&context, &json!({"phase": phase, "ids": ["0x1"]}))
                .expect("writes");
        }
        let text = std::fs::read_to_string(&path).expect("reads");
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["phase"], "sending");
        assert_eq!(lines[1]["phase"], "done");
        assert_eq!(lines[1]["script"], "s.rhai");
        assert_eq!(lines[1]["ids"][0], "0x1");
    }
}
