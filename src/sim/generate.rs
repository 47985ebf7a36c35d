//! Deterministic generated exchange data: the same seed, order count and start time always give
//! the same markets, orders, trades and books.

use rand::{RngExt as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;

use super::amount::Amount;
use super::state::{ExchangeData, Order, OrderStatus, OrderType, Side, Token, TokenNo};
use crate::clob::types::{MakerOrder, Trade};
use crate::clob::{Credentials, Secret};

/// Markets in generated data; each has a `Yes` and a `No` token.
pub const MARKETS: usize = 6;
/// How far back generated orders were created.
pub const HISTORY_SECS: i64 = 48 * 3600;
/// Fee rate on every generated fill.
const FEE_RATE_BPS: &str = "0";

/// The second account of generated data, so tests can show one key never touches another's
/// orders. Its credentials are fixed and public, like the demo ones.
pub fn second_account() -> Credentials {
    Credentials {
        api_key: "9c8b7a6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d".to_owned(),
        secret: Secret::new("c2ltdWxhdG9yLXNlY29uZC1hY2NvdW50LXNlY3JldCE="),
        passphrase: Secret::new("other-passphrase"),
        address: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8".to_owned(),
    }
}

/// The private key of the second account's address: Hardhat/Anvil test account #1, a PUBLIC
/// TEST KEY like the demo one.
pub const SECOND_PRIVATE_KEY: &str =
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

/// What to generate.
#[derive(Clone, Debug)]
pub struct Generation {
    /// Orders of the primary account (every status); the second account gets a tenth as many.
    pub orders: usize,
    /// When set, `orders` is ignored: the primary account gets orders until exactly this many
    /// are open (the second account a tenth as many orders).
    pub open_orders: Option<usize>,
    pub seed: u64,
    /// Unix seconds the history ends at.
    pub now: i64,
    pub primary: Credentials,
    /// Left out when it would clash with the primary key.
    pub second: Option<Credentials>,
}

pub(super) fn hex_id(rng: &mut ChaCha8Rng, bytes: usize) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [0u8; 32];
    let buf = &mut buf[..bytes.min(32)];
    rng.fill(&mut *buf);
    let mut id = String::with_capacity(2 + 2 * buf.len());
    id.push_str("0x");
    for byte in buf.iter() {
        id.push(char::from(DIGITS[usize::from(byte >> 4)]));
        id.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    id
}

pub(super) fn uuid(rng: &mut ChaCha8Rng) -> String {
    let mut bytes = [0u8; 16];
    rng.fill(&mut bytes);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// A 77-digit decimal token id, like the exchange's uint256 ids.
fn token_id(rng: &mut ChaCha8Rng) -> String {
    let mut id = String::with_capacity(77);
    id.push(char::from(b'1' + rng.random_range(0..9u8)));
    for _ in 0..76 {
        id.push(char::from(b'0' + rng.random_range(0..10u8)));
    }
    id
}

/// Splits `total` cents into up to `parts` positive pieces.
fn split(rng: &mut ChaCha8Rng, total: i64, parts: usize) -> Vec<i64> {
    let parts = (parts as i64).clamp(1, total.max(1));
    let mut pieces = Vec::with_capacity(parts as usize);
    let mut left = total;
    for remaining in (1..parts).rev() {
        let piece = rng.random_range(1..=left - remaining);
        pieces.push(piece);
        left -= piece;
    }
    pieces.push(left);
    pieces
}

fn markets(rng: &mut ChaCha8Rng) -> Vec<Token> {
    let mut tokens = Vec::with_capacity(MARKETS * 2);
    for m in 0..MARKETS {
        let market = hex_id(rng, 32);
        let tick = if m % 3 == 2 {
            Amount::from_micros(1_000)
        } else {
            Amount::from_cents(1)
        };
        let neg_risk = m % 4 == 3;
        // The Yes mid lies on the tick between 0.15 and 0.85; No mirrors it.
        let ticks_per_unit = Amount::ONE.micros() / tick.micros();
        let yes_mid =
            tick * rng.random_range(ticks_per_unit * 15 / 100..=ticks_per_unit * 85 / 100);
        for (outcome, mid) in [("Yes", yes_mid), ("No", Amount::ONE - yes_mid)] {
            let mut token = Token {
                token_id: token_id(rng),
                market: market.clone(),
                outcome: outcome.to_owned(),
                tick_size: tick,
                min_order_size: Amount::from_cents(500),
                neg_risk,
                last_trade_price: mid,
                bids: Default::default(),
                asks: Default::default(),
                updated_ms: 0,
            };
            // Other traders' liquidity: eight levels a side around the mid.
            for k in 1..=8 {
                let bid = mid - tick * k;
                if bid.micros() > 0 {
                    token
                        .bids
                        .insert(bid, Amount::from_cents(rng.random_range(10..=2_000) * 100));
                }
                let ask = mid + tick * k;
                if ask < Amount::ONE {
                    token
                        .asks
                        .insert(ask, Amount::from_cents(rng.random_range(10..=2_000) * 100));
                }
            }
            tokens.push(token);
        }
    }
    tokens
}

/// Generates the exchange: [`MARKETS`] markets, orders over the last [`HISTORY_SECS`], trades
/// for every matched amount, and a book per token.
pub fn generate(spec: &Generation) -> ExchangeData {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let tokens = markets(&mut rng);
    let mut accounts = vec![spec.primary.clone()];
    // About three in four generated orders are open (see `order`).
    let primary = spec
        .open_orders
        .map_or(spec.orders, |open| open.saturating_mul(4).div_ceil(3));
    let mut counts = vec![primary];
    if let Some(second) = &spec.second {
        accounts.push(second.clone());
        counts.push(primary.div_ceil(10));
    }
    let total: usize = counts.iter().sum();
    let mut orders = Vec::with_capacity(total);
    // About 0.4 fills per order (see `order`); a little headroom avoids a reallocation.
    let mut trades = Vec::with_capacity(total / 2);
    for (account, &count) in counts.iter().enumerate() {
        let mut open = 0;
        let mut made = 0;
        loop {
            let done = match (account, spec.open_orders) {
                (0, Some(target)) => open >= target,
                _ => made >= count,
            };
            if done {
                break;
            }
            let order = order(
                &mut rng,
                spec,
                &tokens,
                &accounts[account],
                account,
                &mut trades,
            );
            made += 1;
            open += usize::from(order.status.is_open());
            orders.push(order);
        }
    }
    ExchangeData {
        accounts,
        tiers: Default::default(),
        tokens,
        orders,
        trades,
    }
}

fn order(
    rng: &mut ChaCha8Rng,
    spec: &Generation,
    tokens: &[Token],
    credentials: &Credentials,
    account: usize,
    trades: &mut Vec<Trade>,
) -> Order {
    let token_no = rng.random_range(0..tokens.len());
    let token = &tokens[token_no];
    let side = if rng.random_bool(0.5) {
        Side::Buy
    } else {
        Side::Sell
    };
    let distance = rng.random_range(1..=25i64);
    let mid = token.last_trade_price;
    let price = match side {
        Side::Buy => (mid - token.tick_size * distance).max(token.tick_size),
        Side::Sell => (mid + token.tick_size * distance).min(Amount::ONE - token.tick_size),
    };
    let original_cents = if rng.random_bool(0.8) {
        rng.random_range(5..=1_000) * 100
    } else {
        rng.random_range(500..=100_000)
    };
    let roll: f64 = rng.random();
    let status = if roll < 0.74 {
        OrderStatus::Live
    } else if roll < 0.87 {
        OrderStatus::Matched
    } else {
        OrderStatus::Canceled
    };
    let matched_cents = match status {
        OrderStatus::Matched => original_cents,
        _ if rng.random_bool(0.2) => rng.random_range(1..original_cents),
        _ => 0,
    };
    let created_at = spec.now - rng.random_range(60..HISTORY_SECS);
    let (order_type, expiration) = if rng.random_bool(0.3) {
        let lifetime = rng.random_range(3_600..72 * 3_600);
        // A live GTD order has not expired yet.
        let base = if status.is_open() {
            spec.now
        } else {
            created_at
        };
        (OrderType::Gtd, base + lifetime)
    } else {
        (OrderType::Gtc, 0)
    };
    let scoring = status.is_open() && distance <= 12 && rng.random_bool(0.85);
    let mut order = Order {
        id: hex_id(rng, 32),
        account,
        token: token_no as TokenNo,
        side,
        price,
        original_size: Amount::from_cents(original_cents),
        size_matched: Amount::from_cents(matched_cents),
        status,
        order_type,
        expiration,
        created_at,
        associate_trades: Vec::new(),
        scoring,
    };
    if matched_cents > 0 {
        let as_taker = status == OrderStatus::Matched && rng.random_bool(0.4);
        let parts = if status == OrderStatus::Matched {
            rng.random_range(1..=3)
        } else {
            rng.random_range(1..=2)
        };
        for cents in split(rng, matched_cents, parts) {
            let trade = if as_taker {
                taker_fill(rng, spec, &order, token, credentials, cents)
            } else {
                maker_fill(rng, spec, &order, token, credentials, cents)
            };
            order.associate_trades.push(trade.id.clone());
            trades.push(trade);
        }
    }
    order
}

fn trade_status(rng: &mut ChaCha8Rng) -> &'static str {
    match rng.random_range(0..20) {
        0 => "MATCHED",
        1 | 2 => "MINED",
        _ => "CONFIRMED",
    }
}

/// A fill where the account's order rested on the book and someone else's order took it.
fn maker_fill(
    rng: &mut ChaCha8Rng,
    spec: &Generation,
    order: &Order,
    token: &Token,
    credentials: &Credentials,
    cents: i64,
) -> Trade {
    let size = Amount::from_cents(cents).to_string();
    let match_time = rng.random_range(order.created_at..spec.now.max(order.created_at + 1));
    Trade {
        id: uuid(rng),
        taker_order_id: hex_id(rng, 32),
        market: token.market.clone(),
        asset_id: token.token_id.clone(),
        side: order.side.opposite().as_str().to_owned(),
        size: size.clone(),
        fee_rate_bps: FEE_RATE_BPS.to_owned(),
        price: order.price.to_string(),
        status: trade_status(rng).to_owned(),
        match_time: match_time.to_string(),
        last_update: (match_time + rng.random_range(0..30)).to_string(),
        outcome: token.outcome.clone(),
        owner: credentials.api_key.clone(),
        maker_address: credentials.address.clone(),
        transaction_hash: hex_id(rng, 32),
        bucket_index: 0,
        trader_side: "MAKER".to_owned(),
        maker_orders: vec![MakerOrder {
            order_id: order.id.clone(),
            owner: credentials.api_key.clone(),
            maker_address: credentials.address.clone(),
            matched_amount: size,
            price: order.price.to_string(),
            fee_rate_bps: FEE_RATE_BPS.to_owned(),
            asset_id: token.token_id.clone(),
            outcome: token.outcome.clone(),
            side: order.side.as_str().to_owned(),
        }],
    }
}

/// A fill where the account's order crossed the spread and took other traders' orders.
fn taker_fill(
    rng: &mut ChaCha8Rng,
    spec: &Generation,
    order: &Order,
    token: &Token,
    credentials: &Credentials,
    cents: i64,
) -> Trade {
    let match_time = rng.random_range(order.created_at..spec.now.max(order.created_at + 1));
    let makers = rng.random_range(1..=2);
    let maker_orders = split(rng, cents, makers)
        .into_iter()
        .map(|part| MakerOrder {
            order_id: hex_id(rng, 32),
            owner: uuid(rng),
            maker_address: hex_id(rng, 20),
            matched_amount: Amount::from_cents(part).to_string(),
            price: order.price.to_string(),
            fee_rate_bps: FEE_RATE_BPS.to_owned(),
            asset_id: token.token_id.clone(),
            outcome: token.outcome.clone(),
            side: order.side.opposite().as_str().to_owned(),
        })
        .collect();
    Trade {
        id: uuid(rng),
        taker_order_id: order.id.clone(),
        market: token.market.clone(),
        asset_id: token.token_id.clone(),
        side: order.side.as_str().to_owned(),
        size: Amount::from_cents(cents).to_string(),
        fee_rate_bps: FEE_RATE_BPS.to_owned(),
        price: order.price.to_string(),
        status: trade_status(rng).to_owned(),
        match_time: match_time.to_string(),
        last_update: (match_time + rng.random_range(0..30)).to_string(),
        outcome: token.outcome.clone(),
        owner: credentials.api_key.clone(),
        maker_address: credentials.address.clone(),
        transaction_hash: hex_id(rng, 32),
        bucket_index: 0,
        trader_side: "TAKER".to_owned(),
        maker_orders,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::demo_credentials;
    use std::collections::HashSet;

    fn spec(orders: usize, seed: u64) -> Generation {
        Generation {
            orders,
            open_orders: None,
            seed,
            now: 1_750_000_000,
            primary: demo_credentials(),
            second: Some(second_account()),
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_data() {
        let a = generate(&spec(500, 7));
        let b = generate(&spec(500, 7));
        let ids = |d: &ExchangeData| d.orders.iter().map(|o| o.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&a), ids(&b));
        assert_eq!(a.trades, b.trades);
        assert_ne!(ids(&a), ids(&generate(&spec(500, 8))));
    }

    #[test]
    fn open_orders_asks_for_an_exact_number_of_open_orders() {
        let data = generate(&Generation {
            open_orders: Some(1234),
            ..spec(0, 7)
        });
        let open = |account| {
            data.orders
                .iter()
                .filter(|o| o.account == account && o.status.is_open())
                .count()
        };
        assert_eq!(open(0), 1234);
        assert!(data.orders.iter().any(|o| !o.status.is_open()));
        assert!(open(1) > 0, "the second account still gets orders");
    }

    #[test]
    fn generated_data_has_the_documented_shape() {
        let data = generate(&spec(3000, 1));
        let markets: HashSet<&str> = data.tokens.iter().map(|t| t.market.as_str()).collect();
        assert!(markets.len() >= 5);
        assert_eq!(data.tokens.len(), markets.len() * 2);
        for token in &data.tokens {
            assert!((70..=78).contains(&token.token_id.len()));
            assert!(token.best_bid() < token.best_ask());
        }
        let primary = data.orders.iter().filter(|o| o.account == 0).count();
        assert_eq!(primary, 3000);
        assert_eq!(data.orders.len(), 3300);
        for order in &data.orders {
            let token = &data.tokens[order.token as usize];
            assert_eq!(order.id.len(), 66);
            assert!(order.price.is_multiple_of(token.tick_size));
            assert!(order.size_matched <= order.original_size);
            assert!(order.created_at >= 1_750_000_000 - HISTORY_SECS);
            let matched: i64 = data
                .trades
                .iter()
                .filter(|t| order.associate_trades.contains(&t.id))
                .map(|t| Amount::parse(&t.size).expect("size").micros())
                .sum();
            assert_eq!(matched, order.size_matched.micros(), "order {}", order.id);
        }
        let live = |o: &&Order| o.status == OrderStatus::Live;
        assert!(data.orders.iter().filter(live).any(|o| o.scoring));
        assert!(data.orders.iter().filter(live).any(|o| !o.scoring));
        assert!(data.orders.iter().any(|o| o.order_type == OrderType::Gtd));
        assert!(data.orders.iter().any(|o| o.status == OrderStatus::Matched));
        assert!(
            data.orders
                .iter()
                .any(|o| !o.size_matched.is_zero() && live(&o))
        );
    }
}
