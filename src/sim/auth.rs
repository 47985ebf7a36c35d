//! L2 verification of the five `POLY_*` headers, as a middleware in front of every private
//! endpoint. Any failure answers 401 with the exchange's one message; the reason goes to the
//! debug log only (never a secret).

use std::sync::Arc;

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::server::{ApiError, Caller, Shared};
use super::state::AccountNo;
use crate::clob::auth::{
    HEADER_ADDRESS, HEADER_API_KEY, HEADER_PASSPHRASE, HEADER_SIGNATURE, HEADER_TIMESTAMP,
};

/// Large enough for 3000 ids of 66 characters, with room for variants.
const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, String> {
    headers
        .get(name)
        .ok_or_else(|| format!("missing header {name}"))?
        .to_str()
        .map(str::trim)
        .map_err(|_| format!("header {name} is not text"))
}

/// The body as the Python client signs it when a value is `None`/`True`/`False`: it signs
/// `str(body)` (Python literals) but sends JSON (`null`/`true`/`false`).
fn python_repr(body: &str) -> Option<String> {
    let has_literal = ["null", "true", "false"].iter().any(|l| body.contains(l));
    has_literal.then(|| {
        body.replace("null", "None")
            .replace("true", "True")
            .replace("false", "False")
    })
}

/// Checks one request's L2 headers; the same signature may be reused within the window.
fn authenticate(
    shared: &Shared,
    headers: &HeaderMap,
    method: &str,
    path: &str,
    body: &[u8],
) -> Result<AccountNo, String> {
    let address = header(headers, HEADER_ADDRESS)?;
    let api_key = header(headers, HEADER_API_KEY)?;
    let passphrase = header(headers, HEADER_PASSPHRASE)?;
    let timestamp = header(headers, HEADER_TIMESTAMP)?;
    let signature = header(headers, HEADER_SIGNATURE)?;
    let timestamp: i64 = timestamp
        .parse()
        .map_err(|_| format!("{HEADER_TIMESTAMP} {timestamp:?} is not Unix seconds"))?;
    let now = shared.clock.now();
    let window = i64::try_from(shared.auth_window.as_secs()).unwrap_or(i64::MAX);
    if now.abs_diff(timestamp) > window.unsigned_abs() {
        return Err(format!(
            "{HEADER_TIMESTAMP} {timestamp} is {}s away from the exchange clock {now} (window {window}s)",
            timestamp - now
        ));
    }
    let body = match body {
        [] => None,
        bytes => Some(std::str::from_utf8(bytes).map_err(|_| "body is not UTF-8".to_owned())?),
    };
    let exchange = shared.exchange();
    let account_no = exchange
        .account_by_key(api_key)
        .ok_or_else(|| format!("unknown API key {api_key}"))?;
    let account = &exchange.accounts[account_no];
    if account.credentials.passphrase.expose() != passphrase {
        return Err(format!("wrong passphrase for API key {api_key}"));
    }
    if !account.credentials.address.eq_ignore_ascii_case(address) {
        return Err(format!(
            "address {address} is not the one of API key {api_key}"
        ));
    }
    let key = &account.signing_key;
    let python_variant = body.and_then(python_repr);
    if !key.verify(signature, timestamp, method, path, body)
        && !python_variant
            .is_some_and(|text| key.verify(signature, timestamp, method, path, Some(&text)))
    {
        return Err(format!("signature does not match {method} {path}"));
    }
    Ok(account_no)
}

/// Buffers the body (it is part of the signed message), authenticates, and hands the request
/// on with its [`Caller`].
pub async fn require_l2(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let Ok(bytes): Result<Bytes, _> = to_bytes(body, MAX_BODY_BYTES).await else {
        return ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body unreadable or larger than {MAX_BODY_BYTES} bytes"),
        )
        .into_response();
    };
    match authenticate(
        &shared,
        &parts.headers,
        parts.method.as_str(),
        parts.uri.path(),
        &bytes,
    ) {
        Ok(account) => {
            parts.extensions.insert(Caller(account));
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(reason) => {
            tracing::debug!(%reason, "rejected request: 401");
            ApiError::unauthorized().into_response()
        }
    }
}
