//! The simulator's rate limits over real HTTP (`--rate-limit`): the per-signer cancel bucket's
//! costs, all-or-nothing admission, the over-burst refusal, negative balances and the floor,
//! the `Poly-RateLimit-*` headers, warning mode, `Retry-After`, the IP layer's throttle, and
//! tiers from `--tier` and fixtures. Each cost is checked on a signer's first request, when its
//! bucket is exactly full, so the numbers are exact.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Parser as _;
use clobscript::cli::{Cli, Command};
use clobscript::clob::ratelimit::{RateLimitHeaders, RateLimitTierResponse, Tier, TierBucket};
use clobscript::clob::types::{CancelResponse, ErrorBody};
use clobscript::clob::{Credentials, Secret, SigningKey};
use clobscript::sim::{RateLimitMode, SimConfig, SimServer};
use reqwest::{Method, StatusCode};
use serde_json::json;

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

/// Asserts that a refusal's `Retry-After` is the whole seconds until `need_secs` of refill,
/// counted from when the request that emptied the bucket was sent (`since`), will have passed.
/// The exchange evaluated the refused request somewhere between that moment and now, so on a
/// slow machine the wait may be shorter by up to the time elapsed — never longer.
fn assert_retry_after(refused: &Answer, need_secs: f64, since: Instant) {
    let elapsed = since.elapsed().as_secs_f64();
    let longest = need_secs.ceil() as u64;
    let shortest = ((need_secs - elapsed).ceil() as u64).max(1);
    let got: u64 = refused
        .retry_after
        .as_deref()
        .expect("Retry-After on a refusal")
        .parse()
        .expect("Retry-After in whole seconds");
    assert!(
        (shortest..=longest).contains(&got),
        "Retry-After {got} s, expected {shortest}..={longest} s ({need_secs} s of refill, {elapsed:.3} s elapsed)"
    );
}

fn limited(tier: Tier, mode: RateLimitMode) -> SimConfig {
    SimConfig {
        orders: 400,
        rate_limit: Some(mode),
        tier,
        ..SimConfig::default()
    }
}

async fn start(config: SimConfig) -> SimServer {
    SimServer::start(config).await.expect("simulator starts")
}

/// One answer: status, the rate-limit headers, and the body.
struct Answer {
    status: StatusCode,
    limits: RateLimitHeaders,
    retry_after: Option<String>,
    body: String,
}

impl Answer {
    fn canceled(&self) -> CancelResponse {
        assert_eq!(self.status, StatusCode::OK, "{}", self.body);
        serde_json::from_str(&self.body).expect("a cancel response")
    }

    fn error(&self) -> String {
        serde_json::from_str::<ErrorBody>(&self.body)
            .expect("an error body")
            .error
    }

    fn remaining(&self) -> f64 {
        self.limits.remaining.expect("Poly-RateLimit-Remaining")
    }
}

/// Signs `timestamp + METHOD + path + body` with an account's key and sends it.
struct Api {
    http: reqwest::Client,
    base: String,
    credentials: Credentials,
    key: SigningKey,
}

impl Api {
    fn new(server: &SimServer, credentials: &Credentials) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: server.url().to_owned(),
            credentials: credentials.clone(),
            key: SigningKey::from_secret(&credentials.secret).expect("valid secret"),
        }
    }

    async fn send(&self, method: Method, path: &str, body: Option<String>) -> Answer {
        let timestamp = unix_now();
        let signature = self
            .key
            .sign(timestamp, method.as_str(), path, body.as_deref());
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("POLY_ADDRESS", &self.credentials.address)
            .header("POLY_API_KEY", &self.credentials.api_key)
            .header("POLY_PASSPHRASE", self.credentials.passphrase.expose())
            .header("POLY_TIMESTAMP", timestamp.to_string())
            .header("POLY_SIGNATURE", signature);
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status();
        let limits = RateLimitHeaders::parse(response.headers());
        let retry_after = response
            .headers()
            .get("Retry-After")
            .map(|v| v.to_str().expect("text").to_owned());
        let body = response.text().await.expect("body");
        Answer {
            status,
            limits,
            retry_after,
            body,
        }
    }

    async fn cancel_orders(&self, ids: &[String]) -> Answer {
        self.send(Method::DELETE, "/orders", Some(json!(ids).to_string()))
            .await
    }

    async fn cancel_one(&self, id: &str) -> Answer {
        self.send(
            Method::DELETE,
            "/order",
            Some(json!({ "orderID": id }).to_string()),
        )
        .await
    }
}

fn unknown_ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("0xunknown{i}")).collect()
}

/// A balance charged after the request ran may have refilled by a fraction of a token since
/// admission; `Remaining` is rounded down.
fn assert_within_a_token(remaining: f64, expected: f64) {
    assert!(
        remaining == expected || remaining == expected + 1.0,
        "remaining {remaining}, expected {expected}"
    );
}

fn all_live(server: &SimServer, ids: &[String]) -> bool {
    server
        .order_statuses(ids)
        .iter()
        .all(|status| status.as_deref() == Some("LIVE"))
}

fn all_canceled(server: &SimServer, ids: &[String]) -> bool {
    server
        .order_statuses(ids)
        .iter()
        .all(|status| status.as_deref() == Some("CANCELED"))
}

// ---- headers and costs ----------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_cancel_answer_carries_remaining_reset_and_tier_and_reads_do_not() {
    let server = start(limited(Tier::Standard, RateLimitMode::Enforce)).await;
    let api = Api::new(&server, server.credentials());
    let id = server.open_order_ids()[0].clone();
    let before = unix_now();

    let answer = api.cancel_one(&id).await;

    assert_eq!(answer.canceled().canceled, vec![id.clone()]);
    assert_eq!(answer.remaining(), 119.0);
    assert_eq!(answer.limits.tier, Some(Tier::Standard));
    assert_eq!(answer.limits.tier_name.as_deref(), Some("standard"));
    assert!(!answer.limits.warning);
    assert_eq!(answer.retry_after, None);
    // Admitted: Reset is when the bucket is full again (1/80 s from now, rounded up).
    let reset = answer.limits.reset.expect("Poly-RateLimit-Reset") as i64;
    assert!(reset >= before && reset <= unix_now() + 2, "{reset}");
    assert_eq!(server.order_status(&id).as_deref(), Some("CANCELED"));

    let read = api.send(Method::GET, "/data/orders", None).await;
    assert_eq!(read.status, StatusCode::OK);
    assert!(!read.limits.is_metered());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_orders_costs_one_token_per_submitted_id_duplicates_and_unknown_ids_included() {
    let server = start(limited(Tier::Standard, RateLimitMode::Enforce)).await;
    let api = Api::new(&server, server.credentials());
    let open = server.open_order_ids();
    let mut ids: Vec<String> = open[..30].to_vec();
    ids.extend(open[..10].iter().cloned());
    ids.extend(unknown_ids(10));

    let answer = api.cancel_orders(&ids).await;

    assert_eq!(answer.canceled().canceled.len(), 30);
    assert_eq!(answer.remaining(), 70.0);
    assert!(all_canceled(&server, &open[..30]));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_all_costs_one_plus_the_orders_it_canceled() {
    let server = start(limited(Tier::Standard, RateLimitMode::Enforce)).await;
    let api = Api::new(&server, server.credentials());
    let open = server.open_order_ids();
    assert!(open.len() > 200, "{}", open.len());

    let answer = api.send(Method::DELETE, "/cancel-all", None).await;

    assert_eq!(answer.canceled().canceled.len(), open.len());
    // Standard may go negative: 120 − 1 − every order canceled (plus the refill of the
    // moment between admission and the charge, less than a token).
    assert_within_a_token(answer.remaining(), 119.0 - open.len() as f64);
    assert!(server.open_order_ids().is_empty());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_market_orders_costs_one_plus_the_matching_orders_it_canceled() {
    let server = start(limited(Tier::Standard, RateLimitMode::Enforce)).await;
    let api = Api::new(&server, server.credentials());
    let orders = server.orders_of(&server.credentials().api_key);
    let market = orders[0].market.clone();
    let matching: Vec<String> = orders
        .iter()
        .filter(|o| o.market == market && o.status == "LIVE")
        .map(|o| o.id.clone())
        .collect();
    let open_before = server.open_order_ids().len();

    let answer = api
        .send(
            Method::DELETE,
            "/cancel-market-orders",
            Some(json!({ "market": market }).to_string()),
        )
        .await;

    assert_eq!(answer.canceled().canceled.len(), matching.len());
    assert_within_a_token(answer.remaining(), 119.0 - matching.len() as f64);
    assert_eq!(server.open_order_ids().len(), open_before - matching.len());
    server.shutdown().await;
}

// ---- admission ------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_that_does_not_fit_cancels_nothing_and_fits_after_its_retry_after() {
    let server = start(SimConfig {
        open_orders: Some(300),
        ..limited(Tier::Standard, RateLimitMode::Enforce)
    })
    .await;
    let api = Api::new(&server, server.credentials());
    let open = server.open_order_ids();
    let since = Instant::now();
    api.cancel_orders(&open[..100]).await.canceled();

    // 20 tokens left; 120 ids need 100 more: 1.25 s at 80/s.
    let batch = open[100..220].to_vec();
    let refused = api.cancel_orders(&batch).await;

    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_retry_after(&refused, 1.25, since);
    assert_eq!(refused.limits.tier, Some(Tier::Standard));
    assert!(refused.remaining() >= 20.0 && refused.remaining() < 120.0);
    assert!(refused.error().contains("costs 120"), "{}", refused.error());
    assert!(all_live(&server, &batch), "a refused batch cancels nothing");

    let wait: u64 = refused
        .retry_after
        .as_deref()
        .unwrap_or("2")
        .parse()
        .unwrap_or(2);
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let retried = api.cancel_orders(&batch).await;
    assert_eq!(retried.canceled().canceled.len(), 120);
    assert!(all_canceled(&server, &batch));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_the_whole_seconds_until_the_request_fits() {
    let server = start(limited(Tier::Standard, RateLimitMode::Enforce)).await;
    let api = Api::new(&server, server.credentials());
    let since = Instant::now();
    api.cancel_orders(&unknown_ids(120)).await.canceled();
    let before = unix_now();

    // Empty bucket, 120 ids: 1.5 s of refill, so 2 whole seconds.
    let refused = api.cancel_orders(&unknown_ids(120)).await;

    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_retry_after(&refused, 1.5, since);
    // Reset is when it fits: 1.5 s from the request, rounded up to a whole Unix second.
    let reset = refused.limits.reset.expect("Poly-RateLimit-Reset") as i64;
    assert!(reset > before && reset <= unix_now() + 3, "{reset}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_over_the_burst_is_refused_with_a_message_to_split_it() {
    let server = start(limited(Tier::Standard, RateLimitMode::Enforce)).await;
    let api = Api::new(&server, server.credentials());
    let open = server.open_order_ids();

    let refused = api.cancel_orders(&open[..121]).await;

    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.retry_after, None, "no wait can help it");
    let message = refused.error();
    assert!(
        message.contains("standard tier's cancel burst of 120") && message.contains("split"),
        "{message}"
    );
    assert_eq!(refused.remaining(), 120.0, "nothing was charged");
    assert!(all_live(&server, &open[..121]));

    // At the burst it is admitted from a full bucket.
    let admitted = api.cancel_orders(&open[..120]).await;
    assert_eq!(admitted.canceled().canceled.len(), 120);
    assert_eq!(admitted.remaining(), 0.0);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_cancel_all_a_standard_balance_is_negative_until_refill_pays_it_back() {
    let server = start(SimConfig {
        open_orders: Some(300),
        ..limited(Tier::Standard, RateLimitMode::Enforce)
    })
    .await;
    let api = Api::new(&server, server.credentials());

    let since = Instant::now();
    let answer = api.send(Method::DELETE, "/cancel-all", None).await;
    assert_eq!(answer.canceled().canceled.len(), 300);
    assert_within_a_token(answer.remaining(), -181.0);

    // One token needs 182 of refill: 2.275 s, so 3 whole seconds.
    let refused = api.cancel_one("0xunknown").await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_retry_after(&refused, 2.275, since);
    assert!(refused.remaining() < 0.0);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_platinum_a_cancel_all_floors_the_balance_at_zero() {
    let server = start(SimConfig {
        open_orders: Some(1500),
        ..limited(Tier::Platinum, RateLimitMode::Enforce)
    })
    .await;
    let api = Api::new(&server, server.credentials());

    let since = Instant::now();
    let answer = api.send(Method::DELETE, "/cancel-all", None).await;
    assert_eq!(answer.canceled().canceled.len(), 1500);
    assert_eq!(answer.limits.tier, Some(Tier::Platinum));
    assert_eq!(answer.remaining(), 0.0);

    // A full burst from zero takes 1350 / 900 = 1.5 s (from −151 it would be 1.67 s, and from
    // −1501 3.2 s): 2 whole seconds.
    let refused = api.cancel_orders(&unknown_ids(1350)).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_retry_after(&refused, 1.5, since);
    server.shutdown().await;
}

// ---- warning mode ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warning_mode_processes_everything_and_marks_what_enforcement_would_refuse() {
    let server = start(limited(Tier::Standard, RateLimitMode::Warn)).await;
    let api = Api::new(&server, server.credentials());
    let open = server.open_order_ids();

    let fits = api.cancel_orders(&open[..10]).await;
    assert_eq!(fits.canceled().canceled.len(), 10);
    assert!(!fits.limits.warning);

    // Over the burst: processed and charged, with the warning.
    let over = api.cancel_orders(&open[10..180]).await;
    assert_eq!(over.canceled().canceled.len(), 170);
    assert!(over.limits.warning);
    assert!(over.remaining() < 0.0);
    assert_eq!(over.retry_after, None);

    // In debt: the next cancel would wait, so it is warned too, and still done.
    let next = api.cancel_one(&open[180]).await;
    assert_eq!(next.canceled().canceled, vec![open[180].clone()]);
    assert!(next.limits.warning);
    assert!(all_canceled(&server, &open[..181]));
    server.shutdown().await;
}

// ---- signers, tiers and the IP layer --------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_signer_has_its_own_bucket() {
    let server = start(limited(Tier::Standard, RateLimitMode::Enforce)).await;
    let primary = Api::new(&server, server.credentials());
    let other = Api::new(&server, server.other_credentials().expect("second account"));
    primary.cancel_orders(&unknown_ids(120)).await.canceled();
    assert_eq!(
        primary.cancel_orders(&unknown_ids(60)).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );

    let theirs = other.cancel_orders(&unknown_ids(120)).await;

    assert_eq!(theirs.status, StatusCode::OK);
    assert_eq!(theirs.remaining(), 0.0);
    server.shutdown().await;
}

const SECRET: &str = "c2VjcmV0LWZvci10ZXN0cy1vbmx5LTMyLWJ5dGVzIQ==";

fn account(key: &str, address: &str, tier: Option<&str>) -> serde_json::Value {
    let mut account = json!({
        "api_key": key, "secret": SECRET, "passphrase": "pass", "address": address,
    });
    if let Some(tier) = tier {
        account["tier"] = json!(tier);
    }
    account
}

fn credentials(key: &str, address: &str) -> Credentials {
    Credentials {
        api_key: key.to_owned(),
        secret: Secret::new(SECRET),
        passphrase: Secret::new("pass"),
        address: address.to_owned(),
    }
}

async fn start_with_fixture(fixture: serde_json::Value, tier: Tier) -> Result<SimServer, String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("fixture.json");
    std::fs::write(&path, fixture.to_string()).expect("fixture written");
    SimServer::start(SimConfig {
        fixture: Some(path),
        ..limited(tier, RateLimitMode::Enforce)
    })
    .await
    .map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixture_sets_the_tier_per_signer_address_and_tier_sets_the_rest() {
    const SHARED: &str = "0x00000000000000000000000000000000000000a1";
    const OWN: &str = "0x00000000000000000000000000000000000000b2";
    let fixture = json!({ "accounts": [
        account("key-elite", SHARED, Some("Elite")),
        account("key-same-signer", &SHARED.to_uppercase().replace("0X", "0x"), None),
        account("key-default", OWN, None),
    ]});
    let server = start_with_fixture(fixture, Tier::Copper)
        .await
        .expect("fixture loads");
    let elite = Api::new(&server, &credentials("key-elite", SHARED));
    let same = Api::new(&server, &credentials("key-same-signer", SHARED));
    let default = Api::new(&server, &credentials("key-default", OWN));
    assert_eq!(server.tier_of("key-same-signer"), Some(Tier::Elite));

    let tier = elite
        .send(Method::GET, "/v1/user/rate-limit-tier", None)
        .await;
    assert_eq!(tier.status, StatusCode::OK, "{}", tier.body);
    let tier: RateLimitTierResponse = serde_json::from_str(&tier.body).expect("tier json");
    assert_eq!(tier.tier, "elite");
    assert_eq!(
        tier.cancel,
        Some(TierBucket {
            rate_per_sec: 1200,
            burst: 1800
        })
    );
    let theirs = default
        .send(Method::GET, "/v1/user/rate-limit-tier", None)
        .await;
    assert!(
        theirs.body.contains(r#""tier":"copper""#),
        "{}",
        theirs.body
    );

    // One signer, one bucket: the elite burst spent by one key is gone for the other.
    let spent = elite.cancel_orders(&unknown_ids(1800)).await;
    assert_eq!(spent.status, StatusCode::OK, "{}", spent.body);
    assert_eq!(spent.limits.tier, Some(Tier::Elite));
    let refused = same.cancel_orders(&unknown_ids(1000)).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.limits.tier, Some(Tier::Elite));
    let own = default.cancel_one("0xunknown").await;
    assert_eq!(own.status, StatusCode::OK);
    assert_eq!(own.limits.tier, Some(Tier::Copper));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixture_with_an_unknown_or_conflicting_tier_is_refused_by_name() {
    let unknown = json!({ "accounts": [account("k1", "0xa1", Some("titanium"))] });
    let err = start_with_fixture(unknown, Tier::Standard)
        .await
        .expect_err("unknown tier");
    assert!(
        err.contains("accounts[0] (k1)") && err.contains("titanium") && err.contains("elite"),
        "{err}"
    );

    let conflicting = json!({ "accounts": [
        account("k1", "0xa1", Some("gold")),
        account("k2", "0xA1", Some("silver")),
    ]});
    let err = start_with_fixture(conflicting, Tier::Standard)
        .await
        .expect_err("conflicting tiers");
    assert!(
        err.contains("accounts[1] (k2)") && err.contains("same address"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tier_endpoint_needs_l2_auth_and_answers_without_rate_limits_too() {
    let server = start(SimConfig {
        orders: 50,
        tier: Tier::Gold,
        ..SimConfig::default()
    })
    .await;
    let api = Api::new(&server, server.credentials());
    let answer = api
        .send(Method::GET, "/v1/user/rate-limit-tier", None)
        .await;
    assert!(answer.body.contains(r#""tier":"gold""#), "{}", answer.body);
    // Without --rate-limit nothing is metered.
    let cancel = api.cancel_orders(&unknown_ids(3000)).await;
    assert_eq!(cancel.status, StatusCode::OK);
    assert!(!cancel.limits.is_metered());

    let anonymous = reqwest::get(format!("{}/v1/user/rate-limit-tier", server.url()))
        .await
        .expect("request sent");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_ip_layer_delays_requests_over_its_rate_instead_of_refusing_them() {
    let server = start(SimConfig {
        orders: 20,
        ..limited(Tier::Elite, RateLimitMode::Enforce)
    })
    .await;
    let api = Api::new(&server, server.credentials());

    // `/cancel-all` allows 250 per 10 s; 280 at once get through, the last ones later.
    let answers = futures_util::future::join_all(
        (0..280).map(|_| api.send(Method::DELETE, "/cancel-all", None)),
    )
    .await;

    assert!(answers.iter().all(|a| a.status == StatusCode::OK));
    let (throttled, waited) = server.ip_throttled();
    assert!(throttled >= 1, "{throttled}");
    assert!(waited > Duration::ZERO);
    assert!(server.open_order_ids().is_empty());
    server.shutdown().await;
}

// ---- the command line -----------------------------------------------------------------------

fn sim_args(args: &[&str]) -> Result<(Option<RateLimitMode>, Tier), String> {
    let cli =
        Cli::try_parse_from(["clobscript", "sim"].iter().chain(args)).map_err(|e| e.to_string())?;
    match cli.command {
        Command::Sim(sim) => Ok((sim.rate_limit, sim.tier)),
        _ => Err("not sim".to_owned()),
    }
}

#[test]
fn rate_limit_alone_means_enforce_and_tier_defaults_to_standard() {
    assert_eq!(sim_args(&[]), Ok((None, Tier::Standard)));
    assert_eq!(
        sim_args(&["--rate-limit"]),
        Ok((Some(RateLimitMode::Enforce), Tier::Standard))
    );
    assert_eq!(
        sim_args(&["--rate-limit", "warn", "--tier", "diamond"]),
        Ok((Some(RateLimitMode::Warn), Tier::Diamond))
    );
    assert_eq!(
        sim_args(&["--tier", "gold", "--rate-limit"]),
        Ok((Some(RateLimitMode::Enforce), Tier::Gold))
    );
    let err = sim_args(&["--tier", "titanium"]).unwrap_err();
    assert!(
        err.contains("titanium") && err.contains("platinum"),
        "{err}"
    );
    let err = sim_args(&["--rate-limit", "loose"]).unwrap_err();
    assert!(err.contains("enforce or warn"), "{err}");
}
