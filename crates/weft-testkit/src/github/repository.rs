//! A repository as a test sets it up, and its JSON: the `full-repository`
//! object of `GET /repos/{owner}/{repo}`, the `minimal-repository` one a
//! workflow run embeds and the longer one of a repository list.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use super::branches::{DeletedBranch, HostedBranch};
use super::clock::rfc3339;
use super::commit::HostedCommit;
use super::events::WatchEvent;
use super::issue_spec::IssueSpec;
use super::past_run::PastRun;
use super::pull::Pull;
use super::releases::HostedRelease;
use super::user::{User, user_json};
use super::workflow::Workflow;

/// Where GitHub's web pages live; the fake serves none of them, but its
/// `html_url`s point there as GitHub's do.
pub(crate) const HTML_ROOT: &str = "https://github.com";

/// The `*_url` fields of a repository object, as paths under its API URL.
const URL_TEMPLATES: &[(&str, &str)] = &[
    ("archive", "/{archive_format}{/ref}"),
    ("assignees", "/assignees{/user}"),
    ("blobs", "/git/blobs{/sha}"),
    ("branches", "/branches{/branch}"),
    ("collaborators", "/collaborators{/collaborator}"),
    ("comments", "/comments{/number}"),
    ("commits", "/commits{/sha}"),
    ("compare", "/compare/{base}...{head}"),
    ("contents", "/contents/{+path}"),
    ("contributors", "/contributors"),
    ("deployments", "/deployments"),
    ("downloads", "/downloads"),
    ("events", "/events"),
    ("forks", "/forks"),
    ("git_commits", "/git/commits{/sha}"),
    ("git_refs", "/git/refs{/sha}"),
    ("git_tags", "/git/tags{/sha}"),
    ("hooks", "/hooks"),
    ("issue_comment", "/issues/comments{/number}"),
    ("issue_events", "/issues/events{/number}"),
    ("issues", "/issues{/number}"),
    ("keys", "/keys{/key_id}"),
    ("labels", "/labels{/name}"),
    ("languages", "/languages"),
    ("merges", "/merges"),
    ("milestones", "/milestones{/number}"),
    ("notifications", "/notifications{?since,all,participating}"),
    ("pulls", "/pulls{/number}"),
    ("releases", "/releases{/id}"),
    ("stargazers", "/stargazers"),
    ("statuses", "/statuses/{sha}"),
    ("subscribers", "/subscribers"),
    ("subscription", "/subscription"),
    ("tags", "/tags"),
    ("teams", "/teams"),
    ("trees", "/git/trees{/sha}"),
];

/// A repository on the fake: `owner/name`, its branches and workflows, and
/// what it already has when added: past workflow runs, pull requests,
/// issues, releases and events.
///
/// Every time is given as an age: how long before the moment
/// [`FakeGitHub::add_repository`](super::FakeGitHub::add_repository) hosts
/// it. The repository was created a day before that (earlier when a fixture
/// is older: a day before the oldest).
#[derive(Debug, Clone)]
pub struct Repository {
    pub(crate) owner: String,
    pub(crate) name: String,
    pub(crate) default_branch: String,
    pub(crate) branches: Vec<BranchSpec>,
    pub(crate) private: bool,
    pub(crate) archived: bool,
    pub(crate) workflows: Vec<Workflow>,
    pub(crate) pushed: Option<Duration>,
    pub(crate) past_runs: Vec<PastRun>,
    pub(crate) pulls: Vec<Pull>,
    pub(crate) issues: Vec<IssueSpec>,
    pub(crate) releases: Vec<ReleaseSpec>,
    /// Filler `WatchEvent`s: how many, and how long ago.
    pub(crate) watch_events: Vec<(usize, Duration)>,
}

/// A branch besides a pull request's: its head commit's age.
#[derive(Debug, Clone)]
pub(crate) struct BranchSpec {
    pub(crate) name: String,
    pub(crate) age: Duration,
    pub(crate) protected: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct ReleaseSpec {
    pub(crate) tag: String,
    pub(crate) age: Duration,
    pub(crate) draft: bool,
    pub(crate) prerelease: bool,
}

impl Repository {
    /// A public repository `owner/name` with one branch, `main`.
    ///
    /// # Panics
    /// When `full_name` is not `owner/name`.
    pub fn new(full_name: &str) -> Repository {
        let (owner, name) = full_name
            .split_once('/')
            .filter(|(owner, name)| !owner.is_empty() && !name.is_empty() && !name.contains('/'))
            .unwrap_or_else(|| panic!("a repository is `owner/name`, not `{full_name}`"));
        Repository {
            owner: owner.to_string(),
            name: name.to_string(),
            default_branch: "main".to_string(),
            branches: Vec::new(),
            private: false,
            archived: false,
            workflows: Vec::new(),
            pushed: None,
            past_runs: Vec::new(),
            pulls: Vec::new(),
            issues: Vec::new(),
            releases: Vec::new(),
            watch_events: Vec::new(),
        }
    }

    /// The default branch (`main` unless set); it always exists, its head
    /// commit dated at `pushed_at` unless given by [`Repository::branch_at`]
    /// or [`Repository::protected_branch`].
    pub fn default_branch(mut self, branch: &str) -> Repository {
        self.default_branch = branch.to_string();
        self
    }

    /// Another branch a workflow can be dispatched on, its head commit made
    /// just now.
    pub fn branch(self, branch: &str) -> Repository {
        self.branch_at(branch, Duration::ZERO)
    }

    /// A branch whose head commit is `age` old.
    pub fn branch_at(mut self, branch: &str, age: Duration) -> Repository {
        self.set_branch(branch, age, false);
        self
    }

    /// A protected branch whose head commit is `age` old; it cannot be
    /// deleted.
    pub fn protected_branch(mut self, branch: &str, age: Duration) -> Repository {
        self.set_branch(branch, age, true);
        self
    }

    fn set_branch(&mut self, name: &str, age: Duration, protected: bool) {
        self.branches.retain(|b| b.name != name);
        self.branches.push(BranchSpec {
            name: name.to_string(),
            age,
            protected,
        });
    }

    pub fn private(mut self, private: bool) -> Repository {
        self.private = private;
        self
    }

    pub fn archived(mut self, archived: bool) -> Repository {
        self.archived = archived;
        self
    }

    /// A workflow under `.github/workflows/`.
    pub fn workflow(mut self, workflow: Workflow) -> Repository {
        self.workflows.push(workflow);
        self
    }

    /// `pushed_at` is `age` ago (a day ago unless set).
    pub fn pushed(mut self, age: Duration) -> Repository {
        self.pushed = Some(age);
        self
    }

    /// A workflow run that completed in the past.
    pub fn past_run(mut self, run: PastRun) -> Repository {
        self.past_runs.push(run);
        self
    }

    /// A pull request.
    pub fn pull(mut self, pull: Pull) -> Repository {
        self.pulls.push(pull);
        self
    }

    /// A plain issue.
    pub fn issue(mut self, issue: IssueSpec) -> Repository {
        self.issues.push(issue);
        self
    }

    /// A published release of `tag`, created `age` ago by the owner.
    pub fn release(self, tag: &str, age: Duration) -> Repository {
        self.add_release(tag, age, false, false)
    }

    /// A published prerelease.
    pub fn prerelease(self, tag: &str, age: Duration) -> Repository {
        self.add_release(tag, age, false, true)
    }

    /// A draft release: no `published_at`.
    pub fn draft_release(self, tag: &str, age: Duration) -> Repository {
        self.add_release(tag, age, true, false)
    }

    fn add_release(
        mut self,
        tag: &str,
        age: Duration,
        draft: bool,
        prerelease: bool,
    ) -> Repository {
        self.releases.push(ReleaseSpec {
            tag: tag.to_string(),
            age,
            draft,
            prerelease,
        });
        self
    }

    /// `count` filler `WatchEvent`s, `age` ago, among the repository's
    /// events (to push others out of the 300 GitHub lists).
    pub fn watch_events(mut self, count: usize, age: Duration) -> Repository {
        self.watch_events.push((count, age));
        self
    }

    pub(crate) fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }
}

/// A repository the fake hosts: the setup plus the ids GitHub gives, and
/// what lives on: branches, commits, releases and filler events.
#[derive(Debug)]
pub(crate) struct HostedRepository {
    pub(crate) id: u64,
    pub(crate) owner_id: u64,
    pub(crate) repository: Repository,
    /// Workflow ids, parallel to `repository.workflows`.
    pub(crate) workflow_ids: Vec<u64>,
    pub(crate) created_at: SystemTime,
    pub(crate) pushed_at: SystemTime,
    pub(crate) branches: Vec<HostedBranch>,
    pub(crate) deleted_branches: Vec<DeletedBranch>,
    pub(crate) commits: Vec<HostedCommit>,
    pub(crate) releases: Vec<HostedRelease>,
    pub(crate) watch_events: Vec<WatchEvent>,
}

impl HostedRepository {
    /// The `minimal-repository` object a workflow run embeds.
    pub(crate) fn minimal_json(&self, base: &str) -> Value {
        let repository = &self.repository;
        let api = format!("{base}/repos/{}", repository.full_name());
        let mut object = json!({
            "id": self.id,
            "node_id": format!("R_kgDO{:08X}", self.id),
            "name": repository.name,
            "full_name": repository.full_name(),
            "private": repository.private,
            "owner": self.owner_json(base),
            "html_url": format!("{HTML_ROOT}/{}", repository.full_name()),
            "description": null,
            "fork": false,
            "url": api,
        });
        if let Value::Object(object) = &mut object {
            for (key, path) in URL_TEMPLATES {
                object.insert(format!("{key}_url"), Value::String(format!("{api}{path}")));
            }
        }
        object
    }

    /// The `full-repository` object of `GET /repos/{owner}/{repo}`, with
    /// how many issues and pull requests are open.
    pub(crate) fn full_json(&self, base: &str, open_issues: usize) -> Value {
        let repository = &self.repository;
        let full_name = repository.full_name();
        let created = rfc3339(self.created_at);
        let mut object = self.minimal_json(base);
        let extra = json!({
            "git_url": format!("git://github.com/{full_name}.git"),
            "ssh_url": format!("git@github.com:{full_name}.git"),
            "clone_url": format!("{HTML_ROOT}/{full_name}.git"),
            "svn_url": format!("{HTML_ROOT}/{full_name}"),
            "mirror_url": null,
            "homepage": null,
            "language": null,
            "forks_count": 0,
            "forks": 0,
            "stargazers_count": 0,
            "watchers_count": 0,
            "watchers": 0,
            "size": 108,
        });
        let settings = json!({
            "default_branch": repository.default_branch,
            "open_issues_count": open_issues,
            "open_issues": open_issues,
            "is_template": false,
            "topics": [],
            "has_issues": true,
            "has_projects": true,
            "has_wiki": true,
            "has_pages": false,
            "has_downloads": true,
            "has_discussions": false,
            "archived": repository.archived,
            "disabled": false,
            "visibility": if repository.private { "private" } else { "public" },
            "pushed_at": rfc3339(self.pushed_at),
            "created_at": created,
            "updated_at": created,
            "permissions": {"admin": true, "maintain": true, "push": true, "triage": true, "pull": true},
            "allow_rebase_merge": true,
            "allow_squash_merge": true,
            "allow_merge_commit": true,
            "allow_auto_merge": false,
            "allow_update_branch": false,
            "delete_branch_on_merge": false,
            "use_squash_pr_title_as_default": false,
            "allow_forking": true,
            "web_commit_signoff_required": false,
            "temp_clone_token": "",
            "subscribers_count": 1,
            "network_count": 0,
            "license": null,
        });
        for part in [extra, settings] {
            if let (Value::Object(object), Value::Object(part)) = (&mut object, part) {
                object.extend(part);
            }
        }
        object
    }

    /// The `simple-user` object of the owner.
    pub(crate) fn owner_json(&self, base: &str) -> Value {
        user_json(base, &self.repository.owner, self.owner_id)
    }

    /// The owner as a user of the fake.
    pub(crate) fn owner(&self) -> User {
        User::new(&self.repository.owner, false)
    }
}

/// A made-up but stable 40-hex-digit object id for `seed`.
pub(crate) fn object_id(seed: &str) -> String {
    (0..3u8)
        .map(|round| {
            let mut hasher = DefaultHasher::new();
            (round, seed).hash(&mut hasher);
            format!("{:016x}", hasher.finish())
        })
        .collect::<String>()[..40]
        .to_string()
}
