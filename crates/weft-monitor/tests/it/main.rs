//! weft-monitor on realistic CI logs: which rule each failure line meets,
//! in order, with what suggestions.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on anything unexpected"
)]

mod alerts;
mod fixtures;
mod health;
mod html;
mod items;
mod report;
mod settings;
mod stale;

use std::path::{Path, PathBuf};

use weft_monitor::{RuleSet, analyze_file};

fn log(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/logs")
        .join(name)
}

fn rules_found(name: &str) -> Vec<(u64, String)> {
    let path = log(name);
    let analysis = analyze_file(&RuleSet::builtin(), &[path.as_path()]).unwrap();
    analysis
        .findings
        .iter()
        .map(|f| (f.line, f.rule.clone()))
        .collect()
}

fn pairs(list: &[(u64, &str)]) -> Vec<(u64, String)> {
    list.iter().map(|(n, r)| (*n, r.to_string())).collect()
}

#[test]
fn a_conan_and_fips_job() {
    assert_eq!(
        rules_found("conan-fips.log"),
        pairs(&[
            (5, "conan-version-conflict"),
            (8, "conan-missing-binary"),
            (11, "fips-self-test-failed"),
            (14, "conan-recipe-not-found"),
            (15, "fips-provider-not-loaded"),
            (16, "fips-disallowed-algorithm"),
        ])
    );
    let path = log("conan-fips.log");
    let analysis = analyze_file(&RuleSet::builtin(), &[path.as_path()]).unwrap();
    assert_eq!(analysis.findings[1].context.len(), 4);
    assert!(analysis.findings[0].suggestions[0].contains("openssl/3.0.13 and openssl/3.2.1"));
    // What no rule knows is grouped, with the runner's time masked.
    let templates: Vec<&str> = analysis
        .unmatched
        .iter()
        .map(|u| u.template.as_str())
        .collect();
    assert!(
        templates.contains(&"##[error]Process completed with exit code <n>."),
        "{templates:?}"
    );
    assert!(
        templates.contains(&"error:<hex>:Provider routines::fips module entering error state"),
        "{templates:?}"
    );
}

#[test]
fn a_c_and_rust_build() {
    assert_eq!(
        rules_found("build.log"),
        pairs(&[
            (2, "cmake-error"),
            (5, "c-cpp-compile-error"),
            (9, "missing-header"),
            (10, "linker-undefined-symbol"),
            (12, "make-target-failed"),
            (14, "rust-compile-error"),
            (17, "cargo-version-selection"),
        ])
    );
}

#[test]
fn test_suites_of_four_languages() {
    assert_eq!(
        rules_found("tests.log"),
        pairs(&[
            (4, "pytest-failed"),
            (5, "pytest-failed"),
            (7, "cargo-test-failed"),
            (8, "go-test-failed"),
            (10, "jest-tests-failed"),
            (11, "ctest-failed"),
        ])
    );
}

#[test]
fn a_kubernetes_rollout() {
    assert_eq!(
        rules_found("deploy.log"),
        pairs(&[
            (3, "rollout-timed-out"),
            (5, "crash-loop"),
            (6, "image-pull-failed"),
            (8, "out-of-memory-killed"),
            (10, "helm-upgrade-failed"),
            (11, "image-pull-failed"),
        ])
    );
}

#[test]
fn workflow_and_supply_chain_failures() {
    assert_eq!(
        rules_found("workflow.log"),
        pairs(&[
            (2, "workflow-token-permission"),
            (3, "workflow-token-permission"),
            (4, "workflow-bad-credentials"),
            (5, "workflow-rate-limited"),
            (6, "runner-out-of-disk"),
            (7, "workflow-timeout"),
            (8, "critical-vulnerability"),
            (9, "npm-dependency-resolution"),
            (10, "pip-no-matching-distribution"),
            (11, "workflow-invalid"),
        ])
    );
}

#[test]
fn every_builtin_rule_meets_a_realistic_log() {
    let mut seen = std::collections::BTreeSet::new();
    for name in [
        "conan-fips.log",
        "build.log",
        "tests.log",
        "deploy.log",
        "workflow.log",
    ] {
        for (_, rule) in rules_found(name) {
            seen.insert(rule);
        }
    }
    let builtin = RuleSet::builtin();
    let missing: Vec<&str> = builtin
        .rules()
        .iter()
        .map(|r| r.name.as_str())
        .filter(|name| !seen.contains(*name))
        .collect();
    assert!(missing.is_empty(), "no realistic log meets {missing:?}");
}
