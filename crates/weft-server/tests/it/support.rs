//! The harness: the router on a fresh SQLite store for `oneshot` calls, a
//! real server on 127.0.0.1 in a background runtime, raw HTTP/1.1 over a
//! `TcpStream` (for long polls that hang up and for the event stream), the
//! seed's two-repository workspace, and polling with a deadline.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;
use weft_server::{AppState, Scope, ServeSettings, Token};
use weft_store::{AlertThresholds, Coordinator, CoordinatorMode, LeasePolicy, Store};
use weft_testkit::Workspace;

pub(crate) const READ: &str = "r3ad-secret-0f-the-reader";
pub(crate) const WRITE: &str = "wr1te-secret-0f-the-writer";
pub(crate) const ADMIN: &str = "adm1n-secret-0f-the-admin";

/// Three tokens, one per scope, named after it.
pub(crate) fn tokens() -> Vec<Token> {
    [
        ("reader", READ, Scope::Read),
        ("writer", WRITE, Scope::Write),
        ("admin", ADMIN, Scope::Admin),
    ]
    .into_iter()
    .map(|(name, secret, scope)| Token {
        name: name.to_owned(),
        secret: secret.to_owned(),
        scopes: vec![scope],
    })
    .collect()
}

/// Loopback on a port the system picks, no tokens, the default body limit.
pub(crate) fn settings(workspace: &Path) -> ServeSettings {
    ServeSettings {
        listen: "127.0.0.1:0".parse().unwrap(),
        tokens: Vec::new(),
        open_health: false,
        body_limit: ServeSettings::DEFAULT_BODY_LIMIT,
        tls: None,
        workspace: workspace.to_path_buf(),
    }
}

/// The store in `directory`, opened (and created) as the server does.
pub(crate) async fn open_store(directory: &Path) -> Store {
    let url = format!("sqlite://{}", directory.join("state.db").display());
    Store::open(&url, LeasePolicy::default()).await.unwrap()
}

/// A coordinator in server mode on a fresh SQLite file in `directory`.
async fn coordinator(directory: &Path) -> Coordinator {
    let store = open_store(directory).await;
    Coordinator::start(store, CoordinatorMode::Server, AlertThresholds::default())
        .await
        .unwrap()
}

/// An answer: status, headers and the body as text.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) text: String,
}

impl Reply {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| {
            panic!(
                "HTTP {} body is not JSON ({e}): {:?}",
                self.status, self.text
            )
        })
    }

    /// Asserts the `{error: {code, message, details}}` shape and the status,
    /// and returns the error object.
    pub(crate) fn error(&self, status: u16, code: &str) -> Value {
        assert_eq!(self.status.as_u16(), status, "{}", self.text);
        let content_type = self
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(
            content_type.starts_with("application/json"),
            "HTTP {status} answered with content type {content_type:?}: {:?}",
            self.text
        );
        let body = self.json();
        let error = &body["error"];
        assert_eq!(error["code"], code, "{body}");
        assert!(
            error["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{body}"
        );
        assert!(error.get("details").is_some(), "{body}");
        assert_eq!(
            body.as_object().map(|o| o.len()),
            Some(1),
            "only `error` at the top: {body}"
        );
        error.clone()
    }
}

/// The router over a fresh SQLite store, called with `oneshot`.
#[derive(Debug)]
pub(crate) struct Harness {
    pub(crate) state: AppState,
    _directory: tempfile::TempDir,
}

impl Harness {
    pub(crate) async fn new(configure: impl FnOnce(&mut ServeSettings)) -> Harness {
        let directory = tempfile::tempdir().unwrap();
        let mut settings = settings(directory.path());
        configure(&mut settings);
        let state = AppState::new(coordinator(directory.path()).await, settings);
        Harness {
            state,
            _directory: directory,
        }
    }

    pub(crate) async fn call(&self, request: Request<Body>) -> Reply {
        let response = weft_server::router(self.state.clone())
            .oneshot(request)
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        // An event stream never ends: its head is the answer.
        let streaming = headers
            .get("content-type")
            .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
        let bytes = if streaming {
            axum::body::Bytes::new()
        } else {
            axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap()
        };
        Reply {
            status,
            headers,
            text: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    /// A request with an optional bearer token and an optional JSON body.
    pub(crate) async fn send(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Reply {
        let mut builder = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        let request = match body {
            Some(body) => builder
                .header("content-type", "application/json")
                .body(Body::from(body.to_string())),
            None => builder.body(Body::empty()),
        };
        self.call(request.unwrap()).await
    }

    /// A request whose body is sent as it is, with this content type.
    pub(crate) async fn send_raw(
        &self,
        method: Method,
        uri: &str,
        content_type: &str,
        body: impl Into<Body>,
    ) -> Reply {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", content_type)
            .body(body.into())
            .unwrap();
        self.call(request).await
    }

    pub(crate) async fn get(&self, uri: &str) -> Reply {
        self.send(Method::GET, uri, None, None).await
    }

    pub(crate) async fn post(&self, uri: &str, body: &Value) -> Reply {
        self.send(Method::POST, uri, None, Some(body)).await
    }

    /// Everything a bad request must leave alone: leases, resources with
    /// their queues, the store's counts, the newest event and the
    /// operations.
    pub(crate) async fn snapshot(&self) -> Value {
        let store = self.state.coordinator.store();
        let stats = store.stats().await.unwrap();
        serde_json::json!({
            "leases": self.get("/api/v1/leases").await.json(),
            "resources": self.get("/api/v1/resources").await.json(),
            "stats": stats,
            "last_event": store.last_event_id().await.unwrap(),
            "operations": self.get("/api/v1/operations?limit=10000").await.json(),
        })
    }
}

/// A real server on 127.0.0.1 in its own runtime on a background thread;
/// dropping it shuts it down gracefully and waits.
#[derive(Debug)]
pub(crate) struct TestServer {
    pub(crate) address: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    /// Holds `state.db`.
    directory: Option<tempfile::TempDir>,
}

impl TestServer {
    pub(crate) fn start(configure: impl FnOnce(&mut ServeSettings) + Send + 'static) -> TestServer {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().to_path_buf();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready, bound) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let mut settings = settings(&path);
                configure(&mut settings);
                let state = AppState::new(coordinator(&path).await, settings);
                let shutdown = async move {
                    let _ = stopped.await;
                };
                weft_server::serve(state, shutdown, move |address| {
                    ready.send(address).unwrap();
                })
                .await
                .unwrap();
            });
            runtime.shutdown_timeout(Duration::from_secs(5));
        });
        let address = bound
            .recv_timeout(Duration::from_secs(60))
            .expect("the server did not start listening within 60 s");
        TestServer {
            address,
            stop: Some(stop),
            thread: Some(thread),
            directory: Some(directory),
        }
    }

    /// Shuts down gracefully, waits, and hands over the store's directory.
    pub(crate) fn stop(mut self) -> tempfile::TempDir {
        self.shut_down();
        self.directory.take().unwrap()
    }

    fn shut_down(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let joined = thread.join();
            // A failing test is already unwinding: do not panic twice.
            if !std::thread::panicking() {
                joined.unwrap();
            }
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The directory of the server's `state.db`.
    pub(crate) fn directory(&self) -> &Path {
        self.directory.as_ref().unwrap().path()
    }

    pub(crate) fn client(&self, token: Option<&str>) -> weft_client::Client {
        weft_client::Client::new(&self.url(), token.map(str::to_owned))
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// Polls `check` every 20 ms until it answers, panicking after `timeout`.
pub(crate) fn eventually<T>(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// An HTTP/1.1 response read from a raw socket, its body left to read.
#[derive(Debug)]
pub(crate) struct RawResponse {
    pub(crate) status: u16,
    /// Lowercase names.
    pub(crate) headers: Vec<(String, String)>,
    reader: BufReader<TcpStream>,
}

/// Writes one request (`Connection: close`) on a fresh connection.
pub(crate) fn raw_request(
    address: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> TcpStream {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(body) = body {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    head.push_str(body.unwrap_or_default());
    stream.write_all(head.as_bytes()).unwrap();
    stream.flush().unwrap();
    stream
}

impl RawResponse {
    /// Reads the status line and headers.
    pub(crate) fn read_head(stream: TcpStream) -> RawResponse {
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("not an HTTP status line: {line:?}"));
        let mut headers = Vec::new();
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
            let trimmed = line.trim_end();
            if trimmed.is_empty() {
                break;
            }
            let (name, value) = trimmed.split_once(':').unwrap();
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
        RawResponse {
            status,
            headers,
            reader,
        }
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn chunked(&self) -> bool {
        self.header("transfer-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    }

    /// The next piece of the body: a chunk, or (not chunked) what the
    /// socket has. `None` at the end of the body.
    pub(crate) fn next_piece(&mut self) -> Option<Vec<u8>> {
        if self.chunked() {
            let mut line = String::new();
            self.reader.read_line(&mut line).unwrap();
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16)
                .unwrap_or_else(|_| panic!("bad chunk size line {line:?}"));
            let mut chunk = vec![0; size + 2];
            self.reader.read_exact(&mut chunk).unwrap();
            chunk.truncate(size);
            (size > 0).then_some(chunk)
        } else {
            let mut buffer = vec![0; 8192];
            let read = self.reader.read(&mut buffer).unwrap();
            buffer.truncate(read);
            (read > 0).then_some(buffer)
        }
    }

    /// The rest of the body, as text.
    pub(crate) fn body(mut self) -> String {
        let mut body = Vec::new();
        while let Some(piece) = self.next_piece() {
            body.extend(piece);
        }
        String::from_utf8(body).unwrap()
    }

    pub(crate) fn set_read_timeout(&self, timeout: Duration) {
        self.reader
            .get_ref()
            .set_read_timeout(Some(timeout))
            .unwrap();
    }
}

/// A whole request and response over a raw socket.
pub(crate) fn http(
    address: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> (u16, String) {
    let response = RawResponse::read_head(raw_request(address, method, path, headers, body));
    let status = response.status;
    (status, response.body())
}

/// One Server-Sent Event.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Frame {
    pub(crate) id: Option<i64>,
    pub(crate) event: String,
    pub(crate) data: Value,
}

/// `GET /api/v1/events` on a raw socket, read frame by frame.
#[derive(Debug)]
pub(crate) struct EventStream {
    response: RawResponse,
    pending: String,
}

impl EventStream {
    /// Connects, replaying what came after `last_event_id` when given.
    pub(crate) fn open(
        address: SocketAddr,
        last_event_id: Option<i64>,
        token: Option<&str>,
    ) -> EventStream {
        let id = last_event_id.map(|id| id.to_string());
        EventStream::connect(address, "/api/v1/events", id.as_deref(), token)
    }

    /// Connects to `path` (`/api/v1/events?since=ID`).
    pub(crate) fn open_path(address: SocketAddr, path: &str, token: Option<&str>) -> EventStream {
        EventStream::connect(address, path, None, token)
    }

    fn connect(
        address: SocketAddr,
        path: &str,
        last_event_id: Option<&str>,
        token: Option<&str>,
    ) -> EventStream {
        let authorization = token.map(|token| format!("Bearer {token}"));
        let mut headers = vec![("Accept", "text/event-stream")];
        if let Some(id) = last_event_id {
            headers.push(("Last-Event-ID", id));
        }
        if let Some(authorization) = &authorization {
            headers.push(("Authorization", authorization.as_str()));
        }
        let response = RawResponse::read_head(raw_request(address, "GET", path, &headers, None));
        assert_eq!(response.status, 200);
        assert_eq!(response.header("content-type"), Some("text/event-stream"));
        EventStream {
            response,
            pending: String::new(),
        }
    }

    /// The next event frame (comments and keep-alives skipped), waiting up
    /// to `timeout` for it.
    pub(crate) fn next(&mut self, timeout: Duration) -> Frame {
        let deadline = Instant::now() + timeout;
        loop {
            while let Some(end) = self.pending.find("\n\n") {
                let block: String = self.pending.drain(..end + 2).collect();
                if let Some(frame) = parse_frame(&block) {
                    return frame;
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no event within {timeout:?}");
            self.response.set_read_timeout(left);
            let piece = self.response.next_piece().expect("the event stream ended");
            self.pending.push_str(&String::from_utf8(piece).unwrap());
        }
    }

    /// Frames until one of kind `event` (inclusive), for `timeout` at most.
    pub(crate) fn until(&mut self, event: &str, timeout: Duration) -> Vec<Frame> {
        let deadline = Instant::now() + timeout;
        let mut frames = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let frame = self.next(left.max(Duration::from_millis(1)));
            let done = frame.event == event;
            frames.push(frame);
            if done {
                return frames;
            }
        }
    }
}

fn parse_frame(block: &str) -> Option<Frame> {
    let mut id = None;
    let mut event = None;
    let mut data = String::new();
    for line in block.lines() {
        if line.starts_with(':') {
            continue;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "id" => id = Some(value.parse().unwrap()),
            "event" => event = Some(value.to_owned()),
            "data" => {
                if !data.is_empty() {
                    data.push('\n');
                }
                data.push_str(value);
            }
            _ => {}
        }
    }
    let event = event?;
    let data = serde_json::from_str(&data).unwrap_or(Value::String(data));
    Some(Frame { id, event, data })
}

/// The seed's workspace: `infra` runs `db` (postgres on 5432) and `proxy`
/// (port 8080); `app` runs `web`, also on 8080, whose DATABASE_URL points at
/// `db`. So there is one port conflict and one edge `web → db`.
pub(crate) fn seed_workspace() -> Workspace {
    Workspace::new()
        .file(
            "infra/docker-compose.yml",
            "services:\n  db:\n    image: postgres:16\n    ports: [\"5432:5432\"]\n  proxy:\n    image: nginx\n    ports: [\"8080:80\"]\n",
        )
        .file(
            "app/docker-compose.yml",
            "services:\n  web:\n    image: web\n    ports: [\"8080:3000\"]\n    environment:\n      DATABASE_URL: postgres://db:5432/app\n",
        )
}
