//! L1 authentication: proving control of a wallet to create or derive API credentials.
//!
//! The proof is an EIP-712 signature by the wallet's secp256k1 key over a `ClobAuth` struct
//! (`address`, `timestamp`, `nonce`, a fixed attestation message) in the `ClobAuthDomain`
//! domain, which has a chain id but no verifying contract. It travels in four headers:
//! `POLY_ADDRESS`, `POLY_SIGNATURE` (65 bytes, `0x` hex, `v` = 27/28), `POLY_TIMESTAMP` (Unix
//! seconds) and `POLY_NONCE`. The exchange answers with the three L2 credentials.
//!
//! Both sides live here: signing for the client, signer recovery for the simulator.

use std::fmt;
use std::str::FromStr;

use k256::ecdsa::{RecoveryId, Signature, SigningKey as WalletKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use tiny_keccak::{Hasher as _, Keccak};
use zeroize::Zeroizing;

use super::auth::{
    Credentials, HEADER_ADDRESS, HEADER_SIGNATURE, HEADER_TIMESTAMP, Secret, SigningKey,
};

pub const HEADER_NONCE: &str = "POLY_NONCE";
/// Polygon mainnet, the exchange's chain.
pub const POLYGON_CHAIN_ID: u64 = 137;
/// Polygon's Amoy test network, which official clients also accept.
pub const AMOY_CHAIN_ID: u64 = 80002;
pub const DOMAIN_NAME: &str = "ClobAuthDomain";
pub const DOMAIN_VERSION: &str = "1";
/// The `message` field every L1 signature attests.
pub const ATTESTATION: &str = "This message attests that I control the given wallet";

/// The exchange's 400 answer to `POST /auth/api-key` when the (address, nonce) already has a
/// key; official clients then derive it.
pub const CREATE_REFUSED: &str = "Could not create api key";
/// The exchange's 400 answer to `GET /auth/derive-api-key` when the (address, nonce) has no key.
pub const DERIVE_REFUSED: &str = "Could not derive api key!";

const DOMAIN_TYPE: &str = "EIP712Domain(string name,string version,uint256 chainId)";
const CLOB_AUTH_TYPE: &str =
    "ClobAuth(address address,string timestamp,uint256 nonce,string message)";

/// Keccak-256 of the concatenated parts.
pub fn keccak256(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Keccak::v256();
    for part in parts {
        hasher.update(part);
    }
    let mut out = [0u8; 32];
    hasher.finalize(&mut out);
    out
}

/// A number as an ABI `uint256` word (big-endian, left-padded).
fn uint_word(value: u64) -> [u8; 32] {
    let mut word = [0u8; 32];
    word[24..].copy_from_slice(&value.to_be_bytes());
    word
}

fn strip_0x(text: &str) -> &str {
    text.strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text)
}

/// A 20-byte account address. Displays EIP-55 checksummed; parses any letter case.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address([u8; 20]);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AddressError {
    #[error("address {0:?} is not 0x followed by 40 hex digits")]
    Malformed(String),
}

impl Address {
    pub fn from_bytes(bytes: [u8; 20]) -> Address {
        Address(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 20] {
        &self.0
    }

    /// Parses `0x` + 40 hex digits (the `0x` may be left out), in any letter case.
    pub fn parse(text: &str) -> Result<Address, AddressError> {
        let malformed = || AddressError::Malformed(text.to_owned());
        let digits = strip_0x(text.trim());
        if digits.len() != 40 {
            return Err(malformed());
        }
        let mut bytes = [0u8; 20];
        hex::decode_to_slice(digits, &mut bytes).map_err(|_| malformed())?;
        Ok(Address(bytes))
    }

    /// The address of a public key: the last 20 bytes of the Keccak-256 of its uncompressed
    /// point (without the leading `04`).
    fn of_key(key: &VerifyingKey) -> Address {
        let point = key.to_sec1_point(false);
        let hash = keccak256(&[&point.as_bytes()[1..]]);
        let mut bytes = [0u8; 20];
        bytes.copy_from_slice(&hash[12..]);
        Address(bytes)
    }

    /// EIP-55: a hex letter is upper case when the matching nibble of the Keccak-256 of the
    /// lower-case hex is 8 or more.
    pub fn checksummed(&self) -> String {
        let lower = hex::encode(self.0);
        let hash = keccak256(&[lower.as_bytes()]);
        let mut out = String::with_capacity(42);
        out.push_str("0x");
        for (i, c) in lower.chars().enumerate() {
            let nibble = (hash[i / 2] >> (if i % 2 == 0 { 4 } else { 0 })) & 0x0f;
            out.push(if nibble >= 8 {
                c.to_ascii_uppercase()
            } else {
                c
            });
        }
        out
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.checksummed())
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({})", self.checksummed())
    }
}

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(text: &str) -> Result<Address, AddressError> {
        Address::parse(text)
    }
}

/// Why a private key was refused. No variant carries any part of the key.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("the private key is empty")]
    Empty,
    #[error(
        "the private key is not hexadecimal: expected 64 hex digits (32 bytes), with or without 0x"
    )]
    NotHex,
    #[error(
        "the private key has 40 hex digits: that is an address, not a private key (expected 64 hex digits)"
    )]
    LooksLikeAddress,
    #[error("the private key has {digits} hex digits; expected 64 (32 bytes), with or without 0x")]
    WrongLength { digits: usize },
    #[error("the private key is not a valid secp256k1 key (zero, or not below the curve order)")]
    OutOfRange,
}

/// A wallet's private key. It never prints itself: `Debug` shows only the address.
#[derive(Clone)]
pub struct PrivateKey {
    key: WalletKey,
    address: Address,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("address", &self.address)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl PrivateKey {
    /// Parses 64 hex digits, with or without `0x`; surrounding whitespace (a trailing newline
    /// from a key file) is ignored.
    pub fn parse(text: &str) -> Result<PrivateKey, KeyError> {
        let digits = strip_0x(text.trim());
        if digits.is_empty() {
            return Err(KeyError::Empty);
        }
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(KeyError::NotHex);
        }
        match digits.len() {
            64 => {}
            40 => return Err(KeyError::LooksLikeAddress),
            digits => return Err(KeyError::WrongLength { digits }),
        }
        let mut bytes = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(digits, &mut *bytes).map_err(|_| KeyError::NotHex)?;
        let key = WalletKey::from_slice(&*bytes).map_err(|_| KeyError::OutOfRange)?;
        let address = Address::of_key(key.verifying_key());
        Ok(PrivateKey { key, address })
    }

    pub fn address(&self) -> Address {
        self.address
    }

    /// The EIP-712 `ClobAuth` signature: 65 bytes `r ‖ s ‖ v` (v = 27 or 28) as `0x` hex.
    pub fn sign_clob_auth(&self, chain_id: u64, timestamp: &str, nonce: u64) -> String {
        let digest = clob_auth_digest(chain_id, &self.address, timestamp, nonce);
        let (signature, recovery) = self.key.sign_prehash_recoverable(&digest);
        // The signer already returns the low-s form Ethereum expects.
        let mut bytes = [0u8; 65];
        bytes[..64].copy_from_slice(&signature.to_bytes());
        bytes[64] = 27 + recovery.to_byte();
        format!("0x{}", hex::encode(bytes))
    }

    /// The four L1 headers for one request.
    pub fn l1_headers(&self, chain_id: u64, timestamp: i64, nonce: u64) -> L1Headers {
        let timestamp = timestamp.to_string();
        L1Headers {
            address: self.address.checksummed(),
            signature: self.sign_clob_auth(chain_id, &timestamp, nonce),
            timestamp,
            nonce: nonce.to_string(),
        }
    }
}

/// The EIP-712 digest an L1 signature signs: `keccak256(0x19 0x01 ‖ domainSeparator ‖
/// hashStruct(ClobAuth))`. `timestamp` is the header's text, signed as a string.
pub fn clob_auth_digest(chain_id: u64, address: &Address, timestamp: &str, nonce: u64) -> [u8; 32] {
    let domain = keccak256(&[
        &keccak256(&[DOMAIN_TYPE.as_bytes()]),
        &keccak256(&[DOMAIN_NAME.as_bytes()]),
        &keccak256(&[DOMAIN_VERSION.as_bytes()]),
        &uint_word(chain_id),
    ]);
    let mut address_word = [0u8; 32];
    address_word[12..].copy_from_slice(address.as_bytes());
    let clob_auth = keccak256(&[
        &keccak256(&[CLOB_AUTH_TYPE.as_bytes()]),
        &address_word,
        &keccak256(&[timestamp.as_bytes()]),
        &uint_word(nonce),
        &keccak256(&[ATTESTATION.as_bytes()]),
    ]);
    keccak256(&[&[0x19, 0x01], &domain, &clob_auth])
}

/// Why a `POLY_SIGNATURE` could not be read or recovered.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("the signature is not 0x followed by hex digits")]
    NotHex,
    #[error("the signature has {bytes} bytes; expected 65 (r, s, v)")]
    WrongLength { bytes: usize },
    #[error("the signature's recovery byte v is {0}; expected 27 or 28 (or 0 or 1)")]
    RecoveryByte(u8),
    #[error("no public key can be recovered from the signature")]
    Unrecoverable,
}

/// The address whose key made `signature` over the `ClobAuth` of (`claimed`, `timestamp`,
/// `nonce`) on `chain_id`. The caller compares it with `claimed`: any other address means the
/// signature is not `claimed`'s.
pub fn recover_clob_auth_signer(
    chain_id: u64,
    claimed: &Address,
    timestamp: &str,
    nonce: u64,
    signature: &str,
) -> Result<Address, SignatureError> {
    let digits = strip_0x(signature.trim());
    let bytes = hex::decode(digits).map_err(|_| SignatureError::NotHex)?;
    if bytes.len() != 65 {
        return Err(SignatureError::WrongLength { bytes: bytes.len() });
    }
    let parity = match bytes[64] {
        0 | 27 => false,
        1 | 28 => true,
        other => return Err(SignatureError::RecoveryByte(other)),
    };
    let signature =
        Signature::from_slice(&bytes[..64]).map_err(|_| SignatureError::Unrecoverable)?;
    // Ethereum's ecrecover accepts the high-s twin of a signature; so does this.
    let (signature, parity) = match signature.normalize_s() {
        normalized if normalized != signature => (normalized, !parity),
        same => (same, parity),
    };
    let digest = clob_auth_digest(chain_id, claimed, timestamp, nonce);
    let key =
        VerifyingKey::recover_from_prehash(&digest, &signature, RecoveryId::new(parity, false))
            .map_err(|_| SignatureError::Unrecoverable)?;
    Ok(Address::of_key(&key))
}

/// The four L1 headers of one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct L1Headers {
    /// Checksummed, as the official clients send it.
    pub address: String,
    pub signature: String,
    pub timestamp: String,
    pub nonce: String,
}

impl L1Headers {
    /// (header name, value) pairs, ready to put on a request.
    pub fn pairs(&self) -> [(&'static str, &str); 4] {
        [
            (HEADER_ADDRESS, &self.address),
            (HEADER_SIGNATURE, &self.signature),
            (HEADER_TIMESTAMP, &self.timestamp),
            (HEADER_NONCE, &self.nonce),
        ]
    }
}

/// The credentials `POST /auth/api-key` and `GET /auth/derive-api-key` answer with
/// (`{"apiKey","secret","passphrase"}`). `Debug` hides the secret and the passphrase.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "ApiCredsWire", into = "ApiCredsWire")]
pub struct ApiCreds {
    pub api_key: String,
    pub secret: Secret,
    pub passphrase: Secret,
}

#[derive(Serialize, Deserialize)]
struct ApiCredsWire {
    #[serde(rename = "apiKey")]
    api_key: String,
    secret: String,
    passphrase: String,
}

impl From<ApiCredsWire> for ApiCreds {
    fn from(wire: ApiCredsWire) -> ApiCreds {
        ApiCreds {
            api_key: wire.api_key,
            secret: Secret::new(wire.secret),
            passphrase: Secret::new(wire.passphrase),
        }
    }
}

impl From<ApiCreds> for ApiCredsWire {
    fn from(creds: ApiCreds) -> ApiCredsWire {
        ApiCredsWire {
            api_key: creds.api_key,
            secret: creds.secret.expose().to_owned(),
            passphrase: creds.passphrase.expose().to_owned(),
        }
    }
}

impl fmt::Debug for ApiCreds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiCreds")
            .field("api_key", &self.api_key)
            .field("secret", &self.secret)
            .field("passphrase", &self.passphrase)
            .finish()
    }
}

impl ApiCreds {
    /// The L2 credentials of `address` (the wallet that signed for them).
    pub fn into_credentials(self, address: &Address) -> Credentials {
        Credentials {
            api_key: self.api_key,
            secret: self.secret,
            passphrase: self.passphrase,
            address: address.checksummed(),
        }
    }

    /// Whether the secret can sign L2 requests (it is base64).
    pub fn is_usable(&self) -> bool {
        SigningKey::from_secret(&self.secret).is_ok()
    }
}

/// `GET /auth/api-keys`: the API keys of the signer's address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeysResponse {
    #[serde(rename = "apiKeys", default)]
    pub api_keys: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    // Hardhat/Anvil accounts #0 and #1: public test keys printed by every Ethereum dev tool.
    const ANVIL_0_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
    const ANVIL_0_ADDRESS: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
    const ANVIL_1_KEY: &str = "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
    const ANVIL_1_ADDRESS: &str = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";

    /// (key, chain id, timestamp, nonce, POLY_SIGNATURE) as py-clob-client-v2's
    /// `create_level_1_headers` produced them.
    const OFFICIAL_VECTORS: [(&str, u64, i64, u64, &str); 5] = [
        (
            ANVIL_0_KEY,
            137,
            1_700_000_000,
            0,
            "0x659ed4b28ae28e0f038fdf0023c00863c9559caacb9ebc83f44eea87059a099a36f1e1dee110e7faa1c4f65d17489b2da1333ebef78bbe2116d81207b975052d1c",
        ),
        (
            ANVIL_0_KEY,
            137,
            1_764_612_536,
            7,
            "0x91512c1b06a0425d608f834472f88a71bd249c8745b769213c663d8ce9add4a36ad117f145e254384ebd839bfae1bba7635de32b316e5d2c064d64aa1dacef201b",
        ),
        (
            ANVIL_1_KEY,
            137,
            1_700_000_000,
            0,
            "0xa6eac9a1927262c9ea8ff8e59f701392c16873a714b0f976f1481df77b438a1829c5e7fc70854d68b320b4ca7beff251202adb8ff00ad00456eab408e3a95ce41c",
        ),
        (
            ANVIL_1_KEY,
            137,
            1,
            u64::MAX,
            "0x3d22ebcb022441c7fab6548ec1f8c110b11f8c58cb835a9b9becdfdf506c1d812a7fd99d99ab4fbedf7b69bed2f0fa893e33b4522190ddb6f1a3c5a9ff066dba1c",
        ),
        (
            ANVIL_0_KEY,
            80002,
            1_700_000_000,
            0,
            "0xd5b20a55fe51f11c940c58e655bab4f75f22d5e182b8cc8d61f428940c72f6f02025751a47308c46c07fbf48ad31a3e79a06c9d339c7de674368a7253c6c50631b",
        ),
    ];

    fn key(text: &str) -> PrivateKey {
        PrivateKey::parse(text).expect("a valid test key")
    }

    #[test]
    fn addresses_of_public_test_keys_are_checksummed() {
        assert_eq!(key(ANVIL_0_KEY).address().to_string(), ANVIL_0_ADDRESS);
        assert_eq!(key(ANVIL_1_KEY).address().to_string(), ANVIL_1_ADDRESS);
        let one = "0x0000000000000000000000000000000000000000000000000000000000000001";
        assert_eq!(
            key(one).address().to_string(),
            "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"
        );
    }

    #[test]
    fn signatures_match_the_official_python_client() {
        for (text, chain, timestamp, nonce, expected) in OFFICIAL_VECTORS {
            let headers = key(text).l1_headers(chain, timestamp, nonce);
            assert_eq!(
                headers.signature, expected,
                "{text} {chain} {timestamp} {nonce}"
            );
            assert_eq!(headers.timestamp, timestamp.to_string());
            assert_eq!(headers.nonce, nonce.to_string());
        }
    }

    #[test]
    fn headers_carry_the_checksummed_address_and_the_four_names() {
        let headers = key(ANVIL_0_KEY).l1_headers(137, 1_700_000_000, 0);
        let names: Vec<_> = headers.pairs().iter().map(|(name, _)| *name).collect();
        assert_eq!(
            names,
            [
                "POLY_ADDRESS",
                "POLY_SIGNATURE",
                "POLY_TIMESTAMP",
                "POLY_NONCE"
            ]
        );
        assert_eq!(headers.address, ANVIL_0_ADDRESS);
    }

    #[test]
    fn recovery_finds_the_signer_of_official_signatures() {
        for (text, chain, timestamp, nonce, signature) in OFFICIAL_VECTORS {
            let address = key(text).address();
            let recovered =
                recover_clob_auth_signer(chain, &address, &timestamp.to_string(), nonce, signature);
            assert_eq!(recovered, Ok(address));
        }
    }

    #[test]
    fn recovery_of_a_signature_for_other_fields_gives_another_address() {
        let (text, chain, _, nonce, signature) = OFFICIAL_VECTORS[0];
        let address = key(text).address();
        let other_time = recover_clob_auth_signer(chain, &address, "1700000001", nonce, signature);
        assert!(other_time.is_ok_and(|a| a != address));
        let other_chain =
            recover_clob_auth_signer(AMOY_CHAIN_ID, &address, "1700000000", nonce, signature);
        assert!(other_chain.is_ok_and(|a| a != address));
    }

    #[test]
    fn recovery_accepts_the_high_s_twin_and_v_as_0_or_1() {
        let (text, chain, timestamp, nonce, signature) = OFFICIAL_VECTORS[0];
        let address = key(text).address();
        let bytes = hex::decode(&signature[2..]).expect("hex");
        let low = Signature::from_slice(&bytes[..64]).expect("signature");
        let (r, s) = low.split_scalars();
        let high = Signature::from_scalars(r.to_bytes(), (-*s).to_bytes()).expect("twin");
        let mut twin = high.to_bytes().to_vec();
        twin.push(if bytes[64] == 27 { 28 } else { 27 });
        let recovered = recover_clob_auth_signer(
            chain,
            &address,
            &timestamp.to_string(),
            nonce,
            &hex::encode(&twin),
        );
        assert_eq!(recovered, Ok(address));
        let mut zero_based = bytes.clone();
        zero_based[64] -= 27;
        let recovered = recover_clob_auth_signer(
            chain,
            &address,
            &timestamp.to_string(),
            nonce,
            &hex::encode(zero_based),
        );
        assert_eq!(recovered, Ok(address));
    }

    #[test]
    fn malformed_signatures_are_errors() {
        let address = key(ANVIL_0_KEY).address();
        let recover = |s: &str| recover_clob_auth_signer(137, &address, "1", 0, s);
        assert_eq!(recover("0xzz"), Err(SignatureError::NotHex));
        assert_eq!(
            recover("0x1234"),
            Err(SignatureError::WrongLength { bytes: 2 })
        );
        let mut bad_v = OFFICIAL_VECTORS[0].4.to_owned();
        bad_v.replace_range(130.., "05");
        assert_eq!(recover(&bad_v), Err(SignatureError::RecoveryByte(5)));
        assert_eq!(
            recover(&format!("0x{}", "00".repeat(65))),
            Err(SignatureError::Unrecoverable)
        );
    }

    #[test]
    fn keys_parse_with_or_without_0x_and_whitespace() {
        let bare = key(&ANVIL_0_KEY[2..]);
        let padded = key(&format!(
            "  {}\n",
            ANVIL_0_KEY.to_uppercase().replace("0X", "0x")
        ));
        assert_eq!(bare.address(), padded.address());
    }

    #[test]
    fn bad_keys_get_their_own_messages() {
        assert_eq!(PrivateKey::parse("").map(|_| ()), Err(KeyError::Empty));
        assert_eq!(PrivateKey::parse("0x").map(|_| ()), Err(KeyError::Empty));
        assert_eq!(
            PrivateKey::parse("0xnot-a-key").map(|_| ()),
            Err(KeyError::NotHex)
        );
        assert_eq!(
            PrivateKey::parse(ANVIL_0_ADDRESS).map(|_| ()),
            Err(KeyError::LooksLikeAddress)
        );
        assert_eq!(
            PrivateKey::parse("0xabc").map(|_| ()),
            Err(KeyError::WrongLength { digits: 3 })
        );
        assert_eq!(
            PrivateKey::parse(&"0".repeat(64)).map(|_| ()),
            Err(KeyError::OutOfRange)
        );
        let order = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";
        assert_eq!(
            PrivateKey::parse(order).map(|_| ()),
            Err(KeyError::OutOfRange)
        );
    }

    #[test]
    fn key_errors_never_quote_the_key() {
        let almost = format!("{}g", &ANVIL_0_KEY[..65]);
        let error = PrivateKey::parse(&almost).expect_err("not hex");
        assert!(!error.to_string().contains(&ANVIL_0_KEY[2..20]));
    }

    #[test]
    fn debug_never_shows_the_key_or_secrets() {
        let printed = format!("{:?}", key(ANVIL_0_KEY));
        assert!(!printed.contains(&ANVIL_0_KEY[2..]), "{printed}");
        assert!(printed.contains(ANVIL_0_ADDRESS), "{printed}");
        let creds: ApiCreds = serde_json::from_str(
            r#"{"apiKey":"1b7d2a9c-0000-4000-8000-000000000001","secret":"c2VjcmV0LXZhbHVl","passphrase":"pass-value"}"#,
        )
        .expect("creds");
        let printed = format!("{creds:?}");
        assert!(printed.contains("1b7d2a9c"), "{printed}");
        assert!(!printed.contains("c2VjcmV0LXZhbHVl") && !printed.contains("pass-value"));
    }

    #[test]
    fn creds_round_trip_the_exchange_json() {
        let text = r#"{"apiKey":"k","secret":"s","passphrase":"p"}"#;
        let creds: ApiCreds = serde_json::from_str(text).expect("creds");
        assert_eq!(creds.secret.expose(), "s");
        assert_eq!(serde_json::to_string(&creds).expect("json"), text);
    }

    #[test]
    fn addresses_parse_in_any_case() {
        let lower = Address::parse(&ANVIL_0_ADDRESS.to_lowercase()).expect("address");
        assert_eq!(lower.to_string(), ANVIL_0_ADDRESS);
        assert!(Address::parse("0x1234").is_err());
    }
}
