//! Files a release carries: build outputs CI attaches with `weft deploy
//! artifact put`, and files a step writes into `WEFT_ARTIFACTS_DIR` for the
//! services after it. Each is kept under the artifacts directory (by
//! default `WORKSPACE/.weft/artifacts/DEPLOYMENT/NAME`), or in an
//! S3-compatible bucket when weft.yaml names one (`artifacts.s3`), and
//! recorded in the store with its SHA-256, so the manifest names exactly what
//! was released and `get` refuses a file that changed since.
//!
//! With a bucket, the directory is still where steps write and read
//! (`WEFT_ARTIFACTS_DIR`); what they write is uploaded after their service's
//! steps, `put` uploads, and `get` downloads and checks.

use std::io::Read;
use std::path::{Path, PathBuf};

use weft_model::config::ArtifactsConfig;
use weft_store::{ArtifactRecord, Store, StoreError};

use crate::bucket::{Bucket, BucketError};

/// What goes wrong with an artifact.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("artifact name `{name}` must be a plain file name (no `/`, not `.` or `..`)")]
    BadName { name: String },
    #[error("no deployment `{deployment}`")]
    NoDeployment { deployment: String },
    #[error("deployment `{deployment}` has no artifact `{name}`")]
    Unknown { deployment: String, name: String },
    #[error("artifact `{name}` changed since it was recorded: {expected}, now {found}")]
    Changed {
        name: String,
        expected: String,
        found: String,
    },
    #[error(
        "artifact `{name}` is kept in {location}, which is not in the bucket weft.yaml's `artifacts.s3` names"
    )]
    ElsewhereKept { name: String, location: String },
    #[error(transparent)]
    Bucket(#[from] BucketError),
    #[error("failed to copy an artifact")]
    Io(#[from] std::io::Error),
    #[error("failed to record an artifact")]
    Store(#[from] StoreError),
}

/// Where a workspace keeps its artifacts.
#[derive(Debug, Clone)]
pub struct Artifacts {
    root: PathBuf,
    bucket: Option<Bucket>,
}

impl Artifacts {
    /// Artifacts kept under `root` only.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Artifacts {
            root: root.into(),
            bucket: None,
        }
    }

    /// Artifacts as weft.yaml's `artifacts:` says: in its bucket, with
    /// credentials from the environment, or under `root`.
    pub fn configured(
        root: impl Into<PathBuf>,
        config: &ArtifactsConfig,
    ) -> Result<Self, BucketError> {
        let bucket = match &config.s3 {
            Some(s3) => Some(Bucket::new(s3, &|name| std::env::var(name).ok())?),
            None => None,
        };
        Ok(Artifacts {
            root: root.into(),
            bucket,
        })
    }

    /// Keeps artifacts in `bucket`.
    pub fn with_bucket(mut self, bucket: Bucket) -> Self {
        self.bucket = Some(bucket);
        self
    }

    /// The directory of one deployment's artifacts (`WEFT_ARTIFACTS_DIR`).
    pub fn directory(&self, deployment: &str) -> PathBuf {
        self.root.join(deployment)
    }

    /// Copies `file` in as `name` and records it.
    pub async fn put(
        &self,
        store: &Store,
        deployment: &str,
        name: &str,
        file: &Path,
    ) -> Result<ArtifactRecord, ArtifactError> {
        check_name(name)?;
        if store.deployment(deployment).await?.is_none() {
            return Err(ArtifactError::NoDeployment {
                deployment: deployment.to_string(),
            });
        }
        let directory = self.directory(deployment);
        fs_err::create_dir_all(&directory)?;
        let target = directory.join(name);
        let partial = directory.join(format!(".{name}.partial"));
        fs_err::copy(file, &partial)?;
        fs_err::rename(&partial, &target)?;
        self.record(store, deployment, name, &target).await
    }

    /// Copies artifact `name` out to `destination`, checking its digest.
    pub async fn get(
        &self,
        store: &Store,
        deployment: &str,
        name: &str,
        destination: &Path,
    ) -> Result<ArtifactRecord, ArtifactError> {
        check_name(name)?;
        let record = recorded(store, deployment, name).await?;
        if !record.location.starts_with("s3://") {
            let (found, _) = digest(Path::new(&record.location))?;
            if found != record.digest {
                return Err(ArtifactError::Changed {
                    name: name.to_string(),
                    expected: record.digest,
                    found,
                });
            }
            fs_err::copy(&record.location, destination)?;
            return Ok(record);
        }
        let elsewhere = || ArtifactError::ElsewhereKept {
            name: name.to_string(),
            location: record.location.clone(),
        };
        let bucket = self.bucket.clone().ok_or_else(elsewhere)?;
        let key = bucket
            .key_of(&record.location)
            .ok_or_else(elsewhere)?
            .to_string();
        // Downloaded beside the destination, checked, then moved in place.
        let file_name = destination
            .file_name()
            .map_or_else(|| name.to_string(), |n| n.to_string_lossy().into_owned());
        let partial = destination.with_file_name(format!(".{file_name}.partial"));
        let fetched = partial.clone();
        run_blocking(move || bucket.get(&key, &fetched)).await?;
        let (found, _) = digest(&partial)?;
        if found != record.digest {
            let _ = fs_err::remove_file(&partial);
            return Err(ArtifactError::Changed {
                name: name.to_string(),
                expected: record.digest,
                found,
            });
        }
        fs_err::rename(&partial, destination)?;
        Ok(record)
    }

    /// With a bucket: downloads the deployment's artifacts its directory
    /// lacks (put from another machine), so steps find them in
    /// `WEFT_ARTIFACTS_DIR`; the names it fetched.
    pub async fn fetch(
        &self,
        store: &Store,
        deployment: &str,
    ) -> Result<Vec<String>, ArtifactError> {
        let Some(bucket) = &self.bucket else {
            return Ok(Vec::new());
        };
        let directory = self.directory(deployment);
        let mut fetched = Vec::new();
        for record in store.artifacts(deployment).await? {
            if bucket.key_of(&record.location).is_none() {
                continue;
            }
            let path = directory.join(&record.name);
            if path.is_file() && digest(&path)?.0 == record.digest {
                continue;
            }
            fs_err::create_dir_all(&directory)?;
            self.get(store, deployment, &record.name, &path).await?;
            fetched.push(record.name);
        }
        Ok(fetched)
    }

    /// Records the files a step left in the deployment's directory that are
    /// new or changed; returns their names.
    pub async fn collect(
        &self,
        store: &Store,
        deployment: &str,
    ) -> Result<Vec<String>, ArtifactError> {
        let directory = self.directory(deployment);
        let Ok(entries) = fs_err::read_dir(&directory) else {
            return Ok(Vec::new());
        };
        let known = store.artifacts(deployment).await?;
        let mut recorded = Vec::new();
        let mut paths: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        paths.sort();
        for path in paths {
            let Some(name) = path
                .file_name()
                .and_then(|n| n.to_str())
                .map(str::to_string)
            else {
                continue;
            };
            if name.starts_with('.') || !path.is_file() || check_name(&name).is_err() {
                continue;
            }
            let (digest, _) = digest(&path)?;
            if known.iter().any(|a| a.name == name && a.digest == digest) {
                continue;
            }
            self.record(store, deployment, &name, &path).await?;
            recorded.push(name);
        }
        Ok(recorded)
    }

    async fn record(
        &self,
        store: &Store,
        deployment: &str,
        name: &str,
        path: &Path,
    ) -> Result<ArtifactRecord, ArtifactError> {
        let (digest, size) = digest(path)?;
        let location = match &self.bucket {
            Some(bucket) => {
                let key = bucket.key(deployment, name);
                let location = bucket.location(&key);
                let (bucket, file) = (bucket.clone(), path.to_path_buf());
                run_blocking(move || bucket.put(&key, &file)).await?;
                location
            }
            None => path.display().to_string(),
        };
        store
            .put_artifact(deployment, name, &digest, size, &location)
            .await?;
        recorded(store, deployment, name).await
    }
}

/// Runs blocking bucket I/O off the async runtime.
async fn run_blocking(
    work: impl FnOnce() -> Result<(), BucketError> + Send + 'static,
) -> Result<(), ArtifactError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| ArtifactError::Io(std::io::Error::other(error.to_string())))??;
    Ok(())
}

/// The record of artifact `name` of `deployment`.
async fn recorded(
    store: &Store,
    deployment: &str,
    name: &str,
) -> Result<ArtifactRecord, ArtifactError> {
    store
        .artifacts(deployment)
        .await?
        .into_iter()
        .find(|a| a.name == name)
        .ok_or_else(|| ArtifactError::Unknown {
            deployment: deployment.to_string(),
            name: name.to_string(),
        })
}

fn check_name(name: &str) -> Result<(), ArtifactError> {
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\', '\0']) {
        return Err(ArtifactError::BadName {
            name: name.to_string(),
        });
    }
    Ok(())
}

/// `sha256:HEX` and the size of a file, read in chunks.
fn digest(path: &Path) -> Result<(String, u64), std::io::Error> {
    let mut file = fs_err::File::open(path)?;
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buffer = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        size += read as u64;
        context.update(&buffer[..read]);
    }
    let hex: String = context
        .finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok((format!("sha256:{hex}"), size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_and_names() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("f");
        fs_err::write(&path, "abc").unwrap();
        assert_eq!(
            digest(&path).unwrap(),
            (
                "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
                    .to_string(),
                3
            )
        );
        assert!(check_name("app.tar.gz").is_ok());
        for bad in ["", ".", "..", "a/b", "../x"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
