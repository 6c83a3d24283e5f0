//! How the job reader names things: the branch a refspec or input lands
//! on, the credential a push uses, variables expanded from the script and
//! `env:`.

use std::collections::HashMap;

use super::Reader;
use crate::push::{Credential, Target};
use crate::workflow::Step;

impl Reader<'_> {
    /// The credential a `git push` to `url` (or the checkout's remote) uses.
    pub(super) fn push_credential(
        &self,
        step: &Step,
        variables: &HashMap<String, String>,
        url: Option<&str>,
    ) -> Credential {
        let checkout = self.checkout.clone();
        if let Some(Credential::Explicit(what)) = checkout {
            return Credential::Explicit(what);
        }
        let from_url = url.and_then(|url| {
            if url.starts_with("git@") || url.starts_with("ssh://") {
                return Some(Credential::Explicit("an SSH key".into()));
            }
            let authority = url.split("://").nth(1)?.split('/').next()?;
            let (user_information, _) = authority.rsplit_once('@')?;
            let value = self.expand(step, variables, user_information);
            Some(
                self.credential_of(step, &value)
                    .unwrap_or(Credential::Unknown),
            )
        });
        from_url.or(checkout).unwrap_or(Credential::Unknown)
    }

    /// Classifies a credential as written: the workflow's token, or another.
    pub(super) fn credential_of(&self, step: &Step, value: &str) -> Option<Credential> {
        let value = self.expand(step, &HashMap::new(), value);
        let normalized: String = value
            .to_lowercase()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        if normalized.contains("secrets.github_token") || normalized.contains("github.token") {
            Some(Credential::DefaultToken)
        } else if ["secrets.", "steps.", "vars.", "env."]
            .iter()
            .any(|p| normalized.contains(p))
        {
            Some(Credential::Explicit(format!("`{}`", value.trim())))
        } else {
            None
        }
    }

    /// Replaces `$NAME` and `${NAME}` with their values from the script and
    /// the `env:` of the step, job and workflow, where known.
    pub(super) fn expand(
        &self,
        step: &Step,
        variables: &HashMap<String, String>,
        text: &str,
    ) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(position) = rest.find('$') {
            out.push_str(&rest[..position]);
            let after = &rest[position + 1..];
            let (name, length) =
                if let Some(braced) = after.strip_prefix('{').filter(|b| !b.starts_with('{')) {
                    let end = braced.find('}').unwrap_or(braced.len());
                    (&braced[..end], end + 2)
                } else {
                    let end = after
                        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                        .unwrap_or(after.len());
                    (&after[..end], end)
                };
            match self
                .variable(step, variables, name)
                .filter(|_| !name.is_empty())
            {
                Some(value) => out.push_str(&value),
                None => out.push_str(&rest[position..position + 1 + length]),
            }
            rest = &rest[(position + 1 + length).min(rest.len())..];
        }
        out.push_str(rest);
        out
    }

    pub(super) fn variable(
        &self,
        step: &Step,
        variables: &HashMap<String, String>,
        name: &str,
    ) -> Option<String> {
        variables
            .get(name)
            .cloned()
            .or_else(|| lookup(&step.env, name))
            .or_else(|| lookup(&self.job.env, name))
            .or_else(|| lookup(&self.workflow.env, name))
    }

    /// The branch a refspec updates (`HEAD:main`, `+main`, `refs/heads/x`).
    pub(super) fn refspec(
        &self,
        step: &Step,
        variables: &HashMap<String, String>,
        refspec: &str,
    ) -> Target {
        let refspec = refspec.trim_start_matches('+');
        let destination = refspec.rsplit_once(':').map_or(refspec, |(_, d)| d);
        if destination == "HEAD" || destination.is_empty() {
            return self.branch.clone();
        }
        if destination.starts_with("refs/tags/")
            || destination == "tag"
            || self.tags.contains(destination)
        {
            return Target::Tags;
        }
        self.resolve(step, variables, destination)
    }

    /// Expands a branch as written, then classifies it.
    pub(super) fn resolve(
        &self,
        step: &Step,
        variables: &HashMap<String, String>,
        text: &str,
    ) -> Target {
        let expanded = self.expand(step, variables, text);
        let target = self.classify(step, &expanded, 0);
        if expanded != text && matches!(target, Target::Dynamic(_)) {
            // Keep what the user wrote, for messages.
            return Target::Dynamic(text.to_string());
        }
        target
    }

    /// What a branch as written names.
    pub(super) fn classify(&self, step: &Step, text: &str, depth: usize) -> Target {
        let text = text.trim().trim_start_matches("refs/heads/");
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        match compact.as_str() {
            "${{github.ref}}"
            | "${{github.ref_name}}"
            | "$GITHUB_REF"
            | "${GITHUB_REF}"
            | "$GITHUB_REF_NAME"
            | "${GITHUB_REF_NAME}"
            | "${GITHUB_REF#refs/heads/}" => Target::Trigger,
            "${{github.head_ref}}"
            | "$GITHUB_HEAD_REF"
            | "${GITHUB_HEAD_REF}"
            | "${{github.event.pull_request.head.ref}}" => self.head_ref(),
            "${{github.event.repository.default_branch}}" => Target::DefaultBranch,
            "" | "HEAD" => self.branch.clone(),
            _ if text.contains('$') || text.contains('`') => {
                // `${{ env.BRANCH }}` is followed (twice at most).
                let name = compact
                    .strip_prefix("${{env.")
                    .and_then(|n| n.strip_suffix("}}"));
                if let Some(value) = name
                    .filter(|_| depth < 2)
                    .and_then(|name| self.variable(step, &HashMap::new(), name))
                {
                    return self.classify(step, &value, depth + 1);
                }
                Target::Dynamic(text.to_string())
            }
            _ if text.starts_with("tags/") => Target::Tags,
            _ => Target::Branch(text.to_string()),
        }
    }

    /// What `github.head_ref` names: the pull request's branch in a workflow
    /// that pull requests start (or that is only ever called); empty, so the
    /// triggering ref, in one that other events start too.
    pub(super) fn head_ref(&self) -> Target {
        let triggers = &self.workflow.triggers;
        let pull_requests_only = triggers.events.iter().all(|e| {
            matches!(
                e.as_str(),
                "pull_request" | "pull_request_target" | "workflow_call"
            )
        });
        if pull_requests_only {
            Target::PullRequestHead
        } else {
            Target::Trigger
        }
    }
}

pub(super) fn lookup(environment: &[(String, String)], name: &str) -> Option<String> {
    environment
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.clone())
}

/// A URL that names the workflow's own repository.
pub(super) fn names_this_repository(url: &str) -> bool {
    url.contains("github.repository") || url.contains("GITHUB_REPOSITORY")
}
