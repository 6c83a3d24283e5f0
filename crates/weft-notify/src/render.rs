//! How a notification reads on each channel: plain text and HTML for mail,
//! Block Kit for Slack, Markdown for issues. Pure functions of the
//! notification.

use serde_json::{Value, json};

use crate::notification::Notification;

/// `[weft] production: deployment failed - api 1.4.0 failed its gate`.
pub(crate) fn subject(notification: &Notification) -> String {
    let mut subject = format!(
        "[weft] {}: {}",
        notification.environment,
        notification.event.describe()
    );
    if notification.has_own_title() {
        subject.push_str(" - ");
        subject.push_str(&notification.title);
    }
    subject
}

/// The plain-text body of a mail.
pub(crate) fn text(notification: &Notification) -> String {
    let mut out = format!("{}\n\n", notification.title);
    if !notification.text.is_empty() {
        out.push_str(&notification.text);
        out.push_str("\n\n");
    }
    out.push_str(&format!(
        "Environment: {}\nEvent:       {} ({})\nDeployment:  {}\n",
        notification.environment,
        notification.event.describe(),
        notification.severity,
        notification.deployment
    ));
    if !notification.services.is_empty() {
        out.push_str("Services:\n");
        for service in &notification.services {
            let failed = if service.failed { " (failed)" } else { "" };
            out.push_str(&format!(
                "  {} {}{failed}\n",
                service.name,
                service.change()
            ));
        }
    }
    if !notification.links.is_empty() {
        out.push_str("Links:\n");
        for link in &notification.links {
            out.push_str(&format!("  {}: {}\n", link.label, link.url));
        }
    }
    out.push_str(&format!("\nSent by weft at {}.\n", notification.at));
    out
}

/// The HTML body of a mail.
pub(crate) fn html(notification: &Notification) -> String {
    let mut out = String::from("<!DOCTYPE html>\n<html><body>\n");
    out.push_str(&format!("<h2>{}</h2>\n", escape_html(&notification.title)));
    if !notification.text.is_empty() {
        out.push_str(&format!(
            "<p>{}</p>\n",
            escape_html(&notification.text).replace('\n', "<br>\n")
        ));
    }
    out.push_str("<table>\n");
    for (key, value) in [
        ("Environment", notification.environment.clone()),
        (
            "Event",
            format!(
                "{} ({})",
                notification.event.describe(),
                notification.severity
            ),
        ),
        ("Deployment", notification.deployment.clone()),
    ] {
        out.push_str(&format!(
            "<tr><th align=\"left\">{key}</th><td>{}</td></tr>\n",
            escape_html(&value)
        ));
    }
    out.push_str("</table>\n");
    if !notification.services.is_empty() {
        out.push_str(
            "<table>\n<tr><th align=\"left\">Service</th><th align=\"left\">Version</th></tr>\n",
        );
        for service in &notification.services {
            let failed = if service.failed {
                " <b>(failed)</b>"
            } else {
                ""
            };
            out.push_str(&format!(
                "<tr><td><code>{}</code></td><td>{}{failed}</td></tr>\n",
                escape_html(&service.name),
                escape_html(&service.change())
            ));
        }
        out.push_str("</table>\n");
    }
    if !notification.links.is_empty() {
        out.push_str("<ul>\n");
        for link in &notification.links {
            out.push_str(&format!(
                "<li><a href=\"{}\">{}</a></li>\n",
                escape_html(&link.url),
                escape_html(&link.label)
            ));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</body></html>\n");
    out
}

/// The incoming-webhook payload: Block Kit `blocks` (a header, the text, a
/// section of fields, a context line with the deployment and links) and a
/// `text` fallback for notifications and old clients.
pub(crate) fn slack(notification: &Notification) -> Value {
    let mut blocks = vec![json!({
        "type": "header",
        "text": {"type": "plain_text", "text": truncate(&notification.title, 150), "emoji": true}
    })];
    if !notification.text.is_empty() {
        blocks.push(json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": truncate(&escape_mrkdwn(&notification.text), 3000)}
        }));
    }
    let mut fields = vec![
        field("Environment", &escape_mrkdwn(&notification.environment)),
        field(
            "Event",
            &format!(
                "{} ({})",
                notification.event.describe(),
                notification.severity
            ),
        ),
    ];
    if !notification.services.is_empty() {
        let names: Vec<String> = notification
            .services
            .iter()
            .map(|s| {
                let failed = if s.failed { " :x:" } else { "" };
                format!("`{}`{failed}", escape_mrkdwn(&s.name))
            })
            .collect();
        let versions: Vec<String> = notification
            .services
            .iter()
            .map(|s| escape_mrkdwn(&s.change()))
            .collect();
        fields.push(field("Services", &names.join("\n")));
        fields.push(field("Versions", &versions.join("\n")));
    }
    blocks.push(json!({"type": "section", "fields": fields}));
    let mut context = vec![json!({
        "type": "mrkdwn",
        "text": format!("Deployment `{}`", escape_mrkdwn(&notification.deployment))
    })];
    for link in notification.links.iter().take(9) {
        context.push(json!({
            "type": "mrkdwn",
            "text": format!("<{}|{}>", link.url.replace('|', "%7C"), escape_mrkdwn(&link.label))
        }));
    }
    blocks.push(json!({"type": "context", "elements": context}));
    json!({
        "text": format!(
            "[{}] {}: {}",
            notification.environment,
            notification.event.describe(),
            notification.title
        ),
        "blocks": blocks,
    })
}

fn field(name: &str, value: &str) -> Value {
    json!({"type": "mrkdwn", "text": truncate(&format!("*{name}*\n{value}"), 2000)})
}

/// The body of an incident issue: the notification, then the marker.
pub(crate) fn issue_body(notification: &Notification, marker: &str) -> String {
    format!("{}\n{marker}\n", markdown(notification))
}

/// The notification in GitHub Markdown, for issues and their comments.
pub(crate) fn markdown(notification: &Notification) -> String {
    let mut out = format!("**{}**\n\n", notification.title);
    if !notification.text.is_empty() {
        out.push_str(&notification.text);
        out.push_str("\n\n");
    }
    out.push_str(&format!(
        "- Environment: `{}`\n- Event: {} ({})\n- Deployment: `{}`\n",
        notification.environment,
        notification.event.describe(),
        notification.severity,
        notification.deployment
    ));
    for service in &notification.services {
        let failed = if service.failed { " — failed" } else { "" };
        out.push_str(&format!(
            "- `{}` {}{failed}\n",
            service.name,
            service.change()
        ));
    }
    for link in &notification.links {
        out.push_str(&format!("- [{}]({})\n", link.label, link.url));
    }
    out
}

/// Text made safe inside HTML: `&`, `<`, `>` and both quotes escaped.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Slack's three control characters.
fn escape_mrkdwn(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let cut: String = text.chars().take(max - 1).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use weft_model::config::NotifyEvent;

    use super::*;

    #[test]
    fn html_and_mrkdwn_are_escaped() {
        let notification = Notification::new(NotifyEvent::DeploymentFailed, "prod", "d-1")
            .title("<script> & co")
            .text("a < b")
            .service("api", "1.0");
        assert!(html(&notification).contains("<h2>&lt;script&gt; &amp; co</h2>"));
        let payload = slack(&notification);
        assert_eq!(payload["blocks"][1]["text"]["text"], "a &lt; b");
        assert_eq!(
            subject(&notification),
            "[weft] prod: deployment failed - <script> & co"
        );
        let plain = Notification::new(NotifyEvent::DeploymentFailed, "prod", "d-1");
        assert_eq!(subject(&plain), "[weft] prod: deployment failed");
    }
}
