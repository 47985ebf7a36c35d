//! The work behind the script functions: requests on the shared runtime (raced against the
//! interrupt), listings converted page by page, and cancels through the safety switches and
//! the audit log.

use super::*;

impl HostState {
    pub(super) fn client(&self) -> Outcome<Client> {
        Ok(self.backend()?.client.clone())
    }

    /// Runs one exchange call on the runtime, stopping early if the script is interrupted.
    pub(super) fn request<T>(
        &self,
        function: &str,
        progress: Option<&str>,
        work: impl Future<Output = Result<T, ClobError>>,
    ) -> Outcome<T> {
        let backend = self.backend()?;
        if self.interrupt.is_triggered() {
            return Err(self.terminated());
        }
        let token = self.interrupt.cancelled();
        let show = self.progress && progress.is_some();
        let label = progress.unwrap_or(function);
        let outcome = backend.handle.block_on(async {
            tokio::select! {
                biased;
                () = token.cancelled() => None,
                result = output::with_progress(label, &backend.client, show, work) => Some(result),
            }
        });
        match outcome {
            None => Err(self.terminated()),
            Some(Ok(value)) => Ok(value),
            Some(Err(err)) => {
                let message = format!("{function} failed: {err}");
                self.record_api_failure(&message, err.exit());
                Err(failure(message))
            }
        }
    }

    /// Writes an audit record, or stops the run: a mutation that cannot be recorded is not sent.
    pub(super) fn audit_or_stop<F: Serialize + ?Sized>(&self, fields: &F) -> Outcome<()> {
        self.safety
            .audit(&self.audit_context(), fields)
            .map_err(|e| {
                self.stop(StopReason::Guard(format!(
                    "cannot write the audit log ({e}); nothing more is sent (choose another file with --audit FILE)"
                )))
            })
    }

    /// Best effort: the request already happened, its record must not hide its result.
    pub(super) fn audit_after<F: Serialize + ?Sized>(&self, fields: &F) {
        if let Err(e) = self.safety.audit(&self.audit_context(), fields) {
            tracing::warn!("cannot write the audit log: {e}");
        }
    }

    pub(super) fn count(&self, response: &CancelResponse) {
        self.safety
            .canceled
            .fetch_add(response.canceled.len() as u64, Ordering::SeqCst);
        self.safety
            .not_canceled
            .fetch_add(response.not_canceled.len() as u64, Ordering::SeqCst);
    }

    pub(super) fn record_failure(&self, function: &str, request: &str, err: &EvalAltResult) {
        let phase = if matches!(err, EvalAltResult::ErrorTerminated(..)) {
            "abandoned"
        } else {
            "failed"
        };
        let error = match err {
            EvalAltResult::ErrorRuntime(message, _) => message.to_string(),
            EvalAltResult::ErrorTerminated(..) => {
                "the run was stopped while the request was in flight; its outcome is unknown, \
                 re-read the orders before acting on them"
                    .to_owned()
            }
            other => other.to_string(),
        };
        self.audit_after(&json!({
            "phase": phase, "function": function, "request": request, "error": error,
        }));
    }

    /// Cancels exactly `ids` (deduplicated) in requests of at most 3000, under the guard,
    /// dry run and audit log.
    pub(super) fn cancel_ids(&self, function: &str, ids: Vec<ImmutableString>) -> Outcome<Map> {
        let ids = dedup(ids);
        let count = ids.len() as u64;
        if count == 0 {
            return Ok(self.empty_result());
        }
        if let Err(message) = self.safety.reserve(function, count) {
            self.audit_after(&CancelRecord {
                ids: Some(&ids),
                reason: Some(&message),
                ..CancelRecord::new("refused", function, None)
            });
            return Err(self.stop(StopReason::Guard(message)));
        }
        if self.safety.is_dry_run() {
            self.audit_or_stop(&CancelRecord {
                would_cancel: Some(&ids),
                ..CancelRecord::new("dry_run", function, None)
            })?;
            self.safety.would_cancel.fetch_add(count, Ordering::SeqCst);
            let mut result = self.empty_result();
            result.insert(
                "would_cancel".into(),
                Dynamic::from_array(ids.into_iter().map(Dynamic::from).collect()),
            );
            return Ok(result);
        }
        let client = self.client()?;
        if function == "cancel" && ids.len() == 1 {
            let request = "DELETE /order";
            self.audit_or_stop(&CancelRecord {
                ids: Some(&ids),
                ..CancelRecord::new("sending", function, Some(request))
            })?;
            return self.send_cancel(function, request, &ids, client.cancel(&ids[0]));
        }
        // Every request is in the audit log before any is sent; the client then sends the
        // batches of at most 3000 ids a few at a time and merges the answers.
        let request = "DELETE /orders";
        for chunk in ids.chunks(MAX_CANCEL_IDS) {
            self.audit_or_stop(&CancelRecord {
                ids: Some(chunk),
                ..CancelRecord::new("sending", function, Some(request))
            })?;
        }
        self.send_cancel(function, request, &ids, client.cancel_orders(&ids))
    }

    /// Sends prepared cancels, counts and audits what the exchange canceled — also when only
    /// part of a multi-batch cancel got through — and converts the merged answer.
    pub(super) fn send_cancel(
        &self,
        function: &str,
        request: &str,
        ids: &[ImmutableString],
        work: impl Future<Output = Result<CancelResponse, ClobError>>,
    ) -> Outcome<Map> {
        let label = format!(
            "canceling {} order{}",
            ids.len(),
            crate::script::safety::plural(ids.len() as u64)
        );
        let work = async {
            let result = work.await;
            if let Err(ClobError::CancelIncomplete { partial, .. }) = &result {
                self.count(partial);
                self.audit_after(&CancelRecord::answer("partial", function, request, partial));
            }
            result
        };
        match self.request(function, Some(&label), work) {
            Ok(response) => {
                self.count(&response);
                self.audit_after(&CancelRecord::answer("done", function, request, &response));
                Ok(convert::cancel_response_sharing(response, ids))
            }
            Err(err) => {
                self.record_failure(function, request, &err);
                Err(err)
            }
        }
    }

    pub(super) fn empty_result(&self) -> Map {
        let mut result = convert::cancel_response(CancelResponse::default());
        if self.safety.is_dry_run() {
            result.insert("would_cancel".into(), Dynamic::from_array(Array::new()));
            result.insert("dry_run".into(), Dynamic::TRUE);
        }
        result
    }

    /// `cancel_all` (both `None`) or `cancel_market`.
    pub(super) fn cancel_matching(
        &self,
        function: &str,
        market: Option<String>,
        asset_id: Option<String>,
    ) -> Outcome<Map> {
        let client = self.client()?;
        if self.safety.needs_explicit_ids() {
            // Under a guard or dry run the count must be known before anything is sent.
            let filter = OrderFilter {
                id: None,
                market: market.clone(),
                asset_id: asset_id.clone(),
            };
            let orders = self.request(
                function,
                Some("listing the orders to cancel"),
                client.open_orders(&filter),
            )?;
            return self.cancel_ids(function, orders.into_iter().map(|o| o.id.into()).collect());
        }
        let every = market.is_none() && asset_id.is_none();
        let request = if every {
            "DELETE /cancel-all"
        } else {
            "DELETE /cancel-market-orders"
        };
        self.audit_or_stop(&json!({
            "phase": "sending", "function": function, "request": request,
            "market": market, "asset_id": asset_id,
        }))?;
        let result = if every {
            self.request(function, Some("canceling every order"), client.cancel_all())
        } else {
            self.request(
                function,
                Some("canceling the market's orders"),
                client.cancel_market(market.as_deref(), asset_id.as_deref()),
            )
        };
        match result {
            Ok(response) => {
                self.count(&response);
                self.audit_after(&json!({
                    "phase": "done", "function": function, "request": request,
                    "canceled": response.canceled, "not_canceled": response.not_canceled,
                }));
                Ok(convert::cancel_response(response))
            }
            Err(err) => {
                self.record_failure(function, request, &err);
                Err(err)
            }
        }
    }

    pub(super) fn cancel_market_checked(
        &self,
        market: Option<String>,
        asset_id: Option<String>,
    ) -> Outcome<Map> {
        if market.is_none() && asset_id.is_none() {
            return Err(failure(
                "cancel_market: give a market or an asset_id; to cancel every order use cancel_all()",
            ));
        }
        self.cancel_matching("cancel_market", market, asset_id)
    }
}
