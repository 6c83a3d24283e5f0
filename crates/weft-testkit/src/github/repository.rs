//! A repository as a test sets it up, and its JSON: the `full-repository`
//! object of `GET /repos/{owner}/{repo}` and the `minimal-repository` one a
//! workflow run embeds.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::SystemTime;

use serde_json::{Value, json};

use super::clock::rfc3339;
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

/// A repository on the fake: `owner/name`, its branches and workflows.
#[derive(Debug, Clone)]
pub struct Repository {
    pub(crate) owner: String,
    pub(crate) name: String,
    pub(crate) default_branch: String,
    pub(crate) branches: Vec<String>,
    pub(crate) private: bool,
    pub(crate) archived: bool,
    pub(crate) workflows: Vec<Workflow>,
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
        }
    }

    /// The default branch (`main` unless set); it always exists.
    pub fn default_branch(mut self, branch: &str) -> Repository {
        self.default_branch = branch.to_string();
        self
    }

    /// Another branch a workflow can be dispatched on.
    pub fn branch(mut self, branch: &str) -> Repository {
        self.branches.push(branch.to_string());
        self
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

    pub(crate) fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    pub(crate) fn has_branch(&self, branch: &str) -> bool {
        self.default_branch == branch || self.branches.iter().any(|b| b == branch)
    }
}

/// A repository the fake hosts: the setup plus the ids GitHub gives.
#[derive(Debug)]
pub(crate) struct HostedRepository {
    pub(crate) id: u64,
    pub(crate) owner_id: u64,
    pub(crate) repository: Repository,
    /// Workflow ids, parallel to `repository.workflows`.
    pub(crate) workflow_ids: Vec<u64>,
    pub(crate) created_at: SystemTime,
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

    /// The `full-repository` object of `GET /repos/{owner}/{repo}`.
    pub(crate) fn full_json(&self, base: &str) -> Value {
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
            "open_issues_count": 0,
            "open_issues": 0,
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
            "pushed_at": created,
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
}

/// A `simple-user` object.
pub(crate) fn user_json(base: &str, login: &str, id: u64) -> Value {
    let api = format!("{base}/users/{login}");
    json!({
        "login": login,
        "id": id,
        "node_id": format!("U_kgDO{id:08X}"),
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{id}?v=4"),
        "gravatar_id": "",
        "url": api,
        "html_url": format!("{HTML_ROOT}/{login}"),
        "followers_url": format!("{api}/followers"),
        "following_url": format!("{api}/following{{/other_user}}"),
        "gists_url": format!("{api}/gists{{/gist_id}}"),
        "starred_url": format!("{api}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{api}/subscriptions"),
        "organizations_url": format!("{api}/orgs"),
        "repos_url": format!("{api}/repos"),
        "events_url": format!("{api}/events{{/privacy}}"),
        "received_events_url": format!("{api}/received_events"),
        "type": "User",
        "user_view_type": "public",
        "site_admin": false,
    })
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
