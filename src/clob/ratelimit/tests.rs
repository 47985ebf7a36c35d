use super::*;
use reqwest::StatusCode;
use reqwest::header::HeaderValue;
use tokio::time::Instant;

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.insert(*name, HeaderValue::from_str(value).expect("header value"));
    }
    map
}

fn metered(tier: &str, remaining: i64) -> HeaderMap {
    headers(&[
        (TIER_HEADER, tier),
        (REMAINING_HEADER, &remaining.to_string()),
        (RESET_HEADER, "1764612536"),
    ])
}

#[test]
fn the_tier_table_matches_the_docs() {
    assert_eq!(
        Tier::Standard.cancel(),
        BucketLimits {
            rate_per_sec: 80.0,
            burst: 120
        }
    );
    assert_eq!(Tier::Standard.order().burst, 60);
    assert_eq!(Tier::Diamond.order().burst, 787);
    assert_eq!(Tier::Elite.cancel().burst, 1800);
    assert!(Tier::Gold.allows_negative_balance());
    assert!(!Tier::Platinum.allows_negative_balance());
    // Every tier holds at least one second of its rate.
    for tier in Tier::ALL {
        let cancel = tier.cancel();
        assert!(f64::from(cancel.burst) >= cancel.rate_per_sec, "{tier}");
    }
}

#[test]
fn tier_names_parse_in_any_case_and_unknown_ones_list_the_known() {
    assert_eq!("Platinum".parse::<Tier>(), Ok(Tier::Platinum));
    assert_eq!(" elite ".parse::<Tier>(), Ok(Tier::Elite));
    let err = "titanium".parse::<Tier>().unwrap_err();
    assert!(err.to_string().contains("standard, copper"), "{err}");
    for tier in Tier::ALL {
        assert_eq!(tier.to_string().parse::<Tier>(), Ok(tier));
    }
}

#[test]
fn headers_parse_and_unreadable_values_count_as_absent() {
    let seen = RateLimitHeaders::parse(&headers(&[
        (REMAINING_HEADER, "-37"),
        (RESET_HEADER, "1764612536.5"),
        (TIER_HEADER, "Gold"),
        (WARNING_HEADER, "true"),
        ("Retry-After", "2"),
    ]));
    assert_eq!(seen.remaining, Some(-37.0));
    assert_eq!(seen.reset, Some(1_764_612_536.5));
    assert_eq!(seen.tier, Some(Tier::Gold));
    assert!(seen.warning);
    assert_eq!(seen.retry_after, Some(Duration::from_secs(2)));
    assert!(seen.is_metered());

    let odd = RateLimitHeaders::parse(&headers(&[
        (REMAINING_HEADER, "lots"),
        (TIER_HEADER, "titanium"),
    ]));
    assert_eq!(odd.remaining, None);
    assert_eq!(odd.tier, None);
    assert_eq!(odd.tier_name.as_deref(), Some("titanium"));
    assert!(odd.is_metered());
    assert!(!RateLimitHeaders::parse(&headers(&[("Retry-After", "1")])).is_metered());
}

#[tokio::test(start_paused = true)]
async fn until_the_tier_is_known_batches_are_the_tightest_burst() {
    let pacer = CancelPacer::new();
    let grant = pacer.reserve(5000).await;
    assert_eq!(grant.size, 120);
    assert_eq!(grant.waited, Duration::ZERO);
    assert_eq!(pacer.status().assumed_tier, Tier::Standard);
    assert_eq!(pacer.tier(), None);
}

#[tokio::test(start_paused = true)]
async fn a_reported_tier_sets_the_batch_size_and_the_remaining_balance_the_wait() {
    let pacer = CancelPacer::new();
    let grant = pacer.reserve(5000).await;
    let verdict = pacer.observe(grant, &metered("elite", 1680), StatusCode::OK);
    assert_eq!(verdict, Verdict::Passed);
    assert_eq!(pacer.tier(), Some(Tier::Elite));
    assert_eq!(pacer.batch_limit(), 1800);
    // 1680 tokens now: a full batch of 1800 leaves 0.1 s later (waiting for a full batch
    // finishes no later than sending less now, in fewer requests).
    let grant = pacer.reserve(5000).await;
    assert_eq!(
        (grant.size, grant.waited),
        (1800, Duration::from_millis(100))
    );
    assert_eq!(pacer.reserve(0).await.size, 0);
    pacer.observe(grant, &metered("elite", 0), StatusCode::OK);
    // Empty: a full burst of 1800 takes 1.5 s at 1200/s.
    let grant = pacer.reserve(5000).await;
    assert_eq!(grant.size, 1800);
    assert!(
        grant.waited >= Duration::from_millis(1500) && grant.waited <= Duration::from_millis(1502),
        "{:?}",
        grant.waited
    );
}

#[tokio::test(start_paused = true)]
async fn a_sequence_of_batches_runs_at_the_refill_rate() {
    let pacer = CancelPacer::new();
    let started = Instant::now();
    let mut left = 1000usize;
    let mut requests = 0;
    while left > 0 {
        let grant = pacer.reserve(left).await;
        left -= grant.size;
        requests += 1;
        let remaining = pacer.status().balance.floor() as i64;
        pacer.observe(grant, &metered("standard", remaining), StatusCode::OK);
    }
    // (1000 − 120) / 80 = 11 s, in batches of 120 (the last one 40).
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_secs(11) && elapsed <= Duration::from_millis(11_020),
        "{elapsed:?}"
    );
    assert_eq!(requests, 9);
}

#[tokio::test(start_paused = true)]
async fn the_estimate_is_the_time_until_the_bucket_holds_every_id() {
    let pacer = CancelPacer::new();
    assert_eq!(pacer.estimate(120), Duration::ZERO);
    assert_eq!(pacer.estimate(1000), Duration::from_secs(11));
    assert_eq!(pacer.requests_for(1000), 9);
    let grant = pacer.reserve(1).await;
    pacer.observe(grant, &metered("gold", -400), StatusCode::OK);
    // In debt by 400 at 800/s: half a second before the first token, then 1200 more.
    assert_eq!(pacer.estimate(1200), Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn no_rate_limit_headers_on_a_success_mean_3000_id_batches_without_waiting() {
    let pacer = CancelPacer::new();
    let grant = pacer.reserve(10_000).await;
    pacer.observe(grant, &HeaderMap::new(), StatusCode::OK);
    assert!(pacer.status().unmetered);
    for _ in 0..3 {
        let grant = pacer.reserve(10_000).await;
        assert_eq!((grant.size, grant.waited), (3000, Duration::ZERO));
    }
    assert_eq!(pacer.estimate(1_000_000), Duration::ZERO);
    // The server starts metering: back to the tier's burst.
    let grant = pacer.reserve(1).await;
    pacer.observe(grant, &metered("standard", 10), StatusCode::OK);
    assert_eq!(pacer.batch_limit(), 120);
}

#[tokio::test(start_paused = true)]
async fn a_failure_without_headers_does_not_mark_the_server_unmetered() {
    let pacer = CancelPacer::new();
    let grant = pacer.reserve(10).await;
    let verdict = pacer.observe(grant, &HeaderMap::new(), StatusCode::BAD_GATEWAY);
    assert_eq!(verdict, Verdict::Passed);
    assert!(!pacer.status().unmetered);
}

#[tokio::test(start_paused = true)]
async fn a_429_holds_the_next_request_for_its_retry_after() {
    let pacer = CancelPacer::new();
    let grant = pacer.reserve(120).await;
    let mut answer = metered("standard", 20);
    answer.insert("Retry-After", HeaderValue::from_static("3"));
    let verdict = pacer.observe(grant, &answer, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(verdict, Verdict::RetryAfter(Duration::from_secs(3)));
    assert_eq!(pacer.status().refusals, 1);
    // Refill alone would need 1.25 s; the exchange asked for 3.
    let grant = pacer.reserve(120).await;
    assert_eq!(grant.size, 120);
    assert!(grant.waited >= Duration::from_secs(3), "{:?}", grant.waited);
    assert!(pacer.status().waited >= Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn an_over_burst_429_without_a_tier_halves_the_batch() {
    let pacer = CancelPacer::new();
    let grant = pacer.reserve(500).await;
    assert_eq!(grant.size, 120);
    let verdict = pacer.observe(
        grant,
        &headers(&[(REMAINING_HEADER, "120")]),
        StatusCode::TOO_MANY_REQUESTS,
    );
    assert_eq!(verdict, Verdict::Split);
    assert_eq!(pacer.batch_limit(), 60);
}

#[tokio::test(start_paused = true)]
async fn concurrent_reservations_share_one_bucket() {
    let pacer = CancelPacer::new();
    let a = pacer.reserve(100).await;
    // Only 20 tokens are left for a second job; 100 more take 1 s.
    let b = pacer.reserve(20).await;
    assert_eq!(b.waited, Duration::ZERO);
    let c = pacer.reserve(80).await;
    assert_eq!(c.waited, Duration::from_secs(1));
    // An answer for `a` that knows nothing of `b` and `c` yet does not free their tokens.
    pacer.observe(a, &metered("standard", 20), StatusCode::OK);
    assert!(pacer.status().balance < 0.0);
    drop((b, c));
}

#[tokio::test(start_paused = true)]
async fn a_reservation_waiting_on_the_assumed_tier_goes_as_soon_as_an_answer_shows_none() {
    let pacer = CancelPacer::new();
    let first = pacer.reserve(10_000).await;
    assert_eq!(first.size, 120);
    // A second caller plans with the tightest tier: 120 more take 1.5 s of refill.
    let waiting = tokio::spawn({
        let pacer = pacer.clone();
        async move { pacer.reserve(10_000).await }
    });
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert!(!waiting.is_finished());
    // The first answer carries no rate-limit headers: the exchange meters nothing.
    pacer.observe(first, &HeaderMap::new(), StatusCode::OK);
    let second = waiting.await.expect("the waiting reservation");
    assert_eq!(second.size, 3000);
    assert!(
        second.waited < Duration::from_millis(10),
        "{:?}",
        second.waited
    );
}

#[tokio::test(start_paused = true)]
async fn a_reported_tier_with_a_larger_burst_ends_a_wait_planned_for_the_tightest() {
    let pacer = CancelPacer::new();
    let first = pacer.reserve(10_000).await;
    let waiting = tokio::spawn({
        let pacer = pacer.clone();
        async move { pacer.reserve(1_000).await }
    });
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert!(!waiting.is_finished());
    // Elite: a burst of 1800, of which 1680 are left.
    pacer.observe(first, &metered("elite", 1680), StatusCode::OK);
    let second = waiting.await.expect("the waiting reservation");
    assert_eq!(second.size, 1000);
    assert!(
        second.waited < Duration::from_millis(10),
        "{:?}",
        second.waited
    );
}
