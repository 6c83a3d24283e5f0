use weft_discover::discover;
use weft_model::{EdgeKind, Model, Resource, Rule, Severity};
use weft_testkit::Workspace;

pub(crate) fn edge<'m>(model: &'m Model, from: &str, to: &str) -> Option<&'m weft_model::Edge> {
    model
        .edges
        .iter()
        .find(|e| e.from.as_str() == from && e.to.as_str() == to)
}

pub(crate) fn ids(model: &Model) -> Vec<&str> {
    model.services.iter().map(|s| s.id.as_str()).collect()
}

#[test]
fn without_weft_yaml_subdirectories_are_repositories_and_hosts_resolve_across_them() {
    let workspace = Workspace::new()
        .file("infra/compose.yaml", "services:\n  db: {image: postgres}\n  cache: {image: redis}\n")
        .file("api/compose.yaml", "services:\n  api:\n    image: api\n    environment:\n      DATABASE_URL: postgres://u:p@db:5432/app\n")
        .file("api/.env", "CACHE_URL=redis://cache:6379\n")
        .file("docs/README.md", "not a repository\n");
    let model = discover(workspace.root()).unwrap();
    let repositories: Vec<&str> = model.repositories.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(repositories, ["api", "infra"]);
    assert_eq!(ids(&model), ["api/api", "infra/cache", "infra/db"]);
    let db = edge(&model, "api/api", "infra/db").unwrap();
    assert_eq!(db.kind, EdgeKind::Soft);
    assert_eq!(db.provenance[0].rule, Rule::ComposeEnvironment);
    assert_eq!(
        (&*db.provenance[0].file, db.provenance[0].line),
        ("api/compose.yaml", 5)
    );
    // The .env of a repository with one service belongs to that service.
    let cache = edge(&model, "api/api", "infra/cache").unwrap();
    assert_eq!(cache.provenance[0].rule, Rule::ConfigReference);
}

#[test]
fn weft_yaml_overrides_kinds_and_adds_services() {
    let workspace = Workspace::new()
        .file(
            "weft.yaml",
            "name: shop\nrepositories:\n  infra: {path: repos/infra}\n  api: {}\nservices:\n  api:\n    depends_on:\n      db: required\n  worker:\n    repository: api\n    command: ./worker\n    depends_on: {api: soft}\n",
        )
        .file("repos/infra/compose.yaml", "services:\n  db: {image: postgres}\n")
        .file("api/compose.yaml", "services:\n  api:\n    image: api\n    environment: [DB_HOST=db]\n");
    let model = discover(workspace.root()).unwrap();
    assert_eq!(model.name, "shop");
    let db = edge(&model, "api/api", "infra/db").unwrap();
    assert_eq!(
        db.kind,
        EdgeKind::Required,
        "weft.yaml overrides the inferred soft edge"
    );
    assert!(db.explicit);
    assert_eq!(db.provenance[0].rule, Rule::WeftYaml);
    assert_eq!((db.provenance[0].line, db.provenance[0].column), (8, 7));
    assert_eq!(
        db.provenance[1].rule,
        Rule::ComposeEnvironment,
        "the inferred provenance is kept"
    );
    let worker = model
        .services
        .iter()
        .find(|s| s.id.as_str() == "api/worker")
        .unwrap();
    assert_eq!(worker.command.as_deref(), Some("./worker"));
    assert_eq!(
        edge(&model, "api/worker", "api/api").unwrap().kind,
        EdgeKind::Soft
    );
}

#[test]
fn bad_references_in_weft_yaml_and_missing_repositories_are_located_errors() {
    let workspace = Workspace::new()
        .file("weft.yaml", "repositories:\n  api: {}\n  gone: {path: nowhere}\nservices:\n  api:\n    depends_on: {dbb: required}\n")
        .file("api/compose.yaml", "services:\n  api: {image: api}\n  db: {image: postgres}\n");
    let model = discover(workspace.root()).unwrap();
    let errors: Vec<(&str, Option<u32>)> = model
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| (d.code.as_str(), d.line))
        .collect();
    assert_eq!(
        errors,
        [("repository-missing", Some(3)), ("invalid-config", Some(6))]
    );
    let unknown = model
        .diagnostics
        .iter()
        .find(|d| d.code == "invalid-config")
        .unwrap();
    assert!(unknown.message.contains("dbb"), "{}", unknown.message);
}

#[test]
fn invalid_weft_yaml_is_an_error_for_the_whole_workspace() {
    let workspace = Workspace::new().file("weft.yaml", "repositories: [a, b\n");
    let error = discover(workspace.root()).unwrap_err();
    assert!(
        matches!(error, weft_discover::DiscoverError::Config(_)),
        "{error:?}"
    );
}

#[test]
fn nginx_configs_belong_to_the_service_that_mounts_them() {
    let workspace = Workspace::new()
        .file(
            "edge/compose.yaml",
            "services:\n  proxy:\n    image: nginx\n    volumes: [\"./conf.d:/etc/nginx/conf.d:ro\"]\n  other: {image: busybox}\n",
        )
        .file("edge/conf.d/site.conf", "server {\n  listen 80;\n  server_name shop.example.com;\n  location / { proxy_pass http://web:3000; }\n}\n")
        .file("web/compose.yaml", "services:\n  web: {image: web}\n");
    let model = discover(workspace.root()).unwrap();
    let web = edge(&model, "edge/proxy", "web/web").unwrap();
    assert_eq!(
        web.kind,
        EdgeKind::Required,
        "nginx refuses to start without a literal upstream"
    );
    assert_eq!(web.provenance[0].rule, Rule::NginxProxyPass);
    let route = model
        .claims
        .iter()
        .find(|c| matches!(c.resource, Resource::Route { .. }))
        .unwrap();
    assert_eq!(route.service, "edge/proxy");
}

#[test]
fn an_unmounted_nginx_config_is_an_nginx_service_of_its_own() {
    let workspace = Workspace::new()
        .file("infra/nginx/site.conf", "upstream app { server api:8000; }\nserver { listen 80; location / { proxy_pass http://app; } }\n")
        .file("api/Procfile", "api: ./run\n");
    let model = discover(workspace.root()).unwrap();
    assert_eq!(ids(&model), ["api/api", "infra/nginx"]);
    assert_eq!(
        edge(&model, "infra/nginx", "api/api").unwrap().kind,
        EdgeKind::Required
    );
}

#[test]
fn traefik_routers_are_optional_edges_from_the_proxy() {
    let workspace = Workspace::new()
        .file("infra/compose.yaml", "services:\n  traefik: {image: \"traefik:v3\"}\n")
        .file("app/compose.yaml", "services:\n  app:\n    image: app\n    labels: [\"traefik.http.routers.app.rule=Host(`app.example.com`)\"]\n");
    let model = discover(workspace.root()).unwrap();
    let proxy = edge(&model, "infra/traefik", "app/app").unwrap();
    assert_eq!(proxy.kind, EdgeKind::Optional);
    let route = model.claims.iter().find_map(|c| match &c.resource {
        Resource::Route { host, router, .. } => Some((host.as_str(), router.as_str())),
        _ => None,
    });
    assert_eq!(route, Some(("app.example.com", "infra/traefik")));
}

#[test]
fn compose_and_kubernetes_descriptions_of_one_service_merge_and_projects_that_repeat_a_name_are_qualified()
 {
    let workspace = Workspace::new()
        .file("shop/compose.yaml", "services:\n  api: {image: api, depends_on: [db]}\n  db: {image: postgres}\n")
        .file("shop/k8s/api.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\nspec:\n  template:\n    metadata: {labels: {app: api}}\n    spec:\n      containers: [{name: api, image: api}]\n")
        .file("shop/tools/compose.yaml", "services:\n  db: {image: sqlite}\n");
    let model = discover(workspace.root()).unwrap();
    assert_eq!(ids(&model), ["shop/api", "shop/db", "shop/tools/db"]);
    let api = model
        .services
        .iter()
        .find(|s| s.id.as_str() == "shop/api")
        .unwrap();
    assert_eq!(api.sources, ["compose", "kubernetes"]);
    assert!(
        edge(&model, "shop/api", "shop/db").is_some(),
        "depends_on resolves inside its own project"
    );
}

#[test]
fn shared_env_values_become_claims_and_unknown_depends_on_is_a_warning() {
    let workspace = Workspace::new()
        .file("weft.yaml", "shared_env: [TZ]\n")
        .file(
            "a/compose.yaml",
            "services:\n  a:\n    image: a\n    environment: {TZ: UTC}\n    depends_on: [ghost]\n",
        )
        .file("b/.env", "TZ=Europe/Paris\n")
        .file("b/Procfile", "b: ./b\n");
    let model = discover(workspace.root()).unwrap();
    let values: Vec<(&str, &str)> = model
        .claims
        .iter()
        .filter_map(|c| match &c.resource {
            Resource::EnvVar { value, .. } => Some((c.service.as_str(), value.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(values, [("a/a", "UTC"), ("b/b", "Europe/Paris")]);
    let warning = model
        .diagnostics
        .iter()
        .find(|d| d.code == "unknown-reference")
        .unwrap();
    assert_eq!(warning.severity, Severity::Warning);
    assert_eq!(
        (warning.file.as_deref(), warning.line),
        (Some("a/compose.yaml"), Some(5))
    );
}

#[test]
fn included_compose_files_join_the_including_project() {
    let workspace = Workspace::new()
        .file(
            "app/deploy/compose.yaml",
            "include:\n  - ../db/compose.db.yaml\n  - path: [extra.yml]\n  - missing/${NOPE}x.yaml\n  - gone.yaml\nservices:\n  api: {image: api, depends_on: [db, cache]}\n",
        )
        .file("app/db/compose.db.yaml", "services:\n  db: {image: postgres}\n")
        .file("app/deploy/extra.yml", "services:\n  cache: {image: redis}\n");
    let model = discover(workspace.root()).unwrap();
    assert_eq!(ids(&model), ["app/api", "app/cache", "app/db"]);
    assert_eq!(
        edge(&model, "app/api", "app/db").unwrap().kind,
        EdgeKind::Required
    );
    assert!(edge(&model, "app/api", "app/cache").is_some());
    let db = model
        .services
        .iter()
        .find(|s| s.id.as_str() == "app/db")
        .unwrap();
    assert_eq!(&*db.provenance[0].file, "app/db/compose.db.yaml");
    let missing = model
        .diagnostics
        .iter()
        .find(|d| d.code == "compose-include")
        .unwrap();
    assert_eq!(
        missing.line,
        Some(5),
        "a path with an unset variable is a note, a missing file a warning"
    );
    assert!(
        model
            .diagnostics
            .iter()
            .any(|d| d.code == "unset-variable" && d.message.contains("NOPE"))
    );
}

#[test]
fn files_at_the_workspace_root_are_a_repository_that_does_not_read_the_others() {
    let workspace = Workspace::new()
        .file("compose.yaml", "services:\n  gateway:\n    image: nginx\n    environment: {API_URL: \"http://api:8000\"}\n")
        .file("api/compose.yaml", "services:\n  api: {image: api}\n")
        .file("weft.yaml", "shared_env: [TZ]\n");
    let model = discover(workspace.root()).unwrap();
    let repositories: Vec<(&str, &str)> = model
        .repositories
        .iter()
        .map(|r| (r.name.as_str(), r.path.as_str()))
        .collect();
    let root_name = repositories[0].0.to_string();
    assert_eq!(repositories, [(root_name.as_str(), "."), ("api", "api")]);
    let gateway = format!("{root_name}/gateway");
    let mut found = ids(&model);
    found.sort_unstable();
    let mut wanted = vec!["api/api", gateway.as_str()];
    wanted.sort_unstable();
    assert_eq!(found, wanted);
    assert!(edge(&model, &gateway, "api/api").is_some());
}

#[test]
fn a_weft_yaml_service_may_depend_on_one_written_after_it() {
    let workspace = Workspace::new()
        .file(
            "weft.yaml",
            "repositories: {a: {}, b: {}}\nservices:\n  first: {repository: a, command: ./first, depends_on: {second: required}}\n  second: {repository: b, command: ./second}\n",
        )
        .file("a/README.md", "a\n")
        .file("b/README.md", "b\n");
    let model = discover(workspace.root()).unwrap();
    assert!(
        model
            .diagnostics
            .iter()
            .all(|d| d.severity != Severity::Error),
        "{:?}",
        model.diagnostics
    );
    let edge = edge(&model, "a/first", "b/second").expect("the edge to a later service");
    assert_eq!(edge.kind, EdgeKind::Required);
}

#[test]
fn the_directories_a_workspace_lives_under_say_nothing_of_its_files() {
    // A workspace checked out under `.github` and a directory named like
    // nginx: neither hides its files nor makes templates nginx configs.
    let workspace = Workspace::new()
        .file(
            ".github/nginx-stack/api/compose.yaml",
            "services:\n  api: {image: api}\n",
        )
        .file(
            ".github/nginx-stack/api/templates/welcome.template",
            "Hello {{ name }}, welcome aboard.\n",
        )
        .file(".github/nginx-stack/api/conf", "colour = blue\n");
    let model = discover(&workspace.root().join(".github/nginx-stack")).unwrap();
    assert_eq!(ids(&model), ["api/api"]);
    assert!(
        model.diagnostics.is_empty(),
        "nothing but the compose file is read: {:?}",
        model.diagnostics
    );
}
