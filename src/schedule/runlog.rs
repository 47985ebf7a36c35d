//! The run log: one JSON line per run (or skipped start), appended and flushed as it happens, so
//! a later reader can tell what the scheduler did and when. Each record is also reported
//! through `tracing`, so `--log-format json` carries the same facts on stderr.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use super::outcome::{Outcome, RunReport};

/// The run log cannot be opened.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot open the run log {path}: {source} (choose another file with --run-log or `run_log` \
     in the jobs file)"
)]
pub struct RunLogError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// The default place: `$XDG_STATE_HOME/clobscript/runs.jsonl`.
pub fn default_path() -> PathBuf {
    crate::config::state_dir().join("runs.jsonl")
}

/// One line of the run log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RunRecord {
    /// The job's name (the script's file stem for a single `schedule SCRIPT`).
    pub job: String,
    /// The run's number within its job, from 1; `null` for a skipped start.
    pub run: Option<u64>,
    /// The time the schedule named (RFC 3339, UTC).
    pub scheduled: String,
    /// When the run actually started (after jitter); `null` for a skipped start.
    pub started: Option<String>,
    /// When the run ended; `null` for a skipped start.
    pub ended: Option<String>,
    pub duration_ms: Option<u64>,
    pub outcome: Outcome,
    /// The exit code a one-shot `clobscript run` would have given; `null` for a skipped start.
    pub exit_code: Option<i32>,
    pub requests: u64,
    pub canceled: u64,
    pub error: Option<String>,
    /// For a skipped start: the number of the run that was still going.
    pub still_running: Option<u64>,
}

/// RFC 3339 in UTC with milliseconds, e.g. `2025-03-01T10:00:00.000Z`.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl RunRecord {
    /// The record of a finished run.
    pub fn finished(
        job: &str,
        run: u64,
        scheduled: DateTime<Utc>,
        started: DateTime<Utc>,
        ended: DateTime<Utc>,
        report: &RunReport,
    ) -> RunRecord {
        let duration_ms = (ended - started).num_milliseconds().max(0);
        RunRecord {
            job: job.to_owned(),
            run: Some(run),
            scheduled: timestamp(scheduled),
            started: Some(timestamp(started)),
            ended: Some(timestamp(ended)),
            duration_ms: u64::try_from(duration_ms).ok(),
            outcome: report.outcome,
            exit_code: Some(report.exit.code()),
            requests: report.requests,
            canceled: report.canceled,
            error: report.error.clone(),
            still_running: None,
        }
    }

    /// The record of a fire that found the previous run still going.
    pub fn skipped(job: &str, scheduled: DateTime<Utc>, still_running: u64) -> RunRecord {
        RunRecord {
            job: job.to_owned(),
            run: None,
            scheduled: timestamp(scheduled),
            started: None,
            ended: None,
            duration_ms: None,
            outcome: Outcome::Skipped,
            exit_code: None,
            requests: 0,
            canceled: 0,
            error: None,
            still_running: Some(still_running),
        }
    }
}

/// Where records go: a file (appended), or any writer.
pub struct RunLog {
    path: Option<PathBuf>,
    out: Mutex<Box<dyn Write + Send>>,
}

impl std::fmt::Debug for RunLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunLog").field("path", &self.path).finish()
    }
}

impl RunLog {
    /// Opens `path` for appending, creating it and its folder if needed.
    pub fn open(path: &Path) -> Result<RunLog, RunLogError> {
        let fail = |source| RunLogError {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(fail)?;
        Ok(RunLog {
            path: Some(path.to_owned()),
            out: Mutex::new(Box::new(file)),
        })
    }

    /// Records into any writer (tests, or stdout).
    pub fn to_writer(out: impl Write + Send + 'static) -> RunLog {
        RunLog {
            path: None,
            out: Mutex::new(Box::new(out)),
        }
    }

    /// The file this log appends to, if it is one.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Appends one record and reports it. A write failure is reported loudly but does not stop
    /// the schedule: the runs themselves matter more than their log.
    pub fn record(&self, record: &RunRecord) {
        report(record);
        let line = match serde_json::to_string(record) {
            Ok(line) => line,
            Err(e) => {
                tracing::error!("cannot encode a run log record: {e}");
                return;
            }
        };
        let mut out = match self.out.lock() {
            Ok(out) => out,
            Err(poisoned) => poisoned.into_inner(),
        };
        let written = writeln!(out, "{line}").and_then(|()| out.flush());
        if let Err(e) = written {
            let path = self
                .path
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "the run log".to_owned());
            tracing::error!("cannot write to {path}: {e}; this run is missing from it");
        }
    }
}

/// The same facts as a diagnostic line (fields carry the numbers, for `--log-format json`), at
/// a level that matches the outcome.
fn report(r: &RunRecord) {
    let run = r.run.unwrap_or(0);
    let error = r.error.as_deref().unwrap_or("");
    match r.outcome {
        Outcome::Ok => tracing::info!(
            job = %r.job, run, outcome = "ok", requests = r.requests, canceled = r.canceled,
            duration_ms = r.duration_ms.unwrap_or(0),
            "run finished"
        ),
        Outcome::Skipped => tracing::warn!(
            job = %r.job, outcome = "skipped", scheduled = %r.scheduled,
            still_running = r.still_running.unwrap_or(0),
            "start skipped: the previous run is still going"
        ),
        Outcome::Error | Outcome::Timeout | Outcome::Interrupted => tracing::error!(
            job = %r.job, run, outcome = r.outcome.as_str(), exit_code = r.exit_code.unwrap_or(0),
            requests = r.requests, canceled = r.canceled,
            duration_ms = r.duration_ms.unwrap_or(0),
            "run {}: {error}", r.outcome.as_str()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::Exit;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("test time")
            .with_timezone(&Utc)
    }

    #[test]
    fn a_finished_run_is_one_json_line_with_every_field() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state").join("runs.jsonl");
        let log = RunLog::open(&path).expect("opens");
        let report = RunReport {
            requests: 4,
            canceled: 2,
            ..RunReport::failed(Exit::Guard, "max-cancels reached")
        };
        log.record(&RunRecord::finished(
            "stale",
            3,
            at("2025-03-01T10:00:00Z"),
            at("2025-03-01T10:00:01.5Z"),
            at("2025-03-01T10:00:04Z"),
            &report,
        ));
        let text = std::fs::read_to_string(&path).expect("written");
        assert_eq!(
            text,
            "{\"job\":\"stale\",\"run\":3,\"scheduled\":\"2025-03-01T10:00:00.000Z\",\
             \"started\":\"2025-03-01T10:00:01.500Z\",\"ended\":\"2025-03-01T10:00:04.000Z\",\
             \"duration_ms\":2500,\"outcome\":\"error\",\"exit_code\":4,\"requests\":4,\
             \"canceled\":2,\"error\":\"max-cancels reached\",\"still_running\":null}\n"
        );
    }

    #[test]
    fn records_are_appended_to_an_existing_log() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("runs.jsonl");
        std::fs::write(&path, "{\"earlier\":true}\n").expect("seed");
        let log = RunLog::open(&path).expect("opens");
        log.record(&RunRecord::skipped("stale", at("2025-03-01T10:05:00Z"), 1));
        let text = std::fs::read_to_string(&path).expect("written");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        let skipped: serde_json::Value = serde_json::from_str(lines[1]).expect("json");
        assert_eq!(skipped["outcome"], "skipped");
        assert_eq!(skipped["still_running"], 1);
        assert_eq!(skipped["started"], serde_json::Value::Null);
    }

    #[test]
    fn an_unwritable_place_is_a_clear_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "").expect("seed");
        let err = RunLog::open(&blocker.join("runs.jsonl")).unwrap_err();
        assert!(err.to_string().contains("cannot open the run log"), "{err}");
        assert!(err.to_string().contains("--run-log"), "{err}");
    }
}
