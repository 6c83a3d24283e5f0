//! The `notify:` keys of weft.yaml: where release notifications go
//! (`channels`) and which events go where (`rules`).
//!
//! A channel is exactly one of `slack`, `email`, `github_issue` or `webhook`,
//! read through a raw form that serde fills and a check that names what is
//! wrong (as deploy steps are), so an error points at the channel in
//! weft.yaml. References between keys — a rule naming an unknown channel, an
//! environment naming an unknown rule — are checked by `validate` once the
//! whole file is read, and located at the name that is wrong.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};

use super::launch::Duration;
use super::{ConfigError, FILE_NAME, WorkspaceConfig};
use crate::diagnostic::Diagnostic;
use crate::yaml::Node;

/// Release notifications: channels by name, and the rules that route events
/// to them.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(extend("additionalProperties" = false))]
pub struct NotifyConfig {
    /// Where notifications go, by name (`ops-slack`, `ops-mail`).
    #[serde(default)]
    pub channels: IndexMap<String, ChannelConfig>,
    /// Which events go to which channels, by name (`release-failures`).
    #[serde(default)]
    pub rules: IndexMap<String, RuleConfig>,
}

/// Something that happened to a release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotifyEvent {
    DeploymentStarted,
    DeploymentSucceeded,
    DeploymentFailed,
    RollbackStarted,
    RollbackSucceeded,
    RollbackFailed,
    GateFailed,
    ManualInterventionRequired,
    /// Sent by `weft notify test CHANNEL`; rules rarely name it.
    Test,
}

impl NotifyEvent {
    /// Every event, in the order of a release.
    pub const ALL: [NotifyEvent; 9] = [
        NotifyEvent::DeploymentStarted,
        NotifyEvent::DeploymentSucceeded,
        NotifyEvent::DeploymentFailed,
        NotifyEvent::RollbackStarted,
        NotifyEvent::RollbackSucceeded,
        NotifyEvent::RollbackFailed,
        NotifyEvent::GateFailed,
        NotifyEvent::ManualInterventionRequired,
        NotifyEvent::Test,
    ];

    /// The name weft.yaml and the JSON payloads use.
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyEvent::DeploymentStarted => "deployment_started",
            NotifyEvent::DeploymentSucceeded => "deployment_succeeded",
            NotifyEvent::DeploymentFailed => "deployment_failed",
            NotifyEvent::RollbackStarted => "rollback_started",
            NotifyEvent::RollbackSucceeded => "rollback_succeeded",
            NotifyEvent::RollbackFailed => "rollback_failed",
            NotifyEvent::GateFailed => "gate_failed",
            NotifyEvent::ManualInterventionRequired => "manual_intervention_required",
            NotifyEvent::Test => "test",
        }
    }

    /// The name for people: `deployment failed`.
    pub fn describe(self) -> &'static str {
        match self {
            NotifyEvent::DeploymentStarted => "deployment started",
            NotifyEvent::DeploymentSucceeded => "deployment succeeded",
            NotifyEvent::DeploymentFailed => "deployment failed",
            NotifyEvent::RollbackStarted => "rollback started",
            NotifyEvent::RollbackSucceeded => "rollback succeeded",
            NotifyEvent::RollbackFailed => "rollback failed",
            NotifyEvent::GateFailed => "gate failed",
            NotifyEvent::ManualInterventionRequired => "manual intervention required",
            NotifyEvent::Test => "test notification",
        }
    }

    pub fn parse(text: &str) -> Option<NotifyEvent> {
        NotifyEvent::ALL.into_iter().find(|e| e.as_str() == text)
    }

    /// The severity a notification of this event has unless told otherwise.
    pub fn default_severity(self) -> NotifySeverity {
        match self {
            NotifyEvent::DeploymentFailed | NotifyEvent::RollbackFailed => NotifySeverity::Critical,
            NotifyEvent::GateFailed | NotifyEvent::ManualInterventionRequired => {
                NotifySeverity::High
            }
            NotifyEvent::RollbackStarted | NotifyEvent::RollbackSucceeded => NotifySeverity::Medium,
            NotifyEvent::DeploymentStarted
            | NotifyEvent::DeploymentSucceeded
            | NotifyEvent::Test => NotifySeverity::Low,
        }
    }

    /// A failure that leaves the release needing attention (an incident).
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            NotifyEvent::DeploymentFailed
                | NotifyEvent::RollbackFailed
                | NotifyEvent::GateFailed
                | NotifyEvent::ManualInterventionRequired
        )
    }

    /// An event that settles the release: nothing is left to escalate, and
    /// its incidents are closed.
    pub fn is_resolution(self) -> bool {
        matches!(
            self,
            NotifyEvent::DeploymentSucceeded | NotifyEvent::RollbackSucceeded
        )
    }
}

impl std::fmt::Display for NotifyEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How urgent a notification is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotifySeverity {
    Critical,
    High,
    Medium,
    Low,
}

impl NotifySeverity {
    pub fn as_str(self) -> &'static str {
        match self {
            NotifySeverity::Critical => "critical",
            NotifySeverity::High => "high",
            NotifySeverity::Medium => "medium",
            NotifySeverity::Low => "low",
        }
    }
}

impl std::fmt::Display for NotifySeverity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

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

/// Which notifications go to which channels.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(extend("additionalProperties" = false))]
pub struct RuleConfig {
    /// The events the rule applies to.
    #[serde(default)]
    pub events: Vec<NotifyEvent>,
    /// Only these severities (default: any).
    #[serde(default)]
    pub severity: Vec<NotifySeverity>,
    /// Channel names under `notify.channels`.
    #[serde(default)]
    pub channels: Vec<String>,
    /// Only releases that match.
    #[serde(default)]
    pub when: RuleWhen,
    /// Still unresolved after this long (no `deployment_succeeded` or
    /// `rollback_succeeded` in the environment since): also tell
    /// `escalate_to`, once.
    pub escalate_after: Option<Duration>,
    /// Channel names under `notify.channels`, told on escalation.
    #[serde(default)]
    pub escalate_to: Vec<String>,
}

/// Conditions on the release a rule applies to.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(extend("additionalProperties" = false))]
pub struct RuleWhen {
    /// An environment name, or a list of them (default: any).
    #[serde(default, deserialize_with = "super::launch::one_or_many")]
    #[schemars(with = "Vec<String>")]
    pub environment: Vec<String>,
}

impl RuleConfig {
    /// Whether a notification of `event`, `severity` and `environment` is
    /// one this rule routes.
    pub fn matches(&self, event: NotifyEvent, severity: NotifySeverity, environment: &str) -> bool {
        self.events.contains(&event)
            && (self.severity.is_empty() || self.severity.contains(&severity))
            && self.applies_to(environment)
    }

    /// Whether the rule's `when` admits a release to `environment`.
    pub fn applies_to(&self, environment: &str) -> bool {
        self.when.environment.is_empty() || self.when.environment.iter().any(|e| e == environment)
    }
}

/// Checks the names `notify:` and `environments:` refer to: every channel a
/// rule names exists, escalation is complete, and every rule an environment
/// names exists. Errors point at the name in weft.yaml.
pub(super) fn validate(
    config: &WorkspaceConfig,
    node: &Node,
    text: &str,
) -> Result<(), ConfigError> {
    let error = |at: Option<&Node>, message: String, hint: String| ConfigError::Invalid {
        diagnostic: Box::new(
            Diagnostic::error("invalid-config", message)
                .in_file(FILE_NAME)
                .at(text, at.map_or(node.span, |n| n.span).start)
                .with_hint(hint),
        ),
    };
    let notify = &config.notify;
    let rules_node = node.path(&["notify", "rules"]);
    let known_channels = || {
        if notify.channels.is_empty() {
            "declare channels under `notify.channels`".to_string()
        } else {
            let names: Vec<&str> = notify.channels.keys().map(String::as_str).collect();
            format!("the channels are: {}", names.join(", "))
        }
    };
    for (name, rule) in &notify.rules {
        let rule_key = rules_node.and_then(|r| r.entry(name)).map(|(key, _)| key);
        let rule_value = rules_node.and_then(|r| r.get(name));
        if rule.events.is_empty() {
            return Err(error(
                rule_key,
                format!("rule `{name}` names no events"),
                "list the events it applies to under `events`, such as [deployment_failed]"
                    .to_string(),
            ));
        }
        for key in ["channels", "escalate_to"] {
            let names = if key == "channels" {
                &rule.channels
            } else {
                &rule.escalate_to
            };
            let items: Vec<&Node> = rule_value
                .and_then(|r| r.get(key))
                .map(|list| list.items().collect())
                .unwrap_or_default();
            for (index, channel) in names.iter().enumerate() {
                if notify.channels.contains_key(channel) {
                    continue;
                }
                let at = items
                    .get(index)
                    .copied()
                    .or_else(|| rule_value.and_then(|r| r.entry(key)).map(|(key, _)| key))
                    .or(rule_key);
                return Err(error(
                    at,
                    format!("rule `{name}` names unknown channel `{channel}` in `{key}`"),
                    known_channels(),
                ));
            }
        }
        if rule.channels.is_empty() && rule.escalate_to.is_empty() {
            return Err(error(
                rule_key,
                format!("rule `{name}` sends to no channel"),
                "name channels under `channels`".to_string(),
            ));
        }
        let key_of = |key: &str| rule_value.and_then(|r| r.entry(key)).map(|(key, _)| key);
        match (rule.escalate_after.is_some(), rule.escalate_to.is_empty()) {
            (true, true) => {
                return Err(error(
                    key_of("escalate_after").or(rule_key),
                    format!("rule `{name}` has `escalate_after` but no `escalate_to`"),
                    "name the channels told on escalation under `escalate_to`".to_string(),
                ));
            }
            (false, false) => {
                return Err(error(
                    key_of("escalate_to").or(rule_key),
                    format!("rule `{name}` has `escalate_to` but no `escalate_after`"),
                    "say how long a release may stay unresolved, such as `escalate_after: 5m`"
                        .to_string(),
                ));
            }
            _ => {}
        }
    }
    let environments_node = node.get("environments");
    for (environment, settings) in &config.environments {
        let items: Vec<&Node> = environments_node
            .and_then(|e| e.path(&[environment, "notify"]))
            .map(|list| list.items().collect())
            .unwrap_or_default();
        for (index, rule) in settings.notify.iter().enumerate() {
            if notify.rules.contains_key(rule) {
                continue;
            }
            let hint = if notify.rules.is_empty() {
                "declare rules under `notify.rules`".to_string()
            } else {
                let names: Vec<&str> = notify.rules.keys().map(String::as_str).collect();
                format!("the rules are: {}", names.join(", "))
            };
            return Err(error(
                items.get(index).copied(),
                format!("environment `{environment}` names unknown notify rule `{rule}`"),
                hint,
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;

    fn invalid(text: &str) -> Box<Diagnostic> {
        match parse(text) {
            Err(ConfigError::Invalid { diagnostic }) => diagnostic,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    const EXAMPLE: &str = r#"notify:
  channels:
    ops-slack: {slack: {webhook_env: SLACK_WEBHOOK_URL}}
    ops-mail: {email: {smtp: "smtp://127.0.0.1:2525", from: "weft@example.com", to: ["ops@example.com"], starttls: auto}}
    incidents: {github_issue: {repository: acme/ops, labels: [incident]}}
    audit: {webhook: {url: "https://hooks.example.com/weft", secret_env: WEFT_WEBHOOK_SECRET}}
  rules:
    release-failures:
      events: [deployment_failed, rollback_failed, gate_failed]
      severity: [critical, high]
      channels: [ops-slack, incidents]
      when: {environment: production}
      escalate_after: 5m
      escalate_to: [ops-mail]
environments:
  production:
    notify: [release-failures]
"#;

    #[test]
    fn parses_the_design_example() {
        let (config, warnings) = parse(EXAMPLE).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        let notify = &config.notify;
        let kinds: Vec<&str> = notify.channels.values().map(ChannelConfig::kind).collect();
        assert_eq!(kinds, ["slack", "email", "github_issue", "webhook"]);
        let ChannelConfig::Email(email) = &notify.channels["ops-mail"] else {
            panic!("not email");
        };
        assert_eq!(email.starttls, StartTls::Auto);
        assert_eq!(
            email.server().unwrap(),
            SmtpServer {
                host: "127.0.0.1".into(),
                port: 2525,
                implicit_tls: false
            }
        );
        let rule = &notify.rules["release-failures"];
        assert_eq!(
            rule.escalate_after,
            Some(Duration(std::time::Duration::from_secs(300)))
        );
        assert!(rule.matches(NotifyEvent::GateFailed, NotifySeverity::High, "production"));
        assert!(!rule.matches(NotifyEvent::GateFailed, NotifySeverity::High, "staging"));
        assert!(!rule.matches(NotifyEvent::GateFailed, NotifySeverity::Low, "production"));
        assert!(!rule.matches(
            NotifyEvent::DeploymentStarted,
            NotifySeverity::High,
            "production"
        ));
    }

    #[test]
    fn a_channel_with_two_kinds_is_an_error_at_the_channel() {
        let diagnostic = invalid(
            "notify:\n  channels:\n    both:\n      slack: {webhook_env: A}\n      webhook: {url: \"https://x\"}\n",
        );
        assert!(
            diagnostic.message.contains("`slack` and `webhook`"),
            "{}",
            diagnostic.message
        );
        assert_eq!(diagnostic.line, Some(3), "{diagnostic:?}");
        assert_eq!(diagnostic.snippet.as_deref(), Some("    both:"));
    }

    #[test]
    fn unknown_channels_and_rules_are_errors_at_the_name() {
        let text = EXAMPLE.replace("[ops-slack, incidents]", "[ops-slack, incidnets]");
        let diagnostic = invalid(&text);
        assert_eq!(
            diagnostic.message,
            "rule `release-failures` names unknown channel `incidnets` in `channels`"
        );
        assert_eq!((diagnostic.line, diagnostic.column), (Some(11), Some(29)));
        assert!(diagnostic.hint.as_deref().unwrap().contains("ops-slack"));

        let text = EXAMPLE.replace("escalate_to: [ops-mail]", "escalate_to: [pager]");
        let diagnostic = invalid(&text);
        assert!(diagnostic.message.contains("`pager` in `escalate_to`"));
        assert_eq!(diagnostic.line, Some(14));

        let text = EXAMPLE.replace("notify: [release-failures]", "notify: [releases]");
        let diagnostic = invalid(&text);
        assert_eq!(
            diagnostic.message,
            "environment `production` names unknown notify rule `releases`"
        );
        assert_eq!(diagnostic.line, Some(17));
    }

    #[test]
    fn incomplete_rules_and_channels_are_errors() {
        let text = EXAMPLE.replace("      escalate_to: [ops-mail]\n", "");
        assert!(invalid(&text).message.contains("no `escalate_to`"));
        let text = EXAMPLE.replace(
            "      events: [deployment_failed, rollback_failed, gate_failed]\n",
            "",
        );
        assert!(invalid(&text).message.contains("names no events"));
        for (channel, expected) in [
            ("{}", "needs one of"),
            (
                "{email: {smtp: \"http://x\", from: a@b, to: [c@d]}}",
                "scheme",
            ),
            (
                "{email: {smtp: \"smtp://u:p@x\", from: a@b, to: [c@d]}}",
                "password_env",
            ),
            (
                "{email: {smtp: \"smtp://x\", from: nobody, to: [c@d]}}",
                "mail address",
            ),
            ("{email: {smtp: \"smtp://x\", from: a@b}}", "`to`"),
            ("{github_issue: {repository: ops}}", "owner/name"),
            ("{webhook: {secret_env: S}}", "`url` or `url_env`"),
        ] {
            let text = format!("notify:\n  channels:\n    c: {channel}\n");
            let diagnostic = invalid(&text);
            assert!(
                diagnostic.message.contains(expected),
                "{channel}: {}",
                diagnostic.message
            );
            assert_eq!(diagnostic.line, Some(3), "{channel}");
        }
    }

    #[test]
    fn unknown_keys_in_channels_and_rules_warn() {
        let text = "notify:\n  channels:\n    c: {slack: {webhook_env: A, colour: red}}\n  rules:\n    r: {events: [test], channels: [c], urgency: 1}\n";
        let (_, warnings) = parse(text).unwrap();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert_eq!(
            warnings[0].message,
            "unknown key `notify.channels.c.slack.colour` in weft.yaml is ignored"
        );
        assert_eq!((warnings[0].line, warnings[0].column), (Some(3), Some(33)));
        assert_eq!(
            warnings[1].message,
            "unknown key `notify.rules.r.urgency` in weft.yaml is ignored"
        );
        assert_eq!(warnings[1].line, Some(5));
    }

    #[test]
    fn the_schema_describes_notify() {
        let schema = super::super::json_schema();
        let definitions = &schema["$defs"];
        assert!(schema["properties"]["notify"].is_object(), "{schema}");
        let channel = &definitions["ChannelConfig"]["properties"];
        for kind in ["slack", "email", "github_issue", "webhook"] {
            assert!(channel[kind].is_object(), "{kind}: {channel}");
        }
        assert!(definitions["RuleConfig"]["properties"]["escalate_after"].is_object());
        let events = definitions["NotifyEvent"].to_string();
        assert!(events.contains("manual_intervention_required"), "{events}");
    }

    #[test]
    fn smtp_urls() {
        let server = SmtpServer::parse("smtps://mail.example.com").unwrap();
        assert_eq!((server.port, server.implicit_tls), (465, true));
        let server = SmtpServer::parse("smtp://[::1]:2525").unwrap();
        assert_eq!((server.host.as_str(), server.port), ("::1", 2525));
        assert!(SmtpServer::parse("smtp://host:0").is_err());
        assert!(SmtpServer::parse("smtp://:25").is_err());
    }

    #[test]
    fn events_round_trip_and_default_severities() {
        for event in NotifyEvent::ALL {
            assert_eq!(NotifyEvent::parse(event.as_str()), Some(event));
        }
        assert_eq!(
            NotifyEvent::DeploymentFailed.default_severity(),
            NotifySeverity::Critical
        );
        assert_eq!(
            NotifyEvent::GateFailed.default_severity(),
            NotifySeverity::High
        );
        assert_eq!(
            NotifyEvent::DeploymentStarted.default_severity(),
            NotifySeverity::Low
        );
    }
}
