//! The YAML that fixes a finding: weft's push step, a concurrency group, a
//! permissions block.

use crate::push::Target;

/// How a workflow refers to weft's action. `owner` is wherever weft's
/// repository is published; the action lives at its root (`action.yml`).
pub const WEFT_ACTION: &str = "owner/weft@v1";

/// The branch of a target, as a step input.
pub(crate) fn branch_input(target: &Target) -> String {
    match target {
        Target::Branch(name) => name.clone(),
        Target::Trigger => "${{ github.ref_name }}".into(),
        Target::DefaultBranch => "${{ github.event.repository.default_branch }}".into(),
        Target::PullRequestHead => "${{ github.head_ref }}".into(),
        Target::Dynamic(text) => text.clone(),
        Target::Tags => "main".into(),
    }
}

/// A YAML scalar that reads back as `text`.
fn quoted(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '/' | '.'))
        && !matches!(text, "true" | "false" | "null" | "yes" | "no");
    if plain {
        text.to_string()
    } else {
        format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// weft's push step, landing on `target` (with the commit message when known).
pub(crate) fn weft_step(target: &Target, message: Option<&str>) -> String {
    let mut step = format!(
        "- uses: {WEFT_ACTION}\n  with:\n    branch: {}\n",
        quoted(&branch_input(target))
    );
    if let Some(message) = message {
        step.push_str(&format!("    message: {}\n", quoted(message)));
    }
    step
}

/// A concurrency group that queues runs instead of dropping them.
pub(crate) fn queued_concurrency(group: &str) -> String {
    format!(
        "concurrency:\n  group: {}\n  cancel-in-progress: false\n  queue: max\n",
        quoted(group)
    )
}

/// A group name for pushes to `target`, shared by every workflow that uses it.
pub(crate) fn group_for(target: &Target) -> String {
    match target {
        Target::Branch(name) => format!("push-{name}"),
        _ => "push-${{ github.ref }}".into(),
    }
}

pub(crate) const CONTENTS_WRITE: &str = "permissions:\n  contents: write\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_quote_what_needs_quoting() {
        assert_eq!(
            weft_step(&Target::Branch("main".into()), Some("chore: data")),
            "- uses: owner/weft@v1\n  with:\n    branch: main\n    message: \"chore: data\"\n"
        );
        assert!(weft_step(&Target::Trigger, None).contains("branch: \"${{ github.ref_name }}\""));
        assert!(queued_concurrency("push-main").contains("queue: max"));
    }
}
