//! The audit log file: append-only JSON lines, one [`Record`] each, opened once per run (so
//! `logrotate` may move it between runs) and shared by every cancel of that run.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;

use super::record::Record;

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

/// A record could not be written: what it announces must not happen.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot write the audit log {path}: {source}; nothing more is sent (choose another file with --audit FILE)"
)]
pub struct AuditWriteError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// An append-only JSON-lines file shared by every cancel of one run.
#[derive(Debug)]
pub(crate) struct AuditLog {
    path: PathBuf,
    file: Mutex<File>,
    run_id: String,
}

impl AuditLog {
    /// Opens `path` for a new run (with a fresh run id).
    pub(crate) fn open(path: &Path) -> Result<AuditLog, AuditOpenError> {
        AuditLog::open_for_run(path, uuid::Uuid::new_v4().to_string())
    }

    /// Opens `path` to append records to the run `run_id` (what `audit reconcile` does).
    pub(crate) fn open_for_run(path: &Path, run_id: String) -> Result<AuditLog, AuditOpenError> {
        let fail = |source| AuditOpenError {
            path: path.to_owned(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(fail)?;
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(fail)?;
        end_the_last_line(path, &mut file).map_err(fail)?;
        Ok(AuditLog {
            path: path.to_owned(),
            file: Mutex::new(file),
            run_id,
        })
    }

    pub(crate) fn run_id(&self) -> &str {
        &self.run_id
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record with the run's context. Each line is written with
    /// a single `write` call so concurrent runs sharing the file never interleave within a
    /// line. Fields are serialized straight from the caller's data: a record naming 100,000
    /// ids costs its text, not a second copy of every id.
    pub(crate) fn record(
        &self,
        context: &AuditContext,
        fields: &Record<'_>,
    ) -> std::io::Result<()> {
        #[derive(Serialize)]
        struct Line<'a, F: Serialize> {
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

/// A run killed while writing a record (`kill -9`, power loss) leaves its last line cut short.
/// Starting this run's records on a fresh line keeps that damage to the one torn line: without
/// it the first record of this run would be glued to it and lost too.
/// The last byte is read through a second, read-only handle; a log this process may append to
/// but not read (or that is not a regular file) is left as it is.
fn end_the_last_line(path: &Path, file: &mut File) -> std::io::Result<()> {
    use std::io::{Read as _, Seek as _, SeekFrom};
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(());
    }
    let Ok(mut reader) = File::open(path) else {
        return Ok(());
    };
    let mut last = [0u8; 1];
    let read = reader
        .seek(SeekFrom::Start(len - 1))
        .and_then(|_| reader.read_exact(&mut last));
    if read.is_ok() && last[0] != b'\n' {
        file.write_all(b"\n")?;
    }
    Ok(())
}

/// Who is doing the mutating, for every audit record.
#[derive(Clone, Debug, Default)]
pub(crate) struct AuditContext {
    pub(crate) script: String,
    pub(crate) host: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::cancels::record::Phase;
    use serde_json::Value;

    #[test]
    fn audit_records_are_appended_as_json_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nested").join("audit.jsonl");
        let context = AuditContext {
            script: "s.rhai".into(),
            host: "http://x".into(),
        };
        let ids = ["0x1"];
        for phase in [Phase::Sending, Phase::Done] {
            let log = AuditLog::open(&path).expect("opens");
            let record = Record {
                ids: Some(Record::ids(&ids)),
                ..Record::new(phase, "cancel")
            };
            log.record(&context, &record).expect("writes");
        }
        let text = std::fs::read_to_string(&path).expect("reads");
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["phase"], Phase::Sending.name());
        assert_eq!(lines[1]["phase"], Phase::Done.name());
        assert_eq!(lines[1]["script"], "s.rhai");
        assert_eq!(lines[1]["ids"][0], "0x1");
        assert_ne!(lines[0]["run"], lines[1]["run"], "each open is a new run");
    }

    #[test]
    fn a_line_cut_short_by_a_kill_does_not_swallow_the_next_runs_first_record() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.jsonl");
        std::fs::write(&path, br#"{"phase":"sending","ids":["0x1","0x"#).expect("torn line");
        let context = AuditContext::default();
        let log = AuditLog::open(&path).expect("opens");
        log.record(&context, &Record::new(Phase::Sending, "cancel"))
            .expect("writes");
        let text = std::fs::read_to_string(&path).expect("reads");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(
            serde_json::from_str::<Value>(lines[0]).is_err(),
            "still torn"
        );
        let record: Value = serde_json::from_str(lines[1]).expect("the new record is whole");
        assert_eq!(record["run"], log.run_id());
    }
}
