//! API keys issued from a wallet signature: the four `/auth` endpoints.
//!
//! `POST /auth/api-key` and `GET /auth/derive-api-key` are L1: the caller proves control of
//! `POLY_ADDRESS` with an EIP-712 `ClobAuth` signature, whose signer is recovered and compared
//! with that address. One key exists per (address, nonce); its credentials are derived from
//! the simulator's seed, the address, the nonce and how many keys that pair has had, so a
//! derive is deterministic and a key created after a delete is a new one. `GET /auth/api-keys`
//! and `DELETE /auth/api-key` are L2, behind the usual middleware.
//!
//! The accounts the simulator starts with count as nonce 0 of their address, so a wallet that
//! holds one of the public demo keys derives the demo credentials, as official clients do.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE;
use sha2::{Digest as _, Sha256};

use super::server::{ApiError, Caller, Shared, lock};
use super::state::Exchange;
use crate::clob::auth::{Credentials, HEADER_ADDRESS, HEADER_SIGNATURE, HEADER_TIMESTAMP, Secret};
use crate::clob::l1::{
    AMOY_CHAIN_ID, Address, ApiCreds, ApiKeysResponse, CREATE_REFUSED, DERIVE_REFUSED,
    HEADER_NONCE, POLYGON_CHAIN_ID, recover_clob_auth_signer,
};

type Pair = (Address, u64);

/// Which API key each (address, nonce) holds, and how many it has had.
#[derive(Debug)]
pub struct KeyRegistry {
    seed: u64,
    issued: HashMap<Pair, String>,
    generations: HashMap<Pair, u32>,
}

impl KeyRegistry {
    /// Registers the starting accounts as nonce 0 of their addresses (the first account of an
    /// address wins; an address that is not 20 bytes of hex cannot sign, so it is skipped).
    pub fn new(seed: u64, exchange: &Exchange) -> KeyRegistry {
        let mut issued = HashMap::new();
        for account in &exchange.accounts {
            if let Ok(address) = Address::parse(&account.credentials.address) {
                issued
                    .entry((address, 0))
                    .or_insert_with(|| account.credentials.api_key.clone());
            }
        }
        KeyRegistry {
            seed,
            issued,
            generations: HashMap::new(),
        }
    }

    /// The credentials of generation `generation` of (address, nonce).
    fn derive(&self, (address, nonce): Pair, generation: u32) -> ApiCreds {
        let part = |label: &str| -> [u8; 32] {
            Sha256::new()
                .chain_update(b"clobscript-sim api key")
                .chain_update(self.seed.to_be_bytes())
                .chain_update(address.as_bytes())
                .chain_update(nonce.to_be_bytes())
                .chain_update(generation.to_be_bytes())
                .chain_update(label.as_bytes())
                .finalize()
                .into()
        };
        let mut uuid_bytes = [0u8; 16];
        uuid_bytes.copy_from_slice(&part("key")[..16]);
        ApiCreds {
            api_key: uuid::Builder::from_random_bytes(uuid_bytes)
                .into_uuid()
                .to_string(),
            secret: Secret::new(URL_SAFE.encode(part("secret"))),
            passphrase: Secret::new(hex::encode(part("passphrase"))),
        }
    }

    /// Forgets whichever pair holds `api_key`, so that pair can create a new key.
    fn forget(&mut self, api_key: &str) {
        self.issued.retain(|_, key| key != api_key);
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, String> {
    headers
        .get(name)
        .map(|value| {
            value
                .to_str()
                .map(str::trim)
                .map_err(|_| format!("header {name} is not text"))
        })
        .transpose()
}

fn required<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, String> {
    header(headers, name)?.ok_or_else(|| format!("missing header {name}"))
}

/// Checks the four L1 headers; the answer is the proven (address, nonce).
fn authenticate_l1(shared: &Shared, headers: &HeaderMap) -> Result<Pair, String> {
    let claimed = required(headers, HEADER_ADDRESS)?;
    let address = Address::parse(claimed).map_err(|e| e.to_string())?;
    let timestamp_text = required(headers, HEADER_TIMESTAMP)?;
    let timestamp: i64 = timestamp_text
        .parse()
        .map_err(|_| format!("{HEADER_TIMESTAMP} {timestamp_text:?} is not Unix seconds"))?;
    let now = shared.clock.now();
    let window = shared.auth_window.as_secs();
    if now.abs_diff(timestamp) > window {
        return Err(format!(
            "{HEADER_TIMESTAMP} {timestamp} is {}s away from the exchange clock {now} (window {window}s)",
            timestamp - now
        ));
    }
    // Official clients always send a nonce; without one, it is 0 as their default.
    let nonce = match header(headers, HEADER_NONCE)? {
        None | Some("") => 0,
        Some(text) => text
            .parse::<u64>()
            .map_err(|_| format!("{HEADER_NONCE} {text:?} is not a whole number"))?,
    };
    let signature = required(headers, HEADER_SIGNATURE)?;
    let signer =
        recover_clob_auth_signer(POLYGON_CHAIN_ID, &address, timestamp_text, nonce, signature)
            .map_err(|e| e.to_string())?;
    if signer == address {
        return Ok((address, nonce));
    }
    let amoy = recover_clob_auth_signer(AMOY_CHAIN_ID, &address, timestamp_text, nonce, signature);
    if amoy.is_ok_and(|signer| signer == address) {
        return Err(format!(
            "the signature is for chain {AMOY_CHAIN_ID} (Amoy); this exchange is chain {POLYGON_CHAIN_ID}"
        ));
    }
    Err(format!(
        "the ClobAuth signature is not {address}'s (it recovers to {signer})"
    ))
}

fn l1_pair(shared: &Shared, headers: &HeaderMap) -> Result<Pair, ApiError> {
    authenticate_l1(shared, headers).map_err(|reason| {
        tracing::debug!(%reason, "rejected L1 request: 401");
        ApiError::unauthorized()
    })
}

/// `POST /auth/api-key` (L1): issues the pair's key, or 400 when it already has one.
pub async fn create_api_key(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
) -> Result<Json<ApiCreds>, ApiError> {
    let pair = l1_pair(&shared, &headers)?;
    let mut keys = lock(&shared.keys);
    if keys.issued.contains_key(&pair) {
        return Err(ApiError::bad_request(CREATE_REFUSED));
    }
    let generation = keys.generations.get(&pair).copied().unwrap_or(0);
    let creds = keys.derive(pair, generation);
    shared
        .exchange()
        .add_account(creds.clone().into_credentials(&pair.0))
        .map_err(|error| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("could not issue the API key: {error}"),
            )
        })?;
    keys.issued.insert(pair, creds.api_key.clone());
    keys.generations.insert(pair, generation + 1);
    Ok(Json(creds))
}

/// `GET /auth/derive-api-key` (L1): the pair's existing key, or 400 when it has none.
pub async fn derive_api_key(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
) -> Result<Json<ApiCreds>, ApiError> {
    let pair = l1_pair(&shared, &headers)?;
    let keys = lock(&shared.keys);
    let refused = || ApiError::bad_request(DERIVE_REFUSED);
    let api_key = keys.issued.get(&pair).ok_or_else(refused)?;
    let exchange = shared.exchange();
    let account = exchange.account_by_key(api_key).ok_or_else(refused)?;
    let Credentials {
        api_key,
        secret,
        passphrase,
        ..
    } = exchange.accounts[account].credentials.clone();
    Ok(Json(ApiCreds {
        api_key,
        secret,
        passphrase,
    }))
}

/// `GET /auth/api-keys` (L2): every key that authenticates for the caller's address.
pub async fn api_keys(
    State(shared): State<Arc<Shared>>,
    Extension(Caller(account)): Extension<Caller>,
) -> Json<ApiKeysResponse> {
    let exchange = shared.exchange();
    let address = &exchange.accounts[account].credentials.address;
    Json(ApiKeysResponse {
        api_keys: exchange.keys_of_address(address),
    })
}

/// `GET /auth/ban-status/closed-only` (L2): whether the account may only close positions.
/// The official clients ask it (`get_closed_only_mode`, `getClosedOnlyMode`); the simulator
/// restricts no account.
pub async fn closed_only() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "closed_only": false }))
}

/// `DELETE /auth/api-key` (L2): revokes the key that signed the request.
pub async fn delete_api_key(
    State(shared): State<Arc<Shared>>,
    Extension(Caller(account)): Extension<Caller>,
) -> Json<&'static str> {
    let mut keys = lock(&shared.keys);
    let mut exchange = shared.exchange();
    let api_key = exchange.accounts[account].credentials.api_key.clone();
    exchange.revoke_key(&api_key);
    keys.forget(&api_key);
    Json("OK")
}
