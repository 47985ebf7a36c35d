//! Other traders taking liquidity (`sim --fills INTERVAL`): every INTERVAL one taker fills one
//! of the primary account's open orders, partly or fully, and the trade then settles through
//! the exchange's statuses, one user-channel event per step.
//!
//! Which order, how much and how the trade settles follow a generator seeded by `--seed`, on a
//! stream of its own: the same seed over the same open orders gives the same fills, in the same
//! order, with the same trade ids. Settlement is `MATCHED → MINED → CONFIRMED`, or for a share
//! of trades (`SimConfig::trade_failure_rate`) `MATCHED → RETRYING → FAILED`, each step
//! `SimConfig::trade_status_delay` after the previous one. A failed trade keeps its fill: the
//! simulator does not put the size back on the order.

use std::sync::Arc;
use std::time::Duration;

use rand::{RngExt as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;
use tokio_util::sync::CancellationToken;

use super::amount::Amount;
use super::generate::{hex_id, uuid};
use super::server::Shared;
use super::state::{AccountNo, Taker};

/// The account whose orders other traders fill.
const PRIMARY: AccountNo = 0;

/// How fills happen.
#[derive(Clone, Copy, Debug)]
pub struct FillSettings {
    pub interval: Duration,
    pub seed: u64,
    pub status_delay: Duration,
    pub failure_rate: f64,
}

/// The statuses a trade moves through after `MATCHED`.
fn settlement(rng: &mut ChaCha8Rng, failure_rate: f64) -> &'static [&'static str] {
    if rng.random_bool(failure_rate.clamp(0.0, 1.0)) {
        &["RETRYING", "FAILED"]
    } else {
        &["MINED", "CONFIRMED"]
    }
}

/// How much of `remaining` one taker takes: all of it a third of the time (and always when
/// less than two cents rest), otherwise a whole number of cents short of it.
fn fill_size(rng: &mut ChaCha8Rng, remaining: Amount) -> Amount {
    let cents = remaining.micros() / 10_000;
    if cents < 2 || rng.random_range(0..3) == 0 {
        return remaining;
    }
    Amount::from_cents(rng.random_range(1..cents))
}

/// Fills one open order of the primary account, if it has any; schedules the settlement.
fn fill_once(shared: &Arc<Shared>, rng: &mut ChaCha8Rng, settings: &FillSettings) {
    let now_ms = shared.clock.now_millis();
    let mut exchange = shared.exchange();
    let open = exchange.open_count(PRIMARY);
    if open == 0 {
        return;
    }
    let rank = rng.random_range(0..open);
    let Some(remaining) = exchange.open_remaining(PRIMARY, rank) else {
        return;
    };
    let size = fill_size(rng, remaining);
    let taker = Taker {
        trade_id: uuid(rng),
        order_id: hex_id(rng, 32),
    };
    let path = settlement(rng, settings.failure_rate);
    let transaction_hash = hex_id(rng, 32);
    let Some(fill) = exchange.fill(PRIMARY, rank, size, &taker, now_ms) else {
        return;
    };
    drop(exchange);
    tracing::debug!(
        order = %fill.order_id,
        trade = %fill.trade_id,
        size = %fill.size,
        filled = fill.filled,
        "a taker filled an order"
    );
    let shared = shared.clone();
    let delay = settings.status_delay;
    let stop = shared.exchange().events.stopped();
    tokio::spawn(async move {
        for status in path {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(delay) => {}
            }
            let hash = (*status == "MINED").then_some(transaction_hash.as_str());
            let now_ms = shared.clock.now_millis();
            shared
                .exchange()
                .settle_trade(&fill.trade_id, status, hash, now_ms);
        }
    });
}

/// Runs until `stop`: one fill every `settings.interval`, the first one interval after start.
pub async fn run(shared: Arc<Shared>, settings: FillSettings, stop: CancellationToken) {
    // A stream separate from data generation and faults, so neither changes the other.
    let mut rng = ChaCha8Rng::seed_from_u64(settings.seed ^ 0xf111_5f11_15f1_115f);
    let interval = settings.interval.max(Duration::from_millis(1));
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = ticks.tick() => fill_once(&shared, &mut rng, &settings),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_never_exceed_what_rests() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for cents in [1, 2, 3, 150, 10_000] {
            let remaining = Amount::from_cents(cents);
            for _ in 0..50 {
                let size = fill_size(&mut rng, remaining);
                assert!(
                    !size.is_zero() && size <= remaining,
                    "{size} of {remaining}"
                );
            }
        }
        let odd = Amount::from_micros(12_345);
        assert!(fill_size(&mut rng, odd) <= odd);
    }

    #[test]
    fn settlement_follows_the_failure_rate_bounds() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert_eq!(settlement(&mut rng, 0.0), ["MINED", "CONFIRMED"]);
        assert_eq!(settlement(&mut rng, 1.0), ["RETRYING", "FAILED"]);
    }
}
