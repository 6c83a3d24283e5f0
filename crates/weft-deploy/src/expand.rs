//! The variables steps and gates see, and `${…}` expansion in gate targets,
//! webhook URLs and bodies, and workflow inputs.

use std::collections::BTreeMap;

use weft_model::config::EnvironmentConfig;

/// Variables by name. Expansion follows Compose's forms (`$VAR`, `${VAR}`,
/// `${VAR:-default}`…); an unknown variable expands to nothing.
#[derive(Debug, Clone, Default)]
pub struct Variables {
    values: BTreeMap<String, String>,
}

impl Variables {
    /// The environment's `variables`, each expanded against the ones before
    /// it and `WEFT_ENVIRONMENT`.
    pub fn environment(config: &EnvironmentConfig, environment: &str) -> Variables {
        let mut variables = Variables::default();
        variables.set("WEFT_ENVIRONMENT", environment);
        for (name, value) in &config.variables {
            let expanded = variables.expand(value);
            variables.set(name, &expanded);
        }
        variables
    }

    /// What one service's steps and gates see: the environment's variables
    /// and `WEFT_SERVICE`, `WEFT_SERVICE_ID`, `WEFT_VERSION`,
    /// `WEFT_PREVIOUS_VERSION`, `WEFT_ENVIRONMENT`, `WEFT_ROLLBACK`.
    /// `WEFT_DEPLOYMENT_ID` is added when the release starts.
    pub fn for_service(
        &self,
        name: &str,
        id: &str,
        version: &str,
        previous_version: Option<&str>,
        environment: &str,
        rollback: bool,
    ) -> Variables {
        let mut variables = self.clone();
        variables.set("WEFT_SERVICE", name);
        variables.set("WEFT_SERVICE_ID", id);
        variables.set("WEFT_VERSION", version);
        variables.set("WEFT_PREVIOUS_VERSION", previous_version.unwrap_or(""));
        variables.set("WEFT_ENVIRONMENT", environment);
        variables.set("WEFT_ROLLBACK", if rollback { "1" } else { "0" });
        variables
    }

    pub fn set(&mut self, name: &str, value: &str) {
        self.values.insert(name.to_string(), value.to_string());
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// `${NAME}` and the other forms, filled in.
    pub fn expand(&self, text: &str) -> String {
        weft_discover::env::interpolate(text, &|name| self.values.get(name).cloned()).0
    }

    /// Every string of a JSON value, expanded.
    pub fn expand_json(&self, value: &serde_json::Value) -> serde_json::Value {
        match value {
            serde_json::Value::String(text) => serde_json::Value::String(self.expand(text)),
            serde_json::Value::Array(items) => {
                serde_json::Value::Array(items.iter().map(|i| self.expand_json(i)).collect())
            }
            serde_json::Value::Object(entries) => serde_json::Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), self.expand_json(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn into_map(self) -> BTreeMap<String, String> {
        self.values
    }

    /// `sh -c COMMAND` in `directory`, with these variables added to the
    /// environment and no input: how steps and `exec` gates run.
    pub fn shell(&self, command: &str, directory: &std::path::Path) -> tokio::process::Command {
        let mut child = tokio::process::Command::new("sh");
        child
            .arg("-c")
            .arg(command)
            .current_dir(directory)
            .envs(self.iter())
            .stdin(std::process::Stdio::null());
        child
    }
}

/// A URL as it may be shown: without its user-info and query, where
/// webhook secrets usually sit (`https://user:pw@hooks.example.com/x?token=…`
/// shows as `https://hooks.example.com/x?…`).
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let (authority, path) = match rest.find('/') {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let (path, query) = match path.split_once('?') {
        Some((path, _)) => (path, "?…"),
        None => (path, ""),
    };
    let prefix = if scheme.is_empty() {
        String::new()
    } else {
        format!("{scheme}://")
    };
    format!("{prefix}{host}{path}{query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_secrets() {
        assert_eq!(
            redact_url("https://user:pw@hooks.example.com/deploy?token=s3cret"),
            "https://hooks.example.com/deploy?…"
        );
        assert_eq!(redact_url("http://127.0.0.1:9/x"), "http://127.0.0.1:9/x");
        assert_eq!(redact_url("hooks.example.com"), "hooks.example.com");
    }

    #[test]
    fn environment_variables_see_the_ones_before_them() {
        let config = EnvironmentConfig {
            variables: [
                ("HOST".to_string(), "127.0.0.1".to_string()),
                ("API_URL".to_string(), "http://${HOST}:8080".to_string()),
            ]
            .into_iter()
            .collect(),
            ..EnvironmentConfig::default()
        };
        let variables = Variables::environment(&config, "staging")
            .for_service("api", "r/api", "1.2.0", None, "staging", false);
        assert_eq!(
            variables.expand("${API_URL}/v/${WEFT_VERSION}?env=$WEFT_ENVIRONMENT"),
            "http://127.0.0.1:8080/v/1.2.0?env=staging"
        );
        assert_eq!(variables.get("WEFT_PREVIOUS_VERSION"), Some(""));
        assert_eq!(
            variables.expand_json(&serde_json::json!({"v": ["${WEFT_SERVICE}", 1]})),
            serde_json::json!({"v": ["api", 1]})
        );
    }
}
