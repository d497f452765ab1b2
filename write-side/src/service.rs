//! The four bounded contexts, each of which can run as its own process.

use std::fmt;
use std::str::FromStr;

/// A bounded context of Alpes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Service {
    /// Campana: campaigns, budgets and commission rules.
    Marketing,
    /// Interaccion: clicks, views, leads, purchases.
    Tracking,
    /// Atribucion: which partners get credit for a conversion.
    Atribucion,
    /// Comision: commissions from reservation to payment.
    Comisiones,
}

impl Service {
    /// Every service, in a stable order.
    pub const ALL: [Service; 4] = [
        Service::Marketing,
        Service::Tracking,
        Service::Atribucion,
        Service::Comisiones,
    ];

    /// The name used on the command line and in `ALPES_SERVICES`.
    pub fn name(self) -> &'static str {
        match self {
            Service::Marketing => "marketing",
            Service::Tracking => "tracking",
            Service::Atribucion => "atribucion",
            Service::Comisiones => "comisiones",
        }
    }

    /// Parses a comma-separated list such as `tracking,atribucion`; empty items are ignored,
    /// duplicates collapse.
    pub fn parse_list(text: &str) -> Result<Vec<Service>, UnknownService> {
        let mut services: Vec<Service> = text
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(str::parse)
            .collect::<Result<_, _>>()?;
        services.sort();
        services.dedup();
        if services.is_empty() {
            return Err(UnknownService(text.to_string()));
        }
        Ok(services)
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A service name that is not one of the four.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown service '{0}'; known services: marketing, tracking, atribucion, comisiones")]
pub struct UnknownService(pub String);

impl FromStr for Service {
    type Err = UnknownService;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Service::ALL
            .into_iter()
            .find(|service| service.name().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| UnknownService(text.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_and_unknown_names_are_named() {
        assert_eq!(
            Service::parse_list("tracking, atribucion,tracking").unwrap(),
            vec![Service::Tracking, Service::Atribucion]
        );
        let err = Service::parse_list("tracking,ventas")
            .unwrap_err()
            .to_string();
        assert!(err.contains("'ventas'"), "{err}");
        assert!(Service::parse_list(" , ").is_err());
    }
}
