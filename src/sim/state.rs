//! The in-memory exchange: accounts (API keys), tokens with their books, orders and trades, and
//! the indexes that keep every listing page and every cancel cheap at 100,000 orders.
//!
//! Listings are in creation order (oldest first) and paged by offset, as the exchange's cursors
//! are offsets: a client that cancels while it pages over open orders sees the list shrink under
//! its cursor and skips orders, exactly as against the real exchange.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use super::amount::Amount;
use super::events::{self, EventBus, OrderChange};
use super::index::OpenIndex;
use crate::clob::types::{BookLevel, CancelResponse, OpenOrder, OrderBook, Trade, messages};
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

/// Filters of `GET /data/orders`; empty strings count as absent.
#[derive(Clone, Debug, Default)]
pub struct OrderQuery {
    pub id: Option<String>,
    pub market: Option<String>,
    pub asset_id: Option<String>,
}

/// Filters of `GET /data/trades`.
#[derive(Clone, Debug, Default)]
pub struct TradeQuery {
    pub id: Option<String>,
    pub market: Option<String>,
    pub asset_id: Option<String>,
    /// Matches the trade's `maker_address` or any of its maker orders' (case-insensitive).
    pub maker_address: Option<String>,
    /// Only trades matched strictly before this Unix second.
    pub before: Option<i64>,
    /// Only trades matched strictly after this Unix second.
    pub after: Option<i64>,
}

/// One page of a listing: its rows and the offset of the next page, if any.
#[derive(Debug)]
pub struct Listing<T> {
    pub rows: Vec<T>,
    pub next_offset: Option<usize>,
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

impl Exchange {
    /// Builds the exchange and its indexes. Orders are renumbered by `created_at` (stable), and
    /// every open order's remaining size is added to its token's book.
    pub fn new(data: ExchangeData, now_ms: i64) -> Result<Exchange, StateError> {
        let ExchangeData {
            accounts: credentials,
            mut tokens,
            mut orders,
            trades,
            tiers: _,
        } = data;
        if credentials.is_empty() {
            return Err(StateError::NoAccounts);
        }
        let mut account_by_key = HashMap::new();
        let mut accounts = Vec::with_capacity(credentials.len());
        for (no, credentials) in credentials.into_iter().enumerate() {
            let signing_key = SigningKey::from_secret(&credentials.secret).map_err(|_| {
                StateError::InvalidSecret {
                    api_key: credentials.api_key.clone(),
                }
            })?;
            if account_by_key
                .insert(credentials.api_key.clone(), no)
                .is_some()
            {
                return Err(StateError::DuplicateAccount {
                    api_key: credentials.api_key,
                });
            }
            accounts.push(Account {
                credentials,
                signing_key,
                open: OpenIndex::default(),
                open_by_market: HashMap::new(),
                open_by_token: HashMap::new(),
                trades: Vec::new(),
                trades_by_market: HashMap::new(),
                trades_by_token: HashMap::new(),
                heartbeat: None,
            });
        }

        let mut token_by_id = HashMap::with_capacity(tokens.len());
        for (no, token) in tokens.iter_mut().enumerate() {
            token.updated_ms = now_ms;
            if token_by_id
                .insert(token.token_id.clone(), no as TokenNo)
                .is_some()
            {
                return Err(StateError::DuplicateToken {
                    token_id: token.token_id.clone(),
                });
            }
        }

        orders.sort_by_cached_key(|o| o.created_at);
        let mut order_by_id = HashMap::with_capacity(orders.len());
        let mut per_account: Vec<Vec<OrderNo>> = vec![Vec::new(); accounts.len()];
        let mut per_market: Vec<HashMap<String, Vec<OrderNo>>> =
            vec![HashMap::new(); accounts.len()];
        let mut per_token: Vec<HashMap<TokenNo, Vec<OrderNo>>> =
            vec![HashMap::new(); accounts.len()];
        for (no, order) in orders.iter().enumerate() {
            let no = no as OrderNo;
            if order_by_id.insert(order.id.clone(), no).is_some() {
                return Err(StateError::DuplicateOrder {
                    id: order.id.clone(),
                });
            }
            let token = &mut tokens[order.token as usize];
            if order.status.is_open() {
                let remaining = order.remaining();
                if !remaining.is_zero() {
                    let level = token.book_side(order.side).entry(order.price).or_default();
                    *level = *level + remaining;
                }
            }
            per_account[order.account].push(no);
            push_keyed(&mut per_market[order.account], &token.market, no);
            per_token[order.account]
                .entry(order.token)
                .or_default()
                .push(no);
        }
        let is_open = |no: OrderNo| orders[no as usize].status.is_open();
        for (no, account) in accounts.iter_mut().enumerate() {
            account.open = OpenIndex::build(std::mem::take(&mut per_account[no]), is_open);
            account.open_by_market = std::mem::take(&mut per_market[no])
                .into_iter()
                .map(|(market, list)| (market, OpenIndex::build(list, is_open)))
                .collect();
            account.open_by_token = std::mem::take(&mut per_token[no])
                .into_iter()
                .map(|(token, list)| (token, OpenIndex::build(list, is_open)))
                .collect();
        }

        // Cached keys: each time is parsed once and the large trades are permuted in place.
        let mut trades = trades;
        trades.sort_by_cached_key(|t| parse_seconds(&t.match_time));
        let trade_times: Vec<i64> = trades
            .iter()
            .map(|t| parse_seconds(&t.match_time))
            .collect();
        let mut trade_by_id = HashMap::with_capacity(trades.len());
        for (no, trade) in trades.iter().enumerate() {
            let no = no as u32;
            if trade_by_id.insert(trade.id.clone(), no).is_some() {
                return Err(StateError::DuplicateTrade {
                    id: trade.id.clone(),
                });
            }
            // A trade belongs to its owner and to every account with a maker order in it.
            let owners = std::iter::once(&trade.owner)
                .chain(trade.maker_orders.iter().map(|m| &m.owner))
                .filter_map(|key| account_by_key.get(key).copied());
            for owner in owners {
                let account = &mut accounts[owner];
                // Trades are visited in order, so a repeat owner shows as the last entry.
                if account.trades.last() == Some(&no) {
                    continue;
                }
                account.trades.push(no);
                push_keyed(&mut account.trades_by_market, &trade.market, no);
                push_keyed(&mut account.trades_by_token, &trade.asset_id, no);
            }
        }

        Ok(Exchange {
            accounts,
            account_by_key,
            tokens,
            token_by_id,
            orders,
            order_by_id,
            trades,
            trade_times,
            trade_by_id,
            switch_cancels: 0,
            events: EventBus::default(),
        })
    }

    /// The account of an API key.
    pub fn account_by_key(&self, api_key: &str) -> Option<AccountNo> {
        self.account_by_key.get(api_key).copied()
    }

    /// Every token id, in table order.
    pub fn token_ids(&self) -> Vec<String> {
        self.tokens.iter().map(|t| t.token_id.clone()).collect()
    }

    /// An order as the wire shows it.
    fn render(&self, order: &Order) -> OpenOrder {
        let account = &self.accounts[order.account];
        let token = &self.tokens[order.token as usize];
        OpenOrder {
            id: order.id.clone(),
            status: order.status.as_str().to_owned(),
            owner: account.credentials.api_key.clone(),
            maker_address: account.credentials.address.clone(),
            market: token.market.clone(),
            asset_id: token.token_id.clone(),
            side: order.side.as_str().to_owned(),
            original_size: order.original_size.to_string(),
            size_matched: order.size_matched.to_string(),
            price: order.price.to_string(),
            outcome: token.outcome.clone(),
            order_type: order.order_type.as_str().to_owned(),
            expiration: order.expiration.to_string(),
            created_at: order.created_at,
            associate_trades: order.associate_trades.clone(),
        }
    }

    /// The order `id` if it belongs to `account`.
    fn owned(&self, account: AccountNo, id: &str) -> Option<OrderNo> {
        let no = *self.order_by_id.get(id.trim())?;
        (self.orders[no as usize].account == account).then_some(no)
    }

    /// `GET /data/order/{id}`: `None` for unknown ids and other accounts' orders alike.
    pub fn order(&self, account: AccountNo, id: &str) -> Option<OpenOrder> {
        self.owned(account, id)
            .map(|no| self.render(&self.orders[no as usize]))
    }

    /// One page of `GET /data/orders`.
    pub fn open_orders(
        &self,
        account: AccountNo,
        query: &OrderQuery,
        offset: usize,
        limit: usize,
    ) -> Listing<OpenOrder> {
        let empty = || Listing {
            rows: Vec::new(),
            next_offset: None,
        };
        let wanted_token = match &query.asset_id {
            Some(asset) => match self.token_by_id.get(asset.trim()) {
                Some(&token) => Some(token),
                None => return empty(),
            },
            None => None,
        };
        let market_matches = |token: TokenNo| {
            query
                .market
                .as_deref()
                .is_none_or(|m| self.tokens[token as usize].market == m.trim())
        };
        if let Some(id) = &query.id {
            let rows: Vec<OpenOrder> = self
                .owned(account, id)
                .map(|no| &self.orders[no as usize])
                .filter(|o| o.status.is_open())
                .filter(|o| wanted_token.is_none_or(|t| t == o.token) && market_matches(o.token))
                .map(|o| self.render(o))
                .into_iter()
                .skip(offset)
                .collect();
            return Listing {
                rows,
                next_offset: None,
            };
        }
        let owner = &self.accounts[account];
        let index = match (wanted_token, &query.market) {
            (Some(token), _) if !market_matches(token) => return empty(),
            (Some(token), _) => owner.open_by_token.get(&token),
            (None, Some(market)) => owner.open_by_market.get(market.trim()),
            (None, None) => Some(&owner.open),
        };
        let Some(index) = index else {
            return empty();
        };
        let rows = index
            .page(offset, limit)
            .into_iter()
            .map(|no| self.render(&self.orders[no as usize]))
            .collect();
        let next = offset.saturating_add(limit);
        Listing {
            rows,
            next_offset: (next < index.open_len()).then_some(next),
        }
    }

    /// One page of `GET /data/trades`.
    pub fn trades(
        &self,
        account: AccountNo,
        query: &TradeQuery,
        offset: usize,
        limit: usize,
    ) -> Listing<Trade> {
        let owner = &self.accounts[account];
        let single;
        let candidates: &[u32] = if let Some(id) = &query.id {
            single = self
                .trade_by_id
                .get(id.trim())
                .filter(|no| {
                    let trade = &self.trades[**no as usize];
                    let key = &owner.credentials.api_key;
                    trade.owner == *key || trade.maker_orders.iter().any(|m| m.owner == *key)
                })
                .map(|no| vec![*no])
                .unwrap_or_default();
            &single
        } else if let Some(asset) = &query.asset_id {
            owner
                .trades_by_token
                .get(asset.trim())
                .map_or(&[], Vec::as_slice)
        } else if let Some(market) = &query.market {
            owner
                .trades_by_market
                .get(market.trim())
                .map_or(&[], Vec::as_slice)
        } else {
            &owner.trades
        };
        // Candidates are in match-time order, so the time window is a slice.
        let time = |no: &u32| self.trade_times[*no as usize];
        let start = query.after.map_or(0, |after| {
            candidates.partition_point(|no| time(no) <= after)
        });
        let end = query.before.map_or(candidates.len(), |before| {
            candidates.partition_point(|no| time(no) < before)
        });
        let window = candidates.get(start..end.max(start)).unwrap_or(&[]);

        let maker = query.maker_address.as_deref().map(str::trim);
        let needs_scan = query.id.is_some()
            || maker.is_some()
            || (query.asset_id.is_some() && query.market.is_some());
        let next = offset.saturating_add(limit);
        if !needs_scan {
            let rows = window
                .iter()
                .skip(offset)
                .take(limit)
                .map(|no| self.trades[*no as usize].clone())
                .collect();
            return Listing {
                rows,
                next_offset: (next < window.len()).then_some(next),
            };
        }
        let matches = |trade: &&Trade| {
            query
                .market
                .as_deref()
                .is_none_or(|m| trade.market == m.trim())
                && maker.is_none_or(|addr| {
                    trade.maker_address.eq_ignore_ascii_case(addr)
                        || trade
                            .maker_orders
                            .iter()
                            .any(|m| m.maker_address.eq_ignore_ascii_case(addr))
                })
        };
        let mut rows: Vec<Trade> = window
            .iter()
            .map(|no| &self.trades[*no as usize])
            .filter(matches)
            .skip(offset)
            .take(limit.saturating_add(1))
            .cloned()
            .collect();
        let more = rows.len() > limit;
        rows.truncate(limit);
        Listing {
            rows,
            next_offset: more.then_some(next),
        }
    }

    /// Cancels the given orders of `account`; duplicates count once, in first-seen order.
    pub fn cancel(&mut self, account: AccountNo, ids: &[String], now_ms: i64) -> CancelResponse {
        let mut response = CancelResponse::default();
        let mut seen = HashSet::with_capacity(ids.len());
        for id in ids {
            if !seen.insert(id.as_str()) {
                continue;
            }
            match self.owned(account, id) {
                None => {
                    response
                        .not_canceled
                        .insert(id.clone(), messages::NOT_FOUND.to_owned());
                }
                Some(no) => match self.orders[no as usize].status {
                    status if status.is_open() => {
                        self.close(no, now_ms);
                        response.canceled.push(id.clone());
                    }
                    OrderStatus::Canceled | OrderStatus::CanceledMarketResolved => {
                        response
                            .not_canceled
                            .insert(id.clone(), messages::ALREADY_CANCELED.to_owned());
                    }
                    _ => {
                        response
                            .not_canceled
                            .insert(id.clone(), NOT_OPEN.to_owned());
                    }
                },
            }
        }
        response
    }

    /// Cancels every open order of `account`, or only those in a market and/or token.
    pub fn cancel_matching(
        &mut self,
        account: AccountNo,
        market: Option<&str>,
        asset_id: Option<&str>,
        now_ms: i64,
    ) -> CancelResponse {
        let owner = &self.accounts[account];
        let index = match (asset_id, market) {
            (Some(asset), market) => self.token_by_id.get(asset).and_then(|token| {
                let in_market = market.is_none_or(|m| self.tokens[*token as usize].market == m);
                owner.open_by_token.get(token).filter(|_| in_market)
            }),
            (None, Some(market)) => owner.open_by_market.get(market),
            (None, None) => Some(&owner.open),
        };
        let open: Vec<OrderNo> = index.map_or_else(Vec::new, |index| {
            index
                .all_orders()
                .iter()
                .copied()
                .filter(|no| self.orders[*no as usize].status.is_open())
                .collect()
        });
        let mut response = CancelResponse::default();
        response.canceled.reserve(open.len());
        for no in open {
            self.close(no, now_ms);
            response.canceled.push(self.orders[no as usize].id.clone());
        }
        response
    }

    /// Moves an open order to CANCELED, takes its remaining size off the book and announces
    /// the cancellation on the user channel.
    fn close(&mut self, no: OrderNo, now_ms: i64) {
        self.retire(no, OrderStatus::Canceled, now_ms);
        self.publish_order(no, OrderChange::Cancellation, now_ms);
    }

    /// Moves an open order to a closed `status` and takes its remaining size off the book.
    fn retire(&mut self, no: OrderNo, status: OrderStatus, now_ms: i64) {
        let order = &mut self.orders[no as usize];
        order.status = status;
        order.scoring = false;
        let (account, token_no, side, price, remaining) = (
            order.account,
            order.token,
            order.side,
            order.price,
            order.remaining(),
        );
        let token = &mut self.tokens[token_no as usize];
        let levels = token.book_side(side);
        if let Some(size) = levels.get_mut(&price) {
            *size = size.saturating_sub(remaining);
            if size.is_zero() {
                levels.remove(&price);
            }
        }
        token.updated_ms = now_ms;
        let market = token.market.clone();
        let owner = &mut self.accounts[account];
        owner.open.close(no);
        if let Some(index) = owner.open_by_market.get_mut(&market) {
            index.close(no);
        }
        if let Some(index) = owner.open_by_token.get_mut(&token_no) {
            index.close(no);
        }
    }

    /// Whether the order `id` of `account` is scoring; unknown ids and other accounts' orders
    /// are not.
    pub fn is_scoring(&self, account: AccountNo, id: &str) -> bool {
        self.owned(account, id)
            .is_some_and(|no| self.orders[no as usize].scoring)
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

    /// The status of any order, whoever owns it.
    pub fn order_status(&self, id: &str) -> Option<&'static str> {
        self.order_by_id
            .get(id)
            .map(|no| self.orders[*no as usize].status.as_str())
    }

    /// Every open order id of `account`, in listing order.
    pub fn open_order_ids(&self, account: AccountNo) -> Vec<String> {
        let index = &self.accounts[account].open;
        index
            .page(0, index.open_len())
            .into_iter()
            .map(|no| self.orders[no as usize].id.clone())
            .collect()
    }

    /// Every order of `account`, open or not, as the wire shows it (oldest first).
    pub fn all_orders(&self, account: AccountNo) -> Vec<OpenOrder> {
        self.accounts[account]
            .open
            .all_orders()
            .iter()
            .map(|no| self.render(&self.orders[*no as usize]))
            .collect()
    }

    /// Every trade of `account`, by match time.
    pub fn all_trades(&self, account: AccountNo) -> Vec<Trade> {
        self.accounts[account]
            .trades
            .iter()
            .map(|no| self.trades[*no as usize].clone())
            .collect()
    }

    /// The scoring flag of any order (tests and inspection).
    pub fn scoring_flag(&self, id: &str) -> Option<bool> {
        self.order_by_id
            .get(id)
            .map(|no| self.orders[*no as usize].scoring)
    }

    /// Cancels the open orders of every key whose dead-man's switch deadline has passed;
    /// returns how many orders that canceled.
    pub fn fire_expired_switches(&mut self, now: Instant, now_ms: i64) -> usize {
        let expired: Vec<AccountNo> = self
            .accounts
            .iter()
            .enumerate()
            .filter(|(_, a)| a.heartbeat.as_ref().is_some_and(|h| h.deadline <= now))
            .map(|(no, _)| no)
            .collect();
        let mut canceled = 0;
        for account in expired {
            self.accounts[account].heartbeat = None;
            canceled += self
                .cancel_matching(account, None, None, now_ms)
                .canceled
                .len();
            tracing::info!(
                api_key = %self.accounts[account].credentials.api_key,
                canceled,
                "dead-man's switch: no heartbeat in time, canceled every open order"
            );
        }
        self.switch_cancels += canceled as u64;
        canceled
    }
}

/// The other side of a fill: a trader who is not one of the simulator's accounts took
/// liquidity from an account's resting order.
#[derive(Clone, Debug)]
pub struct Taker {
    pub trade_id: String,
    pub order_id: String,
}

/// What a fill did, for the settlement that follows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fill {
    pub trade_id: String,
    pub order_id: String,
    pub size: Amount,
    /// Whether the order is now fully matched (and off the book).
    pub filled: bool,
}

// Fills and trade settlement (`--fills`), and the user channel's order and trade events.
impl Exchange {
    /// How many open orders `account` has.
    pub fn open_count(&self, account: AccountNo) -> usize {
        self.accounts[account].open.open_len()
    }

    /// The open order at `rank` of `account`'s open listing.
    fn open_at(&self, account: AccountNo, rank: usize) -> Option<OrderNo> {
        self.accounts[account].open.page(rank, 1).first().copied()
    }

    /// The size still resting of the open order at `rank` of `account`'s open listing.
    pub fn open_remaining(&self, account: AccountNo, rank: usize) -> Option<Amount> {
        self.open_at(account, rank)
            .map(|no| self.orders[no as usize].remaining())
    }

    /// Fills `size` (at most what rests) of the open order at `rank` of `account`'s listing:
    /// the order's `size_matched` grows, it becomes MATCHED when nothing rests, the book and
    /// last trade price follow, and a MATCHED trade with the order as its one maker order is
    /// recorded. Publishes the trade, then the order's UPDATE.
    pub fn fill(
        &mut self,
        account: AccountNo,
        rank: usize,
        size: Amount,
        taker: &Taker,
        now_ms: i64,
    ) -> Option<Fill> {
        let no = self.open_at(account, rank)?;
        let order = &self.orders[no as usize];
        let size = size.min(order.remaining());
        if size.is_zero() || self.trade_by_id.contains_key(&taker.trade_id) {
            return None;
        }
        let (token_no, side, price) = (order.token, order.side, order.price);
        let order_id = order.id.clone();
        let token = &mut self.tokens[token_no as usize];
        let levels = token.book_side(side);
        if let Some(level) = levels.get_mut(&price) {
            *level = level.saturating_sub(size);
            if level.is_zero() {
                levels.remove(&price);
            }
        }
        token.last_trade_price = price;
        token.updated_ms = now_ms;
        let (market, asset_id, outcome, min_size) = (
            token.market.clone(),
            token.token_id.clone(),
            token.outcome.clone(),
            token.min_order_size,
        );

        let order = &mut self.orders[no as usize];
        order.size_matched = order.size_matched + size;
        order.associate_trades.push(taker.trade_id.clone());
        let filled = order.remaining().is_zero();
        order.scoring = order.scoring && !filled && order.remaining() >= min_size;
        if filled {
            self.retire(no, OrderStatus::Matched, now_ms);
        }

        let owner = &self.accounts[account].credentials;
        let match_time = now_ms
            .div_euclid(1000)
            .max(self.trade_times.last().copied().unwrap_or(i64::MIN));
        let trade = Trade {
            id: taker.trade_id.clone(),
            taker_order_id: taker.order_id.clone(),
            market: market.clone(),
            asset_id: asset_id.clone(),
            side: side.opposite().as_str().to_owned(),
            size: size.to_string(),
            fee_rate_bps: "0".to_owned(),
            price: price.to_string(),
            status: "MATCHED".to_owned(),
            match_time: match_time.to_string(),
            last_update: match_time.to_string(),
            outcome: outcome.clone(),
            owner: owner.api_key.clone(),
            maker_address: owner.address.clone(),
            transaction_hash: String::new(),
            bucket_index: 0,
            trader_side: "MAKER".to_owned(),
            maker_orders: vec![crate::clob::types::MakerOrder {
                order_id: order_id.clone(),
                owner: owner.api_key.clone(),
                maker_address: owner.address.clone(),
                matched_amount: size.to_string(),
                price: price.to_string(),
                fee_rate_bps: "0".to_owned(),
                asset_id: asset_id.clone(),
                outcome,
                side: side.as_str().to_owned(),
            }],
        };
        let trade_no = self.trades.len() as u32;
        self.trade_by_id.insert(trade.id.clone(), trade_no);
        self.trades.push(trade);
        self.trade_times.push(match_time);
        let owner = &mut self.accounts[account];
        owner.trades.push(trade_no);
        push_keyed(&mut owner.trades_by_market, &market, trade_no);
        push_keyed(&mut owner.trades_by_token, &asset_id, trade_no);

        self.publish_trade(trade_no, now_ms);
        self.publish_order(no, OrderChange::Update, now_ms);
        Some(Fill {
            trade_id: taker.trade_id.clone(),
            order_id,
            size,
            filled,
        })
    }

    /// Moves a trade to its next settlement `status` (`MINED`, `CONFIRMED`, `RETRYING`,
    /// `FAILED`), setting `last_update` and, once mined, the transaction hash; publishes the
    /// trade again. `false` for unknown trades.
    pub fn settle_trade(
        &mut self,
        trade_id: &str,
        status: &str,
        transaction_hash: Option<&str>,
        now_ms: i64,
    ) -> bool {
        let Some(&no) = self.trade_by_id.get(trade_id) else {
            return false;
        };
        let trade = &mut self.trades[no as usize];
        trade.status = status.to_owned();
        trade.last_update = now_ms.div_euclid(1000).to_string();
        if let Some(hash) = transaction_hash {
            trade.transaction_hash = hash.to_owned();
        }
        self.publish_trade(no, now_ms);
        true
    }

    /// Announces an order's change to its owner's user-channel connections.
    fn publish_order(&self, no: OrderNo, change: OrderChange, now_ms: i64) {
        if !self.events.has_listeners() {
            return;
        }
        let order = &self.orders[no as usize];
        let market = &self.tokens[order.token as usize].market;
        self.events.publish(order.account, market, || {
            events::order_message(&self.render(order), change, now_ms)
        });
    }

    /// Announces a trade's current state to every account with a side in it.
    fn publish_trade(&self, no: u32, now_ms: i64) {
        if !self.events.has_listeners() {
            return;
        }
        let trade = &self.trades[no as usize];
        let owners = std::iter::once(&trade.owner)
            .chain(trade.maker_orders.iter().map(|m| &m.owner))
            .filter_map(|key| self.account_by_key.get(key).copied());
        let mut told = Vec::with_capacity(2);
        for account in owners {
            if told.contains(&account) {
                continue;
            }
            told.push(account);
            let key = &self.accounts[account].credentials.api_key;
            self.events.publish(account, &trade.market, || {
                events::trade_message(trade, key, key, now_ms)
            });
        }
    }
}

/// API keys issued and revoked while the exchange runs (L1 endpoints).
impl Exchange {
    /// Adds an account for a newly issued API key; it can sign L2 requests at once.
    pub fn add_account(&mut self, credentials: Credentials) -> Result<AccountNo, StateError> {
        let signing_key = SigningKey::from_secret(&credentials.secret).map_err(|_| {
            StateError::InvalidSecret {
                api_key: credentials.api_key.clone(),
            }
        })?;
        if self.account_by_key.contains_key(&credentials.api_key) {
            return Err(StateError::DuplicateAccount {
                api_key: credentials.api_key,
            });
        }
        let no = self.accounts.len();
        self.account_by_key.insert(credentials.api_key.clone(), no);
        self.accounts.push(Account {
            credentials,
            signing_key,
            open: OpenIndex::default(),
            open_by_market: HashMap::new(),
            open_by_token: HashMap::new(),
            trades: Vec::new(),
            trades_by_market: HashMap::new(),
            trades_by_token: HashMap::new(),
            heartbeat: None,
        });
        Ok(no)
    }

    /// Revokes an API key: it no longer authenticates, and its dead-man's switch is disarmed.
    /// The account's orders and trades stay (they keep their owner).
    pub fn revoke_key(&mut self, api_key: &str) -> Option<AccountNo> {
        let no = self.account_by_key.remove(api_key)?;
        self.accounts[no].heartbeat = None;
        Some(no)
    }

    /// The API keys that still authenticate for an address (any letter case), oldest first.
    pub fn keys_of_address(&self, address: &str) -> Vec<String> {
        let mut keys: Vec<(AccountNo, &String)> = self
            .account_by_key
            .iter()
            .filter(|(_, no)| {
                self.accounts[**no]
                    .credentials
                    .address
                    .eq_ignore_ascii_case(address)
            })
            .map(|(key, no)| (*no, key))
            .collect();
        keys.sort_unstable();
        keys.into_iter().map(|(_, key)| key.clone()).collect()
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
