//! `weft ci`: check CI workflows that push.

use clap::Args;

use super::Context;
use crate::exit::Outcome;

#[derive(Debug, Args)]
pub(crate) struct CiArgs {}

pub(crate) fn run(_context: &Context, _args: CiArgs) -> anyhow::Result<Outcome> {
    anyhow::bail!("weft ci is not built yet")
}
