//! An entry of the builder: one service as it is being put together from
//! the facts that describe it.

use weft_model::{Provenance, ServiceId};

#[derive(Debug)]
pub(super) struct Entry {
    pub(super) id: ServiceId,
    pub(super) repository: String,
    pub(super) name: String,
    pub(super) sources: Sources,
    pub(super) image: Option<String>,
    pub(super) command: Option<String>,
    /// Sorted, without repeats.
    pub(super) aliases: Vec<String>,
    /// Sorted, without repeats.
    pub(super) directories: Vec<String>,
    pub(super) provenance: Vec<Provenance>,
}

impl Entry {
    pub(super) fn new(
        id: ServiceId,
        repository: String,
        name: String,
        source: &'static str,
    ) -> Self {
        let mut sources = Sources::default();
        sources.insert(source);
        Entry {
            id,
            repository,
            name,
            sources,
            image: None,
            command: None,
            aliases: Vec::new(),
            directories: Vec::new(),
            // Nearly every service is declared in one place: room for one,
            // where the first push would make room for four.
            provenance: Vec::with_capacity(1),
        }
    }

    /// Whether the service runs an image of this name (`nginx`, `traefik`).
    pub(super) fn runs(&self, image: &str) -> bool {
        self.image.as_deref().is_some_and(|i| i.contains(image))
    }
}

/// Adds `value` to a sorted vector without repeats.
pub(super) fn insert_sorted(values: &mut Vec<String>, value: &str) {
    if let Err(at) = values.binary_search_by(|v| v.as_str().cmp(value)) {
        values.insert(at, value.to_string());
    }
}

/// Where a service is described: a few names, kept as a set of bits.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Sources(u8);

impl Sources {
    /// Every source, in the order a service lists them.
    const NAMES: [&'static str; 5] = ["compose", "kubernetes", "nginx", "procfile", "weft.yaml"];

    pub(super) fn insert(&mut self, source: &str) {
        let bit = Self::NAMES
            .iter()
            .position(|name| *name == source)
            .expect("a source weft knows");
        self.0 |= 1 << bit;
    }

    pub(super) fn names(self) -> Vec<&'static str> {
        Self::NAMES
            .iter()
            .enumerate()
            .filter(|(bit, _)| self.0 & (1 << bit) != 0)
            .map(|(_, name)| *name)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::SourceKind;

    #[test]
    fn every_source_has_a_bit_and_they_list_in_name_order() {
        // A kind of source added without a bit fails to compile here.
        let name = |kind: SourceKind| match kind {
            SourceKind::Compose
            | SourceKind::Kubernetes
            | SourceKind::Nginx
            | SourceKind::Procfile => kind.as_str(),
        };
        let mut sources = Sources::default();
        assert!(sources.names().is_empty());
        for kind in [
            SourceKind::Procfile,
            SourceKind::Nginx,
            SourceKind::Kubernetes,
            SourceKind::Compose,
        ] {
            sources.insert(name(kind));
        }
        sources.insert("weft.yaml");
        sources.insert("compose");
        let names = sources.names();
        assert_eq!(
            names,
            ["compose", "kubernetes", "nginx", "procfile", "weft.yaml"]
        );
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted, "services list their sources sorted");
    }

    #[test]
    fn sorted_vectors_keep_one_of_each() {
        let mut values = Vec::new();
        for value in ["web", "api", "web", "db", "api"] {
            insert_sorted(&mut values, value);
        }
        assert_eq!(values, ["api", "db", "web"]);
    }
}
