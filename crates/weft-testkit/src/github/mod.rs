//! A fake of GitHub's REST API on 127.0.0.1 that speaks the real wire format
//! (status codes, headers and JSON bodies as GitHub's REST documentation and
//! OpenAPI description give them), for tests of weft's GitHub client, of
//! `weft deploy`'s workflow steps and of `weft monitor`.
//!
//! [`FakeGitHub`] serves workflow dispatch (with or without
//! `return_run_details`), `repository_dispatch`, workflow runs that go
//! `queued` → `in_progress` → `completed` on a configured timing, their jobs
//! and job logs (behind a 302 to a short-lived URL that needs no token), and
//! repositories, and issues with their comments (listed by state and
//! labels, opened, closed); with ETags and 304s, `Link` paging, rate-limit headers,
//! primary and secondary rate limits, injected 5xx answers and missing
//! permissions that tests switch on. [`OpenApiDocument`] checks JSON bodies
//! against GitHub's published OpenAPI description.
//!
//! For `weft monitor`, a [`Repository`] also comes with a past: workflow
//! runs that completed ([`PastRun`]), pull requests ([`Pull`]) and issues
//! ([`IssueSpec`]) with what happened on them ([`Activity`]), branches with
//! old head commits, releases and filler events. The fake serves them
//! through an owner's repository list, the repository's events, pull
//! requests, issues, comments, timelines, labels, branches, commits and
//! releases, and lets the monitor label, comment on and close pull
//! requests and delete branches.

mod actions;
mod activity;
mod branches;
mod clock;
mod commit;
mod conversation;
mod error;
mod events;
mod fake;
mod filter;
mod gate;
mod hosting;
mod issue_spec;
mod issues;
mod labels;
mod logs;
mod openapi;
mod paging;
mod past_run;
mod pull;
mod pulls;
mod rate_limit;
mod releases;
mod repos;
mod repository;
mod router;
mod run;
mod state;
mod stored_issue;
mod timeline;
mod user;
mod views;
mod workflow;

pub use activity::Activity;
pub use fake::{DEFAULT_TOKEN, FakeGitHub};
pub use issue_spec::IssueSpec;
pub use openapi::{OpenApiDocument, OpenApiError, SchemaMismatch};
pub use past_run::PastRun;
pub use pull::Pull;
pub use repository::Repository;
pub use state::{DispatchedRun, RecordedRequest, RepositoryDispatch};
pub use views::{Issue, PullState};
pub use workflow::{Conclusion, Workflow};
