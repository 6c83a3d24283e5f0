//! Top-level networks and volumes, by the names Docker gives them.

use weft_model::yaml::Node;
use weft_model::{Resource, Rule, Span};

use super::Reader;
use crate::facts::{ClaimFact, SourceFile, Subject};

impl Reader<'_, '_> {
    pub(super) fn read_network(
        &mut self,
        file: &SourceFile,
        key: &str,
        key_span: Span,
        definition: &Node,
    ) {
        let external = external_flag(definition);
        let name = self.declared_name(key, definition, external);
        let subnets = definition
            .path(&["ipam", "config"])
            .into_iter()
            .flat_map(Node::items)
            .filter_map(|c| c.get("subnet").and_then(|s| self.text(s)))
            .filter(|s| !s.is_empty())
            .collect();
        let driver = definition.get("driver").and_then(|d| self.text(d));
        self.facts.claims.push(ClaimFact {
            subject: Subject::Repository,
            resource: Resource::Network {
                name,
                subnets,
                external,
                driver,
            },
            provenance: file.provenance(key_span, Rule::ComposeNetwork),
        });
    }

    pub(super) fn read_volume(
        &mut self,
        file: &SourceFile,
        key: &str,
        key_span: Span,
        definition: &Node,
    ) {
        let external = external_flag(definition);
        let name = self.declared_name(key, definition, external);
        let driver = definition.get("driver").and_then(|d| self.text(d));
        let options = definition
            .get("driver_opts")
            .map(|opts| {
                opts.entries()
                    .filter_map(|(k, v)| Some((k.to_string(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        self.facts.claims.push(ClaimFact {
            subject: Subject::Repository,
            resource: Resource::Volume {
                name,
                external,
                driver,
                options,
            },
            provenance: file.provenance(key_span, Rule::ComposeVolume),
        });
    }

    /// The engine-level name of a top-level network or volume: its `name`,
    /// else its key when external, else `PROJECT_KEY` as Compose names it.
    fn declared_name(&mut self, key: &str, definition: &Node, external: bool) -> String {
        let explicit = definition
            .get("name")
            .or_else(|| definition.path(&["external", "name"]))
            .and_then(|n| self.text(n));
        explicit.unwrap_or_else(|| {
            if external {
                key.to_string()
            } else {
                format!("{}_{key}", self.name)
            }
        })
    }
}

fn external_flag(definition: &Node) -> bool {
    match definition.get("external") {
        Some(node) => node.as_bool().unwrap_or(node.as_mapping().is_some()),
        None => false,
    }
}
