//! Kubernetes objects found in YAML documents: what kind each one is, its
//! name and namespace, and where its pod template lives.

use weft_model::Diagnostic;
use weft_model::yaml::Node;

use crate::facts::{LocalService, SourceFile};

/// `kind: List` may hold lists; past this depth the items are ignored.
const MAX_LIST_DEPTH: usize = 8;

/// What weft does with an object of a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Class {
    /// Runs pods: Deployment, StatefulSet, Job, Pod, Argo Rollout…
    Workload,
    /// A core `v1` Service.
    Service,
    ConfigMap,
    Secret,
    PersistentVolumeClaim,
    Ingress,
    /// Policy, access control and build tooling: no service, no edges.
    Skipped,
    /// Any other kind (usually a custom resource): a service with no edges.
    Other,
}

/// One named Kubernetes object of one file.
#[derive(Debug, Clone)]
pub(super) struct Object<'a> {
    pub(super) file: &'a SourceFile,
    pub(super) node: &'a Node<'a>,
    pub(super) kind: &'a str,
    /// The value node of `metadata.name`.
    pub(super) name_node: &'a Node<'a>,
    pub(super) name: &'a str,
    pub(super) namespace: &'a str,
    /// Its class, from its `apiVersion` and `kind` (see [`classify`]),
    /// asked for often enough to be worked out once.
    class: Class,
}

impl<'a> Object<'a> {
    // Names here are joined with `concat`, which sizes the string once,
    // rather than `format!`: they are made for every object and reference.

    /// `kubernetes:<namespace>`.
    pub(super) fn scope(&self) -> String {
        ["kubernetes:", self.namespace].concat()
    }

    /// The service this object is known as in the model.
    pub(super) fn local_service(&self) -> LocalService {
        let prefixed = |prefix: &str| [prefix, ":", self.name].concat();
        let name = match self.class() {
            Class::Workload | Class::Service => self.name.to_string(),
            Class::ConfigMap => prefixed("configmap"),
            Class::Secret => prefixed("secret"),
            Class::PersistentVolumeClaim => prefixed("pvc"),
            Class::Ingress => prefixed("ingress"),
            Class::Skipped | Class::Other => prefixed(&self.kind.to_ascii_lowercase()),
        };
        LocalService::new(self.scope(), name)
    }

    pub(super) fn class(&self) -> Class {
        self.class
    }

    /// The pod template (`metadata` and `spec`) of a workload.
    pub(super) fn pod_template(&self) -> Option<&'a Node<'a>> {
        if self.class() != Class::Workload {
            return None;
        }
        match self.kind {
            "Pod" => Some(self.node),
            "CronJob" => self.node.path(&["spec", "jobTemplate", "spec", "template"]),
            _ => self.node.path(&["spec", "template"]),
        }
    }

    /// The pod spec of a workload.
    pub(super) fn pod_spec(&self) -> Option<&'a Node<'a>> {
        self.pod_template()?.get("spec")
    }

    /// The node of the labels its pods carry, if it has one.
    pub(super) fn pod_labels(&self) -> Option<&'a Node<'a>> {
        self.pod_template()?.path(&["metadata", "labels"])
    }

    /// An annotation of the object, as text.
    pub(super) fn annotation(&self, key: &str) -> Option<&'a str> {
        self.node
            .path(&["metadata", "annotations"])?
            .get(key)?
            .as_str()
    }

    pub(super) fn spec(&self) -> Option<&'a Node<'a>> {
        self.node.get("spec")
    }
}

/// The scalar entries of a label mapping (`labels`, `selector`): a value
/// that is not a scalar reads as "".
pub(super) fn labels<'a>(node: &Node<'a>) -> impl Iterator<Item = (&'a str, &'a str)> + use<'a> {
    node.entries()
        .map(|(key, value)| (key, value.as_str().unwrap_or("")))
}

/// The class of an object from its `apiVersion` and `kind`.
pub(super) fn classify(api_version: &str, kind: &str) -> Class {
    let group = api_version.rsplit_once('/').map_or("", |(group, _)| group);
    match kind {
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "ReplicationController"
        | "Job"
        | "CronJob"
        | "Pod"
        | "Rollout"
        | "DeploymentConfig" => Class::Workload,
        // A Knative Service runs pods from `spec.template` like a Deployment.
        "Service" if group == "serving.knative.dev" => Class::Workload,
        "Service" if group.is_empty() => Class::Service,
        "ConfigMap" if group.is_empty() => Class::ConfigMap,
        "Secret" if group.is_empty() => Class::Secret,
        "PersistentVolumeClaim" if group.is_empty() => Class::PersistentVolumeClaim,
        "Ingress" if matches!(group, "networking.k8s.io" | "extensions") => Class::Ingress,
        _ if is_skipped(group, kind) => Class::Skipped,
        _ => Class::Other,
    }
}

fn is_skipped(group: &str, kind: &str) -> bool {
    const KINDS: &[&str] = &[
        // Access control.
        "Role",
        "ClusterRole",
        "RoleBinding",
        "ClusterRoleBinding",
        "ServiceAccount",
        "PodSecurityPolicy",
        // Cluster layout and policy.
        "Namespace",
        "NetworkPolicy",
        "HorizontalPodAutoscaler",
        "VerticalPodAutoscaler",
        "PodDisruptionBudget",
        "LimitRange",
        "ResourceQuota",
        "PriorityClass",
        "StorageClass",
        "IngressClass",
        "RuntimeClass",
        "CustomResourceDefinition",
        "APIService",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
        // Written by controllers, not by people.
        "Endpoints",
        "EndpointSlice",
        "Event",
        // Build tooling.
        "Kustomization",
        "Component",
    ];
    KINDS.contains(&kind)
        || group.ends_with("kustomize.config.k8s.io")
        || group.ends_with("config.kubernetes.io")
        || is_tool_configuration(group)
}

/// Configuration files of tools (`skaffold/v4beta6`, `descheduler/v1alpha2`)
/// borrow `apiVersion` and `kind` but are not API objects: their group has
/// no dot, unlike every API group but the built-in ones.
fn is_tool_configuration(group: &str) -> bool {
    const BUILT_IN: &[&str] = &["apps", "batch", "extensions", "policy", "autoscaling"];
    !group.is_empty() && !group.contains('.') && !BUILT_IN.contains(&group)
}

/// Collects the objects of one document into `objects`, unwrapping `List`s.
pub(super) fn collect<'a>(
    file: &'a SourceFile,
    document: &'a Node<'a>,
    objects: &mut Vec<Object<'a>>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    collect_at(file, document, 0, objects, diagnostics);
}

fn collect_at<'a>(
    file: &'a SourceFile,
    document: &'a Node<'a>,
    depth: usize,
    objects: &mut Vec<Object<'a>>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let (Some(api_version), Some((kind_key, kind_node))) = (
        document.get("apiVersion").and_then(Node::as_str),
        document.entry("kind"),
    ) else {
        return;
    };
    let Some(kind) = kind_node.as_str() else {
        return;
    };
    let items = document.get("items").and_then(Node::as_sequence);
    if kind == "List" || (kind.ends_with("List") && items.is_some()) {
        if depth < MAX_LIST_DEPTH {
            for item in items.unwrap_or_default() {
                collect_at(file, item, depth + 1, objects, diagnostics);
            }
        }
        return;
    }
    let metadata = document.get("metadata");
    // A Job or Pod named by `generateName` (a hook run once) is read under
    // that prefix.
    let name = ["name", "generateName"].iter().find_map(|key| {
        let node = metadata?.get(key)?;
        let name = node.as_str()?.trim().trim_end_matches('-');
        (!name.is_empty()).then_some((node, name))
    });
    let Some((name_node, name)) = name else {
        if classify(api_version, kind) == Class::Skipped {
            return;
        }
        let message = format!("{kind} object looks like a Helm or Go template; not read");
        if let Some(note) = super::documents::template_note(file, message) {
            diagnostics.push(note);
            return;
        }
        let diagnostic = Diagnostic::warning(
            "kubernetes-unnamed",
            format!("{kind} object has no metadata.name; not read"),
        )
        .with_hint("give the object a name, or generate it with kustomize or Helm first");
        diagnostics.push(file.diagnostic(diagnostic, kind_key.span));
        return;
    };
    let namespace = metadata
        .and_then(|metadata| metadata.get("namespace"))
        .and_then(Node::as_str)
        .map(str::trim)
        .filter(|namespace| !namespace.is_empty())
        .unwrap_or("default");
    objects.push(Object {
        file,
        node: document,
        kind,
        name_node,
        name,
        namespace,
        class: classify(api_version, kind),
    });
}
