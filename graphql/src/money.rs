//! Money as the API shows it.

use alpes_domain::Money as DomainMoney;
use async_graphql::SimpleObject;

/// An amount of money: a decimal string (e.g. `"25.00"`) and an ISO 4217 currency.
#[derive(Clone, Debug, SimpleObject)]
pub(crate) struct Money {
    /// The amount, a decimal string with two decimals (`"-3.50"` for a negative amount).
    pub amount: String,
    /// The currency, e.g. `EUR`.
    pub currency: String,
}

impl From<DomainMoney> for Money {
    fn from(money: DomainMoney) -> Self {
        Money {
            amount: money.decimal_string(),
            currency: money.currency.as_str().to_string(),
        }
    }
}
