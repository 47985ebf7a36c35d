//! The read side: single orders, the paged order and trade listings, and inspection.
//!
//! Listings are in creation order (oldest first) and paged by offset, as the exchange's cursors
//! are offsets.

use super::{AccountNo, Exchange, Order, OrderNo, TokenNo};
use crate::clob::types::{OpenOrder, Trade};

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

impl Exchange {
    /// An order as the wire shows it.
    pub(super) fn render(&self, order: &Order) -> OpenOrder {
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
    pub(super) fn owned(&self, account: AccountNo, id: &str) -> Option<OrderNo> {
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

    /// Whether the order `id` of `account` is scoring; unknown ids and other accounts' orders
    /// are not.
    pub fn is_scoring(&self, account: AccountNo, id: &str) -> bool {
        self.owned(account, id)
            .is_some_and(|no| self.orders[no as usize].scoring)
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
}
