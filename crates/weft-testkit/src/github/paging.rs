//! `per_page`/`page` as GitHub reads them, and the `Link` header it answers
//! with: absolute URLs for `prev`, `next`, `last` and `first`, in that order,
//! keeping the request's other query parameters. Also how handlers read
//! other query parameters.

use axum::Json;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// GitHub's default and largest page sizes.
const DEFAULT_PER_PAGE: usize = 30;
const MAX_PER_PAGE: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Page {
    pub(crate) per_page: usize,
    /// One-based.
    pub(crate) page: usize,
}

impl Page {
    /// Reads `per_page` (default 30, at most 100) and `page` (default 1);
    /// values that are not positive numbers fall back to the defaults.
    pub(crate) fn from_query(query: &[(String, String)]) -> Page {
        let number = |name: &str| {
            query
                .iter()
                .rev()
                .find(|(key, _)| key == name)
                .and_then(|(_, value)| value.parse::<usize>().ok())
                .filter(|n| *n > 0)
        };
        Page {
            per_page: number("per_page").map_or(DEFAULT_PER_PAGE, |n| n.min(MAX_PER_PAGE)),
            page: number("page").unwrap_or(1),
        }
    }

    /// This page's slice of `items`.
    pub(crate) fn slice<T>(self, items: Vec<T>) -> Vec<T> {
        let start = (self.page - 1).saturating_mul(self.per_page);
        items.into_iter().skip(start).take(self.per_page).collect()
    }

    /// A JSON array answer: this page's `items` of a list of `total` at
    /// `url`, with its `Link` header.
    pub(crate) fn respond(
        self,
        items: Vec<Value>,
        total: usize,
        url: &str,
        query: &[(String, String)],
    ) -> Response {
        let mut response = Json(Value::Array(items)).into_response();
        if let Some(link) = self.link(total, url, query)
            && let Ok(value) = HeaderValue::from_str(&link)
        {
            response.headers_mut().insert(header::LINK, value);
        }
        response
    }

    /// The `Link` header for a list of `total` items at `url` (absolute,
    /// without query) requested with `query`; `None` when it fits one page.
    pub(crate) fn link(
        self,
        total: usize,
        url: &str,
        query: &[(String, String)],
    ) -> Option<String> {
        let last = total.div_ceil(self.per_page).max(1);
        if last == 1 && self.page == 1 {
            return None;
        }
        let kept: String = query
            .iter()
            .filter(|(key, _)| key != "page")
            .map(|(key, value)| format!("{}={}&", encode(key), encode(value)))
            .collect();
        let to = |page: usize, rel: &str| format!("<{url}?{kept}page={page}>; rel=\"{rel}\"");
        let mut links = Vec::new();
        if self.page > 1 {
            links.push(to((self.page - 1).min(last), "prev"));
        }
        if self.page < last {
            links.push(to(self.page + 1, "next"));
            links.push(to(last, "last"));
        }
        if self.page > 1 {
            links.push(to(1, "first"));
        }
        Some(links.join(", "))
    }
}

/// The last non-empty value of `name` in the query.
pub(crate) fn param<'q>(query: &'q [(String, String)], name: &str) -> Option<&'q str> {
    query
        .iter()
        .rev()
        .find(|(key, value)| key == name && !value.is_empty())
        .map(|(_, value)| value.as_str())
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    #[test]
    fn links_the_neighbours_keeping_other_parameters() {
        let query = query(&[("status", ">=x y"), ("per_page", "2"), ("page", "2")]);
        let page = Page::from_query(&query);
        assert_eq!(
            page,
            Page {
                per_page: 2,
                page: 2
            }
        );
        let link = page.link(5, "http://h/r", &query).unwrap();
        let base = "http://h/r?status=%3E%3Dx%20y&per_page=2&";
        assert_eq!(
            link,
            format!(
                "<{base}page=1>; rel=\"prev\", <{base}page=3>; rel=\"next\", \
                 <{base}page=3>; rel=\"last\", <{base}page=1>; rel=\"first\""
            )
        );
        assert_eq!(page.slice(vec![1, 2, 3, 4, 5]), vec![3, 4]);
    }

    #[test]
    fn one_page_has_no_link_and_sizes_are_clamped() {
        assert_eq!(Page::from_query(&[]).link(30, "http://h/r", &[]), None);
        let page = Page::from_query(&query(&[("per_page", "1000"), ("page", "0")]));
        assert_eq!(
            page,
            Page {
                per_page: 100,
                page: 1
            }
        );
    }
}
