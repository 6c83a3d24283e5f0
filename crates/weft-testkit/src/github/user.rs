//! Who does things on the fake: the user behind every accepted token, and
//! the people and bots of a fixture; their `simple-user` objects and the
//! shorter `actor` of an event.

use std::hash::{DefaultHasher, Hash, Hasher};

use serde_json::{Value, json};

use super::repository::HTML_ROOT;

/// The login and id of the user behind every accepted token: the author of
/// what the fake's API creates.
pub(crate) const TOKEN_USER: (&str, u64) = ("weft-bot", 9_000_001);

/// A GitHub account: a user, or an app's bot (`dependabot[bot]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct User {
    pub(crate) login: String,
    pub(crate) id: u64,
    pub(crate) bot: bool,
}

impl User {
    /// `login`, a bot when `bot` is set or the login ends in `[bot]`; a bot's
    /// login always ends in `[bot]`, as GitHub's do.
    pub(crate) fn new(login: &str, bot: bool) -> User {
        let bot = bot || login.ends_with("[bot]");
        let login = if bot && !login.ends_with("[bot]") {
            format!("{login}[bot]")
        } else {
            login.to_string()
        };
        User {
            id: user_id(&login),
            login,
            bot,
        }
    }

    /// The user behind every accepted token.
    pub(crate) fn token() -> User {
        User::new(TOKEN_USER.0, false)
    }

    /// The `simple-user` object.
    pub(crate) fn json(&self, base: &str) -> Value {
        if !self.bot {
            return user_json(base, &self.login, self.id);
        }
        // An app's login has brackets, escaped in its URLs; its page is the app's.
        let escaped = self.login.replace('[', "%5B").replace(']', "%5D");
        let app = self.login.trim_end_matches("[bot]");
        account_json(
            base,
            &self.login,
            self.id,
            &escaped,
            &format!("{HTML_ROOT}/apps/{app}"),
            "Bot",
        )
    }

    /// The `actor` object of an event.
    pub(crate) fn actor_json(&self, base: &str) -> Value {
        let user = self.json(base);
        json!({
            "id": self.id,
            "login": self.login,
            "display_login": self.login.trim_end_matches("[bot]"),
            "gravatar_id": "",
            "url": user["url"],
            "avatar_url": user["avatar_url"],
        })
    }

    /// The `git-user` of a commit: name, a no-reply email and the date.
    pub(crate) fn git_json(&self, date: &str) -> Value {
        json!({
            "name": self.login,
            "email": format!("{}+{}@users.noreply.github.com", self.id, self.login),
            "date": date,
        })
    }
}

/// A stable id for `login`, the same for every spelling of its case; the
/// token's user keeps its own.
pub(crate) fn user_id(login: &str) -> u64 {
    if login.eq_ignore_ascii_case(TOKEN_USER.0) {
        return TOKEN_USER.1;
    }
    let mut hasher = DefaultHasher::new();
    login.to_ascii_lowercase().hash(&mut hasher);
    10_000_000 + hasher.finish() % 89_000_000
}

/// A `simple-user` object of type `User`.
pub(crate) fn user_json(base: &str, login: &str, id: u64) -> Value {
    account_json(
        base,
        login,
        id,
        login,
        &format!("{HTML_ROOT}/{login}"),
        "User",
    )
}

/// A `simple-user` object: its API URLs under `/users/{url_login}`.
fn account_json(
    base: &str,
    login: &str,
    id: u64,
    url_login: &str,
    html_url: &str,
    kind: &str,
) -> Value {
    let api = format!("{base}/users/{url_login}");
    json!({
        "login": login,
        "id": id,
        "node_id": format!("U_kgDO{id:08X}"),
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{id}?v=4"),
        "gravatar_id": "",
        "url": api,
        "html_url": html_url,
        "followers_url": format!("{api}/followers"),
        "following_url": format!("{api}/following{{/other_user}}"),
        "gists_url": format!("{api}/gists{{/gist_id}}"),
        "starred_url": format!("{api}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{api}/subscriptions"),
        "organizations_url": format!("{api}/orgs"),
        "repos_url": format!("{api}/repos"),
        "events_url": format!("{api}/events{{/privacy}}"),
        "received_events_url": format!("{api}/received_events"),
        "type": kind,
        "user_view_type": "public",
        "site_admin": false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bots_end_in_bot_and_ids_are_stable() {
        let marked = User::new("renovate", true);
        assert_eq!(marked.login, "renovate[bot]");
        assert!(User::new("dependabot[bot]", false).bot);
        assert!(!User::new("alice", false).bot);
        assert_eq!(user_id("Alice"), user_id("alice"));
        assert_ne!(user_id("alice"), user_id("bob"));
        assert_eq!(User::token().id, TOKEN_USER.1);
        let json = marked.json("http://h");
        assert_eq!(json["type"], "Bot");
        assert_eq!(json["url"], "http://h/users/renovate%5Bbot%5D");
        assert_eq!(marked.actor_json("http://h")["display_login"], "renovate");
    }
}
