//! Bearer tokens with scopes. `admin` implies `write`, which implies `read`.
//! With no token configured every request is allowed, and the server only
//! listens on loopback (see `serve`).

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    Read,
    Write,
    Admin,
}

impl Scope {
    pub fn parse(text: &str) -> Option<Scope> {
        match text {
            "read" => Some(Scope::Read),
            "write" => Some(Scope::Write),
            "admin" => Some(Scope::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Admin => "admin",
        }
    }
}

/// A named secret and what it may do. `Debug` hides the secret.
#[derive(Clone)]
pub struct Token {
    pub name: String,
    pub secret: String,
    pub scopes: Vec<Scope>,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("name", &self.name)
            .field("secret", &"***")
            .field("scopes", &self.scopes)
            .finish()
    }
}

impl Token {
    fn allows(&self, needed: Scope) -> bool {
        self.scopes.iter().any(|scope| *scope >= needed)
    }
}

/// Compares without leaking where the first difference is.
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The token whose secret is `presented`, compared in constant time.
pub(crate) fn find_token<'a>(tokens: &'a [Token], presented: &str) -> Option<&'a Token> {
    tokens
        .iter()
        .find(|token| same(token.secret.as_bytes(), presented.as_bytes()))
}

/// Who called: the token's name, or `anonymous` where no token is needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Caller(pub String);

/// Checks the bearer token for `needed`.
pub(crate) fn authorize(
    state: &AppState,
    headers: &HeaderMap,
    needed: Scope,
    open: bool,
) -> Result<Caller, ApiError> {
    if state.settings.tokens.is_empty() || open {
        return Ok(Caller("anonymous".to_owned()));
    }
    let header = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().split_once(' '))
        // The scheme is case-insensitive (RFC 9110 §11.1).
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    let Some(presented) = header else {
        // The dashboard's session cookie reads (its event stream cannot
        // send a header); changing anything takes a bearer token, so a
        // page on another site cannot act with the cookie.
        if needed == Scope::Read
            && let Some(session) = crate::dashboard::session_id(headers).and_then(|id| {
                state
                    .dashboard
                    .sessions
                    .get(&state.settings.tokens, id, weft_store::time::now_ms())
            })
        {
            return Ok(Caller(session.name));
        }
        return Err(ApiError::unauthorized(
            "missing bearer token: send `Authorization: Bearer TOKEN` (weft reads WEFT_TOKEN)",
        ));
    };
    match find_token(&state.settings.tokens, presented) {
        None => Err(ApiError::unauthorized("unknown bearer token")),
        Some(token) if !token.allows(needed) => Err(ApiError::forbidden(format!(
            "token `{}` lacks the `{}` scope",
            token.name,
            needed.as_str()
        ))),
        Some(token) => Ok(Caller(token.name.clone())),
    }
}

/// The scope a handler needs, as a type.
pub(crate) trait Needs: Send + Sync {
    const SCOPE: Scope;
}

#[derive(Debug)]
pub(crate) struct ReadScope;
#[derive(Debug)]
pub(crate) struct WriteScope;
#[derive(Debug)]
pub(crate) struct AdminScope;

impl Needs for ReadScope {
    const SCOPE: Scope = Scope::Read;
}
impl Needs for WriteScope {
    const SCOPE: Scope = Scope::Write;
}
impl Needs for AdminScope {
    const SCOPE: Scope = Scope::Admin;
}

/// An extractor that rejects callers without scope `N`.
#[derive(Debug)]
pub(crate) struct Authorized<N: Needs> {
    pub(crate) caller: Caller,
    scope: PhantomData<N>,
}

impl<N: Needs> FromRequestParts<AppState> for Authorized<N> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(Authorized {
            caller: authorize(state, &parts.headers, N::SCOPE, false)?,
            scope: PhantomData,
        })
    }
}

/// `read`, unless `open_health` leaves health and metrics open.
#[derive(Debug)]
pub(crate) struct HealthAccess;

impl FromRequestParts<AppState> for HealthAccess {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authorize(
            state,
            &parts.headers,
            Scope::Read,
            state.settings.open_health,
        )?;
        Ok(HealthAccess)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_imply_lesser_ones() {
        let token = Token {
            name: "ci".into(),
            secret: "s".into(),
            scopes: vec![Scope::Write],
        };
        assert!(token.allows(Scope::Read));
        assert!(token.allows(Scope::Write));
        assert!(!token.allows(Scope::Admin));
        assert!(!format!("{token:?}").contains("\"s\""));
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"abcd"));
    }
}
