//! The listings: one order by id, and `GET /data/orders` / `GET /data/trades` walked page by
//! page. Each listing has one streaming form (`*_each`, rows handed over a page at a time)
//! and a collecting wrapper built on it.

use reqwest::Method;
use serde::de::DeserializeOwned;
use tokio_util::task::AbortOnDropHandle;

use super::answer::decode;
use super::transport::{Attempts, Call, encode_segment, required};
use super::{Client, ClobError};
use crate::clob::pagination::{Cursors, Next};
use crate::clob::types::{OpenOrder, Page, PageCursor, Trade, messages};

/// Filters of `GET /data/orders`; `None` (or an empty string) leaves a filter out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrderFilter {
    /// One order id.
    pub id: Option<String>,
    /// Condition id (`0x…`).
    pub market: Option<String>,
    /// Token id (a decimal string).
    pub asset_id: Option<String>,
}

/// Filters of `GET /data/trades`; `before`/`after` are Unix seconds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TradeFilter {
    /// One trade id.
    pub id: Option<String>,
    /// Condition id (`0x…`).
    pub market: Option<String>,
    /// Token id (a decimal string).
    pub asset_id: Option<String>,
    /// Only trades where this address was the maker.
    pub maker_address: Option<String>,
    /// Only trades matched before this Unix second.
    pub before: Option<i64>,
    /// Only trades matched after this Unix second.
    pub after: Option<i64>,
}

impl Client {
    /// `GET /data/order/{id}`: one order of this key; an unknown id is [`ClobError::NotFound`].
    pub async fn order(&self, id: &str) -> Result<OpenOrder, ClobError> {
        let id = required(id, "GET /data/order", "an order id")?;
        let call = Call::new(Method::GET, format!("/data/order/{}", encode_segment(id))).signed();
        // The exchange answers an id the key does not own with `null` rather than a 404.
        let mut order = self
            .fetch::<Option<OpenOrder>>(&call)
            .await?
            .ok_or_else(|| ClobError::NotFound {
                endpoint: call.endpoint(),
                message: messages::NOT_FOUND.to_owned(),
            })?;
        normalise_order(&mut order);
        Ok(order)
    }

    /// `GET /data/orders`: every open order matching the filter, all pages, collected.
    pub async fn open_orders(&self, filter: &OrderFilter) -> Result<Vec<OpenOrder>, ClobError> {
        let mut all = Vec::new();
        self.open_orders_each(filter, &mut |page| append(&mut all, page))
            .await?;
        Ok(all)
    }

    /// `GET /data/orders` page by page: every open order matching the filter, handed to
    /// `on_page` one page at a time (normalised) and not kept. For callers that turn orders
    /// into something else, so two copies of a large listing are never alive at once.
    pub async fn open_orders_each(
        &self,
        filter: &OrderFilter,
        on_page: &mut (dyn FnMut(Vec<OpenOrder>) + Send),
    ) -> Result<(), ClobError> {
        let call = Call::new(Method::GET, "/data/orders")
            .signed()
            .filter("id", filter.id.as_deref())
            .filter("market", filter.market.as_deref())
            .filter("asset_id", filter.asset_id.as_deref());
        self.paginate(call, normalise_order, on_page).await
    }

    /// `GET /data/trades`: every trade matching the filter, all pages, collected.
    pub async fn trades(&self, filter: &TradeFilter) -> Result<Vec<Trade>, ClobError> {
        let mut all = Vec::new();
        self.trades_each(filter, &mut |page| append(&mut all, page))
            .await?;
        Ok(all)
    }

    /// `GET /data/trades` page by page, like [`Client::open_orders_each`].
    pub async fn trades_each(
        &self,
        filter: &TradeFilter,
        on_page: &mut (dyn FnMut(Vec<Trade>) + Send),
    ) -> Result<(), ClobError> {
        let before = filter.before.map(|t| t.to_string());
        let after = filter.after.map(|t| t.to_string());
        let call = Call::new(Method::GET, "/data/trades")
            .signed()
            .filter("id", filter.id.as_deref())
            .filter("market", filter.market.as_deref())
            .filter("asset_id", filter.asset_id.as_deref())
            .filter("maker_address", filter.maker_address.as_deref())
            .filter("before", before.as_deref())
            .filter("after", after.as_deref());
        self.paginate(call, normalise_trade, on_page).await
    }

    /// The one pagination walk: follows the pages in cursor order and hands each page's rows,
    /// normalised, to `sink` as it arrives, so a caller that converts rows keeps no copy of
    /// earlier pages. A failed page is retried on its own (see `Client::execute`).
    ///
    /// Each answer's cursor is read first (a cheap pass that skips the rows); when there is a
    /// next page, its request goes out before this page's rows are parsed and handed over, so
    /// the exchange and the network work while this process parses. It is only ever the page
    /// the cursor names: no request is made that the plain sequential walk would not make.
    async fn paginate<T: DeserializeOwned>(
        &self,
        template: Call,
        normalise: fn(&mut T),
        sink: &mut (dyn FnMut(Vec<T>) + Send),
    ) -> Result<(), ClobError> {
        let mut cursors = Cursors::new();
        let mut call = template;
        call.query
            .push(("next_cursor", cursors.current().to_owned()));
        let mut answer = self.execute(&call, &mut Attempts::default()).await?;
        loop {
            let cursor: PageCursor = decode(&call, &answer)?;
            let next = match cursors.advance(&cursor.next_cursor) {
                Ok(Next::Done) => None,
                Ok(Next::Fetch(cursor)) => {
                    let mut next = call.clone();
                    if let Some(slot) = next.query.last_mut() {
                        slot.1 = cursor;
                    }
                    Some(next)
                }
                Err(detail) => {
                    return Err(ClobError::Pagination {
                        endpoint: call.endpoint(),
                        detail,
                    });
                }
            };
            // Aborted if this walk is dropped (an interrupted script) or fails first.
            let prefetch = next.clone().map(|next| {
                let client = self.clone();
                AbortOnDropHandle::new(tokio::spawn(async move {
                    client.execute(&next, &mut Attempts::default()).await
                }))
            });
            let mut page: Page<T> = decode(&call, &answer)?;
            page.data.iter_mut().for_each(normalise);
            sink(page.data);
            let (Some(next), Some(prefetch)) = (next, prefetch) else {
                return Ok(());
            };
            answer = prefetch.await.map_err(|e| ClobError::Connection {
                endpoint: next.endpoint(),
                host: self.inner.base.clone(),
                detail: format!("the request task stopped: {e}"),
                attempts: 1,
            })??;
            call = next;
        }
    }
}

/// Adds a page to a collected listing (the first page is taken as it is, not copied).
fn append<T>(all: &mut Vec<T>, page: Vec<T>) {
    if all.is_empty() {
        *all = page;
    } else {
        all.extend(page);
    }
}

/// Enumerated fields arrive in either case from some servers; scripts compare them to the
/// documented upper-case spelling.
fn normalise_order(order: &mut OpenOrder) {
    order.status.make_ascii_uppercase();
    order.side.make_ascii_uppercase();
    order.order_type.make_ascii_uppercase();
}

fn normalise_trade(trade: &mut Trade) {
    trade.status.make_ascii_uppercase();
    trade.side.make_ascii_uppercase();
    trade.trader_side.make_ascii_uppercase();
    for maker in &mut trade.maker_orders {
        maker.side.make_ascii_uppercase();
    }
}
