//! A small GitHub REST client for weft's deploy and monitor jobs, on the
//! HTTP stack the project already uses (ureq with rustls and ring).
//!
//! [`GitHub`] sends GitHub's headers (`Accept: application/vnd.github+json`,
//! `X-GitHub-Api-Version`), keeps one rate-limit budget for every call (the
//! primary `x-ratelimit-*` limit and secondary `retry-after` limits; a
//! request is never sent into a known limit), retries 5xx answers with
//! jittered backoff, caches ETags per token so an unchanged resource costs a
//! free 304, follows `Link` paging, and follows job-log redirects without
//! the token. [`workflows`] dispatches workflows and finds their runs; the
//! issue calls serve weft's incident channel.

mod budget;
mod client;
mod error;
mod issues;
mod link;
pub mod workflows;

pub use budget::BudgetSnapshot;
pub use client::{CachedGet, Fetched, GitHub, GitHubSettings};
pub use error::GitHubError;
pub use issues::{IssueSummary, encode_path};
pub use link::encode;
pub use workflows::{Dispatched, WorkflowDispatch, WorkflowRun};
