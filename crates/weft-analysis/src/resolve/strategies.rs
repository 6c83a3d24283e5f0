//! The strategies that edit files: port reassignment, container renaming,
//! subdomain separation and value standardization. Every other strategy is
//! reported as manual, with what to do.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use weft_model::config::PortRange;
use weft_model::{Model, Platform, Provenance, Resource, Rule};

use super::edit::FileEdit;
use super::plan::{Resolution, ResolveError};
use super::scalar::{dotenv_value, yaml_scalar};
use crate::conflicts::{Conflict, ConflictClaim};

/// Kubernetes only allocates node ports in this range.
const NODE_PORT_RANGE: PortRange = PortRange {
    first: 30000,
    last: 32767,
};

pub(crate) struct Context<'m> {
    model: &'m Model,
    range: PortRange,
    read: &'m dyn Fn(&str) -> std::io::Result<String>,
    pub(crate) texts: HashMap<String, String>,
    /// Every host port claimed, and every port handed out by this plan.
    taken_ports: BTreeSet<u16>,
    taken_hosts: BTreeSet<String>,
    taken_names: BTreeSet<String>,
    /// Hosts already moved by this plan, by (claimant, old host): one
    /// claimant's routes on several paths of a host move together.
    moved_hosts: HashMap<(String, String), String>,
    /// Ports already moved by this plan, by (file, offset) of the claim: a
    /// range that collides with several ports moves once.
    moved_ports: HashMap<(Arc<str>, usize), u16>,
    /// Files this plan creates (override files).
    pub(crate) created: BTreeSet<String>,
}

impl<'m> Context<'m> {
    pub(crate) fn new(
        model: &'m Model,
        range: PortRange,
        read: &'m dyn Fn(&str) -> std::io::Result<String>,
    ) -> Self {
        let mut taken_ports = BTreeSet::new();
        let mut taken_hosts = BTreeSet::new();
        let mut taken_names = BTreeSet::new();
        for claim in &model.claims {
            match &claim.resource {
                Resource::HostPort { start, end, .. } => taken_ports.extend(*start..=*end),
                Resource::Route { host, .. } => {
                    taken_hosts.insert(host.clone());
                }
                Resource::ContainerName { name } => {
                    taken_names.insert(name.clone());
                }
                _ => {}
            }
        }
        Context {
            model,
            range,
            read,
            texts: HashMap::new(),
            moved_hosts: HashMap::new(),
            moved_ports: HashMap::new(),
            created: BTreeSet::new(),
            taken_ports,
            taken_hosts,
            taken_names,
        }
    }

    fn text(&mut self, file: &str) -> Result<&str, ResolveError> {
        if !self.texts.contains_key(file) {
            let text = (self.read)(file).map_err(|source| ResolveError::Read {
                file: file.to_string(),
                source,
            })?;
            self.texts.insert(file.to_string(), text);
        }
        Ok(self.texts.get(file).map(String::as_str).unwrap_or_default())
    }

    /// The raw source text of a claim's value.
    fn raw(&mut self, provenance: &Provenance) -> Result<Option<String>, ResolveError> {
        let text = self.text(&provenance.file)?;
        Ok(text.get(provenance.span.range()).map(str::to_string))
    }

    /// `count` consecutive free ports in the range, the lowest first.
    fn free_ports(&mut self, range: PortRange, count: u16) -> Option<u16> {
        let mut start = range.first;
        while u32::from(start) + u32::from(count) - 1 <= u32::from(range.last) {
            let end = start + count - 1;
            match (start..=end).find(|p| self.taken_ports.contains(p)) {
                None => {
                    self.taken_ports.extend(start..=end);
                    return Some(start);
                }
                Some(taken) => start = taken.checked_add(1)?,
            }
        }
        None
    }

    /// The position of a repository in the workspace, for "first claimant" order.
    fn repository_rank(&self, repository: &str) -> usize {
        self.model
            .repositories
            .iter()
            .position(|r| r.name == repository)
            .unwrap_or(usize::MAX)
    }
}

/// Applies one strategy to one conflict.
pub(crate) fn resolve(
    context: &mut Context<'_>,
    conflict: &Conflict,
    strategy: &str,
) -> Result<Resolution, ResolveError> {
    let result = match strategy {
        "port-reassignment" => port_reassignment(context, conflict)?,
        "repository-override" if conflict.kind == crate::ConflictKind::Port => {
            repository_override(context, conflict)?
        }
        "container-rename" => container_rename(context, conflict)?,
        "subdomain-separation" => subdomain_separation(context, conflict)?,
        "value-standardization" if conflict.kind == crate::ConflictKind::SharedEnv => {
            value_standardization(context, conflict)?
        }
        _ => Err(conflict
            .strategies
            .iter()
            .find(|s| s.name == strategy)
            .map_or_else(|| "resolve by hand".to_string(), |s| s.description.clone())),
    };
    Ok(match result {
        Ok((summary, edits)) => Resolution {
            conflict: conflict.id.clone(),
            strategy: strategy.to_string(),
            automatic: true,
            summary,
            edits,
        },
        Err(reason) => Resolution {
            conflict: conflict.id.clone(),
            strategy: strategy.to_string(),
            automatic: false,
            summary: reason,
            edits: Vec::new(),
        },
    })
}

/// The edits and their summary, or why a person has to act.
type Outcome = Result<(String, Vec<FileEdit>), String>;

/// Claims grouped by claimant, the first claimant (by repository order, then
/// file position) first.
fn by_claimant<'c>(
    context: &Context<'_>,
    conflict: &'c Conflict,
) -> Vec<(&'c str, Vec<&'c ConflictClaim>)> {
    let mut claims: Vec<&ConflictClaim> = conflict.claims.iter().collect();
    claims.sort_by_key(|c| (context.repository_rank(&c.repository), c.provenance.clone()));
    let mut groups: Vec<(&str, Vec<&ConflictClaim>)> = Vec::new();
    for claim in claims {
        match groups.iter_mut().find(|(owner, _)| *owner == claim.service) {
            Some((_, group)) => group.push(claim),
            None => groups.push((&claim.service, vec![claim])),
        }
    }
    groups
}

fn edit(provenance: &Provenance, before: &str, offset: usize, old: &str, new: &str) -> FileEdit {
    let start = provenance.span.start.offset + offset;
    FileEdit {
        file: provenance.file.to_string(),
        line: provenance.line,
        column: provenance.column + before[..offset].chars().count() as u32,
        start,
        end: start + old.len(),
        before: old.to_string(),
        after: new.to_string(),
    }
}

/// The byte offset of `needle` in `haystack` as a whole number (not part of
/// a longer digit run).
fn find_number(haystack: &str, needle: &str) -> Option<usize> {
    let bytes = haystack.as_bytes();
    haystack.match_indices(needle).map(|(i, _)| i).find(|&i| {
        let before = i == 0 || !bytes[i - 1].is_ascii_digit();
        let after = bytes
            .get(i + needle.len())
            .is_none_or(|b| !b.is_ascii_digit());
        before && after
    })
}

/// Where the published port `old` is written in a compose short-syntax
/// mapping (`"[IP:]HOST:CONTAINER[/PROTOCOL]"`, possibly with `${VAR:-HOST}`):
/// inside the HOST part only, never in the address or the container port.
fn host_port_offset(raw: &str, old: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut colons = Vec::new();
    let mut end = raw.len();
    for (i, c) in raw.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            '[' if depth == 0 => depth = usize::MAX / 2,
            ']' if depth == usize::MAX / 2 => depth = 0,
            ':' if depth == 0 => colons.push(i),
            '/' if depth == 0 => {
                end = i;
                break;
            }
            _ => {}
        }
    }
    let colons: Vec<usize> = colons.into_iter().filter(|&i| i < end).collect();
    let (&container, rest) = colons.split_last()?;
    let host_start = rest.last().map_or(0, |&i| i + 1);
    let host = &raw[host_start..container];
    find_number(host, old).map(|offset| host_start + offset)
}

/// The byte offset of `host` in `haystack` as a whole host name (not part of
/// a longer name such as `www.host`), case-insensitively.
fn find_host(haystack: &str, host: &str) -> Option<usize> {
    let lower = haystack.to_ascii_lowercase();
    let bytes = lower.as_bytes();
    let part = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_');
    lower.match_indices(host).map(|(i, _)| i).find(|&i| {
        let before = i == 0 || !part(bytes[i - 1]);
        let after = bytes.get(i + host.len()).is_none_or(|&b| !part(b));
        before && after
    })
}

/// Whether the keeper's claims are written at this very place (a YAML
/// anchor shared by both, one nginx `server_name` mounted by two services):
/// editing it would move the keeper too.
fn shared_with(keeper: &[&ConflictClaim], claim: &ConflictClaim) -> bool {
    keeper.iter().any(|k| {
        k.provenance.file == claim.provenance.file && k.provenance.span == claim.provenance.span
    })
}

fn port_reassignment(
    context: &mut Context<'_>,
    conflict: &Conflict,
) -> Result<Outcome, ResolveError> {
    let groups = by_claimant(context, conflict);
    let Some(((keeper, keeper_claims), others)) = groups.split_first() else {
        return Ok(Err("only one claimant".to_string()));
    };
    let mut edits = Vec::new();
    let mut moves = Vec::new();
    for (owner, claims) in others {
        // All claims of one owner move to the same new port.
        let mut new_start: Option<u16> = None;
        for claim in claims {
            let Some((platform, start, end)) = claimed_ports(context.model, claim) else {
                continue;
            };
            let place = (
                claim.provenance.file.clone(),
                claim.provenance.span.start.offset,
            );
            if let Some(&moved) = context.moved_ports.get(&place) {
                // Moved already, for an overlapping conflict of this plan.
                new_start.get_or_insert(moved);
                continue;
            }
            if shared_with(keeper_claims, claim) {
                return Ok(Err(format!(
                    "{owner} and {keeper} publish the port from one place ({}), such as a YAML anchor; give {owner} its own `ports`",
                    claim.provenance.location()
                )));
            }
            let Some(raw) = context.raw(&claim.provenance)? else {
                return Ok(Err(format!(
                    "{} is not readable at the recorded place",
                    claim.provenance.location()
                )));
            };
            let range = if claim.provenance.rule == Rule::KubernetesNodePort
                || platform == Platform::Kubernetes && start >= 30000
            {
                NODE_PORT_RANGE
            } else {
                context.range
            };
            let width = end - start + 1;
            let new = match new_start {
                Some(n) => n,
                None => match context.free_ports(range, width) {
                    Some(n) => n,
                    None => {
                        return Ok(Err(format!(
                            "no {width} free consecutive ports left in {}-{}; widen `ports.range` in weft.yaml",
                            range.first, range.last
                        )));
                    }
                },
            };
            new_start = Some(new);
            let (old_text, new_text) = if start == end {
                (start.to_string(), new.to_string())
            } else {
                (
                    format!("{start}-{end}"),
                    format!("{new}-{}", new + width - 1),
                )
            };
            let offset = if claim.provenance.rule == Rule::ComposePorts && raw.contains(':') {
                host_port_offset(&raw, &old_text)
            } else {
                find_number(&raw, &old_text)
            };
            let Some(offset) = offset else {
                return Ok(Err(format!(
                    "the port {old_text} of {owner} is not written literally at {} (`{raw}`); change it where its variable is set",
                    claim.provenance.location()
                )));
            };
            context.moved_ports.insert(place, new);
            edits.push(edit(&claim.provenance, &raw, offset, &old_text, &new_text));
        }
        if let Some(new) = new_start {
            moves.push(format!("{owner} → {new}"));
        }
    }
    if moves.is_empty() {
        return Ok(Err("no claim could be moved".to_string()));
    }
    Ok(Ok((
        format!("{keeper} keeps {}; {}", conflict.resource, moves.join(", ")),
        edits,
    )))
}

/// The override file Compose reads by itself next to a base compose file.
fn override_file(base: &str) -> Option<String> {
    let (directory, name) = base.rsplit_once('/').map_or(("", base), |(d, n)| (d, n));
    let name = match name {
        "compose.yaml" => "compose.override.yaml",
        "compose.yml" => "compose.override.yml",
        "docker-compose.yml" => "docker-compose.override.yml",
        "docker-compose.yaml" => "docker-compose.override.yaml",
        _ => return None,
    };
    Some(if directory.is_empty() {
        name.to_string()
    } else {
        format!("{directory}/{name}")
    })
}

/// Moves the other claimants' ports in an override file next to their
/// compose file (`ports: !override [...]`), leaving the shared file as it is.
fn repository_override(
    context: &mut Context<'_>,
    conflict: &Conflict,
) -> Result<Outcome, ResolveError> {
    let groups = by_claimant(context, conflict);
    let Some(((keeper, keeper_claims), others)) = groups.split_first() else {
        return Ok(Err("only one claimant".to_string()));
    };
    let mut edits = Vec::new();
    let mut moves = Vec::new();
    for (owner, claims) in others {
        let claim = claims[0];
        if claims.iter().any(|c| {
            c.provenance.rule != Rule::ComposePorts || c.provenance.file != claim.provenance.file
        }) {
            return Ok(Err(format!(
                "{owner} publishes the port outside one compose file; use port-reassignment"
            )));
        }
        if claims.iter().any(|c| shared_with(keeper_claims, c)) {
            return Ok(Err(format!(
                "{owner} and {keeper} publish the port from one place; give {owner} its own `ports`"
            )));
        }
        let base = claim.provenance.file.clone();
        let Some(target) = override_file(&base) else {
            return Ok(Err(format!(
                "{base} is not a file Compose pairs with an override file by itself; use port-reassignment"
            )));
        };
        if !context.created.contains(&target) && (context.read)(&target).is_ok() {
            return Ok(Err(format!(
                "{target} exists already; add `ports: !override [...]` for {owner} there"
            )));
        }
        let Some((_, start, end)) = claimed_ports(context.model, claim) else {
            return Ok(Err(format!(
                "no port claim of {owner} at {}",
                claim.provenance.location()
            )));
        };
        let text = context.text(&base)?.to_string();
        let service = owner.rsplit('/').next().unwrap_or(owner);
        let arena = weft_model::yaml::Arena::new();
        let Some(ports) = weft_model::yaml::parse_one(&arena, &text)
            .ok()
            .and_then(|root| root.path(&["services", service, "ports"]).copied())
        else {
            return Ok(Err(format!(
                "`services.{service}.ports` of {base} could not be read back"
            )));
        };
        let width = end - start + 1;
        let Some(new) = context.free_ports(context.range, width) else {
            return Ok(Err("no free ports left in `ports.range`".to_string()));
        };
        let (old_text, new_text) = if start == end {
            (start.to_string(), new.to_string())
        } else {
            (
                format!("{start}-{end}"),
                format!("{new}-{}", new + width - 1),
            )
        };
        let mut block = format!("  {service}:\n    ports: !override\n");
        for item in ports.items() {
            let is_claim =
                |span: weft_model::Span| claims.iter().any(|c| c.provenance.span == span);
            let line = match item.as_mapping() {
                Some(entries) => {
                    let fields: Vec<String> = entries
                        .iter()
                        .map(|(key, value)| {
                            let raw = &text[value.span.range()];
                            let raw = if is_claim(value.span) {
                                find_number(raw, &old_text).map_or(raw.to_string(), |at| {
                                    format!(
                                        "{}{new_text}{}",
                                        &raw[..at],
                                        &raw[at + old_text.len()..]
                                    )
                                })
                            } else {
                                raw.to_string()
                            };
                            format!("{}: {raw}", key.as_str().unwrap_or_default())
                        })
                        .collect();
                    format!("{{{}}}", fields.join(", "))
                }
                None => {
                    let raw = &text[item.span.range()];
                    match host_port_offset(raw, &old_text).filter(|_| is_claim(item.span)) {
                        Some(at) => {
                            format!("{}{new_text}{}", &raw[..at], &raw[at + old_text.len()..])
                        }
                        None => raw.to_string(),
                    }
                }
            };
            block.push_str(&format!("      - {line}\n"));
        }
        if context.created.insert(target.clone()) {
            context.texts.insert(target.clone(), String::new());
            let base_name = base.rsplit('/').next().unwrap_or(&base);
            block = format!(
                "# Written by `weft resolve --strategy repository-override`: host ports that\n# collide with other repositories, moved without editing {base_name}.\nservices:\n{block}"
            );
        }
        edits.push(FileEdit {
            file: target.clone(),
            line: 1,
            column: 1,
            start: 0,
            end: 0,
            before: String::new(),
            after: block,
        });
        moves.push(format!("{owner} → {new} in {target}"));
    }
    Ok(Ok((
        format!("{keeper} keeps {}; {}", conflict.resource, moves.join(", ")),
        edits,
    )))
}

fn claimed_ports(model: &Model, claim: &ConflictClaim) -> Option<(Platform, u16, u16)> {
    model
        .claims
        .iter()
        .find(|c| c.provenance == claim.provenance && c.service == claim.service)
        .and_then(|c| match &c.resource {
            Resource::HostPort {
                platform,
                start,
                end,
                ..
            } => Some((*platform, *start, *end)),
            _ => None,
        })
}

fn container_rename(
    context: &mut Context<'_>,
    conflict: &Conflict,
) -> Result<Outcome, ResolveError> {
    let groups = by_claimant(context, conflict);
    let Some(((keeper, keeper_claims), others)) = groups.split_first() else {
        return Ok(Err("only one claimant".to_string()));
    };
    let name = conflict.resource.clone();
    let mut edits = Vec::new();
    let mut renames = Vec::new();
    for (owner, claims) in others {
        let repository = claims[0].repository.clone();
        let mut new = format!("{repository}-{name}");
        let mut suffix = 2;
        while context.taken_names.contains(&new) {
            new = format!("{repository}-{name}-{suffix}");
            suffix += 1;
        }
        context.taken_names.insert(new.clone());
        for claim in claims {
            if shared_with(keeper_claims, claim) {
                return Ok(Err(format!(
                    "{owner} and {keeper} take the name from one place ({}); give {owner} its own `container_name`",
                    claim.provenance.location()
                )));
            }
            let raw = context.raw(&claim.provenance)?.unwrap_or_default();
            let Some(offset) = raw.find(&name) else {
                return Ok(Err(format!(
                    "`{name}` is not written literally at {}; change it where its variable is set",
                    claim.provenance.location()
                )));
            };
            edits.push(edit(&claim.provenance, &raw, offset, &name, &new));
        }
        renames.push(format!("{owner} → {new}"));
    }
    if renames.is_empty() {
        return Ok(Err("no claim could be renamed".to_string()));
    }
    Ok(Ok((
        format!(
            "{keeper} keeps `{name}`; {} (services that reach a renamed container by this name now reach {keeper}: check them)",
            renames.join(", ")
        ),
        edits,
    )))
}

fn subdomain_separation(
    context: &mut Context<'_>,
    conflict: &Conflict,
) -> Result<Outcome, ResolveError> {
    let groups = by_claimant(context, conflict);
    let Some(((keeper, keeper_claims), others)) = groups.split_first() else {
        return Ok(Err("only one claimant".to_string()));
    };
    let host = route_host(context.model, keeper_claims[0]).unwrap_or_default();
    if host.is_empty() {
        return Ok(Err(
            "the contested route has no host to separate".to_string()
        ));
    }
    let mut edits: Vec<FileEdit> = Vec::new();
    let mut moves = Vec::new();
    for (owner, claims) in others {
        let label: String = owner
            .rsplit('/')
            .next()
            .unwrap_or(owner)
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        let key = (owner.to_string(), host.clone());
        let new_host = match context.moved_hosts.get(&key) {
            Some(moved) => moved.clone(),
            None => {
                let mut new_host = format!("{label}.{host}");
                let mut suffix = 2;
                while context.taken_hosts.contains(&new_host) {
                    new_host = format!("{label}{suffix}.{host}");
                    suffix += 1;
                }
                context.taken_hosts.insert(new_host.clone());
                context.moved_hosts.insert(key, new_host.clone());
                new_host
            }
        };
        for claim in claims {
            if shared_with(keeper_claims, claim) {
                return Ok(Err(format!(
                    "{owner} and {keeper} route {host} from one place ({}); split the configuration by hand",
                    claim.provenance.location()
                )));
            }
            let raw = context.raw(&claim.provenance)?.unwrap_or_default();
            let Some(offset) = find_host(&raw, &host) else {
                return Ok(Err(format!(
                    "{host} is not written literally at {}; change it where its variable is set",
                    claim.provenance.location()
                )));
            };
            let old = raw[offset..offset + host.len()].to_string();
            let change = edit(&claim.provenance, &raw, offset, &old, &new_host);
            if !edits
                .iter()
                .any(|e| e.file == change.file && e.start == change.start)
            {
                edits.push(change);
            }
        }
        moves.push(format!("{owner} → {new_host}"));
    }
    if edits.is_empty() {
        return Ok(Err("no route could be moved".to_string()));
    }
    Ok(Ok((
        format!("{keeper} keeps {host}; {}", moves.join(", ")),
        edits,
    )))
}

fn route_host(model: &Model, claim: &ConflictClaim) -> Option<String> {
    model
        .claims
        .iter()
        .find(|c| c.provenance == claim.provenance)
        .and_then(|c| match &c.resource {
            Resource::Route { host, .. } => Some(host.clone()),
            _ => None,
        })
}

fn value_standardization(
    context: &mut Context<'_>,
    conflict: &Conflict,
) -> Result<Outcome, ResolveError> {
    // The most common value; ties go to the first claimant's.
    let mut ordered: Vec<&ConflictClaim> = conflict.claims.iter().collect();
    ordered.sort_by_key(|c| (context.repository_rank(&c.repository), c.provenance.clone()));
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for claim in &ordered {
        let value = claim.detail.as_deref().unwrap_or_default();
        match counts.iter_mut().find(|(v, _)| *v == value) {
            Some((_, n)) => *n += 1,
            None => counts.push((value, 1)),
        }
    }
    let best = counts.iter().map(|(_, n)| *n).max().unwrap_or(0);
    let Some(&(target, _)) = counts.iter().find(|(_, n)| *n == best) else {
        return Ok(Err("no values".to_string()));
    };
    let target = target.to_string();
    let mut edits = Vec::new();
    let mut skipped = Vec::new();
    for claim in ordered {
        if claim.detail.as_deref() == Some(target.as_str()) {
            continue;
        }
        let Some(raw) = context.raw(&claim.provenance)? else {
            continue;
        };
        if raw.contains('$') {
            // The value is interpolated; it follows the file that defines the variable.
            skipped.push(claim.provenance.location());
            continue;
        }
        let file_name = claim.provenance.file.rsplit('/').next().unwrap_or_default();
        let is_dotenv = is_dotenv(file_name);
        let replacement = if is_dotenv {
            dotenv_value(&target, &raw)
        } else if let Some((name, _)) = raw
            .trim_matches(['"', '\''])
            .split_once('=')
            .filter(|_| claim.provenance.rule == Rule::ComposeEnvironment && !raw.contains(": "))
        {
            yaml_scalar(&format!("{name}={target}"), &raw)
        } else {
            yaml_scalar(&target, &raw)
        };
        edits.push(edit(&claim.provenance, &raw, 0, &raw, &replacement));
    }
    if edits.is_empty() {
        return Ok(Err(format!(
            "every differing value of {} is interpolated from a variable ({}); set it where the variable is defined",
            conflict.resource,
            skipped.join(", ")
        )));
    }
    let mut summary = format!("set {} to `{target}` everywhere", conflict.resource);
    if !skipped.is_empty() {
        summary.push_str(&format!(
            " (interpolated at {} follow their variable)",
            skipped.join(", ")
        ));
    }
    Ok(Ok((summary, edits)))
}

pub(crate) fn is_dotenv(file_name: &str) -> bool {
    let lower = file_name.to_ascii_lowercase();
    lower == ".env"
        || lower.ends_with(".env")
        || lower.starts_with(".env.")
        || lower == "env.example"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_ports_are_found_in_the_host_part_only() {
        assert_eq!(
            host_port_offset("\"192.168.1.53:53:53/udp\"", "53"),
            Some(14)
        );
        assert_eq!(host_port_offset("\"${WEB:-8080}:8080\"", "8080"), Some(8));
        assert_eq!(host_port_offset("[::53]:53:53", "53"), Some(7));
        assert_eq!(host_port_offset("9000-9001:80-81", "9000-9001"), Some(0));
        assert_eq!(host_port_offset("\"${PORT}:80\"", "8080"), None);
    }

    #[test]
    fn hosts_match_whole_names() {
        let rule = "Host(`www.example.com`) || Host(`example.com`)";
        assert_eq!(find_host(rule, "example.com"), Some(33));
        assert_eq!(
            find_host("server_name Example.COM;", "example.com"),
            Some(12)
        );
        assert_eq!(find_host("a.example.com.b", "example.com"), None);
    }

    #[test]
    fn numbers_match_whole() {
        assert_eq!(find_number("18080:8080", "8080"), Some(6));
        assert_eq!(find_number("\"${WEB:-8080}:80\"", "8080"), Some(8));
        assert_eq!(find_number("127.0.0.1:5432:5432", "5432"), Some(10));
        assert_eq!(find_number("80", "8080"), None);
    }
}
