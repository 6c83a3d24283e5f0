//! Slack through an incoming webhook: the Block Kit message of
//! [`crate::render::slack`]. Incoming webhooks cannot reply in a thread, so
//! each notification is its own message; the deployment id in its context
//! line ties a release's messages together.

use std::sync::Arc;

use weft_model::config::SlackConfig;

use super::{Sent, blocking, http};
use crate::error::NotifyError;
use crate::notification::Notification;
use crate::render;
use crate::retry::{DeliverySettings, with_retries};
use crate::secret::Secret;

#[derive(Debug)]
pub(crate) struct SlackChannel {
    /// The webhook URL (a secret), or why there is none.
    url: Result<Secret, NotifyError>,
}

impl SlackChannel {
    pub(super) fn new(config: &SlackConfig, env: &dyn Fn(&str) -> Option<String>) -> SlackChannel {
        SlackChannel {
            url: super::secret(env, &config.webhook_env),
        }
    }

    pub(super) fn problem(&self) -> Option<NotifyError> {
        self.url.as_ref().err().cloned()
    }
}

pub(super) async fn deliver(
    channel: Arc<SlackChannel>,
    notification: Arc<Notification>,
    settings: DeliverySettings,
) -> (Result<Sent, NotifyError>, u32) {
    let url = match &channel.url {
        Ok(url) => url.clone(),
        Err(error) => return (Err(error.clone()), 0),
    };
    let body = Arc::new(serde_json::to_vec(&render::slack(&notification)).unwrap_or_default());
    let (result, attempts) = with_retries(&settings, || {
        let url = url.clone();
        let body = Arc::clone(&body);
        blocking(move || http::post(&url, &body, &[], settings.timeout, &[&url]))
    })
    .await;
    (result.map(|()| Sent::Done), attempts)
}
