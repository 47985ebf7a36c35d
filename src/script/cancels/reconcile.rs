//! `clobscript audit reconcile`: reads the exchange for every id of a run whose outcome is
//! unknown (`GET /data/order/{id}`) and appends what it found to the run as `reconciled`
//! records, so a later `clobscript audit` counts each as canceled or not.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;

use futures_util::StreamExt as _;
use serde::Serialize;

use super::log::{AuditContext, AuditLog, AuditOpenError};
use super::read::{self, ReadError, RunReport};
use super::record::{Phase, Record};
use crate::clob::{Client, ClobError};

/// The status recorded for an id the exchange does not know (it answers `200 null`).
pub const NOT_FOUND: &str = "NOT_FOUND";

/// Ids per `reconciled` record.
const IDS_PER_RECORD: usize = 500;

/// Requests in flight at once.
const CONCURRENCY: usize = 8;

/// Why a reconciliation could not be done at all.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Open(#[from] AuditOpenError),
    #[error("cannot write the audit log {path}: {source}")]
    Write {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error(
        "run {run} talked to {recorded}, not {given}: reconcile against the exchange the run used (--host {recorded})"
    )]
    OtherExchange {
        run: String,
        recorded: String,
        given: String,
    },
}

/// What a reconciliation found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Reconciled {
    pub run: String,
    /// Ids read from the exchange, by the status found.
    pub statuses: BTreeMap<String, String>,
    /// Ids that could not be read (they stay unknown), with the error.
    pub failed: BTreeMap<String, String>,
    /// Requests of unknown outcome that name no ids (cancel-all, by market): nothing to read.
    pub unknown_requests: usize,
}

impl Reconciled {
    /// `reconciled 120 ids of run …: 118 CANCELED, 2 LIVE`.
    pub fn describe(&self) -> String {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for status in self.statuses.values() {
            *counts.entry(status.as_str()).or_default() += 1;
        }
        let by_status = counts
            .iter()
            .map(|(status, n)| format!("{n} {status}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut line = if self.statuses.is_empty() && self.failed.is_empty() {
            format!(
                "run {}: no order has an unknown outcome; nothing to reconcile",
                self.run
            )
        } else {
            format!(
                "reconciled {} order{} of run {}{}{}",
                self.statuses.len(),
                super::plural(self.statuses.len() as u64),
                self.run,
                if by_status.is_empty() { "" } else { ": " },
                by_status
            )
        };
        if !self.failed.is_empty() {
            line.push_str(&format!(
                "; {} could not be read and stay unknown (first: {})",
                self.failed.len(),
                self.failed
                    .iter()
                    .next()
                    .map(|(id, e)| format!("{id}: {e}"))
                    .unwrap_or_default()
            ));
        }
        if self.unknown_requests > 0 {
            line.push_str(&format!(
                "; {} cancel-all or by-market request{} of unknown outcome cannot be read by id \
                 (`open_orders()` in a script shows what is still open)",
                self.unknown_requests,
                super::plural(self.unknown_requests as u64)
            ));
        }
        line
    }
}

fn same_host(a: &str, b: &str) -> bool {
    a.trim_end_matches('/')
        .eq_ignore_ascii_case(b.trim_end_matches('/'))
}

/// Reads the exchange for the unknown ids of run `run` (default: the last) of the log at
/// `path` and appends `reconciled` records to that run.
pub async fn reconcile(
    client: &Client,
    path: &Path,
    run: Option<&str>,
) -> Result<(RunReport, Reconciled), ReconcileError> {
    let report = read::read_run(path, run)?;
    if !report.host.is_empty() && !same_host(&report.host, client.host()) {
        return Err(ReconcileError::OtherExchange {
            run: report.run.clone(),
            recorded: report.host.clone(),
            given: client.host().to_owned(),
        });
    }
    let mut found = Reconciled {
        run: report.run.clone(),
        unknown_requests: report.unknown_requests.len(),
        ..Reconciled::default()
    };
    if report.unknown.is_empty() {
        return Ok((report, found));
    }
    let log = AuditLog::open_for_run(path, report.run.clone())?;
    let context = AuditContext {
        script: report.script.clone(),
        host: client.host().to_owned(),
    };
    let ids: Vec<&String> = report.unknown.iter().collect();
    for chunk in ids.chunks(IDS_PER_RECORD) {
        let answers: Vec<(&String, Result<String, ClobError>)> =
            futures_util::stream::iter(chunk.iter().copied())
                .map(|id| async move {
                    let status = match client.order(id).await {
                        Ok(order) => Ok(order.status),
                        Err(ClobError::NotFound { .. }) => Ok(NOT_FOUND.to_owned()),
                        Err(e) => Err(e),
                    };
                    (id, status)
                })
                .buffer_unordered(CONCURRENCY)
                .collect()
                .await;
        let mut statuses = BTreeMap::new();
        for (id, answer) in answers {
            match answer {
                Ok(status) => {
                    statuses.insert(id.clone(), status);
                }
                Err(e) => {
                    found.failed.insert(id.clone(), e.to_string());
                }
            }
        }
        if statuses.is_empty() {
            continue;
        }
        let record = Record {
            request: Some(Cow::Borrowed("GET /data/order")),
            statuses: Some(statuses),
            ..Record::default()
        };
        let record = Record {
            phase: Some(Phase::Reconciled),
            ..record
        };
        log.record(&context, &record)
            .map_err(|source| ReconcileError::Write {
                path: path.to_owned(),
                source,
            })?;
        found.statuses.extend(record.statuses.into_iter().flatten());
    }
    Ok((report, found))
}
