//! `weft notify`: the release notification channels of weft.yaml.

use clap::{Args, Subcommand};
use serde_json::json;

use super::Context;
use crate::cli::Format;
use crate::console::{self, Style};
use crate::exit::{Outcome, UsageError};

#[derive(Debug, Args)]
pub(crate) struct NotifyArgs {
    #[command(subcommand)]
    command: NotifyCommand,
}

#[derive(Debug, Subcommand)]
enum NotifyCommand {
    /// Send a test message to one channel of `notify.channels`
    #[command(
        long_about = "Send a test message to one channel of weft.yaml's `notify.channels`, with the \
channel's retries, and say whether it arrived. A Slack, email or webhook channel gets a short message; \
a GitHub-issue channel only lists the repository's open issues (it opens none).\n\n\
Exit codes: 0 delivered, 2 no such channel, 3 not delivered (unreachable, refused, a secret's variable unset)."
    )]
    Test(TestArgs),
}

#[derive(Debug, Args)]
struct TestArgs {
    /// The channel's name under `notify.channels`
    #[arg(value_name = "CHANNEL")]
    channel: String,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

pub(crate) fn run(context: &Context, args: NotifyArgs) -> anyhow::Result<Outcome> {
    match args.command {
        NotifyCommand::Test(args) => test(context, &args),
    }
}

fn test(context: &Context, args: &TestArgs) -> anyhow::Result<Outcome> {
    let root = context.workspace(None);
    let model = context.discover(&root)?;
    let channels: Vec<&String> = model.config.notify.channels.keys().collect();
    if !channels.iter().any(|c| **c == args.channel) {
        let hint = if channels.is_empty() {
            "weft.yaml declares no `notify.channels`".to_string()
        } else {
            let names: Vec<&str> = channels.iter().map(|c| c.as_str()).collect();
            format!("the channels are: {}", names.join(", "))
        };
        return Err(
            UsageError::new(format!("no notify channel `{}`", args.channel))
                .with_hint(hint)
                .into(),
        );
    }
    let Some(notifier) = weft_deploy::notify::notifier(&model.config) else {
        return Err(UsageError::new("weft.yaml declares no `notify.channels`").into());
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let delivery = runtime.block_on(notifier.notify_test(&args.channel))?;
    match args.format {
        Format::Json => console::json(&json!({
            "channel": delivery.channel,
            "ok": delivery.ok,
            "attempts": delivery.attempts,
            "error": delivery.error,
            "at": delivery.at.to_string(),
        }))?,
        Format::Text if delivery.ok => console::out(&format!(
            "{} sent a test message to `{}` ({} attempt{})\n",
            console::paint(Style::Green, "✓"),
            delivery.channel,
            delivery.attempts,
            if delivery.attempts == 1 { "" } else { "s" }
        )),
        Format::Text => console::out(&format!(
            "{} `{}` did not take the test message after {} attempt{}: {}\n",
            console::paint(Style::Red, "✗"),
            delivery.channel,
            delivery.attempts,
            if delivery.attempts == 1 { "" } else { "s" },
            delivery.error.as_deref().unwrap_or("no reason given")
        )),
    }
    Ok(if delivery.ok {
        Outcome::Clean
    } else {
        Outcome::Internal
    })
}
