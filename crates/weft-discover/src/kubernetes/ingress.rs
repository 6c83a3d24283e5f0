//! Ingress objects: the Services they route to and the host and path routes
//! they claim on their ingress controller.

use weft_model::yaml::Node;
use weft_model::{EdgeKind, PathMatch, ProxyKind, Resource, Rule};

use super::objects::Object;
use crate::facts::{ClaimFact, Facts, LocalService, Reference, Subject, Target};

/// Reads the backends and routes of an Ingress.
pub(super) fn read_ingress(object: &Object<'_>, facts: &mut Facts) {
    let Some(spec) = object.spec() else {
        return;
    };
    let subject = Subject::Service(object.local_service());
    let router = spec
        .get("ingressClassName")
        .and_then(Node::as_str)
        .or_else(|| object.annotation("kubernetes.io/ingress.class"))
        .map(str::trim)
        .filter(|class| !class.is_empty())
        .unwrap_or("default");
    for key in ["defaultBackend", "backend"] {
        if let Some(backend) = spec.get(key) {
            backend_reference(object, &subject, backend, facts);
        }
    }
    for rule in spec.get("rules").into_iter().flat_map(Node::items) {
        let host_node = rule
            .get("host")
            .filter(|host| host.as_str().is_some_and(|host| !host.trim().is_empty()));
        let host = host_node
            .and_then(Node::as_str)
            .map_or_else(|| "*".to_string(), |host| host.trim().to_ascii_lowercase());
        let paths = rule.path(&["http", "paths"]).and_then(Node::as_sequence);
        for path in paths.unwrap_or_default() {
            if let Some(backend) = path.get("backend") {
                backend_reference(object, &subject, backend, facts);
            }
            let path_node = path.get("path").filter(|path| path.as_str().is_some());
            let path_text = path_node.and_then(Node::as_str).map_or("/", str::trim);
            let path_type = path.get("pathType").and_then(Node::as_str);
            let at = host_node.or(path_node).unwrap_or(path);
            facts.claims.push(ClaimFact {
                subject: subject.clone(),
                resource: Resource::Route {
                    proxy: ProxyKind::Ingress,
                    host: host.clone(),
                    path: path_text.to_string(),
                    path_match: path_match(path_type, path_text),
                    router: router.to_string(),
                    name: Some(object.name.to_string()),
                    priority: None,
                    rule: None,
                    entry_points: Vec::new(),
                    narrowed: false,
                },
                provenance: object.file.provenance(at.span, Rule::KubernetesIngressRule),
            });
        }
    }
}

/// An optional edge to the Service a backend names: `service.name`
/// (networking.k8s.io/v1) or `serviceName` (extensions/v1beta1).
fn backend_reference(object: &Object<'_>, subject: &Subject, backend: &Node, facts: &mut Facts) {
    let name_node = backend
        .path(&["service", "name"])
        .or_else(|| backend.get("serviceName"));
    let Some((name_node, name)) = name_node
        .and_then(|node| Some((node, node.as_str()?.trim())))
        .filter(|(_, name)| !name.is_empty())
    else {
        return;
    };
    facts.references.push(Reference {
        from: subject.clone(),
        target: Target::Service(LocalService::new(object.scope(), name)),
        kind: EdgeKind::Optional,
        provenance: object
            .file
            .provenance(name_node.span, Rule::KubernetesIngressBackend),
    });
}

/// `Exact` matches exactly; `Prefix` by path segments. What
/// `ImplementationSpecific` (or no type, as in extensions/v1beta1) means is
/// up to the controller: a path with regular-expression syntax is taken as a
/// regex (ingress-nginx), anything else as a prefix.
fn path_match(path_type: Option<&str>, path: &str) -> PathMatch {
    match path_type {
        Some("Exact") => PathMatch::Exact,
        Some("Prefix") => PathMatch::Prefix,
        _ if looks_like_regex(path) => PathMatch::Regex,
        _ => PathMatch::Prefix,
    }
}

/// Regular-expression syntax in a path; a trailing `/*` (the GCE and ALB
/// controllers' prefix wildcard) does not count.
fn looks_like_regex(path: &str) -> bool {
    let path = path.strip_suffix("/*").unwrap_or(path);
    path.contains([
        '^', '$', '(', ')', '[', ']', '{', '}', '|', '+', '?', '\\', '*',
    ])
}

#[cfg(test)]
mod tests {
    use weft_model::{EdgeKind, PathMatch, ProxyKind, Resource, Rule};

    use super::super::{read_texts, service_names};
    use crate::facts::{LocalService, Subject, Target};

    const INGRESSES: &str = "\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: shop, namespace: web}
spec:
  ingressClassName: nginx
  defaultBackend:
    service: {name: fallback, port: {number: 80}}
  rules:
    - host: Shop.Example.com
      http:
        paths:
          - path: /api
            pathType: Prefix
            backend: {service: {name: api, port: {number: 80}}}
          - path: /health
            pathType: Exact
            backend: {service: {name: api, port: {name: http}}}
          - path: /static(/|$)(.*)
            pathType: ImplementationSpecific
            backend: {service: {name: assets, port: {number: 80}}}
    - http:
        paths:
          - path: /*
            backend: {service: {name: frontend, port: {number: 80}}}
---
apiVersion: extensions/v1beta1
kind: Ingress
metadata:
  name: legacy
  annotations: {kubernetes.io/ingress.class: traefik}
spec:
  backend: {serviceName: legacy-default, servicePort: 80}
  rules:
    - host: old.example.com
      http:
        paths:
          - backend: {serviceName: legacy, servicePort: 80}
";

    #[test]
    fn ingresses_route_to_services() {
        let facts = read_texts(&[("ingress.yaml", INGRESSES)]);
        assert_eq!(
            service_names(&facts),
            [
                "kubernetes:web/ingress:shop",
                "kubernetes:default/ingress:legacy"
            ]
        );
        let found: Vec<_> = facts
            .references
            .iter()
            .map(|reference| {
                let Target::Service(target) = &reference.target else {
                    panic!("a service target expected: {reference:?}");
                };
                let Subject::Service(from) = &reference.from else {
                    panic!("a service subject expected: {reference:?}");
                };
                assert_eq!(from.scope, target.scope);
                assert_eq!(reference.kind, EdgeKind::Optional);
                assert_eq!(reference.provenance.rule, Rule::KubernetesIngressBackend);
                (
                    from.name.as_str(),
                    target.name.as_str(),
                    reference.provenance.line,
                )
            })
            .collect();
        assert_eq!(
            found,
            [
                ("ingress:shop", "fallback", 7),
                ("ingress:shop", "api", 14),
                ("ingress:shop", "api", 17),
                ("ingress:shop", "assets", 20),
                ("ingress:shop", "frontend", 24),
                ("ingress:legacy", "legacy-default", 32),
                ("ingress:legacy", "legacy", 37),
            ]
        );
    }

    #[test]
    fn ingress_rules_claim_routes_at_their_host() {
        let facts = read_texts(&[("ingress.yaml", INGRESSES)]);
        let found: Vec<_> = facts
            .claims
            .iter()
            .map(|claim| {
                let Resource::Route {
                    proxy,
                    host,
                    path,
                    path_match,
                    router,
                    name,
                    priority,
                    rule,
                    entry_points,
                    narrowed,
                } = &claim.resource
                else {
                    panic!("a route expected: {claim:?}");
                };
                assert_eq!(*proxy, ProxyKind::Ingress);
                assert_eq!((priority, rule), (&None, &None));
                assert!(entry_points.is_empty() && !narrowed);
                assert_eq!(claim.provenance.rule, Rule::KubernetesIngressRule);
                let at = &INGRESSES[claim.provenance.span.range()];
                (
                    host.as_str(),
                    path.as_str(),
                    *path_match,
                    router.as_str(),
                    name.as_deref(),
                    claim.provenance.line,
                    claim.provenance.column,
                    at,
                )
            })
            .collect();
        let shop = Some("shop");
        let legacy = Some("legacy");
        let host = "Shop.Example.com";
        assert_eq!(
            found,
            [
                (
                    "shop.example.com",
                    "/api",
                    PathMatch::Prefix,
                    "nginx",
                    shop,
                    9,
                    13,
                    host
                ),
                (
                    "shop.example.com",
                    "/health",
                    PathMatch::Exact,
                    "nginx",
                    shop,
                    9,
                    13,
                    host
                ),
                (
                    "shop.example.com",
                    "/static(/|$)(.*)",
                    PathMatch::Regex,
                    "nginx",
                    shop,
                    9,
                    13,
                    host
                ),
                ("*", "/*", PathMatch::Prefix, "nginx", shop, 23, 19, "/*"),
                (
                    "old.example.com",
                    "/",
                    PathMatch::Prefix,
                    "traefik",
                    legacy,
                    34,
                    13,
                    "old.example.com"
                ),
            ]
        );
        let Subject::Service(subject) = &facts.claims[0].subject else {
            panic!("a service subject expected");
        };
        assert_eq!(
            subject,
            &LocalService::new("kubernetes:web", "ingress:shop")
        );
    }
}
