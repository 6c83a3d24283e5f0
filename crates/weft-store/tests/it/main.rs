//! The store suite: every test runs on SQLite and on a throwaway
//! PostgreSQL cluster (SKIP where PostgreSQL is not installed, failure under
//! `WEFT_REQUIRE_POSTGRES=1`).

mod announce;
mod backends;
mod deployments;
mod engine;
mod handover;
mod leases;
mod monitor;
mod notifications;
mod records;
mod safety;
