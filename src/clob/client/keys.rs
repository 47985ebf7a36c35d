//! The API-key endpoints: credentials from a wallet signature (L1: `POST /auth/api-key`,
//! `GET /auth/derive-api-key`), and the keys of the signed-in account (L2: `GET
//! /auth/api-keys`, `DELETE /auth/api-key`).
//!
//! An L1 request carries the four headers of [`PrivateKey::l1_headers`], signed with the
//! timestamp the client signs everything with (the local clock, or the exchange's with
//! `use_server_time`). A 401 to one is diagnosed like an L2 one: a clock outside the exchange's
//! window first, then a signature for the wrong chain (found by asking, with a read-only
//! derive, whether the other known chain's signature would pass), and only then a refusal of
//! the signature itself.

use std::fmt;

use reqwest::Method;
use reqwest::header::HeaderValue;

use super::transport::{Attempts, Call};
use super::{Client, ClobError};
use crate::clob::l1::{AMOY_CHAIN_ID, ApiCreds, POLYGON_CHAIN_ID, PrivateKey};
use crate::exit::Exit;

const CREATE_PATH: &str = "/auth/api-key";
const DERIVE_PATH: &str = "/auth/derive-api-key";
const KEYS_PATH: &str = "/auth/api-keys";

/// How [`Client::create_or_derive_api_key`] came by its credentials.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyOrigin {
    /// The exchange issued a new key.
    Created,
    /// The wallet already had a key for that nonce; it was derived.
    Derived,
}

/// Why an L1 (wallet-signed) key request failed. No variant carries any part of the private
/// key or of the credentials.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyRequestError {
    /// 401 with the clock we signed with outside the exchange's window.
    #[error(
        "{endpoint}: the exchange refused the wallet signature (401 {message}) because the local \
         clock is {skew}; synchronise the system clock (e.g. enable NTP) or sign with the \
         exchange's clock (--server-time)",
        skew = SkewText(*skew_secs)
    )]
    ClockSkew {
        endpoint: String,
        message: String,
        /// Exchange time minus local time, in seconds (positive: the local clock is behind).
        skew_secs: i64,
    },

    /// 401 for a signature over the wrong chain id, while the other known chain's passes.
    #[error(
        "{endpoint}: the exchange refused a signature for chain {chain_id}; it accepts chain \
         {accepted} ({accepted_name}): use --chain-id {accepted}",
        accepted_name = chain_name(*accepted)
    )]
    WrongChain {
        endpoint: String,
        chain_id: u64,
        accepted: u64,
    },

    /// 401 with the clock in step and no other chain accepted: the exchange does not take this
    /// wallet's signature.
    #[error(
        "{endpoint}: the exchange refused the wallet signature of {address} (401 {message}); \
         the clock is in step and the chain id is not the cause: check that --host is the CLOB \
         API and that this is the wallet's private key"
    )]
    SignatureRefused {
        endpoint: String,
        address: String,
        message: String,
    },

    /// `GET /auth/derive-api-key` answered 400: the wallet has no key for that nonce.
    #[error(
        "{endpoint}: the exchange has no API key for {address} with nonce {nonce} ({status} \
         {message}); create one with `clobscript auth create` (or give the --nonce it was \
         created with)"
    )]
    NoKey {
        endpoint: String,
        address: String,
        nonce: u64,
        status: u16,
        message: String,
    },

    /// `POST /auth/api-key` was refused and deriving the existing key was refused too.
    #[error(
        "the exchange refused to create an API key for {address} with nonce {nonce} \
         ({create_message}) and has none to derive ({derive_message}); try another --nonce"
    )]
    CreateAndDeriveRefused {
        address: String,
        nonce: u64,
        create_message: String,
        derive_message: String,
    },

    /// Everything else: network, 5xx after retries, unreadable answers, other refusals.
    #[error(transparent)]
    Clob(#[from] ClobError),
}

impl KeyRequestError {
    /// The exit code: a wrong `--chain-id` is bad input (2); everything the exchange or the
    /// network decided is an API failure (3).
    pub fn exit(&self) -> Exit {
        match self {
            KeyRequestError::WrongChain { .. } => Exit::Usage,
            KeyRequestError::Clob(error) => error.exit(),
            _ => Exit::Api,
        }
    }
}

fn chain_name(chain_id: u64) -> &'static str {
    match chain_id {
        POLYGON_CHAIN_ID => "Polygon",
        AMOY_CHAIN_ID => "Polygon Amoy",
        _ => "another chain",
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

impl Client {
    /// `GET /auth/derive-api-key`: the wallet's existing API key for `nonce`.
    pub async fn derive_api_key(
        &self,
        wallet: &PrivateKey,
        chain_id: u64,
        nonce: u64,
    ) -> Result<ApiCreds, KeyRequestError> {
        match self
            .l1_fetch(Method::GET, DERIVE_PATH, wallet, chain_id, nonce)
            .await
        {
            Err(KeyRequestError::Clob(ClobError::Rejected {
                endpoint,
                status: 400,
                message,
            })) => Err(KeyRequestError::NoKey {
                endpoint,
                address: wallet.address().checksummed(),
                nonce,
                status: 400,
                message,
            }),
            other => other,
        }
    }

    /// `POST /auth/api-key`: a new API key for the wallet and `nonce`. The exchange refuses
    /// (400) when that nonce already has one.
    pub async fn create_api_key(
        &self,
        wallet: &PrivateKey,
        chain_id: u64,
        nonce: u64,
    ) -> Result<ApiCreds, KeyRequestError> {
        self.l1_fetch(Method::POST, CREATE_PATH, wallet, chain_id, nonce)
            .await
    }

    /// Creates an API key, or derives the existing one when the exchange refuses to create a
    /// second for that nonce (what the official clients' create-or-derive does). A create whose
    /// answer was lost and whose retry was refused also ends here, with the key it made.
    pub async fn create_or_derive_api_key(
        &self,
        wallet: &PrivateKey,
        chain_id: u64,
        nonce: u64,
    ) -> Result<(ApiCreds, KeyOrigin), KeyRequestError> {
        match self.create_api_key(wallet, chain_id, nonce).await {
            Ok(creds) => Ok((creds, KeyOrigin::Created)),
            Err(KeyRequestError::Clob(ClobError::Rejected {
                status: 400,
                message: create_message,
                ..
            })) => {
                tracing::debug!(
                    message = %create_message,
                    nonce,
                    "the exchange did not create a new API key; deriving the existing one"
                );
                match self.derive_api_key(wallet, chain_id, nonce).await {
                    Ok(creds) => Ok((creds, KeyOrigin::Derived)),
                    Err(KeyRequestError::NoKey {
                        message: derive_message,
                        ..
                    }) => Err(KeyRequestError::CreateAndDeriveRefused {
                        address: wallet.address().checksummed(),
                        nonce,
                        create_message,
                        derive_message,
                    }),
                    Err(other) => Err(other),
                }
            }
            Err(other) => Err(other),
        }
    }

    /// `GET /auth/api-keys` (L2): the API keys of the signed-in address.
    pub async fn api_keys(&self) -> Result<Vec<String>, ClobError> {
        let call = Call::new(Method::GET, KEYS_PATH).signed();
        let body: serde_json::Value = self.fetch(&call).await?;
        key_list(&body).ok_or_else(|| ClobError::UnexpectedResponse {
            endpoint: call.endpoint(),
            status: 200,
            detail: "expected {\"apiKeys\": [...]}".to_owned(),
        })
    }

    /// `DELETE /auth/api-key` (L2): revokes the API key this client signs with. Later L2
    /// requests with it fail.
    pub async fn delete_api_key(&self) -> Result<(), ClobError> {
        let call = Call::new(Method::DELETE, CREATE_PATH).signed();
        self.execute(&call, &mut Attempts::default()).await?;
        Ok(())
    }

    /// One L1 request for credentials, with a 401 diagnosed.
    async fn l1_fetch(
        &self,
        method: Method,
        path: &'static str,
        wallet: &PrivateKey,
        chain_id: u64,
        nonce: u64,
    ) -> Result<ApiCreds, KeyRequestError> {
        let call = self.l1_call(method, path, wallet, chain_id, nonce).await?;
        match self.fetch::<ApiCreds>(&call).await {
            Ok(creds) => Ok(creds),
            Err(ClobError::Unauthorized { message, .. }) => Err(self
                .diagnose_l1(call.endpoint(), wallet, chain_id, nonce, message)
                .await),
            Err(error) => Err(error.into()),
        }
    }

    async fn l1_call(
        &self,
        method: Method,
        path: &'static str,
        wallet: &PrivateKey,
        chain_id: u64,
        nonce: u64,
    ) -> Result<Call, ClobError> {
        let timestamp = self.timestamp().await?;
        let headers = wallet.l1_headers(chain_id, timestamp, nonce);
        let mut call = Call::new(method, path);
        for (name, value) in headers.pairs() {
            let mut value =
                HeaderValue::from_str(value).map_err(|_| ClobError::InvalidArgument {
                    endpoint: format!("{} {path}", call.method),
                    detail: format!("the {name} header cannot be sent"),
                })?;
            value.set_sensitive(true);
            call.headers.push((name, value));
        }
        Ok(call)
    }

    /// Why an L1 request got a 401: clock skew, the wrong chain, or the signature itself.
    async fn diagnose_l1(
        &self,
        endpoint: String,
        wallet: &PrivateKey,
        chain_id: u64,
        nonce: u64,
        message: String,
    ) -> KeyRequestError {
        if let Ok(offset) = self.measure_offset().await {
            let signing_offset = if self.inner.config.use_server_time {
                self.inner.server_offset.lock().await.unwrap_or(0)
            } else {
                0
            };
            let skew_secs = offset - signing_offset;
            if skew_secs.unsigned_abs() > self.inner.config.max_clock_skew.as_secs() {
                return KeyRequestError::ClockSkew {
                    endpoint,
                    message,
                    skew_secs,
                };
            }
        }
        // A derive is a read, so it is a safe question: would the other chain's signature pass?
        // (A 400 means it passed and the wallet has no key for that nonce.)
        let other = if chain_id == POLYGON_CHAIN_ID {
            AMOY_CHAIN_ID
        } else {
            POLYGON_CHAIN_ID
        };
        if let Ok(probe) = self
            .l1_call(Method::GET, DERIVE_PATH, wallet, other, nonce)
            .await
        {
            match self.execute(&probe, &mut Attempts::default()).await {
                Ok(_)
                | Err(ClobError::Rejected {
                    status: 400..=499, ..
                }) => {
                    return KeyRequestError::WrongChain {
                        endpoint,
                        chain_id,
                        accepted: other,
                    };
                }
                Err(_) => {}
            }
        }
        KeyRequestError::SignatureRefused {
            endpoint,
            address: wallet.address().checksummed(),
            message,
        }
    }
}

/// The key ids of a `GET /auth/api-keys` answer: `{"apiKeys": [...]}` of strings, or of
/// objects naming the key (`key` / `apiKey`), as different exchange versions answer.
fn key_list(body: &serde_json::Value) -> Option<Vec<String>> {
    let list = body
        .get("apiKeys")
        .or_else(|| body.get("api_keys"))
        .unwrap_or(body)
        .as_array()?;
    list.iter()
        .map(|entry| match entry {
            serde_json::Value::String(key) => Some(key.clone()),
            serde_json::Value::Object(map) => ["key", "apiKey", "api_key"]
                .iter()
                .find_map(|field| map.get(*field)?.as_str().map(str::to_owned)),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_lists_in_every_known_shape() {
        let strings = serde_json::json!({"apiKeys": ["a", "b"]});
        assert_eq!(key_list(&strings), Some(vec!["a".into(), "b".into()]));
        let objects = serde_json::json!({"apiKeys": [{"key": "a", "secret": "s"}]});
        assert_eq!(key_list(&objects), Some(vec!["a".into()]));
        assert_eq!(key_list(&serde_json::json!({"apiKeys": []})), Some(vec![]));
        assert_eq!(key_list(&serde_json::json!({"apiKeys": [1]})), None);
        assert_eq!(key_list(&serde_json::json!("OK")), None);
    }
}
