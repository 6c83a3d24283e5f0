//! `weft resolve`: fix conflicts by editing the files that cause them.

use serde::Serialize;
use weft_analysis::{
    Resolution, ResolveSettings, SkippedConflict, find_conflicts, plan_resolutions,
};

use super::Context;
use crate::cli::{Format, ResolveArgs};
use crate::console::{self, Style};
use crate::exit::{Outcome, UsageError};

#[derive(Debug, Serialize)]
struct Report<'a> {
    applied: bool,
    resolutions: &'a [Resolution],
    /// Conflicts `--strategy` does not fit, left untouched.
    skipped: &'a [SkippedConflict],
    /// Conflict ids still reported after `--apply`.
    #[serde(skip_serializing_if = "Option::is_none")]
    remaining: Option<Vec<String>>,
    diff: String,
    diagnostics: &'a [weft_model::Diagnostic],
}

pub(crate) fn run(context: &Context, args: ResolveArgs) -> anyhow::Result<Outcome> {
    let (root, ids) = context.split_workspace(&args.conflicts)?;
    if let Some(strategy) = &args.strategy
        && !weft_analysis::STRATEGIES.contains(&strategy.as_str())
    {
        return Err(UsageError::new(format!("no strategy named `{strategy}`"))
            .with_hint(format!(
                "the strategies are {}",
                weft_analysis::STRATEGIES.join(", ")
            ))
            .into());
    }
    let model = context.discover(&root)?;
    let conflicts = find_conflicts(&model);
    let settings = ResolveSettings {
        conflicts: ids,
        strategy: args.strategy.clone(),
    };
    let read = |file: &str| fs_err::read_to_string(root.join(file));
    let plan =
        plan_resolutions(&model, &conflicts, &settings, &read).map_err(|error| match error {
            weft_analysis::ResolveError::UnknownConflict { .. }
            | weft_analysis::ResolveError::UnknownStrategy { .. } => anyhow::Error::new(
                UsageError::new(error.to_string())
                    .with_hint("`weft conflicts` lists each conflict's id and strategies"),
            ),
            other => anyhow::Error::new(other),
        })?;
    let diff = plan.unified_diff();
    let mut remaining = None;
    if args.apply {
        plan.apply(&root)?;
        let after = weft_discover::discover(&root)?;
        // A fix worked when its conflict is gone and no conflict is left
        // on a place it edited (an edit can move a collision, not end it).
        let edited: Vec<(&str, u32)> = plan
            .resolutions
            .iter()
            .flat_map(|r| &r.edits)
            .map(|e| (e.file.as_str(), e.line))
            .collect();
        let still: Vec<String> = find_conflicts(&after)
            .into_iter()
            .filter(|c| {
                plan.resolutions
                    .iter()
                    .any(|r| r.automatic && r.conflict == c.id)
                    || c.claims.iter().any(|claim| {
                        edited.contains(&(&*claim.provenance.file, claim.provenance.line))
                    })
            })
            .map(|c| c.id)
            .collect();
        remaining = Some(still);
    }
    match args.format {
        Format::Json => console::json(&Report {
            applied: args.apply,
            resolutions: &plan.resolutions,
            skipped: &plan.skipped,
            remaining: remaining.clone(),
            diff: diff.clone(),
            diagnostics: &model.diagnostics,
        })?,
        Format::Text => {
            if plan.resolutions.is_empty() && plan.skipped.is_empty() {
                console::out(&format!(
                    "{} no conflicts to resolve\n",
                    console::paint(Style::Green, "✓")
                ));
            }
            if plan.resolutions.is_empty()
                && let Some(strategy) = &args.strategy
                && !plan.skipped.is_empty()
            {
                console::out(&format!(
                    "{} strategy `{strategy}` fits none of the conflicts; nothing was changed\n",
                    console::paint(Style::Red, "!"),
                ));
            }
            for resolution in &plan.resolutions {
                let marker = if resolution.automatic {
                    console::paint(Style::Green, "fix")
                } else {
                    console::paint(Style::Yellow, "manual")
                };
                console::out(&format!(
                    "{marker} {} ({}): {}\n",
                    console::paint(Style::Bold, &resolution.conflict),
                    resolution.strategy,
                    resolution.summary
                ));
            }
            for skipped in &plan.skipped {
                console::out(&format!(
                    "{} {}: {}\n",
                    console::paint(Style::Yellow, "skipped"),
                    console::paint(Style::Bold, &skipped.conflict),
                    skipped.reason
                ));
            }
            if !plan.skipped.is_empty() && !plan.resolutions.is_empty() {
                console::out(&format!(
                    "{} {} skipped and left untouched; `weft resolve CONFLICT_ID` uses a conflict's own strategy\n",
                    console::paint(Style::Yellow, "!"),
                    console::count(plan.skipped.len(), "conflict"),
                ));
            }
            if !diff.is_empty() {
                if args.apply {
                    console::out(&format!(
                        "\nwrote {}\n",
                        console::count(plan.changes.len(), "file")
                    ));
                } else {
                    console::out("\n");
                    console::out(&colour_diff(&diff));
                    let command = match &args.strategy {
                        Some(strategy) => format!("weft resolve --strategy {strategy} --apply"),
                        None => "weft resolve --apply".to_string(),
                    };
                    console::out(&format!(
                        "\n{}\n",
                        console::paint(
                            Style::Dim,
                            format!("dry run: nothing was written; `{command}` writes these edits")
                        )
                    ));
                }
            }
            if let Some(still) = &remaining
                && !still.is_empty()
            {
                console::out(&format!(
                    "{} still reported after the edits: {}\n",
                    console::paint(Style::Red, "!"),
                    still.join(", ")
                ));
            }
        }
    }
    let unresolved = remaining.as_ref().is_some_and(|r| !r.is_empty());
    Ok(super::with_config_errors(
        if plan.is_complete() && !unresolved {
            Outcome::Clean
        } else {
            Outcome::Problems
        },
        &model,
    ))
}

fn colour_diff(diff: &str) -> String {
    diff.lines()
        .map(|line| {
            let styled = if line.starts_with("+++") || line.starts_with("---") {
                console::paint(Style::Bold, line)
            } else if line.starts_with('+') {
                console::paint(Style::Green, line)
            } else if line.starts_with('-') {
                console::paint(Style::Red, line)
            } else if line.starts_with("@@") {
                console::paint(Style::Cyan, line)
            } else {
                line.to_string()
            };
            styled + "\n"
        })
        .collect()
}
