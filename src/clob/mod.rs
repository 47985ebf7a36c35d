//! The CLOB wire protocol: L2 signing, the JSON shapes, and the async client.

pub mod auth;
pub mod client;
pub mod error;
pub mod l1;
pub mod pagination;
pub mod ratelimit;
pub mod retry;
pub mod types;
pub mod user_channel;

pub use auth::{Credentials, Secret, SigningKey};
pub use client::{
    CancelObserver, CancelPlan, CancelRequest, Client, ClientConfig, ClientStats, ClobError,
    IndexedCancel, NoObserver, OrderFilter, RequestOutcome, RetryPolicy, STOP_GRACE, TradeFilter,
    UniqueIds,
};
pub use types::*;
