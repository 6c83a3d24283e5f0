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
