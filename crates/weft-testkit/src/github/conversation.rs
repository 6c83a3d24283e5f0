//! What a fixture's pull request and plain issue have in common: number,
//! author, title, labels, milestone, assignees, when opened and closed, and
//! what happened on it since.

use std::time::Duration;

use super::activity::Activity;

/// The part of an issue that a pull request shares.
#[derive(Debug, Clone)]
pub(crate) struct Conversation {
    pub(crate) number: u64,
    pub(crate) author: String,
    pub(crate) bot_author: bool,
    pub(crate) title: String,
    pub(crate) body: String,
    pub(crate) age: Duration,
    pub(crate) labels: Vec<String>,
    pub(crate) milestone: Option<String>,
    pub(crate) assignees: Vec<String>,
    pub(crate) closed: Option<Duration>,
    pub(crate) activities: Vec<Activity>,
}

impl Conversation {
    /// Opened a week ago, titled after its number.
    pub(crate) fn new(number: u64, author: &str, noun: &str) -> Conversation {
        Conversation {
            number,
            author: author.to_string(),
            bot_author: false,
            title: format!("{noun} #{number}"),
            body: String::new(),
            age: Duration::from_secs(7 * 86_400),
            labels: Vec::new(),
            milestone: None,
            assignees: Vec::new(),
            closed: None,
            activities: Vec::new(),
        }
    }

    /// The age of the first thing: the oldest of its opening and activities.
    pub(crate) fn oldest_age(&self) -> Duration {
        self.activities
            .iter()
            .map(|a| a.age)
            .fold(self.age, Duration::max)
    }
}
