//! Slack and the generic webhook against a real HTTP server.

use weft_notify::{Notification, Notifier, NotifyEvent, SIGNATURE_HEADER};

use crate::support::{HttpServer, dead_port, env, notify_config, quick};

const SLACK_PATH: &str = "/services/T000/B000/XXXXSECRET";

fn config(webhook_url: &str) -> String {
    format!(
        r#"notify:
  channels:
    ops-slack: {{slack: {{webhook_env: SLACK_WEBHOOK_URL}}}}
    audit: {{webhook: {{url: "{webhook_url}", secret_env: WEFT_WEBHOOK_SECRET}}}}
  rules:
    everything:
      events: [deployment_failed, deployment_succeeded]
      channels: [ops-slack, audit]
"#
    )
}

fn failed() -> Notification {
    Notification::new(NotifyEvent::DeploymentFailed, "production", "d-42")
        .service_version(weft_notify::ServiceVersion {
            name: "api".into(),
            version: "1.4.0".into(),
            previous_version: Some("1.3.9".into()),
            failed: true,
        })
        .service("web", "2.0.0")
        .text("the health gate of api failed 3 times")
        .link("run", "https://ci.example.com/runs/7")
}

#[tokio::test]
async fn slack_gets_block_kit_and_the_webhook_a_signed_json_body() {
    let server = HttpServer::start(&[]);
    let slack_url = server.url(SLACK_PATH);
    let notifier = Notifier::new(
        &notify_config(&config(&server.url("/weft"))),
        &env(&[
            ("SLACK_WEBHOOK_URL", &slack_url),
            ("WEFT_WEBHOOK_SECRET", "s3cret-key"),
        ]),
        None,
    )
    .with_settings(quick());
    assert!(notifier.problems().is_empty(), "{:?}", notifier.problems());
    let notification = failed();
    let deliveries = notifier.notify(&notification).await;
    assert_eq!(deliveries.len(), 2, "{deliveries:?}");
    for delivery in &deliveries {
        assert!(delivery.ok, "{delivery:?}");
        assert_eq!(delivery.attempts, 1);
        assert_eq!(delivery.rule.as_deref(), Some("everything"));
    }

    let slack = server.requests_to(SLACK_PATH);
    assert_eq!(slack.len(), 1);
    assert_eq!(slack[0].method, "POST");
    assert_eq!(slack[0].header("content-type"), Some("application/json"));
    let payload = slack[0].json();
    assert_eq!(
        payload["text"],
        "[production] deployment failed: Deployment failed in production"
    );
    let blocks = payload["blocks"].as_array().unwrap();
    let types: Vec<&str> = blocks.iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["header", "section", "section", "context"]);
    assert_eq!(blocks[0]["text"]["type"], "plain_text");
    assert_eq!(blocks[0]["text"]["text"], "Deployment failed in production");
    assert_eq!(blocks[1]["text"]["type"], "mrkdwn");
    assert_eq!(
        blocks[1]["text"]["text"],
        "the health gate of api failed 3 times"
    );
    let fields: Vec<&str> = blocks[2]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            assert_eq!(f["type"], "mrkdwn");
            f["text"].as_str().unwrap()
        })
        .collect();
    assert_eq!(
        fields,
        [
            "*Environment*\nproduction",
            "*Event*\ndeployment failed (critical)",
            "*Services*\n`api` :x:\n`web`",
            "*Versions*\n1.3.9 → 1.4.0\n2.0.0",
        ]
    );
    let context: Vec<&str> = blocks[3]["elements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        context,
        ["Deployment `d-42`", "<https://ci.example.com/runs/7|run>"]
    );

    let hooks = server.requests_to("/weft");
    assert_eq!(hooks.len(), 1);
    let hook = &hooks[0];
    assert_eq!(hook.header("x-weft-event"), Some("deployment_failed"));
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"s3cret-key");
    let tag = ring::hmac::sign(&key, &hook.body);
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        hook.header(SIGNATURE_HEADER),
        Some(format!("sha256={hex}").as_str())
    );
    let body = hook.json();
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "event",
            "severity",
            "environment",
            "deployment",
            "services",
            "title",
            "text",
            "links",
            "at",
            "thread"
        ]
    );
    assert_eq!(body["event"], "deployment_failed");
    assert_eq!(body["severity"], "critical");
    assert_eq!(body["environment"], "production");
    assert_eq!(body["deployment"], "d-42");
    assert_eq!(
        body["services"][0],
        serde_json::json!({"name": "api", "version": "1.4.0", "previous_version": "1.3.9", "failed": true})
    );
    assert_eq!(body["links"][0]["url"], "https://ci.example.com/runs/7");
    assert!(body["at"].as_str().unwrap().ends_with('Z'));

    // Secrets are nowhere to be read.
    let shown = format!(
        "{notifier:?} {deliveries:?} {}",
        serde_json::to_string(&deliveries).unwrap()
    );
    assert!(!shown.contains("XXXXSECRET"), "{shown}");
    assert!(!shown.contains("s3cret-key"), "{shown}");
}

#[tokio::test]
async fn a_500_is_retried_a_400_is_not_and_errors_hide_the_url() {
    let server = HttpServer::start(&[500, 503]);
    let slack_url = server.url(SLACK_PATH);
    let yaml = "notify:\n  channels:\n    ops-slack: {slack: {webhook_env: SLACK_WEBHOOK_URL}}\n  rules:\n    r: {events: [deployment_failed], channels: [ops-slack]}\n";
    let notifier = Notifier::new(
        &notify_config(yaml),
        &env(&[("SLACK_WEBHOOK_URL", &slack_url)]),
        None,
    )
    .with_settings(quick());
    let deliveries = notifier.notify(&failed()).await;
    assert_eq!(deliveries.len(), 1);
    assert!(deliveries[0].ok, "{deliveries:?}");
    assert_eq!(deliveries[0].attempts, 3);
    assert_eq!(server.requests_to(SLACK_PATH).len(), 3);

    let server = HttpServer::start(&[400]);
    let slack_url = server.url(SLACK_PATH);
    let notifier = Notifier::new(
        &notify_config(yaml),
        &env(&[("SLACK_WEBHOOK_URL", &slack_url)]),
        None,
    )
    .with_settings(quick());
    let deliveries = notifier.notify(&failed()).await;
    assert!(!deliveries[0].ok);
    assert_eq!(deliveries[0].attempts, 1);
    let error = deliveries[0].error.as_deref().unwrap();
    assert_eq!(
        error,
        format!(
            "POST http://127.0.0.1:{}/…: HTTP 400 no_service",
            server.port
        )
    );
}

#[tokio::test]
async fn a_dead_port_or_a_missing_secret_is_a_failed_delivery() {
    let port = dead_port();
    let yaml = format!(
        "notify:\n  channels:\n    audit: {{webhook: {{url: \"http://127.0.0.1:{port}/hook/TOKEN123\"}}}}\n    ops-slack: {{slack: {{webhook_env: SLACK_WEBHOOK_URL}}}}\n  rules:\n    r: {{events: [deployment_failed], channels: [audit, ops-slack]}}\n"
    );
    let notifier = Notifier::new(&notify_config(&yaml), &env(&[]), None).with_settings(quick());
    let problems = notifier.problems();
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].0, "ops-slack");
    let deliveries = notifier.notify(&failed()).await;
    assert_eq!(deliveries.len(), 2);
    let audit = &deliveries[0];
    assert!(!audit.ok);
    assert_eq!(audit.attempts, 3, "a refused connection is retried");
    let error = audit.error.as_deref().unwrap();
    assert!(
        error.starts_with(&format!("POST http://127.0.0.1:{port}/…: ")),
        "{error}"
    );
    assert!(!error.contains("TOKEN123"), "{error}");
    let slack = &deliveries[1];
    assert!(!slack.ok);
    assert_eq!(slack.attempts, 0);
    assert_eq!(
        slack.error.as_deref(),
        Some("environment variable `SLACK_WEBHOOK_URL` is not set")
    );
}

#[tokio::test]
async fn notify_test_reaches_one_channel() {
    let server = HttpServer::start(&[]);
    let yaml = format!(
        "notify:\n  channels:\n    audit: {{webhook: {{url_env: AUDIT_URL}}}}\n    other: {{webhook: {{url: \"{}\"}}}}\n",
        server.url("/other")
    );
    let notifier = Notifier::new(
        &notify_config(&yaml),
        &env(&[("AUDIT_URL", &server.url("/audit"))]),
        None,
    );
    let delivery = notifier.notify_test("audit").await.unwrap();
    assert!(delivery.ok, "{delivery:?}");
    assert_eq!(delivery.rule, None);
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, "/audit");
    assert_eq!(requests[0].json()["event"], "test");
    assert!(requests[0].header(SIGNATURE_HEADER).is_none());
    let error = notifier.notify_test("nope").await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "no channel `nope` under `notify.channels` (channels: audit, other)"
    );
}
