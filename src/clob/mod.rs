//! The CLOB wire protocol: L2 signing, the JSON shapes, and the async client.

pub mod auth;
pub mod types;

pub use auth::{Credentials, Secret, SigningKey};
pub use types::*;
pub mod client;

pub use client::{
    Client, ClientConfig, ClientStats, ClobError, OrderFilter, RetryPolicy, Side, TradeFilter,
};
