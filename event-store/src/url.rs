//! The `--events` URL: which backend to open, and where.
//!
//! - `sqlite://PATH` — a file, relative to the working directory (`sqlite://data/alpes.db`)
//!   or absolute (`sqlite:///var/lib/alpes/events.db`); created with its folder on first use.
//! - `postgres://…`, `postgresql://…` — a PostgreSQL database.
//! - `esdb://…`, `esdb+discover://…`, `kurrentdb://…` — EventStoreDB / KurrentDB, clusters
//!   included (several comma-separated hosts).
//!
//! Every message that shows a URL shows it with its password masked.

use std::fmt;
use std::path::PathBuf;

use crate::StoreError;

/// The URL used when `--events` is not given.
pub const DEFAULT_EVENTS_URL: &str = "sqlite://data/alpes.db";

/// What replaces a password in every URL we print.
const MASK: &str = "****";

/// A parsed `--events` URL.
#[derive(Clone, PartialEq, Eq)]
pub enum EventStoreUrl {
    /// An SQLite file.
    Sqlite {
        /// The file, as written in the URL (relative to the working directory or absolute).
        path: PathBuf,
    },
    /// A PostgreSQL database.
    Postgres {
        /// The URL as given, password included: never print it, print [`EventStoreUrl::masked`].
        url: String,
    },
    /// An EventStoreDB / KurrentDB server or cluster.
    EventStoreDb {
        /// The URL as given, password included: never print it, print [`EventStoreUrl::masked`].
        url: String,
    },
}

impl EventStoreUrl {
    /// Parses an `--events` URL, or says which URLs are accepted.
    pub fn parse(text: &str) -> Result<Self, StoreError> {
        let text = text.trim();
        let invalid = |reason: String| StoreError::InvalidUrl {
            url: mask_password(text),
            reason,
        };
        let Some((scheme, rest)) = text.split_once("://") else {
            return Err(invalid(format!(
                "it has no scheme; use one of {}",
                ACCEPTED_URLS
            )));
        };
        match scheme.to_ascii_lowercase().as_str() {
            "sqlite" => parse_sqlite_path(rest)
                .map(|path| EventStoreUrl::Sqlite { path })
                .map_err(invalid),
            "postgres" | "postgresql" => {
                require_host(rest).map_err(invalid)?;
                Ok(EventStoreUrl::Postgres {
                    url: text.to_string(),
                })
            }
            "esdb" | "esdb+discover" | "kurrentdb" | "kurrentdb+discover" | "kdb"
            | "kdb+discover" => {
                require_host(rest).map_err(invalid)?;
                Ok(EventStoreUrl::EventStoreDb {
                    url: text.to_string(),
                })
            }
            other => Err(invalid(format!(
                "unknown scheme '{other}'; use one of {ACCEPTED_URLS}"
            ))),
        }
    }

    /// The URL with its password masked, fit for logs and error messages.
    pub fn masked(&self) -> String {
        match self {
            EventStoreUrl::Sqlite { path } => format!("sqlite://{}", path.display()),
            EventStoreUrl::Postgres { url } | EventStoreUrl::EventStoreDb { url } => {
                mask_password(url)
            }
        }
    }

    /// The backend's name, for messages.
    pub fn backend_name(&self) -> &'static str {
        match self {
            EventStoreUrl::Sqlite { .. } => "SQLite",
            EventStoreUrl::Postgres { .. } => "PostgreSQL",
            EventStoreUrl::EventStoreDb { .. } => "EventStoreDB",
        }
    }
}

impl Default for EventStoreUrl {
    fn default() -> Self {
        EventStoreUrl::Sqlite {
            path: PathBuf::from("data/alpes.db"),
        }
    }
}

/// Shows the masked URL, so that printing one can never leak a password.
impl fmt::Display for EventStoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

/// Shows the masked URL, so that `{:?}` can never leak a password either.
impl fmt::Debug for EventStoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventStoreUrl({})", self.masked())
    }
}

const ACCEPTED_URLS: &str = "sqlite://PATH (e.g. sqlite://data/alpes.db), \
     postgres://USER:PASSWORD@HOST:PORT/DATABASE, \
     esdb://HOST:2113?tls=false or kurrentdb://HOST:2113";

fn parse_sqlite_path(rest: &str) -> Result<PathBuf, String> {
    if rest.is_empty() {
        return Err("it names no file; write e.g. sqlite://data/alpes.db".to_string());
    }
    if rest.starts_with(':') {
        return Err(
            "in-memory SQLite is not supported (readers and the writer use separate \
             connections); give a file, e.g. sqlite:///tmp/alpes.db"
                .to_string(),
        );
    }
    if rest.contains('?') || rest.contains('#') {
        return Err(
            "SQLite URLs take no options ('?…'); the store always uses WAL and \
             syncs every commit before answering it"
                .to_string(),
        );
    }
    if rest.ends_with('/') {
        return Err("it names a folder, not a file; add a file name, e.g. alpes.db".to_string());
    }
    Ok(PathBuf::from(rest))
}

/// A server URL must name a host: `scheme://[user[:password]@]host…`.
fn require_host(rest: &str) -> Result<(), String> {
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let hosts = authority
        .rsplit_once('@')
        .map_or(authority, |(_, hosts)| hosts);
    if hosts.is_empty() {
        return Err("it names no host; write e.g. postgres://user:password@localhost:5432/alpes or esdb://localhost:2113?tls=false".to_string());
    }
    Ok(())
}

/// Replaces the password of `scheme://user:password@host…` (and of a `password=` query
/// parameter) with `****`. Works for cluster URLs with several hosts, which general URL
/// parsers reject.
pub fn mask_password(url: &str) -> String {
    let masked = mask_userinfo_password(url);
    mask_password_parameter(&masked)
}

fn mask_userinfo_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let Some((userinfo, hosts)) = authority.rsplit_once('@') else {
        return url.to_string();
    };
    let Some((user, _password)) = userinfo.split_once(':') else {
        return url.to_string();
    };
    format!("{scheme}://{user}:{MASK}@{hosts}{tail}")
}

fn mask_password_parameter(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_string();
    };
    let query = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}={MASK}"),
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&");
    format!("{base}?{query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_sqlite_path_is_kept_relative() {
        let url = EventStoreUrl::parse("sqlite://data/alpes.db").unwrap();
        assert_eq!(
            url,
            EventStoreUrl::Sqlite {
                path: PathBuf::from("data/alpes.db")
            }
        );
    }

    #[test]
    fn absolute_sqlite_path_keeps_its_root() {
        let url = EventStoreUrl::parse("sqlite:///var/lib/alpes/events.db").unwrap();
        assert_eq!(
            url,
            EventStoreUrl::Sqlite {
                path: PathBuf::from("/var/lib/alpes/events.db")
            }
        );
    }

    #[test]
    fn default_url_is_the_default_sqlite_file() {
        assert_eq!(
            EventStoreUrl::parse(DEFAULT_EVENTS_URL).unwrap(),
            EventStoreUrl::default()
        );
    }

    #[test]
    fn server_schemes_select_their_backend() {
        for (text, backend) in [
            ("postgres://alpes@localhost/alpes", "PostgreSQL"),
            ("postgresql://localhost:5432/alpes", "PostgreSQL"),
            ("esdb://localhost:2113?tls=false", "EventStoreDB"),
            ("esdb+discover://a:2113,b:2113,c:2113", "EventStoreDB"),
            ("kurrentdb://localhost:2113", "EventStoreDB"),
        ] {
            assert_eq!(
                EventStoreUrl::parse(text).unwrap().backend_name(),
                backend,
                "{text}"
            );
        }
    }

    #[test]
    fn password_is_masked_in_every_message() {
        let error = EventStoreUrl::parse("mysql://alpes:s3cret@db/alpes").unwrap_err();
        let message = error.to_string();
        assert!(!message.contains("s3cret"), "{message}");
        assert!(message.contains("mysql://alpes:****@db/alpes"), "{message}");
        assert!(
            message.contains("sqlite://"),
            "names the accepted URLs: {message}"
        );
    }

    #[test]
    fn cluster_url_password_is_masked() {
        assert_eq!(
            mask_password("esdb://admin:changeit@a:2113,b:2113?tls=true"),
            "esdb://admin:****@a:2113,b:2113?tls=true"
        );
    }

    #[test]
    fn password_parameter_is_masked() {
        assert_eq!(
            mask_password("postgres://localhost/alpes?user=a&password=x&sslmode=disable"),
            "postgres://localhost/alpes?user=a&password=****&sslmode=disable"
        );
    }

    #[test]
    fn debug_and_display_never_show_the_password() {
        let url = EventStoreUrl::parse("postgres://alpes:s3cret@localhost/alpes").unwrap();
        assert!(!format!("{url}").contains("s3cret"));
        assert!(!format!("{url:?}").contains("s3cret"));
    }

    #[test]
    fn url_without_scheme_says_what_to_write() {
        let message = EventStoreUrl::parse("data/alpes.db")
            .unwrap_err()
            .to_string();
        assert!(message.contains("data/alpes.db"), "{message}");
        assert!(message.contains("sqlite://PATH"), "{message}");
    }

    #[test]
    fn server_url_without_host_is_rejected() {
        assert!(EventStoreUrl::parse("postgres://").is_err());
        assert!(EventStoreUrl::parse("esdb://user:pw@/x").is_err());
    }

    #[test]
    fn sqlite_url_without_file_is_rejected() {
        assert!(EventStoreUrl::parse("sqlite://").is_err());
        assert!(EventStoreUrl::parse("sqlite://data/").is_err());
        assert!(EventStoreUrl::parse("sqlite://:memory:").is_err());
        assert!(EventStoreUrl::parse("sqlite://a.db?mode=rwc").is_err());
    }
}
