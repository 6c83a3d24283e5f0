//! The `Link` header GitHub pages lists with (RFC 8288), and the
//! percent-encoding of what weft puts in a URL.

/// The URL of the `rel` relation in a `Link` header value.
pub(crate) fn relation(header: &str, rel: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let mut pieces = part.split(';');
        let target = pieces.next()?.trim();
        let url = target.strip_prefix('<')?.strip_suffix('>')?;
        let matches = pieces.any(|parameter| {
            let parameter = parameter.trim();
            parameter
                .strip_prefix("rel=")
                .map(|value| value.trim_matches('"'))
                .is_some_and(|value| value.split_whitespace().any(|r| r == rel))
        });
        matches.then(|| url.to_string())
    })
}

/// Percent-encodes a path segment or query value.
/// Percent-encodes `text` for a path segment or a query value.
pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::relation;

    #[test]
    fn finds_each_relation() {
        let header = r#"<https://api.github.com/repositories/1/pulls?page=2>; rel="next", <https://api.github.com/repositories/1/pulls?page=5>; rel="last""#;
        assert_eq!(
            relation(header, "next").as_deref(),
            Some("https://api.github.com/repositories/1/pulls?page=2")
        );
        assert_eq!(
            relation(header, "last").as_deref(),
            Some("https://api.github.com/repositories/1/pulls?page=5")
        );
        assert_eq!(relation(header, "prev"), None);
        assert_eq!(relation("garbage", "next"), None);
    }
}
