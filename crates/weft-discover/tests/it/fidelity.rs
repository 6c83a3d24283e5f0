//! Classes of misreads found on real workspaces, one fixture workspace each:
//! what weft must not invent, and what it must not miss.

use weft_analysis::{Conflict, ConflictKind, find_conflicts};
use weft_discover::discover;
use weft_model::{EdgeKind, Model, Rule, Severity};
use weft_testkit::Workspace;

use super::builder::{edge, ids};

fn conflicts(model: &Model) -> Vec<Conflict> {
    find_conflicts(model)
}

fn conflict<'c>(conflicts: &'c [Conflict], id: &str) -> &'c Conflict {
    conflicts
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no conflict {id} in {:?}", ids_of(conflicts)))
}

fn ids_of(conflicts: &[Conflict]) -> Vec<&str> {
    conflicts.iter().map(|c| c.id.as_str()).collect()
}

/// Class 1: a file that compose files only `extends` from is a library of
/// templates, not a stack.
#[test]
fn a_file_only_extended_from_is_not_a_project() {
    let workspace = Workspace::new()
        .file(
            "shop/docker-compose.yml",
            "services:\n  api:\n    extends: {file: common-services.yml, service: base}\n    image: api\n  db: {image: postgres}\n",
        )
        .file(
            "shop/common-services.yml",
            "services:\n  base:\n    environment: {DATABASE_URL: \"postgres://db:5432/app\"}\n  grafana:\n    image: grafana/grafana\n    environment: {CACHE_URL: \"redis://cache:6379\"}\n",
        )
        // A template file with a standard compose name is still a project.
        .file(
            "tools/compose.yaml",
            "services:\n  runner: {image: runner}\n",
        )
        .file(
            "tools/sub/compose.yaml",
            "services:\n  job:\n    extends: {file: ../compose.yaml, service: runner}\n",
        )
        .file("infra/compose.yaml", "services:\n  cache: {image: redis}\n");
    let model = discover(workspace.root()).unwrap();
    assert_eq!(
        ids(&model),
        [
            "infra/cache",
            "shop/api",
            "shop/db",
            "tools/job",
            "tools/runner"
        ]
    );
    // What `api` inherits from the template still counts, located in the template.
    let db = edge(&model, "shop/api", "shop/db").expect("inherited edge");
    assert_eq!(&*db.provenance[0].file, "shop/common-services.yml");
    // The template's own services and their edges are gone.
    assert!(
        model
            .edges
            .iter()
            .all(|e| !e.from.as_str().contains("grafana")),
        "{:?}",
        model.edges
    );
    let note = model
        .diagnostics
        .iter()
        .find(|d| d.code == "compose-extends-source")
        .expect("a note says why the file was not read as a project");
    assert_eq!(note.severity, Severity::Note);
    assert_eq!(note.file.as_deref(), Some("shop/common-services.yml"));
    assert!(
        note.message.contains("shop/docker-compose.yml"),
        "{}",
        note.message
    );
}

/// Class 2: values that reach a container through `envFrom` or
/// `valueFrom.configMapKeyRef` / `secretKeyRef` are its environment.
#[test]
fn values_imported_from_config_maps_and_secrets_are_the_containers_environment() {
    let deployment = "\
apiVersion: apps/v1
kind: Deployment
metadata: {name: frontend}
spec:
  template:
    metadata: {labels: {app: frontend}}
    spec:
      containers:
        - name: frontend
          image: frontend
          envFrom:
            - configMapRef: {name: service-api-config}
            - secretRef: {name: credentials}
          env:
            - name: PAYMENTS_ADDR
              valueFrom:
                configMapKeyRef: {name: more-config, key: PAYMENTS}
";
    // `config.yaml` holding manifests is Kubernetes, not application config.
    let config = "\
apiVersion: v1
kind: ConfigMap
metadata: {name: service-api-config}
data:
  INVENTORY_URL: http://inventory:8080
  LOG_LEVEL: info
---
apiVersion: v1
kind: ConfigMap
metadata: {name: more-config}
data:
  PAYMENTS: payments:9000
  UNUSED_ADDR: ledger:8080
---
apiVersion: v1
kind: Secret
metadata: {name: credentials}
data:
  SESSION_URL: cmVkaXM6Ly9zZXNzaW9uczo2Mzc5
";
    let service = |name: &str| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}}}\nspec:\n  template:\n    metadata: {{labels: {{app: {name}}}}}\n    spec:\n      containers: [{{name: {name}, image: {name}}}]\n---\napiVersion: v1\nkind: Service\nmetadata: {{name: {name}}}\nspec: {{selector: {{app: {name}}}, ports: [{{port: 80}}]}}\n"
        )
    };
    let workspace = Workspace::new()
        .file("bank/k8s/frontend.yaml", deployment)
        .file("bank/k8s/config.yaml", config)
        .file("bank/k8s/inventory.yaml", &service("inventory"))
        .file("bank/k8s/payments.yaml", &service("payments"))
        .file("bank/k8s/ledger.yaml", &service("ledger"))
        .file("bank/k8s/sessions.yaml", &service("sessions"));
    let model = discover(workspace.root()).unwrap();
    for config_map in ["configmap:service-api-config", "configmap:more-config"] {
        assert!(
            ids(&model).contains(&format!("bank/{config_map}").as_str()),
            "{config_map} is a node: {:?}",
            ids(&model)
        );
    }
    // envFrom: every key; located at the ConfigMap's value and the envFrom line.
    let inventory = edge(&model, "bank/frontend", "bank/inventory").expect("envFrom edge");
    assert_eq!(inventory.kind, EdgeKind::Soft);
    let places: Vec<(&str, u32, Rule)> = inventory
        .provenance
        .iter()
        .map(|p| (&*p.file, p.line, p.rule))
        .collect();
    assert_eq!(
        places,
        [
            ("bank/k8s/config.yaml", 5, Rule::KubernetesEnvironment),
            ("bank/k8s/frontend.yaml", 12, Rule::KubernetesEnvSource),
        ]
    );
    // The ConfigMap itself is still required.
    let config_map = edge(&model, "bank/frontend", "bank/configmap:service-api-config")
        .expect("edge to the ConfigMap");
    assert_eq!(config_map.kind, EdgeKind::Required);
    // configMapKeyRef: the one key, not its neighbours.
    assert!(edge(&model, "bank/frontend", "bank/payments").is_some());
    assert!(
        edge(&model, "bank/frontend", "bank/ledger").is_none(),
        "a key the container does not import is not its environment"
    );
    // A Secret's data, decoded from base64 (`redis://sessions:6379`).
    assert!(edge(&model, "bank/frontend", "bank/sessions").is_some());
    // Another namespace's ConfigMap of the same name is not imported.
    let other_namespace = Workspace::new()
        .file("bank/k8s/frontend.yaml", deployment)
        .file(
            "bank/k8s/config.yaml",
            &config.replace(
                "metadata: {name: service-api-config}",
                "metadata: {name: service-api-config, namespace: other}",
            ),
        )
        .file("bank/k8s/inventory.yaml", &service("inventory"));
    let model = discover(other_namespace.root()).unwrap();
    assert!(edge(&model, "bank/frontend", "bank/inventory").is_none());
}

/// Class 3: a public host is not a service, even when its first label is a
/// service's name, and a name cut short by an unset variable is not one either.
#[test]
fn public_hosts_are_not_services() {
    let workspace = Workspace::new()
        .file(
            "monitoring/compose.yaml",
            "services:\n  grafana: {image: grafana/grafana}\n  redis: {image: redis}\n  registry: {image: registry}\n  auth:\n    image: authelia\n    networks:\n      proxy: {aliases: [auth.example.com]}\nnetworks: {proxy: {}}\n",
        )
        .file(
            "app/compose.yaml",
            "services:\n  app:\n    image: app\n    environment:\n      DOCS_URL: https://grafana.com/docs/grafana/latest/\n      SOURCE_URL: https://github.com/org/redis\n      NPM_REGISTRY: https://registry.npmjs.org\n      PUBLIC_URL: https://grafana.${DOMAIN}/\n      CACHE_URL: redis://redis:6379\n      AUTH_URL: https://auth.example.com/api\n",
        );
    let model = discover(workspace.root()).unwrap();
    let targets: Vec<&str> = model
        .edges
        .iter()
        .filter(|e| e.from.as_str() == "app/app")
        .map(|e| e.to.as_str())
        .collect();
    // `redis` by name, and a name the workspace's own DNS gives (a network alias).
    assert_eq!(targets, ["monitoring/auth", "monitoring/redis"]);
}

/// Class 4: a Kubernetes hostPort or nodePort and a compose port collide when
/// the cluster's nodes include the compose host, unless weft.yaml says otherwise.
#[test]
fn host_ports_collide_across_compose_and_a_cluster_on_the_same_host() {
    let compose = "services:\n  web: {image: nginx, ports: [\"8080:80\", \"30053:53/udp\"]}\n";
    let manifests = "\
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: proxy}
spec:
  template:
    metadata: {labels: {app: proxy}}
    spec:
      containers:
        - name: proxy
          image: proxy
          ports: [{containerPort: 80, hostPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: dns}
spec:
  type: NodePort
  selector: {app: proxy}
  ports: [{port: 53, nodePort: 30053, protocol: TCP}]
";
    let workspace = Workspace::new()
        .file("lab/compose.yaml", compose)
        .file("cluster/proxy.yaml", manifests);
    let model = discover(workspace.root()).unwrap();
    let found = conflicts(&model);
    let port = conflict(&found, "port:docker+kubernetes/tcp/8080");
    assert_eq!(port.kind, ConflictKind::Port);
    assert_eq!(port.severity, Severity::Error);
    let claimed_at: Vec<(&str, &str)> = port
        .claims
        .iter()
        .map(|c| (c.service.as_str(), &*c.provenance.file))
        .collect();
    assert_eq!(
        claimed_at,
        [
            ("cluster/proxy", "cluster/proxy.yaml"),
            ("lab/web", "lab/compose.yaml")
        ]
    );
    // Same port, other protocol: no collision.
    assert!(
        !ids_of(&found).iter().any(|id| id.contains("30053")),
        "{:?}",
        ids_of(&found)
    );
    // The user says the cluster runs elsewhere.
    workspace.write(
        "weft.yaml",
        "repositories: {lab: {}, cluster: {}}\nplatforms: {kubernetes: {nodes: separate}}\n",
    );
    let model = discover(workspace.root()).unwrap();
    assert!(
        conflicts(&model).is_empty(),
        "{:?}",
        ids_of(&conflicts(&model))
    );
}

/// Class 5: a Traefik router with a higher explicit priority whose rule takes
/// every request of another router on a shared entry point shadows it.
#[test]
fn traefik_priority_shadowing_on_shared_entry_points() {
    let compose = "\
services:
  app:
    image: app
    labels:
      - traefik.http.routers.app.rule=Host(`a.example.com`)
      - traefik.http.routers.app.priority=100
      - traefik.http.routers.app.entrypoints=websecure
      - traefik.http.routers.app-metrics.rule=Host(`a.example.com`) && PathPrefix(`/metrics`)
      - traefik.http.routers.app-metrics.entrypoints=websecure
      - traefik.http.routers.app-debug.rule=Host(`a.example.com`) && PathPrefix(`/debug`)
      - traefik.http.routers.app-debug.entrypoints=web
  api:
    image: api
    labels:
      - traefik.http.routers.api.rule=Host(`a.example.com`) && PathPrefix(`/api`)
      - traefik.http.routers.get-only.rule=Host(`b.example.com`) && Method(`GET`)
      - traefik.http.routers.get-only.priority=100
      - traefik.http.routers.b-api.rule=Host(`b.example.com`) && PathPrefix(`/api`)
";
    let workspace = Workspace::new().file("edge/compose.yaml", compose);
    let model = discover(workspace.root()).unwrap();
    let found = conflicts(&model);
    let shadowed: Vec<&str> = found
        .iter()
        .filter(|c| c.kind == ConflictKind::RouteShadowed)
        .map(|c| c.id.as_str())
        .collect();
    // `app-metrics` (same service, same entry point) and `api` (no entry
    // points: every one) are shadowed; `app-debug` listens on another entry
    // point; `get-only` takes only GET requests, so it covers nothing.
    assert_eq!(
        shadowed,
        [
            "route-shadowed:traefik/api",
            "route-shadowed:traefik/app-metrics"
        ]
    );
    let metrics = conflict(&found, "route-shadowed:traefik/app-metrics");
    let rules: Vec<(u32, Option<&str>)> = metrics
        .claims
        .iter()
        .map(|c| (c.provenance.line, c.detail.as_deref()))
        .collect();
    assert_eq!(
        rules,
        [
            (8, Some("Host(`a.example.com`) && PathPrefix(`/metrics`)")),
            (5, Some("Host(`a.example.com`)")),
        ]
    );
    assert!(
        metrics.message.contains("priority 100"),
        "{}",
        metrics.message
    );
}
