//! The nginx config reader: `server` blocks into route claims, `proxy_pass`
//! and friends and `upstream` servers into references to hosts.
//!
//! [`read`] never fails: syntax errors become `nginx-syntax` diagnostics and
//! the facts of whatever parsed are kept.

mod lexer;
mod parser;
mod reader;

pub use reader::read;

/// Lowercases a host name but not the template variables in it (`${DOMAIN}`,
/// `$DOMAIN`, `{{ domain }}`), so that they still name their variable.
pub(crate) fn lowercase_host(host: &str) -> String {
    let mut lowered = String::with_capacity(host.len());
    let mut rest = host;
    while let Some(character) = rest.chars().next() {
        let verbatim = if rest.starts_with("${") {
            rest.find('}').map_or(rest.len(), |end| end + 1)
        } else if rest.starts_with("{{") {
            rest.find("}}").map_or(rest.len(), |end| end + 2)
        } else if character == '$' {
            1 + rest[1..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len() - 1)
        } else {
            0
        };
        if verbatim > 0 {
            lowered.push_str(&rest[..verbatim]);
            rest = &rest[verbatim..];
        } else {
            lowered.push(character.to_ascii_lowercase());
            rest = &rest[character.len_utf8()..];
        }
    }
    lowered
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowercases_around_templates() {
        assert_eq!(lowercase_host("WWW.Example.COM"), "www.example.com");
        assert_eq!(lowercase_host("App.${DOMAIN}"), "app.${DOMAIN}");
        assert_eq!(
            lowercase_host("App.$DOMAIN_NAME.Com"),
            "app.$DOMAIN_NAME.com"
        );
        assert_eq!(lowercase_host("{{ HOST }}.Org"), "{{ HOST }}.org");
        assert_eq!(lowercase_host("${UNCLOSED"), "${UNCLOSED");
    }
}
