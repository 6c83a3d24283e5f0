//! Writing values back into YAML and `.env` files in the style they had.

/// A YAML scalar for `value`, quoted the way `original` was (plain when it
/// was plain and the value stays a plain string).
pub(crate) fn yaml_scalar(value: &str, original: &str) -> String {
    if original.starts_with('\'') {
        return format!("'{}'", value.replace('\'', "''"));
    }
    if original.starts_with('"') || !plain_is_safe(value) {
        return serde_json::to_string(value).unwrap_or_else(|_| format!("\"{value}\""));
    }
    value.to_string()
}

/// A `.env` value for `value`, quoted when it needs to be.
pub(crate) fn dotenv_value(value: &str, original: &str) -> String {
    let needs_quotes = value.is_empty() || value.contains([' ', '#', '"', '\'', '\\', '$']);
    if original.starts_with('\'') && !value.contains('\'') {
        format!("'{value}'")
    } else if original.starts_with('"') || needs_quotes {
        format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        value.to_string()
    }
}

/// Whether a plain YAML scalar reads back as this same string.
fn plain_is_safe(value: &str) -> bool {
    if value.is_empty() || value != value.trim() {
        return false;
    }
    let first = value.chars().next().unwrap_or(' ');
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
        return false;
    }
    if value.contains(": ") || value.contains(" #") || value.ends_with(':') {
        return false;
    }
    let lower = value.to_ascii_lowercase();
    let special = [
        "true", "false", "yes", "no", "on", "off", "null", "~", "y", "n",
    ];
    !(special.contains(&lower.as_str()) || value.parse::<f64>().is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_styles_and_quotes_when_needed() {
        assert_eq!(yaml_scalar("UTC", "Europe/Berlin"), "UTC");
        assert_eq!(yaml_scalar("UTC", "\"x\""), "\"UTC\"");
        assert_eq!(yaml_scalar("it's", "'x'"), "'it''s'");
        assert_eq!(yaml_scalar("true", "x"), "\"true\"");
        assert_eq!(yaml_scalar("8080", "x"), "\"8080\"");
        assert_eq!(yaml_scalar("a: b", "x"), "\"a: b\"");
        assert_eq!(dotenv_value("UTC", "x"), "UTC");
        assert_eq!(dotenv_value("a b", "x"), "\"a b\"");
        assert_eq!(dotenv_value("x", "'y'"), "'x'");
    }
}
