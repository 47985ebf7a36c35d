//! Why an exchange call failed, in words that tell the user what to do next.
//!
//! Every variant that comes from the exchange names the endpoint (`DELETE /orders`), and where
//! there was an answer, its HTTP status and the exchange's own `error` text. Nothing here ever
//! holds a secret: errors are built from statuses, bodies and counts, never from headers.

use std::fmt;
use std::time::Duration;

use super::types::CancelResponse;
use crate::exit::Exit;

/// A failed exchange call, with what the user should do about it in its message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClobError {
    /// An L2 endpoint was called on a client built without credentials; nothing was sent.
    #[error(
        "{endpoint} needs API credentials but none are configured: set POLY_API_KEY, \
         POLY_API_SECRET, POLY_PASSPHRASE and POLY_ADDRESS (environment, or a profile in the \
         config file)"
    )]
    MissingCredentials { endpoint: String },

    /// The credentials cannot be used to sign (secret not base64, or a value not sendable as
    /// an HTTP header). Names the field, never its value.
    #[error(
        "the {field} is not usable: {reason}; copy it again exactly as issued with the API key"
    )]
    InvalidCredentials { field: &'static str, reason: String },

    /// The configured host is not an http(s) URL.
    #[error(
        "invalid exchange host {host:?}: {reason} (expected a URL such as https://clob.polymarket.com)"
    )]
    InvalidHost { host: String, reason: String },

    /// The HTTP client could not be built (TLS setup and the like).
    #[error("cannot set up the HTTP client: {detail}")]
    HttpSetup { detail: String },

    /// A call was refused before sending because its arguments make no sense.
    #[error("{endpoint}: {detail}")]
    InvalidArgument { endpoint: String, detail: String },

    /// 401 with the local clock within the exchange's window: the credentials are wrong.
    #[error(
        "{endpoint}: the exchange rejected the credentials (401 {message}); check that \
         POLY_API_KEY, POLY_API_SECRET, POLY_PASSPHRASE and POLY_ADDRESS all belong to the same \
         API key{note}",
        note = SkewNote(*skew_secs)
    )]
    Unauthorized {
        endpoint: String,
        message: String,
        /// Exchange time minus local time when it could be read, in seconds.
        skew_secs: Option<i64>,
    },

    /// 401 with the local clock outside the exchange's window: the signature's timestamp is
    /// stale, whatever the credentials.
    #[error(
        "{endpoint}: the exchange rejected the request (401 {message}) because the local clock \
         is {skew}; synchronise the system clock (e.g. enable NTP) or sign with the exchange's \
         clock (use server time)",
        skew = SkewText(*skew_secs)
    )]
    ClockSkew {
        endpoint: String,
        message: String,
        /// Exchange time minus local time, in seconds (positive: the local clock is behind).
        skew_secs: i64,
    },

    /// 429 on every attempt.
    #[error(
        "{endpoint}: rate limited by the exchange (429 {message}) after {attempts} attempt(s){wait}; \
         send fewer requests (smaller batches, longer intervals) or wait before running again",
        wait = RetryAfterNote(*retry_after)
    )]
    RateLimited {
        endpoint: String,
        message: String,
        retry_after: Option<Duration>,
        attempts: u32,
    },

    /// 503 "cancel-only": the exchange takes cancels but no new orders.
    #[error(
        "{endpoint}: the exchange is in cancel-only mode ({status} {message}); cancels still \
         work, new orders do not; try again later"
    )]
    CancelOnly {
        endpoint: String,
        status: u16,
        message: String,
    },

    /// 503 "trading disabled".
    #[error(
        "{endpoint}: trading is disabled on the exchange ({status} {message}); check \
         polymarket.com for updates and try again later"
    )]
    TradingDisabled {
        endpoint: String,
        status: u16,
        message: String,
    },

    /// 425 or 5xx on every attempt.
    #[error(
        "{endpoint}: the exchange is unavailable ({status} {message}) after {attempts} \
         attempt(s); it may be down or overloaded, try again later"
    )]
    Unavailable {
        endpoint: String,
        status: u16,
        message: String,
        attempts: u32,
    },

    /// 404: no such order, or no book for that token.
    #[error("{endpoint}: not found (404 {message}); check the id")]
    NotFound { endpoint: String, message: String },

    /// Any other 4xx: the exchange refused the request as given; retrying would not help.
    #[error(
        "{endpoint}: the exchange refused the request ({status} {message}); check the arguments"
    )]
    Rejected {
        endpoint: String,
        status: u16,
        message: String,
    },

    /// No complete answer within the request timeout, on every attempt.
    #[error(
        "{endpoint}: no answer from {host} within {timeout} ({attempts} attempt(s)); check the \
         network and --host, or give each request longer with --request-timeout",
        timeout = humantime::format_duration(*timeout)
    )]
    Timeout {
        endpoint: String,
        host: String,
        timeout: Duration,
        attempts: u32,
    },

    /// The connection could not be made or broke, on every attempt.
    #[error(
        "{endpoint}: cannot talk to {host} ({detail}) after {attempts} attempt(s); check the \
         network connection and --host"
    )]
    Connection {
        endpoint: String,
        host: String,
        detail: String,
        attempts: u32,
    },

    /// The answer is not JSON at all (an HTML error page, plain text, garbage).
    #[error(
        "{endpoint}: the exchange answered {status} with {what} instead of JSON; check that \
         --host points at the CLOB API (a proxy or maintenance page may be in the way)",
        what = NotJsonWhat { html: *html, snippet }
    )]
    NotJson {
        endpoint: String,
        status: u16,
        html: bool,
        snippet: String,
    },

    /// JSON, but not the shape the protocol documents (or a redirect).
    #[error("{endpoint}: unexpected answer ({status}): {detail}")]
    UnexpectedResponse {
        endpoint: String,
        status: u16,
        detail: String,
    },

    /// A paginated listing that repeats a cursor or never ends.
    #[error(
        "{endpoint}: the listing did not end ({detail}); the result would be incomplete, try \
         again later"
    )]
    Pagination { endpoint: String, detail: String },

    /// A cancel call failed after an attempt that may have reached the exchange: some orders
    /// may be canceled although no answer said so.
    #[error(
        "{source}; the cancel may have taken effect anyway: re-read the open orders before \
         deciding what to do"
    )]
    CancelUncertain { source: Box<ClobError> },

    /// A cancel request that was not sent: the run was stopped, or it could not be recorded
    /// in the audit log first.
    #[error("{endpoint}: not sent: {reason}")]
    NotSent { endpoint: String, reason: String },

    /// A multi-batch cancel where some batches failed. `partial` is the merged result of the
    /// batches that got an answer; `unknown` ids were in a batch that may have reached the
    /// exchange; `unsent` ids were certainly not canceled by this call.
    #[error(
        "cancel incomplete: {} canceled, {} not canceled, {} with unknown outcome, {} not \
         attempted; re-read the open orders before cancelling again. Cause: {source}",
        partial.canceled.len(), partial.not_canceled.len(), unknown.len(), unsent.len()
    )]
    CancelIncomplete {
        partial: Box<CancelResponse>,
        unknown: Vec<String>,
        unsent: Vec<String>,
        source: Box<ClobError>,
    },
}

impl ClobError {
    /// The process exit code this failure maps to: configuration problems are usage errors
    /// (2), a call refused for its own arguments (nothing sent) is the caller's mistake (1),
    /// everything the exchange or the network caused is an API failure (3).
    pub fn exit(&self) -> Exit {
        match self {
            ClobError::MissingCredentials { .. }
            | ClobError::InvalidCredentials { .. }
            | ClobError::InvalidHost { .. } => Exit::Usage,
            ClobError::InvalidArgument { .. } => Exit::ScriptFailed,
            ClobError::CancelUncertain { source } | ClobError::CancelIncomplete { source, .. } => {
                source.exit()
            }
            _ => Exit::Api,
        }
    }

    /// The message to show a user: what failed and what to do about it.
    pub fn user_message(&self) -> String {
        self.to_string()
    }

    /// The endpoint that failed, e.g. `DELETE /orders`, when one was involved.
    pub fn endpoint(&self) -> Option<&str> {
        match self {
            ClobError::MissingCredentials { endpoint }
            | ClobError::InvalidArgument { endpoint, .. }
            | ClobError::Unauthorized { endpoint, .. }
            | ClobError::ClockSkew { endpoint, .. }
            | ClobError::RateLimited { endpoint, .. }
            | ClobError::CancelOnly { endpoint, .. }
            | ClobError::TradingDisabled { endpoint, .. }
            | ClobError::Unavailable { endpoint, .. }
            | ClobError::NotFound { endpoint, .. }
            | ClobError::Rejected { endpoint, .. }
            | ClobError::Timeout { endpoint, .. }
            | ClobError::Connection { endpoint, .. }
            | ClobError::NotJson { endpoint, .. }
            | ClobError::UnexpectedResponse { endpoint, .. }
            | ClobError::Pagination { endpoint, .. }
            | ClobError::NotSent { endpoint, .. } => Some(endpoint),
            ClobError::CancelUncertain { source } | ClobError::CancelIncomplete { source, .. } => {
                source.endpoint()
            }
            ClobError::InvalidCredentials { .. }
            | ClobError::InvalidHost { .. }
            | ClobError::HttpSetup { .. } => None,
        }
    }

    /// The HTTP status of the exchange's last answer, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClobError::Unauthorized { .. } | ClobError::ClockSkew { .. } => Some(401),
            ClobError::RateLimited { .. } => Some(429),
            ClobError::NotFound { .. } => Some(404),
            ClobError::CancelOnly { status, .. }
            | ClobError::TradingDisabled { status, .. }
            | ClobError::Unavailable { status, .. }
            | ClobError::Rejected { status, .. }
            | ClobError::NotJson { status, .. }
            | ClobError::UnexpectedResponse { status, .. } => Some(*status),
            ClobError::CancelUncertain { source } | ClobError::CancelIncomplete { source, .. } => {
                source.status()
            }
            _ => None,
        }
    }

    /// The exchange's own `error` text, when it sent one.
    pub fn server_message(&self) -> Option<&str> {
        match self {
            ClobError::Unauthorized { message, .. }
            | ClobError::ClockSkew { message, .. }
            | ClobError::RateLimited { message, .. }
            | ClobError::CancelOnly { message, .. }
            | ClobError::TradingDisabled { message, .. }
            | ClobError::Unavailable { message, .. }
            | ClobError::NotFound { message, .. }
            | ClobError::Rejected { message, .. } => Some(message),
            ClobError::CancelUncertain { source } | ClobError::CancelIncomplete { source, .. } => {
                source.server_message()
            }
            _ => None,
        }
    }
}

/// "47 s behind the exchange" / "12 s ahead of the exchange".
struct SkewText(i64);

impl fmt::Display for SkewText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            0 => f.write_str("in step with the exchange"),
            s if s > 0 => write!(f, "{s} s behind the exchange"),
            s => write!(f, "{} s ahead of the exchange", s.unsigned_abs()),
        }
    }
}

/// Mentions a clock offset that is inside the window but still worth knowing about.
struct SkewNote(Option<i64>);

impl fmt::Display for SkewNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(s) if s.abs() >= 2 => write!(f, " (note: the local clock is {})", SkewText(s)),
            _ => Ok(()),
        }
    }
}

struct RetryAfterNote(Option<Duration>);

impl fmt::Display for RetryAfterNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(d) => write!(
                f,
                " (the exchange asked to wait {})",
                humantime::format_duration(d)
            ),
            None => Ok(()),
        }
    }
}

struct NotJsonWhat<'a> {
    html: bool,
    snippet: &'a str,
}

impl fmt::Display for NotJsonWhat<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.html, self.snippet.is_empty()) {
            (true, _) => f.write_str("an HTML page"),
            (false, true) => f.write_str("an empty body"),
            (false, false) => write!(f, "{:?}", self.snippet),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_skew_message_says_direction_and_amount() {
        let behind = ClobError::ClockSkew {
            endpoint: "GET /data/orders".into(),
            message: "Unauthorized/Invalid api key".into(),
            skew_secs: 47,
        };
        assert!(
            behind
                .to_string()
                .contains("local clock is 47 s behind the exchange"),
            "{behind}"
        );
        let ahead = ClobError::ClockSkew {
            endpoint: "GET /data/orders".into(),
            message: "x".into(),
            skew_secs: -12,
        };
        assert!(ahead.to_string().contains("12 s ahead of the exchange"));
    }

    #[test]
    fn configuration_errors_are_usage_errors_and_wrapped_errors_keep_their_code() {
        let missing = ClobError::MissingCredentials {
            endpoint: "DELETE /order".into(),
        };
        assert_eq!(missing.exit(), Exit::Usage);
        let wrapped = ClobError::CancelUncertain {
            source: Box::new(ClobError::Unavailable {
                endpoint: "DELETE /orders".into(),
                status: 502,
                message: "Bad Gateway".into(),
                attempts: 3,
            }),
        };
        assert_eq!(wrapped.exit(), Exit::Api);
        assert_eq!(wrapped.status(), Some(502));
        assert_eq!(wrapped.endpoint(), Some("DELETE /orders"));
    }
}
