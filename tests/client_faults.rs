//! `clob::Client` against the simulator over real HTTP when things go wrong: bad credentials,
//! clock skew, rate limits and injected failures. Each test checks the exchange state
//! afterwards through the simulator's inspection helpers.

use std::collections::{BTreeSet, HashSet};

use clobscript::clob::types::{OpenOrder, messages};
use clobscript::clob::{Client, ClobError, OrderFilter, Secret, TradeFilter};
use clobscript::exit::Exit;
use clobscript::sim::{RateLimitMode, SimConfig, SimServer};

#[path = "common/mod.rs"]
mod support;
use support::client::*;

// ---- authentication and the clock ---------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_clock_behind_the_exchange_is_named_on_401_and_server_time_fixes_it() {
    let server = sim(SimConfig {
        orders: 100,
        clock_offset: 120,
        ..SimConfig::default()
    })
    .await;
    let open = server.open_order_ids();

    let err = client(&server)
        .open_orders(&OrderFilter::default())
        .await
        .unwrap_err();
    let ClobError::ClockSkew { skew_secs, .. } = &err else {
        panic!("expected clock skew, got {err:?}");
    };
    assert!((118..=122).contains(skew_secs), "{skew_secs}");
    let message = err.to_string();
    assert!(message.contains("s behind the exchange"), "{message}");
    assert!(message.contains("401"), "{message}");
    assert_eq!(err.exit(), Exit::Api);

    let mut config = config_for(&server);
    config.use_server_time = true;
    let synced = Client::new(config).expect("client builds");
    let orders = synced
        .open_orders(&OrderFilter::default())
        .await
        .expect("signed with the exchange's clock");
    assert_eq!(ids(&orders), open);
    let id = open[0].clone();
    assert_eq!(
        synced.cancel(&id).await.expect("cancel").canceled,
        vec![id.clone()]
    );
    assert_eq!(server.order_status(&id).as_deref(), Some("CANCELED"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_clock_ahead_of_the_exchange_is_named_on_401() {
    let server = sim(SimConfig {
        orders: 50,
        clock_offset: -300,
        ..SimConfig::default()
    })
    .await;
    let id = server.open_order_ids()[0].clone();
    let err = client(&server).cancel(&id).await.unwrap_err();
    assert!(matches!(err, ClobError::ClockSkew { .. }), "{err:?}");
    assert!(err.to_string().contains("s ahead of the exchange"), "{err}");
    assert_eq!(server.order_status(&id).as_deref(), Some("LIVE"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_are_reported_as_such_never_retried_and_never_printed() {
    let server = sim_with(50, 500).await;
    let mut config = config_for(&server);
    let credentials = config.credentials.as_mut().expect("credentials");
    credentials.passphrase = Secret::new("wrong-passphrase-value");
    let secret = credentials.secret.expose().to_owned();
    let client = Client::new(config).expect("client builds");

    let err = client
        .open_orders(&OrderFilter::default())
        .await
        .unwrap_err();
    assert!(matches!(err, ClobError::Unauthorized { .. }), "{err:?}");
    assert_eq!(err.server_message(), Some(messages::UNAUTHORIZED));
    let shown = format!("{err} {err:?} {client:?}");
    assert!(shown.contains("POLY_PASSPHRASE"), "{shown}");
    assert!(!shown.contains("wrong-passphrase-value") && !shown.contains(&secret));
    assert_eq!(client.stats().retries, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_that_is_not_base64_is_refused_when_the_client_is_built() {
    let server = sim_with(10, 500).await;
    let mut config = config_for(&server);
    if let Some(c) = config.credentials.as_mut() {
        c.secret = Secret::new("%%% not base64 %%%");
    }
    let err = Client::new(config).unwrap_err();
    assert!(
        matches!(err, ClobError::InvalidCredentials { .. }),
        "{err:?}"
    );
    assert!(!err.to_string().contains("not base64 %%%"), "{err}");
    assert_eq!(err.exit(), Exit::Usage);
}

// ---- rate limits --------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_waits_for_tokens_instead_of_drawing_a_429() {
    let server = sim(SimConfig {
        orders: 1200,
        rate_limit: Some(RateLimitMode::Enforce),
        ..SimConfig::default()
    })
    .await;
    let client = Client::new(config_for(&server)).expect("client builds");
    let open = server.open_order_ids();
    // 120 ids empty the cancel bucket (standard: burst 120); the next cancel waits for a token.
    let first: Vec<String> = open[..120].to_vec();
    let second = open[120].clone();
    let before = all_statuses(&server);

    let result = client.cancel_orders(&first).await.expect("first batch");
    assert_eq!(set(&result.canceled), set(&first));
    let result = client.cancel(&second).await.expect("cancel after the wait");
    assert_eq!(result.canceled, vec![second.clone()]);
    let stats = client.stats();
    assert_eq!(stats.refused, 0, "{stats:?}");
    assert_eq!(stats.retries, 0, "{stats:?}");

    let mut canceled = set(&first);
    canceled.insert(second);
    assert_only_canceled(&before, &all_statuses(&server), &canceled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_from_a_bucket_another_process_emptied_is_waited_out() {
    let server = sim(SimConfig {
        orders: 1200,
        rate_limit: Some(RateLimitMode::Enforce),
        ..SimConfig::default()
    })
    .await;
    let open = server.open_order_ids();
    let before = all_statuses(&server);
    // Another process on the same signer empties the bucket; this client cannot know.
    let other = Client::new(config_for(&server)).expect("client builds");
    other
        .cancel_orders(&open[..120])
        .await
        .expect("the other process's batch");
    let client = Client::new(config_for(&server)).expect("client builds");

    let result = client
        .cancel(&open[120])
        .await
        .expect("cancel after the wait");

    assert_eq!(result.canceled, vec![open[120].clone()]);
    assert!(client.stats().refused >= 1, "{:?}", client.stats());
    let mut canceled = set(&open[..120]);
    canceled.insert(open[120].clone());
    assert_only_canceled(&before, &all_statuses(&server), &canceled);
}

// ---- injected failures --------------------------------------------------------------------

fn faulty(orders: usize, page_size: usize, seed: u64) -> SimConfig {
    SimConfig {
        orders,
        page_size,
        seed,
        fail_rate: 0.2,
        ..SimConfig::default()
    }
}

fn resilient(server: &SimServer) -> Client {
    let mut config = config_for(server);
    config.retry = quick_retries(12);
    Client::new(config).expect("client builds")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_under_a_20_percent_failure_rate_are_complete_and_exact() {
    for seed in [1, 2, 3] {
        let server = sim(faulty(800, 20, seed)).await;
        let client = resilient(&server);
        let orders = client
            .open_orders(&OrderFilter::default())
            .await
            .expect("open orders");
        assert_eq!(ids(&orders), server.open_order_ids(), "seed {seed}");
        let trades = client
            .trades(&TradeFilter::default())
            .await
            .expect("trades");
        assert_eq!(trades, primary_trades(&server), "seed {seed}");
        assert!(client.stats().retries > 0, "seed {seed}: faults were hit");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancels_under_a_20_percent_failure_rate_leave_the_exact_state_and_report_it_truthfully() {
    for seed in [1, 2, 3, 4] {
        let server = sim(faulty(9_000, 500, seed)).await;
        let client = resilient(&server);
        let open = server.open_order_ids();
        assert!(open.len() > 4_000);
        let before = all_statuses(&server);

        // Many ids in several batches, one by one, by market, with unknown ids mixed in.
        let batch: Vec<String> = open[..3_500].to_vec();
        let mut asked = batch.clone();
        asked.push("0xno-such-order".to_owned());
        let merged = client.cancel_orders(&asked).await.expect("cancel orders");
        assert_same_ids(&merged.canceled, &batch, &format!("seed {seed}"));
        assert_eq!(merged.canceled.len(), batch.len(), "seed {seed}");
        assert_eq!(
            merged.not_canceled.keys().collect::<Vec<_>>(),
            vec!["0xno-such-order"],
            "seed {seed}"
        );

        let singles: Vec<String> = open[3_500..3_530].to_vec();
        for id in &singles {
            let result = client.cancel(id).await.expect("cancel one");
            assert_eq!(result.canceled, vec![id.clone()], "seed {seed}");
            assert!(result.not_canceled.is_empty(), "seed {seed}");
        }

        let remaining: Vec<OpenOrder> = primary_orders(&server)
            .into_iter()
            .filter(|o| server.order_status(&o.id).as_deref() == Some("LIVE"))
            .collect();
        let token = remaining[0].asset_id.clone();
        let by_token: BTreeSet<String> = remaining
            .iter()
            .filter(|o| o.asset_id == token)
            .map(|o| o.id.clone())
            .collect();
        let market = client
            .cancel_market(None, Some(&token))
            .await
            .expect("cancel by token");
        // A cancel-market whose first answer was lost can only report what the retry saw;
        // whatever it reports must be true, and the state must be exact.
        assert!(set(&market.canceled).is_subset(&by_token), "seed {seed}");

        let mut canceled = set(&batch);
        canceled.extend(singles.iter().cloned());
        canceled.extend(by_token);
        assert_only_canceled(&before, &all_statuses(&server), &canceled);
        assert!(
            server.faults_injected().lost > 0,
            "seed {seed}: some answers were lost"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_canceled_before_the_call_is_never_reported_as_canceled_by_it() {
    let server = sim_with(200, 500).await;
    let client = client(&server);
    let open = server.open_order_ids();
    let earlier: Vec<String> = open[..5].to_vec();
    client.cancel_orders(&earlier).await.expect("earlier");
    let fresh: Vec<String> = open[5..10].to_vec();
    let mut asked = earlier.clone();
    asked.extend(fresh.iter().cloned());

    let result = client.cancel_orders(&asked).await.expect("cancel");
    assert_eq!(set(&result.canceled), set(&fresh));
    assert_eq!(
        result.not_canceled.keys().cloned().collect::<BTreeSet<_>>(),
        set(&earlier)
    );
    let statuses: HashSet<Option<String>> = server.order_statuses(&asked).into_iter().collect();
    assert_eq!(statuses, HashSet::from([Some("CANCELED".to_owned())]));
}
