//! How a push is retried by the shell around it: the loops that enclose it,
//! whether they integrate the remote's changes, and whether `bash -e` lets
//! them retry at all.
//!
//! How it works: the innermost enclosing loop that looks like a retry (a
//! `while`/`until`, a `for` over numbers, any loop that `break`s) is taken.
//! Without a pull, rebase, merge or reset in it, retrying is pointless. With
//! one, the push and each integration must be guarded (`||`, `&&`, a
//! condition, `!`) when `-e` is in force, or the first failure ends the step.

use weft_model::Location;

use crate::push::Retry;
use crate::shell::{self, Command, GitCommand, LoopKind, Scan};

/// Whether a command integrates the remote's changes (pull, rebase, merge, reset).
fn integrates(command: &Command) -> bool {
    matches!(
        shell::interpret(command),
        Some((
            GitCommand::Pull { .. }
                | GitCommand::Rebase { .. }
                | GitCommand::Merge
                | GitCommand::Reset,
            _
        ))
    )
}

/// How the push at `index` is retried by the loops around it.
pub(crate) fn retry_of(scan: &Scan, index: usize, locate: &dyn Fn(usize) -> Location) -> Retry {
    let command = &scan.commands[index];
    for &loop_index in command.loops.iter().rev() {
        if !is_retry_loop(scan, loop_index) {
            continue;
        }
        let range = scan.loops[loop_index].first..scan.loops[loop_index].end;
        let integrations: Vec<&Command> = scan.commands[range]
            .iter()
            .filter(|c| integrates(c))
            .collect();
        if integrations.is_empty() {
            return Retry::LoopWithoutRebase {
                location: locate(scan.loops[loop_index].offset),
            };
        }
        let mut reasons = Vec::new();
        if !command.guarded && command.errexit {
            reasons.push(("the push".to_string(), locate(command.offset)));
        }
        for integration in integrations {
            if !integration.guarded && integration.errexit {
                let words: Vec<&str> = integration
                    .words
                    .iter()
                    .take(3)
                    .map(|w| w.text.as_str())
                    .collect();
                reasons.push((format!("`{}`", words.join(" ")), locate(integration.offset)));
            }
        }
        return if reasons.is_empty() {
            Retry::Loop
        } else {
            Retry::BrokenLoop { reasons }
        };
    }
    let rebased_first = scan.commands[..index]
        .iter()
        .any(|c| integrates(c) && c.loops.is_empty());
    Retry::None { rebased_first }
}

/// A script an action reruns until it succeeds: safe when it integrates the
/// remote's changes before pushing again.
pub(crate) fn retried_script(scan: &Scan) -> Retry {
    if scan.commands.iter().any(integrates) {
        Retry::Loop
    } else {
        Retry::None {
            rebased_first: false,
        }
    }
}

/// Whether a loop retries (`until git push`, `for i in 1 2 3`, a loop that
/// `break`s) rather than goes over a list (`for branch in a b`).
fn is_retry_loop(scan: &Scan, index: usize) -> bool {
    let found = &scan.loops[index];
    let commands = &scan.commands[found.first..found.end];
    if commands
        .iter()
        .any(|c| matches!(c.name(), Some("break" | "exit" | "return")))
    {
        return true;
    }
    match found.kind {
        LoopKind::While | LoopKind::Until => !commands
            .iter()
            .any(|c| c.condition_of == Some(index) && c.name() == Some("read")),
        LoopKind::For => {
            let header = &found.header;
            let list: Vec<&str> = header.iter().skip(2).map(String::as_str).collect();
            header.first().is_some_and(|h| h.starts_with("(("))
                || (!list.is_empty()
                    && list.iter().all(|item| {
                        item.chars().all(|c| c.is_ascii_digit())
                            || (item.starts_with('{') && item.contains(".."))
                            || item.starts_with("$(seq")
                    }))
        }
    }
}
