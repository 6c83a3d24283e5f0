//! Exit codes and error messages for bad input.

use weft_testkit::Workspace;

use crate::support::weft_in;

#[test]
fn invalid_weft_yaml_exits_2_with_its_location_and_a_hint() {
    let workspace = Workspace::new().file(
        "weft.yaml",
        "name: x\nrepositories:\n  api: {path: 42, colour: red}\nports: {range: 9-1}\n",
    );
    let run = weft_in(workspace.root(), &["plan"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("weft.yaml:4:"), "{}", run.stderr);
    assert!(run.stderr.contains("hint"), "{}", run.stderr);
}

#[test]
fn unknown_keys_in_weft_yaml_are_warnings_not_failures() {
    let workspace = Workspace::new()
        .file("weft.yaml", "repositries: {}\n")
        .file("api/compose.yaml", "services:\n  api: {image: api}\n");
    let run = weft_in(workspace.root(), &["check"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("unknown key `repositries`"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("weft.yaml:1:1"), "{}", run.stderr);
}

#[test]
fn a_broken_file_is_a_diagnostic_and_the_rest_is_still_analysed() {
    let workspace = Workspace::new()
        .file(
            "api/compose.yaml",
            "services:\n  api:\n    image: api\n    depends_on: [db\n",
        )
        .file(
            "infra/compose.yaml",
            "services:\n  db: {image: postgres}\n  cache: {image: redis, depends_on: [db]}\n",
        );
    let plan = weft_in(workspace.root(), &["plan", "--format", "json"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let json = plan.json();
    assert_eq!(
        json["order"],
        serde_json::json!(["infra/db", "infra/cache"])
    );
    let diagnostic = &json["diagnostics"][0];
    assert_eq!(diagnostic["code"], "yaml-syntax");
    assert_eq!(diagnostic["file"], "api/compose.yaml");
    let check = weft_in(workspace.root(), &["check"]);
    assert_eq!(check.code, 2);
    assert!(
        check.stderr.contains("--> api/compose.yaml:"),
        "{}",
        check.stderr
    );
}

#[test]
fn unknown_and_ambiguous_services_exit_2_with_suggestions() {
    let workspace = Workspace::new()
        .file(
            "a/compose.yaml",
            "services:\n  db: {image: postgres}\n  api: {image: api}\n",
        )
        .file("b/compose.yaml", "services:\n  db: {image: mysql}\n");
    let unknown = weft_in(workspace.root(), &["explain", "ap"]);
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.contains("did you mean a/api"),
        "{}",
        unknown.stderr
    );
    let ambiguous = weft_in(workspace.root(), &["explain", "db"]);
    assert_eq!(ambiguous.code, 2);
    assert!(
        ambiguous.stderr.contains("a/db, b/db"),
        "{}",
        ambiguous.stderr
    );
    assert_eq!(weft_in(workspace.root(), &["explain", "b/db"]).code, 0);
}

#[test]
fn missing_workspaces_and_repositories_are_bad_input() {
    let workspace =
        Workspace::new().file("weft.yaml", "repositories:\n  api: {path: ../nowhere}\n");
    assert_eq!(weft_in(workspace.root(), &["check"]).code, 2);
    let run = weft_in(workspace.root(), &["plan", "-w", "does-not-exist"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("does not exist"), "{}", run.stderr);
}

#[test]
fn a_cycle_of_required_edges_exits_1_and_names_its_path_and_cut() {
    let workspace = Workspace::new().file(
        "app/compose.yaml",
        "services:\n  a: {image: a, depends_on: [b]}\n  b: {image: b, depends_on: [c]}\n  c:\n    image: c\n    depends_on: [a]\n    environment: {A_URL: \"http://a:80\"}\n  d: {image: d, depends_on: [a]}\n",
    );
    let plan = weft_in(workspace.root(), &["plan", "--format", "json"]);
    assert_eq!(plan.code, 1, "{}", plan.stderr);
    let json = plan.json();
    let cycle = &json["cycles"][0];
    assert_eq!(cycle["path"].as_array().unwrap().len(), 3);
    assert_eq!(cycle["severity"], "error");
    assert!(cycle["cut"]["from"].is_string());
    // Every service is still ordered, with the cut removed.
    let order: Vec<&str> = json["order"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(order.len(), 4);
    let position = |id: &str| order.iter().position(|s| *s == id).unwrap();
    assert!(position("app/a") < position("app/d"), "{order:?}");
    let graph = weft_in(workspace.root(), &["graph"]);
    assert_eq!(graph.code, 1);
    assert!(graph.stdout.contains("suggested cut"), "{}", graph.stdout);
}

#[test]
fn a_cycle_of_soft_edges_is_only_a_warning() {
    let workspace = Workspace::new().file(
        "app/compose.yaml",
        "services:\n  a:\n    image: a\n    environment: {B_URL: \"http://b:80\"}\n  b:\n    image: b\n    environment: {A_URL: \"http://a:80\"}\n",
    );
    let plan = weft_in(workspace.root(), &["plan", "--format", "json"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert_eq!(plan.json()["cycles"][0]["severity"], "warning");
}

#[test]
fn help_teaches_every_command() {
    let run = weft_in(std::path::Path::new("."), &["--help"]);
    assert_eq!(run.code, 0);
    for command in [
        "graph",
        "plan",
        "explain",
        "conflicts",
        "resolve",
        "check",
        "schema",
    ] {
        assert!(
            run.stdout.contains(command),
            "--help does not mention {command}"
        );
    }
    assert!(run.stdout.contains("Exit codes"));
}
