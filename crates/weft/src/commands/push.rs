//! `weft push`: land local commits on a busy branch.

use clap::Args;

use super::Context;
use crate::exit::Outcome;

#[derive(Debug, Args)]
pub(crate) struct PushArgs {}

pub(crate) fn run(_context: &Context, _args: PushArgs) -> anyhow::Result<Outcome> {
    anyhow::bail!("weft push is not built yet")
}
