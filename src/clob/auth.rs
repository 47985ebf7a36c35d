//! L2 authentication: the HMAC-SHA256 request signature and the five `POLY_*` headers.
//!
//! The message signed is `timestamp + METHOD + path + body` with no separator; the query string
//! is never part of it. The key is the url-safe base64 decoding of the API secret, and the
//! signature is url-safe base64 *with* padding.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub const HEADER_ADDRESS: &str = "POLY_ADDRESS";
pub const HEADER_API_KEY: &str = "POLY_API_KEY";
pub const HEADER_PASSPHRASE: &str = "POLY_PASSPHRASE";
pub const HEADER_TIMESTAMP: &str = "POLY_TIMESTAMP";
pub const HEADER_SIGNATURE: &str = "POLY_SIGNATURE";

/// A value that must never be printed: its `Debug` and `Display` are redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The raw value, for signing and for the header that carries it; never for output.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The L2 credentials of one API key.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub api_key: String,
    pub secret: Secret,
    pub passphrase: Secret,
    pub address: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error(
        "the API secret is not valid base64 (expected the url-safe base64 secret issued with the API key)"
    )]
    SecretNotBase64,
}

/// Decodes an API secret; url-safe is the documented alphabet, standard base64 is tolerated.
fn decode_secret(secret: &str) -> Result<Vec<u8>, AuthError> {
    let trimmed = secret.trim();
    URL_SAFE
        .decode(trimmed)
        .or_else(|_| STANDARD.decode(trimmed))
        .or_else(|_| {
            // Some secrets arrive without padding.
            let mut padded = trimmed.to_owned();
            while !padded.len().is_multiple_of(4) {
                padded.push('=');
            }
            URL_SAFE.decode(&padded)
        })
        .map_err(|_| AuthError::SecretNotBase64)
}

/// A signing key prepared once from a secret, so repeated requests pay only for the HMAC.
#[derive(Clone)]
pub struct SigningKey {
    mac: Hmac<Sha256>,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

impl SigningKey {
    pub fn from_secret(secret: &Secret) -> Result<Self, AuthError> {
        let key = decode_secret(secret.expose())?;
        let mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|_| AuthError::SecretNotBase64)?;
        Ok(Self { mac })
    }

    /// The `POLY_SIGNATURE` value for one request.
    pub fn sign(&self, timestamp: i64, method: &str, path: &str, body: Option<&str>) -> String {
        let mut mac = self.mac.clone();
        mac.update(timestamp.to_string().as_bytes());
        mac.update(method.as_bytes());
        mac.update(path.as_bytes());
        if let Some(body) = body {
            mac.update(body.as_bytes());
        }
        URL_SAFE.encode(mac.finalize().into_bytes())
    }

    /// Checks a received signature in constant time. Besides the exact body, the variant with
    /// every `'` replaced by `"` is accepted, because some official clients sign that form.
    pub fn verify(
        &self,
        signature: &str,
        timestamp: i64,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> bool {
        let Ok(given) = URL_SAFE.decode(signature.trim()) else {
            return false;
        };
        let check = |body: Option<&str>| {
            let mut mac = self.mac.clone();
            mac.update(timestamp.to_string().as_bytes());
            mac.update(method.as_bytes());
            mac.update(path.as_bytes());
            if let Some(body) = body {
                mac.update(body.as_bytes());
            }
            mac.verify_slice(&given).is_ok()
        };
        if check(body) {
            return true;
        }
        match body {
            Some(b) if b.contains('\'') => check(Some(&b.replace('\'', "\""))),
            _ => false,
        }
    }
}

/// Signs one request with a secret given as text (convenience over [`SigningKey`]).
pub fn sign(
    secret: &Secret,
    timestamp: i64,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> Result<String, AuthError> {
    Ok(SigningKey::from_secret(secret)?.sign(timestamp, method, path, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ZERO_SECRET: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    const TEST_SECRET: &str = "c2VjcmV0LWZvci10ZXN0cy1vbmx5LTMyLWJ5dGVzIQ==";

    fn signed(secret: &str, ts: i64, method: &str, path: &str, body: Option<&str>) -> String {
        sign(&Secret::new(secret), ts, method, path, body).expect("valid secret")
    }

    #[test]
    fn vector_body_with_space() {
        assert_eq!(
            signed(
                ZERO_SECRET,
                1_000_000,
                "test-sign",
                "/orders",
                Some(r#"{"hash": "0x123"}"#)
            ),
            "ZwAdJKvoYRlEKDkNMwd5BuwNNtg93kNaR_oU2HrfVvc="
        );
    }

    #[test]
    fn vector_compact_body() {
        assert_eq!(
            signed(
                ZERO_SECRET,
                1_000_000,
                "test-sign",
                "/orders",
                Some(r#"{"hash":"0x123"}"#)
            ),
            "4gJVbox-R6XlDK4nlaicig0_ANVL1qdcahiL8CXfXLM="
        );
    }

    #[test]
    fn vector_get_root_without_body() {
        assert_eq!(
            signed(ZERO_SECRET, 1, "GET", "/", None),
            "eHaylCwqRSOa2LFD77Nt_SaTpbsxzN8eTEI3LryhEj4="
        );
    }

    #[test]
    fn vector_cancel_one() {
        assert_eq!(
            signed(
                TEST_SECRET,
                1_764_612_536,
                "DELETE",
                "/order",
                Some(r#"{"orderID":"0xb816482a"}"#)
            ),
            "Vjzojyv0o0Jh4Lk0oHFyDejFh25wrpt6v99RR_Mg4Hc="
        );
    }

    #[test]
    fn vector_cancel_many() {
        assert_eq!(
            signed(
                TEST_SECRET,
                1_764_612_536,
                "DELETE",
                "/orders",
                Some(r#"["0xb816482a","0xc927593b"]"#)
            ),
            "GiL0V0aW9_m8c_9FpLgZEfUNXgNWq3MpXNjdVmp9q8Q="
        );
    }

    #[test]
    fn vector_open_orders() {
        assert_eq!(
            signed(TEST_SECRET, 1_764_612_536, "GET", "/data/orders", None),
            "E2rj2rEK1dMbRxA7oReBqMFMU7QYPXvdmI-Mf-0OLCE="
        );
    }

    #[test]
    fn vector_cancel_all() {
        assert_eq!(
            signed(TEST_SECRET, 1_764_612_536, "DELETE", "/cancel-all", None),
            "FD7j0Zc8rlhW69ZPyD4Uu72Q3K92PjhB44IlLU7uWmQ="
        );
    }

    #[test]
    fn vector_get_one_order() {
        assert_eq!(
            signed(
                TEST_SECRET,
                1_764_612_536,
                "GET",
                "/data/order/0xb816482a",
                None
            ),
            "wz_xni8Jjxk50P8jFZGmvI8Fp2-Qo5PxY0ruBvlzJzc="
        );
    }

    #[test]
    fn verify_accepts_own_signature_and_quote_variant() {
        let key = SigningKey::from_secret(&Secret::new(TEST_SECRET)).expect("valid secret");
        let sig = key.sign(5, "DELETE", "/order", Some(r#"{"orderID":"x"}"#));
        assert!(key.verify(&sig, 5, "DELETE", "/order", Some(r#"{"orderID":"x"}"#)));
        assert!(key.verify(&sig, 5, "DELETE", "/order", Some(r"{'orderID':'x'}")));
        assert!(!key.verify(&sig, 6, "DELETE", "/order", Some(r#"{"orderID":"x"}"#)));
        assert!(!key.verify("not base64!", 5, "DELETE", "/order", None));
    }

    #[test]
    fn secrets_never_print() {
        let creds = Credentials {
            api_key: "k".into(),
            secret: Secret::new("super-secret"),
            passphrase: Secret::new("pass-phrase"),
            address: "0xabc".into(),
        };
        let shown = format!("{creds:?}");
        assert!(
            !shown.contains("super-secret") && !shown.contains("pass-phrase"),
            "{shown}"
        );
    }

    #[test]
    fn bad_secret_is_a_clear_error() {
        assert_eq!(
            SigningKey::from_secret(&Secret::new("%%%")).unwrap_err(),
            AuthError::SecretNotBase64
        );
    }
}
