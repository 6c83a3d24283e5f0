//! [`FakeGitHub`]: the server on its own thread and runtime, what tests set
//! up on it and what they read back.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use axum::http::StatusCode;
use tokio::sync::watch;

use super::events::WatchEvent;
use super::rate_limit::{SecondaryLimit, ServerErrors};
use super::repository::Repository;
use super::router::router;
use super::state::{
    Denial, DispatchedRun, RecordedRequest, RepositoryDispatch, Shared, State, lock,
};
use super::stored_issue::StoredIssue;
use super::views::{Issue, PullState};
use super::workflow::Workflow;

/// The token a new fake accepts.
pub const DEFAULT_TOKEN: &str = "ghp_weftFakeGitHub0000000000000000000000";

/// How long a graceful stop may wait for requests in flight.
const STOP_PATIENCE: Duration = Duration::from_secs(2);

/// A fake GitHub REST API on `127.0.0.1`, stopped when dropped.
///
/// ```no_run
/// use std::time::Duration;
/// use weft_testkit::github::{Conclusion, FakeGitHub, Repository, Workflow};
///
/// let github = FakeGitHub::start();
/// github.add_repository(
///     Repository::new("octo/app").workflow(
///         Workflow::new("deploy.yml")
///             .duration(Duration::from_millis(200))
///             .conclusion(Conclusion::Failure),
///     ),
/// );
/// // Point the client at `github.url()` with `github.token()`.
/// ```
#[derive(Debug)]
pub struct FakeGitHub {
    url: String,
    shared: Shared,
    stop: Option<watch::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FakeGitHub {
    /// Binds `127.0.0.1:0` and serves on a thread of its own. It hosts no
    /// repository yet and accepts [`DEFAULT_TOKEN`].
    ///
    /// # Panics
    /// When it cannot bind or start its runtime.
    pub fn start() -> FakeGitHub {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("make the listener non-blocking");
        let address = listener.local_addr().expect("the listener's address");
        let url = format!("http://{address}");
        let shared = Arc::new(Mutex::new(State::new(url.clone(), DEFAULT_TOKEN)));
        let app = router(shared.clone());
        let (stop, mut stopped) = watch::channel(());
        let thread = std::thread::Builder::new()
            .name("fake-github".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime for the fake GitHub");
                runtime.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
                    let mut signal = stopped.clone();
                    let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                        let _ = signal.changed().await;
                    });
                    tokio::select! {
                        _ = serve => {}
                        () = async {
                            let _ = stopped.changed().await;
                            tokio::time::sleep(STOP_PATIENCE).await;
                        } => {}
                    }
                });
            })
            .expect("spawn the fake GitHub's thread");
        FakeGitHub {
            url,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The API root, `http://127.0.0.1:PORT`, as `https://api.github.com`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The token accepted from the start, [`DEFAULT_TOKEN`].
    pub fn token(&self) -> &str {
        DEFAULT_TOKEN
    }

    /// Accepts another token too; ETags differ per token.
    pub fn accept_token(&self, token: &str) {
        lock(&self.shared).tokens.push(token.to_string());
    }

    /// Hosts `repository`, replacing one of the same name (with its issues,
    /// pull requests and past runs). The ages of its fixtures count back
    /// from now.
    ///
    /// # Panics
    /// When two of its pull requests and issues share a number.
    pub fn add_repository(&self, repository: Repository) {
        lock(&self.shared).add_repository(repository);
    }

    /// Adds a workflow to a hosted repository, replacing one of the same
    /// file; runs dispatched from then on follow it.
    ///
    /// # Panics
    /// When `repository` (`owner/name`) is not hosted.
    pub fn add_workflow(&self, repository: &str, workflow: Workflow) {
        assert!(
            lock(&self.shared).add_workflow(repository, workflow),
            "the fake GitHub hosts no repository `{repository}`"
        );
    }

    /// Whether workflow dispatch takes `return_run_details` (the default);
    /// when not, a body with the key gets 422 as on older GitHub Enterprise.
    pub fn set_run_details_supported(&self, supported: bool) {
        lock(&self.shared).run_details_supported = supported;
    }

    /// The primary budget per window (5000 by default).
    pub fn set_rate_limit(&self, limit: u64) {
        lock(&self.shared).core.set_limit(limit);
    }

    /// Leaves `remaining` requests of the primary budget, refilled
    /// `reset_in` from now (rounded up to the second `x-ratelimit-reset`
    /// announces). With 0, requests get 403 `API rate limit exceeded` until
    /// then.
    pub fn set_rate_limit_remaining(&self, remaining: u64, reset_in: Duration) {
        lock(&self.shared)
            .core
            .set_remaining(remaining, reset_in, SystemTime::now());
    }

    /// Spends the primary budget until `reset_in` from now.
    pub fn exhaust_rate_limit(&self, reset_in: Duration) {
        self.set_rate_limit_remaining(0, reset_in);
    }

    /// The next `requests` authenticated requests hit a secondary rate limit:
    /// `status` (403 or 429) with `retry-after` in seconds.
    ///
    /// # Panics
    /// When `status` is not an HTTP status.
    pub fn secondary_rate_limit(&self, requests: u32, retry_after: Duration, status: u16) {
        let status = StatusCode::from_u16(status).expect("an HTTP status");
        lock(&self.shared).secondary = (requests > 0).then_some(SecondaryLimit {
            requests,
            retry_after,
            status,
        });
    }

    /// The next `requests` authenticated requests to `path` (exactly, no
    /// query) answer `status`, say 502 or 503.
    ///
    /// # Panics
    /// When `status` is not an HTTP status.
    pub fn fail_next(&self, path: &str, requests: u32, status: u16) {
        let status = StatusCode::from_u16(status).expect("an HTTP status");
        let mut state = lock(&self.shared);
        state.server_errors.retain(|e| e.path != path);
        if requests > 0 {
            state.server_errors.push(ServerErrors {
                path: path.to_string(),
                requests,
                status,
            });
        }
    }

    /// How long a log download URL works before answering 410 (60 s by
    /// default, as GitHub's).
    pub fn set_log_url_lifetime(&self, lifetime: Duration) {
        lock(&self.shared).log_url_lifetime = lifetime;
    }

    /// Sets the job log of run `run_id`.
    ///
    /// # Panics
    /// When there is no such run.
    pub fn set_run_log(&self, run_id: u64, text: &str) {
        let mut state = lock(&self.shared);
        let run = state.runs.iter_mut().find(|r| r.id == run_id);
        run.unwrap_or_else(|| panic!("the fake GitHub has no run {run_id}"))
            .log = text.to_string();
    }

    /// The runs dispatched so far, oldest first, with their inputs (not a
    /// fixture's past runs).
    pub fn runs(&self) -> Vec<DispatchedRun> {
        let state = lock(&self.shared);
        let now = Instant::now();
        state
            .runs
            .iter()
            .filter(|r| !r.past)
            .map(|r| state.dispatched_run(r, now))
            .collect()
    }

    /// The `repository_dispatch` events accepted so far, oldest first.
    pub fn repository_dispatches(&self) -> Vec<RepositoryDispatch> {
        lock(&self.shared).repository_dispatches.clone()
    }

    /// The primary budget left.
    pub fn rate_limit_remaining(&self) -> u64 {
        lock(&self.shared).core.remaining()
    }

    /// How many requests the fake has answered, log downloads included.
    pub fn requests(&self) -> usize {
        lock(&self.shared).requests.len()
    }

    /// How many requests went to `path` (exactly, without query).
    pub fn requests_to(&self, path: &str) -> usize {
        let state = lock(&self.shared);
        state.requests.iter().filter(|r| r.path == path).count()
    }

    /// How many conditional requests were answered 304.
    pub fn not_modified(&self) -> usize {
        let state = lock(&self.shared);
        state.requests.iter().filter(|r| r.status == 304).count()
    }

    /// The issues (not pull requests) of every hosted repository: a
    /// repository's fixture issues in the order given, then those opened
    /// through the API in the order they were opened.
    pub fn issues(&self) -> Vec<Issue> {
        lock(&self.shared)
            .issues
            .iter()
            .filter(|i| !i.is_pull())
            .map(StoredIssue::view)
            .collect()
    }

    /// The pull requests of `repository` (`owner/name`), by number.
    pub fn pulls(&self, repository: &str) -> Vec<PullState> {
        let state = lock(&self.shared);
        let mut pulls: Vec<PullState> = state
            .issues
            .iter()
            .filter(|i| i.repository.eq_ignore_ascii_case(repository))
            .filter_map(StoredIssue::pull_view)
            .collect();
        pulls.sort_by_key(|p| p.number);
        pulls
    }

    /// The branches `repository` (`owner/name`) has now, by name; empty
    /// when it is not hosted.
    pub fn branches(&self, repository: &str) -> Vec<String> {
        let state = lock(&self.shared);
        let Some((owner, name)) = repository.split_once('/') else {
            return Vec::new();
        };
        let mut names: Vec<String> = state
            .repository(owner, name)
            .map(|r| r.branches.iter().map(|b| b.name.clone()).collect())
            .unwrap_or_default();
        names.sort();
        names
    }

    /// Adds `count` filler `WatchEvent`s, `age` ago, to a hosted
    /// repository's events.
    ///
    /// # Panics
    /// When `repository` (`owner/name`) is not hosted.
    pub fn add_events(&self, repository: &str, count: usize, age: Duration) {
        let mut state = lock(&self.shared);
        let at = super::clock::ago(SystemTime::now(), age);
        let ids: Vec<u64> = (0..count).map(|_| state.next_number()).collect();
        let hosted = repository
            .split_once('/')
            .and_then(|(owner, name)| state.repository_mut(owner, name))
            .unwrap_or_else(|| panic!("the fake GitHub hosts no repository `{repository}`"));
        hosted
            .watch_events
            .extend(ids.into_iter().map(|id| WatchEvent {
                id,
                login: format!("stargazer-{id}"),
                at,
            }));
    }

    /// Requests whose path starts with `path_prefix` answer 403 `Resource
    /// not accessible by personal access token` with
    /// `x-accepted-github-permissions: {permission}` (say `actions=read`),
    /// as GitHub answers a fine-grained token that lacks the permission.
    pub fn deny(&self, path_prefix: &str, permission: &str) {
        let mut state = lock(&self.shared);
        state.denials.retain(|d| d.prefix != path_prefix);
        state.denials.push(Denial {
            prefix: path_prefix.to_string(),
            permission: permission.to_string(),
        });
    }

    /// Lifts [`FakeGitHub::deny`] for `path_prefix`.
    pub fn allow(&self, path_prefix: &str) {
        lock(&self.shared)
            .denials
            .retain(|d| d.prefix != path_prefix);
    }

    /// Every request answered so far, oldest first.
    pub fn request_log(&self) -> Vec<RecordedRequest> {
        lock(&self.shared).requests.clone()
    }
}

impl Drop for FakeGitHub {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
