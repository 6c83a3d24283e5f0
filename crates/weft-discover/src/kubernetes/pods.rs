//! What a workload's pod spec says: the ConfigMaps, Secrets and volume
//! claims it needs, the hosts its environment and arguments name, the host
//! ports it binds and the environment it sets.

use std::collections::BTreeSet;

use weft_model::yaml::Node;
use weft_model::{Diagnostic, EdgeKind, Platform, Protocol, Resource, Rule};

use super::env_sources::{EnvSources, SourceKind};
use super::objects::Object;
use crate::facts::{ClaimFact, EnvAssignment, Facts, LocalService, Reference, Subject, Target};
use crate::host::hosts_in_value;

/// Reads the pod spec of a workload. Hosts in `own_names` (the workload's
/// name and the DNS names of the Services that select it) are not references.
/// `sources` holds the ConfigMaps and Secrets its containers may import.
pub(super) fn read_pod_spec(
    object: &Object<'_>,
    own_names: &BTreeSet<String>,
    sources: &EnvSources<'_>,
    facts: &mut Facts,
) {
    let Some(pod_spec) = object.pod_spec() else {
        return;
    };
    let reader = PodReader {
        object,
        subject: Subject::Service(object.local_service()),
        own_names,
        sources,
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
fn words<'a>(node: &'a Node<'a>) -> Vec<(&'a Node<'a>, &'a str)> {
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

/// What a container takes from a ConfigMap or Secret.
#[derive(Debug, Clone, Copy)]
enum Import<'n> {
    /// `envFrom`: every key, each as a variable named `prefix` + key.
    All { prefix: &'n str },
    /// `valueFrom`: one key, as the variable `variable`.
    One { key: &'n str, variable: &'n str },
}

struct PodReader<'r, 'a> {
    object: &'r Object<'a>,
    subject: Subject,
    own_names: &'r BTreeSet<String>,
    sources: &'r EnvSources<'r>,
}

impl PodReader<'_, '_> {
    fn container(&self, container: &Node, facts: &mut Facts) {
        for variable in container.get("env").into_iter().flat_map(Node::items) {
            self.env_variable(variable, facts);
        }
        for source in container.get("envFrom").into_iter().flat_map(Node::items) {
            let prefix = source.get("prefix").and_then(Node::as_str).unwrap_or("");
            if let Some(reference) = source.get("configMapRef") {
                self.object_reference(
                    reference,
                    "name",
                    "configmap",
                    Rule::KubernetesEnvFrom,
                    facts,
                );
                self.imported(
                    SourceKind::ConfigMap,
                    reference,
                    Import::All { prefix },
                    facts,
                );
            }
            if let Some(reference) = source.get("secretRef") {
                self.object_reference(reference, "name", "secret", Rule::KubernetesEnvFrom, facts);
                self.imported(SourceKind::Secret, reference, Import::All { prefix }, facts);
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
        fn as_variable<'n>(
            reference: &'n Node<'n>,
            variable: Option<&'n str>,
        ) -> Option<Import<'n>> {
            Some(Import::One {
                key: reference.get("key")?.as_str()?,
                variable: variable?,
            })
        }
        if let Some(reference) = value_from.get("configMapKeyRef") {
            self.object_reference(
                reference,
                "name",
                "configmap",
                Rule::KubernetesConfigMapKeyRef,
                facts,
            );
            if let Some(import) = as_variable(reference, name) {
                self.imported(SourceKind::ConfigMap, reference, import, facts);
            }
        }
        if let Some(reference) = value_from.get("secretKeyRef") {
            self.object_reference(
                reference,
                "name",
                "secret",
                Rule::KubernetesSecretKeyRef,
                facts,
            );
            if let Some(import) = as_variable(reference, name) {
                self.imported(SourceKind::Secret, reference, import, facts);
            }
        }
    }

    /// The values a container imports from the ConfigMap or Secret named by
    /// `reference`: its environment, and soft references to the hosts they
    /// name, located at the value and at the line that imports it.
    fn imported(&self, kind: SourceKind, reference: &Node, import: Import<'_>, facts: &mut Facts) {
        let Some(name_node) = reference.get("name") else {
            return;
        };
        let Some(name) = name_node.as_str().map(str::trim) else {
            return;
        };
        let key = match import {
            Import::All { .. } => None,
            Import::One { key, .. } => Some(key),
        };
        let values = self.sources.values(
            kind,
            self.object.namespace,
            name,
            key,
            &self.object.file.path,
        );
        let via = self
            .object
            .file
            .provenance(name_node.span, Rule::KubernetesEnvSource);
        for value in values {
            let variable = match import {
                Import::All { prefix } => [prefix, value.key].concat(),
                Import::One { variable, .. } => variable.to_string(),
            };
            let hosts = hosts_in_value(Some(&variable), &value.value);
            facts.env.push(EnvAssignment {
                subject: self.subject.clone(),
                name: variable,
                value: value.value,
                provenance: value
                    .file
                    .provenance(value.node.span, Rule::KubernetesEnvironment),
            });
            for host in hosts {
                if self.is_own(&host) {
                    continue;
                }
                for provenance in [
                    value
                        .file
                        .provenance(value.node.span, Rule::KubernetesEnvironment),
                    via.clone(),
                ] {
                    facts.references.push(Reference {
                        from: self.subject.clone(),
                        target: Target::Host(host.clone()),
                        kind: EdgeKind::Soft,
                        provenance,
                    });
                }
            }
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
                [prefix, ":", name].concat(),
            )),
            kind: if optional {
                EdgeKind::Optional
            } else {
                rule.edge_kind()
            },
            provenance: self.object.file.provenance(name_node.span, rule),
        });
    }

    /// Whether a host names the workload itself: its name, a DNS name of a
    /// Service selecting it, or one of its StatefulSet pods
    /// (`db-0.db.default.svc.cluster.local`, where `db` is the headless Service).
    fn is_own(&self, host: &str) -> bool {
        if self.own_names.contains(host) {
            return true;
        }
        let (pod, service) = host.split_once('.').unwrap_or((host, ""));
        let workload = self.object.name.to_ascii_lowercase();
        let is_own_pod = pod
            .strip_prefix(workload.as_str())
            .and_then(|rest| rest.strip_prefix('-'))
            .is_some_and(|ordinal| {
                !ordinal.is_empty() && ordinal.bytes().all(|b| b.is_ascii_digit())
            });
        is_own_pod && (service.is_empty() || self.own_names.contains(service))
    }

    /// Soft references to the hosts a value names.
    fn host_references(&self, key: Option<&str>, value: &str, node: &Node, facts: &mut Facts) {
        for host in hosts_in_value(key, value) {
            if self.is_own(&host) {
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

#[cfg(test)]
mod tests {
    use weft_model::{EdgeKind, Platform, Protocol, Resource, Rule};

    use super::super::read_texts;
    use crate::facts::{Facts, LocalService, Subject, Target};

    const WORKLOAD: &str = "\
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: worker, namespace: jobs}
spec:
  template:
    metadata: {labels: {app: worker}}
    spec:
      initContainers:
        - name: wait
          image: busybox
          args: [--upstream=http://queue:5672, worker:9000, \"http://worker-1.worker-svc.jobs:80\"]
      containers:
        - name: worker
          image: worker
          env:
            - name: MODE
              valueFrom:
                configMapKeyRef: {name: settings, key: mode}
            - name: FLAGS
              valueFrom:
                configMapKeyRef: {name: flags, key: all, optional: true}
            - name: PASSWORD
              valueFrom:
                secretKeyRef: {name: credentials, key: password}
            - name: DATABASE_URL
              value: postgres://user@db.data.svc.cluster.local:5432/app
            - name: CACHE_HOST
              value: cache
            - name: SELF_ADDR
              value: worker-svc:80
          envFrom:
            - configMapRef: {name: common}
            - secretRef: {name: tokens, optional: true}
          ports:
            - containerPort: 80
              hostPort: 8080
            - containerPort: 53
              hostPort: 5353
              protocol: UDP
              hostIP: 127.0.0.1
      volumes:
        - name: config
          configMap: {name: files}
        - name: certificates
          secret: {secretName: tls, optional: true}
        - name: data
          persistentVolumeClaim: {claimName: worker-data}
        - name: bundle
          projected:
            sources:
              - configMap: {name: bundle-config}
              - secret: {name: bundle-secret}
---
apiVersion: v1
kind: Service
metadata: {name: worker-svc, namespace: jobs}
spec: {selector: {app: worker}}
";

    fn read_workload() -> Facts {
        read_texts(&[("worker.yaml", WORKLOAD)])
    }

    #[test]
    fn references_carry_their_rule_kind_and_location() {
        let facts = read_workload();
        let worker = Subject::Service(LocalService::new("kubernetes:jobs", "worker"));
        let found: Vec<_> = facts
            .references
            .iter()
            .inspect(|reference| assert_eq!(reference.from, worker))
            .map(|reference| {
                let target = match &reference.target {
                    Target::Service(service) => {
                        assert_eq!(service.scope, "kubernetes:jobs");
                        service.name.clone()
                    }
                    Target::Host(host) => format!("host {host}"),
                };
                let provenance = &reference.provenance;
                (
                    target,
                    reference.kind,
                    provenance.rule,
                    provenance.line,
                    provenance.column,
                )
            })
            .collect();
        // Containers first, then init containers, then volumes. `worker:9000`,
        // `worker-svc:80` and `worker-1.worker-svc.jobs` name the workload itself.
        let expected = [
            (
                "configmap:settings",
                EdgeKind::Required,
                Rule::KubernetesConfigMapKeyRef,
                18,
                41,
            ),
            (
                "configmap:flags",
                EdgeKind::Optional,
                Rule::KubernetesConfigMapKeyRef,
                21,
                41,
            ),
            (
                "secret:credentials",
                EdgeKind::Required,
                Rule::KubernetesSecretKeyRef,
                24,
                38,
            ),
            (
                "host db.data.svc.cluster.local",
                EdgeKind::Soft,
                Rule::KubernetesEnvironment,
                26,
                22,
            ),
            (
                "host cache",
                EdgeKind::Soft,
                Rule::KubernetesEnvironment,
                28,
                22,
            ),
            (
                "configmap:common",
                EdgeKind::Required,
                Rule::KubernetesEnvFrom,
                32,
                36,
            ),
            (
                "secret:tokens",
                EdgeKind::Optional,
                Rule::KubernetesEnvFrom,
                33,
                33,
            ),
            (
                "host queue",
                EdgeKind::Soft,
                Rule::KubernetesEnvironment,
                11,
                18,
            ),
            (
                "configmap:files",
                EdgeKind::Required,
                Rule::KubernetesVolume,
                43,
                29,
            ),
            (
                "secret:tls",
                EdgeKind::Optional,
                Rule::KubernetesVolume,
                45,
                32,
            ),
            (
                "pvc:worker-data",
                EdgeKind::Required,
                Rule::KubernetesVolume,
                47,
                46,
            ),
            (
                "configmap:bundle-config",
                EdgeKind::Required,
                Rule::KubernetesVolume,
                51,
                35,
            ),
            (
                "secret:bundle-secret",
                EdgeKind::Required,
                Rule::KubernetesVolume,
                52,
                32,
            ),
        ]
        .map(|(target, kind, rule, line, column)| (target.to_string(), kind, rule, line, column));
        assert_eq!(found, expected);
        let text_at = |index: usize| &WORKLOAD[facts.references[index].provenance.span.range()];
        assert_eq!(text_at(0), "settings");
        assert_eq!(text_at(7), "--upstream=http://queue:5672");
        assert_eq!(text_at(10), "worker-data");
    }

    #[test]
    fn literal_env_values_are_assignments() {
        let facts = read_workload();
        let names: Vec<_> = facts.env.iter().map(|env| env.name.as_str()).collect();
        assert_eq!(names, ["DATABASE_URL", "CACHE_HOST", "SELF_ADDR"]);
        assert_eq!(facts.env[1].value, "cache");
        assert_eq!(
            (facts.env[1].provenance.line, facts.env[1].provenance.column),
            (28, 22)
        );
    }

    #[test]
    fn host_ports_are_claimed_at_their_number() {
        let facts = read_workload();
        let claims: Vec<_> = facts
            .claims
            .iter()
            .map(|claim| {
                (
                    &claim.resource,
                    claim.provenance.line,
                    claim.provenance.column,
                )
            })
            .collect();
        let port = |protocol, host_ip: Option<&str>, port| Resource::HostPort {
            platform: Platform::Kubernetes,
            protocol,
            host_ip: host_ip.map(str::to_string),
            start: port,
            end: port,
        };
        assert_eq!(
            claims,
            [
                (&port(Protocol::Tcp, None, 8080), 36, 25),
                (&port(Protocol::Udp, Some("127.0.0.1"), 5353), 38, 25),
            ]
        );
        let claim = &facts.claims[0];
        assert_eq!(claim.provenance.rule, Rule::KubernetesHostPort);
        assert_eq!(&WORKLOAD[claim.provenance.span.range()], "8080");
    }

    #[test]
    fn a_port_that_is_not_a_number_is_reported() {
        let text = "\
apiVersion: v1
kind: Pod
metadata: {name: p}
spec: {containers: [{name: c, ports: [{hostPort: 70000}, {hostPort: http}]}]}
";
        let facts = read_texts(&[("pod.yaml", text)]);
        assert!(facts.claims.is_empty());
        let codes: Vec<_> = facts.diagnostics.iter().map(|d| d.code.as_str()).collect();
        assert_eq!(
            codes,
            ["kubernetes-invalid-port", "kubernetes-invalid-port"]
        );
    }
}
