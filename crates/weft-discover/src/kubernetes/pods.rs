//! What a workload's pod spec says: the ConfigMaps, Secrets and volume
//! claims it needs, the hosts its environment and arguments name, the host
//! ports it binds and the environment it sets.

use std::collections::BTreeSet;

use weft_model::yaml::Node;
use weft_model::{Diagnostic, EdgeKind, Platform, Protocol, Resource, Rule};

use super::objects::Object;
use crate::facts::{ClaimFact, EnvAssignment, Facts, LocalService, Reference, Subject, Target};
use crate::host::hosts_in_value;

/// Reads the pod spec of a workload. Hosts in `own_names` (the workload's
/// name and the DNS names of the Services that select it) are not references.
pub(super) fn read_pod_spec(object: &Object<'_>, own_names: &BTreeSet<String>, facts: &mut Facts) {
    let Some(pod_spec) = object.pod_spec() else {
        return;
    };
    let reader = PodReader {
        object,
        subject: Subject::Service(object.local_service()),
        own_names,
    };
    let containers = pod_spec.get("containers").into_iter().flat_map(Node::items);
    let init_containers = pod_spec
        .get("initContainers")
        .into_iter()
        .flat_map(Node::items);
    for container in containers.chain(init_containers) {
        reader.container(container, facts);
    }
    for volume in pod_spec.get("volumes").into_iter().flat_map(Node::items) {
        reader.volume(volume, facts);
    }
}

/// The first container of a workload: its image and its command line.
pub(super) fn first_container(object: &Object<'_>) -> (Option<String>, Option<String>) {
    let Some(container) = object
        .pod_spec()
        .and_then(|spec| spec.get("containers"))
        .and_then(|containers| containers.items().next())
    else {
        return (None, None);
    };
    let image = container
        .get("image")
        .and_then(Node::as_str)
        .map(str::to_string);
    let words: Vec<&str> = ["command", "args"]
        .iter()
        .filter_map(|key| container.get(key))
        .flat_map(words)
        .map(|(_, word)| word)
        .collect();
    let command = (!words.is_empty()).then(|| words.join(" "));
    (image, command)
}

/// The items of a `command` or `args` list (or a lone string written in its place).
fn words(node: &Node) -> Vec<(&Node, &str)> {
    match node.as_sequence() {
        Some(items) => items
            .iter()
            .filter_map(|item| Some((item, item.as_str()?)))
            .collect(),
        None => node.as_str().map(|word| (node, word)).into_iter().collect(),
    }
}

/// A `hostPort` or `nodePort` claim read from a port entry; a value that is
/// not a port number is reported.
pub(super) fn port_claim(
    object: &Object<'_>,
    subject: Subject,
    entry: &Node,
    key: &str,
    rule: Rule,
    facts: &mut Facts,
) {
    let Some(value) = entry.get(key).filter(|value| !value.is_null()) else {
        return;
    };
    let Some(port) = value
        .as_u64()
        .and_then(|port| u16::try_from(port).ok())
        .filter(|&port| port > 0)
    else {
        facts.diagnostics.push(
            object.file.diagnostic(
                Diagnostic::warning(
                    "kubernetes-invalid-port",
                    format!(
                        "`{key}` of {} `{}` is not a port number",
                        object.kind, object.name
                    ),
                )
                .with_hint("use a number from 1 to 65535"),
                value.span,
            ),
        );
        return;
    };
    let protocol = entry
        .get("protocol")
        .and_then(Node::as_str)
        .and_then(Protocol::parse)
        .unwrap_or(Protocol::Tcp);
    let host_ip = entry
        .get("hostIP")
        .and_then(Node::as_str)
        .map(str::trim)
        .filter(|ip| !matches!(*ip, "" | "0.0.0.0" | "::"))
        .map(str::to_string);
    facts.claims.push(ClaimFact {
        subject,
        resource: Resource::HostPort {
            platform: Platform::Kubernetes,
            protocol,
            host_ip,
            start: port,
            end: port,
        },
        provenance: object.file.provenance(value.span, rule),
    });
}

struct PodReader<'r, 'a> {
    object: &'r Object<'a>,
    subject: Subject,
    own_names: &'r BTreeSet<String>,
}

impl PodReader<'_, '_> {
    fn container(&self, container: &Node, facts: &mut Facts) {
        for variable in container.get("env").into_iter().flat_map(Node::items) {
            self.env_variable(variable, facts);
        }
        for source in container.get("envFrom").into_iter().flat_map(Node::items) {
            if let Some(reference) = source.get("configMapRef") {
                self.object_reference(
                    reference,
                    "name",
                    "configmap",
                    Rule::KubernetesEnvFrom,
                    facts,
                );
            }
            if let Some(reference) = source.get("secretRef") {
                self.object_reference(reference, "name", "secret", Rule::KubernetesEnvFrom, facts);
            }
        }
        for key in ["command", "args"] {
            for (node, word) in container.get(key).map(words).unwrap_or_default() {
                // `--upstream=http://api:8080`: the value of a flag.
                let value = match word.split_once('=') {
                    Some((flag, value)) if flag.starts_with('-') => value,
                    _ => word,
                };
                self.host_references(None, value, node, facts);
            }
        }
        for port in container.get("ports").into_iter().flat_map(Node::items) {
            port_claim(
                self.object,
                self.subject.clone(),
                port,
                "hostPort",
                Rule::KubernetesHostPort,
                facts,
            );
        }
    }

    fn env_variable(&self, variable: &Node, facts: &mut Facts) {
        let name = variable.get("name").and_then(Node::as_str);
        let literal = variable
            .get("value")
            .and_then(|node| Some((node, node.as_str()?)));
        if let Some((value_node, value)) = literal {
            if let Some(name) = name {
                facts.env.push(EnvAssignment {
                    subject: self.subject.clone(),
                    name: name.to_string(),
                    value: value.to_string(),
                    provenance: self
                        .object
                        .file
                        .provenance(value_node.span, Rule::KubernetesEnvironment),
                });
            }
            self.host_references(name, value, value_node, facts);
        }
        let Some(value_from) = variable.get("valueFrom") else {
            return;
        };
        if let Some(reference) = value_from.get("configMapKeyRef") {
            self.object_reference(
                reference,
                "name",
                "configmap",
                Rule::KubernetesConfigMapKeyRef,
                facts,
            );
        }
        if let Some(reference) = value_from.get("secretKeyRef") {
            self.object_reference(
                reference,
                "name",
                "secret",
                Rule::KubernetesSecretKeyRef,
                facts,
            );
        }
    }

    fn volume(&self, volume: &Node, facts: &mut Facts) {
        let rule = Rule::KubernetesVolume;
        if let Some(source) = volume.get("configMap") {
            self.object_reference(source, "name", "configmap", rule, facts);
        }
        if let Some(source) = volume.get("secret") {
            self.object_reference(source, "secretName", "secret", rule, facts);
        }
        if let Some(source) = volume.get("persistentVolumeClaim") {
            self.object_reference(source, "claimName", "pvc", rule, facts);
        }
        let projected = volume.path(&["projected", "sources"]);
        for source in projected.into_iter().flat_map(Node::items) {
            if let Some(source) = source.get("configMap") {
                self.object_reference(source, "name", "configmap", rule, facts);
            }
            if let Some(source) = source.get("secret") {
                self.object_reference(source, "name", "secret", rule, facts);
            }
        }
    }

    /// A reference to the ConfigMap, Secret or claim named under `key` of
    /// `source`; optional when `source` says `optional: true`.
    fn object_reference(
        &self,
        source: &Node,
        key: &str,
        prefix: &str,
        rule: Rule,
        facts: &mut Facts,
    ) {
        let Some(name_node) = source.get(key) else {
            return;
        };
        let Some(name) = name_node
            .as_str()
            .map(str::trim)
            .filter(|name| !name.is_empty())
        else {
            return;
        };
        let optional = source.get("optional").and_then(Node::as_bool) == Some(true);
        facts.references.push(Reference {
            from: self.subject.clone(),
            target: Target::Service(LocalService::new(
                self.object.scope(),
                format!("{prefix}:{name}"),
            )),
            kind: if optional {
                EdgeKind::Optional
            } else {
                rule.edge_kind()
            },
            provenance: self.object.file.provenance(name_node.span, rule),
        });
    }

    /// Soft references to the hosts a value names.
    fn host_references(&self, key: Option<&str>, value: &str, node: &Node, facts: &mut Facts) {
        for host in hosts_in_value(key, value) {
            if self.own_names.contains(&host) {
                continue;
            }
            facts.references.push(Reference {
                from: self.subject.clone(),
                target: Target::Host(host),
                kind: EdgeKind::Soft,
                provenance: self
                    .object
                    .file
                    .provenance(node.span, Rule::KubernetesEnvironment),
            });
        }
    }
}
