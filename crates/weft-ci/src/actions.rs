//! The actions weft knows: those that push commits, those that lock, those
//! that retry a command. Each is described by what its inputs mean, as its
//! `action.yml` documents them.

use crate::push::PushKind;
use crate::workflow::Step;

/// Where an action's push lands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BranchInput {
    /// The branch the job has checked out.
    Current,
    /// A branch as written in an input (to be classified like a refspec).
    Named(String),
    /// A branch the action owns, such as `create-pull-request/patch`.
    Owned(String),
}

/// What the action authenticates its push with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CredentialInput {
    /// The credential `actions/checkout` persisted.
    Checkout,
    /// An input or environment value, as written (`${{ secrets.PAT }}`).
    Value(String),
    /// The input's default, `${{ github.token }}`.
    DefaultToken,
    /// An SSH key input.
    SshKey,
    /// A remote URL weft cannot see credentials in.
    Unknown,
}

/// A push made by a known action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ActionPush {
    pub branch: BranchInput,
    pub kind: PushKind,
    pub force: bool,
    /// How the action retries by itself, if it does.
    pub retry: Option<&'static str>,
    /// The action pulls or rebases once before pushing.
    pub rebases_first: bool,
    pub credential: CredentialInput,
    /// Another repository, when an input sends the push there.
    pub repository: Option<String>,
}

/// A lock taken by an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ActionLock {
    /// `softprops/turnstyle` or `ben-z/gh-action-mutex`.
    pub action: &'static str,
    /// Jobs that use the same key wait for each other; `None` when the lock
    /// covers runs of the same workflow only (turnstyle).
    pub key: Option<String>,
}

/// What a step's action does, for weft's purposes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ActionRole {
    Push(ActionPush),
    /// weft's own action: `weft push`.
    Weft {
        branch: Option<String>,
    },
    Lock(ActionLock),
    /// Runs `command` again until it succeeds (`nick-fields/retry`).
    Retry {
        command: String,
    },
    Checkout,
    Other,
}

/// The pushing actions weft knows, for documentation and tests.
pub const PUSHING_ACTIONS: &[&str] = &[
    "stefanzweifel/git-auto-commit-action",
    "EndBug/add-and-commit",
    "ad-m/github-push-action",
    "appleboy/git-push-action",
    "actions-js/push",
    "JamesIves/github-pages-deploy-action",
    "peter-evans/create-pull-request",
    "changesets/action",
    "rhysd/changelog-from-release/action",
];

/// A `true`-ish input value (`true`, `'true'`, `yes`).
fn truthy(value: Option<&str>) -> bool {
    value.is_some_and(|v| matches!(v.trim().to_lowercase().as_str(), "true" | "yes" | "1"))
}

fn falsy(value: Option<&str>) -> bool {
    value.is_some_and(|v| matches!(v.trim().to_lowercase().as_str(), "false" | "no" | "0"))
}

fn non_empty(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// Whether push arguments force (`--force`, `-f`, not `--force-with-lease`).
fn forces(arguments: &str) -> bool {
    arguments.split_whitespace().any(|a| {
        a == "--force"
            || a == "-f"
            || (a.starts_with('-') && !a.starts_with("--") && a.contains('f'))
    })
}

/// A credential input: its value when set, else the action's default.
fn credential(step: &Step, inputs: &[&str], default: CredentialInput) -> CredentialInput {
    inputs
        .iter()
        .find_map(|name| non_empty(step.input(name)))
        .map_or(default, CredentialInput::Value)
}

/// Another repository named by an input, unless it is this one.
fn other_repository(value: Option<&str>) -> Option<String> {
    non_empty(value).filter(|v| !v.contains("github.repository"))
}

/// What the action of `step` does.
pub(crate) fn role(step: &Step) -> ActionRole {
    let Some(action) = step.action() else {
        return ActionRole::Other;
    };
    let push = |branch, kind, credential| ActionPush {
        branch,
        kind,
        force: false,
        retry: None,
        rebases_first: false,
        credential,
        repository: None,
    };
    let branch_or = |input: &str, default: BranchInput| {
        non_empty(step.input(input)).map_or(default, BranchInput::Named)
    };
    match action.as_str() {
        "actions/checkout" => ActionRole::Checkout,
        "stefanzweifel/git-auto-commit-action" => {
            if truthy(step.input("create_git_tag_only")) || truthy(step.input("skip_push")) {
                return ActionRole::Other;
            }
            ActionRole::Push(ActionPush {
                force: step.input("push_options").is_some_and(forces),
                ..push(
                    branch_or("branch", BranchInput::Current),
                    PushKind::Commit,
                    CredentialInput::Checkout,
                )
            })
        }
        "endbug/add-and-commit" => {
            let arguments = step.input("push").unwrap_or("true");
            if falsy(Some(arguments)) {
                return ActionRole::Other;
            }
            let branch = non_empty(step.input("new_branch"))
                .or_else(|| non_empty(step.input("branch")))
                .map_or(BranchInput::Current, BranchInput::Named);
            ActionRole::Push(ActionPush {
                force: forces(arguments),
                ..push(branch, PushKind::Commit, CredentialInput::Checkout)
            })
        }
        "ad-m/github-push-action" => {
            let default = if truthy(step.input("ssh")) {
                CredentialInput::Checkout
            } else {
                CredentialInput::DefaultToken
            };
            ActionRole::Push(ActionPush {
                force: truthy(step.input("force")),
                repository: other_repository(step.input("repository")),
                ..push(
                    branch_or("branch", BranchInput::Current),
                    PushKind::Commit,
                    credential(step, &["github_token"], default),
                )
            })
        }
        "appleboy/git-push-action" => {
            let credential = if non_empty(step.input("ssh_key")).is_some() {
                CredentialInput::SshKey
            } else {
                credential(step, &["netrc_password"], CredentialInput::Unknown)
            };
            ActionRole::Push(ActionPush {
                force: truthy(step.input("force")),
                rebases_first: truthy(step.input("rebase")),
                ..push(
                    branch_or("branch", BranchInput::Named("master".into())),
                    PushKind::Commit,
                    credential,
                )
            })
        }
        "actions-js/push" => ActionRole::Push(ActionPush {
            force: truthy(step.input("force")),
            rebases_first: !falsy(step.input("rebase")),
            repository: other_repository(step.input("repository")),
            ..push(
                branch_or("branch", BranchInput::Named("master".into())),
                PushKind::Commit,
                credential(step, &["github_token"], CredentialInput::DefaultToken),
            )
        }),
        "jamesives/github-pages-deploy-action" => {
            let force = !falsy(step.input("force"));
            let credential = if non_empty(step.input("ssh-key")).is_some() {
                CredentialInput::SshKey
            } else {
                credential(step, &["token"], CredentialInput::DefaultToken)
            };
            ActionRole::Push(ActionPush {
                force,
                retry: (!force)
                    .then_some("with `force: false` it rebases and retries up to 3 times"),
                repository: other_repository(step.input("repository-name")),
                ..push(
                    branch_or("branch", BranchInput::Named("gh-pages".into())),
                    PushKind::Deploy,
                    credential,
                )
            })
        }
        "peter-evans/create-pull-request" => ActionRole::Push(ActionPush {
            force: true,
            repository: other_repository(step.input("push-to-fork")),
            ..push(
                BranchInput::Owned(
                    non_empty(step.input("branch"))
                        .unwrap_or_else(|| "create-pull-request/patch".into()),
                ),
                PushKind::PullRequestBranch,
                credential(step, &["token"], CredentialInput::DefaultToken),
            )
        }),
        "changesets/action" | "changesets/action/version" => {
            let environment = step
                .env
                .iter()
                .find(|(name, _)| name == "GITHUB_TOKEN")
                .map(|(_, value)| CredentialInput::Value(value.clone()));
            let credential = credential(
                step,
                &["github-token"],
                environment.unwrap_or(CredentialInput::DefaultToken),
            );
            ActionRole::Push(ActionPush {
                force: true,
                ..push(
                    BranchInput::Owned("changeset-release/<branch>".into()),
                    PushKind::PullRequestBranch,
                    credential,
                )
            })
        }
        "rhysd/changelog-from-release/action" => {
            if falsy(step.input("commit")) || falsy(step.input("push")) {
                return ActionRole::Other;
            }
            ActionRole::Push(push(
                BranchInput::Current,
                PushKind::Commit,
                credential(step, &["github_token"], CredentialInput::DefaultToken),
            ))
        }
        "softprops/turnstyle" => ActionRole::Lock(ActionLock {
            action: "softprops/turnstyle",
            key: None,
        }),
        "ben-z/gh-action-mutex" => ActionRole::Lock(ActionLock {
            action: "ben-z/gh-action-mutex",
            key: Some(format!(
                "{}/{}",
                non_empty(step.input("branch")).unwrap_or_else(|| "gh-mutex".into()),
                non_empty(step.input("key")).unwrap_or_default()
            )),
        }),
        "nick-fields/retry" | "wandalen/wretry.action" => match non_empty(step.input("command")) {
            Some(command) => ActionRole::Retry { command },
            None => ActionRole::Other,
        },
        name if is_weft(name) => ActionRole::Weft {
            branch: non_empty(step.input("branch")),
        },
        _ => ActionRole::Other,
    }
}

/// weft's own action: `owner/weft` (or a path inside it).
pub(crate) fn is_weft(action: &str) -> bool {
    action.split('/').nth(1) == Some("weft")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::Workflow;

    fn role_of(step_yaml: &str) -> ActionRole {
        let text = format!("on: push\njobs:\n  a:\n    steps:\n{step_yaml}");
        let workflow = Workflow::parse("w.yml", &text).unwrap();
        role(&workflow.jobs[0].steps[0])
    }

    #[test]
    fn auto_commit_pushes_to_the_branch_input_or_the_current_branch() {
        let ActionRole::Push(push) =
            role_of("      - uses: stefanzweifel/git-auto-commit-action@v5\n")
        else {
            panic!()
        };
        assert_eq!(push.branch, BranchInput::Current);
        assert_eq!(push.credential, CredentialInput::Checkout);
        let ActionRole::Push(push) = role_of(
            "      - uses: stefanzweifel/git-auto-commit-action@v5\n        with:\n          branch: main\n          push_options: --force\n",
        ) else {
            panic!()
        };
        assert_eq!(push.branch, BranchInput::Named("main".into()));
        assert!(push.force);
        assert_eq!(
            role_of(
                "      - uses: stefanzweifel/git-auto-commit-action@v5\n        with:\n          create_git_tag_only: true\n"
            ),
            ActionRole::Other
        );
    }

    #[test]
    fn pages_deploys_force_unless_told_not_to() {
        let ActionRole::Push(push) =
            role_of("      - uses: JamesIves/github-pages-deploy-action@v4\n")
        else {
            panic!()
        };
        assert!(push.force && push.retry.is_none());
        assert_eq!(push.branch, BranchInput::Named("gh-pages".into()));
        let ActionRole::Push(push) = role_of(
            "      - uses: JamesIves/github-pages-deploy-action@v4\n        with:\n          force: false\n",
        ) else {
            panic!()
        };
        assert!(!push.force && push.retry.is_some());
    }

    #[test]
    fn weft_locks_retries_and_others() {
        assert_eq!(
            role_of("      - uses: acme/weft@v1\n        with:\n          branch: main\n"),
            ActionRole::Weft {
                branch: Some("main".into())
            }
        );
        assert!(matches!(
            role_of("      - uses: softprops/turnstyle@v2\n"),
            ActionRole::Lock(_)
        ));
        assert!(matches!(
            role_of(
                "      - uses: nick-fields/retry@v3\n        with:\n          command: git push\n"
            ),
            ActionRole::Retry { .. }
        ));
        assert_eq!(
            role_of(
                "      - uses: docker/build-push-action@v6\n        with:\n          push: true\n"
            ),
            ActionRole::Other
        );
        assert_eq!(role_of("      - uses: ./\n"), ActionRole::Other);
    }
}
