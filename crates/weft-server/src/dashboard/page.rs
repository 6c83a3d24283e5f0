//! The page around every view: the navigation, who is signed in, the
//! live-update status, and the headers every page carries. A request with
//! `X-Weft-Fragment: 1` (the live script's) gets the view alone.

use axum::extract::FromRequestParts;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

use super::assets;
use super::session::{Viewer, see_other};
use crate::auth::Scope;

/// The views, in the navigation's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum View {
    Graph,
    Services,
    Leases,
    Releases,
    Alerts,
    Health,
    Login,
}

const NAVIGATION: [(View, &str, &str); 6] = [
    (View::Graph, "/", "Graph"),
    (View::Services, "/services", "Services"),
    (View::Leases, "/leases", "Leases"),
    (View::Releases, "/releases", "Releases"),
    (View::Alerts, "/alerts", "Alerts"),
    (View::Health, "/health", "Health"),
];

/// Whether the live script asked for the view alone.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fragment(pub(crate) bool);

impl<S: Send + Sync> FromRequestParts<S> for Fragment {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Fragment(
            parts
                .headers
                .get("x-weft-fragment")
                .is_some_and(|v| v == "1"),
        ))
    }
}

/// One rendered view.
#[derive(Debug)]
pub(crate) struct Page {
    view: View,
    title: String,
    body: Markup,
    /// The event kinds that change this view.
    live: &'static [&'static str],
    /// The last event the view includes: the stream starts after it.
    since: Option<i64>,
}

impl Page {
    pub(crate) fn new(view: View, title: impl Into<String>, body: Markup) -> Page {
        Page {
            view,
            title: title.into(),
            body,
            live: &[],
            since: None,
        }
    }

    /// The view is fetched again when one of these events arrives.
    pub(crate) fn live(mut self, kinds: &'static [&'static str]) -> Page {
        self.live = kinds;
        self
    }

    /// The last event id the view was built after.
    pub(crate) fn since(mut self, event: Option<i64>) -> Page {
        self.since = event;
        self
    }

    pub(crate) fn render(self, viewer: &Viewer, fragment: bool) -> Response {
        let markup = if fragment {
            self.body
        } else {
            html! {
                (DOCTYPE)
                html lang="en" {
                    head {
                        meta charset="utf-8";
                        meta name="viewport" content="width=device-width, initial-scale=1";
                        title { (self.title) " · weft" }
                        link rel="stylesheet" href=(assets::url("dashboard.css"));
                        link rel="icon" href=(assets::url("favicon.svg")) type="image/svg+xml";
                        script src=(assets::url("dashboard.js")) defer {}
                    }
                    body {
                        a.skip href="#view" { "Skip to the view" }
                        header.top {
                            span.brand { "weft" }
                            nav aria-label="Views" {
                                @for (view, href, label) in NAVIGATION {
                                    @if view == self.view {
                                        a href=(href) aria-current="page" { (label) }
                                    } @else {
                                        a href=(href) { (label) }
                                    }
                                }
                            }
                            div.who { (who(viewer)) }
                            @if !self.live.is_empty() && viewer.may(Scope::Read) {
                                span #live-status role="status" data-state="off" { "static" }
                            }
                        }
                        main #view tabindex="-1" data-live=(self.live.join(" ")) data-since=[self.since] {
                            (self.body)
                        }
                    }
                }
            }
        };
        let mut response = markup.into_string().into_response();
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(
            "content-security-policy",
            HeaderValue::from_static(
                "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                 connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            ),
        );
        headers.insert(
            "x-content-type-options",
            HeaderValue::from_static("nosniff"),
        );
        headers.insert("referrer-policy", HeaderValue::from_static("same-origin"));
        response
    }
}

fn who(viewer: &Viewer) -> Markup {
    html! {
        @match (&viewer.name, viewer.tokens) {
            (_, false) => span title="weft serve has no tokens: everything is open on loopback" { "open (no tokens)" },
            (Some(name), true) => {
                span { (name) " · " (viewer.scope.map_or("", Scope::as_str)) }
                form.inline method="post" action="/logout" {
                    @if let Some(key) = &viewer.form_key { input type="hidden" name="form_key" value=(key); }
                    button.link type="submit" { "Sign out" }
                }
            }
            (None, true) => a href="/login" { "Sign in" },
        }
    }
}

/// Sends a viewer who may not read to the sign-in page (the live script
/// gets a 401 and stops).
pub(crate) fn require_read(viewer: &Viewer, path: &str, fragment: bool) -> Option<Response> {
    if viewer.may(Scope::Read) {
        return None;
    }
    if fragment {
        return Some(StatusCode::UNAUTHORIZED.into_response());
    }
    Some(see_other(
        &format!("/login?next={}", weft_github::encode_path(path)),
        None,
    ))
}

/// A view that could not be built, said in the page.
pub(crate) fn trouble(message: &str) -> Markup {
    html! { p.notice.bad role="alert" { (message) } }
}

/// Milliseconds as people read them: `850 ms`, `12 s`, `3 min`, `2 h`, `4 d`.
pub(crate) fn span_ms(ms: i64) -> String {
    let ms = ms.max(0);
    match ms {
        0..1_000 => format!("{ms} ms"),
        1_000..120_000 => format!("{} s", ms / 1_000),
        120_000..7_200_000 => format!("{} min", ms / 60_000),
        7_200_000..172_800_000 => format!("{} h", ms / 3_600_000),
        _ => format!("{} d", ms / 86_400_000),
    }
}

#[cfg(test)]
mod tests {
    use super::span_ms;

    #[test]
    fn spans_read_well() {
        assert_eq!(span_ms(-5), "0 ms");
        assert_eq!(span_ms(850), "850 ms");
        assert_eq!(span_ms(12_400), "12 s");
        assert_eq!(span_ms(180_000), "3 min");
        assert_eq!(span_ms(3 * 3_600_000), "3 h");
        assert_eq!(span_ms(4 * 86_400_000), "4 d");
    }
}
