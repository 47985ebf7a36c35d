//! `--fixture FILE`: exchange state from JSON (format in README.md, "Simulator"). Every problem
//! is reported with the entry it is in (`orders[3] (0xabc…): …`) so a fixture can be fixed
//! from the message alone.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use super::amount::Amount;
use super::state::{ExchangeData, Order, OrderStatus, OrderType, Side, Token, TokenNo};
use crate::clob::ratelimit::Tier;
use crate::clob::types::Trade;
use crate::clob::{Credentials, Secret};

/// Why a fixture could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error("cannot read fixture {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("fixture {path} is not valid: {message}")]
    Invalid { path: PathBuf, message: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureFile {
    #[serde(default)]
    accounts: Vec<FixtureAccount>,
    #[serde(default)]
    markets: Vec<FixtureMarket>,
    #[serde(default)]
    orders: Vec<FixtureOrder>,
    #[serde(default)]
    trades: Vec<Trade>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureAccount {
    api_key: String,
    secret: String,
    passphrase: String,
    address: String,
    /// The signer's rate-limit tier (`standard` … `elite`); default `--tier`.
    #[serde(default)]
    tier: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureMarket {
    #[serde(alias = "condition_id")]
    market: String,
    #[serde(default)]
    tick_size: Option<Value>,
    #[serde(default)]
    min_order_size: Option<Value>,
    #[serde(default)]
    neg_risk: bool,
    tokens: Vec<FixtureToken>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureToken {
    #[serde(alias = "asset_id")]
    token_id: String,
    #[serde(default)]
    outcome: Option<String>,
    #[serde(default)]
    last_trade_price: Option<Value>,
    #[serde(default)]
    bids: Vec<FixtureLevel>,
    #[serde(default)]
    asks: Vec<FixtureLevel>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureLevel {
    price: Value,
    size: Value,
}

/// An order in the wire shape; extra fields of real API responses are ignored.
#[derive(Deserialize)]
struct FixtureOrder {
    id: String,
    #[serde(default)]
    owner: Option<String>,
    #[serde(default)]
    market: Option<String>,
    asset_id: String,
    side: String,
    price: Value,
    original_size: Value,
    #[serde(default)]
    size_matched: Option<Value>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    outcome: Option<String>,
    #[serde(default)]
    order_type: Option<String>,
    #[serde(default)]
    expiration: Option<Value>,
    #[serde(default)]
    created_at: Option<Value>,
    #[serde(default)]
    associate_trades: Option<Vec<String>>,
    #[serde(default)]
    scoring: Option<bool>,
}

const DEFAULT_TICK: Amount = Amount::from_cents(1);
const DEFAULT_MIN_ORDER_SIZE: Amount = Amount::from_cents(500);

fn amount(value: &Value, what: &str) -> Result<Amount, String> {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => return Err(format!("{what} {other} is not a decimal amount")),
    };
    Amount::parse(&text).ok_or_else(|| {
        format!("{what} {text:?} is not a non-negative decimal with at most 6 decimals")
    })
}

fn seconds(value: &Value, what: &str) -> Result<i64, String> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or_else(|| format!("{what} {value} is not Unix seconds"))
}

/// Shortens long ids in messages, keeping enough to find them.
fn short(id: &str) -> String {
    if id.chars().count() > 14 {
        format!("{}…", id.chars().take(12).collect::<String>())
    } else {
        id.to_owned()
    }
}

/// Loads a fixture. Without an `accounts` list, everything belongs to `primary`; with one, its
/// first entry is the primary account unless `primary`'s key is listed too.
pub fn load(path: &Path, primary: &Credentials, now: i64) -> Result<ExchangeData, FixtureError> {
    let text = std::fs::read_to_string(path).map_err(|source| FixtureError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(&text, primary, now).map_err(|message| FixtureError::Invalid {
        path: path.to_owned(),
        message,
    })
}

/// Parses and checks fixture text (see [`load`]).
pub fn parse(text: &str, primary: &Credentials, now: i64) -> Result<ExchangeData, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    if !value.is_object() {
        return Err(
            "the fixture must be a JSON object with `markets` and/or `orders` (and optionally \
             `accounts` and `trades`)"
                .to_owned(),
        );
    }
    let file: FixtureFile = serde_json::from_value(value).map_err(|e| e.to_string())?;
    if file.accounts.is_empty()
        && file.markets.is_empty()
        && file.orders.is_empty()
        && file.trades.is_empty()
    {
        return Err(
            "the fixture lists no accounts, markets, orders or trades, so there is nothing to \
             serve; fill in at least one (or drop --fixture to generate data)"
                .to_owned(),
        );
    }
    let tiers = tiers(&file.accounts)?;
    let accounts = accounts(file.accounts, primary)?;
    let keys: HashMap<&str, usize> = accounts
        .iter()
        .enumerate()
        .map(|(no, c)| (c.api_key.as_str(), no))
        .collect();

    let mut tokens: Vec<Token> = Vec::new();
    let mut token_by_id: HashMap<String, TokenNo> = HashMap::new();
    for (m, market) in file.markets.into_iter().enumerate() {
        let at = format!("markets[{m}] ({})", short(&market.market));
        if market.market.trim().is_empty() {
            return Err(format!("markets[{m}]: market (the condition id) is empty"));
        }
        let tick = match &market.tick_size {
            Some(v) => amount(v, "tick_size").map_err(|e| format!("{at}: {e}"))?,
            None => DEFAULT_TICK,
        };
        if tick.is_zero() || tick >= Amount::ONE {
            return Err(format!("{at}: tick_size {tick} must be between 0 and 1"));
        }
        let min_order_size = match &market.min_order_size {
            Some(v) => amount(v, "min_order_size").map_err(|e| format!("{at}: {e}"))?,
            None => DEFAULT_MIN_ORDER_SIZE,
        };
        if market.tokens.is_empty() {
            return Err(format!(
                "{at}: tokens is empty; list the market's outcome tokens"
            ));
        }
        for (t, token) in market.tokens.into_iter().enumerate() {
            let at = format!("{at}.tokens[{t}] ({})", short(&token.token_id));
            let no = tokens.len() as TokenNo;
            let token = market_token(
                &token,
                &market.market,
                tick,
                min_order_size,
                market.neg_risk,
            )
            .map_err(|e| format!("{at}: {e}"))?;
            if token_by_id.insert(token.token_id.clone(), no).is_some() {
                return Err(format!("{at}: token_id is listed twice"));
            }
            tokens.push(token);
        }
    }

    let mut orders = Vec::with_capacity(file.orders.len());
    let mut raw_ids = Vec::with_capacity(file.orders.len());
    for (i, raw) in file.orders.into_iter().enumerate() {
        let at = format!("orders[{i}] ({})", short(&raw.id));
        raw_ids.push(at.clone());
        let order = order(raw, &keys, &mut tokens, &mut token_by_id, now)
            .map_err(|e| format!("{at}: {e}"))?;
        orders.push(order);
    }

    crossed_orders(&orders, &raw_ids, &tokens)?;

    let mut trades = file.trades;
    for (i, trade) in trades.iter_mut().enumerate() {
        let at = format!("trades[{i}] ({})", short(&trade.id));
        if trade.id.trim().is_empty() {
            return Err(format!("trades[{i}]: id is empty"));
        }
        if trade.owner.is_empty() && accounts.len() == 1 {
            trade.owner = accounts[0].api_key.clone();
        }
        let owned = keys.contains_key(trade.owner.as_str())
            || trade
                .maker_orders
                .iter()
                .any(|m| keys.contains_key(m.owner.as_str()));
        if !owned {
            return Err(format!(
                "{at}: owner {:?} is not an account of this fixture, and neither is any maker order's owner",
                trade.owner
            ));
        }
        if trade.match_time.trim().parse::<i64>().is_err() {
            return Err(format!(
                "{at}: match_time {:?} is not Unix seconds",
                trade.match_time
            ));
        }
    }

    Ok(ExchangeData {
        accounts,
        tiers,
        tokens,
        orders,
        trades,
    })
}

/// Refuses open orders that cross the book: a BUY at or above a SELL on the same token (open
/// orders of any accounts), or an order crossing the other traders' levels of `markets`. The
/// exchange would have matched them, so such a book cannot exist. `names[i]` names `orders[i]`.
fn crossed_orders(orders: &[Order], names: &[String], tokens: &[Token]) -> Result<(), String> {
    let mut best: HashMap<TokenNo, (Option<usize>, Option<usize>)> = HashMap::new();
    for (i, order) in orders.iter().enumerate() {
        if !order.status.is_open() || order.remaining().is_zero() {
            continue;
        }
        let entry = best.entry(order.token).or_default();
        match order.side {
            Side::Buy if entry.0.is_none_or(|b| orders[b].price < order.price) => entry.0 = Some(i),
            Side::Sell if entry.1.is_none_or(|a| orders[a].price > order.price) => {
                entry.1 = Some(i);
            }
            _ => {}
        }
    }
    let mut crossed: Vec<(TokenNo, String)> = Vec::new();
    for (&token_no, &(bid, ask)) in &best {
        let token = &tokens[token_no as usize];
        let describe = |i: usize| {
            let o = &orders[i];
            format!("{} {} {}", names[i], o.side.as_str(), o.price)
        };
        let problem = match (bid, ask) {
            (Some(b), Some(a)) if orders[b].price >= orders[a].price => {
                Some(format!("{} is at or above {}", describe(b), describe(a)))
            }
            _ => {
                // Against the listed liquidity (the levels of `markets`, not the orders).
                let listed_ask = token.asks.keys().next().copied();
                let listed_bid = token.bids.keys().next_back().copied();
                match (bid, ask) {
                    (Some(b), _) if listed_ask.is_some_and(|ask| orders[b].price >= ask) => {
                        Some(format!(
                            "{} is at or above the listed ask {}",
                            describe(b),
                            listed_ask.unwrap_or_default()
                        ))
                    }
                    (_, Some(a)) if listed_bid.is_some_and(|bid| orders[a].price <= bid) => {
                        Some(format!(
                            "{} is at or below the listed bid {}",
                            describe(a),
                            listed_bid.unwrap_or_default()
                        ))
                    }
                    _ => None,
                }
            }
        };
        if let Some(problem) = problem {
            crossed.push((
                token_no,
                format!("token {}: {problem}", short(&token.token_id)),
            ));
        }
    }
    if crossed.is_empty() {
        return Ok(());
    }
    crossed.sort();
    let lines: Vec<String> = crossed.into_iter().map(|(_, line)| line).collect();
    Err(format!(
        "the book is crossed (the exchange would have matched these orders): {}",
        lines.join("; ")
    ))
}

/// The tiers the accounts name, by signer address; accounts sharing an address must agree.
fn tiers(listed: &[FixtureAccount]) -> Result<HashMap<String, Tier>, String> {
    let mut tiers: HashMap<String, (usize, Tier)> = HashMap::new();
    for (i, account) in listed.iter().enumerate() {
        let Some(name) = &account.tier else {
            continue;
        };
        let tier: Tier = name
            .parse()
            .map_err(|e| format!("accounts[{i}] ({}): {e}", account.api_key))?;
        let address = account.address.trim().to_ascii_lowercase();
        if let Some((first, other)) = tiers.get(&address)
            && *other != tier
        {
            return Err(format!(
                "accounts[{i}] ({}): tier {tier} differs from accounts[{first}], which has the same address and tier {other}; a tier belongs to the signer address",
                account.api_key
            ));
        }
        tiers.entry(address).or_insert((i, tier));
    }
    Ok(tiers
        .into_iter()
        .map(|(address, (_, tier))| (address, tier))
        .collect())
}

fn accounts(
    listed: Vec<FixtureAccount>,
    primary: &Credentials,
) -> Result<Vec<Credentials>, String> {
    if listed.is_empty() {
        return Ok(vec![primary.clone()]);
    }
    let mut accounts = Vec::with_capacity(listed.len());
    for (i, account) in listed.into_iter().enumerate() {
        for (field, value) in [
            ("api_key", &account.api_key),
            ("secret", &account.secret),
            ("passphrase", &account.passphrase),
            ("address", &account.address),
        ] {
            if value.trim().is_empty() {
                return Err(format!("accounts[{i}]: {field} is empty"));
            }
        }
        if crate::clob::SigningKey::from_secret(&Secret::new(account.secret.clone())).is_err() {
            return Err(format!(
                "accounts[{i}] ({}): secret is not valid base64 (the url-safe base64 secret of the API key)",
                account.api_key
            ));
        }
        accounts.push(Credentials {
            api_key: account.api_key,
            secret: Secret::new(account.secret),
            passphrase: Secret::new(account.passphrase),
            address: account.address,
        });
    }
    // The configured primary key comes first when the fixture lists it.
    if let Some(position) = accounts.iter().position(|c| c.api_key == primary.api_key) {
        accounts.swap(0, position);
    }
    Ok(accounts)
}

fn market_token(
    token: &FixtureToken,
    market: &str,
    tick: Amount,
    min_order_size: Amount,
    neg_risk: bool,
) -> Result<Token, String> {
    if token.token_id.trim().is_empty() || !token.token_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "token_id {:?} is not a decimal token id",
            token.token_id
        ));
    }
    let mut built = Token {
        token_id: token.token_id.clone(),
        market: market.to_owned(),
        outcome: token.outcome.clone().unwrap_or_else(|| "Yes".to_owned()),
        tick_size: tick,
        min_order_size,
        neg_risk,
        last_trade_price: Amount::ZERO,
        bids: Default::default(),
        asks: Default::default(),
        updated_ms: 0,
    };
    for (side, levels) in [("bids", &token.bids), ("asks", &token.asks)] {
        for (l, level) in levels.iter().enumerate() {
            let what = format!("{side}[{l}]");
            let price = amount(&level.price, &format!("{what}.price"))?;
            let size = amount(&level.size, &format!("{what}.size"))?;
            if price.is_zero() || price >= Amount::ONE || !price.is_multiple_of(tick) {
                return Err(format!(
                    "{what}.price {price} must be between 0 and 1 and on the tick {tick}"
                ));
            }
            let book = if side == "bids" {
                &mut built.bids
            } else {
                &mut built.asks
            };
            let level = book.entry(price).or_default();
            *level = *level + size;
        }
    }
    if let (Some(bid), Some(ask)) = (built.best_bid(), built.best_ask())
        && bid >= ask
    {
        return Err(format!(
            "the book is crossed: best bid {bid} >= best ask {ask}"
        ));
    }
    built.last_trade_price = match &token.last_trade_price {
        Some(v) => amount(v, "last_trade_price")?,
        None => match (built.best_bid(), built.best_ask()) {
            (Some(bid), Some(ask)) => (bid + ask) / 2,
            _ => Amount::from_cents(50),
        },
    };
    Ok(built)
}

fn order(
    raw: FixtureOrder,
    keys: &HashMap<&str, usize>,
    tokens: &mut Vec<Token>,
    token_by_id: &mut HashMap<String, TokenNo>,
    now: i64,
) -> Result<Order, String> {
    if raw.id.trim().is_empty() {
        return Err("id is empty".to_owned());
    }
    let account = match raw
        .owner
        .as_deref()
        .map(str::trim)
        .filter(|o| !o.is_empty())
    {
        Some(owner) => *keys.get(owner).ok_or_else(|| {
            format!("owner {owner:?} is not an account of this fixture (list it under accounts)")
        })?,
        None if keys.len() == 1 => 0,
        None => return Err("owner is missing; with several accounts, name the API key".to_owned()),
    };
    let token = match token_by_id.get(raw.asset_id.trim()) {
        Some(&no) => {
            let token = &tokens[no as usize];
            if let Some(market) = raw.market.as_deref().filter(|m| !m.is_empty())
                && market != token.market
            {
                return Err(format!(
                    "asset_id belongs to market {}, not {market}",
                    token.market
                ));
            }
            no
        }
        None => {
            // A token first seen in an order gets default market settings.
            let market = raw
                .market
                .clone()
                .filter(|m| !m.trim().is_empty())
                .ok_or_else(|| {
                    format!(
                        "asset_id {} is not under markets, so the order needs its market",
                        short(&raw.asset_id)
                    )
                })?;
            let listed = FixtureToken {
                token_id: raw.asset_id.trim().to_owned(),
                outcome: raw.outcome.clone(),
                last_trade_price: None,
                bids: Vec::new(),
                asks: Vec::new(),
            };
            let token = market_token(
                &listed,
                &market,
                DEFAULT_TICK,
                DEFAULT_MIN_ORDER_SIZE,
                false,
            )?;
            let no = tokens.len() as TokenNo;
            token_by_id.insert(token.token_id.clone(), no);
            tokens.push(token);
            no
        }
    };
    let tick = tokens[token as usize].tick_size;
    let side =
        Side::parse(&raw.side).ok_or_else(|| format!("side {:?} is not BUY or SELL", raw.side))?;
    let price = amount(&raw.price, "price")?;
    if price.is_zero() || price >= Amount::ONE || !price.is_multiple_of(tick) {
        return Err(format!(
            "price {price} must be between 0 and 1 and on the token's tick {tick}"
        ));
    }
    let original_size = amount(&raw.original_size, "original_size")?;
    let size_matched = match &raw.size_matched {
        Some(v) => amount(v, "size_matched")?,
        None => Amount::ZERO,
    };
    if size_matched > original_size {
        return Err(format!(
            "size_matched {size_matched} is more than original_size {original_size}"
        ));
    }
    let status = match raw.status.as_deref() {
        None => OrderStatus::Live,
        Some(text) => OrderStatus::parse(text).ok_or_else(|| {
            let known: Vec<&str> = OrderStatus::ALL.iter().map(|s| s.as_str()).collect();
            format!("status {text:?} is not one of {}", known.join(", "))
        })?,
    };
    let order_type = match raw.order_type.as_deref() {
        None => OrderType::Gtc,
        Some(text) => OrderType::parse(text)
            .ok_or_else(|| format!("order_type {text:?} is not GTC, GTD, FOK or FAK"))?,
    };
    let expiration = match &raw.expiration {
        None | Some(Value::Null) => 0,
        Some(v) => seconds(v, "expiration")?,
    };
    let created_at = match &raw.created_at {
        None | Some(Value::Null) => now,
        Some(v) => seconds(v, "created_at")?,
    };
    if let Some(outcome) = raw.outcome.as_deref()
        && !outcome.is_empty()
        && outcome != tokens[token as usize].outcome
    {
        return Err(format!(
            "outcome {outcome:?} differs from the token's outcome {:?}",
            tokens[token as usize].outcome
        ));
    }
    Ok(Order {
        id: raw.id.trim().to_owned(),
        account,
        token,
        side,
        price,
        original_size,
        size_matched,
        status,
        order_type,
        expiration,
        created_at,
        associate_trades: raw.associate_trades.unwrap_or_default(),
        scoring: status.is_open() && raw.scoring.unwrap_or(false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::demo_credentials;

    const TOKEN: &str =
        "71321045679252212594626385532706912750332728571942532289631379312455583992563";

    fn parsed(text: &str) -> Result<ExchangeData, String> {
        parse(text, &demo_credentials(), 1_700_000_000)
    }

    #[test]
    fn a_minimal_fixture_belongs_to_the_primary_account() {
        let data = parsed(&format!(
            r#"{{"orders":[{{"id":"0x1","market":"0xm","asset_id":"{TOKEN}","side":"BUY","price":"0.45","original_size":"10","created_at":1699990000}}]}}"#
        ))
        .expect("valid");
        assert_eq!(data.accounts.len(), 1);
        assert_eq!(data.orders[0].account, 0);
        assert_eq!(data.orders[0].status, OrderStatus::Live);
        assert_eq!(data.tokens[0].market, "0xm");
    }

    #[test]
    fn problems_name_the_entry_and_the_field() {
        let cases = [
            (r#"{"orderz":[]}"#.to_owned(), "unknown field `orderz`"),
            (
                format!(
                    r#"{{"orders":[{{"id":"0x1","market":"0xm","asset_id":"{TOKEN}","side":"BUY","price":"0.455","original_size":"10"}}]}}"#
                ),
                "orders[0] (0x1): price 0.455 must be between 0 and 1 and on the token's tick 0.01",
            ),
            (
                format!(
                    r#"{{"orders":[{{"id":"0x1","market":"0xm","asset_id":"{TOKEN}","side":"HOLD","price":"0.45","original_size":"10"}}]}}"#
                ),
                "side \"HOLD\" is not BUY or SELL",
            ),
            (
                format!(
                    r#"{{"orders":[{{"id":"0x1","asset_id":"{TOKEN}","side":"BUY","price":"0.45","original_size":"10"}}]}}"#
                ),
                "is not under markets, so the order needs its market",
            ),
            (
                format!(
                    r#"{{"orders":[{{"id":"0x1","owner":"nobody","market":"0xm","asset_id":"{TOKEN}","side":"BUY","price":"0.45","original_size":"10"}}]}}"#
                ),
                "owner \"nobody\" is not an account of this fixture",
            ),
            (
                r#"{"accounts":[{"api_key":"k","secret":"%%","passphrase":"p","address":"0x1"}]}"#
                    .to_owned(),
                "accounts[0] (k): secret is not valid base64",
            ),
            ("[1, 2".to_owned(), "line 1 column"),
        ];
        for (text, expected) in cases {
            let message = parsed(&text).expect_err("invalid");
            assert!(
                message.contains(expected),
                "{message:?} should contain {expected:?}"
            );
        }
    }

    #[test]
    fn the_configured_key_is_primary_when_the_fixture_lists_it() {
        let demo = demo_credentials();
        let text = format!(
            r#"{{"accounts":[
                {{"api_key":"other","secret":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","passphrase":"p","address":"0x2"}},
                {{"api_key":"{}","secret":"{}","passphrase":"x","address":"0x3"}}]}}"#,
            demo.api_key,
            demo.secret.expose()
        );
        let data = parsed(&text).expect("valid");
        assert_eq!(data.accounts[0].api_key, demo.api_key);
        assert_eq!(data.accounts[1].api_key, "other");
    }
}
