//! Kubernetes Services: which workloads a Service selects, the DNS names it
//! gives them, and the node ports it opens.

use weft_model::yaml::Node;

use super::objects::{Object, labels};

/// The DNS names a Service answers to inside the cluster.
pub(super) fn dns_names(service: &Object<'_>) -> Vec<String> {
    // The other three are beginnings of the longest.
    let mut full = [service.name, ".", service.namespace, ".svc.cluster.local"].concat();
    full.make_ascii_lowercase();
    let name_len = service.name.len();
    let qualified = name_len + 1 + service.namespace.len();
    vec![
        full[..name_len].to_owned(),
        full[..qualified].to_owned(),
        full[..qualified + ".svc".len()].to_owned(),
        full,
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
        .map(|selector| labels(selector).collect::<Vec<_>>())
        .unwrap_or_default();
    if selector.is_empty() {
        return Vec::new();
    }
    let mut names: Vec<&str> = workloads
        .iter()
        .filter(|workload| workload.namespace == service.namespace)
        .filter(|workload| {
            let pod_labels = workload.pod_labels();
            selector.iter().all(|pair| {
                pod_labels.is_some_and(|pod_labels| labels(pod_labels).any(|label| label == *pair))
            })
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
pub(super) fn ports<'a>(service: &Object<'a>) -> impl Iterator<Item = &'a Node<'a>> {
    service
        .spec()
        .and_then(|spec| spec.get("ports"))
        .into_iter()
        .flat_map(Node::items)
}

#[cfg(test)]
mod tests {
    use weft_model::{Platform, Protocol, Resource, Rule};

    use super::super::{read_texts, service_names};
    use crate::facts::{LocalService, Subject};

    const MANIFESTS: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web-b}
spec: {template: {metadata: {labels: {app: web}}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web-a}
spec: {template: {metadata: {labels: {app: web, track: canary}}}}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  selector: {app: web}
  ports:
    - port: 80
      nodePort: 30080
    - port: 53
      protocol: UDP
      nodePort: 30053
---
apiVersion: v1
kind: Service
metadata: {name: metrics}
spec:
  type: LoadBalancer
  ports:
    - port: 9090
      nodePort: 31090
---
apiVersion: v1
kind: Service
metadata: {name: internal}
spec:
  type: ClusterIP
  selector: {app: web}
  ports: [{port: 8080, nodePort: 32000}]
";

    #[test]
    fn node_ports_are_claimed_once_by_the_first_selected_workload() {
        let facts = read_texts(&[("web.yaml", MANIFESTS)]);
        assert_eq!(
            service_names(&facts),
            [
                "kubernetes:default/web-b",
                "kubernetes:default/web-a",
                "kubernetes:default/metrics"
            ]
        );
        for workload in &facts.services[..2] {
            assert_eq!(
                workload.aliases,
                [
                    "internal",
                    "internal.default",
                    "internal.default.svc",
                    "internal.default.svc.cluster.local",
                    "web",
                    "web.default",
                    "web.default.svc",
                    "web.default.svc.cluster.local",
                ]
            );
        }
        let subject = |name: &str| Subject::Service(LocalService::new("kubernetes:default", name));
        let port = |protocol, port| Resource::HostPort {
            platform: Platform::Kubernetes,
            protocol,
            host_ip: None,
            start: port,
            end: port,
        };
        let claims: Vec<_> = facts
            .claims
            .iter()
            .map(|claim| {
                assert_eq!(claim.provenance.rule, Rule::KubernetesNodePort);
                (
                    claim.subject.clone(),
                    claim.resource.clone(),
                    claim.provenance.line,
                    claim.provenance.column,
                )
            })
            .collect();
        assert_eq!(
            claims,
            [
                (subject("web-a"), port(Protocol::Tcp, 30080), 19, 17),
                (subject("web-a"), port(Protocol::Udp, 30053), 22, 17),
                (subject("metrics"), port(Protocol::Tcp, 31090), 31, 17),
            ]
        );
    }
}
