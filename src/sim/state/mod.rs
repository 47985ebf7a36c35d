//! The in-memory exchange: accounts (API keys), tokens with their books, orders and trades, and
//! the indexes that keep every listing page and every cancel cheap at 100,000 orders.
//!
//! Listings are in creation order (oldest first) and paged by offset, as the exchange's cursors
//! are offsets: a client that cancels while it pages over open orders sees the list shrink under
//! its cursor and skips orders, exactly as against the real exchange.

mod cancels;
mod fills;
mod keys;
mod listings;
mod load;

pub use fills::Taker;
pub use listings::{Listing, OrderQuery, TradeQuery};

use std::collections::{BTreeMap, HashMap};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use super::amount::Amount;
use super::events::EventBus;
use super::index::OpenIndex;
use crate::clob::types::{BookLevel, OrderBook, Trade};
use crate::clob::{Credentials, SigningKey};

/// Position of an order in the exchange's order table; orders are numbered in creation order.
pub type OrderNo = u32;
/// Position of a token in the exchange's token table.
pub type TokenNo = u32;
/// Position of an account in the exchange's account table; 0 is the primary account.
pub type AccountNo = usize;

/// The reason given for an order that exists but is filled or otherwise closed.
pub const NOT_OPEN: &str = "order can't be found - already canceled or matched";

/// The simulator's clock: the system clock shifted by a fixed offset, so tests can play a
/// client whose clock is skewed against the exchange's.
#[derive(Clone, Copy, Debug, Default)]
pub struct Clock {
    pub offset_secs: i64,
}

impl Clock {
    /// Unix seconds as the exchange sees them.
    pub fn now(self) -> i64 {
        self.now_millis().div_euclid(1000)
    }

    /// Unix milliseconds as the exchange sees them.
    pub fn now_millis(self) -> i64 {
        let system = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        system.saturating_add(self.offset_secs.saturating_mul(1000))
    }
}

pub use crate::clob::Side;

/// An order's status as the exchange spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderStatus {
    Live,
    Matched,
    Canceled,
    CanceledMarketResolved,
    Invalid,
    Delayed,
    Unmatched,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 7] = [
        OrderStatus::Live,
        OrderStatus::Matched,
        OrderStatus::Canceled,
        OrderStatus::CanceledMarketResolved,
        OrderStatus::Invalid,
        OrderStatus::Delayed,
        OrderStatus::Unmatched,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Live => "LIVE",
            OrderStatus::Matched => "MATCHED",
            OrderStatus::Canceled => "CANCELED",
            OrderStatus::CanceledMarketResolved => "CANCELED_MARKET_RESOLVED",
            OrderStatus::Invalid => "INVALID",
            OrderStatus::Delayed => "DELAYED",
            OrderStatus::Unmatched => "UNMATCHED",
        }
    }

    pub fn parse(text: &str) -> Option<OrderStatus> {
        let upper = text.trim().to_ascii_uppercase();
        Self::ALL.into_iter().find(|s| s.as_str() == upper)
    }

    /// Open orders rest on the book, are listed by `/data/orders` and can be canceled.
    pub fn is_open(self) -> bool {
        self == OrderStatus::Live
    }
}

/// How long an order lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderType {
    Gtc,
    Gtd,
    Fok,
    Fak,
}

impl OrderType {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderType::Gtc => "GTC",
            OrderType::Gtd => "GTD",
            OrderType::Fok => "FOK",
            OrderType::Fak => "FAK",
        }
    }

    pub fn parse(text: &str) -> Option<OrderType> {
        match text.trim().to_ascii_uppercase().as_str() {
            "GTC" => Some(OrderType::Gtc),
            "GTD" => Some(OrderType::Gtd),
            "FOK" => Some(OrderType::Fok),
            "FAK" => Some(OrderType::Fak),
            _ => None,
        }
    }
}

/// One order, compact: market, token and owner are table positions, amounts are exact.
#[derive(Clone, Debug)]
pub struct Order {
    pub id: String,
    pub account: AccountNo,
    pub token: TokenNo,
    pub side: Side,
    pub price: Amount,
    pub original_size: Amount,
    pub size_matched: Amount,
    pub status: OrderStatus,
    pub order_type: OrderType,
    /// Unix seconds; 0 when the order does not expire.
    pub expiration: i64,
    pub created_at: i64,
    pub associate_trades: Vec<String>,
    /// Whether the order earns liquidity rewards right now.
    pub scoring: bool,
}

impl Order {
    /// The size still resting on the book.
    pub fn remaining(&self) -> Amount {
        self.original_size.saturating_sub(self.size_matched)
    }
}

/// One outcome token of a market, with its book.
#[derive(Clone, Debug)]
pub struct Token {
    pub token_id: String,
    pub market: String,
    pub outcome: String,
    pub tick_size: Amount,
    pub min_order_size: Amount,
    pub neg_risk: bool,
    pub last_trade_price: Amount,
    /// Price → size. Built from other traders' liquidity plus every account's open orders.
    pub bids: BTreeMap<Amount, Amount>,
    pub asks: BTreeMap<Amount, Amount>,
    /// When the book last changed (Unix ms): its `timestamp`, so the hash is stable until then.
    pub updated_ms: i64,
}

impl Token {
    pub fn best_bid(&self) -> Option<Amount> {
        self.bids.keys().next_back().copied()
    }

    pub fn best_ask(&self) -> Option<Amount> {
        self.asks.keys().next().copied()
    }

    fn book_side(&mut self, side: Side) -> &mut BTreeMap<Amount, Amount> {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    /// Takes `size` off the level at `price` on `side`; a level that empties leaves the book.
    fn take_off_book(&mut self, side: Side, price: Amount, size: Amount) {
        let levels = self.book_side(side);
        if let Some(level) = levels.get_mut(&price) {
            *level = level.saturating_sub(size);
            if level.is_zero() {
                levels.remove(&price);
            }
        }
    }

    /// The book as `GET /book` sends it: best level last on both sides.
    pub fn order_book(&self) -> OrderBook {
        let level = |(price, size): (&Amount, &Amount)| BookLevel {
            price: price.to_string(),
            size: size.to_string(),
        };
        let mut book = OrderBook {
            market: self.market.clone(),
            asset_id: self.token_id.clone(),
            timestamp: self.updated_ms.to_string(),
            hash: String::new(),
            bids: self.bids.iter().map(level).collect(),
            asks: self.asks.iter().rev().map(level).collect(),
            min_order_size: self.min_order_size.to_string(),
            tick_size: self.tick_size.to_string(),
            neg_risk: self.neg_risk,
            last_trade_price: self.last_trade_price.to_string(),
        };
        book.hash = book.compute_hash();
        book
    }
}

/// An armed dead-man's switch: the key's orders are canceled if `deadline` passes.
#[derive(Clone, Debug)]
pub struct Heartbeat {
    pub id: String,
    pub deadline: Instant,
}

/// One API key with its own orders and trades.
#[derive(Debug)]
pub struct Account {
    pub credentials: Credentials,
    pub signing_key: SigningKey,
    open: OpenIndex,
    open_by_market: HashMap<String, OpenIndex>,
    open_by_token: HashMap<TokenNo, OpenIndex>,
    /// Trade numbers by match time, overall and per market and token.
    trades: Vec<u32>,
    trades_by_market: HashMap<String, Vec<u32>>,
    trades_by_token: HashMap<String, Vec<u32>>,
    pub heartbeat: Option<Heartbeat>,
}

impl Account {
    /// An account with no orders or trades yet; its secret must be valid base64.
    fn new(credentials: Credentials) -> Result<Account, StateError> {
        let signing_key = SigningKey::from_secret(&credentials.secret).map_err(|_| {
            StateError::InvalidSecret {
                api_key: credentials.api_key.clone(),
            }
        })?;
        Ok(Account {
            credentials,
            signing_key,
            open: OpenIndex::default(),
            open_by_market: HashMap::new(),
            open_by_token: HashMap::new(),
            trades: Vec::new(),
            trades_by_market: HashMap::new(),
            trades_by_token: HashMap::new(),
            heartbeat: None,
        })
    }
}

/// Everything an exchange starts from, produced by the generator or a fixture.
#[derive(Debug, Default)]
pub struct ExchangeData {
    /// The first account is the primary one.
    pub accounts: Vec<Credentials>,
    /// Rate-limit tiers by signer address (lower case), where the data names one.
    pub tiers: HashMap<String, crate::clob::ratelimit::Tier>,
    /// Tokens with other traders' liquidity only: open orders are added to the books on load.
    pub tokens: Vec<Token>,
    /// In any order; numbered by `created_at` on load.
    pub orders: Vec<Order>,
    pub trades: Vec<Trade>,
}

/// Why an exchange could not be built from its data.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StateError {
    #[error("account {api_key}: the secret is not valid base64")]
    InvalidSecret { api_key: String },
    #[error("account {api_key} is listed twice")]
    DuplicateAccount { api_key: String },
    #[error("order {id} is listed twice")]
    DuplicateOrder { id: String },
    #[error("token {token_id} is listed twice")]
    DuplicateToken { token_id: String },
    #[error("trade {id} is listed twice")]
    DuplicateTrade { id: String },
    #[error("there are no accounts")]
    NoAccounts,
}

/// Why a public market-data request found nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BookError {
    /// Empty or non-numeric token id (400).
    InvalidToken,
    /// A well-formed token id the exchange does not know (404).
    NoBook,
}

/// The whole exchange state; one lock guards it.
#[derive(Debug)]
pub struct Exchange {
    pub accounts: Vec<Account>,
    account_by_key: HashMap<String, AccountNo>,
    tokens: Vec<Token>,
    token_by_id: HashMap<String, TokenNo>,
    orders: Vec<Order>,
    order_by_id: HashMap<String, OrderNo>,
    trades: Vec<Trade>,
    trade_times: Vec<i64>,
    trade_by_id: HashMap<String, u32>,
    /// Orders canceled by dead-man's switches so far.
    pub switch_cancels: u64,
    /// Where every change to an order or trade is published for the user channel.
    pub events: EventBus,
}

/// Appends to the list under `key`, cloning the key only the first time it is seen.
fn push_keyed(map: &mut HashMap<String, Vec<u32>>, key: &str, value: u32) {
    match map.get_mut(key) {
        Some(list) => list.push(value),
        None => {
            map.insert(key.to_owned(), vec![value]);
        }
    }
}

fn parse_seconds(text: &str) -> i64 {
    text.trim().parse().unwrap_or(0)
}

// Lookups of accounts and tokens.
impl Exchange {
    /// The account of an API key.
    pub fn account_by_key(&self, api_key: &str) -> Option<AccountNo> {
        self.account_by_key.get(api_key).copied()
    }

    /// Every token id, in table order.
    pub fn token_ids(&self) -> Vec<String> {
        self.tokens.iter().map(|t| t.token_id.clone()).collect()
    }

    /// The token of a `token_id` query parameter.
    pub fn token(&self, token_id: Option<&str>) -> Result<&Token, BookError> {
        let token_id = token_id.map(str::trim).unwrap_or_default();
        if token_id.is_empty() || !token_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(BookError::InvalidToken);
        }
        self.token_by_id
            .get(token_id)
            .map(|no| &self.tokens[*no as usize])
            .ok_or(BookError::NoBook)
    }

    /// The side of a token's most recent trade.
    pub fn last_trade_side(&self, token_id: &str) -> Option<Side> {
        self.trades
            .iter()
            .rev()
            .find(|trade| trade.asset_id == token_id)
            .and_then(|trade| Side::parse(&trade.side))
    }

    /// Every token, in table order.
    pub fn tokens(&self) -> &[Token] {
        &self.tokens
    }
}
