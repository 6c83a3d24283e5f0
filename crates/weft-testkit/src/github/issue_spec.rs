//! A plain issue as a test sets it up on a [`Repository`](super::Repository).

use std::time::Duration;

use super::activity::Activity;
use super::conversation::Conversation;

/// An issue (not a pull request) that a repository already has when added.
/// Issues and pull requests share one number space per repository; issues
/// opened later through the API are numbered after every fixture.
///
/// ```
/// use std::time::Duration;
/// use weft_testkit::github::{Activity, IssueSpec};
///
/// let day = Duration::from_secs(86_400);
/// let issue = IssueSpec::new(3, "alice")
///     .title("Crash on start")
///     .age(40 * day)
///     .labels(&["bug"])
///     .activity(Activity::comment("bob", 2 * day));
/// ```
#[derive(Debug, Clone)]
pub struct IssueSpec {
    pub(crate) conversation: Conversation,
}

impl IssueSpec {
    /// Issue `number`, opened by `author` a week before the repository is
    /// added; open, titled `Issue #{number}`.
    pub fn new(number: u64, author: &str) -> IssueSpec {
        IssueSpec {
            conversation: Conversation::new(number, author, "Issue"),
        }
    }

    pub fn title(mut self, title: &str) -> IssueSpec {
        self.conversation.title = title.to_string();
        self
    }

    pub fn body(mut self, body: &str) -> IssueSpec {
        self.conversation.body = body.to_string();
        self
    }

    /// How long ago it was opened.
    pub fn age(mut self, age: Duration) -> IssueSpec {
        self.conversation.age = age;
        self
    }

    /// Labels on it since it was opened (put on by its author).
    pub fn labels(mut self, labels: &[&str]) -> IssueSpec {
        self.conversation.labels = labels.iter().map(ToString::to_string).collect();
        self
    }

    pub fn milestone(mut self, title: &str) -> IssueSpec {
        self.conversation.milestone = Some(title.to_string());
        self
    }

    pub fn assignee(mut self, login: &str) -> IssueSpec {
        self.conversation.assignees.push(login.to_string());
        self
    }

    /// The author is a bot (its login ends in `[bot]`).
    pub fn bot_author(mut self) -> IssueSpec {
        self.conversation.bot_author = true;
        self
    }

    /// Closed `age` ago (as completed, by its author).
    pub fn closed(mut self, age: Duration) -> IssueSpec {
        self.conversation.closed = Some(age);
        self
    }

    /// Something that happened on it. Reviews and commits are kept as given,
    /// though GitHub's issues have none.
    pub fn activity(mut self, activity: Activity) -> IssueSpec {
        self.conversation.activities.push(activity);
        self
    }
}
