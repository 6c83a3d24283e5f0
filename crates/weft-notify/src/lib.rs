//! weft's release notifications: the `notify:` keys of weft.yaml put to work.
//!
//! A [`Notification`] (an event of a release, with its environment,
//! deployment, services and links) goes through the rules to the channels
//! they name — Slack (Block Kit over an incoming webhook), email (SMTP, text
//! and HTML, one thread per release), GitHub issues (one incident per
//! environment and service, closed on recovery) and signed webhooks — each
//! delivery retried with backoff and recorded as a [`Delivery`]. Rules with
//! `escalate_after` escalate a release still unresolved after the delay.
//!
//! `weft deploy` sends its events here; the monitor will too.

mod channel;
mod delivery;
mod error;
mod escalation;
mod notification;
mod notifier;
mod render;
mod retry;
mod secret;

pub use channel::{SIGNATURE_HEADER, fingerprint_marker, signature};
pub use delivery::Delivery;
pub use error::NotifyError;
pub use escalation::Escalation;
pub use notification::{Link, Notification, ServiceVersion};
pub use notifier::Notifier;
pub use render::escape_html;
pub use retry::DeliverySettings;
pub use weft_model::config::{
    ChannelConfig, NotifyConfig, NotifyEvent, NotifySeverity, RuleConfig,
};
