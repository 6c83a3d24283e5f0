//! Finding host names in configuration values: URLs, DSNs, `host:port`
//! lists, and bare host names in variables whose name says they hold one.

/// Host names a value refers to.
///
/// `key` is the variable or field name the value was set under, if any; a
/// bare word (`db`) counts only under a name that says it holds a host
/// (`DB_HOST`, `REDIS_ADDR`, `upstream_server`…). URLs (`postgres://u:p@db:5432/x`,
/// `jdbc:mysql://db/x`), `host:port` and comma lists of them always count.
pub fn hosts_in_value(key: Option<&str>, value: &str) -> Vec<String> {
    let value = value.trim().trim_matches(['"', '\'']);
    if value.is_empty() || value.len() > 4096 {
        return Vec::new();
    }
    // A URL and a `host:port` have a colon; without one, only a bare name
    // under a host-like key counts. Most values (`info`, `true`, `8080`,
    // a path) are done here.
    if !value.contains(':') && !key.is_some_and(is_host_key) {
        return Vec::new();
    }
    let mut hosts = Vec::new();
    let mut read = |word: &str| {
        if hosts_of_url(word, &mut hosts) {
            return;
        }
        for part in word.split(',').filter(|p| !p.is_empty()) {
            if let Some(host) = host_of_host_port(part) {
                hosts.push(host);
            } else if key.is_some_and(is_host_key) && is_host_name(part) {
                hosts.push(normalize(part));
            }
        }
    };
    // Nearly every value is one word: it is not searched again for where
    // words end.
    if value
        .bytes()
        .any(|b| matches!(b, b' ' | b';' | b'\n' | b'\t'))
    {
        value
            .split([' ', ';', '\n', '\t'])
            .filter(|p| !p.is_empty())
            .for_each(read);
    } else {
        read(value);
    }
    hosts.sort();
    hosts.dedup();
    hosts
}

/// Whether a variable name says its value is a host, address or URL.
pub fn is_host_key(key: &str) -> bool {
    const SUFFIXES: &[&str] = &[
        "HOST",
        "HOSTNAME",
        "HOSTS",
        "ADDR",
        "ADDRESS",
        "SERVER",
        "SERVERS",
        "URL",
        "URI",
        "ENDPOINT",
        "DSN",
        "BROKER",
        "BROKERS",
        "SERVICE_NAME",
        "UPSTREAM",
    ];
    // Case-insensitive, without allocating: it runs for every key of every
    // environment block.
    let key = key.as_bytes();
    SUFFIXES.iter().any(|suffix| {
        let suffix = suffix.as_bytes();
        let Some(start) = key.len().checked_sub(suffix.len()) else {
            return false;
        };
        key[start..].eq_ignore_ascii_case(suffix)
            && (start == 0 || matches!(key[start - 1], b'_' | b'.'))
    })
}

/// Adds the hosts of a URL-like value (`scheme://[user[:pass]@]host[:port][,host2…][/…]`)
/// to `hosts`; whether the value is URL-like.
fn hosts_of_url(value: &str, hosts: &mut Vec<String>) -> bool {
    let Some(rest) = after_scheme(value) else {
        return false;
    };
    let end = rest
        .bytes()
        .position(|b| matches!(b, b'/' | b'?' | b'#'))
        .unwrap_or(rest.len());
    let authority = &rest[..end];
    let authority = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    hosts.extend(authority.split(',').filter_map(|entry| {
        let host = strip_port(entry);
        is_host_name(host).then(|| normalize(host))
    }));
    true
}

/// What follows the first `://` of `value`, if it has one. (Found by its
/// colon: cheaper than a substring search, set up again for every value.)
fn after_scheme(value: &str) -> Option<&str> {
    let bytes = value.as_bytes();
    let mut from = 0;
    while let Some(colon) = bytes[from..].iter().position(|&b| b == b':') {
        let colon = from + colon;
        if bytes[colon + 1..].starts_with(b"//") {
            return Some(&value[colon + 3..]);
        }
        from = colon + 1;
    }
    None
}

/// `host:port` with a numeric port; `None` otherwise.
fn host_of_host_port(value: &str) -> Option<String> {
    let (host, port) = value.rsplit_once(':')?;
    (!port.is_empty()
        && port.len() <= 5
        && port.bytes().all(|b| b.is_ascii_digit())
        && is_host_name(host))
    .then(|| normalize(host))
}

fn strip_port(entry: &str) -> &str {
    if entry.starts_with('[') {
        // An IPv6 literal: never a service name.
        return "";
    }
    entry.rsplit_once(':').map_or(entry, |(host, _)| host)
}

/// A DNS name that could be a service: letters, digits, `-`, `_`, `.`, not an
/// IP address, not a well-known local name, and not interpolation left over.
///
/// A trailing dot (a fully qualified `db.example.`) is accepted only after
/// two or more labels: `grafana.` is what `grafana.${DOMAIN}` becomes when
/// `DOMAIN` is unset, a public name whose domain is unknown, not the
/// `grafana` service. Empty labels (`a..b`, `.example.com`) are not names.
pub fn is_host_name(text: &str) -> bool {
    let qualified = text.ends_with('.');
    let text = text.strip_suffix('.').unwrap_or(text);
    if text.is_empty() || text.len() > 253 {
        return false;
    }
    if text.split('.').any(str::is_empty) || (qualified && !text.contains('.')) {
        return false;
    }
    if !text
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return false;
    }
    if !text.bytes().any(|b| b.is_ascii_alphabetic()) {
        return false; // an IPv4 address or a number
    }
    // Without allocating a lower-case copy of every candidate.
    !["localhost", "true", "false", "null", "none", "yes", "no"]
        .iter()
        .any(|word| text.eq_ignore_ascii_case(word))
}

fn normalize(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_keys_end_in_a_host_word_after_a_separator() {
        for key in [
            "HOST",
            "DATABASE_URL",
            "database_url",
            "db.host",
            "Kafka_Brokers",
            "REDIS_SERVICE_NAME",
        ] {
            assert!(is_host_key(key), "{key}");
        }
        for key in ["GHOST", "URLS", "HOSTING", "X-URL", "", "PORT"] {
            assert!(!is_host_key(key), "{key}");
        }
    }

    #[test]
    fn urls_dsns_and_lists() {
        assert_eq!(hosts_in_value(None, "postgres://u:p@db:5432/app"), ["db"]);
        assert_eq!(
            hosts_in_value(None, "jdbc:postgresql://Db.example./x"),
            ["db.example"]
        );
        assert_eq!(
            hosts_in_value(None, "mongodb://a:27017,b:27017/x?replicaSet=r"),
            ["a", "b"]
        );
        assert_eq!(
            hosts_in_value(None, "kafka-1:9092,kafka-2:9092"),
            ["kafka-1", "kafka-2"]
        );
        assert_eq!(hosts_in_value(None, "redis-cart:6379"), ["redis-cart"]);
        // One word and several, the same way.
        assert_eq!(
            hosts_in_value(None, "http://B:1/x?y#z; http://a:2,c:3 b:4\tb:5\nd:6"),
            ["a", "b", "c", "d"]
        );
        assert_eq!(hosts_in_value(None, "http://B?x"), ["b"]);
        assert_eq!(hosts_in_value(None, "http://:80/ db:5432"), ["db"]);
        assert_eq!(
            hosts_in_value(None, "http://[::1]:80/"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_name_cut_short_by_an_unset_variable_is_not_a_host() {
        // `https://grafana.${DOMAIN}/` with DOMAIN unset.
        assert!(hosts_in_value(None, "https://grafana./docs").is_empty());
        assert!(hosts_in_value(Some("REDIS_HOST"), "redis.").is_empty());
        assert!(hosts_in_value(None, "http://.example.com:80").is_empty());
        assert!(hosts_in_value(None, "http://a..b:80").is_empty());
        assert_eq!(
            hosts_in_value(None, "http://db.example.:5432"),
            ["db.example"]
        );
    }

    #[test]
    fn bare_words_only_under_host_keys() {
        assert_eq!(hosts_in_value(Some("DB_HOST"), "postgres"), ["postgres"]);
        assert!(hosts_in_value(Some("LOG_LEVEL"), "debug").is_empty());
        assert!(hosts_in_value(Some("DB_HOST"), "127.0.0.1").is_empty());
        assert!(hosts_in_value(Some("REDIS_HOST"), "localhost").is_empty());
        assert!(hosts_in_value(None, "12:30").is_empty());
        // Without a colon, a list of bare names counts only under a host
        // key; with one, a `host:port` counts under any key.
        assert_eq!(
            hosts_in_value(Some("KAFKA_BROKERS"), "kafka-1,kafka-2"),
            ["kafka-1", "kafka-2"]
        );
        assert!(hosts_in_value(Some("TOPICS"), "orders,payments").is_empty());
        assert!(hosts_in_value(None, "orders").is_empty());
        assert_eq!(hosts_in_value(Some("TOPICS"), "queue:5672"), ["queue"]);
    }
}
