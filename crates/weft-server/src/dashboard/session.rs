//! Who is looking at the dashboard: sessions started with a token on
//! `/login`, the viewer each request is for, and the checks every form post
//! passes.
//!
//! A session is a random id in an `HttpOnly`, `SameSite=Strict` cookie; the
//! server keeps what it stands for (the token's name and scope, and the
//! form key) in memory, so a restart signs everyone out. The cookie also
//! reads the API (`read` scope only), which is how the page's event stream
//! authenticates; changing anything through the API still takes a bearer
//! token.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Form;
use axum::extract::{FromRequestParts, State};
use axum::http::header::{COOKIE, HOST, LOCATION, ORIGIN, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::html;
use ring::rand::{SecureRandom, SystemRandom};
use serde::Deserialize;

use super::page::{Page, View};
use crate::auth::{Scope, Token};
use crate::state::AppState;

/// The session cookie's name.
pub(crate) const SESSION_COOKIE: &str = "weft_session";
/// How long a session lasts without being used.
const IDLE: Duration = Duration::from_secs(12 * 3600);
/// More sessions than this and the least recently used go.
const MAX_SESSIONS: usize = 10_000;

#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) name: String,
    pub(crate) scope: Scope,
    /// Sent back with every form: a post from another site cannot know it.
    pub(crate) form_key: String,
    used: Instant,
}

/// The sessions this server started.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    SystemRandom::new()
        .fill(&mut buffer)
        .expect("the system's random number generator");
    buffer.iter().map(|b| format!("{b:02x}")).collect()
}

impl Sessions {
    fn start(&self, name: &str, scope: Scope) -> String {
        let id = random_hex(32);
        let session = Session {
            name: name.to_owned(),
            scope,
            form_key: random_hex(16),
            used: Instant::now(),
        };
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, s| s.used.elapsed() < IDLE);
        if map.len() >= MAX_SESSIONS
            && let Some(oldest) = map
                .iter()
                .min_by_key(|(_, s)| s.used)
                .map(|(id, _)| id.clone())
        {
            map.remove(&oldest);
        }
        map.insert(id.clone(), session);
        id
    }

    /// The live session `id` stands for, marked as used now.
    pub(crate) fn get(&self, id: &str) -> Option<Session> {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        match map.get_mut(id) {
            Some(session) if session.used.elapsed() < IDLE => {
                session.used = Instant::now();
                Some(session.clone())
            }
            Some(_) => {
                map.remove(id);
                None
            }
            None => None,
        }
    }

    fn end(&self, id: &str) {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }
}

/// The session id in the request's cookies, if any.
pub(crate) fn session_id(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value)
}

/// Who a page is for, and what it may show them.
#[derive(Debug, Clone)]
pub(crate) struct Viewer {
    /// The token's name, `anonymous` when the server has no tokens, or
    /// `None` before signing in on a server that has.
    pub(crate) name: Option<String>,
    /// What the viewer may do; `None`: nothing, not even read.
    pub(crate) scope: Option<Scope>,
    /// The session's form key (no session: none needed).
    pub(crate) form_key: Option<String>,
    /// Whether the server asks for tokens at all.
    pub(crate) tokens: bool,
}

impl Viewer {
    pub(crate) fn may(&self, needed: Scope) -> bool {
        self.scope.is_some_and(|scope| scope >= needed)
    }
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if state.settings.tokens.is_empty() {
            // No tokens: the API lets every request through, and so does the
            // page (the server listens on loopback only).
            return Ok(Viewer {
                name: Some("anonymous".to_owned()),
                scope: Some(Scope::Admin),
                form_key: None,
                tokens: false,
            });
        }
        let session = session_id(&parts.headers).and_then(|id| state.dashboard.sessions.get(id));
        Ok(match session {
            Some(session) => Viewer {
                name: Some(session.name),
                scope: Some(session.scope),
                form_key: Some(session.form_key),
                tokens: true,
            },
            None => Viewer {
                name: None,
                scope: None,
                form_key: None,
                tokens: true,
            },
        })
    }
}

/// Where a form post came from, read off the request: whether it is from
/// this server's own pages, and the session it carries.
#[derive(Debug, Clone)]
pub(crate) struct FormPost {
    same_origin: bool,
    session: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for FormPost {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // HTTP/2 has no `Host` header: the authority is in the URI.
        let authority = parts.uri.authority().map(|a| a.as_str().to_owned());
        Ok(FormPost {
            same_origin: same_origin(&parts.headers, authority.as_deref()),
            session: session_id(&parts.headers).map(str::to_owned),
        })
    }
}

/// Whether a post's `Origin` is this server (`Host`, or the URI's
/// authority). Without an `Origin`, `Sec-Fetch-Site` decides; a client
/// that sends neither is no browser on another site.
fn same_origin(headers: &HeaderMap, authority: Option<&str>) -> bool {
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .or(authority);
    let origin = headers.get(ORIGIN).and_then(|h| h.to_str().ok());
    match (origin, host) {
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_some_and(|(_, rest)| rest.eq_ignore_ascii_case(host)),
        (None, _) => headers
            .get("sec-fetch-site")
            .and_then(|h| h.to_str().ok())
            .is_none_or(|site| site == "same-origin" || site == "none"),
        (Some(_), None) => false,
    }
}

/// Refuses a form post from another site, and, with a session, one
/// without its form key.
pub(crate) fn check_post(
    viewer: &Viewer,
    post: &FormPost,
    form_key: Option<&str>,
) -> Result<(), Refused> {
    let key_ok = match &viewer.form_key {
        Some(expected) => form_key.is_some_and(|given| same(given, expected)),
        None => true,
    };
    if post.same_origin && key_ok {
        Ok(())
    } else {
        Err(Refused::Origin)
    }
}

/// A form post turned away.
#[derive(Debug)]
pub(crate) enum Refused {
    /// From another site, or without the session's form key.
    Origin,
    /// The viewer's token lacks the scope.
    Scope(Scope),
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let message = match self {
            Refused::Origin => "refused: this form was not sent from this server's dashboard \
                 (reload the page and try again)"
                .to_owned(),
            Refused::Scope(scope) => format!(
                "refused: this takes a token with the `{}` scope",
                scope.as_str()
            ),
        };
        (StatusCode::FORBIDDEN, message).into_response()
    }
}

/// Checks an action's form post ([`check_post`]) and the viewer's scope;
/// answers who acts, for the audit trail.
pub(crate) fn authorize_action(
    viewer: &Viewer,
    post: &FormPost,
    form_key: Option<&str>,
    needed: Scope,
) -> Result<String, Refused> {
    check_post(viewer, post, form_key)?;
    if !viewer.may(needed) {
        return Err(Refused::Scope(needed));
    }
    Ok(viewer
        .name
        .clone()
        .unwrap_or_else(|| "dashboard".to_owned()))
}

fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A path on this server to go back to; anything else goes home.
pub(crate) fn local_path(next: Option<&str>) -> String {
    match next {
        // A path of visible ASCII only: browsers drop tabs and newlines
        // from a `Location`, so `/\t/host` would become `//host`.
        Some(next)
            if next.starts_with('/')
                && next.bytes().all(|b| b.is_ascii_graphic())
                && !matches!(next.as_bytes().get(1), Some(b'/' | b'\\')) =>
        {
            next.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// 303 to `to`, optionally setting a cookie.
pub(crate) fn see_other(to: &str, cookie: Option<String>) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(to) {
        response.headers_mut().insert(LOCATION, value);
    }
    if let Some(cookie) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().insert(SET_COOKIE, cookie);
    }
    response
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct LoginQuery {
    next: Option<String>,
    failed: Option<String>,
}

pub(crate) async fn login_form(
    viewer: Viewer,
    axum::extract::Query(query): axum::extract::Query<LoginQuery>,
) -> Response {
    let next = local_path(query.next.as_deref());
    let body = html! {
        h1 { "Sign in" }
        @if !viewer.tokens {
            p { "This server asks for no token: every view and action is open to anyone who can reach it (it listens on loopback only)." }
        } @else {
            @if query.failed.is_some() {
                p.notice.bad role="alert" { "That token is not one this server knows." }
            }
            @if let Some(name) = &viewer.name {
                p { "Signed in as " strong { (name) } ". Another token replaces it." }
            }
            p { "Enter a token from " code { "weft serve --token" } " (or " code { "WEFT_TOKENS" } "). It is kept in this browser's session with the server, never in a URL. A " code { "read" } " token shows every view; " code { "write" } " adds acknowledging alerts; " code { "admin" } " adds force-releasing leases." }
            form.login method="post" action="/login" {
                input type="hidden" name="next" value=(next);
                label for="token" { "Token" }
                input #token type="password" name="token" autocomplete="current-password" required autofocus;
                button type="submit" { "Sign in" }
            }
        }
    };
    Page::new(View::Login, "Sign in", body).render(&viewer, false)
}

#[derive(Debug, Deserialize)]
pub(crate) struct LoginForm {
    token: String,
    next: Option<String>,
}

fn find_token<'a>(tokens: &'a [Token], presented: &str) -> Option<&'a Token> {
    tokens
        .iter()
        .find(|token| same(token.secret.as_str(), presented.trim()))
}

pub(crate) async fn login(
    State(state): State<AppState>,
    viewer: Viewer,
    post: FormPost,
    Form(form): Form<LoginForm>,
) -> Response {
    // Signing in sets a cookie: only from this server's own form.
    let anonymous = Viewer {
        form_key: None,
        ..viewer
    };
    if let Err(refused) = check_post(&anonymous, &post, None) {
        return refused.into_response();
    }
    let next = local_path(form.next.as_deref());
    let Some(token) = find_token(&state.settings.tokens, &form.token) else {
        tracing::warn!("dashboard sign-in with an unknown token");
        let back = format!("/login?failed=1&next={}", encode_component(&next));
        return see_other(&back, None);
    };
    let scope = token.scopes.iter().copied().max().unwrap_or(Scope::Read);
    let id = state.dashboard.sessions.start(&token.name, scope);
    let secure = if state.settings.tls.is_some() {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!("{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict{secure}");
    see_other(&next, Some(cookie))
}

#[derive(Debug, Deserialize)]
pub(crate) struct LogoutForm {
    form_key: Option<String>,
}

pub(crate) async fn logout(
    State(state): State<AppState>,
    viewer: Viewer,
    post: FormPost,
    Form(form): Form<LogoutForm>,
) -> Response {
    if let Err(refused) = check_post(&viewer, &post, form.form_key.as_deref()) {
        return refused.into_response();
    }
    if let Some(id) = &post.session {
        state.dashboard.sessions.end(id);
    }
    let cookie = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    see_other("/", Some(cookie))
}

/// Percent-encodes a query value.
pub(crate) fn encode_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(byte as char);
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(local_path(Some("/leases")), "/leases");
        assert_eq!(local_path(Some("//evil.example")), "/");
        assert_eq!(local_path(Some("https://evil.example")), "/");
        assert_eq!(local_path(Some("/\\evil.example")), "/");
        assert_eq!(local_path(Some("/\t/evil.example")), "/");
        assert_eq!(local_path(Some("/leases?x=a b")), "/");
        assert_eq!(
            local_path(Some("/login?next=/alerts")),
            "/login?next=/alerts"
        );
        assert_eq!(local_path(None), "/");
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            HeaderValue::from_static("a=1; weft_session=abc; b=2"),
        );
        assert_eq!(session_id(&headers), Some("abc"));
        headers.insert(COOKIE, HeaderValue::from_static("weft_sessionx=abc"));
        assert_eq!(session_id(&headers), None);
    }

    #[test]
    fn sessions_end() {
        let sessions = Sessions::default();
        let id = sessions.start("ops", Scope::Admin);
        assert_eq!(sessions.get(&id).map(|s| s.scope), Some(Scope::Admin));
        sessions.end(&id);
        assert!(sessions.get(&id).is_none());
        assert!(sessions.get("made-up").is_none());
    }

    #[test]
    fn a_post_from_another_site_is_refused() {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_static("127.0.0.1:7700"));
        headers.insert(ORIGIN, HeaderValue::from_static("http://127.0.0.1:7700"));
        assert!(same_origin(&headers, None));
        headers.insert(ORIGIN, HeaderValue::from_static("http://evil.example"));
        assert!(!same_origin(&headers, None));
        headers.remove(ORIGIN);
        headers.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(!same_origin(&headers, None));
        headers.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(same_origin(&headers, None));
        // HTTP/2: no Host header; the URI's authority stands for it.
        let mut h2 = HeaderMap::new();
        h2.insert(
            ORIGIN,
            HeaderValue::from_static("https://weft.internal:7700"),
        );
        assert!(same_origin(&h2, Some("weft.internal:7700")));
        assert!(!same_origin(&h2, Some("other.internal:7700")));
        assert!(!same_origin(&h2, None));
    }

    #[test]
    fn a_post_needs_the_sessions_form_key() {
        let viewer = Viewer {
            name: Some("ops".into()),
            scope: Some(Scope::Read),
            form_key: Some("k".into()),
            tokens: true,
        };
        let post = FormPost {
            same_origin: true,
            session: None,
        };
        assert!(check_post(&viewer, &post, Some("k")).is_ok());
        assert!(check_post(&viewer, &post, Some("x")).is_err());
        assert!(check_post(&viewer, &post, None).is_err());
        assert!(matches!(
            authorize_action(&viewer, &post, Some("k"), Scope::Admin),
            Err(Refused::Scope(Scope::Admin))
        ));
        let elsewhere = FormPost {
            same_origin: false,
            session: None,
        };
        assert!(check_post(&viewer, &elsewhere, Some("k")).is_err());
    }
}
