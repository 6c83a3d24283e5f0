//! `weft why SERVICE`: what a service waits on, or why it failed.

use weft_launch::control::{Request, Response};
use weft_launch::report::Why;

use super::Context;
use super::launch::{ago, ask, paint_state};
use crate::cli::{Format, WhyArgs};
use crate::console::{self, Style};
use crate::exit::Outcome;

pub(crate) fn run(context: &Context, args: WhyArgs) -> anyhow::Result<Outcome> {
    let Response::Why(why) = ask(
        context,
        &Request::Why {
            service: args.service,
        },
    )?
    else {
        anyhow::bail!("the supervisor answered `why` with something else");
    };
    match args.format {
        Format::Json => console::json(&why)?,
        Format::Text => console::out(&render(&why)),
    }
    Ok(Outcome::Clean)
}

/// The explanation, for people.
pub(crate) fn render(why: &Why) -> String {
    let mut text = format!(
        "{} is {}",
        console::paint(Style::Bold, &why.service),
        paint_state(why.state)
    );
    if let Some(reason) = &why.reason {
        text.push_str(&format!(": {reason}"));
    }
    text.push('\n');
    if !why.dependencies.is_empty() {
        text.push_str("dependencies:\n");
        for d in &why.dependencies {
            let mark = if d.met {
                console::paint(Style::Green, "✓")
            } else {
                console::paint(Style::Red, "✗")
            };
            text.push_str(&format!(
                "  {mark} {} ({}, until {}) is {}  {}\n",
                d.service,
                d.kind,
                d.condition,
                paint_state(d.state),
                console::paint(Style::Dim, &d.provenance)
            ));
        }
    }
    if why.blocked_path.len() > 1 {
        text.push_str("blocked by:\n");
        for (depth, step) in why.blocked_path.iter().enumerate() {
            text.push_str(&format!("  {}{step}\n", "  ".repeat(depth)));
        }
    }
    if let Some(probe) = &why.last_probe {
        text.push_str(&format!(
            "last probe: {} {} {}: {} ({} ago)\n",
            probe.probe,
            probe.check,
            if probe.ok {
                console::paint(Style::Green, "passed")
            } else {
                console::paint(Style::Red, "failed")
            },
            probe.message,
            ago(probe.at_ms)
        ));
    }
    if !why.last_output.is_empty() {
        text.push_str("last output:\n");
        for line in &why.last_output {
            text.push_str(&format!("  {} {line}\n", console::paint(Style::Dim, "|")));
        }
    }
    text
}
