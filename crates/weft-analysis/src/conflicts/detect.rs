//! Finding conflicts in a model's claims.

use std::collections::{BTreeMap, BTreeSet};

use weft_model::config::NodePlacement;
use weft_model::{Claim, Model, PathMatch, Platform, Protocol, ProxyKind, Resource, Severity};

use super::network::Subnet;
use super::types::{Conflict, ConflictClaim, ConflictKind, StrategyOption};

/// Ranges wider than this are compared by their bounds only.
const MAX_EXPANDED_RANGE: u32 = 1024;

/// Every conflict of the model, sorted by id.
pub fn find_conflicts(model: &Model) -> Vec<Conflict> {
    let mut conflicts = Vec::new();
    ports(model, &mut conflicts);
    domains(model, &mut conflicts);
    shadowed_routes(model, &mut conflicts);
    container_names(model, &mut conflicts);
    networks(model, &mut conflicts);
    volumes(model, &mut conflicts);
    shared_env(model, &mut conflicts);
    conflicts.sort_by(|a, b| a.id.cmp(&b.id));
    conflicts.dedup_by(|a, b| a.id == b.id);
    conflicts
}

fn claim(claim: &Claim, detail: Option<String>) -> ConflictClaim {
    ConflictClaim {
        service: claim.service.clone(),
        repository: claim.repository.clone(),
        detail,
        provenance: claim.provenance.clone(),
    }
}

fn distinct_owners(claims: &[&Claim]) -> usize {
    claims
        .iter()
        .map(|c| c.service.as_str())
        .collect::<BTreeSet<_>>()
        .len()
}

/// Error when the claims span repositories (the problem weft exists for),
/// else a warning (alternatives inside one repository, such as sample projects).
fn severity_by_spread(claims: &[&Claim]) -> Severity {
    let repositories: BTreeSet<&str> = claims.iter().map(|c| c.repository.as_str()).collect();
    if repositories.len() > 1 {
        Severity::Error
    } else {
        Severity::Warning
    }
}

fn strategy(
    // One of [`super::types::STRATEGIES`] (a test holds them equal).
    name: &'static str,
    confidence: f32,
    automatic: bool,
    description: impl Into<String>,
) -> StrategyOption {
    StrategyOption {
        name,
        confidence,
        automatic,
        description: description.into(),
    }
}

fn platform_name(platform: Platform) -> &'static str {
    match platform {
        Platform::Docker => "docker",
        Platform::Kubernetes => "kubernetes",
    }
}

fn ips_overlap(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (None, _) | (_, None) => true,
        (Some(a), Some(b)) => a == b,
    }
}

/// Which host a platform's ports are bound on: compose's host, and the
/// Kubernetes nodes, which are that same host unless weft.yaml says
/// `platforms.kubernetes.nodes: separate`.
fn port_host(model: &Model, platform: Platform) -> Platform {
    match model.config.platforms.kubernetes.nodes {
        NodePlacement::SameHost => Platform::Docker,
        NodePlacement::Separate => platform,
    }
}

/// `docker`, `kubernetes`, or `docker+kubernetes` when compose and a
/// cluster on the same host publish the port.
fn platforms_text(claims: &[&Claim]) -> String {
    let platforms: BTreeSet<Platform> = claims
        .iter()
        .filter_map(|c| match &c.resource {
            Resource::HostPort { platform, .. } => Some(*platform),
            _ => None,
        })
        .collect();
    platforms
        .into_iter()
        .map(platform_name)
        .collect::<Vec<_>>()
        .join("+")
}

fn ports(model: &Model, conflicts: &mut Vec<Conflict>) {
    // (host, protocol, port) → claims publishing it.
    let mut by_port: BTreeMap<(Platform, Protocol, u16), Vec<&Claim>> = BTreeMap::new();
    for claim in &model.claims {
        if let Resource::HostPort {
            platform,
            protocol,
            start,
            end,
            ..
        } = &claim.resource
        {
            let last = if u32::from(*end) - u32::from(*start) > MAX_EXPANDED_RANGE {
                *start
            } else {
                *end
            };
            for port in *start..=last {
                by_port
                    .entry((port_host(model, *platform), *protocol, port))
                    .or_default()
                    .push(claim);
            }
        }
    }
    // Consecutive ports with the same claimants are one conflict (a range).
    let mut previous: Option<(Platform, Protocol, u16, Vec<*const Claim>)> = None;
    for ((platform, protocol, port), claims) in &by_port {
        if distinct_owners(claims) < 2 {
            previous = None;
            continue;
        }
        // Keep the claims that overlap another owner's address.
        let contested: Vec<&Claim> = claims
            .iter()
            .copied()
            .filter(|a| {
                claims
                    .iter()
                    .any(|b| a.service != b.service && ips_overlap(host_ip(a), host_ip(b)))
            })
            .collect();
        if distinct_owners(&contested) < 2 {
            previous = None;
            continue;
        }
        let identity: Vec<*const Claim> = contested.iter().map(|c| *c as *const Claim).collect();
        if let Some((p, q, last, ids)) = &previous
            && *p == *platform
            && *q == *protocol
            && *last + 1 == *port
            && *ids == identity
        {
            previous = Some((*platform, *protocol, *port, identity));
            continue;
        }
        previous = Some((*platform, *protocol, *port, identity));
        let platform_text = platforms_text(&contested);
        let ip = contested.iter().find_map(|c| host_ip(c));
        let resource = match ip {
            Some(ip) if contested.iter().all(|c| host_ip(c) == Some(ip)) => {
                format!("{}/{ip}:{port}", protocol.as_str())
            }
            _ => format!("{}/{port}", protocol.as_str()),
        };
        let owners: Vec<String> = contested
            .iter()
            .map(|c| c.service.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        conflicts.push(Conflict {
            id: format!("port:{platform_text}/{resource}"),
            kind: ConflictKind::Port,
            severity: severity_by_spread(&contested),
            message: format!(
                "host port {resource} ({platform_text}) is published by {}{}",
                owners.join(", "),
                if platform_text.contains('+') {
                    "; the cluster's nodes include the compose host (set `platforms.kubernetes.nodes: separate` in weft.yaml if the cluster runs elsewhere)"
                } else {
                    ""
                }
            ),
            resource,
            claims: contested.iter().map(|c| claim(c, None)).collect(),
            strategies: vec![
                strategy("port-reassignment", 0.9, true, "the first claimant keeps the port; the others move to the next port free of every claim in the configured range"),
                strategy("repository-override", 0.6, true, "move the other claimants' ports in an override file (compose.override.yaml) next to their compose file, leaving it untouched"),
                strategy("port-based-separation", 0.4, false, "bind each claimant to a different host address (127.0.0.1, a second interface)"),
            ],
        });
    }
}

fn host_ip(claim: &Claim) -> Option<&str> {
    match &claim.resource {
        Resource::HostPort { host_ip, .. } => host_ip.as_deref(),
        _ => None,
    }
}

struct Route<'m> {
    claim: &'m Claim,
    proxy: ProxyKind,
    host: &'m str,
    path: &'m str,
    path_match: PathMatch,
    router: &'m str,
    name: Option<&'m str>,
    priority: Option<i64>,
    rule: Option<&'m str>,
    entry_points: &'m [String],
    narrowed: bool,
}

fn routes(model: &Model) -> Vec<Route<'_>> {
    model
        .claims
        .iter()
        .filter_map(|claim| match &claim.resource {
            Resource::Route {
                proxy,
                host,
                path,
                path_match,
                router,
                name,
                priority,
                rule,
                entry_points,
                narrowed,
            } => Some(Route {
                claim,
                proxy: *proxy,
                host,
                path,
                path_match: *path_match,
                router,
                name: name.as_deref(),
                priority: *priority,
                rule: rule.as_deref(),
                entry_points,
                narrowed: *narrowed,
            }),
            _ => None,
        })
        .collect()
}

/// An nginx server name as nginx matches it: (proxy, listen port, host).
type ServerKey<'m> = (&'m str, Option<&'m str>, &'m str);

/// A route read from a template (Jinja, envsubst): its server blocks may sit
/// in branches of which only one is rendered, so shadowing is not judged.
fn is_template(route: &Route<'_>) -> bool {
    let file = &*route.claim.provenance.file;
    [".j2", ".jinja", ".tpl", ".template", ".tmpl"]
        .iter()
        .any(|suffix| file.ends_with(suffix))
        || route.name.is_some_and(|n| n.contains(['{', '$']))
}

fn is_catch_all(host: &str) -> bool {
    matches!(host, "*" | "_" | "") || host.starts_with('~') || host.contains('{')
}

/// Identical host and path claimed by different services (on any proxies:
/// DNS sends a domain to one place).
fn domains(model: &Model, conflicts: &mut Vec<Conflict>) {
    let mut by_route: BTreeMap<(&str, &str), Vec<&Route<'_>>> = BTreeMap::new();
    let all = routes(model);
    for route in &all {
        if !is_catch_all(route.host) && route.path_match != PathMatch::Regex {
            by_route
                .entry((route.host, route.path))
                .or_default()
                .push(route);
        }
    }
    for ((host, path), mut routes) in by_route {
        // One place credited to several services (a config two containers
        // mount) is one claim, not a collision.
        routes.dedup_by_key(|r| {
            (
                &r.claim.provenance.file,
                r.claim.provenance.line,
                r.claim.provenance.column,
            )
        });
        let claims: Vec<&Claim> = routes.iter().map(|r| r.claim).collect();
        if distinct_owners(&claims) < 2 {
            continue;
        }
        let owners: Vec<String> = claims
            .iter()
            .map(|c| c.service.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let traefik_only = routes.iter().all(|r| r.proxy == ProxyKind::Traefik);
        conflicts.push(Conflict {
            id: format!("domain:{host}{path}"),
            kind: ConflictKind::Domain,
            severity: Severity::Error,
            resource: format!("{host}{path}"),
            message: format!("{host}{path} is routed to {} at once", owners.join(" and ")),
            claims: routes.iter().map(|r| claim(r.claim, r.rule.map(str::to_string))).collect(),
            strategies: vec![
                strategy("subdomain-separation", 0.7, true, "the first claimant keeps the domain; each other one moves to SERVICE.DOMAIN"),
                strategy(
                    "path-routing",
                    0.5,
                    false,
                    if traefik_only {
                        "serve each claimant under its own path prefix (add PathPrefix(`/SERVICE`) to its rule and strip it with a middleware)"
                    } else {
                        "serve each claimant under its own path prefix on one proxy"
                    },
                ),
                strategy("service-consolidation", 0.3, false, "if the claimants are the same application, keep one of them"),
            ],
        });
    }
}

/// Routes on one proxy that another route of the same proxy always takes
/// first, by that proxy's own precedence.
fn shadowed_routes(model: &Model, conflicts: &mut Vec<Conflict>) {
    let all = routes(model);
    // nginx: two server blocks with the same name on the same port: nginx
    // warns "conflicting server name" and uses the first it loaded.
    let mut servers: BTreeMap<ServerKey<'_>, BTreeMap<(&str, u32), &Route<'_>>> = BTreeMap::new();
    for route in all
        .iter()
        .filter(|r| r.proxy == ProxyKind::Nginx && !is_catch_all(r.host) && !is_template(r))
    {
        servers
            .entry((route.router, route.name, route.host))
            .or_default()
            .entry((&*route.claim.provenance.file, route.claim.provenance.line))
            .or_insert(route);
    }
    for ((router, port, host), blocks) in servers {
        if blocks.len() < 2 {
            continue;
        }
        let blocks: Vec<&Route<'_>> = blocks.into_values().collect();
        let port = port.unwrap_or("80");
        conflicts.push(Conflict {
            id: format!("route-shadowed:{router}/{host}:{port}"),
            kind: ConflictKind::RouteShadowed,
            severity: Severity::Warning,
            resource: format!("{host}:{port}"),
            message: format!(
                "nginx `{router}` has {} server blocks named {host} on port {port}; it uses the first it loads and ignores the rest",
                blocks.len()
            ),
            claims: blocks.iter().map(|r| claim(r.claim, r.rule.map(str::to_string))).collect(),
            strategies: vec![
                strategy("service-consolidation", 0.6, false, "merge the server blocks into one"),
                strategy("subdomain-separation", 0.4, false, "give all but one server block another server_name"),
            ],
        });
    }
    // Traefik: a router with a higher priority whose match covers another's
    // on an entry point they share.
    let traefik: Vec<&Route<'_>> = all
        .iter()
        .filter(|r| r.proxy == ProxyKind::Traefik && !is_template(r))
        .collect();
    for shadowed in &traefik {
        if is_catch_all(shadowed.host) {
            continue;
        }
        for winner in &traefik {
            if std::ptr::eq(*shadowed, *winner)
                || winner.router != shadowed.router
                || (winner.name == shadowed.name && winner.claim.service == shadowed.claim.service)
                || !(winner.host == shadowed.host || winner.host == "*")
                || !shares_entry_point(winner, shadowed)
            {
                continue;
            }
            let priority = |r: &Route<'_>| {
                r.priority
                    .unwrap_or_else(|| r.rule.map_or(0, |rule| rule.len() as i64))
            };
            // The winner takes every request of the shadowed route: nothing
            // but host and path narrows it, and its path takes in the other's.
            // Equal paths of two services are a domain conflict already.
            let same_path =
                winner.path == shadowed.path && winner.path_match == shadowed.path_match;
            let covers = !winner.narrowed
                && shadowed.path_match != PathMatch::Regex
                && match winner.path_match {
                    PathMatch::Prefix => shadowed.path.starts_with(winner.path),
                    PathMatch::Exact => same_path,
                    PathMatch::Regex => false,
                }
                && (!same_path || winner.claim.service == shadowed.claim.service);
            if covers && priority(winner) > priority(shadowed) {
                let name = shadowed.name.unwrap_or("?");
                conflicts.push(Conflict {
                    id: format!("route-shadowed:traefik/{name}"),
                    kind: ConflictKind::RouteShadowed,
                    severity: Severity::Warning,
                    resource: format!("{}{}", shadowed.host, shadowed.path),
                    message: format!(
                        "Traefik router `{name}` ({}{}{}) never matches: `{}` covers it with priority {} > {}",
                        shadowed.host,
                        shadowed.path,
                        entry_points_text(shadowed),
                        winner.name.unwrap_or("?"),
                        priority(winner),
                        priority(shadowed)
                    ),
                    claims: vec![
                        claim(shadowed.claim, shadowed.rule.map(str::to_string)),
                        claim(winner.claim, winner.rule.map(str::to_string)),
                    ],
                    strategies: vec![strategy(
                        "path-routing",
                        0.6,
                        false,
                        "raise the shadowed router's priority above the other's, or narrow the other's rule",
                    )],
                });
            }
        }
    }
}

/// Whether two routes listen on a common entry point; a route that names
/// none listens on all of them.
fn shares_entry_point(a: &Route<'_>, b: &Route<'_>) -> bool {
    a.entry_points.is_empty()
        || b.entry_points.is_empty()
        || a.entry_points
            .iter()
            .any(|point| b.entry_points.contains(point))
}

/// ` on web, websecure`, or nothing for a route on every entry point.
fn entry_points_text(route: &Route<'_>) -> String {
    if route.entry_points.is_empty() {
        String::new()
    } else {
        format!(" on {}", route.entry_points.join(", "))
    }
}

fn container_names(model: &Model, conflicts: &mut Vec<Conflict>) {
    let mut by_name: BTreeMap<&str, Vec<&Claim>> = BTreeMap::new();
    for claim in &model.claims {
        if let Resource::ContainerName { name } = &claim.resource {
            by_name.entry(name).or_default().push(claim);
        }
    }
    for (name, claims) in by_name {
        if distinct_owners(&claims) < 2 {
            continue;
        }
        conflicts.push(Conflict {
            id: format!("container-name:{name}"),
            kind: ConflictKind::ContainerName,
            severity: severity_by_spread(&claims),
            resource: name.to_string(),
            message: format!(
                "container name `{name}` is set by {} services; Docker runs only one",
                distinct_owners(&claims)
            ),
            claims: claims.iter().map(|c| claim(c, None)).collect(),
            strategies: vec![strategy(
                "container-rename",
                0.8,
                true,
                "the first claimant keeps the name; the others are prefixed with their repository",
            )],
        });
    }
}

fn networks(model: &Model, conflicts: &mut Vec<Conflict>) {
    let declared: Vec<(&Claim, &str, &[String], bool)> = model
        .claims
        .iter()
        .filter_map(|c| match &c.resource {
            Resource::Network {
                name,
                subnets,
                external,
                ..
            } => Some((c, name.as_str(), subnets.as_slice(), *external)),
            _ => None,
        })
        .collect();
    let mut by_name: BTreeMap<&str, Vec<(&Claim, &[String])>> = BTreeMap::new();
    for (claim, name, subnets, external) in &declared {
        if !external {
            by_name.entry(name).or_default().push((claim, subnets));
        }
    }
    for (name, declarations) in &by_name {
        let with_subnets: Vec<&(&Claim, &[String])> =
            declarations.iter().filter(|(_, s)| !s.is_empty()).collect();
        let distinct: BTreeSet<&[String]> = with_subnets.iter().map(|(_, s)| *s).collect();
        if distinct.len() > 1 {
            conflicts.push(Conflict {
                id: format!("network:{name}"),
                kind: ConflictKind::Network,
                severity: Severity::Error,
                resource: (*name).to_string(),
                message: format!("network `{name}` is declared with different subnets"),
                claims: with_subnets.iter().map(|(c, s)| claim(c, Some(s.join(", ")))).collect(),
                strategies: vec![strategy(
                    "value-standardization",
                    0.5,
                    false,
                    "declare it once with one subnet and make the other declarations `external: true`",
                )],
            });
        }
    }
    // Overlapping subnets of differently named networks.
    let mut subnets: Vec<(&Claim, &str, &str, Subnet)> = Vec::new();
    for (claim, name, declared_subnets, external) in &declared {
        if *external {
            continue;
        }
        for text in declared_subnets.iter() {
            if let Some(subnet) = Subnet::parse(text) {
                subnets.push((claim, name, text, subnet));
            }
        }
    }
    for (i, a) in subnets.iter().enumerate() {
        for b in &subnets[i + 1..] {
            if a.1 != b.1 && a.3.overlaps(b.3) {
                let (first, second) = if (a.1, a.2) <= (b.1, b.2) {
                    (a, b)
                } else {
                    (b, a)
                };
                conflicts.push(Conflict {
                    id: format!("subnet-overlap:{}~{}", first.1, second.1),
                    kind: ConflictKind::SubnetOverlap,
                    severity: Severity::Error,
                    resource: format!("{} ~ {}", first.2, second.2),
                    message: format!(
                        "networks `{}` ({}) and `{}` ({}) overlap; Docker refuses the second (\"Pool overlaps with other one on this address space\")",
                        first.1, first.2, second.1, second.2
                    ),
                    claims: vec![
                        claim(first.0, Some(first.2.to_string())),
                        claim(second.0, Some(second.2.to_string())),
                    ],
                    strategies: vec![strategy("subnet-reassignment", 0.7, false, "give one of the networks a subnet that overlaps no other")],
                });
            }
        }
    }
    // External networks nobody creates.
    let created: BTreeSet<&str> = declared.iter().filter(|d| !d.3).map(|d| d.1).collect();
    let mut missing: BTreeMap<&str, Vec<&Claim>> = BTreeMap::new();
    for (claim, name, _, external) in &declared {
        if *external && !created.contains(name) {
            missing.entry(name).or_default().push(claim);
        }
    }
    for (name, claims) in missing {
        conflicts.push(Conflict {
            id: format!("external-network:{name}"),
            kind: ConflictKind::ExternalNetwork,
            severity: Severity::Warning,
            resource: name.to_string(),
            message: format!("external network `{name}` is used but no repository of the workspace creates it"),
            claims: claims.iter().map(|c| claim(c, None)).collect(),
            strategies: vec![strategy(
                "repository-override",
                0.5,
                false,
                format!("declare `{name}` (without `external`) in the repository that owns it, or create it before deploying: docker network create {name}"),
            )],
        });
    }
}

fn volumes(model: &Model, conflicts: &mut Vec<Conflict>) {
    let declared: Vec<(&Claim, &str, bool, String)> = model
        .claims
        .iter()
        .filter_map(|c| match &c.resource {
            Resource::Volume {
                name,
                external,
                driver,
                options,
            } => {
                let options: Vec<String> =
                    options.iter().map(|(k, v)| format!("{k}={v}")).collect();
                let shape = format!(
                    "driver={} {}",
                    driver.as_deref().unwrap_or("local"),
                    options.join(" ")
                );
                Some((c, name.as_str(), *external, shape.trim().to_string()))
            }
            _ => None,
        })
        .collect();
    let mut by_name: BTreeMap<&str, Vec<&(&Claim, &str, bool, String)>> = BTreeMap::new();
    for declaration in declared.iter().filter(|d| !d.2) {
        by_name.entry(declaration.1).or_default().push(declaration);
    }
    for (name, declarations) in &by_name {
        let shapes: BTreeSet<&str> = declarations.iter().map(|d| d.3.as_str()).collect();
        if shapes.len() > 1 {
            conflicts.push(Conflict {
                id: format!("volume:{name}"),
                kind: ConflictKind::Volume,
                severity: Severity::Error,
                resource: (*name).to_string(),
                message: format!(
                    "volume `{name}` is declared differently ({})",
                    shapes.into_iter().collect::<Vec<_>>().join(" vs ")
                ),
                claims: declarations
                    .iter()
                    .map(|d| claim(d.0, Some(d.3.clone())))
                    .collect(),
                strategies: vec![strategy(
                    "value-standardization",
                    0.5,
                    false,
                    "declare it once and make the other declarations `external: true`",
                )],
            });
        }
    }
    let mut missing: BTreeMap<&str, Vec<&Claim>> = BTreeMap::new();
    for (claim, name, external, _) in &declared {
        if *external && !by_name.contains_key(name) {
            missing.entry(name).or_default().push(claim);
        }
    }
    for (name, claims) in missing {
        conflicts.push(Conflict {
            id: format!("external-volume:{name}"),
            kind: ConflictKind::ExternalVolume,
            severity: Severity::Warning,
            resource: name.to_string(),
            message: format!("external volume `{name}` is used but no repository of the workspace creates it"),
            claims: claims.iter().map(|c| claim(c, None)).collect(),
            strategies: vec![strategy(
                "repository-override",
                0.5,
                false,
                format!("declare `{name}` in the repository that owns it, or create it before deploying: docker volume create {name}"),
            )],
        });
    }
}

fn shared_env(model: &Model, conflicts: &mut Vec<Conflict>) {
    let mut by_name: BTreeMap<&str, Vec<(&Claim, &str)>> = BTreeMap::new();
    for claim in &model.claims {
        if let Resource::EnvVar { name, value } = &claim.resource {
            by_name.entry(name).or_default().push((claim, value));
        }
    }
    for (name, claims) in by_name {
        let values: BTreeSet<&str> = claims.iter().map(|(_, v)| *v).collect();
        if values.len() < 2 {
            continue;
        }
        let listed: Vec<String> = values.iter().map(|v| format!("`{v}`")).collect();
        conflicts.push(Conflict {
            id: format!("env:{name}"),
            kind: ConflictKind::SharedEnv,
            severity: Severity::Error,
            resource: name.to_string(),
            message: format!("shared variable {name} has {} values: {}", values.len(), listed.join(", ")),
            claims: claims.iter().map(|(c, v)| claim(c, Some((*v).to_string()))).collect(),
            strategies: vec![
                strategy("value-standardization", 0.8, true, "set every claimant to the most common value"),
                strategy("repository-override", 0.5, false, "keep the files and set the value once for the whole workspace (for example in a shared env file)"),
            ],
        });
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_strategy_offered_is_listed() {
        let source = include_str!("detect.rs");
        let mut offered: Vec<&str> = source
            .split("strategy(")
            .skip(1)
            .filter_map(|rest| rest.trim_start().strip_prefix('"')?.split('"').next())
            .filter(|name| {
                !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '-')
            })
            .collect();
        offered.sort_unstable();
        offered.dedup();
        assert_eq!(offered, super::super::types::STRATEGIES);
    }
}
