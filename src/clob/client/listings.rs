//! The listings: one order by id, and `GET /data/orders` / `GET /data/trades` walked page by
//! page. Each listing has one streaming form (`*_each`, rows handed over a page at a time)
//! and a collecting wrapper built on it.

use std::collections::VecDeque;

use reqwest::Method;
use serde::de::DeserializeOwned;
use tokio_util::task::AbortOnDropHandle;

use super::answer::{decode, decode_with};
use super::transport::{Answer, Attempts, Call, encode_segment, required};
use super::{Client, ClobError};
use crate::clob::pagination::{Cursors, Next};
use crate::clob::types::{OpenOrder, Page, PageCursor, Trade, encode_cursor, messages};

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
        self.paginate(order_listing(filter), normalise_order, on_page)
            .await
    }

    /// `GET /data/orders` page by page like [`Client::open_orders_each`], each page handed to
    /// `parse` as the exchange's JSON body (`{"data": [...], "next_cursor": ...}`), for a caller
    /// that builds its own rows straight from the bytes and gives back the page's cursor and
    /// row count (read as [`PageCursor`] reads them). The rows are not normalised; a parse
    /// error is reported like the client's own (the API may have changed).
    pub async fn open_orders_raw(
        &self,
        filter: &OrderFilter,
        parse: &mut (dyn FnMut(&[u8]) -> Result<PageCursor, serde_json::Error> + Send),
    ) -> Result<(), ClobError> {
        let call = order_listing(filter);
        self.paginate_with(call, &mut |call, answer| {
            decode_with(call, answer, &mut *parse)
        })
        .await
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
        self.paginate(trade_listing(filter), normalise_trade, on_page)
            .await
    }

    /// `GET /data/trades` page by page, each page's JSON body handed to `parse`, like
    /// [`Client::open_orders_raw`].
    pub async fn trades_raw(
        &self,
        filter: &TradeFilter,
        parse: &mut (dyn FnMut(&[u8]) -> Result<PageCursor, serde_json::Error> + Send),
    ) -> Result<(), ClobError> {
        let call = trade_listing(filter);
        self.paginate_with(call, &mut |call, answer| {
            decode_with(call, answer, &mut *parse)
        })
        .await
    }

    /// The one pagination walk: hands each page's rows, normalised and in cursor order, to
    /// `sink` as it arrives, so a caller that converts rows keeps no copy of earlier pages. A
    /// failed page is retried on its own (see `Client::execute`).
    ///
    /// Each answer's cursor and row count come from its parse; when no request is in flight
    /// (the first pages, a walk one page at a time) they are read first instead, in a cheap
    /// pass that skips the rows, so that the next request leaves before the parse.
    /// While the cursors are the exchange's row offsets (`next_cursor` of a page of `n` rows at
    /// offset `k` is the encoding of `k + n`, and every page but the last is as long as the
    /// first), the pages after it are fetched ahead, up to `page_window` at once, each one's
    /// cursor predicted from the first page's length. Every page's own `next_cursor` is checked
    /// against the prediction before the next page is used; the moment one differs (or is not
    /// an offset), the pages fetched ahead are dropped and the walk goes on one page at a time
    /// from the cursor the page named, as it does for any server whose cursors are opaque. So
    /// the rows are exactly the sequential walk's, in its order; the cost of reading ahead is
    /// at most `page_window - 1` requests past the last page. The window opens gradually (one
    /// page ahead after the first page, doubling with each page that keeps the prediction), so
    /// a listing of one or two pages makes exactly the sequential walk's requests.
    ///
    /// One page at a time, the next page's request still goes out before this page's rows are
    /// parsed, so the exchange and the network work while this process parses. Every request
    /// takes a slot of [`ListingPace`](crate::clob::pagination::ListingPace) first.
    async fn paginate<T: DeserializeOwned>(
        &self,
        template: Call,
        normalise: fn(&mut T),
        sink: &mut (dyn FnMut(Vec<T>) + Send),
    ) -> Result<(), ClobError> {
        self.paginate_with(template, &mut |call, answer| {
            let mut page: Page<T> = decode(call, answer)?;
            let head = PageCursor {
                next_cursor: std::mem::take(&mut page.next_cursor),
                rows: page.data.len(),
            };
            page.data.iter_mut().for_each(normalise);
            sink(page.data);
            Ok(head)
        })
        .await
    }

    /// The walk of [`Client::paginate`], each page's answer handed to `on_page` to parse; it
    /// gives back the page's cursor and row count.
    async fn paginate_with(
        &self,
        template: Call,
        on_page: &mut (dyn FnMut(&Call, &Answer) -> Result<PageCursor, ClobError> + Send),
    ) -> Result<(), ClobError> {
        let window = self.inner.config.page_window.max(1);
        let mut walk = Walk {
            cursors: Cursors::new(),
            offsets: (window > 1).then_some((0, 0)),
            ahead: VecDeque::new(),
            depth: 1,
            window,
        };
        let mut call = template;
        call.query
            .push(("next_cursor", walk.cursors.current().to_owned()));
        let mut answer = self.fetch_page(call.clone()).await?;
        loop {
            // With no request in flight (the first pages, or a walk one page at a time), the
            // next one goes out before this page is parsed: its cursor is read first, in a
            // pass that skips the rows. With pages in flight, the parse gives the cursor.
            let scanned = if walk.ahead.is_empty() {
                Some(decode::<PageCursor>(&call, &answer)?)
            } else {
                None
            };
            if let Some(head) = &scanned {
                walk.follow(self, &call, head)?;
            }
            let head = on_page(&call, &answer)?;
            if scanned.is_none() {
                walk.follow(self, &call, &head)?;
            }
            let Some((next_call, task)) = walk.ahead.pop_front() else {
                return Ok(());
            };
            answer = task.await.map_err(|e| ClobError::Connection {
                endpoint: next_call.endpoint(),
                host: self.inner.base.clone(),
                detail: format!("the request task stopped: {e}"),
                attempts: 1,
            })??;
            call = next_call;
        }
    }

    /// One page request, after its slot under the listing pace.
    async fn fetch_page(&self, call: Call) -> Result<Answer, ClobError> {
        let wait = self.inner.listing_pace.slot(&call.path);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        self.execute(&call, &mut Attempts::default()).await
    }

    /// [`Client::fetch_page`] on its own task, aborted when the handle is dropped.
    fn spawn_page(&self, call: Call) -> PageTask {
        let client = self.clone();
        AbortOnDropHandle::new(tokio::spawn(async move { client.fetch_page(call).await }))
    }
}

/// The request of `GET /data/orders` with a filter (the cursor is added by the walk).
fn order_listing(filter: &OrderFilter) -> Call {
    Call::new(Method::GET, "/data/orders")
        .signed()
        .filter("id", filter.id.as_deref())
        .filter("market", filter.market.as_deref())
        .filter("asset_id", filter.asset_id.as_deref())
}

/// The request of `GET /data/trades` with a filter.
fn trade_listing(filter: &TradeFilter) -> Call {
    let before = filter.before.map(|t| t.to_string());
    let after = filter.after.map(|t| t.to_string());
    Call::new(Method::GET, "/data/trades")
        .signed()
        .filter("id", filter.id.as_deref())
        .filter("market", filter.market.as_deref())
        .filter("asset_id", filter.asset_id.as_deref())
        .filter("maker_address", filter.maker_address.as_deref())
        .filter("before", before.as_deref())
        .filter("after", after.as_deref())
}

type PageTask = AbortOnDropHandle<Result<Answer, ClobError>>;

/// Where a listing's walk is.
struct Walk {
    cursors: Cursors,
    /// While reading ahead: the offset of the current page and the length of a full page.
    offsets: Option<(i64, i64)>,
    /// Pages requested ahead, in cursor order; the front one is the next page. Dropping an
    /// entry aborts its request (an interrupted script, an error, the end of the listing).
    ahead: VecDeque<(Call, PageTask)>,
    /// How many pages to keep in flight: one after the first page (what the sequential walk
    /// sends), doubling with every later page that keeps the prediction, up to the window.
    depth: usize,
    window: usize,
}

impl Walk {
    /// Takes in the current page's cursor and length (`call` asked for it): requests what
    /// comes next, or nothing at the end.
    fn follow(&mut self, client: &Client, call: &Call, head: &PageCursor) -> Result<(), ClobError> {
        let next = match self.cursors.advance(&head.next_cursor) {
            Ok(Next::Done) => None,
            Ok(Next::Fetch(cursor)) => Some(cursor),
            Err(detail) => {
                return Err(ClobError::Pagination {
                    endpoint: call.endpoint(),
                    detail,
                });
            }
        };
        let Some(cursor) = next else {
            self.ahead.clear();
            return Ok(());
        };
        if let Some((offset, full)) = self.offsets {
            self.offsets = predicted(offset, full, head.rows, &cursor);
            if self.offsets.is_none() {
                self.ahead.clear();
            } else if full > 0 {
                // A second page that kept the prediction: read further ahead.
                self.depth = (self.depth * 2).min(self.window);
            }
        }
        match self.offsets {
            Some((offset, full)) => {
                // Top the window up: the front is the page at `offset`.
                let mut at = offset + full * i64::try_from(self.ahead.len()).unwrap_or(0);
                while self.ahead.len() < self.depth {
                    let page = with_cursor(call, encode_cursor(at));
                    self.ahead
                        .push_back((page.clone(), client.spawn_page(page)));
                    at += full;
                }
            }
            None if self.ahead.is_empty() => {
                let page = with_cursor(call, cursor);
                self.ahead
                    .push_back((page.clone(), client.spawn_page(page)));
            }
            None => {}
        }
        Ok(())
    }
}

/// The listing's request for the page at `cursor` (the cursor is the last query pair).
fn with_cursor(call: &Call, cursor: String) -> Call {
    let mut next = call.clone();
    if let Some(slot) = next.query.last_mut() {
        slot.1 = cursor;
    }
    next
}

/// Reading ahead goes on while a page of `rows` at `offset` names the cursor its length
/// predicts, and is as long as a full page (`full`, or the first page's length when `full` is
/// 0): the next page's offset and the full length, or `None` to walk on one page at a time.
fn predicted(offset: i64, full: i64, rows: usize, cursor: &str) -> Option<(i64, i64)> {
    let rows = i64::try_from(rows).ok().filter(|rows| *rows > 0)?;
    let full = if full == 0 { rows } else { full };
    let next = offset.checked_add(rows)?;
    (rows == full && cursor == encode_cursor(next)).then_some((next, full))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_ahead_goes_on_only_while_each_cursor_is_the_offset_its_page_predicts() {
        assert_eq!(predicted(0, 0, 500, "NTAw"), Some((500, 500)));
        assert_eq!(
            predicted(500, 500, 500, &encode_cursor(1000)),
            Some((1000, 500))
        );
        assert_eq!(predicted(500, 500, 499, &encode_cursor(999)), None, "short");
        assert_eq!(predicted(0, 0, 500, "opaque"), None, "not an offset");
        assert_eq!(
            predicted(0, 0, 500, &encode_cursor(400)),
            None,
            "wrong offset"
        );
        assert_eq!(predicted(0, 0, 0, "MA=="), None, "empty page");
    }
}
