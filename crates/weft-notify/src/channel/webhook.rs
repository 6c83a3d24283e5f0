//! The generic webhook: a POST of the notification's JSON, signed when the
//! channel has a key — `X-Weft-Signature-256: sha256=HEX`, the HMAC-SHA256 of
//! the exact body, as GitHub signs its webhooks.

use std::sync::Arc;

use weft_model::config::WebhookConfig;

use super::{Sent, blocking, http};
use crate::error::NotifyError;
use crate::notification::Notification;
use crate::retry::{DeliverySettings, with_retries};
use crate::secret::Secret;

/// The signature header's name.
pub const SIGNATURE_HEADER: &str = "X-Weft-Signature-256";

#[derive(Debug)]
pub(crate) struct WebhookChannel {
    url: Result<Secret, NotifyError>,
    /// The signing key, when `secret_env` is set.
    key: Option<Result<Secret, NotifyError>>,
}

impl WebhookChannel {
    pub(super) fn new(
        config: &WebhookConfig,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> WebhookChannel {
        let url = match (&config.url, &config.url_env) {
            (Some(url), _) => Ok(Secret::new(url.clone())),
            (None, Some(variable)) => super::secret(env, variable),
            (None, None) => Err(NotifyError::Unconfigured {
                message: "a webhook channel needs `url` or `url_env`".to_string(),
            }),
        };
        WebhookChannel {
            url,
            key: config
                .secret_env
                .as_deref()
                .map(|variable| super::secret(env, variable)),
        }
    }

    pub(super) fn problem(&self) -> Option<NotifyError> {
        match (&self.url, &self.key) {
            (Err(error), _) | (_, Some(Err(error))) => Some(error.clone()),
            _ => None,
        }
    }
}

/// `sha256=HEX` of `body` under `key`.
pub fn signature(key: &[u8], body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    let tag = ring::hmac::sign(&key, body);
    let mut out = String::from("sha256=");
    for byte in tag.as_ref() {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

pub(super) async fn deliver(
    channel: Arc<WebhookChannel>,
    notification: Arc<Notification>,
    settings: DeliverySettings,
) -> (Result<Sent, NotifyError>, u32) {
    let url = match &channel.url {
        Ok(url) => url.clone(),
        Err(error) => return (Err(error.clone()), 0),
    };
    let key = match &channel.key {
        Some(Ok(key)) => Some(key.clone()),
        Some(Err(error)) => return (Err(error.clone()), 0),
        None => None,
    };
    let body = serde_json::to_vec(&notification.to_json()).unwrap_or_default();
    let mut headers = vec![("X-Weft-Event", notification.event.as_str().to_string())];
    if let Some(key) = &key {
        headers.push((SIGNATURE_HEADER, signature(key.expose().as_bytes(), &body)));
    }
    let request = Arc::new((body, headers));
    let (result, attempts) = with_retries(&settings, || {
        let url = url.clone();
        let key = key.clone();
        let request = Arc::clone(&request);
        blocking(move || {
            let (body, headers) = &*request;
            let mut secrets = vec![&url];
            secrets.extend(key.as_ref());
            http::post(&url, body, headers, settings.timeout, &secrets)
        })
    })
    .await;
    (result.map(|()| Sent::Done), attempts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_like_github() {
        // GitHub's documented example: secret "It's a Secret to Everybody",
        // payload "Hello, World!".
        assert_eq!(
            signature(b"It's a Secret to Everybody", b"Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }
}
