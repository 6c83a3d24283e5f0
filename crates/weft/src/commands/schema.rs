//! `weft schema`: the JSON Schema of weft.yaml.

use crate::console;
use crate::exit::Outcome;

pub(crate) fn run() -> anyhow::Result<Outcome> {
    console::json(&weft_model::config::json_schema())?;
    Ok(Outcome::Clean)
}
