//! Money as integer minor units plus an ISO 4217 currency code. Never a float.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Errors of money arithmetic and parsing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// Two amounts in different currencies were combined or compared.
    #[error("cannot combine {left} with {right}: different currencies")]
    CurrencyMismatch {
        /// The currency of the amount the operation was called on.
        left: Currency,
        /// The currency of the other amount.
        right: Currency,
    },
    /// The result does not fit in 64-bit minor units.
    #[error("amount overflow")]
    Overflow,
    /// A currency code that is not three ASCII upper-case letters.
    #[error("'{0}' is not an ISO 4217 currency code (three upper-case letters)")]
    InvalidCurrency(String),
}

/// An ISO 4217 code such as `EUR`: three ASCII upper-case letters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency([u8; 3]);

impl Currency {
    /// The euro.
    pub const EUR: Currency = Currency(*b"EUR");
    /// The US dollar.
    pub const USD: Currency = Currency(*b"USD");

    /// The three-letter code, e.g. `"EUR"`.
    pub fn as_str(&self) -> &str {
        // Only ASCII upper-case letters are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
}

impl FromStr for Currency {
    type Err = MoneyError;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        match code.as_bytes() {
            [a, b, c] if [a, b, c].iter().all(|byte| byte.is_ascii_uppercase()) => {
                Ok(Currency([*a, *b, *c]))
            }
            _ => Err(MoneyError::InvalidCurrency(code.to_string())),
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Currency({})", self.as_str())
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        code.parse().map_err(serde::de::Error::custom)
    }
}

/// An amount in minor units (cents for EUR) of one currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// Minor units; negative only for corrections such as clawbacks.
    pub amount: i64,
    /// The currency the minor units are of.
    pub currency: Currency,
}

impl Money {
    /// `amount` minor units of `currency`.
    pub fn new(amount: i64, currency: Currency) -> Self {
        Money { amount, currency }
    }

    /// Nothing, in `currency`.
    pub fn zero(currency: Currency) -> Self {
        Money::new(0, currency)
    }

    /// Whether the amount is zero.
    pub fn is_zero(&self) -> bool {
        self.amount == 0
    }

    /// Whether the amount is above zero.
    pub fn is_positive(&self) -> bool {
        self.amount > 0
    }

    /// Checks that `other` is in this amount's currency.
    pub fn same_currency(&self, other: &Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch {
                left: self.currency,
                right: other.currency,
            })
        }
    }

    /// The sum of two amounts of the same currency.
    pub fn checked_add(&self, other: &Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let amount = self
            .amount
            .checked_add(other.amount)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(amount, self.currency))
    }

    /// This amount minus `other`, of the same currency.
    pub fn checked_sub(&self, other: &Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let amount = self
            .amount
            .checked_sub(other.amount)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(amount, self.currency))
    }

    /// Orders two amounts of the same currency.
    pub fn checked_cmp(&self, other: &Money) -> Result<std::cmp::Ordering, MoneyError> {
        self.same_currency(other)?;
        Ok(self.amount.cmp(&other.amount))
    }

    /// `basis_points` / 10,000 of this amount, rounded half to even (banker's rounding),
    /// so that rounding errors do not drift in one direction over many commissions.
    pub fn percentage_bps(&self, basis_points: u32) -> Result<Money, MoneyError> {
        let product = i128::from(self.amount) * i128::from(basis_points);
        let amount = div_round_half_even(product, 10_000);
        let amount = i64::try_from(amount).map_err(|_| MoneyError::Overflow)?;
        Ok(Money::new(amount, self.currency))
    }

    /// The amount as a decimal string with two decimals (minor units are cents for the
    /// currencies Alpes serves), e.g. `12.30`.
    pub fn decimal_string(&self) -> String {
        let sign = if self.amount < 0 { "-" } else { "" };
        let abs = self.amount.unsigned_abs();
        format!("{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.decimal_string(), self.currency)
    }
}

/// Integer division rounding to the nearest integer, ties to even.
pub fn div_round_half_even(numerator: i128, denominator: i128) -> i128 {
    let quotient = numerator.div_euclid(denominator);
    let remainder = numerator.rem_euclid(denominator);
    let twice = remainder * 2;
    if twice > denominator || (twice == denominator && quotient % 2 != 0) {
        quotient + 1
    } else {
        quotient
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn eur(amount: i64) -> Money {
        Money::new(amount, Currency::EUR)
    }

    #[test]
    fn mixing_currencies_is_an_error() {
        let err = eur(1)
            .checked_add(&Money::new(1, Currency::USD))
            .unwrap_err();
        assert_eq!(
            err,
            MoneyError::CurrencyMismatch {
                left: Currency::EUR,
                right: Currency::USD
            }
        );
        assert!(eur(1).checked_sub(&Money::new(1, Currency::USD)).is_err());
        assert!(eur(1).checked_cmp(&Money::new(1, Currency::USD)).is_err());
    }

    #[test]
    fn percentage_rounds_half_to_even() {
        // 10% of 1.25 = 0.125 -> 0.12; 10% of 1.35 = 0.135 -> 0.14
        assert_eq!(eur(125).percentage_bps(1_000).unwrap(), eur(12));
        assert_eq!(eur(135).percentage_bps(1_000).unwrap(), eur(14));
        assert_eq!(eur(10_000).percentage_bps(1_000).unwrap(), eur(1_000));
        assert_eq!(eur(-125).percentage_bps(1_000).unwrap(), eur(-12));
    }

    #[test]
    fn arithmetic_beyond_the_range_of_minor_units_is_an_overflow() {
        assert_eq!(
            eur(i64::MAX).checked_add(&eur(1)),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            eur(i64::MIN).checked_sub(&eur(1)),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            eur(i64::MAX).percentage_bps(20_000),
            Err(MoneyError::Overflow)
        );
        assert_eq!(eur(i64::MAX).checked_add(&eur(0)), Ok(eur(i64::MAX)));
        assert_eq!(eur(i64::MAX).percentage_bps(10_000), Ok(eur(i64::MAX)));
    }

    #[test]
    fn currency_codes_are_validated() {
        assert_eq!("EUR".parse::<Currency>().unwrap(), Currency::EUR);
        for bad in ["eur", "EU", "EURO", "E1R", ""] {
            assert!(bad.parse::<Currency>().is_err(), "{bad} accepted");
        }
        let parsed: Result<Money, _> = serde_json::from_str(r#"{"amount":1,"currency":"eu"}"#);
        assert!(parsed.is_err());
    }

    #[test]
    fn money_serializes_as_minor_units_and_code() {
        let json = serde_json::to_string(&eur(1234)).unwrap();
        assert_eq!(json, r#"{"amount":1234,"currency":"EUR"}"#);
        assert_eq!(eur(1234).decimal_string(), "12.34");
        assert_eq!(eur(-5).decimal_string(), "-0.05");
    }

    proptest! {
        #[test]
        fn half_even_is_within_half_a_unit(n in -1_000_000_000i128..1_000_000_000, d in 1i128..100_000) {
            let q = div_round_half_even(n, d);
            prop_assert!((q * d - n).abs() * 2 <= d);
        }
    }
}
