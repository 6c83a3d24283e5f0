//! The fake GitHub of `weft_testkit::github` over a real socket, spoken to
//! by a real HTTP client; and its bodies checked against GitHub's published
//! OpenAPI description (`@octokit/openapi`, found through
//! `WEFT_OCTOKIT_OPENAPI`). This module holds the client side they share.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on anything unexpected"
)]
#![expect(
    clippy::print_stdout,
    reason = "a SKIP line tells why the OpenAPI check did not run"
)]

mod issues;
mod limits;
mod monitor;
mod openapi;
mod runs;

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use weft_testkit::github::{Conclusion, FakeGitHub, Repository, Workflow};

pub(super) const PATIENCE: Duration = Duration::from_secs(15);
pub(super) const RUN: &str = "/repos/{owner}/{repo}/actions/runs/{run_id}";

/// `octo/app` with a `release` branch and three workflows: `deploy.yml`
/// (3 s, success), `fail.yml` (50 ms, failure), `slow.yml` (a minute).
pub(super) fn github() -> FakeGitHub {
    let github = FakeGitHub::start();
    github.add_repository(
        Repository::new("octo/app")
            .branch("release")
            .workflow(
                Workflow::new("deploy.yml")
                    .name("Deploy")
                    .duration(Duration::from_secs(3)),
            )
            .workflow(
                Workflow::new("fail.yml")
                    .duration(Duration::from_millis(50))
                    .conclusion(Conclusion::Failure),
            )
            .workflow(Workflow::new("slow.yml").duration(Duration::from_secs(60))),
    );
    github
}

/// An answer: status, headers (names in lower case) and body text.
#[derive(Debug)]
pub(super) struct Reply {
    pub(super) status: u16,
    pub(super) headers: BTreeMap<String, String>,
    pub(super) text: String,
}

impl Reply {
    pub(super) fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("{e}: a JSON body, not {:?}", self.text))
    }

    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    pub(super) fn number(&self, name: &str) -> u64 {
        let value = self
            .header(name)
            .unwrap_or_else(|| panic!("no {name} in {self:?}"));
        value.parse().unwrap()
    }
}

pub(super) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .max_redirects_will_error(false)
        .build()
        .into()
}

pub(super) fn reply(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Reply {
    let mut response = response.expect("an HTTP answer");
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_string(),
                value.to_str().unwrap().to_string(),
            )
        })
        .collect();
    Reply {
        status: response.status().as_u16(),
        headers,
        text: response.body_mut().read_to_string().unwrap(),
    }
}

/// A GET of an absolute `url` with these headers.
pub(super) fn get_url(url: &str, headers: &[(&str, &str)]) -> Reply {
    let mut request = agent().get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    reply(request.call())
}

/// A GET of an API path with the accepted token.
pub(super) fn get(github: &FakeGitHub, path: &str) -> Reply {
    let authorization = format!("Bearer {}", github.token());
    get_url(
        &format!("{}{path}", github.url()),
        &[("Authorization", &authorization)],
    )
}

/// A POST of `body` to an API path with the accepted token.
pub(super) fn post(github: &FakeGitHub, path: &str, body: &str) -> Reply {
    reply(
        agent()
            .post(format!("{}{path}", github.url()))
            .header("Authorization", format!("token {}", github.token()))
            .header("Content-Type", "application/json")
            .send(body),
    )
}

/// A PATCH of `body` to an API path with the accepted token.
pub(super) fn patch(github: &FakeGitHub, path: &str, body: &str) -> Reply {
    reply(
        agent()
            .patch(format!("{}{path}", github.url()))
            .header("Authorization", format!("Bearer {}", github.token()))
            .header("Content-Type", "application/json")
            .send(body),
    )
}

/// A DELETE of an API path with the accepted token.
pub(super) fn delete(github: &FakeGitHub, path: &str) -> Reply {
    reply(
        agent()
            .delete(format!("{}{path}", github.url()))
            .header("Authorization", format!("Bearer {}", github.token()))
            .call(),
    )
}

/// Dispatches `workflow` on `octo/app` asking for the run's details.
pub(super) fn dispatch(github: &FakeGitHub, workflow: &str, inputs: Value) -> u64 {
    let body = json!({"ref": "main", "inputs": inputs, "return_run_details": true});
    let path = format!("/repos/octo/app/actions/workflows/{workflow}/dispatches");
    let reply = post(github, &path, &body.to_string());
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.json()["workflow_run_id"].as_u64().unwrap()
}

/// Calls `probe` until it gives something, or fails after a deadline.
pub(super) fn poll<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(found) = probe() {
            return found;
        }
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub(super) fn wait_completed(github: &FakeGitHub, run: u64) -> Value {
    poll("the run to complete", || {
        let body = get(github, &format!("/repos/octo/app/actions/runs/{run}")).json();
        (body["status"] == "completed").then_some(body)
    })
}

pub(super) fn now_epoch() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// `rel` → URL of a `Link` header.
pub(super) fn links(reply: &Reply) -> BTreeMap<String, String> {
    let Some(header) = reply.header("link") else {
        return BTreeMap::new();
    };
    header
        .split(", ")
        .map(|link| {
            let (url, rel) = link.split_once("; rel=").unwrap();
            let url = url.trim_start_matches('<').trim_end_matches('>');
            (rel.trim_matches('"').to_string(), url.to_string())
        })
        .collect()
}
