//! The cancel endpoints, and the rules that keep a merged or retried cancel result truthful.

use futures_util::{StreamExt as _, stream};
use reqwest::Method;

use super::answer::decode;
use super::transport::{Attempts, Call, required, to_json, unique_ids};
use super::{Client, ClobError};
use crate::clob::types::{
    CancelMarketRequest, CancelOrderRequest, CancelResponse, MAX_CANCEL_IDS, messages,
};

impl Client {
    /// `DELETE /order`: cancels one order.
    pub async fn cancel(&self, id: &str) -> Result<CancelResponse, ClobError> {
        let id = required(id, "DELETE /order", "an order id")?;
        let body = to_json(&CancelOrderRequest {
            order_id: id.to_owned(),
        })?;
        let call = Call::new(Method::DELETE, "/order").signed().json(body);
        self.cancel_call(&call).await
    }

    /// `DELETE /orders`: cancels many orders. Duplicates are dropped, the ids go out in
    /// requests of at most 3000 (a few in flight at once), and the answers are merged into one.
    ///
    /// When a batch had an attempt that may have taken effect unseen (e.g. the answer was
    /// lost) and the retry reports an id as already canceled, that id counts as canceled. If a
    /// batch fails for good, the error is [`ClobError::CancelIncomplete`] with everything known.
    pub async fn cancel_orders<S: AsRef<str> + Sync>(
        &self,
        ids: &[S],
    ) -> Result<CancelResponse, ClobError> {
        self.signer("DELETE /orders")?;
        let unique = unique_ids(ids);
        if unique.is_empty() {
            return Ok(CancelResponse::default());
        }
        let concurrency = self.inner.config.cancel_concurrency.max(1);
        let outcomes: Vec<(&[&str], Result<CancelResponse, BatchFailure>)> =
            stream::iter(unique.chunks(MAX_CANCEL_IDS))
                .map(|batch| async move { (batch, self.cancel_batch(batch).await) })
                .buffered(concurrency)
                .collect()
                .await;

        let mut merged = CancelResponse::default();
        let mut unknown = Vec::new();
        let mut unsent = Vec::new();
        let mut first_error = None;
        let mut any_effect = false;
        for (batch, outcome) in outcomes {
            match outcome {
                Ok(answer) => {
                    any_effect = true;
                    merged.canceled.extend(answer.canceled);
                    merged.not_canceled.extend(answer.not_canceled);
                }
                Err(failure) => {
                    let ids = batch.iter().map(|id| (*id).to_owned());
                    if failure.ambiguous {
                        any_effect = true;
                        unknown.extend(ids);
                    } else {
                        unsent.extend(ids);
                    }
                    first_error.get_or_insert(failure.error);
                }
            }
        }
        match first_error {
            None => Ok(merged),
            // Nothing reached the exchange: the plain cause says it best.
            Some(error) if !any_effect => Err(error),
            Some(error) => Err(ClobError::CancelIncomplete {
                partial: Box::new(merged),
                unknown,
                unsent,
                source: Box::new(error),
            }),
        }
    }

    /// `DELETE /cancel-all`: cancels every open order of the key.
    pub async fn cancel_all(&self) -> Result<CancelResponse, ClobError> {
        let call = Call::new(Method::DELETE, "/cancel-all").signed();
        self.cancel_call(&call).await
    }

    /// `DELETE /cancel-market-orders`: cancels the orders of one market, one token, or one
    /// token of one market. Blank values count as absent; with neither, the call is refused
    /// (the exchange would cancel every order: use [`Client::cancel_all`] for that).
    pub async fn cancel_market(
        &self,
        market: Option<&str>,
        asset_id: Option<&str>,
    ) -> Result<CancelResponse, ClobError> {
        const ENDPOINT: &str = "DELETE /cancel-market-orders";
        self.signer(ENDPOINT)?;
        let given = |v: Option<&str>| {
            v.map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let request = CancelMarketRequest {
            market: given(market),
            asset_id: given(asset_id),
        };
        if request.market.is_none() && request.asset_id.is_none() {
            return Err(ClobError::InvalidArgument {
                endpoint: ENDPOINT.to_owned(),
                detail: "neither a market nor a token id was given, which would cancel every \
                         order; pass one, or use cancel_all to cancel everything"
                    .to_owned(),
            });
        }
        let call = Call::new(Method::DELETE, "/cancel-market-orders")
            .signed()
            .json(to_json(&request)?);
        self.cancel_call(&call).await
    }

    /// Runs one cancel request and settles its answer (see [`settle_cancel`]).
    async fn cancel_call(&self, call: &Call) -> Result<CancelResponse, ClobError> {
        let mut attempts = Attempts::default();
        let result = match self.execute(call, &mut attempts).await {
            Ok(answer) => decode::<CancelResponse>(call, &answer).inspect_err(|_| {
                // A 2xx we cannot read most likely did cancel.
                attempts.ambiguous = true;
            }),
            Err(error) => Err(error),
        };
        let names_its_ids = call.path == "/order";
        if attempts.ambiguous && result.is_ok() && !names_its_ids {
            // Cancel-all and cancel-by-market answers list only what the last attempt canceled:
            // orders canceled by an earlier attempt whose answer was lost cannot be named.
            tracing::warn!(
                endpoint = %call.endpoint(),
                "an earlier attempt may have canceled orders that this result does not list"
            );
        }
        match result {
            Ok(answer) => Ok(settle_cancel(answer, attempts.ambiguous)),
            Err(error) if attempts.ambiguous => Err(ClobError::CancelUncertain {
                source: Box::new(error),
            }),
            Err(error) => Err(error),
        }
    }

    /// One `DELETE /orders` batch of at most 3000 ids.
    async fn cancel_batch(&self, ids: &[&str]) -> Result<CancelResponse, BatchFailure> {
        let body = to_json(&ids).map_err(|error| BatchFailure {
            error,
            ambiguous: false,
        })?;
        let call = Call::new(Method::DELETE, "/orders").signed().json(body);
        let mut attempts = Attempts::default();
        let result = match self.execute(&call, &mut attempts).await {
            Ok(answer) => decode::<CancelResponse>(&call, &answer).inspect_err(|_| {
                attempts.ambiguous = true;
            }),
            Err(error) => Err(error),
        };
        match result {
            Ok(answer) => Ok(settle_cancel(answer, attempts.ambiguous)),
            Err(error) => Err(BatchFailure {
                error,
                ambiguous: attempts.ambiguous,
            }),
        }
    }
}

/// A `DELETE /orders` batch that failed for good.
struct BatchFailure {
    error: ClobError,
    ambiguous: bool,
}

/// After an ambiguous attempt, an id the retry reports as already canceled was most likely
/// canceled by that earlier attempt of this same call: count it as canceled. Without such an
/// attempt the answer is taken as it is, so an order canceled before the call stays under
/// `not_canceled`.
fn settle_cancel(mut answer: CancelResponse, ambiguous: bool) -> CancelResponse {
    if ambiguous {
        let settled: Vec<String> = answer
            .not_canceled
            .iter()
            .filter(|(_, reason)| is_already_canceled(reason))
            .map(|(id, _)| id.clone())
            .collect();
        for id in settled {
            answer.not_canceled.remove(&id);
            answer.canceled.push(id);
        }
    }
    answer
}

fn is_already_canceled(reason: &str) -> bool {
    let reason = reason.to_ascii_lowercase();
    reason.contains(messages::ALREADY_CANCELED)
        || reason.contains("already canceled")
        || reason.contains("already cancelled")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn already_canceled_counts_as_canceled_only_after_an_ambiguous_attempt() {
        let answer = CancelResponse {
            canceled: vec!["0xa".into()],
            not_canceled: BTreeMap::from([
                ("0xb".into(), messages::ALREADY_CANCELED.into()),
                ("0xc".into(), messages::NOT_FOUND.into()),
            ]),
        };
        let plain = settle_cancel(answer.clone(), false);
        assert_eq!(plain, answer);
        let settled = settle_cancel(answer, true);
        assert_eq!(settled.canceled, vec!["0xa", "0xb"]);
        assert_eq!(settled.not_canceled.keys().collect::<Vec<_>>(), vec!["0xc"]);
    }
}
