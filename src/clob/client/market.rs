//! The public market-data endpoints (no credentials needed).

use reqwest::Method;

use super::transport::{Attempts, Call, required};
use super::{Client, ClobError};
use crate::clob::types::{
    MidpointResponse, OrderBook, PriceResponse, Side, SpreadResponse, TickSizeResponse,
};

impl Client {
    /// `GET /ok`: succeeds when the exchange answers at all.
    pub async fn ok(&self) -> Result<(), ClobError> {
        let call = Call::new(Method::GET, "/ok");
        self.execute(&call, &mut Attempts::default()).await?;
        Ok(())
    }

    /// `GET /book`: the order book of one token, levels in the exchange's order.
    pub async fn book(&self, token_id: &str) -> Result<OrderBook, ClobError> {
        let token_id = required(token_id, "GET /book", "a token id")?;
        let call = Call::new(Method::GET, "/book").query("token_id", token_id);
        self.fetch(&call).await
    }

    /// Midpoint as the exchange's decimal string.
    pub async fn midpoint(&self, token_id: &str) -> Result<String, ClobError> {
        let token_id = required(token_id, "GET /midpoint", "a token id")?;
        let call = Call::new(Method::GET, "/midpoint").query("token_id", token_id);
        Ok(self.fetch::<MidpointResponse>(&call).await?.mid)
    }

    /// `GET /price`: best price on one side, as the exchange's decimal string.
    pub async fn price(&self, token_id: &str, side: Side) -> Result<String, ClobError> {
        let token_id = required(token_id, "GET /price", "a token id")?;
        let call = Call::new(Method::GET, "/price")
            .query("token_id", token_id)
            .query("side", side.as_str());
        Ok(self.fetch::<PriceResponse>(&call).await?.price)
    }

    /// `GET /spread`: as the exchange's decimal string.
    pub async fn spread(&self, token_id: &str) -> Result<String, ClobError> {
        let token_id = required(token_id, "GET /spread", "a token id")?;
        let call = Call::new(Method::GET, "/spread").query("token_id", token_id);
        Ok(self.fetch::<SpreadResponse>(&call).await?.spread)
    }

    /// `GET /tick-size`: the minimum price increment of one token.
    pub async fn tick_size(&self, token_id: &str) -> Result<f64, ClobError> {
        let token_id = required(token_id, "GET /tick-size", "a token id")?;
        let call = Call::new(Method::GET, "/tick-size").query("token_id", token_id);
        Ok(self
            .fetch::<TickSizeResponse>(&call)
            .await?
            .minimum_tick_size)
    }
}
