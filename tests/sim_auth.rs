//! API keys from a wallet signature, over real HTTP: `POST /auth/api-key`,
//! `GET /auth/derive-api-key` (L1, EIP-712 signed), `GET /auth/api-keys` and
//! `DELETE /auth/api-key` (L2). L1 headers are made with `clobscript::clob::l1`; the keys the
//! exchange holds are checked through the server afterwards.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clobscript::clob::l1::{
    AMOY_CHAIN_ID, ApiCreds, ApiKeysResponse, CREATE_REFUSED, DERIVE_REFUSED, L1Headers,
    POLYGON_CHAIN_ID, PrivateKey,
};
use clobscript::clob::types::{ErrorBody, OpenOrder, Page, messages};
use clobscript::clob::{Credentials, SigningKey};
use clobscript::sim::{DEMO_PRIVATE_KEY, SimConfig, SimServer, demo_credentials};
use reqwest::{Method, StatusCode};

/// Hardhat/Anvil test accounts #2 and #3: public keys no simulator account starts with.
const WALLET_KEY: &str = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";
const OTHER_WALLET_KEY: &str = "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6";

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

fn wallet(text: &str) -> PrivateKey {
    PrivateKey::parse(text).expect("a valid test key")
}

async fn start() -> SimServer {
    SimServer::start(SimConfig {
        orders: 40,
        auth_window: Duration::from_secs(30),
        ..SimConfig::default()
    })
    .await
    .expect("simulator starts")
}

fn l1_headers(key: &PrivateKey, nonce: u64) -> L1Headers {
    key.l1_headers(POLYGON_CHAIN_ID, unix_now(), nonce)
}

async fn send_l1(
    server: &SimServer,
    method: Method,
    path: &str,
    headers: &L1Headers,
) -> reqwest::Response {
    let mut request = reqwest::Client::new().request(method, format!("{}{path}", server.url()));
    for (name, value) in headers.pairs() {
        request = request.header(name, value);
    }
    request.send().await.expect("simulator answers")
}

async fn create(server: &SimServer, headers: &L1Headers) -> reqwest::Response {
    send_l1(server, Method::POST, "/auth/api-key", headers).await
}

async fn derive(server: &SimServer, headers: &L1Headers) -> reqwest::Response {
    send_l1(server, Method::GET, "/auth/derive-api-key", headers).await
}

async fn creds_of(response: reqwest::Response) -> ApiCreds {
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("credentials JSON")
}

async fn error_of(response: reqwest::Response) -> (StatusCode, String) {
    let status = response.status();
    let body: ErrorBody = response.json().await.expect("error body");
    (status, body.error)
}

/// Sends one L2 request signed with `credentials`.
async fn send_l2(
    server: &SimServer,
    credentials: &Credentials,
    method: Method,
    path: &str,
) -> reqwest::Response {
    let timestamp = unix_now();
    let key = SigningKey::from_secret(&credentials.secret).expect("issued secrets are base64");
    reqwest::Client::new()
        .request(method.clone(), format!("{}{path}", server.url()))
        .header("POLY_ADDRESS", &credentials.address)
        .header("POLY_API_KEY", &credentials.api_key)
        .header("POLY_PASSPHRASE", credentials.passphrase.expose())
        .header("POLY_TIMESTAMP", timestamp.to_string())
        .header(
            "POLY_SIGNATURE",
            key.sign(timestamp, method.as_str(), path, None),
        )
        .send()
        .await
        .expect("simulator answers")
}

async fn issue(server: &SimServer, key: &PrivateKey, nonce: u64) -> Credentials {
    creds_of(create(server, &l1_headers(key, nonce)).await)
        .await
        .into_credentials(&key.address())
}

#[tokio::test]
async fn a_created_key_is_a_uuid_and_signs_l2_requests_at_once() {
    let server = start().await;
    let key = wallet(WALLET_KEY);

    let creds = creds_of(create(&server, &l1_headers(&key, 0)).await).await;

    assert!(
        uuid::Uuid::parse_str(&creds.api_key).is_ok(),
        "{}",
        creds.api_key
    );
    assert!(creds.is_usable());
    assert_eq!(
        server.api_keys_of(&key.address().to_string()),
        std::slice::from_ref(&creds.api_key)
    );
    let credentials = creds.into_credentials(&key.address());
    let response = send_l2(&server, &credentials, Method::GET, "/data/orders").await;
    assert_eq!(response.status(), StatusCode::OK);
    let page: Page<OpenOrder> = response.json().await.expect("page");
    assert!(page.data.is_empty());
}

#[tokio::test]
async fn creating_again_for_the_same_nonce_is_refused_and_keeps_the_one_key() {
    let server = start().await;
    let key = wallet(WALLET_KEY);
    let first = issue(&server, &key, 0).await;

    let (status, message) = error_of(create(&server, &l1_headers(&key, 0)).await).await;

    assert_eq!(
        (status, message.as_str()),
        (StatusCode::BAD_REQUEST, CREATE_REFUSED)
    );
    assert_eq!(server.api_keys_of(&first.address), [first.api_key]);
}

#[tokio::test]
async fn derive_returns_the_created_key_every_time() {
    let server = start().await;
    let key = wallet(WALLET_KEY);
    let created = creds_of(create(&server, &l1_headers(&key, 5)).await).await;

    let first = creds_of(derive(&server, &l1_headers(&key, 5)).await).await;
    let second = creds_of(derive(&server, &l1_headers(&key, 5)).await).await;

    assert_eq!(first, created);
    assert_eq!(second, created);
}

#[tokio::test]
async fn the_same_wallet_and_nonce_derive_the_same_key_on_every_start_with_the_same_seed() {
    let key = wallet(WALLET_KEY);
    let mut issued = Vec::new();
    for _ in 0..2 {
        let server = start().await;
        issued.push(creds_of(create(&server, &l1_headers(&key, 1)).await).await);
    }
    assert_eq!(issued[0], issued[1]);
}

#[tokio::test]
async fn derive_without_a_key_is_refused() {
    let server = start().await;
    let key = wallet(WALLET_KEY);

    let (status, message) = error_of(derive(&server, &l1_headers(&key, 0)).await).await;

    assert_eq!(
        (status, message.as_str()),
        (StatusCode::BAD_REQUEST, DERIVE_REFUSED)
    );
    assert!(server.api_keys_of(&key.address().to_string()).is_empty());
}

#[tokio::test]
async fn the_public_demo_key_derives_the_demo_credentials() {
    let server = start().await;
    let key = wallet(DEMO_PRIVATE_KEY);
    let demo = demo_credentials();

    let creds = creds_of(derive(&server, &l1_headers(&key, 0)).await).await;
    let (status, _) = error_of(create(&server, &l1_headers(&key, 0)).await).await;

    assert_eq!(key.address().to_string(), demo.address);
    assert_eq!(creds.api_key, demo.api_key);
    assert_eq!(creds.secret, demo.secret);
    assert_eq!(creds.passphrase, demo.passphrase);
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn each_nonce_has_its_own_key_and_the_list_shows_every_key_of_the_address() {
    let server = start().await;
    let key = wallet(WALLET_KEY);
    let one = issue(&server, &key, 1).await;
    let two = issue(&server, &key, 2).await;
    let stranger = issue(&server, &wallet(OTHER_WALLET_KEY), 1).await;

    let response = send_l2(&server, &two, Method::GET, "/auth/api-keys").await;

    assert_eq!(response.status(), StatusCode::OK);
    let listed: ApiKeysResponse = response.json().await.expect("keys JSON");
    assert_ne!(one.api_key, two.api_key);
    assert_eq!(listed.api_keys, [one.api_key, two.api_key]);
    assert!(!listed.api_keys.contains(&stranger.api_key));
}

/// `GET /auth/ban-status/closed-only`, which the official clients call (`closed_only_mode`):
/// signed, the account is not restricted; unsigned, refused like every private endpoint.
#[tokio::test]
async fn the_closed_only_status_answers_signed_requests_only() {
    let server = start().await;
    let creds = issue(&server, &wallet(WALLET_KEY), 0).await;

    let response = send_l2(&server, &creds, Method::GET, "/auth/ban-status/closed-only").await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!(body, serde_json::json!({ "closed_only": false }));

    let unsigned = reqwest::get(format!("{}/auth/ban-status/closed-only", server.url()))
        .await
        .expect("simulator answers");
    assert_eq!(unsigned.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn delete_revokes_the_signing_key_only_and_a_new_create_issues_a_fresh_one() {
    let server = start().await;
    let key = wallet(WALLET_KEY);
    let doomed = issue(&server, &key, 0).await;
    let kept = issue(&server, &key, 1).await;

    let response = send_l2(&server, &doomed, Method::DELETE, "/auth/api-key").await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        server.api_keys_of(&doomed.address),
        std::slice::from_ref(&kept.api_key)
    );
    let refused = send_l2(&server, &doomed, Method::GET, "/data/orders").await;
    assert_eq!(
        error_of(refused).await,
        (StatusCode::UNAUTHORIZED, messages::UNAUTHORIZED.to_owned())
    );
    let still = send_l2(&server, &kept, Method::GET, "/data/orders").await;
    assert_eq!(still.status(), StatusCode::OK);
    let (status, message) = error_of(derive(&server, &l1_headers(&key, 0)).await).await;
    assert_eq!(
        (status, message.as_str()),
        (StatusCode::BAD_REQUEST, DERIVE_REFUSED)
    );
    let fresh = issue(&server, &key, 0).await;
    assert_ne!(fresh.api_key, doomed.api_key);
    assert_eq!(
        server.api_keys_of(&doomed.address),
        [kept.api_key, fresh.api_key]
    );
}

/// Sends `headers` to create and expects 401 with nothing issued.
async fn assert_refused(server: &SimServer, headers: &L1Headers, address: &str) {
    let (status, message) = error_of(create(server, headers).await).await;
    assert_eq!(
        (status, message.as_str()),
        (StatusCode::UNAUTHORIZED, messages::UNAUTHORIZED)
    );
    let (status, _) = error_of(derive(server, headers).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(server.api_keys_of(address).is_empty());
}

#[tokio::test]
async fn a_tampered_signature_is_refused() {
    let server = start().await;
    let key = wallet(WALLET_KEY);
    let mut headers = l1_headers(&key, 0);
    let flipped = if headers.signature.as_bytes()[10] == b'0' {
        "1"
    } else {
        "0"
    };
    headers.signature.replace_range(10..11, flipped);

    assert_refused(&server, &headers, &headers.address.clone()).await;
}

#[tokio::test]
async fn a_signature_by_another_wallet_is_refused() {
    let server = start().await;
    let claimed = wallet(WALLET_KEY).address().to_string();
    let mut headers = l1_headers(&wallet(OTHER_WALLET_KEY), 0);
    headers.address = claimed.clone();

    assert_refused(&server, &headers, &claimed).await;
}

#[tokio::test]
async fn a_signature_for_another_nonce_or_chain_is_refused() {
    let server = start().await;
    let key = wallet(WALLET_KEY);
    let address = key.address().to_string();
    let mut other_nonce = l1_headers(&key, 0);
    other_nonce.nonce = "1".to_owned();
    let amoy = key.l1_headers(AMOY_CHAIN_ID, unix_now(), 0);

    assert_refused(&server, &other_nonce, &address).await;
    assert_refused(&server, &amoy, &address).await;
}

#[tokio::test]
async fn a_timestamp_outside_the_window_is_refused() {
    let server = start().await;
    let key = wallet(WALLET_KEY);
    let address = key.address().to_string();
    let stale = key.l1_headers(POLYGON_CHAIN_ID, unix_now() - 120, 0);
    let future = key.l1_headers(POLYGON_CHAIN_ID, unix_now() + 120, 0);

    assert_refused(&server, &stale, &address).await;
    assert_refused(&server, &future, &address).await;
}

#[tokio::test]
async fn missing_or_malformed_headers_are_refused() {
    let server = start().await;
    let key = wallet(WALLET_KEY);
    let address = key.address().to_string();
    let mut no_signature = l1_headers(&key, 0);
    no_signature.signature = String::new();
    let mut bad_nonce = l1_headers(&key, 0);
    bad_nonce.nonce = "-1".to_owned();
    let mut bad_address = l1_headers(&key, 0);
    bad_address.address = "0x1234".to_owned();

    assert_refused(&server, &no_signature, &address).await;
    assert_refused(&server, &bad_nonce, &address).await;
    assert_refused(&server, &bad_address, &address).await;
}

#[tokio::test]
async fn the_address_header_matches_in_any_letter_case() {
    let server = start().await;
    let key = wallet(WALLET_KEY);
    let mut headers = l1_headers(&key, 0);
    headers.address = headers.address.to_lowercase();

    let creds = creds_of(create(&server, &headers).await).await;

    assert_eq!(server.api_keys_of(&headers.address), [creds.api_key]);
}
