//! A workflow's `on:` triggers, and the branches a run's own ref can be.

use std::collections::BTreeSet;

use weft_model::yaml::Node;

/// Branches a push can land on, as far as a workflow says.
///
/// Pushing "the ref that triggered the run" lands on different branches for
/// different events: the pushed branch for `push`, the default branch for
/// `schedule` and most other events, the pull request's branch when the job
/// checked out `github.head_ref`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BranchSet {
    /// Any branch (a `push` trigger without a literal branch list).
    pub any: bool,
    /// The repository's default branch.
    pub default: bool,
    /// Branches named literally.
    pub names: BTreeSet<String>,
    /// The head branch of a pull request.
    pub pull_request: bool,
}

/// Names that are the default branch in practice; a literal `main` and "the
/// default branch" are taken to be the same branch.
pub(crate) const DEFAULT_NAMES: &[&str] = &["main", "master"];

impl BranchSet {
    pub fn named(name: &str) -> Self {
        BranchSet {
            names: BTreeSet::from([name.to_string()]),
            ..BranchSet::default()
        }
    }

    pub fn default_branch() -> Self {
        BranchSet {
            default: true,
            ..BranchSet::default()
        }
    }

    pub fn pull_request() -> Self {
        BranchSet {
            pull_request: true,
            ..BranchSet::default()
        }
    }

    pub fn is_empty(&self) -> bool {
        !self.any && !self.default && self.names.is_empty() && !self.pull_request
    }

    pub fn union(&mut self, other: &BranchSet) {
        self.any |= other.any;
        self.default |= other.default;
        self.names.extend(other.names.iter().cloned());
        self.pull_request |= other.pull_request;
    }

    fn has_default(&self) -> bool {
        self.default
            || self
                .names
                .iter()
                .any(|n| DEFAULT_NAMES.contains(&n.as_str()))
    }

    /// Whether a push to `self` and a push to `other` can land on the same branch.
    pub fn overlaps(&self, other: &BranchSet) -> bool {
        let branches = |set: &BranchSet| set.any || set.default || !set.names.is_empty();
        (self.any && branches(other))
            || (other.any && branches(self))
            || (self.has_default() && other.has_default())
            || self.names.intersection(&other.names).next().is_some()
            || (self.pull_request && other.pull_request)
    }

    /// The branches both `self` and `other` can be.
    pub(crate) fn common(&self, other: &BranchSet) -> BranchSet {
        let mut common = BranchSet {
            names: self.names.intersection(&other.names).cloned().collect(),
            pull_request: self.pull_request && other.pull_request,
            ..BranchSet::default()
        };
        for (one, two) in [(self, other), (other, self)] {
            if one.any {
                common.names.extend(two.names.iter().cloned());
                common.default |= two.default;
                common.any |= two.any;
            }
            if one.default {
                let named: Vec<String> = two
                    .names
                    .iter()
                    .filter(|n| DEFAULT_NAMES.contains(&n.as_str()))
                    .cloned()
                    .collect();
                common.default |= two.default && named.is_empty();
                common.names.extend(named);
            }
        }
        common
    }

    /// For messages: `main`, `the default branch`, `main or next`.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = self.names.iter().map(|n| format!("`{n}`")).collect();
        let default_named = self
            .names
            .iter()
            .any(|n| DEFAULT_NAMES.contains(&n.as_str()));
        if self.default && !default_named {
            parts.push("the default branch".into());
        }
        if self.pull_request {
            parts.push("the pull request's branch".into());
        }
        if self.any {
            return "whichever branch triggered the run".into();
        }
        match parts.len() {
            0 => "no branch".into(),
            1 => parts.remove(0),
            _ => {
                let last = parts.pop().unwrap_or_default();
                format!("{} or {last}", parts.join(", "))
            }
        }
    }

    /// One branch name for a fix snippet.
    pub fn example(&self) -> String {
        self.names
            .iter()
            .next()
            .cloned()
            .unwrap_or_else(|| "main".into())
    }
}

/// What starts a workflow.
#[derive(Debug, Clone, Default)]
pub struct Triggers {
    /// Event names, in the order written.
    pub events: Vec<String>,
    /// The branches `github.ref` can name in a run of this workflow.
    pub refs: BranchSet,
    /// Whether other workflows can call this one (`workflow_call`).
    pub callable: bool,
    /// Literal branch names of `push` and `pull_request` filters: branches
    /// people push to.
    pub source_branches: BTreeSet<String>,
}

impl Triggers {
    /// Whether the workflow also runs on its own, not only when called.
    pub fn standalone(&self) -> bool {
        self.events.iter().any(|e| e != "workflow_call")
    }

    pub fn read(on: Option<&Node>) -> Triggers {
        let mut triggers = Triggers::default();
        let Some(on) = on else {
            return triggers;
        };
        if let Some(event) = on.as_str() {
            triggers.event(event, None);
        } else if on.as_sequence().is_some() {
            for event in on.items().filter_map(Node::as_str) {
                triggers.event(event, None);
            }
        } else {
            for (event, configuration) in on.entries() {
                triggers.event(event, Some(configuration));
            }
        }
        triggers
    }

    fn event(&mut self, event: &str, configuration: Option<&Node>) {
        self.events.push(event.to_string());
        let filter = |key: &str| -> Vec<String> {
            configuration
                .and_then(|c| c.get(key))
                .map(|list| match list.as_str() {
                    Some(one) => vec![one.to_string()],
                    None => list
                        .items()
                        .filter_map(Node::as_str)
                        .map(str::to_string)
                        .collect(),
                })
                .unwrap_or_default()
        };
        let has = |key: &str| configuration.and_then(|c| c.get(key)).is_some();
        match event {
            "push" => {
                let branches = filter("branches");
                for name in branches.iter().filter(|b| is_literal(b)) {
                    self.source_branches.insert(name.clone());
                }
                if !branches.is_empty() && branches.iter().all(|b| is_literal(b)) {
                    self.refs.names.extend(branches);
                } else if branches.is_empty()
                    && !has("branches-ignore")
                    && (has("tags") || has("tags-ignore"))
                {
                    // Only tags: the run's ref is a tag, not a branch.
                } else {
                    self.refs.any = true;
                }
            }
            "pull_request" | "pull_request_target" => {
                for name in filter("branches").iter().filter(|b| is_literal(b)) {
                    self.source_branches.insert(name.clone());
                }
                self.refs.pull_request = true;
            }
            "workflow_call" => self.callable = true,
            // The ref is a tag, a merge-queue branch or the deleted ref.
            "release" | "create" | "delete" | "merge_group" | "registry_package" => {}
            _ => self.refs.default = true,
        }
    }
}

/// A branch filter without glob characters.
fn is_literal(pattern: &str) -> bool {
    !pattern.contains(['*', '?', '[', '!', '+'])
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_model::yaml::{Arena, parse_one};

    fn triggers(yaml: &str) -> Triggers {
        let arena = Arena::new();
        let root = parse_one(&arena, yaml).unwrap();
        Triggers::read(root.get("on"))
    }

    #[test]
    fn push_branches_schedules_and_pull_requests() {
        let t = triggers(
            "on:\n  push:\n    branches: [main, next]\n  schedule:\n    - cron: '0 * * * *'\n  pull_request:\n",
        );
        assert_eq!(t.refs.names, BTreeSet::from(["main".into(), "next".into()]));
        assert!(t.refs.default && t.refs.pull_request && !t.refs.any);
        assert!(!t.callable && t.standalone());
    }

    #[test]
    fn globs_tags_and_strings() {
        assert!(
            triggers("on:\n  push:\n    branches: ['release/*']\n")
                .refs
                .any
        );
        assert!(triggers("on: push\n").refs.any);
        assert!(triggers("on:\n  push:\n    tags: ['v*']\n").refs.is_empty());
        let call = triggers("on:\n  workflow_call:\n");
        assert!(call.callable && !call.standalone());
        assert!(triggers("on: [release]\n").refs.is_empty());
    }

    #[test]
    fn overlaps() {
        let main = BranchSet::named("main");
        assert!(main.overlaps(&BranchSet::default_branch()));
        assert!(!main.overlaps(&BranchSet::named("gh-pages")));
        let any = BranchSet {
            any: true,
            ..BranchSet::default()
        };
        assert!(any.overlaps(&BranchSet::named("gh-pages")));
        assert!(!any.overlaps(&BranchSet::pull_request()));
        assert!(BranchSet::pull_request().overlaps(&BranchSet::pull_request()));
    }
}
