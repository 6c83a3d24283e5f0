//! A notification channel as weft.yaml writes it: exactly one of `slack`,
//! `email`, `github_issue` or `webhook`, read through a raw form that serde
//! fills and a check that names what is wrong.

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};

use crate::config::launch::Duration;

/// A channel: exactly one of `slack`, `email`, `github_issue` or `webhook`.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(try_from = "RawChannel")]
#[schemars(with = "RawChannel")]
pub enum ChannelConfig {
    Slack(SlackConfig),
    Email(EmailConfig),
    GithubIssue(GithubIssueConfig),
    Webhook(WebhookConfig),
}

impl ChannelConfig {
    pub fn kind(&self) -> &'static str {
        match self {
            ChannelConfig::Slack(_) => "slack",
            ChannelConfig::Email(_) => "email",
            ChannelConfig::GithubIssue(_) => "github_issue",
            ChannelConfig::Webhook(_) => "webhook",
        }
    }
}

/// A Slack incoming webhook.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(extend("additionalProperties" = false))]
pub struct SlackConfig {
    /// The environment variable holding the webhook URL (the URL is a secret).
    pub webhook_env: String,
}

/// Mail over SMTP: a text and an HTML part, one thread per release.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(extend("additionalProperties" = false))]
pub struct EmailConfig {
    /// `smtp://HOST[:PORT]` (default port 25) or `smtps://HOST[:PORT]`
    /// (TLS from the start, default port 465).
    pub smtp: String,
    /// The sender address, such as `weft@example.com` or `weft <weft@example.com>`.
    pub from: String,
    /// The recipients.
    #[serde(default)]
    pub to: Vec<String>,
    /// `smtp://`: `auto` (default) upgrades with STARTTLS when the server
    /// offers it, `always` fails without it, `never` stays plain.
    #[serde(default)]
    pub starttls: StartTls,
    /// The environment variable holding the user name for `AUTH`.
    pub username_env: Option<String>,
    /// The environment variable holding the password for `AUTH`.
    pub password_env: Option<String>,
    /// A PEM file of extra root certificates, for a relay with a private CA.
    pub ca_file: Option<String>,
    /// How long the server may take to answer (default 30s).
    pub timeout: Option<Duration>,
}

impl EmailConfig {
    /// The server of `smtp`: `smtp://HOST[:PORT]` or `smtps://HOST[:PORT]`.
    pub fn server(&self) -> Result<SmtpServer, String> {
        SmtpServer::parse(&self.smtp)
    }
}

/// Where mail is handed over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpServer {
    pub host: String,
    pub port: u16,
    /// `smtps://`: TLS from the first byte.
    pub implicit_tls: bool,
}

impl SmtpServer {
    pub fn parse(url: &str) -> Result<SmtpServer, String> {
        let invalid = |why: &str| format!("invalid `smtp` `{url}`: {why}");
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| invalid("write smtp://HOST[:PORT] or smtps://HOST[:PORT]"))?;
        let implicit_tls = match scheme {
            "smtp" => false,
            "smtps" => true,
            _ => return Err(invalid("the scheme is `smtp` or `smtps`")),
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains('@') {
            return Err(invalid(
                "credentials do not belong in the URL; use `username_env` and `password_env`",
            ));
        }
        if authority.contains(['/', '?', '#']) {
            return Err(invalid("only a host and a port are expected"));
        }
        let default_port = if implicit_tls { 465 } else { 25 };
        let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
            let (host, after) = bracketed
                .split_once(']')
                .ok_or_else(|| invalid("an IPv6 address is closed with `]`"))?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(invalid("the host is missing"));
        }
        let port = match port {
            Some(port) => port
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| invalid("the port is a number from 1 to 65535"))?,
            None => default_port,
        };
        Ok(SmtpServer {
            host: host.to_string(),
            port,
            implicit_tls,
        })
    }
}

/// Whether an `smtp://` connection is upgraded with STARTTLS.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StartTls {
    /// When the server offers it.
    #[default]
    Auto,
    /// Always: a server that does not offer it fails the delivery.
    Always,
    /// Never: the mail goes in plain text.
    Never,
}

/// GitHub issues: one open issue per environment and service while it fails,
/// commented on while it keeps failing, closed when it recovers.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(extend("additionalProperties" = false))]
pub struct GithubIssueConfig {
    /// `owner/name`, through the workspace's `github:` settings.
    pub repository: String,
    /// Labels of the issues weft opens.
    #[serde(default)]
    pub labels: Vec<String>,
}

/// A POST of the notification as JSON.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(extend("additionalProperties" = false))]
pub struct WebhookConfig {
    /// The URL to POST to (one of `url` and `url_env`).
    pub url: Option<String>,
    /// The environment variable holding the URL, when it is a secret.
    pub url_env: Option<String>,
    /// The environment variable holding the key of the
    /// `X-Weft-Signature-256: sha256=HEX` header (HMAC-SHA256 of the body).
    pub secret_env: Option<String>,
}

/// A channel as written: the check that exactly one kind is given is
/// [`ChannelConfig`]'s `TryFrom`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(extend("additionalProperties" = false))]
pub struct RawChannel {
    #[serde(default, deserialize_with = "some")]
    #[schemars(with = "Option<SlackConfig>")]
    pub slack: Option<SlackConfig>,
    #[serde(default, deserialize_with = "some")]
    #[schemars(with = "Option<EmailConfig>")]
    pub email: Option<EmailConfig>,
    #[serde(default, deserialize_with = "some")]
    #[schemars(with = "Option<GithubIssueConfig>")]
    pub github_issue: Option<GithubIssueConfig>,
    #[serde(default, deserialize_with = "some")]
    #[schemars(with = "Option<WebhookConfig>")]
    pub webhook: Option<WebhookConfig>,
}

/// A present key is `Some` of its value. Read this way rather than as an
/// `Option`, the key's unknown sub-keys are reported at their own line
/// (serde_ignored names an `Option`'s content `?`, which no key matches).
fn some<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

impl TryFrom<RawChannel> for ChannelConfig {
    type Error = String;

    fn try_from(raw: RawChannel) -> Result<Self, String> {
        let given: Vec<&str> = [
            raw.slack.is_some().then_some("`slack`"),
            raw.email.is_some().then_some("`email`"),
            raw.github_issue.is_some().then_some("`github_issue`"),
            raw.webhook.is_some().then_some("`webhook`"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if given.len() > 1 {
            return Err(format!(
                "a channel is exactly one of `slack`, `email`, `github_issue` or `webhook`, but this one has {}",
                given.join(" and ")
            ));
        }
        let empty = |key: &str, value: &str| {
            if value.trim().is_empty() {
                Err(format!("`{key}` of a channel is empty"))
            } else {
                Ok(())
            }
        };
        if let Some(slack) = raw.slack {
            empty("webhook_env", &slack.webhook_env)?;
            return Ok(ChannelConfig::Slack(slack));
        }
        if let Some(email) = raw.email {
            email.server()?;
            check_address("from", &email.from)?;
            if email.to.is_empty() {
                return Err("an email channel needs at least one address in `to`".to_string());
            }
            for to in &email.to {
                check_address("to", to)?;
            }
            if email.username_env.is_some() != email.password_env.is_some() {
                return Err(
                    "an email channel's `username_env` and `password_env` go together".to_string(),
                );
            }
            return Ok(ChannelConfig::Email(email));
        }
        if let Some(issue) = raw.github_issue {
            let valid = issue
                .repository
                .split_once('/')
                .is_some_and(|(owner, name)| {
                    !owner.is_empty() && !name.is_empty() && !name.contains('/')
                });
            if !valid {
                return Err(format!(
                    "github_issue `repository` must be owner/name, not `{}`",
                    issue.repository
                ));
            }
            return Ok(ChannelConfig::GithubIssue(issue));
        }
        if let Some(webhook) = raw.webhook {
            match (&webhook.url, &webhook.url_env) {
                (Some(url), None) => {
                    if !(url.starts_with("http://") || url.starts_with("https://")) {
                        return Err(
                            "a webhook channel's `url` starts with http:// or https://".to_string()
                        );
                    }
                }
                (None, Some(variable)) => empty("url_env", variable)?,
                (None, None) => {
                    return Err("a webhook channel needs `url` or `url_env`".to_string());
                }
                (Some(_), Some(_)) => {
                    return Err(
                        "a webhook channel has either `url` or `url_env`, not both".to_string()
                    );
                }
            }
            if let Some(secret) = &webhook.secret_env {
                empty("secret_env", secret)?;
            }
            return Ok(ChannelConfig::Webhook(webhook));
        }
        Err("a channel needs one of `slack`, `email`, `github_issue` or `webhook`".to_string())
    }
}

fn check_address(key: &str, address: &str) -> Result<(), String> {
    let bare = match (address.rfind('<'), address.strip_suffix('>')) {
        (Some(open), Some(inner)) => &inner[open + 1..],
        _ => address.trim(),
    };
    match bare.split_once('@') {
        Some((local, domain)) if !local.is_empty() && !domain.is_empty() => Ok(()),
        _ => Err(format!(
            "`{key}` of an email channel must be a mail address, not `{address}`"
        )),
    }
}
