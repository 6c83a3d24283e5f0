//! Every output format on `examples/homelab`, snapshotted.

use crate::support::weft;

const HOMELAB: &str = "examples/homelab";

fn check(name: &str, arguments: &[&str], code: i32) {
    let run = weft(arguments);
    assert_eq!(
        run.code,
        code,
        "`weft {}` exited {}:\n{}",
        arguments.join(" "),
        run.code,
        run.stderr
    );
    insta::assert_snapshot!(name, run.stdout);
}

#[test]
fn graph() {
    check("graph_text", &["graph", HOMELAB], 0);
    check("graph_json", &["graph", HOMELAB, "--format", "json"], 0);
    check("graph_dot", &["graph", HOMELAB, "--format", "dot"], 0);
    check(
        "graph_mermaid",
        &["graph", HOMELAB, "--format", "mermaid"],
        0,
    );
    check(
        "graph_repositories_mermaid",
        &["graph", HOMELAB, "--format", "mermaid", "--repositories"],
        0,
    );
}

#[test]
fn plan() {
    check("plan_text", &["plan", HOMELAB], 0);
    check("plan_json", &["plan", HOMELAB, "--format", "json"], 0);
    check(
        "plan_subset_text",
        &["plan", HOMELAB, "web", "--max-parallel", "1"],
        0,
    );
    check(
        "plan_no_deps_text",
        &["plan", HOMELAB, "web", "api", "--no-deps"],
        0,
    );
}

#[test]
fn explain() {
    check("explain_text", &["explain", HOMELAB, "api"], 0);
    check(
        "explain_json",
        &["explain", HOMELAB, "infra/postgres", "--format", "json"],
        0,
    );
}

#[test]
fn conflicts_and_resolve() {
    check("conflicts_text", &["conflicts", HOMELAB], 1);
    check(
        "conflicts_json",
        &["conflicts", HOMELAB, "--format", "json"],
        1,
    );
    check("resolve_dry_run", &["resolve", HOMELAB], 0);
}

#[test]
fn check_and_schema() {
    check("check_json", &["check", HOMELAB, "--format", "json"], 0);
    check("schema", &["schema"], 0);
}

#[test]
fn the_homelab_shows_every_part_of_the_analysis() {
    let graph = weft(&["graph", HOMELAB, "--format", "json"]).json();
    let edges = graph["edges"].as_array().unwrap();
    let crossing = |kind: &str| {
        edges.iter().any(|e| {
            let repository = |id: &serde_json::Value| {
                id.as_str().unwrap().split('/').next().unwrap().to_string()
            };
            e["kind"] == kind && repository(&e["from"]) != repository(&e["to"])
        })
    };
    for kind in ["required", "optional", "soft"] {
        assert!(crossing(kind), "no cross-repository {kind} edge");
    }
    let conflicts = weft(&["conflicts", HOMELAB, "--format", "json"]).json();
    let types: Vec<&str> = conflicts["conflicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].as_str().unwrap())
        .collect();
    for wanted in ["port", "domain", "shared_env"] {
        assert!(types.contains(&wanted), "no {wanted} conflict in {types:?}");
    }
}

#[test]
fn dot_output_renders_with_graphviz() {
    let Some(dot) = crate::support::client("WEFT_DOT_BIN", "dot", "WEFT_REQUIRE_DOT") else {
        return;
    };
    for arguments in [
        vec!["graph", HOMELAB, "--format", "dot"],
        vec!["graph", HOMELAB, "--format", "dot", "--repositories"],
    ] {
        let source = weft(&arguments).stdout;
        let mut child = std::process::Command::new(&dot)
            .arg("-Tsvg")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), source.as_bytes()).unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "dot rejects the graph: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let svg = String::from_utf8_lossy(&output.stdout);
        assert!(svg.contains("<svg") && svg.contains("<title>api"), "{svg}");
    }
}
