//! Docker Compose files: services, dependencies, ports, names, networks,
//! volumes, environment and Traefik labels.
//!
//! All compose files of one directory form one project, read in Compose's
//! order (base file, then `*.override.*`, then the other layers). Values are
//! interpolated from the project's `.env` the way Compose does; the process
//! environment is deliberately not consulted, so that analysis is repeatable.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap, HashSet};

use weft_model::yaml::{self, Arena, Node};
use weft_model::{Diagnostic, EdgeKind, Resource, Rule, Severity, Span};

use crate::env::interpolate;
use crate::facts::{
    ClaimFact, EnvAssignment, Facts, LocalService, Mount, Reference, ServiceFact, SourceFile,
    SourceKind, Subject, Target,
};
use crate::host::hosts_in_value;
use crate::paths::join_relative;
use crate::traefik::{self, Label};

mod declarations;
mod ports;

pub use ports::parse_short_port;

/// How deep `extends` chains are followed.
const MAX_EXTENDS: usize = 8;

/// How deep `include` chains are followed.
const MAX_INCLUDE_DEPTH: usize = 4;

/// Keys that `extends` merges (or concatenates) rather than replaces.
const MERGED_BY_EXTENDS: &[&str] = &[
    "environment",
    "labels",
    "ports",
    "expose",
    "volumes",
    "depends_on",
    "links",
    "external_links",
    "env_file",
    "networks",
    "volumes_from",
    "deploy",
    "extra_hosts",
    "dns",
];

/// One compose project: the files of one directory.
pub struct Project<'a> {
    /// The project directory, relative to the workspace root.
    pub directory: &'a str,
    /// Its compose files, base first.
    pub files: &'a [SourceFile],
    /// Variables from the project's `.env`.
    pub environment: &'a HashMap<String, String>,
    /// Loads another file of the repository (for `extends: {file: …}`), by
    /// workspace-relative path.
    pub load: &'a dyn Fn(&str) -> Option<SourceFile>,
}

impl std::fmt::Debug for Project<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Project")
            .field("directory", &self.directory)
            .field("files", &self.files.len())
            .finish()
    }
}

/// The scope of a compose project's service names.
pub fn scope(directory: &str) -> String {
    format!("compose:{directory}")
}

/// Reads every file of a compose project.
pub fn read_project(project: &Project<'_>) -> Facts {
    let mut reader = Reader {
        project,
        scope: scope(project.directory),
        name: String::new(),
        facts: Facts::default(),
        unset: BTreeSet::new(),
    };
    // The trees of the project's files and of those it includes.
    let arena = Arena::new();
    let mut documents = Vec::new();
    for file in project.files {
        match yaml::parse_one(&arena, &file.text) {
            Ok(node) => documents.push((file, node)),
            Err(error) => reader.facts.diagnostics.push(
                Diagnostic::error(
                    "yaml-syntax",
                    format!("compose file is not valid YAML: {}", error.message),
                )
                .in_file(&file.path)
                .at(&file.text, error.location)
                .with_hint(
                    "fix the YAML at this position; `docker compose config` shows the same error",
                ),
            ),
        }
    }
    reader.name = documents
        .iter()
        .find_map(|(_, node)| node.get("name").and_then(Node::as_str))
        .map(project_name)
        .unwrap_or_else(|| project_name(basename(project.directory)));
    for (file, node) in &documents {
        reader.read_file(file, node);
    }
    // `include:` brings other compose files into this project. The
    // project's own files are looked at where they are; only files the
    // includes load are held here.
    let mut pending: Vec<(Cow<'_, SourceFile>, Node<'_>, usize)> = documents
        .iter()
        .map(|&(f, n)| (Cow::Borrowed(f), n, 0))
        .collect();
    let mut included = BTreeSet::new();
    while let Some((file, node, depth)) = pending.pop() {
        for (path, span) in reader.includes(&file, &node) {
            if depth >= MAX_INCLUDE_DEPTH || !included.insert(path.clone()) {
                continue;
            }
            let Some(other) = (project.load)(&path) else {
                reader.facts.diagnostics.push(
                    file.diagnostic(
                        Diagnostic::warning(
                            "compose-include",
                            format!("`include` names `{path}`, which cannot be read"),
                        )
                        .with_hint(
                            "check the path (relative to this file) and the variables it uses",
                        ),
                        span,
                    ),
                );
                continue;
            };
            // The tree outlives `other`, which moves onto the stack.
            match yaml::parse_one(&arena, arena.alloc_str(&other.text)) {
                Ok(other_node) => {
                    reader.read_file(&other, &other_node);
                    pending.push((Cow::Owned(other), other_node, depth + 1));
                }
                Err(error) => reader.facts.diagnostics.push(
                    Diagnostic::error(
                        "yaml-syntax",
                        format!("compose file is not valid YAML: {}", error.message),
                    )
                    .in_file(&other.path)
                    .at(&other.text, error.location),
                ),
            }
        }
    }
    if !reader.unset.is_empty() {
        let names: Vec<&str> = reader.unset.iter().map(String::as_str).collect();
        let mut diagnostic = Diagnostic::new(
            Severity::Note,
            "unset-variable",
            format!(
                "variables not set, read as blank as Compose does: {}",
                names.join(", ")
            ),
        )
        .with_hint("set them in the project's .env to analyse the values Compose would use");
        diagnostic.file = project.files.first().map(|f| f.path.to_string());
        reader.facts.diagnostics.push(diagnostic);
    }
    reader.facts
}

/// Compose's project name normalization: lowercase, `[a-z0-9_-]`.
fn project_name(raw: &str) -> String {
    raw.to_ascii_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
        .collect()
}

fn basename(directory: &str) -> &str {
    directory
        .rsplit('/')
        .find(|s| !s.is_empty() && *s != ".")
        .unwrap_or("default")
}

struct Reader<'p, 'a> {
    project: &'p Project<'a>,
    scope: String,
    /// The Compose project name, which prefixes network and volume names.
    name: String,
    facts: Facts,
    unset: BTreeSet<String>,
}

impl Reader<'_, '_> {
    fn text(&mut self, node: &Node) -> Option<String> {
        let raw = node.as_str()?;
        let environment = self.project.environment;
        let (value, unset) = interpolate(raw, &|name| environment.get(name).cloned());
        self.unset.extend(unset);
        Some(value)
    }

    /// Like [`Reader::text`], but a value with unset variables stays as
    /// written, so that readers can tell "set at deploy time" from "wrong".
    fn text_or_raw(&mut self, node: &Node) -> Option<String> {
        let raw = node.as_str()?;
        let environment = self.project.environment;
        let (value, unset) = interpolate(raw, &|name| environment.get(name).cloned());
        if unset.is_empty() {
            Some(value)
        } else {
            self.unset.extend(unset);
            Some(raw.to_string())
        }
    }

    /// The files a compose file's top-level `include` names (short form
    /// `- path`, long form `- path: [a, b]`), workspace-relative.
    fn includes(&mut self, file: &SourceFile, root: &Node) -> Vec<(String, Span)> {
        let directory = file
            .path
            .rsplit_once('/')
            .map_or("", |(d, _)| d)
            .to_string();
        let mut paths = Vec::new();
        for item in root.get("include").into_iter().flat_map(Node::items) {
            let targets: Vec<&Node> = match item.get("path") {
                Some(path) if path.as_sequence().is_some() => path.items().collect(),
                Some(path) => vec![path],
                None => vec![item],
            };
            for target in targets {
                // A path with unset variables is reported once, with the
                // other unset variables, rather than as a missing file.
                if let Some(path) = self
                    .text_or_raw(target)
                    .filter(|p| !p.is_empty() && !p.contains('$'))
                {
                    paths.push((join_relative(&directory, &path), target.span));
                }
            }
        }
        paths
    }

    fn local(&self, name: &str) -> LocalService {
        LocalService::new(&self.scope, name)
    }

    fn read_file(&mut self, file: &SourceFile, root: &Node) {
        if root.is_null() {
            return;
        }
        if root.as_mapping().is_none() {
            self.facts.diagnostics.push(
                file.diagnostic(
                    Diagnostic::error(
                        "compose-shape",
                        format!("a compose file is a mapping, not {}", root.kind_name()),
                    )
                    .with_hint("a compose file starts with `services:`"),
                    root.span,
                ),
            );
            return;
        }
        if let Some(services) = root.get("services") {
            for (key, body) in services.as_mapping().unwrap_or_default() {
                let Some(name) = key.as_str() else { continue };
                self.read_service(file, name, key.span, body);
            }
        }
        if let Some(networks) = root.get("networks") {
            for (key, definition) in networks.as_mapping().unwrap_or_default() {
                if let Some(name) = key.as_str() {
                    self.read_network(file, name, key.span, definition);
                }
            }
        }
        if let Some(volumes) = root.get("volumes") {
            for (key, definition) in volumes.as_mapping().unwrap_or_default() {
                if let Some(name) = key.as_str() {
                    self.read_volume(file, name, key.span, definition);
                }
            }
        }
    }

    fn read_service(&mut self, file: &SourceFile, name: &str, key_span: Span, body: &Node) {
        let local = self.local(name);
        let mut fact = ServiceFact {
            service: local.clone(),
            source: SourceKind::Compose,
            image: None,
            command: None,
            aliases: Vec::new(),
            directory: None,
            provenance: file.provenance(key_span, Rule::ComposeService),
        };
        // `extends`: inherit what the service does not set itself. Keys
        // Compose merges (environment, labels, ports, …) come from both.
        let mut own_keys: HashSet<String> = body
            .entries()
            .map(|(k, _)| k.to_string())
            .filter(|k| !MERGED_BY_EXTENDS.contains(&k.as_str()))
            .collect();
        self.read_body(file, &local, body, &HashSet::new(), &mut fact);
        let mut seen = vec![(file.path.clone(), name.to_string())];
        let arena = Arena::new();
        let mut base = self.extends_base(&arena, file, body);
        while let Some((base_file, base_name, base_node)) = base.take() {
            let key = (base_file.path.clone(), base_name.clone());
            if seen.contains(&key) || seen.len() > MAX_EXTENDS {
                let chain: Vec<String> = seen.iter().map(|(_, s)| s.clone()).collect();
                self.facts.diagnostics.push(
                    file.diagnostic(
                        Diagnostic::warning(
                            "compose-extends",
                            format!(
                                "`extends` of `{name}` loops or runs too deep: {} → {base_name}",
                                chain.join(" → ")
                            ),
                        )
                        .with_hint("Compose rejects circular `extends`; break the chain"),
                        key_span,
                    ),
                );
                break;
            }
            seen.push(key);
            self.read_body(&base_file, &local, &base_node, &own_keys, &mut fact);
            own_keys.extend(
                base_node
                    .entries()
                    .map(|(k, _)| k.to_string())
                    .filter(|k| !MERGED_BY_EXTENDS.contains(&k.as_str())),
            );
            base = self.extends_base(&arena, &base_file, &base_node);
        }
        self.facts.services.push(fact);
    }

    /// The service an `extends` points at, with the file it is in; its
    /// tree (and a copy of the file's text) in `arena`.
    fn extends_base<'y>(
        &mut self,
        arena: &'y Arena,
        file: &SourceFile,
        body: &Node<'_>,
    ) -> Option<(SourceFile, String, Node<'y>)> {
        let extends = body.get("extends")?;
        let (service, other_file) = match extends.as_str() {
            Some(service) => (service.to_string(), None),
            None => (
                self.text(extends.get("service")?)?,
                extends.get("file").and_then(|f| self.text(f)),
            ),
        };
        let base_file = match other_file {
            None => file.clone(),
            Some(path) => {
                let directory = file.path.rsplit_once('/').map_or("", |(d, _)| d);
                let full = join_relative(directory, &path);
                match (self.project.load)(&full) {
                    Some(loaded) => loaded,
                    None => {
                        self.facts.diagnostics.push(file.diagnostic(
                            Diagnostic::warning(
                                "compose-extends",
                                format!("`extends` names `{full}`, which cannot be read"),
                            ),
                            extends.span,
                        ));
                        return None;
                    }
                }
            }
        };
        let root = yaml::parse_one(arena, arena.alloc_str(&base_file.text)).ok()?;
        let node = *root.get("services")?.get(&service)?;
        Some((base_file, service, node))
    }

    fn read_body(
        &mut self,
        file: &SourceFile,
        local: &LocalService,
        body: &Node,
        skip: &HashSet<String>,
        fact: &mut ServiceFact,
    ) {
        let project_directory = self.project.directory.to_string();
        let mut labels = Vec::new();
        for (key, value) in body.entries() {
            if skip.contains(key) {
                continue;
            }
            match key {
                "image" => fact.image = fact.image.take().or_else(|| self.text(value)),
                "command" if fact.command.is_none() => {
                    fact.command = match value.as_sequence() {
                        Some(items) => {
                            let words: Vec<String> =
                                items.iter().filter_map(|i| self.text(i)).collect();
                            Some(words.join(" "))
                        }
                        None => self.text(value),
                    };
                }
                "build" => {
                    let context = match value.as_str() {
                        Some(_) => self.text(value),
                        None => value.get("context").and_then(|c| self.text(c)),
                    };
                    if let Some(context) = context.filter(|c| !c.contains("://")) {
                        fact.directory = Some(join_relative(&project_directory, &context));
                    }
                }
                "container_name" => {
                    if let Some(name) = self.text(value).filter(|n| !n.is_empty()) {
                        fact.aliases.push(name.to_ascii_lowercase());
                        self.claim(
                            file,
                            local,
                            value.span,
                            Rule::ComposeContainerName,
                            Resource::ContainerName { name },
                        );
                    }
                }
                "hostname" => {
                    if let Some(name) = self.text(value).filter(|n| !n.is_empty()) {
                        fact.aliases.push(name.to_ascii_lowercase());
                    }
                }
                "networks" => {
                    for (_, network) in value.entries() {
                        for alias in network.get("aliases").into_iter().flat_map(Node::items) {
                            if let Some(alias) = self.text(alias) {
                                fact.aliases.push(alias.to_ascii_lowercase());
                            }
                        }
                    }
                }
                "depends_on" => self.read_depends_on(file, local, value),
                "links" => {
                    for item in value.items() {
                        let Some(text) = self.text(item) else {
                            continue;
                        };
                        let target = text.split(':').next().unwrap_or_default().to_string();
                        self.reference(
                            file,
                            local,
                            item.span,
                            Rule::ComposeLinks,
                            EdgeKind::Required,
                            Target::Service(self.local(&target)),
                        );
                    }
                }
                "external_links" => {
                    for item in value.items() {
                        let Some(text) = self.text(item) else {
                            continue;
                        };
                        let target = text
                            .split(':')
                            .next()
                            .unwrap_or_default()
                            .to_ascii_lowercase();
                        self.reference(
                            file,
                            local,
                            item.span,
                            Rule::ComposeExternalLinks,
                            EdgeKind::Optional,
                            Target::Host(target),
                        );
                    }
                }
                "network_mode" => {
                    if let Some(target) = self
                        .text(value)
                        .as_deref()
                        .and_then(|m| m.strip_prefix("service:"))
                    {
                        let target = Target::Service(self.local(target));
                        self.reference(
                            file,
                            local,
                            value.span,
                            Rule::ComposeSharedNamespace,
                            EdgeKind::Required,
                            target,
                        );
                    }
                }
                "volumes_from" => {
                    for item in value.items() {
                        let Some(text) = self.text(item) else {
                            continue;
                        };
                        if text.starts_with("container:") {
                            continue;
                        }
                        let target =
                            Target::Service(self.local(text.split(':').next().unwrap_or_default()));
                        self.reference(
                            file,
                            local,
                            item.span,
                            Rule::ComposeSharedNamespace,
                            EdgeKind::Required,
                            target,
                        );
                    }
                }
                "environment" => self.read_environment(file, local, value),
                "env_file" => {
                    let items: Vec<&Node> = match value.as_sequence() {
                        Some(items) => items.iter().collect(),
                        None => vec![value],
                    };
                    for item in items {
                        let path = match item.get("path") {
                            Some(path) => self.text(path),
                            None => self.text(item),
                        };
                        if let Some(path) = path {
                            self.facts.mounts.push(Mount {
                                service: local.clone(),
                                path: join_relative(&project_directory, &path),
                            });
                        }
                    }
                }
                "ports" => {
                    if matches!(value.tag, Some("!override" | "!reset")) {
                        // A later file replaces the ports read so far (Compose's merge tags).
                        let subject = Subject::Service(local.clone());
                        self.facts.claims.retain(|c| {
                            !(c.subject == subject
                                && matches!(c.resource, Resource::HostPort { .. }))
                        });
                    }
                    for item in value.items() {
                        self.read_port(file, local, item);
                    }
                }
                "volumes" => {
                    for item in value.items() {
                        let source = match item.get("source") {
                            Some(source)
                                if item.get("type").and_then(Node::as_str) == Some("bind") =>
                            {
                                self.text(source)
                            }
                            Some(_) => None,
                            None => self.text(item).and_then(|spec| {
                                let source = spec.split(':').next().unwrap_or_default().to_string();
                                is_bind_source(&source).then_some(source)
                            }),
                        };
                        if let Some(source) =
                            source.filter(|s| !s.starts_with('/') && !s.starts_with('~'))
                        {
                            self.facts.mounts.push(Mount {
                                service: local.clone(),
                                path: join_relative(&project_directory, &source),
                            });
                        }
                    }
                }
                "labels" => labels.extend(self.labels(value)),
                "deploy" => {
                    if let Some(deploy_labels) = value.get("labels") {
                        labels.extend(self.labels(deploy_labels));
                    }
                }
                _ => {}
            }
        }
        if labels.iter().any(|l| l.key.starts_with("traefik.")) {
            let found = traefik::read_labels(file, local, &labels);
            self.facts.extend(found);
        }
    }

    fn read_depends_on(&mut self, file: &SourceFile, local: &LocalService, value: &Node) {
        if let Some(items) = value.as_sequence() {
            for item in items {
                if let Some(target) = self.text(item) {
                    let target = Target::Service(self.local(&target));
                    self.reference(
                        file,
                        local,
                        item.span,
                        Rule::ComposeDependsOn,
                        EdgeKind::Required,
                        target,
                    );
                }
            }
            return;
        }
        for (key, spec) in value.as_mapping().unwrap_or_default() {
            let Some(target) = key.as_str() else { continue };
            let kind = if spec.get("required").and_then(Node::as_bool) == Some(false) {
                EdgeKind::Optional
            } else {
                EdgeKind::Required
            };
            let target = Target::Service(self.local(target));
            self.reference(file, local, key.span, Rule::ComposeDependsOn, kind, target);
        }
    }

    fn read_environment(&mut self, file: &SourceFile, local: &LocalService, value: &Node) {
        let mut pairs: Vec<(String, Option<String>, Span)> = Vec::new();
        if let Some(items) = value.as_sequence() {
            for item in items {
                if let Some(text) = self.text(item) {
                    match text.split_once('=') {
                        Some((name, value)) => {
                            pairs.push((name.to_string(), Some(value.to_string()), item.span))
                        }
                        None => pairs.push((text, None, item.span)),
                    }
                }
            }
        } else {
            for (key, item) in value.as_mapping().unwrap_or_default() {
                if let Some(name) = key.as_str() {
                    let value = if item.is_null() {
                        None
                    } else {
                        self.text(item)
                    };
                    pairs.push((name.to_string(), value, item.span));
                }
            }
        }
        for (name, value, span) in pairs {
            let Some(value) = value else { continue };
            for host in hosts_in_value(Some(&name), &value) {
                if host != local.name {
                    self.reference(
                        file,
                        local,
                        span,
                        Rule::ComposeEnvironment,
                        EdgeKind::Soft,
                        Target::Host(host),
                    );
                }
            }
            self.facts.env.push(EnvAssignment {
                subject: Subject::Service(local.clone()),
                name,
                value,
                provenance: file.provenance(span, Rule::ComposeEnvironment),
            });
        }
    }

    fn labels(&mut self, value: &Node) -> Vec<Label> {
        let mut labels = Vec::new();
        if let Some(items) = value.as_sequence() {
            for item in items {
                if let Some(text) = self.text_or_raw(item)
                    && let Some((key, value)) = text.split_once('=')
                {
                    labels.push(Label {
                        key: key.trim().to_string(),
                        value: value.to_string(),
                        span: item.span,
                    });
                }
            }
        } else {
            for (key, item) in value.as_mapping().unwrap_or_default() {
                if let (Some(key), Some(value)) = (key.as_str(), self.text_or_raw(item)) {
                    labels.push(Label {
                        key: key.to_string(),
                        value,
                        span: item.span,
                    });
                }
            }
        }
        labels
    }

    fn reference(
        &mut self,
        file: &SourceFile,
        local: &LocalService,
        span: Span,
        rule: Rule,
        kind: EdgeKind,
        target: Target,
    ) {
        self.facts.references.push(Reference {
            from: Subject::Service(local.clone()),
            target,
            kind,
            provenance: file.provenance(span, rule),
        });
    }

    fn claim(
        &mut self,
        file: &SourceFile,
        local: &LocalService,
        span: Span,
        rule: Rule,
        resource: Resource,
    ) {
        self.facts.claims.push(ClaimFact {
            subject: Subject::Service(local.clone()),
            resource,
            provenance: file.provenance(span, rule),
        });
    }
}

/// Whether a short volume source is a path (a bind mount) rather than a volume name.
fn is_bind_source(source: &str) -> bool {
    source.starts_with(['.', '/', '~']) || source.contains('/')
}

#[cfg(test)]
mod tests;

/// The files one compose file pulls in, by workspace-relative path.
#[derive(Debug, Default)]
pub struct PulledIn {
    /// `include:` entries: read as part of the including project.
    pub included: Vec<String>,
    /// `extends: {file: …}` targets: templates the file's services inherit from.
    pub extended: Vec<String>,
}

/// The files a compose file includes or extends from, with variables
/// interpolated from the project's `.env`; paths that still hold a
/// variable are left out.
pub fn pulled_in_files(file: &SourceFile, environment: &HashMap<String, String>) -> PulledIn {
    if !file.text.contains("include") && !file.text.contains("extends") {
        return PulledIn::default();
    }
    let arena = Arena::new();
    let Ok(root) = yaml::parse_one(&arena, &file.text) else {
        return PulledIn::default();
    };
    let load = |_: &str| None;
    let project = Project {
        directory: "",
        files: &[],
        environment,
        load: &load,
    };
    let mut reader = Reader {
        project: &project,
        scope: String::new(),
        name: String::new(),
        facts: Facts::default(),
        unset: BTreeSet::new(),
    };
    let included = reader
        .includes(file, &root)
        .into_iter()
        .map(|(path, _)| path)
        .collect();
    let directory = file.path.rsplit_once('/').map_or("", |(d, _)| d);
    let extended = root
        .get("services")
        .into_iter()
        .flat_map(Node::entries)
        .filter_map(|(_, body)| body.get("extends")?.get("file"))
        .filter_map(|path| reader.text_or_raw(path))
        .filter(|path| !path.is_empty() && !path.contains('$'))
        .map(|path| join_relative(directory, &path))
        .collect();
    PulledIn { included, extended }
}
