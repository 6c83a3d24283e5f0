//! Secrets (webhook URLs, signing keys, SMTP passwords) that must never be
//! shown: a wrapper whose `Debug` hides the value, URL redaction for
//! messages, and scrubbing of text that came back from a library.

/// A value read from the environment that is never printed.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(String);

impl Secret {
    pub(crate) fn new(value: String) -> Secret {
        Secret(value)
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// `https://hooks.slack.com/services/T/B/X?token=…` → `https://hooks.slack.com/…`:
/// the scheme and the host only, since the path and the query of a webhook
/// URL are often its credential.
pub(crate) fn redact_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let prefix = if scheme.is_empty() {
        String::new()
    } else {
        format!("{scheme}://")
    };
    if host.len() < rest.len() {
        format!("{prefix}{host}/…")
    } else {
        format!("{prefix}{host}")
    }
}

/// Replaces every secret (and a URL secret without its scheme) in `text`
/// with `***`, for messages built from another library's errors.
pub(crate) fn scrub(text: &str, secrets: &[&Secret]) -> String {
    let mut text = text.to_string();
    for secret in secrets {
        let value = secret.expose();
        if value.len() < 4 {
            continue;
        }
        text = text.replace(value, "***");
        if let Some((_, rest)) = value.split_once("://")
            && rest.len() >= 4
        {
            text = text.replace(rest, "***");
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_keep_only_scheme_and_host() {
        assert_eq!(
            redact_url("https://hooks.slack.com/services/T0/B0/XYZ"),
            "https://hooks.slack.com/…"
        );
        assert_eq!(
            redact_url("http://user:pw@127.0.0.1:8080?key=1"),
            "http://127.0.0.1:8080/…"
        );
        assert_eq!(redact_url("https://example.com"), "https://example.com");
    }

    #[test]
    fn secrets_are_scrubbed_and_never_debugged() {
        let secret = Secret::new("https://hooks.slack.com/services/T0/B0/XYZ".into());
        assert_eq!(format!("{secret:?}"), "Secret(***)");
        let said = "bad uri hooks.slack.com/services/T0/B0/XYZ";
        assert_eq!(scrub(said, &[&secret]), "bad uri ***");
    }
}
