//! weft.yaml's `services`: overrides of discovered services, services only
//! weft.yaml defines, and explicit edges that override inferred ones.

use foldhash::HashMap;
use weft_model::config::DependencyConfig;
use weft_model::{Diagnostic, Provenance, Rule, ServiceId, Span};

use super::{Builder, Entry};

impl Builder<'_, '_> {
    /// Applies `services` of weft.yaml: overrides and explicit edges.
    pub(super) fn apply_config(&mut self) {
        let config = self.config;
        let services = &config.config.services;
        if services.is_empty() {
            return;
        }
        let mut entries = Vec::new();
        let mut names = NameIndex::default();
        for (index, entry) in self.entries.iter().enumerate() {
            names.add(index, entry);
        }
        for (key, service) in services {
            let entry = match names.lookup(&self.entries, key) {
                Ok(entry) => entry,
                Err(None) => {
                    let repository = service
                        .repository
                        .clone()
                        .unwrap_or_else(|| self.name.clone());
                    if service.repository.is_some()
                        && !self.repositories.iter().any(|r| r.name == repository)
                    {
                        let hint = "`repository` names a key of `repositories`";
                        self.config_error(
                            &["services", key, "repository"],
                            format!("service `{key}` names unknown repository `{repository}`"),
                            hint,
                        );
                        continue;
                    }
                    if service.image.is_none()
                        && service.command.is_none()
                        && service.deploy.is_none()
                    {
                        // Most likely a typo of a discovered service's name.
                        let mut warning = Diagnostic::warning(
                            "unknown-service",
                            format!(
                                "`services.{key}` matches no discovered service and has no `command`, `image` or `deploy`; it is added as a new service of `{repository}`"
                            ),
                        )
                        .in_file(weft_model::config::FILE_NAME)
                        .with_hint("check the name (`weft graph` lists every service), or give the service a `command`");
                        if let (Some(span), Some((text, _))) = (
                            self.config.key_span(&["services", key]),
                            &self.config.source,
                        ) {
                            warning = warning.at(text, span.start);
                        }
                        self.diagnostics.push(warning);
                    }
                    let name = key.rsplit('/').next().unwrap_or(key).to_string();
                    let id = ServiceId::new(&repository, &name);
                    let mut entry = Entry::new(id, repository, name, "weft.yaml");
                    entry
                        .provenance
                        .push(self.config_provenance(&["services", key]));
                    self.entries.push(entry);
                    let added = self.entries.len() - 1;
                    self.by_id
                        .entry(self.entries[added].id.clone())
                        .or_insert(added);
                    names.add(added, &self.entries[added]);
                    added
                }
                Err(Some(candidates)) => {
                    let message = format!(
                        "service `{key}` is ambiguous: it names {}",
                        candidates.join(", ")
                    );
                    self.config_error(
                        &["services", key],
                        message,
                        "write it as repository/service",
                    );
                    continue;
                }
            };
            let target = &mut self.entries[entry];
            target.sources.insert("weft.yaml");
            if service.image.is_some() {
                target.image.clone_from(&service.image);
            }
            if service.command.is_some() {
                target.command.clone_from(&service.command);
            }
            entries.push((key, service, entry));
        }
        // Edges once every service weft.yaml defines exists, so that a
        // service may depend on one written after it.
        for (key, service, entry) in entries {
            // The spans of this service's dependencies, found once: a
            // weft.yaml may list thousands.
            let spans = self
                .config
                .child_key_spans(&["services", key, "depends_on"]);
            for (dependency, config) in &service.depends_on {
                let kind = match config {
                    DependencyConfig::Kind(kind) => *kind,
                    DependencyConfig::Detailed(details) => details.kind,
                };
                match names.lookup(&self.entries, dependency) {
                    Ok(to) if to != entry => {
                        let provenance = match spans.get(dependency.as_str()) {
                            Some(&span) => config_provenance_at(span),
                            None => {
                                self.config_provenance(&["services", key, "depends_on", dependency])
                            }
                        };
                        self.add_edge(entry, to, kind, provenance, true);
                    }
                    Ok(_) => self.config_error(
                        &["services", key, "depends_on", dependency],
                        format!("service `{key}` depends on itself"),
                        "remove this entry",
                    ),
                    Err(candidates) => {
                        let message = match candidates {
                            None => format!("`{dependency}` names no service of the workspace"),
                            Some(c) => {
                                format!("`{dependency}` is ambiguous: it names {}", c.join(", "))
                            }
                        };
                        self.config_error(
                            &["services", key, "depends_on", dependency],
                            message,
                            "`weft graph` lists every service id; write repository/service when a name repeats",
                        );
                    }
                }
            }
        }
    }

    fn config_provenance(&self, keys: &[&str]) -> Provenance {
        config_provenance_at(self.config.key_span(keys).unwrap_or_default())
    }

    fn config_error(&mut self, keys: &[&str], message: String, hint: &str) {
        let mut diagnostic = Diagnostic::error("invalid-config", message)
            .in_file(weft_model::config::FILE_NAME)
            .with_hint(hint);
        if let (Some(span), Some((text, _))) = (self.config.key_span(keys), &self.config.source) {
            diagnostic = diagnostic.at(text, span.start);
        }
        self.diagnostics.push(diagnostic);
    }
}

/// Provenance in weft.yaml at `span`; line 1 when the key was not found.
fn config_provenance_at(span: Span) -> Provenance {
    let mut provenance = Provenance::new(weft_model::config::FILE_NAME, span, Rule::WeftYaml);
    if span == Span::default() {
        provenance.line = 1;
        provenance.column = 1;
    }
    provenance
}

/// The services by id and by name, for weft.yaml's keys: a key names a
/// service by its id, or by its name (or the name's last segment) when that
/// is unique.
#[derive(Default)]
struct NameIndex {
    by_id: HashMap<String, usize>,
    by_name: HashMap<String, Vec<usize>>,
}

impl NameIndex {
    fn add(&mut self, index: usize, entry: &Entry) {
        self.by_id.entry(entry.id.to_string()).or_insert(index);
        self.by_name
            .entry(entry.name.clone())
            .or_default()
            .push(index);
        if let Some(last) = entry.name.rsplit('/').next().filter(|l| *l != entry.name) {
            self.by_name
                .entry(last.to_string())
                .or_default()
                .push(index);
        }
    }

    /// An entry by id or unique plain name; `Err(None)` when none,
    /// `Err(Some(ids))` when ambiguous.
    fn lookup(&self, entries: &[Entry], key: &str) -> Result<usize, Option<Vec<String>>> {
        if let Some(&entry) = self.by_id.get(key) {
            return Ok(entry);
        }
        let mut matches: Vec<usize> = self.by_name.get(key).cloned().unwrap_or_default();
        matches.sort_unstable();
        matches.dedup();
        match matches.as_slice() {
            [one] => Ok(*one),
            [] => Err(None),
            many => Err(Some(
                many.iter().map(|&e| entries[e].id.to_string()).collect(),
            )),
        }
    }
}
