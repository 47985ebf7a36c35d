//! Building the exchange and its indexes from its data.

use std::collections::HashMap;

use super::{
    Account, Exchange, ExchangeData, OrderNo, StateError, TokenNo, parse_seconds, push_keyed,
};
use crate::sim::events::EventBus;
use crate::sim::index::OpenIndex;

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
            let account = Account::new(credentials)?;
            if account_by_key
                .insert(account.credentials.api_key.clone(), no)
                .is_some()
            {
                return Err(StateError::DuplicateAccount {
                    api_key: account.credentials.api_key,
                });
            }
            accounts.push(account);
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
}
