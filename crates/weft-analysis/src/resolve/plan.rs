//! Choosing a strategy per conflict and collecting the edits into one plan.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Serialize;
use weft_model::Model;

use super::edit::{FileChange, FileEdit, apply_edits};
use super::strategies::{self, Context};
use crate::conflicts::{Conflict, ConflictKind};

/// What to resolve, and how.
#[derive(Debug, Clone, Default)]
pub struct ResolveSettings {
    /// Conflict ids to resolve; empty means all.
    pub conflicts: Vec<String>,
    /// A strategy to use instead of each conflict's preferred one. With no
    /// ids it applies to every conflict that offers it and skips the others;
    /// an id named in `conflicts` that does not offer it is an error.
    pub strategy: Option<String>,
}

/// How one conflict is resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resolution {
    pub conflict: String,
    pub strategy: String,
    /// `false` when a person has to act: `summary` says what to do.
    pub automatic: bool,
    pub summary: String,
    pub edits: Vec<FileEdit>,
}

/// A conflict left untouched because the requested strategy does not fit it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedConflict {
    pub conflict: String,
    #[serde(rename = "type")]
    pub kind: ConflictKind,
    /// Why, and which strategies the conflict takes instead.
    pub reason: String,
}

/// Every resolution, the conflicts skipped, and the files the resolutions
/// change.
#[derive(Debug, Clone, Default)]
pub struct ResolutionPlan {
    pub resolutions: Vec<Resolution>,
    /// Conflicts the requested strategy does not fit, in conflict order.
    pub skipped: Vec<SkippedConflict>,
    pub changes: Vec<FileChange>,
}

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("no conflict has the id `{id}`{}", if .known.is_empty() { String::new() } else { format!("; known ids: {}", .known.join(", ")) })]
    UnknownConflict { id: String, known: Vec<String> },
    #[error("strategy `{strategy}` does not apply to `{conflict}`; it takes {}", .available.join(", "))]
    UnknownStrategy {
        strategy: String,
        conflict: String,
        available: Vec<String>,
    },
    #[error("failed to read {file}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "edits of {file} overlap at bytes {start}..{end}; resolve these conflicts one at a time"
    )]
    OverlappingEdits {
        file: String,
        start: usize,
        end: usize,
    },
    #[error("{file} changed since weft read it; nothing was written, run `weft resolve` again")]
    Changed { file: String },
    #[error("failed to write {file}")]
    Write {
        file: String,
        #[source]
        source: std::io::Error,
    },
}

/// Plans resolutions for the selected conflicts. Files are read through
/// `read` (workspace-relative path → text), so the plan is computed without
/// writing anything.
///
/// With a strategy and no ids, every conflict the strategy does not fit is
/// skipped (listed in [`ResolutionPlan::skipped`]) rather than refused.
pub fn plan_resolutions(
    model: &Model,
    conflicts: &[Conflict],
    settings: &ResolveSettings,
    read: &dyn Fn(&str) -> std::io::Result<String>,
) -> Result<ResolutionPlan, ResolveError> {
    let selected: Vec<&Conflict> = if settings.conflicts.is_empty() {
        conflicts.iter().collect()
    } else {
        settings
            .conflicts
            .iter()
            .map(|id| {
                conflicts.iter().find(|c| &c.id == id).ok_or_else(|| {
                    ResolveError::UnknownConflict {
                        id: id.clone(),
                        known: conflicts.iter().map(|c| c.id.clone()).take(20).collect(),
                    }
                })
            })
            .collect::<Result<_, _>>()?
    };
    let mut context = Context::new(model, model.config.ports.range.unwrap_or_default(), read);
    let mut resolutions = Vec::new();
    let mut skipped = Vec::new();
    for conflict in selected {
        let strategy = match &settings.strategy {
            Some(name) if !offers(conflict, name) => {
                if !settings.conflicts.is_empty() {
                    return Err(ResolveError::UnknownStrategy {
                        strategy: name.clone(),
                        conflict: conflict.id.clone(),
                        available: strategy_names(conflict),
                    });
                }
                skipped.push(SkippedConflict {
                    conflict: conflict.id.clone(),
                    kind: conflict.kind,
                    reason: skip_reason(name, conflict),
                });
                continue;
            }
            Some(name) => name.as_str(),
            None => conflict
                .strategies
                .iter()
                .find(|s| s.automatic)
                .or(conflict.strategies.first())
                .map_or("manual", |s| s.name),
        };
        let mut resolution = strategies::resolve(&mut context, conflict, strategy)?;
        if let Some((edit, other)) = overlap(&resolutions, &resolution) {
            resolution = Resolution {
                automatic: false,
                summary: format!(
                    "its edit at {}:{} overlaps the fix for {other}; run `weft resolve` again once that fix is applied",
                    edit.file, edit.line
                ),
                edits: Vec::new(),
                ..resolution
            };
        }
        resolutions.push(resolution);
    }
    let changes = collect_changes(&resolutions, &context.texts, &context.created)?;
    Ok(ResolutionPlan {
        resolutions,
        skipped,
        changes,
    })
}

/// Whether `conflict` offers the strategy `name`.
fn offers(conflict: &Conflict, name: &str) -> bool {
    conflict.strategies.iter().any(|s| s.name == name)
}

fn strategy_names(conflict: &Conflict) -> Vec<String> {
    conflict
        .strategies
        .iter()
        .map(|s| s.name.to_string())
        .collect()
}

/// Why `conflict` is skipped: "strategy `port-reassignment` does not apply
/// to a domain conflict; it takes subdomain-separation, …".
fn skip_reason(strategy: &str, conflict: &Conflict) -> String {
    let names = strategy_names(conflict);
    let offered = if names.is_empty() {
        "it takes no strategy".to_string()
    } else {
        format!("it takes {}", names.join(", "))
    };
    format!(
        "strategy `{strategy}` does not apply to {}; {offered}",
        kind_phrase(conflict.kind)
    )
}

/// "a domain conflict", "an external network conflict".
fn kind_phrase(kind: ConflictKind) -> String {
    let words = kind.as_str().replace('_', " ");
    let article = if words.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {words} conflict")
}

/// The first edit of `candidate` that overlaps a different edit of an earlier
/// resolution, and that resolution's conflict.
fn overlap<'r>(
    earlier: &'r [Resolution],
    candidate: &'r Resolution,
) -> Option<(&'r FileEdit, &'r str)> {
    candidate.edits.iter().find_map(|edit| {
        earlier.iter().find_map(|resolution| {
            resolution
                .edits
                .iter()
                .any(|other| {
                    let insertions = other.start == other.end && edit.start == edit.end;
                    other.file == edit.file
                        && !insertions
                        && other.start < edit.end.max(edit.start + 1)
                        && edit.start < other.end.max(other.start + 1)
                        && !(other.start == edit.start
                            && other.end == edit.end
                            && other.after == edit.after)
                })
                .then_some((edit, resolution.conflict.as_str()))
        })
    })
}

fn collect_changes(
    resolutions: &[Resolution],
    texts: &HashMap<String, String>,
    created: &std::collections::BTreeSet<String>,
) -> Result<Vec<FileChange>, ResolveError> {
    let mut by_file: BTreeMap<&str, Vec<&FileEdit>> = BTreeMap::new();
    for edit in resolutions.iter().flat_map(|r| &r.edits) {
        let edits = by_file.entry(&edit.file).or_default();
        if !edits
            .iter()
            .any(|e| e.start == edit.start && e.end == edit.end && e.after == edit.after)
        {
            edits.push(edit);
        }
    }
    by_file
        .into_iter()
        .map(|(file, edits)| {
            let before = texts.get(file).cloned().unwrap_or_default();
            let after = apply_edits(&before, &edits).map_err(|(start, end)| {
                ResolveError::OverlappingEdits {
                    file: file.to_string(),
                    start,
                    end,
                }
            })?;
            Ok(FileChange {
                file: file.to_string(),
                created: created.contains(file),
                before,
                after,
            })
        })
        .collect()
}

impl ResolutionPlan {
    /// Every change as one unified diff.
    pub fn unified_diff(&self) -> String {
        self.changes.iter().map(FileChange::unified_diff).collect()
    }

    /// Writes every change. Each file is replaced atomically, and nothing is
    /// written unless every file is still as it was read.
    pub fn apply(&self, root: &Path) -> Result<(), ResolveError> {
        for change in &self.changes {
            if change.created {
                if root.join(&change.file).exists() {
                    return Err(ResolveError::Changed {
                        file: change.file.clone(),
                    });
                }
                continue;
            }
            let current = fs_err::read_to_string(root.join(&change.file)).map_err(|source| {
                ResolveError::Read {
                    file: change.file.clone(),
                    source,
                }
            })?;
            if current != change.before {
                return Err(ResolveError::Changed {
                    file: change.file.clone(),
                });
            }
        }
        for change in &self.changes {
            change.write(root).map_err(|source| ResolveError::Write {
                file: change.file.clone(),
                source,
            })?;
        }
        Ok(())
    }

    /// Whether every selected conflict gets an automatic fix: no resolution
    /// needs a person and none was skipped.
    pub fn is_complete(&self) -> bool {
        self.skipped.is_empty() && self.resolutions.iter().all(|r| r.automatic)
    }
}

#[cfg(test)]
mod tests {
    use weft_model::Severity;

    use super::*;
    use crate::conflicts::StrategyOption;

    fn conflict(id: &str, kind: ConflictKind, strategies: &[&'static str]) -> Conflict {
        Conflict {
            id: id.to_string(),
            kind,
            severity: Severity::Error,
            resource: id.to_string(),
            message: String::new(),
            claims: Vec::new(),
            strategies: strategies
                .iter()
                .map(|name| StrategyOption {
                    name,
                    confidence: 0.5,
                    automatic: false,
                    description: format!("do {name}"),
                })
                .collect(),
        }
    }

    fn unreadable(file: &str) -> std::io::Result<String> {
        Err(std::io::Error::other(format!("{file} is not read here")))
    }

    #[test]
    fn a_strategy_applies_to_the_conflicts_it_fits_and_skips_the_others() {
        let model = Model::default();
        let conflicts = [
            conflict(
                "domain:app.example.com/",
                ConflictKind::Domain,
                &["subdomain-separation", "path-routing"],
            ),
            conflict(
                "external-network:edge",
                ConflictKind::ExternalNetwork,
                &["repository-override"],
            ),
            conflict(
                "port:docker/tcp/8080",
                ConflictKind::Port,
                &["port-reassignment", "repository-override"],
            ),
        ];
        let settings = ResolveSettings {
            conflicts: Vec::new(),
            strategy: Some("path-routing".to_string()),
        };
        let plan = plan_resolutions(&model, &conflicts, &settings, &unreadable).unwrap();
        assert_eq!(plan.resolutions.len(), 1);
        assert_eq!(plan.resolutions[0].conflict, "domain:app.example.com/");
        assert_eq!(plan.resolutions[0].strategy, "path-routing");
        assert_eq!(
            plan.skipped,
            [
                SkippedConflict {
                    conflict: "external-network:edge".to_string(),
                    kind: ConflictKind::ExternalNetwork,
                    reason: "strategy `path-routing` does not apply to an external network \
                             conflict; it takes repository-override"
                        .to_string(),
                },
                SkippedConflict {
                    conflict: "port:docker/tcp/8080".to_string(),
                    kind: ConflictKind::Port,
                    reason: "strategy `path-routing` does not apply to a port conflict; it \
                             takes port-reassignment, repository-override"
                        .to_string(),
                },
            ]
        );
        assert!(plan.changes.is_empty());
        assert!(!plan.is_complete());

        let nothing_fits = ResolveSettings {
            conflicts: Vec::new(),
            strategy: Some("container-rename".to_string()),
        };
        let plan = plan_resolutions(&model, &conflicts, &nothing_fits, &unreadable).unwrap();
        assert!(plan.resolutions.is_empty());
        assert_eq!(plan.skipped.len(), 3);
    }

    #[test]
    fn a_named_conflict_the_strategy_does_not_fit_is_an_error() {
        let conflicts = [
            conflict(
                "domain:app.example.com/",
                ConflictKind::Domain,
                &["path-routing"],
            ),
            conflict(
                "port:docker/tcp/8080",
                ConflictKind::Port,
                &["port-reassignment"],
            ),
        ];
        let settings = ResolveSettings {
            conflicts: vec!["domain:app.example.com/".to_string()],
            strategy: Some("port-reassignment".to_string()),
        };
        let error =
            plan_resolutions(&Model::default(), &conflicts, &settings, &unreadable).unwrap_err();
        assert!(
            matches!(&error, ResolveError::UnknownStrategy { conflict, .. } if conflict == "domain:app.example.com/"),
            "{error}"
        );
    }
}
