//! Resolves the facts of every repository into one workspace model: names
//! services, turns references into edges, attributes file facts to the
//! services that use the files, and applies weft.yaml.
//!
//! How names resolve: a reference from a service looks for the target first
//! in its own scope (compose project, Kubernetes namespace), then in its
//! repository, then in the whole workspace; a host that names services in
//! several other repositories is ambiguous and left out, with a note.

use std::borrow::Cow;
use std::collections::BTreeSet;

use foldhash::{HashMap, HashMapExt};
use smallvec::SmallVec;

use weft_model::config::LoadedConfig;
use weft_model::{
    Claim, Diagnostic, Edge, EdgeKind, Model, Provenance, ProxyKind, Repository, Resource, Rule,
    Service, ServiceId, Severity,
};

use crate::facts::{Facts, LocalService, Mount, ServiceFact, Subject, Target};
use crate::paths::{is_within, parent};

mod config;
mod entry;
mod order;

use entry::{Entry, insert_sorted};

/// An index into the repositories and their facts.
type RepositoryIndex = usize;

/// Host names and scopes are borrowed from the facts (`'f`) where they can
/// be: a model of ten thousand services has tens of thousands of them.
pub(crate) struct Builder<'c, 'f> {
    config: &'c LoadedConfig,
    name: String,
    repositories: Vec<Repository>,
    entries: Vec<Entry>,
    by_id: HashMap<ServiceId, usize>,
    /// Entries of each repository.
    by_repository: Vec<Vec<usize>>,
    /// The scope each entry was first declared in, by entry.
    first_scope: Vec<Option<&'f str>>,
    traefik: Vec<usize>,
    /// Of those, each repository's.
    traefik_by_repository: Vec<Vec<usize>>,
    /// Each repository's services by the local name they were declared with.
    by_local: Vec<HashMap<&'f LocalService, usize>>,
    /// Host name → its place in `hosts`. The table holds only a number
    /// per name, so that it stays small: looking names up in it is most of
    /// what naming services costs.
    aliases: HashMap<Cow<'f, str>, u32>,
    /// The services each host name reaches, by place. Most reach one.
    hosts: Vec<SmallVec<[Alias<'f>; 1]>>,
    /// Each repository's mounts: (entry, path).
    mounts: Vec<Vec<(usize, String)>>,
    /// Synthetic nginx services by (repository, directory).
    nginx_services: HashMap<(RepositoryIndex, String), usize>,
    /// Edges, in the order they were first drawn; sorted by id when finished.
    edges: Vec<Edge>,
    /// Each edge's place in `edges`, by (from entry, to entry).
    edge_index: HashMap<(usize, usize), usize>,
    claims: Vec<Claim>,
    diagnostics: Vec<Diagnostic>,
}

/// The entries a fact's subject stands for.
type Subjects = SmallVec<[usize; 1]>;

/// A service a host name reaches: (entry, repository, scope).
type Alias<'f> = (usize, RepositoryIndex, Cow<'f, str>);

impl<'c, 'f> Builder<'c, 'f> {
    pub(crate) fn new(
        config: &'c LoadedConfig,
        name: String,
        diagnostics: Vec<Diagnostic>,
    ) -> Self {
        Builder {
            config,
            name,
            repositories: Vec::new(),
            entries: Vec::new(),
            by_id: HashMap::new(),
            by_repository: Vec::new(),
            first_scope: Vec::new(),
            traefik: Vec::new(),
            traefik_by_repository: Vec::new(),
            by_local: Vec::new(),
            aliases: HashMap::new(),
            hosts: Vec::new(),
            mounts: Vec::new(),
            nginx_services: HashMap::new(),
            edges: Vec::new(),
            edge_index: HashMap::new(),
            claims: Vec::new(),
            diagnostics,
        }
    }

    /// Builds the model from each repository's facts.
    pub(crate) fn build(
        mut self,
        root: std::path::PathBuf,
        repositories: &[Repository],
        facts: &[&'f Facts],
    ) -> Model {
        self.repositories = repositories.to_vec();
        self.by_local = facts
            .iter()
            .map(|f| HashMap::with_capacity(f.services.len()))
            .collect();
        self.mounts = vec![Vec::new(); repositories.len()];
        self.by_repository = vec![Vec::new(); repositories.len()];
        let declared: usize = facts.iter().map(|f| f.services.len()).sum();
        self.entries.reserve(declared);
        self.by_id.reserve(declared);
        self.aliases.reserve(declared * 2);
        self.hosts.reserve(declared * 2);
        let references: usize = facts.iter().map(|f| f.references.len()).sum();
        self.edges.reserve(references);
        self.edge_index.reserve(references);
        self.claims
            .reserve(facts.iter().map(|f| f.claims.len()).sum::<usize>());
        // Where each repository's entries begin (see `order::id_order`).
        let mut starts = Vec::with_capacity(facts.len());
        for (index, &repository_facts) in facts.iter().enumerate() {
            starts.push(self.entries.len());
            self.name_services(index, repository_facts);
            self.diagnostics
                .extend(repository_facts.diagnostics.iter().cloned());
        }
        let traefik: Vec<bool> = self.entries.iter().map(|e| e.runs("traefik")).collect();
        self.traefik = (0..self.entries.len()).filter(|&e| traefik[e]).collect();
        self.traefik_by_repository = self
            .by_repository
            .iter()
            .map(|entries| entries.iter().copied().filter(|&e| traefik[e]).collect())
            .collect();
        for (index, &repository_facts) in facts.iter().enumerate() {
            for Mount { service, path } in &repository_facts.mounts {
                if let Some(&entry) = self.by_local[index].get(service) {
                    self.mounts[index].push((entry, path.clone()));
                }
            }
        }
        for (index, &repository_facts) in facts.iter().enumerate() {
            self.resolve_references(index, repository_facts);
            self.resolve_claims(index, repository_facts);
        }
        self.apply_config();
        self.finish(root, &starts)
    }

    /// Gives every declared service its id. A name declared in one scope per
    /// kind (one compose project, one namespace) is one service, merged across
    /// kinds; a name declared in several compose projects or namespaces of
    /// one repository is qualified by its project directory or namespace.
    fn name_services(&mut self, repository: RepositoryIndex, facts: &'f Facts) {
        let repository_name = self.repositories[repository].name.clone();
        let qualified = qualified_names(&facts.services, &self.repositories[repository].path);
        let mut id = String::new();
        for (fact, qualified) in facts.services.iter().zip(qualified) {
            let service_name = qualified.as_deref().unwrap_or(&fact.service.name);
            id.clear();
            id.push_str(&repository_name);
            id.push('/');
            id.push_str(service_name);
            let entry = match self.by_id.get(id.as_str()) {
                Some(&entry) => entry,
                None => {
                    let entry = self.entries.len();
                    let service_id = ServiceId::from(id.as_str());
                    self.by_id.insert(service_id.clone(), entry);
                    self.by_repository[repository].push(entry);
                    self.entries.push(Entry::new(
                        service_id,
                        repository_name.clone(),
                        service_name.to_string(),
                        fact.source.as_str(),
                    ));
                    entry
                }
            };
            let target = &mut self.entries[entry];
            target.sources.insert(fact.source.as_str());
            if target.image.is_none() {
                target.image.clone_from(&fact.image);
            }
            if target.command.is_none() {
                target.command.clone_from(&fact.command);
            }
            for alias in &fact.aliases {
                insert_sorted(&mut target.aliases, alias);
            }
            if let Some(directory) = &fact.directory {
                insert_sorted(&mut target.directories, directory);
            }
            if !target.provenance.contains(&fact.provenance) {
                target.provenance.push(fact.provenance.clone());
            }
            self.by_local[repository].insert(&fact.service, entry);
            let scope = fact.service.scope.as_str();
            if self.first_scope.len() <= entry {
                self.first_scope.resize(entry + 1, None);
            }
            self.first_scope[entry].get_or_insert(scope);
            let name = &fact.service.name;
            let name = if name.bytes().any(|b| b.is_ascii_uppercase()) {
                Cow::Owned(name.to_ascii_lowercase())
            } else {
                Cow::Borrowed(name.as_str())
            };
            let hosts = fact
                .aliases
                .iter()
                .map(|alias| Cow::Borrowed(alias.as_str()))
                .chain([name]);
            for host in hosts {
                let slot = self.host_mut(host);
                if !slot.iter().any(|(e, _, s)| *e == entry && *s == scope) {
                    slot.push((entry, repository, Cow::Borrowed(scope)));
                }
            }
        }
    }

    fn resolve_references(&mut self, repository: RepositoryIndex, facts: &'f Facts) {
        for reference in &facts.references {
            let from = self.subjects(repository, &reference.from, &reference.provenance);
            if from.is_empty() {
                continue;
            }
            let scope = match &reference.from {
                Subject::Service(local) => Some(local.scope.as_str()),
                _ => from.first().and_then(|&e| self.scope_of(e)),
            };
            let target = match &reference.target {
                Target::Service(local) => match self.resolve_local(repository, local) {
                    Some(entry) => entry,
                    None => {
                        self.unresolved(&local.name, reference.provenance.clone());
                        continue;
                    }
                },
                Target::Host(host) => {
                    match self.resolve_host(repository, scope, host, &reference.provenance) {
                        Some(entry) => entry,
                        None => continue,
                    }
                }
            };
            for &source in &from {
                if source != target {
                    self.add_edge(
                        source,
                        target,
                        reference.kind,
                        reference.provenance.clone(),
                        false,
                    );
                }
            }
        }
    }

    fn resolve_claims(&mut self, repository: RepositoryIndex, facts: &Facts) {
        let shared: BTreeSet<&str> = self
            .config
            .config
            .shared_env
            .iter()
            .map(String::as_str)
            .collect();
        let repository_name = self.repositories[repository].name.clone();
        for claim in &facts.claims {
            let owners = self.subjects(repository, &claim.subject, &claim.provenance);
            let owner_ids: Vec<String> = if owners.is_empty() {
                vec![repository_name.clone()]
            } else {
                owners
                    .iter()
                    .map(|&e| self.entries[e].id.to_string())
                    .collect()
            };
            for owner in owner_ids {
                let mut resource = claim.resource.clone();
                if let Resource::Route { proxy, router, .. } = &mut resource {
                    match proxy {
                        ProxyKind::Nginx => *router = owner.clone(),
                        ProxyKind::Traefik => {
                            if let Some(&proxy_entry) = self.traefik_proxies(repository).first() {
                                *router = self.entries[proxy_entry].id.to_string();
                            }
                        }
                        ProxyKind::Ingress => {}
                    }
                }
                self.claims.push(Claim {
                    service: owner,
                    repository: repository_name.clone(),
                    resource,
                    provenance: claim.provenance.clone(),
                });
            }
        }
        for assignment in facts
            .env
            .iter()
            .filter(|a| shared.contains(a.name.as_str()))
        {
            let owners = self.subjects(repository, &assignment.subject, &assignment.provenance);
            let owner = owners.first().map_or_else(
                || repository_name.clone(),
                |&e| self.entries[e].id.to_string(),
            );
            self.claims.push(Claim {
                service: owner,
                repository: repository_name.clone(),
                resource: Resource::EnvVar {
                    name: assignment.name.clone(),
                    value: assignment.value.clone(),
                },
                provenance: assignment.provenance.clone(),
            });
        }
    }

    /// The services a subject stands for: most often the one service a
    /// fact was declared under, which takes no allocation.
    fn subjects(
        &mut self,
        repository: RepositoryIndex,
        subject: &Subject,
        provenance: &Provenance,
    ) -> Subjects {
        match subject {
            Subject::Service(local) => self.by_local[repository]
                .get(local)
                .copied()
                .into_iter()
                .collect(),
            Subject::File => Subjects::from_vec(self.file_owners(repository, provenance)),
            Subject::Proxy(ProxyKind::Traefik) => {
                Subjects::from_vec(self.traefik_proxies(repository))
            }
            Subject::Proxy(_) | Subject::Repository => Subjects::new(),
        }
    }

    /// The services that run a file: those that mount it (or its directory)
    /// or list it in `env_file`; else the one whose build context holds it;
    /// else the only service of the repository. An nginx config nobody
    /// mounts describes an nginx of its own.
    fn file_owners(&mut self, repository: RepositoryIndex, provenance: &Provenance) -> Vec<usize> {
        let file = &*provenance.file;
        let mut owners: Vec<usize> = self.mounts[repository]
            .iter()
            .filter(|(_, path)| is_within(file, path))
            .map(|(e, _)| *e)
            .collect();
        owners.sort_unstable();
        owners.dedup();
        let nginx = matches!(provenance.rule, Rule::NginxServer | Rule::NginxProxyPass);
        if nginx && owners.len() > 1 {
            // Several services mount an nginx config (nginx and a PHP-FPM
            // sharing a directory, say): it configures the nginx among them.
            let running_nginx: Vec<usize> = owners
                .iter()
                .copied()
                .filter(|&e| self.entries[e].runs("nginx"))
                .collect();
            if !running_nginx.is_empty() {
                owners = running_nginx;
            }
        }
        if !owners.is_empty() {
            return owners;
        }
        let in_repository = self.by_repository[repository].clone();
        let deepest_context = in_repository
            .iter()
            .flat_map(|&i| self.entries[i].directories.iter().map(move |d| (i, d)))
            .filter(|(_, d)| is_within(file, d) && d.as_str() != self.repositories[repository].path)
            .max_by_key(|(_, d)| d.len())
            .map(|(i, _)| i);
        if let Some(entry) = deepest_context {
            return vec![entry];
        }
        if nginx {
            return vec![self.nginx_service(repository, provenance)];
        }
        let in_repository: Vec<usize> = in_repository
            .into_iter()
            .filter(|&e| !self.entries[e].name.contains(':'))
            .collect();
        if let [only] = in_repository.as_slice() {
            return vec![*only];
        }
        // A directory named after a service (`src/order-service/.env`).
        let directory = parent(file);
        let by_directory = in_repository
            .iter()
            .copied()
            .filter(|&e| {
                directory
                    .split('/')
                    .any(|part| part == self.entries[e].name)
            })
            .max_by_key(|&e| self.entries[e].name.len());
        by_directory.into_iter().collect()
    }

    fn nginx_service(&mut self, repository: RepositoryIndex, provenance: &Provenance) -> usize {
        let directory = parent(&provenance.file).to_string();
        if let Some(&entry) = self.nginx_services.get(&(repository, directory.clone())) {
            return entry;
        }
        let repository_name = self.repositories[repository].name.clone();
        let images: Vec<usize> = self.by_repository[repository]
            .iter()
            .copied()
            .filter(|&e| self.entries[e].runs("nginx"))
            .collect();
        let entry = if let [only] = images.as_slice() {
            *only
        } else {
            let taken = |name: &str| {
                self.entries
                    .iter()
                    .any(|e| e.repository == repository_name && e.name == name)
            };
            let mut name = "nginx".to_string();
            if taken(&name) {
                let last = directory.rsplit('/').next().unwrap_or("conf");
                name = format!("nginx-{last}");
            }
            let mut suffix = 2;
            while taken(&name) {
                name = format!("nginx-{suffix}");
                suffix += 1;
            }
            let mut declared = provenance.clone();
            declared.rule = Rule::NginxServer;
            let id = ServiceId::new(&repository_name, &name);
            self.by_id.insert(id.clone(), self.entries.len());
            self.by_repository[repository].push(self.entries.len());
            let mut nginx = Entry::new(id, repository_name, name.clone(), "nginx");
            nginx.directories.push(directory.clone());
            nginx.provenance.push(declared);
            self.entries.push(nginx);
            let entry = self.entries.len() - 1;
            self.host_mut(Cow::Owned(name.clone())).push((
                entry,
                repository,
                Cow::Owned(format!("nginx:{directory}")),
            ));
            entry
        };
        self.nginx_services.insert((repository, directory), entry);
        entry
    }

    /// Services running Traefik: in this repository if any, else anywhere.
    fn traefik_proxies(&self, repository: RepositoryIndex) -> Vec<usize> {
        let local = &self.traefik_by_repository[repository];
        if local.is_empty() {
            self.traefik.clone()
        } else {
            local.clone()
        }
    }

    /// The services a host name reaches, if any.
    fn host(&self, name: &str) -> Option<&[Alias<'f>]> {
        let &place = self.aliases.get(name)?;
        Some(&self.hosts[place as usize])
    }

    /// The services a host name reaches, to add to.
    fn host_mut(&mut self, name: Cow<'f, str>) -> &mut SmallVec<[Alias<'f>; 1]> {
        let hosts = &mut self.hosts;
        let place = *self.aliases.entry(name).or_insert_with(|| {
            hosts.push(SmallVec::new());
            u32::try_from(hosts.len() - 1).expect("fewer than 2^32 host names")
        });
        &mut self.hosts[place as usize]
    }

    fn scope_of(&self, entry: usize) -> Option<&'f str> {
        self.first_scope.get(entry).copied().flatten()
    }

    fn resolve_local(&self, repository: RepositoryIndex, local: &LocalService) -> Option<usize> {
        if let Some(&entry) = self.by_local[repository].get(local) {
            return Some(entry);
        }
        let candidates = self.host(&local.name.to_ascii_lowercase())?;
        candidates
            .iter()
            .find(|(_, r, scope)| *r == repository && *scope == local.scope)
            .map(|(e, _, _)| *e)
    }

    fn resolve_host(
        &mut self,
        repository: RepositoryIndex,
        scope: Option<&str>,
        host: &str,
        provenance: &Provenance,
    ) -> Option<usize> {
        let candidates = self.host(host)?;
        if let [(only, _, _)] = candidates {
            // Whatever the scope and repository, the one service is found.
            return Some(*only);
        }
        let unique = |filter: &dyn Fn(&Alias<'f>) -> bool| -> Option<Vec<usize>> {
            let mut found: Vec<usize> = candidates
                .iter()
                .filter(|c| filter(c))
                .map(|c| c.0)
                .collect();
            found.sort_unstable();
            found.dedup();
            (!found.is_empty()).then_some(found)
        };
        let found = scope
            .and_then(|scope| unique(&|(_, r, s)| *r == repository && s == scope))
            .or_else(|| unique(&|(_, r, _)| *r == repository))
            .or_else(|| unique(&|_| true))?;
        if let [only] = found.as_slice() {
            return Some(*only);
        }
        let names: Vec<String> = found
            .iter()
            .map(|&e| self.entries[e].id.to_string())
            .collect();
        self.diagnostics.push(
            Diagnostic::new(
                Severity::Note,
                "ambiguous-reference",
                format!(
                    "`{host}` could be any of {}; no edge drawn",
                    names.join(", ")
                ),
            )
            .in_file(&*provenance.file)
            .with_hint("add the edge under `services.NAME.depends_on` in weft.yaml"),
        );
        let last = self.diagnostics.len() - 1;
        self.diagnostics[last].line = Some(provenance.line);
        self.diagnostics[last].column = Some(provenance.column);
        None
    }

    fn unresolved(&mut self, name: &str, provenance: Provenance) {
        let (severity, what) = match provenance.rule {
            Rule::ComposeDependsOn | Rule::ComposeLinks | Rule::ComposeSharedNamespace => {
                (Severity::Warning, "this compose project does not define it")
            }
            Rule::KubernetesIngressBackend => (
                Severity::Warning,
                "no Service of that name is in this namespace",
            ),
            _ => (Severity::Note, "no repository of the workspace defines it"),
        };
        let mut diagnostic = Diagnostic::new(
            severity,
            "unknown-reference",
            format!("`{name}` is referenced here, but {what}"),
        )
        .in_file(&*provenance.file)
        .with_hint("check the name, or add the repository that defines it to the workspace");
        diagnostic.line = Some(provenance.line);
        diagnostic.column = Some(provenance.column);
        self.diagnostics.push(diagnostic);
    }

    fn add_edge(
        &mut self,
        from: usize,
        to: usize,
        kind: EdgeKind,
        provenance: Provenance,
        explicit: bool,
    ) {
        // Entries that share an id (weft.yaml's `a/web` and `b/web`, both
        // made services of the workspace) share their edges too.
        // Every entry has an id of its own unless some were added under
        // one already taken: then look each one up.
        let shared_ids = self.by_id.len() != self.entries.len();
        let canonical = |entry: usize| {
            if !shared_ids {
                return entry;
            }
            self.by_id
                .get(&self.entries[entry].id)
                .copied()
                .unwrap_or(entry)
        };
        let (from, to) = (canonical(from), canonical(to));
        let entries = &self.entries;
        let edges = &mut self.edges;
        let index = *self.edge_index.entry((from, to)).or_insert_with(|| {
            edges.push(Edge {
                from: entries[from].id.clone(),
                to: entries[to].id.clone(),
                kind,
                // Nearly every edge is written once: room for one, where
                // the first push would make room for four.
                provenance: Vec::with_capacity(1),
                explicit: false,
            });
            edges.len() - 1
        });
        let edge = &mut self.edges[index];
        if explicit {
            edge.kind = kind;
            edge.explicit = true;
            edge.provenance.insert(0, provenance);
        } else {
            if !edge.explicit {
                edge.kind = edge.kind.max(kind);
            }
            if !edge.provenance.contains(&provenance) {
                edge.provenance.push(provenance);
            }
        }
    }

    fn finish(mut self, root: std::path::PathBuf, starts: &[usize]) -> Model {
        // The entries in the order of their ids (stable: entries that share
        // an id stay in the order they were made), and each one's place in it.
        let order = order::id_order(&self.entries, starts);
        let mut rank = vec![0; order.len()];
        for (place, &entry) in order.iter().enumerate() {
            rank[entry] = place;
        }
        // Edges are keyed by canonical entries, whose ids differ, so their
        // ranks order them as their ids would. (Two entries of one id both
        // keep edges only when a synthetic nginx service took over an id
        // some edges already used; those then follow the entries' order.)
        let keys = order::edge_order(&rank, self.edge_index);
        let mut drawn: Vec<Option<Edge>> = self.edges.into_iter().map(Some).collect();
        let mut edges: Vec<Edge> = keys
            .into_iter()
            .map(|index| drawn[index].take().expect("each edge is taken once"))
            .collect();
        let mut entries: Vec<Option<Entry>> = self.entries.into_iter().map(Some).collect();
        let services: Vec<Service> = order
            .iter()
            .map(|&entry| {
                let e = entries[entry].take().expect("each entry is taken once");
                Service {
                    id: e.id,
                    repository: e.repository,
                    name: e.name,
                    sources: e.sources.names(),
                    image: e.image,
                    command: e.command,
                    aliases: e.aliases,
                    provenance: e.provenance,
                }
            })
            .collect();
        for edge in &mut edges {
            // weft.yaml's provenance stays first; the inferred ones follow in file order.
            let first_inferred = usize::from(edge.explicit);
            edge.provenance[first_inferred..].sort();
        }
        self.claims.sort_by(|a, b| {
            a.provenance
                .cmp(&b.provenance)
                .then_with(|| a.service.cmp(&b.service))
        });
        self.diagnostics.sort_by(|a, b| {
            (a.file.as_deref(), a.line, a.column, &a.message).cmp(&(
                b.file.as_deref(),
                b.line,
                b.column,
                &b.message,
            ))
        });
        self.diagnostics.dedup();
        Model {
            name: self.name,
            root,
            config: self.config.config.clone(),
            repositories: self.repositories,
            services,
            edges,
            claims: self.claims,
            diagnostics: self.diagnostics,
        }
    }
}

/// The name each service fact goes by in its repository: its own (`None`),
/// or (`Some`) its name qualified by its scope's label when the name is
/// declared in several scopes of one kind (two compose projects, two
/// namespaces).
fn qualified_names(facts: &[ServiceFact], repository_path: &str) -> Vec<Option<String>> {
    // One scope (one compose project, say), as in most repositories: no name
    // is declared in two.
    if let Some(first) = facts.first()
        && facts.iter().all(|f| f.service.scope == first.service.scope)
    {
        return vec![None; facts.len()];
    }
    let mut declared: Vec<(&str, &str)> = facts
        .iter()
        .map(|fact| (fact.service.name.as_str(), fact.service.scope.as_str()))
        .collect();
    declared.sort_unstable();
    declared.dedup();
    // Sorted, as `declared` is.
    let mut clashing: Vec<&str> = Vec::new();
    for scopes in declared.chunk_by(|a, b| a.0 == b.0) {
        if scopes.len() < 2 {
            continue;
        }
        let mut kinds: Vec<&str> = scopes.iter().map(|(_, scope)| scope_kind(scope)).collect();
        kinds.sort_unstable();
        if kinds.windows(2).any(|pair| pair[0] == pair[1]) {
            clashing.push(scopes[0].0);
        }
    }
    if clashing.is_empty() {
        return vec![None; facts.len()];
    }
    facts
        .iter()
        .map(|fact| {
            let (name, scope) = (fact.service.name.as_str(), fact.service.scope.as_str());
            clashing.binary_search(&name).ok()?;
            let label = scope_label(scope, repository_path);
            (!(label == "." || label == "default")).then(|| format!("{label}/{name}"))
        })
        .collect()
}

/// `compose`, `kubernetes`, `procfile`, `nginx`.
fn scope_kind(scope: &str) -> &str {
    scope.split_once(':').map_or(scope, |(kind, _)| kind)
}

/// How a scope qualifies a repeated name: a compose project's or Procfile's
/// directory relative to the repository, or a namespace.
fn scope_label(scope: &str, repository_path: &str) -> String {
    let (kind, rest) = scope.split_once(':').unwrap_or((scope, ""));
    match kind {
        "kubernetes" => rest.to_string(),
        _ => {
            if repository_path == "." {
                rest.to_string()
            } else if rest == repository_path {
                ".".to_string()
            } else {
                rest.strip_prefix(repository_path)
                    .map_or(rest, |r| r.trim_start_matches('/'))
                    .to_string()
            }
        }
    }
}
