//! A small GitHub on 127.0.0.1 for tests of weft's GitHub client and of
//! `workflow` steps, answering as GitHub's REST API does for what they use: workflow dispatch (with
//! `return_run_details`, or refusing it with 422 as older GitHub Enterprise
//! does), runs that go queued → in_progress → completed, ETags and 304s,
//! `Link` paging, rate-limit headers, primary and secondary limits, 5xx,
//! `repository_dispatch`, and job logs behind a 302 to another path.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

pub const TOKEN: &str = "ghp_fake_token_for_tests";

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub authorized: bool,
    pub status: u16,
}

#[derive(Debug)]
struct Run {
    id: u64,
    repository: String,
    branch: String,
    title: String,
    created: Instant,
    created_at: String,
    conclusion: String,
    duration: Duration,
}

impl Run {
    fn status(&self) -> &'static str {
        let elapsed = self.created.elapsed();
        if elapsed >= self.duration {
            "completed"
        } else if elapsed >= self.duration / 4 {
            "in_progress"
        } else {
            "queued"
        }
    }

    fn json(&self, base: &str) -> Value {
        let status = self.status();
        json!({
            "id": self.id,
            "name": "deploy",
            "display_title": self.title,
            "status": status,
            "conclusion": if status == "completed" { json!(self.conclusion) } else { Value::Null },
            "event": "workflow_dispatch",
            "head_branch": self.branch,
            "run_number": self.id,
            "created_at": self.created_at,
            "html_url": format!("https://github.example/{}/actions/runs/{}", self.repository, self.id),
            "url": format!("{base}/repos/{}/actions/runs/{}", self.repository, self.id),
        })
    }
}

/// What tests set up and read back.
#[derive(Debug, Default)]
pub struct State {
    runs: Vec<Run>,
    pub seen: Vec<Seen>,
    /// The primary limit is spent until then.
    pub exhausted_until: Option<Instant>,
    /// How the next run ends, and how long it takes.
    pub conclusion: String,
    pub run_duration: Duration,
    /// Refuse `return_run_details` with 422.
    pub no_run_details: bool,
    pub remaining: u64,
    pub reset_in: u64,
    /// The next N requests get a secondary limit (403 + retry-after: 1).
    pub secondary: u32,
    /// The next N requests get 502.
    pub failures: u32,
    /// How many items `GET /repos/o/r/pulls` has, served 2 a page.
    pub pulls: u64,
    pub dispatches: Vec<Value>,
    pub log: String,
}

#[derive(Debug)]
pub struct FakeGitHub {
    pub url: String,
    pub state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

impl Drop for FakeGitHub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl FakeGitHub {
    pub fn start() -> FakeGitHub {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener.set_nonblocking(true).expect("nonblocking");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let state = Arc::new(Mutex::new(State {
            conclusion: "success".into(),
            run_duration: Duration::from_millis(400),
            remaining: 5000,
            reset_in: 3600,
            log: "line 1\nline 2\n".into(),
            ..State::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (serving, stopping, base) = (state.clone(), stop.clone(), url.clone());
        std::thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (state, base) = (serving.clone(), base.clone());
                        std::thread::spawn(move || serve(stream, &state, &base));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        FakeGitHub { url, state, stop }
    }

    pub fn with(&self, change: impl FnOnce(&mut State)) {
        change(&mut self.state.lock().expect("the fake's state"));
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().expect("the fake's state").seen.clone()
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn serve(stream: TcpStream, state: &Mutex<State>, base: &str) {
    let _ = stream.set_nonblocking(false);
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or("/").to_string();
    let mut headers = BTreeMap::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).map_or(true, |n| n == 0) || header == "\r\n" {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
        }
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let authorization = headers.get("authorization").cloned();
    let (status, extra, text) = answer(state, base, &method, &target, &headers, &body);
    let mut state = state.lock().expect("the fake's state");
    let (path, _) = target.split_once('?').unwrap_or((&target, ""));
    state.seen.push(Seen {
        method: method.clone(),
        path: path.to_string(),
        authorized: authorization.is_some(),
        status,
    });
    let counted = status != 304 && !path.starts_with("/_logs");
    if counted && state.remaining > 0 {
        state.remaining -= 1;
    }
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n",
        reason(status),
        text.len()
    );
    if !path.starts_with("/_logs") {
        let (remaining, reset) = match state.exhausted_until {
            Some(until) => (
                0,
                now() + until.saturating_duration_since(Instant::now()).as_secs() + 1,
            ),
            None => (state.remaining, now() + state.reset_in),
        };
        head.push_str(&format!(
            "x-ratelimit-limit: 5000\r\nx-ratelimit-remaining: {remaining}\r\nx-ratelimit-used: {}\r\nx-ratelimit-reset: {reset}\r\nx-ratelimit-resource: core\r\n",
            5000 - remaining.min(5000),
        ));
    }
    drop(state);
    for (name, value) in extra {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let mut stream = stream;
    let _ = stream.write_all(format!("{head}\r\n{text}").as_bytes());
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        302 => "Found",
        304 => "Not Modified",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        422 => "Unprocessable Entity",
        502 => "Bad Gateway",
        _ => "Status",
    }
}

type Answer = (u16, Vec<(String, String)>, String);

fn error(status: u16, message: &str) -> Answer {
    (
        status,
        Vec::new(),
        json!({"message": message, "documentation_url": "https://docs.github.com/rest"})
            .to_string(),
    )
}

fn answer(
    state: &Mutex<State>,
    base: &str,
    method: &str,
    target: &str,
    headers: &BTreeMap<String, String>,
    body: &Value,
) -> Answer {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if path == "/_stats" {
        let state = state.lock().expect("the fake's state");
        let not_modified = state.seen.iter().filter(|s| s.status == 304).count();
        return (
            200,
            Vec::new(),
            json!({"requests": state.seen.len(), "not_modified": not_modified}).to_string(),
        );
    }
    if let Some(job) = path.strip_prefix("/_logs/") {
        // The download URL: no token needed (nor wanted).
        let _ = job;
        let state = state.lock().expect("the fake's state");
        return (
            200,
            vec![("Content-Type".into(), "text/plain".into())],
            state.log.clone(),
        );
    }
    let authorized = headers
        .get("authorization")
        .is_some_and(|v| v == &format!("Bearer {TOKEN}"));
    if !authorized {
        return error(401, "Bad credentials");
    }
    let mut guard = state.lock().expect("the fake's state");
    if guard.failures > 0 {
        guard.failures -= 1;
        return error(502, "Server Error");
    }
    if guard.secondary > 0 {
        guard.secondary -= 1;
        let mut answer = error(
            403,
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
        );
        answer.1.push(("retry-after".into(), "1".into()));
        return answer;
    }
    if let Some(until) = guard.exhausted_until {
        if Instant::now() < until {
            return error(403, "API rate limit exceeded for installation ID 1.");
        }
        guard.exhausted_until = None;
        guard.remaining = 5000;
    }
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method, segments.as_slice()) {
        ("GET", ["repos", owner, repo]) => (
            200,
            Vec::new(),
            json!({"full_name": format!("{owner}/{repo}"), "default_branch": "main", "private": false, "archived": false}).to_string(),
        ),
        ("POST", ["repos", owner, repo, "actions", "workflows", _file, "dispatches"]) => {
            let Some(git_ref) = body["ref"].as_str() else {
                return error(422, "Invalid request.\n\n\"ref\" wasn't supplied.");
            };
            if body.get("return_run_details").is_some() && guard.no_run_details {
                return error(422, "Invalid request.\n\nNo subschema in \"anyOf\" matched.\nreturn_run_details is not a permitted key.");
            }
            let id = 1000 + guard.runs.len() as u64;
            let title = body["inputs"]["correlation_id"]
                .as_str()
                .map_or_else(|| "deploy".to_string(), |c| format!("deploy {c}"));
            let run = Run {
                id,
                repository: format!("{owner}/{repo}"),
                branch: git_ref.to_string(),
                title,
                created: Instant::now(),
                created_at: "2026-12-05T12:00:00Z".to_string(),
                conclusion: guard.conclusion.clone(),
                duration: guard.run_duration,
            };
            let details = json!({
                "workflow_run_id": id,
                "run_url": format!("{base}/repos/{owner}/{repo}/actions/runs/{id}"),
                "html_url": format!("https://github.example/{owner}/{repo}/actions/runs/{id}"),
            });
            guard.dispatches.push(body.clone());
            guard.runs.push(run);
            if body.get("return_run_details").is_some() {
                (200, Vec::new(), details.to_string())
            } else {
                (204, Vec::new(), String::new())
            }
        }
        ("GET", ["repos", _owner, _repo, "actions", "runs"]) => {
            let mut runs: Vec<Value> = guard.runs.iter().rev().map(|r| r.json(base)).collect();
            if let Some(branch) = query.split('&').find_map(|p| p.strip_prefix("branch=")) {
                runs.retain(|r| r["head_branch"] == branch);
            }
            (200, Vec::new(), json!({"total_count": runs.len(), "workflow_runs": runs}).to_string())
        }
        ("GET", ["repos", _owner, _repo, "actions", "runs", id]) => {
            let Some(run) = guard.runs.iter().find(|r| r.id.to_string() == *id) else {
                return error(404, "Not Found");
            };
            let text = run.json(base).to_string();
            // Weak ETag of the content, specific to the token.
            let etag = format!("W/\"{:x}-{}\"", text.len(), run.status().len());
            if headers.get("if-none-match") == Some(&etag) {
                return (304, vec![("ETag".into(), etag)], String::new());
            }
            (200, vec![("ETag".into(), etag)], text)
        }
        ("GET", ["repos", _owner, _repo, "pulls"]) => {
            let page: u64 = query
                .split('&')
                .find_map(|p| p.strip_prefix("page="))
                .and_then(|p| p.parse().ok())
                .unwrap_or(1);
            let total = guard.pulls;
            let last = total.div_ceil(2).max(1);
            let items: Vec<Value> = ((page - 1) * 2 + 1..=(page * 2).min(total))
                .map(|n| json!({"number": n}))
                .collect();
            let mut extra = Vec::new();
            if page < last {
                extra.push((
                    "Link".to_string(),
                    format!("<{base}{path}?per_page=2&page={}>; rel=\"next\", <{base}{path}?per_page=2&page={last}>; rel=\"last\"", page + 1),
                ));
            }
            (200, extra, Value::Array(items).to_string())
        }
        ("GET", ["repos", _owner, _repo, "actions", "jobs", job, "logs"]) => (
            302,
            vec![("Location".into(), format!("{base}/_logs/{job}?sig=short-lived"))],
            String::new(),
        ),
        ("POST", ["repos", _owner, _repo, "dispatches"]) => {
            guard.dispatches.push(body.clone());
            (204, Vec::new(), String::new())
        }
        _ => error(404, "Not Found"),
    }
}
