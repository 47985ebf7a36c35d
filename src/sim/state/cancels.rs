//! Cancels: by id, by market or token, and by an expired dead-man's switch.

use std::collections::HashSet;

use tokio::time::Instant;

use super::{AccountNo, Exchange, NOT_OPEN, OrderNo, OrderStatus};
use crate::clob::types::{CancelResponse, messages};
use crate::sim::events::OrderChange;

impl Exchange {
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
    pub(super) fn retire(&mut self, no: OrderNo, status: OrderStatus, now_ms: i64) {
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
        token.take_off_book(side, price, remaining);
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
