//! Reading a run back from the audit log (`clobscript audit`): what it confirmed canceled, what
//! the exchange refused and why, whose outcome is unknown, what was never sent, and what a dry
//! run would have canceled.
//!
//! An id's fate is the most definite thing the log says of it: an answer (`done`) or a
//! reconciliation (`reconciled`) beats an unknown outcome (a `sending` record with no outcome,
//! a `failed` one that may have applied, an `abandoned` one), which beats "never sent".

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::BufRead as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::record::{Phase, Record};

/// Why the log could not be read, or has no such run.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read the audit log {path}: {source} (choose another file with --audit FILE)")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the audit log {0} holds no run yet")]
    Empty(PathBuf),
    #[error("no run {id} in the audit log {path}{hint}")]
    NoSuchRun {
        id: String,
        path: PathBuf,
        hint: String,
    },
}

/// One request of a run whose outcome is unknown and that names no ids (cancel-all, by market).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct UnknownRequest {
    pub seq: u64,
    pub request: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub market: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asset_id: Option<String>,
}

/// What one run did, as its records tell.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RunReport {
    pub run: String,
    pub script: String,
    pub host: String,
    /// When the run's first record was written.
    pub started: String,
    pub dry_run: bool,
    /// HTTP requests announced (`sending` records), and of those the ones with no outcome.
    pub requests: u64,
    pub requests_without_outcome: u64,
    /// Requests whose outcome is unknown: those without an outcome record, the `abandoned`
    /// ones and those that `failed` after they may have applied and were not sent again.
    pub requests_unknown: u64,
    /// Ids the exchange confirmed canceled (in an answer, or found canceled by reconcile).
    pub canceled: BTreeSet<String>,
    /// Ids not canceled, each with the reason (the exchange's, a failure that applied nothing,
    /// or the status reconcile found).
    pub not_canceled: BTreeMap<String, String>,
    /// Ids whose request may have reached the exchange without an answer.
    pub unknown: BTreeSet<String>,
    /// Requests of unknown outcome that name no ids (cancel-all, by market).
    pub unknown_requests: Vec<UnknownRequest>,
    /// Ids a stopped or failed call never sent.
    pub never_sent: BTreeSet<String>,
    /// Ids a dry run would have canceled.
    pub would_cancel: BTreeSet<String>,
    /// Ids `--max-cancels` refused to send.
    pub refused: BTreeSet<String>,
    /// Ids whose status `audit reconcile` read from the exchange.
    pub reconciled: u64,
    /// Lines of the log that could not be read (a line cut short by a crash).
    pub unreadable_lines: u64,
}

/// A run's records in the order they were written.
#[derive(Debug, Default)]
struct RunRecords {
    id: String,
    records: Vec<Record<'static>>,
}

/// Every run of the log at `path`, in the order they began, and the number of lines that are
/// not records (e.g. cut short by `kill -9` mid-write).
fn runs(path: &Path) -> Result<(Vec<RunRecords>, u64), ReadError> {
    let io = |source| ReadError::Io {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut order: Vec<RunRecords> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut unreadable = 0;
    for line in std::io::BufReader::new(file).lines() {
        let line = line.map_err(io)?;
        if line.trim().is_empty() {
            continue;
        }
        let Ok(record) = serde_json::from_str::<Record<'static>>(&line) else {
            unreadable += 1;
            continue;
        };
        let Some(run) = record.run.as_deref() else {
            unreadable += 1;
            continue;
        };
        let slot = *index.entry(run.to_owned()).or_insert_with(|| {
            order.push(RunRecords {
                id: run.to_owned(),
                records: Vec::new(),
            });
            order.len() - 1
        });
        order[slot].records.push(record);
    }
    Ok((order, unreadable))
}

/// The report of one run of the log at `path`: `run` is its id or a unique prefix of it; `None`
/// is the run that began last.
pub fn read_run(path: &Path, run: Option<&str>) -> Result<RunReport, ReadError> {
    let (mut all, unreadable) = runs(path)?;
    let chosen = match run {
        None => all.pop().ok_or_else(|| ReadError::Empty(path.to_owned()))?,
        Some(id) => {
            let id = id.trim();
            let matching: Vec<usize> = all
                .iter()
                .enumerate()
                .filter(|(_, r)| r.id.starts_with(id))
                .map(|(n, _)| n)
                .collect();
            match matching.as_slice() {
                [one] => all.swap_remove(*one),
                [] => {
                    let hint = all
                        .last()
                        .map(|r| format!(" (the last run is {})", r.id))
                        .unwrap_or_default();
                    return Err(ReadError::NoSuchRun {
                        id: id.to_owned(),
                        path: path.to_owned(),
                        hint,
                    });
                }
                _ => {
                    return Err(ReadError::NoSuchRun {
                        id: id.to_owned(),
                        path: path.to_owned(),
                        hint: format!(
                            ": {} runs begin with it; give more of the id",
                            matching.len()
                        ),
                    });
                }
            }
        }
    };
    let mut report = report(&chosen);
    report.unreadable_lines = unreadable;
    Ok(report)
}

/// What the records of one run add up to.
fn report(run: &RunRecords) -> RunReport {
    let mut report = RunReport {
        run: run.id.clone(),
        ..RunReport::default()
    };
    // seq -> the ids (or the market) that request carried, until its outcome arrives.
    let mut pending: BTreeMap<u64, &Record<'static>> = BTreeMap::new();
    let mut uncertain: BTreeSet<String> = BTreeSet::new();
    let mut uncertain_requests: Vec<UnknownRequest> = Vec::new();
    let mut failed_unapplied: BTreeMap<String, String> = BTreeMap::new();
    let mut reconciled: BTreeMap<String, String> = BTreeMap::new();
    let mut canceled: BTreeSet<String> = BTreeSet::new();
    let mut not_canceled: BTreeMap<String, String> = BTreeMap::new();
    // Requests whose own outcome is unknown (abandoned, failed after they may have applied, or
    // never answered).
    let mut unknown_sent: Vec<&Record<'static>> = Vec::new();
    for record in &run.records {
        if report.started.is_empty() {
            report.started = record.time.as_deref().unwrap_or_default().to_owned();
        }
        if report.script.is_empty()
            && let Some(script) = record.script.as_deref()
            && record.phase != Some(Phase::Reconciled)
        {
            report.script = script.to_owned();
        }
        if report.host.is_empty()
            && let Some(host) = record.host.as_deref()
        {
            report.host = host.to_owned();
        }
        let ids = || record.ids.iter().flatten().map(|id| id.to_string());
        match record.phase {
            Some(Phase::Run) => report.dry_run = record.dry_run.unwrap_or(false),
            Some(Phase::Sending) => {
                report.requests += 1;
                if let Some(seq) = record.seq {
                    pending.insert(seq, record);
                }
            }
            Some(phase @ (Phase::Done | Phase::Failed | Phase::Abandoned)) => {
                let Some(sent) = record.seq.and_then(|seq| pending.remove(&seq)) else {
                    continue;
                };
                let sent_ids = || sent.ids.iter().flatten().map(|id| id.to_string());
                match phase {
                    Phase::Done => {
                        canceled.extend(record.canceled.iter().flat_map(|c| c.iter().cloned()));
                        for (id, reason) in record.not_canceled.iter().flat_map(|m| m.iter()) {
                            not_canceled.insert(id.clone(), reason.clone());
                        }
                    }
                    Phase::Failed if record.may_have_applied != Some(true) => {
                        if record.retrying != Some(true) {
                            let reason = record.error.as_deref().unwrap_or("failed").to_owned();
                            for id in sent_ids() {
                                failed_unapplied.insert(id, reason.clone());
                            }
                        }
                    }
                    _ => {
                        if phase == Phase::Abandoned || record.retrying != Some(true) {
                            unknown_sent.push(sent);
                        }
                        uncertain.extend(sent_ids());
                        if sent.ids.as_ref().is_none_or(Vec::is_empty) {
                            uncertain_requests.push(unknown_request(sent));
                        }
                    }
                }
            }
            Some(Phase::DryRun) => report.would_cancel.extend(
                record
                    .would_cancel
                    .iter()
                    .flatten()
                    .map(|id| id.to_string()),
            ),
            Some(Phase::Refused) => report.refused.extend(ids()),
            Some(Phase::NotSent) => report.never_sent.extend(ids()),
            Some(Phase::Reconciled) => {
                for (id, status) in record.statuses.iter().flatten() {
                    reconciled.insert(id.clone(), status.clone());
                }
            }
            None => {}
        }
    }
    // A request announced and never answered (the process was killed mid-request).
    report.requests_without_outcome = pending.len() as u64;
    unknown_sent.extend(pending.values().copied());
    for sent in pending.values() {
        uncertain.extend(sent.ids.iter().flatten().map(|id| id.to_string()));
        if sent.ids.as_ref().is_none_or(Vec::is_empty) {
            uncertain_requests.push(unknown_request(sent));
        }
    }
    report.reconciled = reconciled.len() as u64;
    // The most definite word on each id wins.
    for (id, status) in &reconciled {
        if status.eq_ignore_ascii_case("CANCELED") {
            canceled.insert(id.clone());
        } else if !canceled.contains(id) {
            not_canceled.insert(id.clone(), reconciled_reason(status));
        }
    }
    for id in &canceled {
        not_canceled.remove(id);
    }
    for (id, reason) in failed_unapplied {
        if !canceled.contains(&id) && !uncertain.contains(&id) {
            not_canceled.entry(id).or_insert(reason);
        }
    }
    uncertain.retain(|id| !canceled.contains(id) && !not_canceled.contains_key(id));
    report.never_sent.retain(|id| {
        !canceled.contains(id) && !not_canceled.contains_key(id) && !uncertain.contains(id)
    });
    // Those whose ids are all accounted for since (a retry's answer, reconcile) are no longer
    // unknown; a cancel-all or by-market request names no ids and stays unknown.
    report.requests_unknown = unknown_sent
        .iter()
        .filter(|sent| {
            let mut ids = sent.ids.iter().flatten().peekable();
            ids.peek().is_none() || ids.any(|id| uncertain.contains(&id.to_string()))
        })
        .count() as u64;
    report.canceled = canceled;
    report.not_canceled = not_canceled;
    report.unknown = uncertain;
    report.unknown_requests = uncertain_requests;
    report
}

fn unknown_request(sent: &Record<'_>) -> UnknownRequest {
    UnknownRequest {
        seq: sent.seq.unwrap_or_default(),
        request: sent.request.as_deref().unwrap_or_default().to_owned(),
        market: sent.market.as_deref().map(str::to_owned),
        asset_id: sent.asset_id.as_deref().map(str::to_owned),
    }
}

/// The reason an id reconcile found not canceled is listed under.
fn reconciled_reason(status: &str) -> String {
    if status == super::reconcile::NOT_FOUND {
        "not found on the exchange (audit reconcile)".to_owned()
    } else {
        format!("{status} on the exchange (audit reconcile)")
    }
}

impl RunReport {
    /// The report for a person: counts, the reasons grouped, and what to do next.
    pub fn describe(&self) -> String {
        use std::fmt::Write as _;
        let mut text = String::new();
        let _ = writeln!(text, "run {}", self.run);
        if !self.script.is_empty() {
            let _ = writeln!(text, "  script:       {}", self.script);
        }
        if !self.host.is_empty() {
            let _ = writeln!(text, "  exchange:     {}", self.host);
        }
        if !self.started.is_empty() {
            let _ = writeln!(text, "  started:      {}", self.started);
        }
        if self.dry_run {
            let _ = writeln!(text, "  dry run:      nothing was sent");
        }
        let _ = writeln!(
            text,
            "  requests:     {} sent, {} of unknown outcome",
            self.requests, self.requests_unknown
        );
        let _ = writeln!(text, "  canceled:     {}", self.canceled.len());
        let _ = writeln!(text, "  not canceled: {}", self.not_canceled.len());
        let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
        for reason in self.not_canceled.values() {
            *reasons.entry(reason.as_str()).or_default() += 1;
        }
        let mut reasons: Vec<(&str, usize)> = reasons.into_iter().collect();
        reasons.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        for (reason, count) in reasons {
            let _ = writeln!(text, "    {count} × {reason}");
        }
        let _ = writeln!(text, "  unknown:      {}", self.unknown.len());
        for request in &self.unknown_requests {
            let scope = match (&request.market, &request.asset_id) {
                (None, None) => String::new(),
                (market, asset) => format!(
                    " (market {}, asset {})",
                    market.as_deref().unwrap_or("any"),
                    asset.as_deref().unwrap_or("any")
                ),
            };
            let _ = writeln!(
                text,
                "    request {} {}{scope}: outcome unknown",
                request.seq, request.request
            );
        }
        let _ = writeln!(text, "  never sent:   {}", self.never_sent.len());
        if !self.refused.is_empty() {
            let _ = writeln!(text, "  refused by --max-cancels: {}", self.refused.len());
        }
        if self.dry_run || !self.would_cancel.is_empty() {
            let _ = writeln!(text, "  would cancel: {}", self.would_cancel.len());
        }
        if self.reconciled > 0 {
            let _ = writeln!(
                text,
                "  reconciled:   {} read from the exchange",
                self.reconciled
            );
        }
        if self.unreadable_lines > 0 {
            let _ = writeln!(
                text,
                "  {} line{} of the log could not be read (a record cut short by a kill announces a request that never left)",
                self.unreadable_lines,
                super::plural(self.unreadable_lines)
            );
        }
        if !self.unknown.is_empty() {
            let _ = writeln!(
                text,
                "the outcome of {} order{} is unknown: `clobscript audit reconcile --run {}` reads {} from the exchange",
                self.unknown.len(),
                super::plural(self.unknown.len() as u64),
                self.run,
                if self.unknown.len() == 1 {
                    "it"
                } else {
                    "them"
                }
            );
        }
        text
    }
}
