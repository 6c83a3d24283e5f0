//! Who holds a push lock: the CI run (from GitHub Actions' environment), the
//! host and the process.

use serde::{Deserialize, Serialize};

/// The identity a lock records and `weft push status` shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// `GITHUB_REPOSITORY`: the repository the workflow runs in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// `GITHUB_WORKFLOW`: the workflow's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    /// `GITHUB_RUN_ID`: the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// The machine.
    #[serde(default)]
    pub host: String,
    /// The `weft` process.
    #[serde(default)]
    pub pid: u32,
}

impl Holder {
    /// This process, described by the GitHub Actions variables when they are set.
    pub fn from_environment() -> Self {
        let variable = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Holder {
            repository: variable("GITHUB_REPOSITORY"),
            workflow: variable("GITHUB_WORKFLOW"),
            run_id: variable("GITHUB_RUN_ID"),
            host: host_name(),
            pid: std::process::id(),
        }
    }

    /// `run 42 of "nightly" in org/data on runner-3 (pid 812)`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        match (&self.run_id, &self.workflow) {
            (Some(run), Some(workflow)) => parts.push(format!("run {run} of \"{workflow}\"")),
            (Some(run), None) => parts.push(format!("run {run}")),
            (None, Some(workflow)) => parts.push(format!("workflow \"{workflow}\"")),
            (None, None) => {}
        }
        if let Some(repository) = &self.repository {
            parts.push(format!("in {repository}"));
        }
        if !parts.is_empty() {
            parts.push("on".to_string());
        }
        parts.push(format!("{} (pid {})", self.host, self.pid));
        parts.join(" ")
    }
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// This machine's name, or `localhost`.
pub(crate) fn host_name() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|name| name.into_string().ok())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_a_ci_run_and_a_plain_process() {
        let holder = Holder {
            repository: Some("org/data".into()),
            workflow: Some("nightly".into()),
            run_id: Some("42".into()),
            host: "runner".into(),
            pid: 7,
        };
        assert_eq!(
            holder.describe(),
            "run 42 of \"nightly\" in org/data on runner (pid 7)"
        );
        let plain = Holder {
            host: "laptop".into(),
            pid: 9,
            ..Holder::default()
        };
        assert_eq!(plain.describe(), "laptop (pid 9)");
    }
}
