//! A fake of GitHub's REST API on 127.0.0.1 that speaks the real wire format
//! (status codes, headers and JSON bodies as GitHub's REST documentation and
//! OpenAPI description give them), for tests of weft's GitHub client, of
//! `weft deploy`'s workflow steps and of `weft monitor`.
//!
//! [`FakeGitHub`] serves workflow dispatch (with or without
//! `return_run_details`), `repository_dispatch`, workflow runs that go
//! `queued` → `in_progress` → `completed` on a configured timing, their jobs
//! and job logs (behind a 302 to a short-lived URL that needs no token), and
//! repositories, and issues with their comments (listed by state and
//! labels, opened, closed); with ETags and 304s, `Link` paging, rate-limit headers,
//! primary and secondary rate limits and injected 5xx answers that tests
//! switch on. [`OpenApiDocument`] checks JSON bodies against GitHub's
//! published OpenAPI description.

mod actions;
mod clock;
mod error;
mod fake;
mod filter;
mod gate;
mod issues;
mod logs;
mod openapi;
mod paging;
mod rate_limit;
mod repos;
mod repository;
mod router;
mod run;
mod state;
mod workflow;

pub use fake::{DEFAULT_TOKEN, FakeGitHub};
pub use issues::Issue;
pub use openapi::{OpenApiDocument, OpenApiError, SchemaMismatch};
pub use repository::Repository;
pub use state::{DispatchedRun, RecordedRequest, RepositoryDispatch};
pub use workflow::{Conclusion, Workflow};
