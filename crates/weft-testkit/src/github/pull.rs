//! A pull request as a test sets it up on a [`Repository`](super::Repository).

use std::time::Duration;

use super::activity::Activity;
use super::conversation::Conversation;

/// A pull request from a branch of the same repository into its default
/// branch, which the repository already has when added. Pull requests and
/// issues share one number space per repository.
///
/// Its head branch (`pr-{number}` unless set) is one of the repository's
/// branches, unless [`Pull::head_deleted`]; the branch's head commit is its
/// newest [`Activity::commit`], or one made by the author when it was
/// opened.
///
/// ```
/// use std::time::Duration;
/// use weft_testkit::github::{Activity, Pull};
///
/// let day = Duration::from_secs(86_400);
/// let pull = Pull::new(7, "alice")
///     .title("Add a cache")
///     .age(60 * day)
///     .labels(&["enhancement"])
///     .activity(Activity::commit("alice", 59 * day))
///     .activity(Activity::comment("dependabot[bot]", day));
/// ```
#[derive(Debug, Clone)]
pub struct Pull {
    pub(crate) conversation: Conversation,
    pub(crate) draft: bool,
    pub(crate) head: String,
    pub(crate) head_deleted: bool,
    pub(crate) merged: Option<Duration>,
}

impl Pull {
    /// Pull request `number` by `author`, opened a week before the
    /// repository is added from branch `pr-{number}`; open, not a draft,
    /// titled `Pull request #{number}`.
    pub fn new(number: u64, author: &str) -> Pull {
        Pull {
            conversation: Conversation::new(number, author, "Pull request"),
            draft: false,
            head: format!("pr-{number}"),
            head_deleted: false,
            merged: None,
        }
    }

    pub fn title(mut self, title: &str) -> Pull {
        self.conversation.title = title.to_string();
        self
    }

    pub fn body(mut self, body: &str) -> Pull {
        self.conversation.body = body.to_string();
        self
    }

    /// How long ago it was opened.
    pub fn age(mut self, age: Duration) -> Pull {
        self.conversation.age = age;
        self
    }

    pub fn draft(mut self, draft: bool) -> Pull {
        self.draft = draft;
        self
    }

    /// Labels on it since it was opened (put on by its author).
    pub fn labels(mut self, labels: &[&str]) -> Pull {
        self.conversation.labels = labels.iter().map(ToString::to_string).collect();
        self
    }

    pub fn milestone(mut self, title: &str) -> Pull {
        self.conversation.milestone = Some(title.to_string());
        self
    }

    /// Assigns `login`; repeat for more.
    pub fn assignee(mut self, login: &str) -> Pull {
        self.conversation.assignees.push(login.to_string());
        self
    }

    /// The head branch's name.
    pub fn head(mut self, branch: &str) -> Pull {
        self.head = branch.to_string();
        self
    }

    /// The head branch is gone: not listed, not deletable.
    pub fn head_deleted(mut self) -> Pull {
        self.head_deleted = true;
        self
    }

    /// Merged (so closed) `age` ago, by its author.
    pub fn merged(mut self, age: Duration) -> Pull {
        self.merged = Some(age);
        self.conversation.closed = Some(age);
        self
    }

    /// Closed without merging `age` ago, by its author.
    pub fn closed(mut self, age: Duration) -> Pull {
        self.merged = None;
        self.conversation.closed = Some(age);
        self
    }

    /// The author is a bot: `user.type` is `Bot` and its login ends in
    /// `[bot]` (added when missing).
    pub fn bot_author(mut self) -> Pull {
        self.conversation.bot_author = true;
        self
    }

    /// Something that happened on it; repeat for more.
    pub fn activity(mut self, activity: Activity) -> Pull {
        self.conversation.activities.push(activity);
        self
    }
}
