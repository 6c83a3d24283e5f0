//! Traefik's Docker labels on a service: routers into route claims and an
//! optional edge from the Traefik proxy to the service.

use indexmap::IndexMap;
use weft_model::span::LineIndex;
use weft_model::{Diagnostic, EdgeKind, PathMatch, ProxyKind, Resource, Rule, Span};

use super::rule::{parse_rule, routes};
use crate::facts::{ClaimFact, Facts, LocalService, Reference, SourceFile, Subject, Target};

/// One label of a service, as read from its compose file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub key: String,
    pub value: String,
    /// Span of the value node (for list-form labels, the whole `key=value`).
    pub span: Span,
}

/// The labels of one router.
#[derive(Debug, Default)]
struct Router<'l> {
    rule: Option<&'l Label>,
    priority: Option<&'l Label>,
    entry_points: Option<&'l Label>,
}

/// Reads the Traefik labels of one service: a route claim for each host and
/// path alternative of each router's rule, and, when the service has a
/// router, an optional reference from the Traefik proxy to it. Nothing when
/// `traefik.enable=false`. A rule that does not parse is a `traefik-rule`
/// error, unless a compose variable stands where the error is (its routes are
/// unknown until interpolation).
pub fn read_labels(file: &SourceFile, service: &LocalService, labels: &[Label]) -> Facts {
    let mut facts = Facts::default();
    let disabled = labels.iter().any(|label| {
        label.key.eq_ignore_ascii_case("traefik.enable")
            && label.value.trim().eq_ignore_ascii_case("false")
    });
    if disabled {
        return facts;
    }

    // Routers by (protocol, name), in the order they first appear.
    let mut routers: IndexMap<(&str, &str), Router> = IndexMap::new();
    for label in labels {
        let Some((protocol, name, field)) = router_label(&label.key) else {
            continue;
        };
        let router = routers.entry((protocol, name)).or_default();
        match field.to_ascii_lowercase().as_str() {
            "rule" => router.rule = Some(label),
            "priority" => router.priority = Some(label),
            "entrypoints" => router.entry_points = Some(label),
            _ => {}
        }
    }

    let mut index = None;
    let mut first_rule: Option<Span> = None;
    for ((_, name), router) in &routers {
        let Some(rule_label) = router.rule else {
            continue;
        };
        let mut entry_points: Vec<String> = router
            .entry_points
            .map(|label| {
                label
                    .value
                    .split(',')
                    .map(str::trim)
                    .filter(|point| !point.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        entry_points.sort();
        entry_points.dedup();
        let priority = router
            .priority
            .and_then(|label| match label.value.trim().parse::<i64>() {
                Ok(priority) => Some(priority),
                Err(_) => {
                    let diagnostic = Diagnostic::warning(
                        "traefik-label",
                        format!(
                            "priority `{}` of router `{name}` is not an integer",
                            label.value
                        ),
                    )
                    .with_hint("Traefik router priorities are whole numbers");
                    facts
                        .diagnostics
                        .push(file.diagnostic(diagnostic, label.span));
                    None
                }
            });
        let rule_text = rule_label.value.trim();
        let expression = match parse_rule(rule_text) {
            Ok(expression) => expression,
            Err(error)
                if rule_text
                    .get(error.offset..)
                    .is_some_and(|rest| rest.starts_with('$')) =>
            {
                // A compose variable where rule syntax should be
                // (`rule=${SITES_RULE}`): the routes are unknown until it is
                // interpolated, but the router exists.
                first_rule.get_or_insert(rule_label.span);
                continue;
            }
            Err(error) => {
                let index = index.get_or_insert_with(|| LineIndex::new(&file.text));
                let location = error_location(file, index, rule_label, rule_text, error.offset);
                let diagnostic = Diagnostic::error(
                    "traefik-rule",
                    format!("invalid rule for Traefik router `{name}`: {}", error.message),
                )
                .with_hint("rules combine matchers such as Host(`example.com`) and PathPrefix(`/api`) with && and ||");
                facts
                    .diagnostics
                    .push(file.diagnostic(diagnostic, Span::point(location)));
                continue;
            }
        };
        first_rule.get_or_insert(rule_label.span);
        for alternative in routes(&expression) {
            let (path, path_match) = alternative
                .path
                .unwrap_or_else(|| ("/".into(), PathMatch::Prefix));
            facts.claims.push(ClaimFact {
                subject: Subject::Service(service.clone()),
                resource: Resource::Route {
                    proxy: ProxyKind::Traefik,
                    host: alternative.host.unwrap_or_else(|| "*".into()),
                    path,
                    path_match,
                    router: "traefik".into(),
                    name: Some((*name).to_string()),
                    priority,
                    rule: Some(rule_text.to_string()),
                    entry_points: entry_points.clone(),
                    narrowed: alternative.narrowed,
                },
                provenance: file.provenance(rule_label.span, Rule::TraefikRouter),
            });
        }
    }

    if let Some(span) = first_rule {
        facts.references.push(Reference {
            from: Subject::Proxy(ProxyKind::Traefik),
            target: Target::Service(service.clone()),
            kind: EdgeKind::Optional,
            provenance: file.provenance(span, Rule::TraefikRouter),
        });
    }
    facts
}

/// `traefik.http.routers.NAME.FIELD` or `traefik.tcp.routers.NAME.FIELD`:
/// the protocol, the router name and the field.
fn router_label(key: &str) -> Option<(&str, &str, &str)> {
    let mut parts = key.trim().splitn(4, '.');
    let (traefik, protocol, routers, rest) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if !traefik.eq_ignore_ascii_case("traefik") || !routers.eq_ignore_ascii_case("routers") {
        return None;
    }
    if !protocol.eq_ignore_ascii_case("http") && !protocol.eq_ignore_ascii_case("tcp") {
        return None;
    }
    let (name, field) = rest.rsplit_once('.')?;
    (!name.is_empty()).then_some((protocol, name, field))
}

/// Where a rule error is in the file: the rule text is looked up inside the
/// label's value span (which may hold quotes or the whole `key=value`), and
/// the error offset added; the span start when the text is not found as is
/// (escapes in a quoted YAML string).
fn error_location(
    file: &SourceFile,
    index: &LineIndex,
    label: &Label,
    rule_text: &str,
    offset: usize,
) -> weft_model::Location {
    let source = file.text.get(label.span.range()).unwrap_or("");
    match source.find(rule_text) {
        Some(found) if !rule_text.is_empty() => index.location(
            &file.text,
            label.span.start.offset + found + offset.min(rule_text.len()),
        ),
        _ => label.span.start,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A compose file and its labels, found by key in the text.
    fn labels_of(text: &str, keys: &[&str]) -> Vec<Label> {
        let index = LineIndex::new(text);
        keys.iter()
            .map(|key| {
                let line_start = text.find(&format!("- \"{key}=")).expect("label in text") + 2;
                let line_end = line_start
                    + text[line_start..]
                        .find('\n')
                        .unwrap_or(text.len() - line_start);
                let node = &text[line_start..line_end];
                let value = node
                    .trim_matches('"')
                    .split_once('=')
                    .map_or("", |(_, value)| value);
                Label {
                    key: key.to_string(),
                    value: value.to_string(),
                    span: Span::new(
                        index.location(text, line_start),
                        index.location(text, line_end),
                    ),
                }
            })
            .collect()
    }

    /// `(host, path, match, router name, priority)` of a route claim.
    type RouteRow = (String, String, PathMatch, Option<String>, Option<i64>);

    fn service() -> LocalService {
        LocalService::new("compose:app", "web")
    }

    #[test]
    fn routers_become_route_claims_with_an_optional_edge() {
        let text = "services:\n  web:\n    labels:\n      - \"traefik.http.routers.web.rule=Host(`App.example.com`) && (PathPrefix(`/api`) || PathPrefix(`/v2`))\"\n      - \"traefik.http.routers.web.priority=42\"\n      - \"traefik.http.routers.web.entrypoints=websecure\"\n      - \"traefik.tcp.routers.db.rule=HostSNI(`db.example.com`)\"\n";
        let labels = labels_of(
            text,
            &[
                "traefik.http.routers.web.rule",
                "traefik.http.routers.web.priority",
                "traefik.http.routers.web.entrypoints",
                "traefik.tcp.routers.db.rule",
            ],
        );
        let facts = read_labels(&SourceFile::new("compose.yaml", text), &service(), &labels);
        assert!(facts.diagnostics.is_empty());
        let claims: Vec<RouteRow> = facts
            .claims
            .iter()
            .filter_map(|claim| match &claim.resource {
                Resource::Route {
                    host,
                    path,
                    path_match,
                    name,
                    priority,
                    router,
                    proxy,
                    entry_points,
                    ..
                } => {
                    assert_eq!((router.as_str(), *proxy), ("traefik", ProxyKind::Traefik));
                    let expected: &[&str] = if name.as_deref() == Some("web") {
                        &["websecure"]
                    } else {
                        &[]
                    };
                    assert_eq!(entry_points, expected);
                    Some((
                        host.clone(),
                        path.clone(),
                        *path_match,
                        name.clone(),
                        *priority,
                    ))
                }
                _ => None,
            })
            .collect();
        let web = Some("web".to_string());
        assert_eq!(
            claims,
            [
                (
                    "app.example.com".into(),
                    "/api".into(),
                    PathMatch::Prefix,
                    web.clone(),
                    Some(42)
                ),
                (
                    "app.example.com".into(),
                    "/v2".into(),
                    PathMatch::Prefix,
                    web,
                    Some(42)
                ),
                (
                    "db.example.com".into(),
                    "/".into(),
                    PathMatch::Prefix,
                    Some("db".into()),
                    None
                ),
            ]
        );
        assert_eq!(facts.claims[0].subject, Subject::Service(service()));
        assert_eq!(facts.claims[0].provenance.line, 4);
        assert_eq!(facts.claims[0].provenance.rule, Rule::TraefikRouter);
        assert_eq!(facts.references.len(), 1);
        let reference = &facts.references[0];
        assert_eq!(reference.from, Subject::Proxy(ProxyKind::Traefik));
        assert_eq!(reference.target, Target::Service(service()));
        assert_eq!(reference.kind, EdgeKind::Optional);
    }

    #[test]
    fn routes_without_host_or_path_claim_everything() {
        let text = "labels:\n  - \"traefik.http.routers.all.rule=Header(`X`, `y`)\"\n";
        let labels = labels_of(text, &["traefik.http.routers.all.rule"]);
        let facts = read_labels(&SourceFile::new("compose.yaml", text), &service(), &labels);
        let Some(Resource::Route {
            host,
            path,
            path_match,
            rule,
            ..
        }) = facts.claims.first().map(|claim| &claim.resource)
        else {
            panic!("one route");
        };
        assert_eq!(
            (host.as_str(), path.as_str(), *path_match),
            ("*", "/", PathMatch::Prefix)
        );
        assert_eq!(rule.as_deref(), Some("Header(`X`, `y`)"));
    }

    #[test]
    fn disabled_services_claim_nothing() {
        let text = "labels:\n  - \"traefik.enable=false\"\n  - \"traefik.http.routers.x.rule=Host(`x`)\"\n";
        let labels = labels_of(text, &["traefik.enable", "traefik.http.routers.x.rule"]);
        let facts = read_labels(&SourceFile::new("compose.yaml", text), &service(), &labels);
        assert!(facts.claims.is_empty() && facts.references.is_empty());
    }

    #[test]
    fn rule_errors_point_into_the_rule() {
        let text = "labels:\n  - \"traefik.http.routers.bad.rule=Host(`a`) && \"\n";
        let labels = labels_of(text, &["traefik.http.routers.bad.rule"]);
        let facts = read_labels(&SourceFile::new("compose.yaml", text), &service(), &labels);
        assert!(facts.claims.is_empty() && facts.references.is_empty());
        let diagnostic = &facts.diagnostics[0];
        assert_eq!(diagnostic.code, "traefik-rule");
        // `Host(`a`) &&` is trimmed; its end is byte 12 of the rule, which
        // starts at column 36 of line 2.
        assert_eq!(diagnostic.location().as_deref(), Some("compose.yaml:2:48"));
        assert!(
            diagnostic.message.contains("router `bad`"),
            "{}",
            diagnostic.message
        );
    }

    #[test]
    fn rules_from_variables_are_not_errors() {
        let text = "labels:\n  - \"traefik.http.routers.v.rule=${SITES_RULE:?not set}\"\n";
        let labels = labels_of(text, &["traefik.http.routers.v.rule"]);
        let facts = read_labels(&SourceFile::new("compose.yaml", text), &service(), &labels);
        assert!(facts.diagnostics.is_empty() && facts.claims.is_empty());
        assert_eq!(facts.references.len(), 1);
    }

    #[test]
    fn unparsable_priority_is_warned_about() {
        let text = "labels:\n  - \"traefik.http.routers.p.rule=Host(`p`)\"\n  - \"traefik.http.routers.p.priority=high\"\n";
        let labels = labels_of(
            text,
            &[
                "traefik.http.routers.p.rule",
                "traefik.http.routers.p.priority",
            ],
        );
        let facts = read_labels(&SourceFile::new("compose.yaml", text), &service(), &labels);
        assert_eq!(facts.claims.len(), 1);
        assert_eq!(facts.diagnostics[0].code, "traefik-label");
        assert_eq!(facts.diagnostics[0].line, Some(3));
    }
}
