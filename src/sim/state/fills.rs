//! Fills and trade settlement (`--fills`), and the user channel's order and trade events.

use super::{AccountNo, Exchange, OrderNo, OrderStatus, push_keyed};
use crate::clob::types::Trade;
use crate::sim::amount::Amount;
use crate::sim::events::{self, OrderChange};

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
        token.take_off_book(side, price, size);
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
    pub(super) fn publish_order(&self, no: OrderNo, change: OrderChange, now_ms: i64) {
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
