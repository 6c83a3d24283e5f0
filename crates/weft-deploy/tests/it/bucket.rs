//! Artifacts in an S3-compatible bucket: moto in server mode, a real
//! S3 server on 127.0.0.1, behind weft's presigned requests.

use std::collections::BTreeMap;

use weft_deploy::artifacts::{ArtifactError, Artifacts};
use weft_deploy::bucket::{Bucket, BucketError};
use weft_model::config::S3Config;
use weft_store::{DeploymentKind, NewDeployment, NewDeploymentService};
use weft_testkit::s3::MotoServer;

use crate::support::Fixture;

fn config(endpoint: &str, bucket: &str) -> S3Config {
    S3Config {
        bucket: bucket.to_string(),
        prefix: "weft/".to_string(),
        endpoint: Some(endpoint.to_string()),
        access_key_env: Some("TEST_S3_KEY".to_string()),
        secret_key_env: Some("TEST_S3_SECRET".to_string()),
        ..S3Config::default()
    }
}

fn credentials(name: &str) -> Option<String> {
    match name {
        "TEST_S3_KEY" => Some("testing".to_string()),
        "TEST_S3_SECRET" => Some("testing-secret".to_string()),
        _ => None,
    }
}

/// A recorded deployment to attach artifacts to.
async fn deployment(store: &weft_store::Store) -> String {
    store
        .create_deployment(&NewDeployment {
            environment: "prod".to_string(),
            kind: DeploymentKind::Release,
            strategy: "sequential".to_string(),
            plan: serde_json::json!({}),
            services: vec![NewDeploymentService {
                service: "app/app".to_string(),
                version: "1.0".to_string(),
                previous_version: None,
                phase: 1,
            }],
            versions: BTreeMap::from([("app/app".to_string(), "1.0".to_string())]),
            who: serde_json::json!({"user": "test"}),
            rollback_of: None,
            host: "test".to_string(),
            pid: 1,
        })
        .await
        .unwrap()
        .id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn artifacts_go_to_the_bucket_and_come_back_checked() {
    let Some(moto) = MotoServer::start("artifacts_go_to_the_bucket_and_come_back_checked") else {
        return;
    };
    let fixture = Fixture::new("  prod: {}", &[("app", &[], "")]);
    let coordinator = fixture.coordinator().await;
    let store = coordinator.store();
    let id = deployment(store).await;
    let bucket = Bucket::new(&config(&moto.endpoint(), "releases"), &credentials).unwrap();
    tokio::task::spawn_blocking({
        let bucket = bucket.clone();
        move || bucket.create()
    })
    .await
    .unwrap()
    .unwrap();
    let root = fixture.workspace.path(".weft/artifacts");
    let artifacts = Artifacts::new(&root).with_bucket(bucket.clone());

    let file = fixture.workspace.path("build.tar");
    fs_err::write(&file, "the build\n").unwrap();
    let record = artifacts.put(store, &id, "build.tar", &file).await.unwrap();
    assert_eq!(
        record.location,
        format!("s3://releases/weft/{id}/build.tar")
    );
    assert_eq!(record.size, 10);

    // Back out, checked against the recorded digest.
    let out = fixture.workspace.path("out.tar");
    artifacts.get(store, &id, "build.tar", &out).await.unwrap();
    assert_eq!(fs_err::read_to_string(&out).unwrap(), "the build\n");

    // Another machine (no local copy) fetches it for its steps.
    let elsewhere = Artifacts::new(fixture.workspace.path("elsewhere")).with_bucket(bucket.clone());
    assert_eq!(elsewhere.fetch(store, &id).await.unwrap(), ["build.tar"]);
    let fetched = elsewhere.directory(&id).join("build.tar");
    assert_eq!(fs_err::read_to_string(&fetched).unwrap(), "the build\n");
    assert!(
        elsewhere.fetch(store, &id).await.unwrap().is_empty(),
        "up to date"
    );

    // Changed in the bucket since: refused, and nothing is left behind.
    let forged = fixture.workspace.path("forged.tar");
    fs_err::write(&forged, "something else\n").unwrap();
    let key = bucket.key(&id, "build.tar");
    tokio::task::spawn_blocking({
        let bucket = bucket.clone();
        move || bucket.put(&key, &forged)
    })
    .await
    .unwrap()
    .unwrap();
    let again = fixture.workspace.path("again.tar");
    let error = artifacts
        .get(store, &id, "build.tar", &again)
        .await
        .unwrap_err();
    assert!(matches!(error, ArtifactError::Changed { .. }), "{error}");
    assert!(!again.exists());
    assert!(!fixture.workspace.path(".again.tar.partial").exists());

    // Another bucket does not hold it; a bucket that does not exist says so.
    let other = Bucket::new(&config(&moto.endpoint(), "other"), &credentials).unwrap();
    let error = Artifacts::new(&root)
        .with_bucket(other.clone())
        .get(store, &id, "build.tar", &again)
        .await
        .unwrap_err();
    assert!(
        matches!(error, ArtifactError::ElsewhereKept { .. }),
        "{error}"
    );
    let error = Artifacts::new(&root)
        .with_bucket(other)
        .put(store, &id, "x.txt", &file)
        .await
        .unwrap_err();
    match error {
        ArtifactError::Bucket(BucketError::Refused {
            status, message, ..
        }) => {
            assert_eq!(status, 404);
            assert!(message.contains("NoSuchBucket"), "{message}");
        }
        other => panic!("{other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_endpoint_is_unreachable() {
    let fixture = Fixture::new("  prod: {}", &[("app", &[], "")]);
    let coordinator = fixture.coordinator().await;
    let store = coordinator.store();
    let id = deployment(store).await;
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bucket = Bucket::new(
        &config(&format!("http://127.0.0.1:{dead}"), "releases"),
        &credentials,
    )
    .unwrap();
    let file = fixture.workspace.path("f");
    fs_err::write(&file, "x").unwrap();
    let error = Artifacts::new(fixture.workspace.path(".weft/artifacts"))
        .with_bucket(bucket)
        .put(store, &id, "f", &file)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ArtifactError::Bucket(BucketError::Unreachable { .. })
        ),
        "{error}"
    );
    // Nothing was recorded for it.
    assert!(store.artifacts(&id).await.unwrap().is_empty());
}
