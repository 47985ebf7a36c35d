//! The audit record: one type for every line of the log, with a typed [`Phase`]. The writer
//! serializes it straight from the caller's data (ids borrowed, not copied); `clobscript audit`
//! reads the same type back.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What an audit record says happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// A request is about to leave (written and flushed before it does).
    Sending,
    /// The request was answered: `canceled`, `not_canceled`.
    Done,
    /// The request failed: `error`, `may_have_applied`, `retrying`.
    Failed,
    /// The run stopped while the request was in flight: its outcome is unknown.
    Abandoned,
    /// A dry run would have sent these ids (`would_cancel`).
    DryRun,
    /// `--max-cancels` refused the call: nothing was sent (`ids`, `reason`).
    Refused,
    /// `clobscript audit reconcile` read the exchange for ids whose outcome was unknown
    /// (`statuses`).
    Reconciled,
    /// The run began (`dry_run`, `max_cancels`): written and flushed before anything is sent,
    /// so a log that cannot be written stops the run before it starts.
    Run,
    /// A cancel call stopped before sending these ids (`ids`, `reason`): they were never sent.
    NotSent,
}

impl Phase {
    /// The name in the log (`sending`, `done`, …).
    pub fn name(self) -> &'static str {
        match self {
            Phase::Sending => "sending",
            Phase::Done => "done",
            Phase::Failed => "failed",
            Phase::Abandoned => "abandoned",
            Phase::DryRun => "dry_run",
            Phase::Refused => "refused",
            Phase::Reconciled => "reconciled",
            Phase::Run => "run",
            Phase::NotSent => "not_sent",
        }
    }
}

/// One line of the audit log (besides `time`, `run`, `script` and `host`, which the log adds).
/// Serialized straight from the caller's data: ids are borrowed, not copied.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Record<'a> {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// The script function (`cancel_orders`, `cancel_all`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<Cow<'a, str>>,
    /// The endpoint, e.g. `DELETE /orders`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<Cow<'a, str>>,
    /// The request's number, unique within the run; its outcome record names the same one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// 1 for the first attempt of these ids, 2, 3, … for retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ids: Option<Vec<Cow<'a, str>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset_id: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canceled: Option<Cow<'a, [String]>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_canceled: Option<Cow<'a, BTreeMap<String, String>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub may_have_applied: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retrying: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub would_cancel: Option<Vec<Cow<'a, str>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Cow<'a, str>>,
    /// `reconciled`: each id's status on the exchange (`CANCELED`, `LIVE`, `NOT_FOUND`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statuses: Option<BTreeMap<String, String>>,
    /// `run`: whether the run is a dry run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
    /// `run`: the `--max-cancels` limit, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cancels: Option<u64>,
    /// `run`: the clobscript version that wrote the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<Cow<'a, str>>,
}

impl<'a> Record<'a> {
    pub fn new(phase: Phase, function: &'a str) -> Record<'a> {
        Record {
            phase: Some(phase),
            function: Some(Cow::Borrowed(function)),
            ..Record::default()
        }
    }

    pub fn ids<S: AsRef<str>>(ids: &'a [S]) -> Vec<Cow<'a, str>> {
        ids.iter().map(|id| Cow::Borrowed(id.as_ref())).collect()
    }
}
