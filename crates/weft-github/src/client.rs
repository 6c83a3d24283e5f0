//! The client: GitHub's headers, one rate-limit budget, retries on 5xx and
//! on secondary limits, an ETag cache keyed by token, `Link` paging, and
//! job-log redirects followed without the token.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::budget::{Budget, BudgetSnapshot};
use crate::error::GitHubError;
use crate::link;

/// `X-GitHub-Api-Version`.
const API_VERSION: &str = "2022-11-28";
/// The longest single retry delay after a 5xx or a transport failure.
const RETRY_CAP: Duration = Duration::from_secs(10);

/// How to reach GitHub.
#[derive(Debug, Clone)]
pub struct GitHubSettings {
    /// `https://api.github.com`, `https://HOST/api/v3`, or a local fake.
    pub api_url: String,
    pub token: Option<String>,
    /// The variable the token came from, for messages.
    pub token_env: String,
    /// The longest a request waits for a rate limit to pass (default 15 min).
    pub max_wait: Duration,
    /// Retries of a 5xx or a failed connection (default 3).
    pub retries: u32,
}

impl GitHubSettings {
    /// `api_url` and the token from `token_env` (default `GITHUB_TOKEN`).
    pub fn from_env(api_url: Option<&str>, token_env: Option<&str>) -> GitHubSettings {
        let token_env = token_env.unwrap_or("GITHUB_TOKEN").to_string();
        GitHubSettings {
            api_url: api_url
                .unwrap_or("https://api.github.com")
                .trim_end_matches('/')
                .to_string(),
            token: std::env::var(&token_env).ok().filter(|t| !t.is_empty()),
            token_env,
            max_wait: Duration::from_secs(15 * 60),
            retries: 3,
        }
    }
}

/// A GET's answer: fresh, or unchanged since the cached one (a 304, which
/// costs no rate limit).
#[derive(Debug, Clone, PartialEq)]
pub enum Fetched<T> {
    Fresh(T),
    NotModified(T),
}

impl<T> Fetched<T> {
    pub fn into_inner(self) -> T {
        match self {
            Fetched::Fresh(value) | Fetched::NotModified(value) => value,
        }
    }

    pub fn is_fresh(&self) -> bool {
        matches!(self, Fetched::Fresh(_))
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Fetched<U> {
        match self {
            Fetched::Fresh(value) => Fetched::Fresh(f(value)),
            Fetched::NotModified(value) => Fetched::NotModified(f(value)),
        }
    }
}

/// One answer, as far as the client needs it.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) text: String,
    headers: Vec<(String, String)>,
}

impl Answer {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn json(&self, path: &str) -> Result<Value, GitHubError> {
        serde_json::from_str(&self.text).map_err(|error| GitHubError::Decode {
            path: path.to_string(),
            message: error.to_string(),
        })
    }

    /// GitHub's `message` in an error body.
    pub(crate) fn message(&self) -> String {
        serde_json::from_str::<Value>(&self.text)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_string))
            .unwrap_or_else(|| self.text.chars().take(200).collect())
    }
}

/// Cached answers: (token identity, URL) → the answer. ETags are specific
/// to the token that fetched them.
type EtagCache = HashMap<(String, String), Cached>;

#[derive(Debug, Clone)]
struct Cached {
    etag: String,
    /// `Null` for a list page whose caller keeps what it read (only the
    /// ETag is needed then).
    body: Value,
    /// Fetched by this process (not preloaded): worth keeping.
    changed: bool,
}

/// A cached answer, to keep between processes.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedGet {
    pub url: String,
    pub etag: String,
    pub body: Value,
}

/// A GitHub REST client. Cheap to clone; clones share the budget and cache.
#[derive(Debug, Clone)]
pub struct GitHub {
    settings: GitHubSettings,
    agent: ureq::Agent,
    budget: Arc<Budget>,
    cache: Arc<Mutex<EtagCache>>,
    token_identity: String,
}

impl GitHub {
    pub fn new(settings: GitHubSettings) -> GitHub {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_global(Some(Duration::from_secs(60)))
            .user_agent(concat!("weft/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        GitHub {
            token_identity: token_identity(settings.token.as_deref()),
            settings,
            agent,
            budget: Arc::new(Budget::default()),
            cache: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    pub fn settings(&self) -> &GitHubSettings {
        &self.settings
    }

    /// What the shared budget knows now.
    pub fn budget(&self) -> BudgetSnapshot {
        self.budget.snapshot()
    }

    /// How often one of `pollers` may poll without spending the budget
    /// before its reset; never faster than `floor`.
    pub fn poll_interval(&self, floor: Duration, pollers: u32) -> Duration {
        self.budget.poll_interval(floor, pollers)
    }

    /// The web root pages link to: `https://github.com` for the public API,
    /// `https://HOST` for GitHub Enterprise's `https://HOST/api/v3`, else
    /// the API root itself (a local fake).
    pub fn web_root(&self) -> String {
        let api = self.settings.api_url.trim_end_matches('/');
        if api == "https://api.github.com" {
            return "https://github.com".to_string();
        }
        api.strip_suffix("/api/v3").unwrap_or(api).to_string()
    }

    /// Who the token is, for keeping answers between processes: the first
    /// 16 hex digits of its SHA-256 (`anonymous` without a token). Never
    /// the token itself.
    pub fn token_identity(&self) -> &str {
        &self.token_identity
    }

    /// The answers this client fetched (not those it was given with
    /// [`GitHub::preload`]) for its token: what is worth keeping.
    pub fn changed_answers(&self) -> Vec<CachedGet> {
        let Ok(cache) = self.cache.lock() else {
            return Vec::new();
        };
        cache
            .iter()
            .filter(|((token, _), cached)| *token == self.token_identity && cached.changed)
            .map(|((_, url), cached)| CachedGet {
                url: url.clone(),
                etag: cached.etag.clone(),
                body: cached.body.clone(),
            })
            .collect()
    }

    /// Takes answers cached by an earlier process with the same token.
    pub fn preload(&self, answers: impl IntoIterator<Item = CachedGet>) {
        if let Ok(mut cache) = self.cache.lock() {
            for answer in answers {
                cache.insert(
                    (self.token_identity.clone(), answer.url),
                    Cached {
                        etag: answer.etag,
                        body: answer.body,
                        changed: false,
                    },
                );
            }
        }
    }

    /// `path` (`/repos/o/r`) on the API, or an absolute URL as is.
    pub(crate) fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}{path}", self.settings.api_url)
        }
    }

    /// GET with the ETag cache: an unchanged resource is a 304 and the
    /// cached body.
    pub fn get(&self, path: &str) -> Result<Fetched<Value>, GitHubError> {
        Ok(self.conditional(path, true)?.0)
    }

    /// GET without the ETag cache, for what never changes (a commit by sha).
    pub fn get_uncached(&self, path: &str) -> Result<Value, GitHubError> {
        let answer = self.send("GET", &self.url(path), None, None, true)?;
        self.check("GET", path, answer)?.json(path)
    }

    /// Forgets what this client fetched under `prefix` (`/repos/o/r`): a
    /// caller that could not keep what it read must not be told "not
    /// modified" next time.
    pub fn forget(&self, prefix: &str) {
        let url = self.url(prefix);
        let exact = url.clone();
        let nested = format!("{url}/");
        let query = format!("{url}?");
        if let Ok(mut cache) = self.cache.lock() {
            cache.retain(|(_, cached_url), cached| {
                let under = *cached_url == exact
                    || cached_url.starts_with(&nested)
                    || cached_url.starts_with(&query);
                !(under && cached.changed)
            });
        }
    }

    /// [`GitHub::get`], with the `Link: rel="next"` of a fresh answer. Without
    /// `keep_body` only the ETag is cached and a 304 gives `Null`.
    fn conditional(
        &self,
        path: &str,
        keep_body: bool,
    ) -> Result<(Fetched<Value>, Option<String>), GitHubError> {
        let url = self.url(path);
        let key = (self.token_identity.clone(), url.clone());
        let cached = self.cache.lock().ok().and_then(|c| c.get(&key).cloned());
        let usable = cached.filter(|c| !keep_body || !c.body.is_null());
        let condition = usable
            .as_ref()
            .map(|cached| ("If-None-Match", cached.etag.as_str()));
        let answer = self.send("GET", &url, None, condition, true)?;
        if answer.status == 304
            && let Some(cached) = usable
        {
            self.budget.not_modified();
            return Ok((Fetched::NotModified(cached.body), None));
        }
        let answer = self.check("GET", path, answer)?;
        let body = answer.json(path)?;
        if let Some(etag) = answer.header("etag")
            && let Ok(mut cache) = self.cache.lock()
        {
            let kept = if keep_body { body.clone() } else { Value::Null };
            cache.insert(
                key,
                Cached {
                    etag: etag.to_string(),
                    body: kept,
                    changed: true,
                },
            );
        }
        let next = answer
            .header("link")
            .and_then(|l| link::relation(l, "next"));
        Ok((Fetched::Fresh(body), next))
    }

    /// Every item of a paged list, each page asked for with its cached
    /// ETag (pages are numbered, `&page=N`, and full pages hold 100 items):
    /// `NotModified` when every page was unchanged.
    pub fn get_all_cached(
        &self,
        path: &str,
        key: Option<&str>,
    ) -> Result<Fetched<Vec<Value>>, GitHubError> {
        let separator = if path.contains('?') { '&' } else { '?' };
        let mut items = Vec::new();
        let mut fresh = false;
        for page in 1u32.. {
            let url = if page == 1 {
                format!("{path}{separator}per_page=100")
            } else {
                format!("{path}{separator}per_page=100&page={page}")
            };
            let (fetched, _) = self.conditional(&url, true)?;
            fresh |= fetched.is_fresh();
            let list = page_items(fetched.into_inner(), key, path)?;
            let full = list.len() >= 100;
            items.extend(list);
            if !full {
                break;
            }
        }
        Ok(if fresh {
            Fetched::Fresh(items)
        } else {
            Fetched::NotModified(items)
        })
    }

    /// Every item of a paged list, following `Link: rel="next"`. `key` names
    /// the array in an object answer (`workflow_runs`); `None` for a bare array.
    /// Pages hold 100 items unless `path` sets `per_page`.
    pub fn get_all(&self, path: &str, key: Option<&str>) -> Result<Vec<Value>, GitHubError> {
        let mut items = Vec::new();
        // The largest page unless the caller chose a size.
        let first = if path.contains("per_page=") {
            path.to_string()
        } else {
            let separator = if path.contains('?') { '&' } else { '?' };
            format!("{path}{separator}per_page=100")
        };
        let mut next = Some(self.url(&first));
        while let Some(url) = next.take() {
            let answer = self.send("GET", &url, None, None, true)?;
            let answer = self.check("GET", path, answer)?;
            let body = answer.json(path)?;
            let page = match key {
                Some(key) => body[key].clone(),
                None => body,
            };
            match page {
                Value::Array(page) => items.extend(page),
                other => {
                    return Err(GitHubError::Decode {
                        path: path.to_string(),
                        message: format!("expected a list, got {}", kind_of(&other)),
                    });
                }
            }
            next = answer
                .header("link")
                .and_then(|l| link::relation(l, "next"));
        }
        Ok(items)
    }

    /// A paged list whose first page is asked for with its cached ETag, for
    /// a caller that keeps what it read: `NotModified` with no items when
    /// nothing changed (no further page is asked for, and only the ETag is
    /// kept), or the pages from the first one on for as long as `more` says
    /// so after each page (newest-first lists stop at what an earlier
    /// collection saw; `more` sees the last page). `key` as for
    /// [`GitHub::get_all`].
    pub fn get_pages(
        &self,
        path: &str,
        key: Option<&str>,
        mut more: impl FnMut(&[Value]) -> bool,
    ) -> Result<Fetched<Vec<Value>>, GitHubError> {
        let (first, mut next) = self.conditional(path, false)?;
        let Fetched::Fresh(first) = first else {
            return Ok(Fetched::NotModified(Vec::new()));
        };
        let mut items = page_items(first, key, path)?;
        let mut last = items.len();
        while more(&items[items.len() - last..]) {
            let Some(url) = next.take() else { break };
            let answer = self.send("GET", &url, None, None, true)?;
            let answer = self.check("GET", path, answer)?;
            let page = page_items(answer.json(path)?, key, path)?;
            let done = page.is_empty();
            last = page.len();
            items.extend(page);
            if done {
                break;
            }
            next = answer
                .header("link")
                .and_then(|l| link::relation(l, "next"));
        }
        Ok(Fetched::Fresh(items))
    }

    /// POST a JSON body; the status and the answer's JSON (if any). 4xx
    /// answers are errors except those in `accept`.
    pub(crate) fn post(
        &self,
        path: &str,
        body: &Value,
        accept: &[u16],
    ) -> Result<(u16, Option<Value>), GitHubError> {
        self.write("POST", path, body, accept, true)
    }

    /// Sends a JSON body with `method`; the status and the answer's JSON (if
    /// any). 4xx answers are errors except those in `accept`. Without
    /// `retry`, a 5xx or a lost connection is not sent again: for a write
    /// that may have happened anyway, which the caller checks before trying
    /// again.
    pub(crate) fn write(
        &self,
        method: &str,
        path: &str,
        body: &Value,
        accept: &[u16],
        retry: bool,
    ) -> Result<(u16, Option<Value>), GitHubError> {
        let url = self.url(path);
        let retries = if retry { self.settings.retries } else { 0 };
        let answer = self.send_retrying(method, &url, Some(body), None, true, retries)?;
        if accept.contains(&answer.status) {
            let value = serde_json::from_str(&answer.text).ok();
            return Ok((answer.status, value));
        }
        let answer = self.check(method, path, answer)?;
        let value = serde_json::from_str(&answer.text).ok();
        Ok((answer.status, value))
    }

    /// DELETE `path`; the status. 4xx answers are errors except those in
    /// `accept`.
    pub(crate) fn delete(&self, path: &str, accept: &[u16]) -> Result<u16, GitHubError> {
        let url = self.url(path);
        let answer = self.send("DELETE", &url, None, None, true)?;
        if accept.contains(&answer.status) {
            return Ok(answer.status);
        }
        Ok(self.check("DELETE", path, answer)?.status)
    }

    /// A job's log: GitHub answers 302 to a short-lived URL, fetched without
    /// the token (it may be on another host). `None` while the log is not
    /// there (404) or after it expired (410).
    pub fn job_log(&self, repository: &str, job: u64) -> Result<Option<String>, GitHubError> {
        let path = format!("/repos/{repository}/actions/jobs/{job}/logs");
        let answer = self.send("GET", &self.url(&path), None, None, true)?;
        match answer.status {
            302 | 301 | 303 | 307 => {
                let location = answer
                    .header("location")
                    .ok_or_else(|| GitHubError::Decode {
                        path: path.clone(),
                        message: "a redirect without a Location".to_string(),
                    })?;
                // The signed URL is a secret for its short life: never in
                // an error.
                let target = self
                    .send("GET", location, None, None, false)
                    .map_err(|error| match error {
                        GitHubError::ServerError {
                            method,
                            status,
                            attempts,
                            ..
                        } => GitHubError::ServerError {
                            method,
                            path: "the job log's download URL".to_string(),
                            status,
                            attempts,
                        },
                        GitHubError::Unreachable { message, .. } => GitHubError::Unreachable {
                            url: "the job log's download URL".to_string(),
                            message: message.replace(location, "<the download URL>"),
                        },
                        other => other,
                    })?;
                match target.status {
                    200 => Ok(Some(target.text)),
                    404 | 410 => Ok(None),
                    status => Err(GitHubError::Rejected {
                        method: "GET".to_string(),
                        path: "the job log's download URL".to_string(),
                        status,
                        message: target.message(),
                    }),
                }
            }
            404 | 410 => Ok(None),
            _ => {
                let answer = self.check("GET", &path, answer)?;
                Ok(Some(answer.text))
            }
        }
    }

    /// Maps an error status to its error.
    pub(crate) fn check(
        &self,
        method: &str,
        path: &str,
        answer: Answer,
    ) -> Result<Answer, GitHubError> {
        let status = answer.status;
        if (200..400).contains(&status) {
            return Ok(answer);
        }
        let message = answer.message();
        Err(match status {
            401 => GitHubError::Unauthorized {
                status,
                message,
                token_env: self.settings.token_env.clone(),
            },
            403 => GitHubError::Forbidden {
                method: method.to_string(),
                path: path.to_string(),
                status,
                message,
                permission: answer
                    .header("x-accepted-github-permissions")
                    .map(str::to_string),
            },
            404 => GitHubError::NotFound {
                method: method.to_string(),
                path: path.to_string(),
            },
            _ => GitHubError::Rejected {
                method: method.to_string(),
                path: path.to_string(),
                status,
                message,
            },
        })
    }

    /// Sends one request through the budget, retrying transport failures,
    /// 5xx answers and rate limits within the longest wait.
    pub(crate) fn send(
        &self,
        method: &str,
        url: &str,
        body: Option<&Value>,
        condition: Option<(&str, &str)>,
        with_token: bool,
    ) -> Result<Answer, GitHubError> {
        self.send_retrying(
            method,
            url,
            body,
            condition,
            with_token,
            self.settings.retries,
        )
    }

    /// [`GitHub::send`] with its own number of retries of a 5xx or a failed
    /// connection (rate limits are always waited out: GitHub did nothing).
    fn send_retrying(
        &self,
        method: &str,
        url: &str,
        body: Option<&Value>,
        condition: Option<(&str, &str)>,
        with_token: bool,
        retries: u32,
    ) -> Result<Answer, GitHubError> {
        let mut attempt = 0u32;
        loop {
            let wait = self.budget.wait_before_request(self.settings.max_wait)?;
            if !wait.is_zero() {
                tracing::info!(?wait, "waiting for GitHub's rate limit");
                std::thread::sleep(wait);
            }
            attempt += 1;
            self.budget.sent();
            let result = self.once(method, url, body, condition, with_token);
            let answer = match result {
                Ok(answer) => answer,
                Err(message) if attempt <= retries => {
                    tracing::debug!(%message, attempt, "retrying after a transport failure");
                    std::thread::sleep(backoff(attempt));
                    continue;
                }
                Err(message) => {
                    return Err(GitHubError::Unreachable {
                        url: self.settings.api_url.clone(),
                        message,
                    });
                }
            };
            if with_token {
                self.budget
                    .observe(&|name| answer.header(name).map(str::to_string));
            }
            if let Some(limit) = rate_limited(&answer) {
                match limit {
                    Limit::Secondary(retry_after) => self.budget.back_off(retry_after),
                    // The budget now says remaining 0 until the reset.
                    Limit::Primary => {}
                }
                continue;
            }
            if answer.status >= 500 {
                if attempt <= retries {
                    std::thread::sleep(backoff(attempt));
                    continue;
                }
                return Err(GitHubError::ServerError {
                    method: method.to_string(),
                    path: url.to_string(),
                    status: answer.status,
                    attempts: attempt,
                });
            }
            return Ok(answer);
        }
    }

    fn once(
        &self,
        method: &str,
        url: &str,
        body: Option<&Value>,
        condition: Option<(&str, &str)>,
        with_token: bool,
    ) -> Result<Answer, String> {
        let mut request = ureq::http::Request::builder()
            .method(method)
            .uri(url)
            .header("Accept", "application/vnd.github+json")
            .header("X-GitHub-Api-Version", API_VERSION);
        if with_token && let Some(token) = &self.settings.token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        if let Some((name, value)) = condition {
            request = request.header(name, value);
        }
        let result = match body {
            Some(body) => {
                let request = request
                    .header("Content-Type", "application/json")
                    .body(body.to_string())
                    .map_err(|e| e.to_string())?;
                self.agent.run(request)
            }
            None => {
                let request = request.body(()).map_err(|e| e.to_string())?;
                self.agent.run(request)
            }
        };
        let mut response = result.map_err(|error| error.to_string())?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_string())))
            .collect();
        let text = response
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_string()
            .unwrap_or_default();
        Ok(Answer {
            status,
            text,
            headers,
        })
    }
}

enum Limit {
    Primary,
    Secondary(Duration),
}

/// Whether an answer is a rate limit, and which: a 403 or 429 with
/// `retry-after` or a rate-limit message is a limit, not a missing permission.
fn rate_limited(answer: &Answer) -> Option<Limit> {
    if !matches!(answer.status, 403 | 429) {
        return None;
    }
    if let Some(seconds) = answer
        .header("retry-after")
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        return Some(Limit::Secondary(Duration::from_secs(seconds.max(1))));
    }
    let message = answer.message().to_ascii_lowercase();
    if answer.header("x-ratelimit-remaining") == Some("0") && message.contains("rate limit") {
        return Some(Limit::Primary);
    }
    if message.contains("secondary rate limit") || message.contains("abuse") {
        // GitHub asks for at least a minute when it names no time.
        return Some(Limit::Secondary(Duration::from_secs(60)));
    }
    None
}

fn backoff(attempt: u32) -> Duration {
    let cap = Duration::from_millis(250)
        .saturating_mul(1 << attempt.min(8))
        .min(RETRY_CAP);
    Duration::from_millis(fastrand::u64(
        0..=u64::try_from(cap.as_millis()).unwrap_or(10_000),
    ))
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// The first 16 hex digits of the token's SHA-256.
fn token_identity(token: Option<&str>) -> String {
    let Some(token) = token else {
        return "anonymous".to_string();
    };
    let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    digest.as_ref()[..8]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The items of one page: the array itself, or the one under `key`.
fn page_items(body: Value, key: Option<&str>, path: &str) -> Result<Vec<Value>, GitHubError> {
    let page = match key {
        Some(key) => body[key].clone(),
        None => body,
    };
    match page {
        Value::Array(page) => Ok(page),
        other => Err(GitHubError::Decode {
            path: path.to_string(),
            message: format!("expected a list, got {}", kind_of(&other)),
        }),
    }
}
