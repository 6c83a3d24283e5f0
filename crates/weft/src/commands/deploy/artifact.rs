//! `weft deploy artifact put|get|list`: files a release carries, kept under
//! `.weft/artifacts/` or in weft.yaml's `artifacts.s3` bucket, with their
//! SHA-256 in the store.

use std::path::PathBuf;

use clap::Subcommand;
use serde_json::json;
use weft_deploy::artifacts::ArtifactError;
use weft_deploy::bucket::BucketError;

use super::Session;
use crate::cli::Format;
use crate::commands::Context;
use crate::console;
use crate::exit::{Outcome, UsageError};

#[derive(Debug, Subcommand)]
pub(super) enum ArtifactCommand {
    /// Attach FILE to deployment ID as NAME (steps see it in WEFT_ARTIFACTS_DIR)
    Put {
        id: String,
        name: String,
        file: PathBuf,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Copy artifact NAME of deployment ID to DESTINATION (default: ./NAME), checking its digest
    Get {
        id: String,
        name: String,
        destination: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// The artifacts of deployment ID, with their digests
    List {
        id: String,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

fn usage(error: ArtifactError) -> anyhow::Error {
    match error {
        ArtifactError::Store(error) => error.into(),
        ArtifactError::Io(error) => error.into(),
        // The bucket did not answer, or refused: the environment's fault.
        ArtifactError::Bucket(
            error @ (BucketError::Unreachable { .. }
            | BucketError::Refused { .. }
            | BucketError::Io(_)),
        ) => anyhow::Error::new(error),
        other => UsageError::new(other.to_string())
            .with_hint("`weft deploy artifact list ID` lists a release's artifacts")
            .into(),
    }
}

pub(super) fn run(
    context: &Context,
    session: &Session,
    command: ArtifactCommand,
) -> anyhow::Result<Outcome> {
    let runtime = session.runtime()?;
    let model = session.model(context)?;
    let artifacts = session.artifacts(&model.config.artifacts)?;
    runtime.block_on(async {
        let coordinator = session.coordinator().await?;
        let store = coordinator.store();
        let (record, format, verb) = match command {
            ArtifactCommand::Put {
                id,
                name,
                file,
                format,
            } => {
                if !file.is_file() {
                    return Err(
                        UsageError::new(format!("`{}` is not a file", file.display())).into(),
                    );
                }
                (
                    artifacts
                        .put(store, &id, &name, &file)
                        .await
                        .map_err(usage)?,
                    format,
                    "stored",
                )
            }
            ArtifactCommand::Get {
                id,
                name,
                destination,
                format,
            } => {
                let destination = destination.unwrap_or_else(|| PathBuf::from(&name));
                (
                    artifacts
                        .get(store, &id, &name, &destination)
                        .await
                        .map_err(usage)?,
                    format,
                    "copied",
                )
            }
            ArtifactCommand::List { id, format } => {
                if store.deployment(&id).await?.is_none() {
                    return Err(UsageError::new(format!("no deployment `{id}`")).into());
                }
                let list = store.artifacts(&id).await?;
                match format {
                    Format::Json => console::json(&json!({"deployment": id, "artifacts": list}))?,
                    Format::Text if list.is_empty() => {
                        console::out(&format!("{id} carries no artifacts\n"))
                    }
                    Format::Text => {
                        for artifact in &list {
                            console::out(&format!(
                                "{}  {}  {} bytes\n",
                                artifact.name, artifact.digest, artifact.size
                            ));
                        }
                    }
                }
                return Ok(Outcome::Clean);
            }
        };
        match format {
            Format::Json => console::json(&record)?,
            Format::Text => console::out(&format!(
                "{verb} {} ({}, {} bytes)\n",
                record.name, record.digest, record.size
            )),
        }
        Ok(Outcome::Clean)
    })
}
