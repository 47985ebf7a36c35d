//! One request from description to answer: the signed headers, the HTTP attempt with its size
//! bound, and the retry loop that decides whether to try again and which error ends it.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{self, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;

use super::answer::{decode, error_message, is_trading_halt, status_error};
use super::{Client, ClobError};
use crate::clob::auth::{Credentials, SigningKey};
use crate::clob::retry::{is_retryable_status, jitter, parse_retry_after};

/// Answers bigger than this are refused rather than buffered (a 500-order page is ~0.5 MB).
pub(super) const MAX_ANSWER_BYTES: usize = 64 * 1024 * 1024;
pub(super) const USER_AGENT: &str = concat!("clobscript/", env!("CARGO_PKG_VERSION"));

static POLY_ADDRESS: HeaderName = HeaderName::from_static("poly_address");
static POLY_API_KEY: HeaderName = HeaderName::from_static("poly_api_key");
static POLY_PASSPHRASE: HeaderName = HeaderName::from_static("poly_passphrase");
static POLY_TIMESTAMP: HeaderName = HeaderName::from_static("poly_timestamp");
static POLY_SIGNATURE: HeaderName = HeaderName::from_static("poly_signature");

/// The credentials in the form every signed request needs, prepared once.
pub(super) struct Signer {
    pub(super) key: SigningKey,
    pub(super) api_key: HeaderValue,
    pub(super) passphrase: HeaderValue,
    pub(super) address: HeaderValue,
}

impl Signer {
    pub(super) fn new(credentials: &Credentials) -> Result<Signer, ClobError> {
        let key = SigningKey::from_secret(&credentials.secret).map_err(|e| {
            ClobError::InvalidCredentials {
                field: "API secret",
                reason: e.to_string(),
            }
        })?;
        let header = |field: &'static str, value: &str| {
            let mut value =
                HeaderValue::from_str(value.trim()).map_err(|_| ClobError::InvalidCredentials {
                    field,
                    reason: "it contains characters an HTTP header cannot carry".to_owned(),
                })?;
            value.set_sensitive(true);
            Ok::<_, ClobError>(value)
        };
        Ok(Signer {
            key,
            api_key: header("API key", &credentials.api_key)?,
            passphrase: header("passphrase", credentials.passphrase.expose())?,
            address: header("address", &credentials.address)?,
        })
    }
}

/// One request as the client describes it before sending.
#[derive(Clone)]
pub(super) struct Call {
    pub(super) method: Method,
    /// The URL path, which is also what gets signed (never the query).
    pub(super) path: String,
    pub(super) query: Vec<(&'static str, String)>,
    /// Compact JSON, signed and sent byte for byte.
    pub(super) body: Option<String>,
    pub(super) signed: bool,
    /// Headers of this call only (the L1 wallet signature), sent as given on every attempt.
    pub(super) headers: Vec<(&'static str, HeaderValue)>,
}

impl Call {
    pub(super) fn new(method: Method, path: impl Into<String>) -> Call {
        Call {
            method,
            path: path.into(),
            query: Vec::new(),
            body: None,
            signed: false,
            headers: Vec::new(),
        }
    }

    pub(super) fn signed(mut self) -> Call {
        self.signed = true;
        self
    }

    pub(super) fn query(mut self, key: &'static str, value: &str) -> Call {
        self.query.push((key, value.to_owned()));
        self
    }

    /// Adds a filter unless it is absent or blank.
    pub(super) fn filter(mut self, key: &'static str, value: Option<&str>) -> Call {
        if let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) {
            self.query.push((key, value.to_owned()));
        }
        self
    }

    pub(super) fn json(mut self, body: String) -> Call {
        self.body = Some(body);
        self
    }

    pub(super) fn endpoint(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// A complete HTTP answer.
pub(super) struct Answer {
    pub(super) status: StatusCode,
    /// The response headers (the rate-limit headers are read from them).
    pub(super) headers: header::HeaderMap,
    pub(super) retry_after: Option<Duration>,
    pub(super) html: bool,
    pub(super) location: Option<String>,
    pub(super) body: Vec<u8>,
    pub(super) oversized: bool,
}

/// What the attempts of one request did besides producing its final result.
#[derive(Debug, Default)]
pub(super) struct Attempts {
    pub(super) count: u32,
    /// Some attempt may have reached the exchange and taken effect without us seeing the
    /// answer (5xx, broken connection, timeout, or an unreadable 2xx).
    pub(super) ambiguous: bool,
    /// The status and headers of the last attempt that got an answer (`None` after a
    /// transport failure).
    pub(super) last: Option<(StatusCode, header::HeaderMap)>,
}

/// What one attempt of a request came to.
pub(super) enum Step {
    /// A 2xx answer.
    Answered(Answer),
    /// A failure that may be retried.
    Retry(Retryable),
    /// The error that ends the request.
    Fatal(ClobError),
}

/// A failed attempt that may be retried.
pub(super) enum Retryable {
    Status { answer: Answer, message: String },
    Transport(reqwest::Error),
}

impl Retryable {
    /// Whether the failed attempt may nonetheless have taken effect: a 429 or 425 was refused
    /// up front, and a connection that never opened carried nothing.
    pub(super) fn ambiguous(&self) -> bool {
        match self {
            Retryable::Status { answer, .. } => answer.status.is_server_error(),
            Retryable::Transport(e) => !e.is_connect(),
        }
    }
}

impl Client {
    pub(super) fn signer(&self, endpoint: &str) -> Result<&Signer, ClobError> {
        self.inner
            .signer
            .as_ref()
            .ok_or_else(|| ClobError::MissingCredentials {
                endpoint: endpoint.to_owned(),
            })
    }

    /// Sends a request and decodes its JSON answer.
    pub(super) async fn fetch<T: DeserializeOwned>(&self, call: &Call) -> Result<T, ClobError> {
        let answer = self.execute(call, &mut Attempts::default()).await?;
        decode(call, &answer)
    }

    /// Sends a request with retries, returning the first 2xx answer or the error that ended it.
    pub(super) async fn execute(
        &self,
        call: &Call,
        attempts: &mut Attempts,
    ) -> Result<Answer, ClobError> {
        let policy = &self.inner.config.retry;
        let started = Instant::now();
        loop {
            let failure = match self.try_once(call, attempts).await {
                Step::Answered(answer) => return Ok(answer),
                Step::Fatal(error) => return Err(error),
                Step::Retry(failure) => failure,
            };
            let wait = self.retry_wait(&failure, attempts.count);
            if attempts.count >= policy.max_attempts
                || started.elapsed() + wait > policy.max_elapsed
            {
                return Err(self.final_error(call, failure, attempts.count));
            }
            self.note_retry(call, attempts.count, wait, &failure);
            tokio::time::sleep(wait).await;
        }
    }

    /// One attempt of a request (re-signed once more when a 401 may be a stale clock offset):
    /// a 2xx answer, a failure worth retrying, or the error that ends the request. Records in
    /// `attempts` whether it may have taken effect unseen and what the last answer's status
    /// and headers were.
    pub(super) async fn try_once(&self, call: &Call, attempts: &mut Attempts) -> Step {
        let signer = if call.signed {
            match self.signer(&call.endpoint()) {
                Ok(signer) => Some(signer),
                Err(error) => return Step::Fatal(error),
            }
        } else {
            None
        };
        let mut resynced_clock = false;
        loop {
            let timestamp = match signer {
                Some(_) => match self.timestamp().await {
                    Ok(timestamp) => Some(timestamp),
                    Err(error) => return Step::Fatal(error),
                },
                None => None,
            };
            attempts.count += 1;
            let attempt = self.attempt(call, signer.zip(timestamp)).await;
            if let Ok(answer) = &attempt {
                attempts.last = Some((answer.status, answer.headers.clone()));
            } else {
                attempts.last = None;
            }
            let failure = match attempt {
                Ok(answer) if answer.status.is_success() => return Step::Answered(answer),
                Ok(answer) if answer.status == StatusCode::UNAUTHORIZED && call.signed => {
                    if self.inner.config.use_server_time && !resynced_clock {
                        // The cached offset may be stale (the local clock jumped): read the
                        // exchange's clock again and sign once more.
                        resynced_clock = true;
                        if let Ok(offset) = self.measure_offset().await {
                            *self.inner.server_offset.lock().await = Some(offset);
                            self.inner.retries.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                    }
                    return Step::Fatal(self.unauthorized(call, error_message(&answer)).await);
                }
                Ok(answer) => {
                    let message = error_message(&answer);
                    if is_retryable_status(answer.status) && !is_trading_halt(&message) {
                        Retryable::Status { answer, message }
                    } else {
                        return Step::Fatal(status_error(call, answer, message));
                    }
                }
                Err(error) => Retryable::Transport(error),
            };
            if failure.ambiguous() {
                attempts.ambiguous = true;
            }
            return Step::Retry(failure);
        }
    }

    /// How long to wait before retrying after `failure`, the `count`th attempt.
    pub(super) fn retry_wait(&self, failure: &Retryable, count: u32) -> Duration {
        let policy = &self.inner.config.retry;
        match failure {
            Retryable::Status { answer, .. } => answer.retry_after.map(|after| {
                // Spread concurrent waiters a little past the moment the exchange named.
                after + jitter(policy.base_delay / 2)
            }),
            Retryable::Transport(_) => None,
        }
        .unwrap_or_else(|| policy.backoff(count))
    }

    /// Counts and logs a retry that is about to happen.
    pub(super) fn note_retry(&self, call: &Call, count: u32, wait: Duration, failure: &Retryable) {
        self.inner.retries.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            endpoint = %call.endpoint(),
            attempt = count,
            wait_ms = wait.as_millis() as u64,
            reason = %describe(failure),
            "retrying"
        );
    }

    /// One HTTP attempt, answer read in full.
    async fn attempt(
        &self,
        call: &Call,
        signing: Option<(&Signer, i64)>,
    ) -> Result<Answer, reqwest::Error> {
        self.inner.requests.fetch_add(1, Ordering::Relaxed);
        let url = format!("{}{}", self.inner.base, call.path);
        let mut request = self.inner.http.request(call.method.clone(), url);
        if !call.query.is_empty() {
            request = request.query(&call.query);
        }
        if let Some((signer, timestamp)) = signing {
            let signature = signer.key.sign(
                timestamp,
                call.method.as_str(),
                &call.path,
                call.body.as_deref(),
            );
            let mut signature =
                HeaderValue::from_str(&signature).unwrap_or_else(|_| HeaderValue::from_static(""));
            signature.set_sensitive(true);
            request = request
                .header(POLY_ADDRESS.clone(), signer.address.clone())
                .header(POLY_API_KEY.clone(), signer.api_key.clone())
                .header(POLY_PASSPHRASE.clone(), signer.passphrase.clone())
                .header(POLY_TIMESTAMP.clone(), timestamp)
                .header(POLY_SIGNATURE.clone(), signature);
        }
        for (name, value) in &call.headers {
            request = request.header(*name, value.clone());
        }
        if let Some(body) = &call.body {
            request = request
                .header(header::CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        let mut response = request.send().await?;
        let status = response.status();
        let headers = response.headers().clone();
        let retry_after = headers
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let html = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains("html"));
        let location = headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let expected = response
            .content_length()
            .map_or(0, |n| usize::try_from(n).unwrap_or(0).min(MAX_ANSWER_BYTES));
        let mut body = Vec::with_capacity(expected);
        let mut oversized = false;
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                oversized = true;
                break;
            }
            body.extend_from_slice(&chunk);
        }
        tracing::debug!(
            endpoint = %call.endpoint(),
            status = status.as_u16(),
            bytes = body.len(),
            "answer"
        );
        Ok(Answer {
            status,
            headers,
            retry_after,
            html,
            location,
            body,
            oversized,
        })
    }

    /// The error for a request whose retries ran out.
    pub(super) fn final_error(&self, call: &Call, failure: Retryable, attempts: u32) -> ClobError {
        let endpoint = call.endpoint();
        match failure {
            Retryable::Status { answer, message }
                if answer.status == StatusCode::TOO_MANY_REQUESTS =>
            {
                ClobError::RateLimited {
                    endpoint,
                    message,
                    retry_after: answer.retry_after,
                    attempts,
                }
            }
            Retryable::Status { answer, message } => ClobError::Unavailable {
                endpoint,
                status: answer.status.as_u16(),
                message,
                attempts,
            },
            Retryable::Transport(error) if error.is_timeout() => ClobError::Timeout {
                endpoint,
                host: self.inner.base.clone(),
                timeout: self.inner.config.timeout,
                attempts,
            },
            Retryable::Transport(error) => ClobError::Connection {
                endpoint,
                host: self.inner.base.clone(),
                detail: root_cause(&error),
                attempts,
            },
        }
    }
}

fn describe(failure: &Retryable) -> String {
    match failure {
        Retryable::Status { answer, message } => format!("{} {message}", answer.status.as_u16()),
        Retryable::Transport(error) if error.is_timeout() => "timed out".to_owned(),
        Retryable::Transport(error) => root_cause(error),
    }
}

/// The innermost cause of an error: for network failures the most specific words
/// ("connection refused", "connection closed before message completed").
pub(super) fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

pub(super) fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, ClobError> {
    serde_json::to_string(value).map_err(|e| ClobError::HttpSetup {
        detail: format!("cannot encode the request body: {e}"),
    })
}

pub(super) fn required<'a>(
    value: &'a str,
    endpoint: &str,
    what: &str,
) -> Result<&'a str, ClobError> {
    let value = value.trim();
    if value.is_empty() {
        Err(ClobError::InvalidArgument {
            endpoint: endpoint.to_owned(),
            detail: format!("{what} is required, but an empty string was given"),
        })
    } else {
        Ok(value)
    }
}

/// The order ids a cancel of a list sends: each id trimmed of spaces, blanks and repeats
/// dropped, in the order first given. Positions refer to the list it was made from.
#[derive(Debug)]
pub struct UniqueIds<'a> {
    /// Every id given, trimmed, by its position.
    texts: Vec<&'a str>,
    /// The positions of the ids sent.
    positions: Vec<usize>,
}

impl<'a> UniqueIds<'a> {
    pub fn new<S: AsRef<str>>(ids: &'a [S]) -> UniqueIds<'a> {
        let texts: Vec<&str> = ids.iter().map(|id| id.as_ref().trim()).collect();
        let mut seen = std::collections::HashSet::with_capacity_and_hasher(
            texts.len(),
            crate::util::QuickBuild::default(),
        );
        let positions = (0..texts.len())
            .filter(|&at| !texts[at].is_empty() && seen.insert(texts[at]))
            .collect();
        UniqueIds { texts, positions }
    }

    /// How many ids are sent.
    pub fn len(&self) -> usize {
        self.positions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }

    /// The positions (in the list given) of the ids sent, in their order.
    pub fn positions(&self) -> &[usize] {
        &self.positions
    }

    /// The ids sent, trimmed.
    pub fn iter(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.positions.iter().map(|&at| self.texts[at])
    }

    /// Every id given, trimmed, by its position (blanks and repeats too).
    pub(super) fn texts(&self) -> &[&'a str] {
        &self.texts
    }
}

/// The ids given, trimmed, blanks and repeats dropped, in their first order.
pub(super) fn unique_ids<S: AsRef<str>>(ids: &[S]) -> Vec<&str> {
    UniqueIds::new(ids).iter().collect()
}

/// Percent-encodes one path segment, so an id can never change the path that gets signed.
pub(super) fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(encode_segment("0xAbC-1_2.3~"), "0xAbC-1_2.3~");
        assert_eq!(encode_segment("a/b?c d"), "a%2Fb%3Fc%20d");
    }
}
