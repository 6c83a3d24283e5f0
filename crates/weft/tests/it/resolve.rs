//! `weft resolve` against copies of real workspaces, checked with the real
//! Compose client.

use std::process::Command;

use weft_testkit::Workspace;

use crate::support::{client, repository_root, weft_in};

fn compose_config_passes(compose: &std::path::Path, workspace: &Workspace, file: &str) {
    let directory = workspace.path(file).parent().unwrap().to_path_buf();
    let output = Command::new(compose)
        .args([
            "-f",
            workspace.path(file).to_str().unwrap(),
            "--profile",
            "*",
            "config",
            "--format",
            "json",
        ])
        .current_dir(directory)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "docker compose rejects {file} after weft's edit:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn apply_resolves_every_automatic_conflict_and_compose_still_accepts_the_files() {
    let workspace = Workspace::copy_of(&repository_root().join("examples/homelab"));
    let before = weft_in(workspace.root(), &["conflicts", "--format", "json"]).json();
    let ids: Vec<String> = before["conflicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    assert!(ids.len() >= 3, "{ids:?}");

    let dry_run = weft_in(workspace.root(), &["resolve"]);
    assert_eq!(dry_run.code, 0, "{}", dry_run.stderr);
    assert!(
        dry_run.stdout.contains("--- a/web/compose.yaml"),
        "{}",
        dry_run.stdout
    );
    assert!(
        workspace.read("web/compose.yaml").contains("\"8080:80\""),
        "a dry run writes nothing"
    );

    let apply = weft_in(
        workspace.root(),
        &["resolve", "--apply", "--format", "json"],
    );
    assert_eq!(apply.code, 0, "{}\n{}", apply.stdout, apply.stderr);
    assert_eq!(apply.json()["remaining"], serde_json::json!([]));

    let after = weft_in(workspace.root(), &["conflicts", "--format", "json"]);
    assert_eq!(
        after.code, 0,
        "conflicts left after --apply: {}",
        after.stdout
    );
    // Edits are in place: the comment on the edited line survives.
    assert!(
        workspace
            .read("web/compose.yaml")
            .contains("\"20000:80\"            # collides with the Traefik dashboard"),
        "{}",
        workspace.read("web/compose.yaml")
    );
    assert!(workspace.read("api/.env").starts_with("TZ=Europe/Berlin\n"));

    if let Some(compose) = client("WEFT_COMPOSE_BIN", "docker-compose", "WEFT_REQUIRE_COMPOSE") {
        for file in [
            "web/compose.yaml",
            "monitoring/compose.yaml",
            "infra/compose.yaml",
            "api/compose.yaml",
        ] {
            compose_config_passes(&compose, &workspace, file);
        }
    }
}

#[test]
fn ports_move_to_the_configured_range_and_node_ports_to_the_kubernetes_range() {
    let workspace = Workspace::new()
        .file("weft.yaml", "repositories: {a: {}, b: {}, k1: {}, k2: {}}\nports: {range: 21000-21010}\n")
        .file("a/compose.yaml", "services:\n  a:\n    image: a\n    ports: [\"127.0.0.1:9000-9001:80-81\"]\n")
        .file("b/compose.yaml", "services:\n  b:\n    image: b\n    ports:\n      - target: 80\n        published: 9001\n")
        .file("k1/svc.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: one}\nspec:\n  type: NodePort\n  ports: [{port: 80, nodePort: 30080}]\n")
        .file("k2/svc.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: two}\nspec:\n  type: NodePort\n  ports: [{port: 80, nodePort: 30080}]\n");
    let run = weft_in(workspace.root(), &["resolve", "--apply"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        workspace
            .read("b/compose.yaml")
            .contains("published: 21000"),
        "{}",
        workspace.read("b/compose.yaml")
    );
    assert!(
        workspace.read("k2/svc.yaml").contains("nodePort: 30000"),
        "{}",
        workspace.read("k2/svc.yaml")
    );
    assert_eq!(weft_in(workspace.root(), &["conflicts"]).code, 0);
    if let Some(compose) = client("WEFT_COMPOSE_BIN", "docker-compose", "WEFT_REQUIRE_COMPOSE") {
        compose_config_passes(&compose, &workspace, "b/compose.yaml");
    }
}

#[test]
fn unknown_ids_and_strategies_are_bad_input_and_manual_conflicts_exit_1() {
    let workspace = Workspace::new()
        .file("a/compose.yaml", "services:\n  a: {image: a}\nnetworks:\n  net: {ipam: {config: [{subnet: 10.1.0.0/16}]}}\n")
        .file("b/compose.yaml", "services:\n  b: {image: b}\nnetworks:\n  net: {ipam: {config: [{subnet: 10.1.2.0/24}]}}\n");
    let unknown = weft_in(workspace.root(), &["resolve", "port:docker/tcp/1"]);
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.contains("subnet-overlap:a_net~b_net"),
        "{}",
        unknown.stderr
    );
    let strategy = weft_in(
        workspace.root(),
        &[
            "resolve",
            "subnet-overlap:a_net~b_net",
            "--strategy",
            "port-reassignment",
        ],
    );
    assert_eq!(strategy.code, 2, "{}", strategy.stderr);
    // A strategy no conflict could ever offer is a typo, not "fits none".
    let typo = weft_in(
        workspace.root(),
        &["resolve", "--strategy", "port-reasignment"],
    );
    assert_eq!(typo.code, 2, "{}", typo.stderr);
    assert!(
        typo.stderr.contains("no strategy named `port-reasignment`"),
        "{}",
        typo.stderr
    );
    assert!(typo.stderr.contains("port-reassignment"), "{}", typo.stderr);
    let manual = weft_in(workspace.root(), &["resolve"]);
    assert_eq!(manual.code, 1, "{}", manual.stdout);
    assert!(manual.stdout.contains("manual"), "{}", manual.stdout);
}

#[test]
fn repository_override_moves_ports_in_an_override_file_compose_merges() {
    let workspace = Workspace::copy_of(&repository_root().join("examples/homelab"));
    let base = workspace.read("web/compose.yaml");
    let run = weft_in(
        workspace.root(),
        &[
            "resolve",
            "port:docker/tcp/8080",
            "--strategy",
            "repository-override",
            "--apply",
        ],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        workspace.read("web/compose.yaml"),
        base,
        "the shared file is not edited"
    );
    let written = workspace.read("web/compose.override.yaml");
    assert!(
        written.contains("ports: !override\n      - \"20000:80\"\n"),
        "{written}"
    );
    let conflicts = weft_in(workspace.root(), &["conflicts", "--format", "json"]).json();
    assert!(
        !conflicts["conflicts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["type"] == "port"),
        "{conflicts}"
    );
    // A second run does not overwrite the override file.
    let again = weft_in(
        workspace.root(),
        &[
            "resolve",
            "port:docker/tcp/8080",
            "--strategy",
            "repository-override",
        ],
    );
    assert_eq!(
        again.code, 2,
        "the conflict is gone, so its id is unknown: {}",
        again.stderr
    );
    if let Some(compose) = client("WEFT_COMPOSE_BIN", "docker-compose", "WEFT_REQUIRE_COMPOSE") {
        // Compose finds the override file by itself, next to compose.yaml.
        let output = Command::new(compose)
            .args(["config", "--format", "json"])
            .current_dir(workspace.path("web"))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let config: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(config["services"]["web"]["ports"][0]["published"], "20000");
        assert_eq!(
            config["services"]["web"]["ports"].as_array().unwrap().len(),
            1
        );
    }
}

/// Repositories `a` and `b` publish the same host port; `c` and `d` route the
/// same domain.
fn port_and_domain_conflicts() -> Workspace {
    let port = |name: &str| {
        format!(
            "services:\n  {name}:\n    image: {name}\n    ports: [\"8080:80\"]   # the usual port\n"
        )
    };
    let domain = |name: &str| {
        format!(
            "services:\n  {name}:\n    image: {name}\n    labels:\n      - \"traefik.http.routers.{name}.rule=Host(`app.example.com`)\"\n"
        )
    };
    Workspace::new()
        .file(
            "weft.yaml",
            "repositories: {a: {}, b: {}, c: {}, d: {}}\nports: {range: 21000-21010}\n",
        )
        .file("a/compose.yaml", &port("a"))
        .file("b/compose.yaml", &port("b"))
        .file("c/compose.yaml", &domain("c"))
        .file("d/compose.yaml", &domain("d"))
}

fn conflict_types(workspace: &Workspace) -> Vec<String> {
    let conflicts = weft_in(workspace.root(), &["conflicts", "--format", "json"]).json();
    conflicts["conflicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_strategy_fixes_the_conflicts_it_fits_and_skips_the_others() {
    let workspace = port_and_domain_conflicts();
    assert_eq!(conflict_types(&workspace), ["domain", "port"]);
    let domain_files = (
        workspace.read("c/compose.yaml"),
        workspace.read("d/compose.yaml"),
    );

    let dry_run = weft_in(
        workspace.root(),
        &[
            "resolve",
            "--strategy",
            "port-reassignment",
            "--format",
            "json",
        ],
    );
    assert_eq!(dry_run.code, 1, "{}\n{}", dry_run.stdout, dry_run.stderr);
    let report = dry_run.json();
    assert_eq!(report["applied"], false);
    assert_eq!(
        report["resolutions"].as_array().unwrap().len(),
        1,
        "{report}"
    );
    assert_eq!(report["resolutions"][0]["conflict"], "port:docker/tcp/8080");
    assert_eq!(
        report["skipped"],
        serde_json::json!([{
            "conflict": "domain:app.example.com/",
            "type": "domain",
            "reason": "strategy `port-reassignment` does not apply to a domain conflict; it takes subdomain-separation, path-routing, service-consolidation",
        }])
    );
    assert!(
        workspace.read("b/compose.yaml").contains("\"8080:80\""),
        "a dry run writes nothing"
    );

    let apply = weft_in(
        workspace.root(),
        &["resolve", "--strategy", "port-reassignment", "--apply"],
    );
    assert_eq!(apply.code, 1, "{}\n{}", apply.stdout, apply.stderr);
    assert!(
        apply.stdout.contains(
            "skipped domain:app.example.com/: strategy `port-reassignment` does not apply to a domain conflict"
        ),
        "{}",
        apply.stdout
    );
    assert!(
        workspace
            .read("b/compose.yaml")
            .contains("ports: [\"21000:80\"]   # the usual port"),
        "{}",
        workspace.read("b/compose.yaml")
    );
    assert_eq!(
        (
            workspace.read("c/compose.yaml"),
            workspace.read("d/compose.yaml")
        ),
        domain_files,
        "the skipped conflict's files are untouched"
    );
    assert_eq!(conflict_types(&workspace), ["domain"]);
    if let Some(compose) = client("WEFT_COMPOSE_BIN", "docker-compose", "WEFT_REQUIRE_COMPOSE") {
        compose_config_passes(&compose, &workspace, "b/compose.yaml");
    }

    // Nothing left that the strategy fits: it says so and changes nothing.
    let again = weft_in(
        workspace.root(),
        &["resolve", "--strategy", "port-reassignment", "--apply"],
    );
    assert_eq!(again.code, 1, "{}\n{}", again.stdout, again.stderr);
    assert!(
        again
            .stdout
            .contains("strategy `port-reassignment` fits none of the conflicts"),
        "{}",
        again.stdout
    );
    assert_eq!(
        (
            workspace.read("c/compose.yaml"),
            workspace.read("d/compose.yaml")
        ),
        domain_files
    );
}

#[test]
fn naming_a_conflict_the_strategy_does_not_fit_is_bad_input_and_writes_nothing() {
    let workspace = port_and_domain_conflicts();
    let files = ["a", "b", "c", "d"].map(|r| workspace.read(&format!("{r}/compose.yaml")));
    let run = weft_in(
        workspace.root(),
        &[
            "resolve",
            "domain:app.example.com/",
            "--strategy",
            "port-reassignment",
            "--apply",
        ],
    );
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("strategy `port-reassignment` does not apply to `domain:app.example.com/`"),
        "{}",
        run.stderr
    );
    assert_eq!(
        ["a", "b", "c", "d"].map(|r| workspace.read(&format!("{r}/compose.yaml"))),
        files
    );
}
