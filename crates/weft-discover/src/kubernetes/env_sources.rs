//! The values ConfigMaps and Secrets hold, for the containers that take them
//! in through `envFrom` (every key) or `valueFrom.configMapKeyRef` /
//! `secretKeyRef` (one key).
//!
//! A container that imports a ConfigMap whose `INVENTORY_URL` is
//! `http://inventory:8080` depends on `inventory` exactly as if the variable
//! were written under its own `env:`. Only objects of the pod's namespace in
//! the same repository count; when several directories define the object
//! (kustomize bases and overlays, variants of one manifest set), the ones
//! nearest to the workload's file win.

use std::collections::BTreeMap;

use base64::Engine as _;
use weft_model::yaml::Node;

use super::objects::{Class, Object};
use crate::facts::SourceFile;

/// Which kind of object a container imports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum SourceKind {
    ConfigMap,
    Secret,
}

/// One value of a ConfigMap or Secret.
#[derive(Debug)]
pub(super) struct SourceValue<'a> {
    pub(super) key: &'a str,
    /// The value as text (a Secret's `data` decoded from base64).
    pub(super) value: String,
    /// The value's node, for provenance.
    pub(super) node: &'a Node<'a>,
    pub(super) file: &'a SourceFile,
}

/// ConfigMaps and Secrets of one repository, by namespace and name.
#[derive(Debug, Default)]
pub(super) struct EnvSources<'a> {
    objects: BTreeMap<(SourceKind, &'a str, &'a str), Vec<&'a Object<'a>>>,
}

impl<'a> EnvSources<'a> {
    pub(super) fn new(objects: &'a [Object<'a>]) -> Self {
        let mut sources = EnvSources::default();
        for object in objects {
            let kind = match object.class() {
                Class::ConfigMap => SourceKind::ConfigMap,
                Class::Secret => SourceKind::Secret,
                _ => continue,
            };
            sources
                .objects
                .entry((kind, object.namespace, object.name))
                .or_default()
                .push(object);
        }
        sources
    }

    /// The values of the object `name` of `kind` in `namespace` that a
    /// workload read from `from_file` imports: every key, or only `key`.
    pub(super) fn values(
        &self,
        kind: SourceKind,
        namespace: &str,
        name: &str,
        key: Option<&str>,
        from_file: &str,
    ) -> Vec<SourceValue<'a>> {
        let Some(candidates) = self.objects.get(&(kind, namespace, name)) else {
            return Vec::new();
        };
        let nearness = |object: &Object<'_>| shared_directory_depth(&object.file.path, from_file);
        let nearest = candidates.iter().map(|o| nearness(o)).max().unwrap_or(0);
        candidates
            .iter()
            .filter(|object| nearness(object) == nearest)
            .flat_map(|object| object_values(object, kind, key))
            .collect()
    }
}

/// The text values of one ConfigMap (`data`) or Secret (`stringData`, and
/// `data` decoded from base64; values that are not UTF-8 text are skipped):
/// every key's, or only `key`'s.
fn object_values<'a>(
    object: &'a Object<'a>,
    kind: SourceKind,
    key: Option<&str>,
) -> Vec<SourceValue<'a>> {
    let entries = move |section: &str| {
        object
            .node
            .get(section)
            .into_iter()
            .flat_map(Node::entries)
            .filter(move |(name, _)| key.is_none_or(|wanted| *name == wanted))
    };
    let mut values = Vec::new();
    let plain_section = match kind {
        SourceKind::ConfigMap => "data",
        SourceKind::Secret => "stringData",
    };
    for (key, node) in entries(plain_section) {
        if let Some(text) = node.as_str() {
            values.push(SourceValue {
                key,
                value: text.to_string(),
                node,
                file: object.file,
            });
        }
    }
    if kind == SourceKind::Secret {
        for (key, node) in entries("data") {
            let decoded = node
                .as_str()
                .and_then(|text| {
                    base64::engine::general_purpose::STANDARD
                        .decode(text.trim())
                        .ok()
                })
                .and_then(|bytes| String::from_utf8(bytes).ok());
            if let Some(value) = decoded {
                values.push(SourceValue {
                    key,
                    value,
                    node,
                    file: object.file,
                });
            }
        }
    }
    values
}

/// How many leading directories two workspace-relative file paths share.
fn shared_directory_depth(a: &str, b: &str) -> usize {
    fn directory(path: &str) -> &str {
        path.rsplit_once('/').map_or("", |(d, _)| d)
    }
    directory(a)
        .split('/')
        .zip(directory(b).split('/'))
        .take_while(|(x, y)| x == y && !x.is_empty())
        .count()
}

#[cfg(test)]
mod tests {
    use super::shared_directory_depth;

    #[test]
    fn nearness_counts_shared_directories() {
        assert_eq!(shared_directory_depth("r/k8s/a.yaml", "r/k8s/b.yaml"), 2);
        assert_eq!(shared_directory_depth("r/k8s/a.yaml", "r/extras/b.yaml"), 1);
        assert_eq!(shared_directory_depth("a.yaml", "b.yaml"), 0);
    }
}
