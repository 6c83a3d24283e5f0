//! What became of one notification on one channel.

use serde::{Serialize, Serializer};

/// One channel's delivery of one notification: sent or not, after how many
/// attempts. A failure is recorded here, never raised.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delivery {
    /// The channel's name under `notify.channels`.
    pub channel: String,
    /// The rule that routed it; `None` for `notify_test`.
    pub rule: Option<String>,
    /// Sent because the release stayed unresolved past `escalate_after`.
    pub escalation: bool,
    pub ok: bool,
    /// Attempts made; 0 when the channel had nothing to do (a GitHub-issue
    /// channel told of a start).
    pub attempts: u32,
    /// Why it failed, with secrets redacted.
    pub error: Option<String>,
    /// When the last attempt ended.
    #[serde(serialize_with = "timestamp")]
    pub at: jiff::Timestamp,
}

fn timestamp<S: Serializer>(at: &jiff::Timestamp, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(at)
}
