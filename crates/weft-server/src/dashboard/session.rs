//! Who is looking at the dashboard: sessions started with a token on
//! `/login`, the viewer each request is for, and the checks every form post
//! passes.
//!
//! A session is signed, not stored: its `HttpOnly`, `SameSite=Strict`
//! cookie carries the token's name, when it expires and a random nonce,
//! with an HMAC-SHA256 keyed by the token's own secret. So every replica
//! with the same tokens reads it, a restart keeps it, and changing a
//! token's secret (or removing the token) ends its sessions. Signing out
//! clears the cookie and, on this replica, refuses its nonce until it
//! would have expired. The cookie also reads the API (`read` scope only),
//! which is how the page's event stream authenticates; changing anything
//! through the API still takes a bearer token.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::Form;
use axum::extract::{FromRequestParts, State};
use axum::http::header::{COOKIE, HOST, LOCATION, ORIGIN, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::html;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use serde::Deserialize;

use super::page::{Page, View};
use crate::auth::{Scope, Token, find_token, same};
use crate::state::AppState;

/// The session cookie's name.
pub(crate) const SESSION_COOKIE: &str = "weft_session";
/// How long a session lasts.
const LIFETIME_MS: i64 = 12 * 3600 * 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Session {
    pub(crate) name: String,
    pub(crate) scope: Scope,
    /// Sent back with every form: a post from another site cannot know it.
    pub(crate) form_key: String,
}

/// The sessions signed out on this replica, by nonce, until they expire.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    ended: Mutex<HashMap<String, i64>>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    SystemRandom::new()
        .fill(&mut buffer)
        .expect("the system's random number generator");
    hex(&buffer)
}

/// The signing key of a token's sessions.
fn key(token: &Token) -> hmac::Key {
    let mut material = b"weft dashboard session\0".to_vec();
    material.extend_from_slice(token.secret.as_bytes());
    hmac::Key::new(
        hmac::HMAC_SHA256,
        ring::digest::digest(&ring::digest::SHA256, &material).as_ref(),
    )
}

/// A cookie's parts: `NAME_HEX.EXPIRES_MS.NONCE.MAC_HEX`.
struct Signed<'a> {
    body: &'a str,
    name: String,
    expires: i64,
    nonce: &'a str,
    mac: Vec<u8>,
}

fn parse(cookie: &str) -> Option<Signed<'_>> {
    let (body, mac) = cookie.rsplit_once('.')?;
    let mut parts = body.split('.');
    let name = String::from_utf8(unhex(parts.next()?)?).ok()?;
    let expires = parts.next()?.parse().ok()?;
    let nonce = parts.next()?;
    if parts.next().is_some() || nonce.is_empty() {
        return None;
    }
    Some(Signed {
        body,
        name,
        expires,
        nonce,
        mac: unhex(mac)?,
    })
}

impl Sessions {
    /// A new session's cookie value for `token`.
    fn start(&self, token: &Token, now: i64) -> String {
        let body = format!(
            "{}.{}.{}",
            hex(token.name.as_bytes()),
            now + LIFETIME_MS,
            random_hex(16)
        );
        let mac = hmac::sign(&key(token), body.as_bytes());
        format!("{body}.{}", hex(mac.as_ref()))
    }

    /// The session a cookie stands for, if its signature holds under one
    /// of `tokens`, it has not expired and it was not signed out.
    pub(crate) fn get(&self, tokens: &[Token], cookie: &str, now: i64) -> Option<Session> {
        let signed = parse(cookie)?;
        if signed.expires <= now {
            return None;
        }
        let token = tokens
            .iter()
            .filter(|t| t.name == signed.name)
            .find(|t| hmac::verify(&key(t), signed.body.as_bytes(), &signed.mac).is_ok())?;
        let ended = self.ended.lock().unwrap_or_else(|p| p.into_inner());
        if ended.contains_key(signed.nonce) {
            return None;
        }
        let form = hmac::sign(&key(token), format!("form.{}", signed.nonce).as_bytes());
        Some(Session {
            name: token.name.clone(),
            scope: token.scopes.iter().copied().max().unwrap_or(Scope::Read),
            form_key: hex(&form.as_ref()[..16]),
        })
    }

    /// Signs a session out on this replica.
    fn end(&self, tokens: &[Token], cookie: &str, now: i64) {
        if self.get(tokens, cookie, now).is_none() {
            return;
        }
        if let Some(signed) = parse(cookie) {
            let mut ended = self.ended.lock().unwrap_or_else(|p| p.into_inner());
            ended.retain(|_, expires| *expires > now);
            ended.insert(signed.nonce.to_owned(), signed.expires);
        }
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
        let now = weft_store::time::now_ms();
        let session = session_id(&parts.headers).and_then(|id| {
            state
                .dashboard
                .sessions
                .get(&state.settings.tokens, id, now)
        });
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
        Some(expected) => form_key.is_some_and(|given| same(given.as_bytes(), expected.as_bytes())),
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
    let Some(token) = find_token(&state.settings.tokens, form.token.trim()) else {
        tracing::warn!("dashboard sign-in with an unknown token");
        let back = format!("/login?failed=1&next={}", weft_github::encode_path(&next));
        return see_other(&back, None);
    };
    let id = state
        .dashboard
        .sessions
        .start(token, weft_store::time::now_ms());
    let secure = if state.settings.tls.is_some() {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        LIFETIME_MS / 1000
    );
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
        state
            .dashboard
            .sessions
            .end(&state.settings.tokens, id, weft_store::time::now_ms());
    }
    let cookie = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    see_other("/", Some(cookie))
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

    fn token(name: &str, secret: &str, scope: Scope) -> Token {
        Token {
            name: name.into(),
            secret: secret.into(),
            scopes: vec![scope],
        }
    }

    #[test]
    fn sessions_are_signed_by_their_token() {
        let tokens = vec![
            token("ops", "s3cret", Scope::Admin),
            token("ci", "other", Scope::Write),
        ];
        let now = 1_000_000;
        let cookie = Sessions::default().start(&tokens[0], now);
        // Another replica, or this one after a restart, reads it.
        let other = Sessions::default();
        let session = other.get(&tokens, &cookie, now + 1).expect("a session");
        assert_eq!(session.name, "ops");
        assert_eq!(session.scope, Scope::Admin);
        assert_eq!(session.form_key.len(), 32);
        assert_eq!(other.get(&tokens, &cookie, now + 2), Some(session));
        // Expired, tampered with, or its token's secret changed: nobody.
        assert!(other.get(&tokens, &cookie, now + LIFETIME_MS).is_none());
        let (body, mac) = cookie.rsplit_once('.').unwrap();
        let longer = body.replace(&format!(".{}.", now + LIFETIME_MS), ".99999999999999.");
        assert!(
            other
                .get(&tokens, &format!("{longer}.{mac}"), now)
                .is_none()
        );
        let as_ci = cookie.replacen(&hex(b"ops"), &hex(b"ci"), 1);
        assert!(other.get(&tokens, &as_ci, now).is_none());
        let rotated = vec![token("ops", "new-secret", Scope::Admin)];
        assert!(other.get(&rotated, &cookie, now).is_none());
        for junk in ["", "x", "6f7073.1.2", "zz.1.n.00", "6f7073.1.n.zz"] {
            assert!(other.get(&tokens, junk, now).is_none(), "{junk}");
        }
        // Signed out here: refused here.
        other.end(&tokens, &cookie, now);
        assert!(other.get(&tokens, &cookie, now).is_none());
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
