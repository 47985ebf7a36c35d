//! Injected latency and failures, for testing how clients cope. With `--fail-rate P`, that share
//! of requests fails, half of them before anything happens (500 or 503) and half after the
//! change was applied, with the response lost: either the connection drops mid-body or a 500
//! comes back. Which requests fail follows a seeded generator, so a sequential client sees the
//! same failures on every run.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::{RngExt as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;

use super::server::{ApiError, Shared, lock};

/// What happens to one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Served normally.
    None,
    /// Answered with this status before anything is done.
    Reject(StatusCode),
    /// Served (its change applied), then the response replaced by a 500.
    LoseWith500,
    /// Served (its change applied), then the connection dropped part-way through the body.
    DropConnection,
}

/// The seeded source of injected failures.
#[derive(Debug)]
pub struct FaultInjector {
    rng: ChaCha8Rng,
    rate: f64,
}

impl FaultInjector {
    pub fn new(seed: u64, rate: f64) -> FaultInjector {
        FaultInjector {
            // A stream separate from data generation, so the data is the same with or without
            // faults.
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0xfa17_fa17_fa17_fa17),
            rate: rate.clamp(0.0, 1.0),
        }
    }

    pub fn roll(&mut self) -> Fault {
        if !self.rng.random_bool(self.rate) {
            return Fault::None;
        }
        match self.rng.random_range(0..4) {
            0 => Fault::Reject(StatusCode::INTERNAL_SERVER_ERROR),
            1 => Fault::Reject(StatusCode::SERVICE_UNAVAILABLE),
            2 => Fault::LoseWith500,
            _ => Fault::DropConnection,
        }
    }
}

/// A 200 whose body stops half-way with an error, so the client sees the connection die.
fn dropped_connection() -> Response {
    let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(Bytes::from_static(b"{\"canceled\":[")),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "injected fault: connection dropped",
        )),
    ];
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(futures_util::stream::iter(chunks)))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// Counts the request, delays it, and applies its injected fault, if any. A delayed request
/// has reached the exchange: it is carried out even if the client hangs up while it waits
/// (as a stopped run does), just as an exchange does not undo a request whose caller left.
pub async fn inject(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    if shared.latency.is_some() {
        let task = tokio::spawn(delayed(shared, request, next));
        return task.await.unwrap_or_else(|_| {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "request handler failed")
                .into_response()
        });
    }
    delayed(shared, request, next).await
}

async fn delayed(shared: Arc<Shared>, request: Request, next: Next) -> Response {
    if shared.requests.fetch_add(1, Ordering::Relaxed) == 0 {
        shared.first_request.get_or_init(std::time::Instant::now);
    }
    if let Some(latency) = shared.latency {
        tokio::time::sleep(latency).await;
    }
    let fault = shared
        .faults
        .as_ref()
        .map_or(Fault::None, |injector| lock(injector).roll());
    match fault {
        Fault::None => next.run(request).await,
        Fault::Reject(status) => {
            shared.faults_rejected.fetch_add(1, Ordering::Relaxed);
            let message = if status == StatusCode::SERVICE_UNAVAILABLE {
                "injected fault: service unavailable, nothing was done"
            } else {
                "injected fault: internal error, nothing was done"
            };
            ApiError::new(status, message).into_response()
        }
        Fault::LoseWith500 | Fault::DropConnection => {
            // The handler runs to completion, so the change is applied; only the answer is lost.
            let served = next.run(request).await;
            drop(served);
            shared.faults_lost.fetch_add(1, Ordering::Relaxed);
            if fault == Fault::DropConnection {
                dropped_connection()
            } else {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "injected fault: internal error",
                )
                .into_response()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_fails_the_same_requests() {
        let rolls = |seed| {
            let mut injector = FaultInjector::new(seed, 0.3);
            (0..200).map(|_| injector.roll()).collect::<Vec<_>>()
        };
        assert_eq!(rolls(5), rolls(5));
        let all = rolls(5);
        assert!(all.contains(&Fault::None));
        assert!(all.contains(&Fault::LoseWith500));
        assert!(all.contains(&Fault::DropConnection));
        assert!(all.contains(&Fault::Reject(StatusCode::SERVICE_UNAVAILABLE)));
    }

    #[test]
    fn a_zero_rate_never_fails() {
        let mut injector = FaultInjector::new(1, 0.0);
        assert!((0..1000).all(|_| injector.roll() == Fault::None));
    }
}
