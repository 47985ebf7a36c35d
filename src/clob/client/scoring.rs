//! Order scoring (liquidity rewards) and the heartbeat (dead-man's switch).

use std::collections::BTreeMap;

use reqwest::Method;

use super::transport::{Call, required, to_json, unique_ids};
use super::{Client, ClobError};
use crate::clob::types::{HeartbeatRequest, HeartbeatResponse, MAX_CANCEL_IDS, OrderScoring};

impl Client {
    /// `GET /order-scoring`: whether one order is earning liquidity rewards.
    pub async fn is_scoring(&self, id: &str) -> Result<bool, ClobError> {
        let id = required(id, "GET /order-scoring", "an order id")?;
        let call = Call::new(Method::GET, "/order-scoring")
            .signed()
            .query("order_id", id);
        Ok(self.fetch::<OrderScoring>(&call).await?.scoring)
    }

    /// `POST /orders-scoring`: scoring of many orders, as the exchange reports it (id → bool).
    pub async fn are_scoring<S: AsRef<str> + Sync>(
        &self,
        ids: &[S],
    ) -> Result<BTreeMap<String, bool>, ClobError> {
        self.signer("POST /orders-scoring")?;
        let unique = unique_ids(ids);
        let mut scoring = BTreeMap::new();
        for batch in unique.chunks(MAX_CANCEL_IDS) {
            let call = Call::new(Method::POST, "/orders-scoring")
                .signed()
                .json(to_json(&batch)?);
            let answer: BTreeMap<String, serde_json::Value> = self.fetch(&call).await?;
            for (id, value) in answer {
                let flag = match &value {
                    serde_json::Value::Bool(b) => *b,
                    serde_json::Value::String(s) => s.eq_ignore_ascii_case("true"),
                    serde_json::Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
                    _ => false,
                };
                scoring.insert(id, flag);
            }
        }
        Ok(scoring)
    }

    /// `POST /v1/heartbeats`: keeps the dead-man's switch alive. Pass the id from the previous
    /// reply, or `None` the first time.
    pub async fn heartbeat(
        &self,
        heartbeat_id: Option<&str>,
    ) -> Result<HeartbeatResponse, ClobError> {
        let body = to_json(&HeartbeatRequest {
            heartbeat_id: Some(heartbeat_id.unwrap_or_default().to_owned()),
        })?;
        let call = Call::new(Method::POST, "/v1/heartbeats")
            .signed()
            .json(body);
        self.fetch(&call).await
    }
}
