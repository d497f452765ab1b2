//! The `--events` URL of EventStoreDB / KurrentDB: which schemes we take, what the client
//! parses, and how a URL is shown in errors and logs (password masked).

/// What to do when the server cannot be reached.
pub(crate) const UNREACHABLE_HINT: &str = "Is EventStoreDB running? Start it with \
    `docker compose up eventstore`; a server started with --insecure needs `?tls=false` \
    in the URL";

/// What to do when the server refuses our reads.
pub(crate) const ACCESS_DENIED_HINT: &str = "The user in the URL needs read access to $all \
    and to the aggregate streams (e.g. `esdb://admin:PASSWORD@host:2113`)";

/// Our schemes and the client's equivalents: KurrentDB is EventStoreDB renamed, and the
/// `eventstore` 4.0 client only parses `esdb://` and `esdb+discover://`.
const SCHEMES: [(&str, &str); 6] = [
    ("esdb", "esdb"),
    ("esdb+discover", "esdb+discover"),
    ("kurrentdb", "esdb"),
    ("kurrentdb+discover", "esdb+discover"),
    ("kdb", "esdb"),
    ("kdb+discover", "esdb+discover"),
];

fn scheme_of(url: &str) -> Option<&str> {
    url.split_once("://").map(|(scheme, _)| scheme)
}

/// Whether `url` names an EventStoreDB / KurrentDB server (by its scheme).
pub fn is_esdb_url(url: &str) -> bool {
    client_scheme(url).is_some()
}

fn client_scheme(url: &str) -> Option<&'static str> {
    let scheme = scheme_of(url)?.to_ascii_lowercase();
    SCHEMES
        .iter()
        .find(|(ours, _)| *ours == scheme)
        .map(|(_, client)| *client)
}

/// The connection string the `eventstore` client parses: `kurrentdb://…` becomes `esdb://…`,
/// the rest is unchanged. The error says why the URL cannot be used.
pub(crate) fn client_connection_string(url: &str) -> Result<String, String> {
    let Some((_, rest)) = url.split_once("://") else {
        return Err(
            "expected esdb://HOST:PORT, esdb+discover://HOST:PORT or kurrentdb://HOST:PORT"
                .to_string(),
        );
    };
    match client_scheme(url) {
        Some(scheme) => Ok(format!("{scheme}://{rest}")),
        None => Err(format!(
            "unsupported scheme '{}': use esdb://, esdb+discover:// or kurrentdb://",
            scheme_of(url).unwrap_or_default()
        )),
    }
}

/// `url` with the password of its user info replaced by `****`, for errors and logs.
///
/// The user info ends at the last `@`: a password with an unescaped `@`, `/` or `?` is masked
/// whole, and an `@` in a query value masks more than needed rather than less.
pub fn mask_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some(at) = rest.rfind('@') else {
        return url.to_string();
    };
    let (user_info, host_and_rest) = rest.split_at(at);
    match user_info.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:****{host_and_rest}"),
        None => url.to_string(),
    }
}

/// `text` (an error from parsing `url`) with every copy of `url` replaced by its masked form.
pub(crate) fn mask_in(text: &str, url: &str) -> String {
    let masked = mask_password(url);
    if url.is_empty() || masked == url {
        text.to_string()
    } else {
        text.replace(url, &masked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn esdb_urls_are_passed_through() {
        for url in [
            "esdb://localhost:2113?tls=false",
            "esdb+discover://cluster.example.com:2113",
            "esdb://admin:changeit@node1:2113,node2:2113,node3:2113?nodePreference=leader",
        ] {
            assert_eq!(client_connection_string(url).unwrap(), url);
        }
    }

    #[test]
    fn kurrentdb_urls_become_esdb_urls() {
        assert_eq!(
            client_connection_string("kurrentdb://admin:changeit@localhost:2113?tls=false")
                .unwrap(),
            "esdb://admin:changeit@localhost:2113?tls=false"
        );
        assert_eq!(
            client_connection_string("kurrentdb+discover://cluster:2113").unwrap(),
            "esdb+discover://cluster:2113"
        );
        assert_eq!(
            client_connection_string("KurrentDB://localhost:2113").unwrap(),
            "esdb://localhost:2113"
        );
        assert_eq!(
            client_connection_string("kdb://localhost").unwrap(),
            "esdb://localhost"
        );
    }

    #[test]
    fn other_schemes_are_refused_naming_the_accepted_ones() {
        let reason = client_connection_string("postgres://localhost/alpes").unwrap_err();
        assert!(reason.contains("'postgres'"), "{reason}");
        assert!(reason.contains("esdb://"), "{reason}");
        assert!(client_connection_string("localhost:2113").is_err());
    }

    #[test]
    fn esdb_urls_are_recognised_by_scheme() {
        assert!(is_esdb_url("esdb://localhost:2113"));
        assert!(is_esdb_url("kurrentdb+discover://x"));
        assert!(!is_esdb_url("sqlite://data/alpes.db"));
        assert!(!is_esdb_url("esdb"));
    }

    #[test]
    fn the_password_is_masked() {
        assert_eq!(
            mask_password("esdb://admin:changeit@localhost:2113?tls=false"),
            "esdb://admin:****@localhost:2113?tls=false"
        );
        assert_eq!(
            mask_password("kurrentdb://ops:s3cr3t@node1:2113,node2:2113"),
            "kurrentdb://ops:****@node1:2113,node2:2113"
        );
    }

    #[test]
    fn a_password_with_unescaped_separators_is_masked_whole() {
        assert_eq!(
            mask_password("esdb://admin:pa/ss@w?rd@localhost:2113"),
            "esdb://admin:****@localhost:2113"
        );
    }

    #[test]
    fn a_url_without_password_is_unchanged() {
        for url in [
            "esdb://localhost:2113",
            "esdb://admin@localhost:2113",
            "not a url",
        ] {
            assert_eq!(mask_password(url), url);
        }
    }

    #[test]
    fn errors_quoting_the_url_quote_it_masked() {
        let url = "esdb://admin:changeit@local host:2113";
        let error = format!("ClientSettings parsing error with '{url}': invalid domain");
        let masked = mask_in(&error, url);
        assert!(!masked.contains("changeit"), "{masked}");
        assert!(
            masked.contains("esdb://admin:****@local host:2113"),
            "{masked}"
        );
    }
}
