//! weft's ecosystem monitor, for an organisation's tens to hundreds of
//! repositories on GitHub.
//!
//! - [`collect`] brings each repository's events, workflow runs (and the
//!   logs of failed jobs, classified at once), pull requests and issues
//!   with their timelines, branches and releases into the store, through
//!   `weft-github`'s one rate-limit budget and ETag cache.
//! - [`health`] scores a repository from weighted probes whose deductions
//!   name their evidence; [`report`] and [`html`] write the reports.
//! - [`stale`] plans (and carries out) what happens to stale pull
//!   requests and branches; [`alerts`] keeps one alert issue per
//!   repository, type and rule.
//! - The failure-log rules ([`RuleSet`]) and their analyzer work offline
//!   too: each rule carries examples `weft monitor rules test` checks, and
//!   logs of any size are streamed once through one `RegexSet`.

pub mod alerts;
mod analyze;
pub mod collect;
mod error;
pub mod harvest;
pub mod health;
pub mod html;
pub mod items;
pub mod jobs;
mod prefilter;
pub mod report;
mod rules;
pub mod schedule;
pub mod settings;
pub mod snapshot;
pub mod stale;
mod template;

pub use analyze::{Analysis, Finding, Unmatched, analyze, analyze_file};
pub use error::MonitorError;
pub use rules::{BUILTIN_RULES, Example, Rule, RuleSet, RulesError, Severity, TestFailure};
pub use settings::MonitorSettings;
pub use template::template;
