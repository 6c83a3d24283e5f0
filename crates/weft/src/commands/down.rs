//! `weft down`: stop everything, dependents before what they need.

use weft_launch::control::{Client, Request};
use weft_launch::registry;

use super::Context;
use super::launch::state_dir;
use crate::console;
use crate::exit::Outcome;

pub(crate) fn run(context: &Context) -> anyhow::Result<Outcome> {
    let state_dir = state_dir(context)?;
    let mut client = match Client::connect(&state_dir) {
        Ok(client) => client,
        Err(_) => {
            let reaped = registry::reap_stale(&state_dir);
            for process in &reaped {
                console::note(&format!(
                    "killed {process}, left behind by a supervisor that was killed"
                ));
            }
            console::note("nothing is running in this workspace");
            return Ok(Outcome::Clean);
        }
    };
    let supervisor = registry::read(&state_dir).map(|r| r.supervisor);
    client.send(&Request::Down)?;
    console::note("stopping every service, dependents first…");
    // The supervisor closes the connection once everything has stopped,
    // then exits.
    while client.receive()?.is_some() {}
    if let Some(supervisor) = supervisor {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while registry::is_alive(supervisor.pid, supervisor.start_ticks)
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
    console::note("stopped");
    Ok(Outcome::Clean)
}
