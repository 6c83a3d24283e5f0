//! Plans: order from required edges and `deploy.depends_on`, phases per
//! strategy, and what cannot be planned.

use std::collections::BTreeMap;

use weft_deploy::{Plan, PlanError, ReleaseRequest};
use weft_model::config::Strategy;

use crate::support::Fixture;

/// a ← b, a ← c, b ← d, c ← d (d needs b and c, which need a); e soft on a.
fn diamond(environment: &str) -> Fixture {
    Fixture::new(
        environment,
        &[
            ("a", &[], ""),
            ("b", &["a"], ""),
            ("c", &["a"], ""),
            ("d", &["b", "c"], ""),
            ("e", &[], ""),
        ],
    )
}

fn phases(plan: &Plan) -> Vec<Vec<String>> {
    plan.phases
        .iter()
        .map(|p| {
            p.services
                .iter()
                .map(|s| s.rsplit('/').next().unwrap_or(s).to_string())
                .collect()
        })
        .collect()
}

fn request(environment: &str, set: &[&str], strategy: Option<Strategy>) -> ReleaseRequest {
    ReleaseRequest {
        environment: environment.to_string(),
        set: set
            .iter()
            .map(|s| (s.to_string(), "2.0".to_string()))
            .collect(),
        strategy,
        ..ReleaseRequest::default()
    }
}

#[test]
fn each_strategy_orders_the_release_by_required_edges() {
    let fixture = diamond("  prod: {max_parallel: 4, canary: [c], analysis: 1s}");
    // e's soft edge to a is added in weft.yaml below; it must not order anything.
    let mut yaml = fixture.workspace.read("weft.yaml");
    yaml = yaml.replace(
        "  e:\n    repository: e\n",
        "  e:\n    repository: e\n    depends_on: {a: soft}\n",
    );
    fixture.workspace.write("weft.yaml", &yaml);
    let model = fixture.model();
    let all = ["a", "b", "c", "d", "e"];
    let current = BTreeMap::new();

    let sequential = Plan::build(
        &model,
        &request("prod", &all, Some(Strategy::Sequential)),
        &current,
    )
    .unwrap();
    assert_eq!(phases(&sequential), [["a"], ["e"], ["b"], ["c"], ["d"]]);
    assert!(sequential.phases.iter().all(|p| !p.parallel));

    let parallel = Plan::build(
        &model,
        &request("prod", &all, Some(Strategy::Parallel)),
        &current,
    )
    .unwrap();
    assert_eq!(
        phases(&parallel),
        [vec!["a", "e"], vec!["b", "c"], vec!["d"]]
    );
    assert!(parallel.phases[0].parallel && !parallel.phases[2].parallel);

    let canary = Plan::build(
        &model,
        &request("prod", &all, Some(Strategy::Canary)),
        &current,
    )
    .unwrap();
    // The canary c goes first with what it requires (a); then the rest.
    assert_eq!(
        phases(&canary),
        [vec!["a"], vec!["c"], vec!["e"], vec!["b"], vec!["d"]]
    );
    let flags: Vec<bool> = canary.phases.iter().map(|p| p.canary).collect();
    assert_eq!(flags, [true, true, false, false, false]);
    assert_eq!(canary.analysis_ms, Some(1000));

    // The environment's default strategy is sequential; max_parallel cuts layers.
    let narrow = diamond("  prod: {strategy: parallel, max_parallel: 1}");
    let plan = Plan::build(
        &narrow.model(),
        &request("prod", &["a", "b", "c", "d"], None),
        &current,
    )
    .unwrap();
    assert_eq!(phases(&plan), [["a"], ["b"], ["c"], ["d"]]);
}

#[test]
fn services_not_released_still_order_the_ones_that_are() {
    let fixture = diamond("  prod: {strategy: parallel}");
    // d reaches a through b and c, which keep their versions.
    let current: BTreeMap<String, String> = [("a/a", "1.0"), ("d/d", "1.0")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let plan = Plan::build(
        &fixture.model(),
        &request("prod", &["d", "a"], None),
        &current,
    )
    .unwrap();
    assert_eq!(phases(&plan), [["a"], ["d"]]);
    let d = plan.service("d/d").unwrap();
    assert_eq!(
        (d.version.as_str(), d.previous_version.as_deref()),
        ("2.0", Some("1.0"))
    );
    // The manifest after the release keeps what was not released.
    assert_eq!(plan.versions.get("a/a").map(String::as_str), Some("2.0"));
    assert_eq!(plan.versions.len(), 2);
}

#[test]
fn deploy_depends_on_orders_like_a_required_edge() {
    let fixture = Fixture::new(
        "  prod: {strategy: parallel}",
        &[
            ("migrate", &[], ""),
            ("api", &[], "      depends_on: [migrate]\n"),
        ],
    );
    let plan = Plan::build(
        &fixture.model(),
        &request("prod", &["api", "migrate"], None),
        &BTreeMap::new(),
    )
    .unwrap();
    assert_eq!(phases(&plan), [["migrate"], ["api"]]);
}

#[test]
fn a_cycle_is_an_error_naming_its_path() {
    let fixture = Fixture::new(
        "  prod: {}",
        &[("x", &["y"], ""), ("y", &["z"], ""), ("z", &["x"], "")],
    );
    let error = Plan::build(
        &fixture.model(),
        &request("prod", &["x"], None),
        &BTreeMap::new(),
    )
    .unwrap_err();
    assert_eq!(
        error,
        PlanError::Cycle {
            path: vec!["x/x".into(), "y/y".into(), "z/z".into(), "x/x".into()]
        }
    );
    assert_eq!(
        error.to_string(),
        "the release cannot be ordered: x/x → y/y → z/z → x/x need each other"
    );
}

#[test]
fn what_cannot_be_planned_says_why() {
    let fixture = diamond("  prod: {canary: [e]}");
    let model = fixture.model();
    let current = BTreeMap::new();
    let build = |request: &ReleaseRequest| {
        Plan::build(&model, request, &current)
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        build(&request("staging", &["a"], None)),
        "no environment `staging` in weft.yaml (it has prod)"
    );
    assert!(
        build(&request("prod", &["nope"], None)).starts_with("`nope`: no service named `nope`")
    );
    assert!(build(&request("prod", &[], None)).starts_with("nothing to release"));
    assert_eq!(
        build(&ReleaseRequest {
            all: true,
            ..request("prod", &[], None)
        }),
        "no version is recorded for a/a, b/b, c/c, d/d, e/e; give one with --set SERVICE=VERSION"
    );
    assert_eq!(
        build(&request("prod", &["a"], Some(Strategy::Canary))),
        "none of the canary services (e) is in this release"
    );
}
