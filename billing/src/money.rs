//! Credits, counted in whole micro-credits: exact arithmetic, never floats.

use std::fmt;
use std::str::FromStr;

use nubes_core::{Error, Result};
use serde::{Deserialize, Serialize};

/// Micro-credits in one credit.
pub const MICROS: i64 = 1_000_000;
/// What one credit costs, in US cents.
pub const CENTS_PER_CREDIT: i64 = 50;

/// An amount of credits, in micro-credits. Negative amounts are debits.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Credits(i64);

impl Credits {
    pub const ZERO: Credits = Credits(0);

    pub const fn from_micros(micros: i64) -> Self {
        Credits(micros)
    }

    pub const fn whole(credits: i64) -> Self {
        Credits(credits * MICROS)
    }

    pub const fn micros(self) -> i64 {
        self.0
    }

    pub fn checked_add(self, other: Credits) -> Option<Credits> {
        self.0.checked_add(other.0).map(Credits)
    }

    pub fn checked_sub(self, other: Credits) -> Option<Credits> {
        self.0.checked_sub(other.0).map(Credits)
    }

    pub fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// What the amount costs in US cents, rounded down.
    pub fn usd_cents(self) -> i64 {
        (i128::from(self.0) * i128::from(CENTS_PER_CREDIT) / i128::from(MICROS)) as i64
    }
}

impl std::ops::Neg for Credits {
    type Output = Credits;
    fn neg(self) -> Credits {
        Credits(-self.0)
    }
}

impl std::iter::Sum for Credits {
    fn sum<I: Iterator<Item = Credits>>(iter: I) -> Credits {
        Credits(iter.map(|c| c.0).sum())
    }
}

/// `12.5`, `-0.000001`, `3`: at most six decimals.
impl fmt::Display for Credits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let (whole, frac) = (abs / MICROS as u64, abs % MICROS as u64);
        if frac == 0 {
            write!(f, "{sign}{whole}")
        } else {
            let digits = format!("{frac:06}");
            write!(f, "{sign}{whole}.{}", digits.trim_end_matches('0'))
        }
    }
}

impl FromStr for Credits {
    type Err = Error;

    fn from_str(s: &str) -> Result<Credits> {
        let bad = || {
            Error::invalid_input(format!(
                "`{s}` is not an amount of credits (like 12.5, at most six decimals)"
            ))
        };
        let (negative, digits) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
        if whole.is_empty() && frac.is_empty()
            || frac.len() > 6
            || !whole
                .bytes()
                .chain(frac.bytes())
                .all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let whole: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| bad())?
        };
        let frac: i64 = format!("{frac:0<6}").parse().map_err(|_| bad())?;
        let micros = whole
            .checked_mul(MICROS)
            .and_then(|w| w.checked_add(frac))
            .ok_or_else(bad)?;
        Ok(Credits(if negative { -micros } else { micros }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_and_parsed_exactly() {
        for (text, micros) in [
            ("0", 0),
            ("12.5", 12_500_000),
            ("0.000001", 1),
            ("-3.25", -3_250_000),
            ("150", 150_000_000),
        ] {
            let c: Credits = text.parse().unwrap();
            assert_eq!(c.micros(), micros, "{text}");
            assert_eq!(c.to_string(), text);
        }
        assert_eq!(".5".parse::<Credits>().unwrap().micros(), 500_000);
        for bad in [
            "",
            "-",
            "1.0000001",
            "1e3",
            "abc",
            "1.2.3",
            "99999999999999999999",
        ] {
            assert!(bad.parse::<Credits>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_credit_is_fifty_cents() {
        assert_eq!(Credits::whole(15).usd_cents(), 750);
        assert_eq!(Credits::from_micros(19_999).usd_cents(), 0);
    }
}
