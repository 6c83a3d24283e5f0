//! A POST of a JSON body, shared by the Slack and webhook channels: 2xx is
//! sent; 429 and 5xx (and a connection that fails) may pass on retry; any
//! other status will not. Errors name the URL by its scheme and host only.

use std::time::Duration;

use crate::error::NotifyError;
use crate::retry::Failure;
use crate::secret::{Secret, redact_url, scrub};

pub(super) fn post(
    url: &Secret,
    body: &[u8],
    headers: &[(&str, String)],
    timeout: Duration,
    secrets: &[&Secret],
) -> Result<(), Failure> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .user_agent("weft")
        .build()
        .into();
    let mut request = agent
        .post(url.expose())
        .header("Content-Type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let redacted = redact_url(url.expose());
    let mut response = request.send(body).map_err(|error| {
        let message = scrub(&error.to_string(), secrets);
        let lasting = matches!(error, ureq::Error::BadUri(_) | ureq::Error::Http(_));
        let error = NotifyError::Request {
            url: redacted.clone(),
            message,
        };
        if lasting {
            Failure::stop(error)
        } else {
            Failure::retry(error)
        }
    })?;
    let status = response.status().as_u16();
    if (200..300).contains(&status) {
        return Ok(());
    }
    let said = response
        .body_mut()
        .with_config()
        .limit(4 * 1024)
        .read_to_string()
        .unwrap_or_default();
    let said: String = said
        .lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect();
    let error = NotifyError::Http {
        url: redacted,
        status,
        said: scrub(&said, secrets),
    };
    if status == 429 || status >= 500 {
        Err(Failure::retry(error))
    } else {
        Err(Failure::stop(error))
    }
}
