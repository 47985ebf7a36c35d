//! The exchange's per-signer rate limits (PROTOCOL.md, "Rate limits: two layers"): the tier
//! table, the three `Poly-RateLimit-*` response headers, and [`CancelPacer`], which sizes and
//! times cancel requests so that they fit the signer's cancel bucket (`pacer`). The tests of
//! both are in `tests`.
//!
//! The simulator enforces the same table, so both sides read it from here.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};

use super::retry::parse_retry_after;

/// `Poly-RateLimit-Remaining`: the bucket's balance after this request (may be negative).
pub const REMAINING_HEADER: &str = "Poly-RateLimit-Remaining";
/// `Poly-RateLimit-Reset`: a Unix time, see [`RateLimitHeaders::reset`].
pub const RESET_HEADER: &str = "Poly-RateLimit-Reset";
/// `Poly-RateLimit-Tier`: the signer's tier, in lower case (`standard`, `gold`, …).
pub const TIER_HEADER: &str = "Poly-RateLimit-Tier";
/// `Poly-RateLimit-Warning: true`: processed, but enforcement would have refused it.
pub const WARNING_HEADER: &str = "Poly-RateLimit-Warning";

/// A signer's volume tier; it sets the rate and burst of both buckets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tier {
    /// The tier of every signer below $30k of 30-day volume, and the tightest.
    #[default]
    Standard,
    Copper,
    Bronze,
    Silver,
    Gold,
    Platinum,
    Diamond,
    Elite,
}

/// One bucket's limits: tokens refilled per second and the most tokens it holds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BucketLimits {
    pub rate_per_sec: f64,
    pub burst: u32,
}

/// The two buckets of a signer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BucketKind {
    /// `POST /order`, `POST /orders`.
    Order,
    /// `DELETE /order`, `/orders`, `/cancel-all`, `/cancel-market-orders`.
    Cancel,
}

impl Tier {
    /// Every tier, from the tightest up.
    pub const ALL: [Tier; 8] = [
        Tier::Standard,
        Tier::Copper,
        Tier::Bronze,
        Tier::Silver,
        Tier::Gold,
        Tier::Platinum,
        Tier::Diamond,
        Tier::Elite,
    ];

    /// What a client assumes until the exchange has told it the tier.
    pub const TIGHTEST: Tier = Tier::Standard;

    /// The name the exchange uses, in lower case.
    pub fn name(self) -> &'static str {
        match self {
            Tier::Standard => "standard",
            Tier::Copper => "copper",
            Tier::Bronze => "bronze",
            Tier::Silver => "silver",
            Tier::Gold => "gold",
            Tier::Platinum => "platinum",
            Tier::Diamond => "diamond",
            Tier::Elite => "elite",
        }
    }

    /// (order rate, order burst, cancel rate, cancel burst), per the docs.
    fn table(self) -> (u32, u32, u32, u32) {
        match self {
            Tier::Standard => (40, 60, 80, 120),
            Tier::Copper => (60, 90, 120, 180),
            Tier::Bronze => (80, 120, 160, 240),
            Tier::Silver => (200, 300, 400, 600),
            Tier::Gold => (400, 600, 800, 1200),
            Tier::Platinum => (450, 675, 900, 1350),
            Tier::Diamond => (525, 787, 1050, 1575),
            Tier::Elite => (600, 900, 1200, 1800),
        }
    }

    /// The limits of one of the signer's buckets.
    pub fn limits(self, bucket: BucketKind) -> BucketLimits {
        let (order_rate, order_burst, cancel_rate, cancel_burst) = self.table();
        match bucket {
            BucketKind::Order => BucketLimits {
                rate_per_sec: f64::from(order_rate),
                burst: order_burst,
            },
            BucketKind::Cancel => BucketLimits {
                rate_per_sec: f64::from(cancel_rate),
                burst: cancel_burst,
            },
        }
    }

    /// The cancel bucket's limits.
    pub fn cancel(self) -> BucketLimits {
        self.limits(BucketKind::Cancel)
    }

    /// The order bucket's limits.
    pub fn order(self) -> BucketLimits {
        self.limits(BucketKind::Order)
    }

    /// Whether a balance may go below zero (charges after `/cancel-all` and
    /// `/cancel-market-orders`); the other tiers floor it at zero.
    pub fn allows_negative_balance(self) -> bool {
        self <= Tier::Gold
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A tier name that is not one of [`Tier::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown rate-limit tier {0:?}: expected one of standard, copper, bronze, silver, gold, platinum, diamond, elite"
)]
pub struct UnknownTier(pub String);

impl FromStr for Tier {
    type Err = UnknownTier;

    fn from_str(text: &str) -> Result<Tier, UnknownTier> {
        let wanted = text.trim();
        Tier::ALL
            .into_iter()
            .find(|tier| tier.name().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| UnknownTier(text.to_owned()))
    }
}

/// `GET /v1/user/rate-limit-tier`: the signer's tier. The docs name only the tier; the
/// simulator adds its limits, which clients may ignore.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RateLimitTierResponse {
    pub tier: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<TierBucket>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel: Option<TierBucket>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub negative_balance: Option<bool>,
}

/// One bucket's limits on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TierBucket {
    pub rate_per_sec: u32,
    pub burst: u32,
}

impl RateLimitTierResponse {
    /// The full answer for a tier.
    pub fn of(tier: Tier) -> RateLimitTierResponse {
        let (order_rate, order_burst, cancel_rate, cancel_burst) = tier.table();
        RateLimitTierResponse {
            tier: tier.name().to_owned(),
            order: Some(TierBucket {
                rate_per_sec: order_rate,
                burst: order_burst,
            }),
            cancel: Some(TierBucket {
                rate_per_sec: cancel_rate,
                burst: cancel_burst,
            }),
            negative_balance: Some(tier.allows_negative_balance()),
        }
    }
}

/// The rate-limit headers of one response, each `None` when absent or unreadable.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RateLimitHeaders {
    /// `Poly-RateLimit-Remaining`: the balance after accounting.
    pub remaining: Option<f64>,
    /// `Poly-RateLimit-Reset` in Unix seconds: on a `429` within the burst, when the request
    /// would fit; on an admitted request, when the bucket is full again (the simulator's
    /// reading; the exchange may send the current time).
    pub reset: Option<f64>,
    /// `Poly-RateLimit-Tier`, when it names a known tier.
    pub tier: Option<Tier>,
    /// `Poly-RateLimit-Tier` as sent, also when the name is not known.
    pub tier_name: Option<String>,
    /// `Poly-RateLimit-Warning: true`.
    pub warning: bool,
    /// `Retry-After` (seconds, decimal seconds or an HTTP date).
    pub retry_after: Option<Duration>,
}

impl RateLimitHeaders {
    /// Reads the headers of a response.
    pub fn parse(headers: &HeaderMap) -> RateLimitHeaders {
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::trim)
                .filter(|value| !value.is_empty())
        };
        let number = |name: &str| {
            text(name)
                .and_then(|value| value.parse::<f64>().ok())
                .filter(|value| value.is_finite())
        };
        let tier_name = text(TIER_HEADER).map(str::to_owned);
        RateLimitHeaders {
            remaining: number(REMAINING_HEADER),
            reset: number(RESET_HEADER),
            tier: tier_name.as_deref().and_then(|name| name.parse().ok()),
            tier_name,
            warning: text(WARNING_HEADER).is_some_and(|value| value.eq_ignore_ascii_case("true")),
            retry_after: text(RETRY_AFTER.as_str())
                .and_then(|value| parse_retry_after(value, SystemTime::now())),
        }
    }

    /// Whether the response carried any of the per-signer headers (`Retry-After` alone does
    /// not count: a proxy may send it too).
    pub fn is_metered(&self) -> bool {
        self.remaining.is_some() || self.reset.is_some() || self.tier_name.is_some()
    }
}

mod pacer;
#[cfg(test)]
mod tests;

pub use pacer::{CancelGrant, CancelPacer, PacerStatus, Verdict};
