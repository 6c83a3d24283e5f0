//! The `weft` command line: a thin layer over the library crates.

mod cli;
mod commands;
mod console;
mod exit;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc: reading a workspace makes millions of small allocations on
/// several threads, where it is markedly faster than the system allocator
/// (see the README's Performance section).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    if std::env::var_os(weft_launch::reaper::REAPER_ENV).is_some() {
        weft_launch::reaper::run_reaper();
        return ExitCode::SUCCESS;
    }
    let cli = cli::Cli::parse();
    console::init(cli.global.color);
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("WEFT_LOG").unwrap_or_else(|_| "warn".into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    match commands::run(cli) {
        Ok(code) => code.into(),
        Err(error) => {
            let code = exit::code_of(&error);
            console::error(&error);
            code.into()
        }
    }
}
