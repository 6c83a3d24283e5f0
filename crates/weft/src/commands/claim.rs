//! `weft claim TYPE ID`: a lease on a typed shared resource (a port, a
//! domain, an environment…), held until released, or while a command runs.

use clap::Args;

use super::Context;
use super::coordination::{Claim, ClaimArgs, ConnectionArgs, Leases};
use super::lock::{acquire, finish, hold_while};
use crate::cli::Format;
use crate::exit::Outcome;

#[derive(Debug, Args)]
pub(crate) struct ClaimCommandArgs {
    /// port, domain, volume, network, environment, branch, or any type
    #[arg(value_name = "TYPE")]
    pub(crate) kind: String,
    /// What of that type: `8080`, `shop.example.com`, `staging`…
    #[arg(value_name = "ID")]
    pub(crate) identifier: String,
    #[command(flatten)]
    pub(crate) claim: ClaimArgs,
    #[command(flatten)]
    pub(crate) connection: ConnectionArgs,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,
    /// Hold the claim while this command runs (as `weft lock run`)
    #[arg(last = true, value_name = "COMMAND")]
    pub(crate) command: Vec<String>,
}

pub(crate) fn run(context: &Context, args: ClaimCommandArgs) -> anyhow::Result<Outcome> {
    let leases = Leases::connect(context, &args.connection)?;
    let claim = Claim::new(format!("{}:{}", args.kind, args.identifier), &args.claim);
    if args.command.is_empty() {
        finish(acquire(&leases, &claim, args.format))
    } else {
        hold_while(&leases, &claim, &args.command)
    }
}
