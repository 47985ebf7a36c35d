//! Exact decimal amounts (prices and sizes) as integers of millionths, so book arithmetic never
//! drifts and every amount prints back as the short decimal string the exchange sends.

use std::fmt;

/// Millionths per unit: USDC and outcome shares both have six decimals.
const SCALE: i64 = 1_000_000;
const DECIMALS: usize = 6;

/// A non-negative decimal amount with up to six decimals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(i64);

impl Amount {
    pub const ZERO: Amount = Amount(0);
    pub const ONE: Amount = Amount(SCALE);

    /// An amount from a count of millionths.
    pub const fn from_micros(micros: i64) -> Amount {
        Amount(micros)
    }

    /// An amount from a count of hundredths (cents of a share or of a dollar).
    pub const fn from_cents(cents: i64) -> Amount {
        Amount(cents * (SCALE / 100))
    }

    pub const fn micros(self) -> i64 {
        self.0
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    pub fn saturating_sub(self, other: Amount) -> Amount {
        Amount((self.0 - other.0).max(0))
    }

    /// Whether this amount is a whole multiple of `step` (a zero step accepts everything).
    pub fn is_multiple_of(self, step: Amount) -> bool {
        step.0 == 0 || self.0 % step.0 == 0
    }

    /// The value as a float, for the one field the exchange sends as a JSON number.
    pub fn to_f64(self) -> f64 {
        self.0 as f64 / SCALE as f64
    }

    /// Parses a plain decimal string such as `"0.52"`, `"100"` or `"12.5"`; `None` for
    /// anything else (signs, exponents, more than six decimals).
    pub fn parse(text: &str) -> Option<Amount> {
        let text = text.trim();
        let (whole, fraction) = match text.split_once('.') {
            Some((w, f)) => (w, f),
            None => (text, ""),
        };
        if (whole.is_empty() && fraction.is_empty())
            || fraction.len() > DECIMALS
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !fraction.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let whole: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().ok()?
        };
        let mut micros = whole.checked_mul(SCALE)?;
        if !fraction.is_empty() {
            let padded = format!("{fraction:0<DECIMALS$}");
            micros = micros.checked_add(padded.parse::<i64>().ok()?)?;
        }
        Some(Amount(micros))
    }
}

impl std::ops::Add for Amount {
    type Output = Amount;
    fn add(self, other: Amount) -> Amount {
        Amount(self.0 + other.0)
    }
}

impl std::ops::Sub for Amount {
    type Output = Amount;
    fn sub(self, other: Amount) -> Amount {
        Amount(self.0 - other.0)
    }
}

impl std::ops::Mul<i64> for Amount {
    type Output = Amount;
    fn mul(self, factor: i64) -> Amount {
        Amount(self.0 * factor)
    }
}

impl std::ops::Div<i64> for Amount {
    type Output = Amount;
    fn div(self, divisor: i64) -> Amount {
        Amount(self.0 / divisor)
    }
}

/// The exchange's spelling: no trailing zeros, no trailing point (`0.5`, `100`, `12.25`).
impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let whole = abs / SCALE as u64;
        let fraction = abs % SCALE as u64;
        if fraction == 0 {
            return write!(f, "{sign}{whole}");
        }
        let digits = format!("{fraction:0DECIMALS$}");
        write!(f, "{sign}{whole}.{}", digits.trim_end_matches('0'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_the_exchange_spelling() {
        for text in ["0.5", "100", "12.25", "0.001", "0", "0.000001"] {
            let amount = Amount::parse(text).expect(text);
            assert_eq!(amount.to_string(), text);
        }
        assert_eq!(
            Amount::parse("1.50").map(|a| a.to_string()),
            Some("1.5".into())
        );
        assert_eq!(Amount::parse(".5"), Some(Amount::from_cents(50)));
    }

    #[test]
    fn rejects_what_is_not_a_plain_decimal() {
        for text in ["", ".", "-1", "1e3", "0.1234567", "abc", "1.2.3", "+1"] {
            assert_eq!(Amount::parse(text), None, "{text}");
        }
    }

    #[test]
    fn tick_multiples() {
        let tick = Amount::parse("0.01").expect("tick");
        assert!(Amount::parse("0.52").expect("price").is_multiple_of(tick));
        assert!(!Amount::parse("0.525").expect("price").is_multiple_of(tick));
    }
}
