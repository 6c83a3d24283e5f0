//! A notification: what happened to which release, in words for people and
//! in fields for machines. Its JSON form is the generic webhook's payload.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use weft_model::config::{NotifyEvent, NotifySeverity};

/// Something that happened to a release, to be told to the channels whose
/// rules match it. It reads back from its JSON, so an escalation armed by
/// one process can be sent by another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    pub event: NotifyEvent,
    pub severity: NotifySeverity,
    pub environment: String,
    /// The deployment id.
    pub deployment: String,
    pub services: Vec<ServiceVersion>,
    /// One line, such as `Deployment failed in production`.
    pub title: String,
    /// Plain text: what happened and what to do.
    pub text: String,
    /// Run URLs, dashboards.
    pub links: Vec<Link>,
    /// When it happened.
    #[serde(serialize_with = "timestamp", deserialize_with = "parse_timestamp")]
    pub at: jiff::Timestamp,
    /// One per release (the deployment id unless told otherwise): a channel
    /// keeps one thread per key, and escalation waits per key.
    pub thread: String,
}

/// A service of the release and its versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceVersion {
    pub name: String,
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_version: Option<String>,
    /// This service is the one that failed. The GitHub-issue channel opens an
    /// issue per failed service, or per listed service when none is marked.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub failed: bool,
}

/// A labelled URL, such as a workflow run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub label: String,
    pub url: String,
}

impl Notification {
    /// A notification of `event` for `deployment` in `environment`, with the
    /// event's default severity and title, now, threaded by the deployment.
    pub fn new(
        event: NotifyEvent,
        environment: impl Into<String>,
        deployment: impl Into<String>,
    ) -> Notification {
        let environment = environment.into();
        let deployment = deployment.into();
        Notification {
            event,
            severity: event.default_severity(),
            title: default_title(event, &environment),
            environment,
            thread: deployment.clone(),
            deployment,
            services: Vec::new(),
            text: String::new(),
            links: Vec::new(),
            at: jiff::Timestamp::now(),
        }
    }

    pub fn severity(mut self, severity: NotifySeverity) -> Self {
        self.severity = severity;
        self
    }

    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = title.into();
        self
    }

    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.text = text.into();
        self
    }

    /// Adds a service going to `version`.
    pub fn service(mut self, name: impl Into<String>, version: impl Into<String>) -> Self {
        self.services.push(ServiceVersion {
            name: name.into(),
            version: version.into(),
            previous_version: None,
            failed: false,
        });
        self
    }

    /// Adds a service with all its details.
    pub fn service_version(mut self, service: ServiceVersion) -> Self {
        self.services.push(service);
        self
    }

    pub fn link(mut self, label: impl Into<String>, url: impl Into<String>) -> Self {
        self.links.push(Link {
            label: label.into(),
            url: url.into(),
        });
        self
    }

    pub fn thread(mut self, thread: impl Into<String>) -> Self {
        self.thread = thread.into();
        self
    }

    pub fn at(mut self, at: jiff::Timestamp) -> Self {
        self.at = at;
        self
    }

    /// Whether the title says more than the event and the environment.
    pub(crate) fn has_own_title(&self) -> bool {
        self.title != default_title(self.event, &self.environment)
    }

    /// The services an incident is about: the failed ones, or all of them.
    pub(crate) fn incident_services(&self) -> Vec<&ServiceVersion> {
        let failed: Vec<&ServiceVersion> = self.services.iter().filter(|s| s.failed).collect();
        if failed.is_empty() {
            self.services.iter().collect()
        } else {
            failed
        }
    }

    /// The JSON the generic webhook posts.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

impl ServiceVersion {
    /// `1.2.3`, or `1.2.2 → 1.2.3` when the previous version is known.
    pub fn change(&self) -> String {
        match &self.previous_version {
            Some(previous) if previous != &self.version => {
                format!("{previous} → {}", self.version)
            }
            _ => self.version.clone(),
        }
    }
}

/// `Deployment failed in production`.
pub(crate) fn default_title(event: NotifyEvent, environment: &str) -> String {
    let describe = event.describe();
    let mut characters = describe.chars();
    let capitalised: String = characters
        .next()
        .map(|first| first.to_uppercase().chain(characters).collect())
        .unwrap_or_default();
    format!("{capitalised} in {environment}")
}

fn timestamp<S: Serializer>(at: &jiff::Timestamp, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(at)
}

fn parse_timestamp<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<jiff::Timestamp, D::Error> {
    let text = String::deserialize(deserializer)?;
    text.parse().map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_json() {
        let notification = Notification::new(NotifyEvent::GateFailed, "production", "d-7")
            .service_version(ServiceVersion {
                name: "api".into(),
                version: "1.2.3".into(),
                previous_version: Some("1.2.2".into()),
                failed: true,
            })
            .service("web", "2.0.0")
            .link("run", "https://ci.example.com/1")
            .at(jiff::Timestamp::UNIX_EPOCH);
        assert_eq!(notification.title, "Gate failed in production");
        assert!(!notification.has_own_title());
        assert_eq!(notification.severity, NotifySeverity::High);
        assert_eq!(notification.thread, "d-7");
        assert_eq!(notification.incident_services().len(), 1);
        assert_eq!(notification.services[0].change(), "1.2.2 → 1.2.3");
        let json = notification.to_json();
        assert_eq!(json["event"], "gate_failed");
        assert_eq!(json["severity"], "high");
        assert_eq!(json["deployment"], "d-7");
        assert_eq!(json["at"], "1970-01-01T00:00:00Z");
        assert_eq!(json["services"][0]["failed"], true);
        assert!(json["services"][1].get("failed").is_none());
        assert_eq!(json["links"][0]["url"], "https://ci.example.com/1");
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "event",
                "severity",
                "environment",
                "deployment",
                "services",
                "title",
                "text",
                "links",
                "at",
                "thread"
            ]
        );
        let back: Notification = serde_json::from_value(json).unwrap();
        assert_eq!(back, notification);
    }
}
