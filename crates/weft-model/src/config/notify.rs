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
use serde::{Deserialize, Serialize};

mod channel;

pub use channel::{
    ChannelConfig, EmailConfig, GithubIssueConfig, RawChannel, SlackConfig, SmtpServer, StartTls,
    WebhookConfig,
};

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

/// Something that happened to a release, or a monitor alert.
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
    /// `weft monitor alert` opened an alert issue, or its severity rose.
    MonitorAlert,
    /// `weft monitor alert` closed an alert issue: the repository recovered.
    MonitorRecovered,
    /// Sent by `weft notify test CHANNEL`; rules rarely name it.
    Test,
}

impl NotifyEvent {
    /// Every event, in the order of a release.
    pub const ALL: [NotifyEvent; 11] = [
        NotifyEvent::DeploymentStarted,
        NotifyEvent::DeploymentSucceeded,
        NotifyEvent::DeploymentFailed,
        NotifyEvent::RollbackStarted,
        NotifyEvent::RollbackSucceeded,
        NotifyEvent::RollbackFailed,
        NotifyEvent::GateFailed,
        NotifyEvent::ManualInterventionRequired,
        NotifyEvent::MonitorAlert,
        NotifyEvent::MonitorRecovered,
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
            NotifyEvent::MonitorAlert => "monitor_alert",
            NotifyEvent::MonitorRecovered => "monitor_recovered",
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
            NotifyEvent::MonitorAlert => "monitor alert",
            NotifyEvent::MonitorRecovered => "monitor recovery",
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
            NotifyEvent::GateFailed
            | NotifyEvent::ManualInterventionRequired
            | NotifyEvent::MonitorAlert => NotifySeverity::High,
            NotifyEvent::RollbackStarted | NotifyEvent::RollbackSucceeded => NotifySeverity::Medium,
            NotifyEvent::DeploymentStarted
            | NotifyEvent::DeploymentSucceeded
            | NotifyEvent::MonitorRecovered
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
