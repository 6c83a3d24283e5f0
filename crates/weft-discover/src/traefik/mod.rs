//! The Traefik reader: router rules parsed into the hosts and paths they
//! claim, and Docker labels into route claims and an edge from the proxy.

mod labels;
mod rule;

pub use labels::{Label, read_labels};
pub use rule::{Matcher, RouteMatch, RuleError, RuleExpr, default_priority, parse_rule, routes};
