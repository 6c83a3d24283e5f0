//! Something that happened on a fixture's pull request or issue, some time
//! before the fixture was added: a comment, a review, a commit, a label put
//! on or taken off.

use std::time::Duration;

/// What happened on a [`Pull`](super::Pull) or an
/// [`IssueSpec`](super::IssueSpec), `age` before the repository was added.
///
/// A login that ends in `[bot]` is a bot (`type: "Bot"`); [`Activity::bot`]
/// makes any actor one.
#[derive(Debug, Clone)]
pub struct Activity {
    pub(crate) kind: ActivityKind,
    pub(crate) login: String,
    pub(crate) bot: bool,
    pub(crate) age: Duration,
    pub(crate) body: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ActivityKind {
    Comment,
    /// A review, with its state (`APPROVED`, `COMMENTED`).
    Review(&'static str),
    Commit,
    Labeled(String),
    Unlabeled(String),
}

impl Activity {
    fn new(kind: ActivityKind, login: &str, age: Duration) -> Activity {
        Activity {
            kind,
            login: login.to_string(),
            bot: false,
            age,
            body: None,
        }
    }

    /// A comment by `login`: an `IssueCommentEvent`, a `commented` timeline
    /// event and an entry of `/issues/{n}/comments`.
    pub fn comment(login: &str, age: Duration) -> Activity {
        Activity::new(ActivityKind::Comment, login, age)
    }

    /// A review by `login` in state `COMMENTED`.
    pub fn review(login: &str, age: Duration) -> Activity {
        Activity::new(ActivityKind::Review("COMMENTED"), login, age)
    }

    /// A review by `login` in state `APPROVED`.
    pub fn approval(login: &str, age: Duration) -> Activity {
        Activity::new(ActivityKind::Review("APPROVED"), login, age)
    }

    /// A commit authored and committed by `author_name` (also taken for the
    /// GitHub login of its `author`). On a pull request the newest commit is
    /// the head of its branch.
    pub fn commit(author_name: &str, age: Duration) -> Activity {
        Activity::new(ActivityKind::Commit, author_name, age)
    }

    /// `login` put `label` on; the label stays on unless a later
    /// [`Activity::unlabeled`] takes it off.
    pub fn labeled(login: &str, label: &str, age: Duration) -> Activity {
        Activity::new(ActivityKind::Labeled(label.to_string()), login, age)
    }

    /// `login` took `label` off.
    pub fn unlabeled(login: &str, label: &str, age: Duration) -> Activity {
        Activity::new(ActivityKind::Unlabeled(label.to_string()), login, age)
    }

    /// The actor is a bot: `type: "Bot"`, its login ending in `[bot]` (added
    /// when missing).
    pub fn bot(mut self) -> Activity {
        self.bot = true;
        self
    }

    /// The text of a comment or review, or the message of a commit.
    pub fn body(mut self, text: &str) -> Activity {
        self.body = Some(text.to_string());
        self
    }
}
