//! Answer classification: which error a non-2xx or unreadable answer is, and how it is
//! described (never more than a bounded one-line snippet of the body).

use serde::de::{DeserializeOwned, IgnoredAny};

use super::ClobError;
use super::transport::{Answer, Call, MAX_ANSWER_BYTES};
use crate::clob::types::ErrorBody;

/// The 503 answers that announce a trading state rather than a hiccup: retrying in a few
/// seconds would not change them.
pub(super) fn is_trading_halt(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    message.contains("cancel-only") || message.contains("trading is currently disabled")
}

/// The error for a non-2xx answer that is not retried.
pub(super) fn status_error(call: &Call, answer: Answer, message: String) -> ClobError {
    let endpoint = call.endpoint();
    let status = answer.status.as_u16();
    let lower = message.to_ascii_lowercase();
    if answer.status.is_redirection() {
        let target = answer.location.as_deref().unwrap_or("another URL");
        return ClobError::UnexpectedResponse {
            endpoint,
            status,
            detail: format!("redirected to {target}; use the final URL as --host"),
        };
    }
    if status == 503 && lower.contains("cancel-only") {
        return ClobError::CancelOnly {
            endpoint,
            status,
            message,
        };
    }
    if status == 503 && lower.contains("disabled") {
        return ClobError::TradingDisabled {
            endpoint,
            status,
            message,
        };
    }
    if !is_json(&answer.body) && (answer.html || !answer.body.is_empty()) {
        return not_json(call, &answer);
    }
    match status {
        401 => ClobError::Unauthorized {
            endpoint,
            message,
            skew_secs: None,
        },
        404 => ClobError::NotFound { endpoint, message },
        _ => ClobError::Rejected {
            endpoint,
            status,
            message,
        },
    }
}

/// The exchange's `error` text, or the best short description of the body.
pub(super) fn error_message(answer: &Answer) -> String {
    if let Ok(body) = serde_json::from_slice::<ErrorBody>(&answer.body) {
        return body.error;
    }
    let reason = answer.status.canonical_reason().unwrap_or("error");
    if answer.html || looks_like_html(&answer.body) {
        return format!("{reason}, as an HTML page");
    }
    let text = snippet(&answer.body);
    if text.is_empty() {
        reason.to_owned()
    } else {
        text
    }
}

pub(super) fn decode<T: DeserializeOwned>(call: &Call, answer: &Answer) -> Result<T, ClobError> {
    decode_with(call, answer, |body| serde_json::from_slice(body))
}

/// [`decode`] with the caller's own parser of the body (same checks, same errors).
pub(super) fn decode_with<T>(
    call: &Call,
    answer: &Answer,
    parse: impl FnOnce(&[u8]) -> Result<T, serde_json::Error>,
) -> Result<T, ClobError> {
    if answer.oversized {
        return Err(ClobError::UnexpectedResponse {
            endpoint: call.endpoint(),
            status: answer.status.as_u16(),
            detail: format!(
                "the answer is larger than {} MiB",
                MAX_ANSWER_BYTES / 1024 / 1024
            ),
        });
    }
    parse(&answer.body).map_err(|error| {
        if is_json(&answer.body) {
            ClobError::UnexpectedResponse {
                endpoint: call.endpoint(),
                status: answer.status.as_u16(),
                detail: format!("{error}; the exchange's API may have changed"),
            }
        } else {
            not_json(call, answer)
        }
    })
}

pub(super) fn not_json(call: &Call, answer: &Answer) -> ClobError {
    ClobError::NotJson {
        endpoint: call.endpoint(),
        status: answer.status.as_u16(),
        html: answer.html || looks_like_html(&answer.body),
        snippet: snippet(&answer.body),
    }
}

fn is_json(body: &[u8]) -> bool {
    serde_json::from_slice::<IgnoredAny>(body).is_ok()
}

fn looks_like_html(body: &[u8]) -> bool {
    body.trim_ascii_start().first() == Some(&b'<')
}

/// The start of a body as one printable line, for error messages.
pub(super) fn snippet(body: &[u8]) -> String {
    const MAX_CHARS: usize = 120;
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX_CHARS * 4)]);
    let mut out: String = text
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_CHARS)
        .collect();
    if text.trim().chars().count() > MAX_CHARS || body.len() > MAX_CHARS * 4 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_are_one_bounded_line() {
        let long = "x".repeat(1000);
        let s = snippet(long.as_bytes());
        assert!(s.chars().count() <= 121 && s.ends_with('…'));
        assert_eq!(snippet(b"  bad\r\nthing  "), "bad  thing");
    }
}
