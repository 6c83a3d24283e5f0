//! The `push:` section of weft.yaml: how `weft push` lands commits on a busy branch.

use std::borrow::Cow;

use indexmap::IndexMap;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer};

use super::Duration;

/// How `weft push` locks, rebases and retries.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(extend("additionalProperties" = false))]
pub struct PushConfig {
    /// Path glob → what to do when a rebase conflicts on a matching path:
    /// `mine`, `theirs`, `union`, `fail` or `{regenerate: COMMAND}`. The first
    /// matching glob wins; a glob without `/` matches the file name at any
    /// depth. Unmatched paths: `mine` for data files (anything under a `data/`
    /// directory, and `*.csv`, `*.tsv`, `*.jsonl`, `*.ndjson` anywhere),
    /// `theirs` for everything else.
    #[serde(default)]
    pub policies: IndexMap<String, PathPolicyConfig>,
    /// The remote to push to (default `origin`).
    pub remote: Option<String>,
    /// The remote branch to land on (default: the current branch).
    pub branch: Option<String>,
    /// Attempts after the first when the push is rejected or fails for a
    /// transient reason (default 5).
    pub retries: Option<u32>,
    /// How long the push lock is held before others may take it over
    /// (default 10m); a long push renews it.
    pub lock_ttl: Option<Duration>,
    /// How long to wait for the push lock before giving up (default 30m).
    pub lock_wait: Option<Duration>,
    /// Whether the holder of the lock lands the commits of those waiting
    /// in line with its own (default true).
    pub batch: Option<bool>,
    /// `GITHUB_WORKFLOW` name → priority class asked of the coordination
    /// server.
    #[serde(default)]
    pub classes: IndexMap<String, String>,
}

/// What `weft push` does with a path that conflicts during the rebase, seen
/// from the pusher's side: `mine` keeps the pushed version, `theirs` the
/// version already on the remote branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathPolicyConfig {
    /// Keep the version being pushed.
    Mine,
    /// Keep the version on the remote branch.
    Theirs,
    /// Keep the lines both sides added, drop the lines either side deleted.
    Union,
    /// Stop, and leave everything as it was before `weft push`.
    Fail,
    /// Run a shell command in the repository root that writes the path again.
    Regenerate(String),
}

impl PathPolicyConfig {
    /// The policy's name as written in weft.yaml: `mine`, `theirs`, `union`,
    /// `fail` or `regenerate`.
    pub fn name(&self) -> &'static str {
        match self {
            PathPolicyConfig::Mine => "mine",
            PathPolicyConfig::Theirs => "theirs",
            PathPolicyConfig::Union => "union",
            PathPolicyConfig::Fail => "fail",
            PathPolicyConfig::Regenerate(_) => "regenerate",
        }
    }

    /// The command of `{regenerate: COMMAND}`.
    pub fn command(&self) -> Option<&str> {
        match self {
            PathPolicyConfig::Regenerate(command) => Some(command),
            _ => None,
        }
    }
}

const POLICY_NAMES: &[&str] = &["mine", "theirs", "union", "fail"];

impl<'de> Deserialize<'de> for PathPolicyConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PolicyVisitor;
        impl<'de> serde::de::Visitor<'de> for PolicyVisitor {
            type Value = PathPolicyConfig;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("`mine`, `theirs`, `union`, `fail` or `{regenerate: COMMAND}`")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                match v {
                    "mine" => Ok(PathPolicyConfig::Mine),
                    "theirs" => Ok(PathPolicyConfig::Theirs),
                    "union" => Ok(PathPolicyConfig::Union),
                    "fail" => Ok(PathPolicyConfig::Fail),
                    "regenerate" => Err(E::custom(
                        "`regenerate` needs the command to run: write `{regenerate: COMMAND}`",
                    )),
                    "ours" => Err(E::custom(
                        "unknown policy `ours`: weft speaks from the pusher's side; write `mine` \
                         to keep the version being pushed",
                    )),
                    other => Err(E::unknown_variant(other, POLICY_NAMES)),
                }
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let Some(key) = map.next_key::<String>()? else {
                    return Err(serde::de::Error::custom(
                        "an empty mapping is no policy: write `{regenerate: COMMAND}`",
                    ));
                };
                if key != "regenerate" {
                    return Err(serde::de::Error::custom(format!(
                        "unknown policy `{key}`: the only policy written as a mapping is \
                         `{{regenerate: COMMAND}}`"
                    )));
                }
                let command: String = map.next_value()?;
                if command.trim().is_empty() {
                    return Err(serde::de::Error::custom(
                        "`regenerate` needs a command to run",
                    ));
                }
                if let Some(extra) = map.next_key::<String>()? {
                    return Err(serde::de::Error::custom(format!(
                        "unexpected key `{extra}` beside `regenerate`: a policy is one key"
                    )));
                }
                Ok(PathPolicyConfig::Regenerate(command))
            }
        }
        deserializer.deserialize_any(PolicyVisitor)
    }
}

impl JsonSchema for PathPolicyConfig {
    fn schema_name() -> Cow<'static, str> {
        "PathPolicyConfig".into()
    }

    fn json_schema(_generator: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "What to do with a conflicting path: `mine` keeps the pushed version, \
        `theirs` the remote's, `union` the lines both added (dropping lines either deleted), `fail` stops and \
        restores everything, `{regenerate: COMMAND}` runs COMMAND in the repository root and commits the path.",
            "oneOf": [
                {"type": "string", "enum": ["mine", "theirs", "union", "fail"]},
                {
                    "type": "object",
                    "properties": {"regenerate": {"type": "string", "minLength": 1}},
                    "required": ["regenerate"],
                    "additionalProperties": false
                }
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ConfigError, parse};

    #[test]
    fn reads_every_policy_and_the_other_keys() {
        let text = "push:\n  policies:\n    \"data/**\": mine\n    \"src/**\": theirs\n    CHANGELOG.md: union\n    \"*.lock\": {regenerate: make lock}\n    \"**\": fail\n  retries: 3\n  lock_ttl: 2m\n  remote: upstream\n  branch: main\n  classes: {nightly: batch}\n";
        let (config, warnings) = parse(text).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        let push = config.push;
        let policies: Vec<_> = push
            .policies
            .iter()
            .map(|(glob, policy)| (glob.as_str(), policy.name(), policy.command()))
            .collect();
        assert_eq!(
            policies,
            [
                ("data/**", "mine", None),
                ("src/**", "theirs", None),
                ("CHANGELOG.md", "union", None),
                ("*.lock", "regenerate", Some("make lock")),
                ("**", "fail", None),
            ]
        );
        assert_eq!(push.retries, Some(3));
        assert_eq!(
            push.lock_ttl,
            Some(Duration(std::time::Duration::from_secs(120)))
        );
        assert_eq!(push.remote.as_deref(), Some("upstream"));
        assert_eq!(push.classes["nightly"], "batch");
    }

    fn error_of(text: &str) -> String {
        match parse(text) {
            Err(ConfigError::Invalid { diagnostic }) => diagnostic.message,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn bad_policies_say_what_is_accepted() {
        let message = error_of("push:\n  policies:\n    a: newest\n");
        assert!(
            message.contains("newest") && message.contains("mine"),
            "{message}"
        );
        let message = error_of("push:\n  policies:\n    a: ours\n");
        assert!(message.contains("`mine`"), "{message}");
        let message = error_of("push:\n  policies:\n    a: regenerate\n");
        assert!(message.contains("{regenerate: COMMAND}"), "{message}");
        let message = error_of("push:\n  policies:\n    a: {rerun: make}\n");
        assert!(message.contains("rerun"), "{message}");
        let message = error_of("push:\n  policies:\n    a: {regenerate: make, then: x}\n");
        assert!(message.contains("then"), "{message}");
        let message = error_of("push:\n  policies:\n    a: {regenerate: \"\"}\n");
        assert!(message.contains("needs a command"), "{message}");
    }

    #[test]
    fn the_schema_offers_both_forms() {
        let schema = crate::config::json_schema();
        let text = schema.to_string();
        assert!(text.contains("regenerate"), "{text}");
    }
}
