//! Kubernetes Services: which workloads a Service selects, the DNS names it
//! gives them, and the node ports it opens.

use weft_model::yaml::Node;

use super::objects::{Object, labels};

/// The DNS names a Service answers to inside the cluster.
pub(super) fn dns_names(service: &Object<'_>) -> Vec<String> {
    let name = service.name.to_ascii_lowercase();
    let namespace = service.namespace.to_ascii_lowercase();
    vec![
        name.clone(),
        format!("{name}.{namespace}"),
        format!("{name}.{namespace}.svc"),
        format!("{name}.{namespace}.svc.cluster.local"),
    ]
}

/// The names of the workloads (of its namespace) a Service selects, sorted
/// and without repeats; empty for a Service without selector or of type
/// `ExternalName`.
pub(super) fn selected_workloads<'a>(
    service: &Object<'_>,
    workloads: &[&Object<'a>],
) -> Vec<&'a str> {
    let spec = service.spec();
    let service_type = spec
        .and_then(|spec| spec.get("type"))
        .and_then(Node::as_str);
    if service_type == Some("ExternalName") {
        return Vec::new();
    }
    let selector = spec
        .and_then(|spec| spec.get("selector"))
        .map(labels)
        .unwrap_or_default();
    if selector.is_empty() {
        return Vec::new();
    }
    let mut names: Vec<&str> = workloads
        .iter()
        .filter(|workload| workload.namespace == service.namespace)
        .filter(|workload| {
            let pod_labels = workload.pod_labels();
            selector.iter().all(|pair| pod_labels.contains(pair))
        })
        .map(|workload| workload.name)
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// Whether a Service of this type opens node ports.
pub(super) fn opens_node_ports(service: &Object<'_>) -> bool {
    matches!(
        service
            .spec()
            .and_then(|spec| spec.get("type"))
            .and_then(Node::as_str),
        Some("NodePort" | "LoadBalancer")
    )
}

/// The `spec.ports` entries of a Service.
pub(super) fn ports<'a>(service: &Object<'a>) -> impl Iterator<Item = &'a Node> {
    service
        .spec()
        .and_then(|spec| spec.get("ports"))
        .into_iter()
        .flat_map(Node::items)
}
