//! The cancels of one request each: `cancel` (one id), `cancel_all` and `cancel_market`.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};

use super::paced::{Attempted, Paced, settle_cancel, stopped_error};
use super::{CancelObserver, CancelRequest, Client, ClobError, NoObserver};
use crate::clob::client::transport::{Attempts, Call, required, to_json};
use crate::clob::types::{CancelMarketRequest, CancelOrderRequest, CancelResponse};

impl Client {
    /// `DELETE /order`: cancels one order.
    pub async fn cancel(&self, id: &str) -> Result<CancelResponse, ClobError> {
        self.cancel_observed(id, &NoObserver).await
    }

    /// [`Client::cancel`], telling `observer` of each request.
    pub async fn cancel_observed(
        &self,
        id: &str,
        observer: &dyn CancelObserver,
    ) -> Result<CancelResponse, ClobError> {
        let id = required(id, "DELETE /order", "an order id")?;
        let body = to_json(&CancelOrderRequest {
            order_id: id.to_owned(),
        })?;
        let call = Call::new(Method::DELETE, "/order").signed().json(body);
        let ids = [id];
        let request = CancelRequest {
            endpoint: "DELETE /order",
            ids: &ids,
            market: None,
            asset_id: None,
            attempt: 1,
        };
        self.cancel_call(&call, request, observer).await
    }

    /// `DELETE /cancel-all`: cancels every open order of the key.
    pub async fn cancel_all(&self) -> Result<CancelResponse, ClobError> {
        self.cancel_all_observed(&NoObserver).await
    }

    /// [`Client::cancel_all`], telling `observer` of each request.
    pub async fn cancel_all_observed(
        &self,
        observer: &dyn CancelObserver,
    ) -> Result<CancelResponse, ClobError> {
        let call = Call::new(Method::DELETE, "/cancel-all").signed();
        let request = CancelRequest {
            endpoint: "DELETE /cancel-all",
            ids: &[],
            market: None,
            asset_id: None,
            attempt: 1,
        };
        self.cancel_call(&call, request, observer).await
    }

    /// `DELETE /cancel-market-orders`: cancels the orders of one market, one token, or one
    /// token of one market. Blank values count as absent; with neither, the call is refused
    /// (the exchange would cancel every order: use [`Client::cancel_all`] for that).
    pub async fn cancel_market(
        &self,
        market: Option<&str>,
        asset_id: Option<&str>,
    ) -> Result<CancelResponse, ClobError> {
        self.cancel_market_observed(market, asset_id, &NoObserver)
            .await
    }

    /// [`Client::cancel_market`], telling `observer` of each request.
    pub async fn cancel_market_observed(
        &self,
        market: Option<&str>,
        asset_id: Option<&str>,
        observer: &dyn CancelObserver,
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
        let announced = CancelRequest {
            endpoint: ENDPOINT,
            ids: &[],
            market: request.market.as_deref(),
            asset_id: request.asset_id.as_deref(),
            attempt: 1,
        };
        self.cancel_call(&call, announced, observer).await
    }

    /// Runs one cancel request through the pacer (reserving 1) and settles its answer (see
    /// [`settle_cancel`]).
    async fn cancel_call(
        &self,
        call: &Call,
        mut request: CancelRequest<'_>,
        observer: &dyn CancelObserver,
    ) -> Result<CancelResponse, ClobError> {
        self.signer(request.endpoint)?;
        let pacer = self.cancel_pacer();
        let stop = observer.stop_token();
        let mut attempts = Attempts::default();
        let started = Instant::now();
        let mut splits = 0u32;
        let endpoint = request.endpoint;
        let result = loop {
            let Some(grant) = self.reserve(&pacer, 1, stop.as_ref()).await else {
                break Err((stopped_error(endpoint, "the run was stopped"), false));
            };
            match self
                .paced_attempt(
                    &pacer,
                    call,
                    request,
                    grant,
                    &mut attempts,
                    observer,
                    stop.as_ref(),
                    started,
                    &settle_cancel,
                )
                .await
            {
                Attempted::Again => {
                    // A one-token request refused without a wait to go by: retry a bounded
                    // number of times, a second apart (the pacer holds the next grant).
                    if attempts
                        .last
                        .as_ref()
                        .is_some_and(|(s, _)| *s == StatusCode::TOO_MANY_REQUESTS)
                        && pacer.status().balance >= 1.0
                    {
                        splits += 1;
                        if splits > self.inner.config.retry.max_attempts {
                            break Err((
                                ClobError::RateLimited {
                                    endpoint: endpoint.to_owned(),
                                    message: "refused by the rate limiter".to_owned(),
                                    retry_after: None,
                                    attempts: attempts.count,
                                },
                                false,
                            ));
                        }
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    request.attempt += 1;
                }
                Attempted::Ended(Paced::Answered(answer)) => break Ok(answer),
                Attempted::Ended(Paced::Failed { error, .. }) => break Err((error, false)),
                Attempted::Ended(Paced::Stopped { in_flight }) => {
                    break Err((stopped_error(endpoint, "the run was stopped"), in_flight));
                }
                Attempted::NotRecorded(reason) => {
                    break Err((stopped_error(endpoint, &reason), false));
                }
            }
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
            Ok(answer) => Ok(answer),
            Err((error, in_flight)) if attempts.ambiguous || in_flight => {
                Err(ClobError::CancelUncertain {
                    source: Box::new(error),
                })
            }
            Err((error, _)) => Err(error),
        }
    }
}
