//! Choosing a strategy per conflict and collecting the edits into one plan.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Serialize;
use weft_model::Model;

use super::edit::{FileChange, FileEdit, apply_edits};
use super::strategies::{self, Context};
use crate::conflicts::Conflict;

/// What to resolve, and how.
#[derive(Debug, Clone, Default)]
pub struct ResolveSettings {
    /// Conflict ids to resolve; empty means all.
    pub conflicts: Vec<String>,
    /// A strategy to use instead of each conflict's preferred one.
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

/// Every resolution and the files they change.
#[derive(Debug, Clone, Default)]
pub struct ResolutionPlan {
    pub resolutions: Vec<Resolution>,
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
    for conflict in selected {
        let strategy = match &settings.strategy {
            Some(name) => {
                if !conflict.strategies.iter().any(|s| s.name == name) {
                    return Err(ResolveError::UnknownStrategy {
                        strategy: name.clone(),
                        conflict: conflict.id.clone(),
                        available: conflict
                            .strategies
                            .iter()
                            .map(|s| s.name.to_string())
                            .collect(),
                    });
                }
                name.as_str()
            }
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
        changes,
    })
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

    /// Whether every resolution could be made without a person.
    pub fn is_complete(&self) -> bool {
        self.resolutions.iter().all(|r| r.automatic)
    }
}
