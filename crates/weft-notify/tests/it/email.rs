//! Email against aiosmtpd: headers, threading, both parts, and STARTTLS.

use weft_notify::{Notification, Notifier, NotifyEvent};

use crate::support::{
    SmtpServer, aiosmtpd_python, certificates, dead_port, env, notify_config, quick,
};

fn config(smtp: &str, extra: &str) -> String {
    format!(
        r#"notify:
  channels:
    ops-mail: {{email: {{smtp: "{smtp}", from: "weft <weft@example.com>", to: ["ops@example.com", "oncall@example.com"]{extra}}}}}
  rules:
    releases:
      events: [deployment_failed, rollback_succeeded]
      channels: [ops-mail]
"#
    )
}

#[tokio::test]
async fn a_release_is_one_thread_of_text_and_html_mails() {
    let Some(python) = aiosmtpd_python("a_release_is_one_thread_of_text_and_html_mails") else {
        return;
    };
    let server = SmtpServer::start(&python, None);
    let notifier = Notifier::new(&notify_config(&config(&server.url(), "")), &env(&[]), None)
        .with_settings(quick());
    let failed = Notification::new(NotifyEvent::DeploymentFailed, "production", "d-42")
        .service("api", "1.4.0")
        .title("api 1.4.0 failed its health gate")
        .text("GET /healthz answered 503 <three times> & gave up")
        .link("run", "https://ci.example.com/runs/7");
    let deliveries = notifier.notify(&failed).await;
    assert!(deliveries[0].ok, "{deliveries:?}\n{}", server.log());
    let recovered = Notification::new(NotifyEvent::RollbackSucceeded, "production", "d-42")
        .service("api", "1.3.9");
    let deliveries = notifier.notify(&recovered).await;
    assert!(deliveries[0].ok, "{deliveries:?}\n{}", server.log());
    let other = Notification::new(NotifyEvent::DeploymentFailed, "production", "d-43");
    assert!(notifier.notify(&other).await[0].ok);

    let mails = server.wait_for(3);
    let first = mails
        .iter()
        .find(|m| {
            m.header("Subject")
                .is_some_and(|s| s.contains("deployment failed -"))
        })
        .unwrap();
    let second = mails
        .iter()
        .find(|m| {
            m.header("Subject")
                .is_some_and(|s| s.contains("rollback succeeded"))
        })
        .unwrap();
    let third = mails
        .iter()
        .find(|m| m.header("Subject") == Some("[weft] production: deployment failed"))
        .unwrap();

    assert_eq!(
        first.header("Subject"),
        Some("[weft] production: deployment failed - api 1.4.0 failed its health gate")
    );
    assert_eq!(first.header("From"), Some("weft <weft@example.com>"));
    assert_eq!(
        first.header("To"),
        Some("ops@example.com, oncall@example.com")
    );
    assert_eq!(first.envelope["mail_from"], "weft@example.com");
    assert_eq!(
        first.envelope["rcpt_tos"],
        serde_json::json!(["ops@example.com", "oncall@example.com"])
    );
    assert_eq!(
        first.envelope["tls"], false,
        "the server offers no STARTTLS"
    );
    assert!(first.header("Date").is_some());

    let id = first.header("Message-ID").unwrap();
    assert!(
        id.starts_with("<weft.d-42.") && id.ends_with("@example.com>"),
        "{id}"
    );
    // One thread per release: both of its mails name one root, derived
    // from the release, so a mail sent by another process joins it too.
    let root = "<weft.thread.d-42@example.com>";
    for mail in [first, second] {
        assert_eq!(mail.header("In-Reply-To"), Some(root));
        assert_eq!(mail.header("References"), Some(root));
    }
    assert_ne!(second.header("Message-ID"), Some(id));
    assert_ne!(
        third.header("In-Reply-To"),
        Some(root),
        "another release, another thread"
    );

    assert!(
        first
            .header("Content-Type")
            .unwrap()
            .starts_with("multipart/alternative;"),
        "{:?}",
        first.header("Content-Type")
    );
    let text = first.part("text/plain").unwrap();
    assert!(
        text.starts_with("api 1.4.0 failed its health gate\n"),
        "{text}"
    );
    assert!(
        text.contains("GET /healthz answered 503 <three times> & gave up"),
        "{text}"
    );
    assert!(text.contains("Deployment:  d-42"), "{text}");
    assert!(text.contains("  api 1.4.0\n"), "{text}");
    assert!(
        text.contains("  run: https://ci.example.com/runs/7"),
        "{text}"
    );
    let html = first.part("text/html").unwrap();
    assert!(
        html.contains("<h2>api 1.4.0 failed its health gate</h2>"),
        "{html}"
    );
    assert!(
        html.contains("503 &lt;three times&gt; &amp; gave up"),
        "{html}"
    );
    assert!(
        html.contains("<a href=\"https://ci.example.com/runs/7\">run</a>"),
        "{html}"
    );
}

#[tokio::test]
async fn dots_at_line_starts_survive() {
    let Some(python) = aiosmtpd_python("dots_at_line_starts_survive") else {
        return;
    };
    let server = SmtpServer::start(&python, None);
    let notifier = Notifier::new(&notify_config(&config(&server.url(), "")), &env(&[]), None)
        .with_settings(quick());
    let notification = Notification::new(NotifyEvent::DeploymentFailed, "production", "d-1")
        .text("before\n.\n.. two dots\nafter");
    assert!(notifier.notify(&notification).await[0].ok);
    let mails = server.wait_for(1);
    // Sent as 7bit, so a lone `.` line reaches the server only because the
    // client dot-stuffs it.
    assert!(
        mails[0]
            .raw
            .contains("Content-Transfer-Encoding: 7bit\r\n\r\nDeployment failed")
    );
    let text = mails[0].part("text/plain").unwrap();
    assert!(text.contains("before\n.\n.. two dots\nafter"), "{text}");
}

#[tokio::test]
async fn starttls_always_fails_without_it_and_works_with_it() {
    let Some(python) = aiosmtpd_python("starttls_always_fails_without_it_and_works_with_it") else {
        return;
    };
    let plain = SmtpServer::start(&python, None);
    let yaml = config(&plain.url(), ", starttls: always");
    let notifier = Notifier::new(&notify_config(&yaml), &env(&[]), None).with_settings(quick());
    let notification = Notification::new(NotifyEvent::DeploymentFailed, "production", "d-1");
    let deliveries = notifier.notify(&notification).await;
    assert!(!deliveries[0].ok);
    assert_eq!(
        deliveries[0].attempts, 1,
        "a missing STARTTLS does not pass"
    );
    let error = deliveries[0].error.as_deref().unwrap();
    assert!(
        error.starts_with(&format!(
            "send mail through smtp://127.0.0.1:{}: ",
            plain.port
        )),
        "{error}"
    );
    assert!(error.contains("STARTTLS"), "{error}");
    assert!(plain.mails().is_empty());

    let directory = tempfile::tempdir().unwrap();
    let Some((ca, certificate, key)) = certificates(directory.path()) else {
        println!(
            "SKIP: the STARTTLS half of starttls_always_fails_without_it_and_works_with_it: no openssl"
        );
        return;
    };
    let tls = SmtpServer::start(&python, Some((&certificate, &key)));
    for starttls in ["always", "auto"] {
        let extra = format!(", starttls: {starttls}, ca_file: \"{}\"", ca.display());
        let notifier = Notifier::new(&notify_config(&config(&tls.url(), &extra)), &env(&[]), None)
            .with_settings(quick());
        let deliveries = notifier.notify(&notification).await;
        assert!(
            deliveries[0].ok,
            "{starttls}: {deliveries:?}\n{}",
            tls.log()
        );
    }
    let mails = tls.wait_for(2);
    assert!(mails.iter().all(|m| m.envelope["tls"] == true), "{mails:?}");

    // Never: the server insists on STARTTLS, so the mail is refused.
    let extra = ", starttls: never";
    let notifier = Notifier::new(&notify_config(&config(&tls.url(), extra)), &env(&[]), None)
        .with_settings(quick());
    let deliveries = notifier.notify(&notification).await;
    assert!(!deliveries[0].ok, "{deliveries:?}");

    // Without the CA, the certificate is not trusted.
    let notifier = Notifier::new(
        &notify_config(&config(&tls.url(), ", starttls: always")),
        &env(&[]),
        None,
    )
    .with_settings(quick());
    let deliveries = notifier.notify(&notification).await;
    assert!(!deliveries[0].ok, "{deliveries:?}");
    assert_eq!(deliveries[0].attempts, 1, "{deliveries:?}");
}

#[tokio::test]
async fn a_dead_smtp_port_is_a_failed_delivery() {
    let url = format!("smtp://127.0.0.1:{}", dead_port());
    let notifier =
        Notifier::new(&notify_config(&config(&url, "")), &env(&[]), None).with_settings(quick());
    let notification = Notification::new(NotifyEvent::DeploymentFailed, "production", "d-1");
    let deliveries = notifier.notify(&notification).await;
    assert!(!deliveries[0].ok);
    assert_eq!(deliveries[0].attempts, 3, "{deliveries:?}");
}

#[tokio::test]
async fn credentials_come_from_the_environment_and_stay_hidden() {
    let yaml = config(
        "smtp://127.0.0.1:1",
        ", username_env: SMTP_USER, password_env: SMTP_PASSWORD",
    );
    let notifier = Notifier::new(
        &notify_config(&yaml),
        &env(&[("SMTP_USER", "weft"), ("SMTP_PASSWORD", "hunter2-secret")]),
        None,
    );
    assert!(notifier.problems().is_empty());
    assert!(!format!("{notifier:?}").contains("hunter2-secret"));
    let notifier = Notifier::new(&notify_config(&yaml), &env(&[("SMTP_USER", "weft")]), None);
    let problems = notifier.problems();
    assert_eq!(
        problems[0].1.to_string(),
        "environment variable `SMTP_PASSWORD` is not set"
    );
}
