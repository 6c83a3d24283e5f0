//! Opening a fresh store on each backend.

use weft_store::{AlertThresholds, Coordinator, CoordinatorMode, LeasePolicy, Store};
use weft_testkit::Postgres;

/// What keeps a store's database alive: held, never read.
#[derive(Debug)]
#[expect(dead_code, reason = "held for its Drop: the temp dir or the cluster")]
pub(crate) enum Guard {
    Sqlite(tempfile::TempDir),
    Postgres(Postgres),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh database: its URL and what keeps it alive, or `None` when the
/// backend is not available here (a SKIP line was printed).
pub(crate) fn database(backend: Backend, test: &str) -> Option<(String, Guard)> {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}", dir.path().join("state.db").display());
            Some((url, Guard::Sqlite(dir)))
        }
        Backend::Postgres => {
            let mut postgres = Postgres::start(test)?;
            let url = postgres.database();
            Some((url, Guard::Postgres(postgres)))
        }
    }
}

pub(crate) async fn store(
    backend: Backend,
    test: &str,
    policy: LeasePolicy,
) -> Option<(Store, Guard)> {
    let (url, guard) = database(backend, test)?;
    let store = Store::open(&url, policy).await.expect("open store");
    Some((store, guard))
}

pub(crate) async fn coordinator(store: Store) -> Coordinator {
    Coordinator::start(store, CoordinatorMode::Server, AlertThresholds::default())
        .await
        .expect("start coordinator")
}

/// Defines `mod $name { sqlite(), postgres() }` running `$body(backend)`.
#[macro_export]
macro_rules! on_both_backends {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$body(
                    $crate::backends::Backend::Sqlite,
                    concat!(stringify!($name), "::sqlite"),
                )
                .await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$body(
                    $crate::backends::Backend::Postgres,
                    concat!(stringify!($name), "::postgres"),
                )
                .await;
            }
        }
    };
}
