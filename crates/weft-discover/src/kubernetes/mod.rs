//! The Kubernetes manifest reader: workloads, Services, ConfigMaps, Secrets,
//! volume claims and Ingresses of one repository, with the references
//! between them, the host and node ports and routes they claim, and the
//! environment they set.
//!
//! How it works: every file is parsed first and its objects collected, so
//! that a Service in one file can select a Deployment in another. Each
//! Service whose selector matches the pod labels of workloads in its
//! namespace lends them its DNS names instead of becoming a service of its
//! own. Then each object is turned into facts.

mod documents;
mod env_sources;
mod ingress;
mod objects;
mod pods;
mod services;

use std::collections::{BTreeMap, BTreeSet};

use weft_model::Rule;
use weft_model::yaml::{Arena, Node};

use crate::facts::{EnvAssignment, Facts, ServiceFact, SourceFile, SourceKind, Subject};
use objects::{Class, Object};

/// Reads every Kubernetes object in the given files of one repository.
///
/// Documents without both `apiVersion` and `kind` are other YAML and are
/// skipped without a word.
pub fn read(files: &[SourceFile]) -> Facts {
    let mut facts = Facts::default();
    // One arena for the trees of all the files: the objects refer to one
    // another across files, and it is freed at once at the end.
    let arena = Arena::new();
    let parsed: Vec<(&SourceFile, Vec<Node<'_>>)> = files
        .iter()
        .map(|file| (file, documents::parse(&arena, file, &mut facts.diagnostics)))
        .collect();
    let mut objects = Vec::new();
    for (file, documents) in &parsed {
        for document in documents {
            objects::collect(file, document, &mut objects, &mut facts.diagnostics);
        }
    }
    read_objects(&objects, &mut facts);
    facts
}

/// Turns the collected objects into facts.
fn read_objects(objects: &[Object<'_>], facts: &mut Facts) {
    let sources = env_sources::EnvSources::new(objects);
    let workloads: Vec<&Object<'_>> = objects
        .iter()
        .filter(|object| object.class() == Class::Workload)
        .collect();
    // The DNS names each workload gets from the Services selecting it, and
    // for each Service the workload that stands for it (the first selected).
    let mut aliases: BTreeMap<(&str, &str), Vec<String>> = BTreeMap::new();
    let mut stands_for: BTreeMap<usize, &str> = BTreeMap::new();
    for (index, service) in objects.iter().enumerate() {
        if service.class() != Class::Service {
            continue;
        }
        let selected = services::selected_workloads(service, &workloads);
        for name in &selected {
            aliases
                .entry((service.namespace, name))
                .or_default()
                .extend(services::dns_names(service));
        }
        if let Some(first) = selected.first() {
            stands_for.insert(index, first);
        }
    }
    for (index, object) in objects.iter().enumerate() {
        match object.class() {
            Class::Workload => {
                let mut names = aliases
                    .get(&(object.namespace, object.name))
                    .cloned()
                    .unwrap_or_default();
                if object.kind == "Service" {
                    // A Knative Service has the DNS names of a Service.
                    names.extend(services::dns_names(object));
                }
                names.sort();
                names.dedup();
                let (image, command) = pods::first_container(object);
                facts.services.push(ServiceFact {
                    image,
                    command,
                    ..service_fact(object, names.clone(), Rule::KubernetesWorkload)
                });
                let mut own_names: BTreeSet<String> = names.into_iter().collect();
                own_names.insert(object.name.to_ascii_lowercase());
                pods::read_pod_spec(object, &own_names, &sources, facts);
            }
            Class::Service => {
                let subject = match stands_for.get(&index) {
                    Some(workload) => {
                        crate::facts::LocalService::new(object.scope(), workload.to_string())
                    }
                    None => {
                        let fact = service_fact(
                            object,
                            services::dns_names(object),
                            Rule::KubernetesService,
                        );
                        let subject = fact.service.clone();
                        facts.services.push(fact);
                        subject
                    }
                };
                if services::opens_node_ports(object) {
                    for port in services::ports(object) {
                        pods::port_claim(
                            object,
                            Subject::Service(subject.clone()),
                            port,
                            "nodePort",
                            Rule::KubernetesNodePort,
                            facts,
                        );
                    }
                }
            }
            Class::ConfigMap => {
                let fact = service_fact(object, Vec::new(), Rule::KubernetesWorkload);
                let subject = Subject::Service(fact.service.clone());
                facts.services.push(fact);
                let data = object.node.get("data");
                for (key, value) in data.into_iter().flat_map(Node::entries) {
                    let Some(text) = value.as_str() else {
                        continue;
                    };
                    facts.env.push(EnvAssignment {
                        subject: subject.clone(),
                        name: key.to_string(),
                        value: text.to_string(),
                        provenance: object
                            .file
                            .provenance(value.span, Rule::KubernetesEnvironment),
                    });
                }
            }
            Class::Ingress => {
                facts
                    .services
                    .push(service_fact(object, Vec::new(), Rule::KubernetesWorkload));
                ingress::read_ingress(object, facts);
            }
            Class::Secret | Class::PersistentVolumeClaim | Class::Other => {
                facts
                    .services
                    .push(service_fact(object, Vec::new(), Rule::KubernetesWorkload));
            }
            Class::Skipped => {}
        }
    }
}

/// The service fact of an object, without image or command.
fn service_fact(object: &Object<'_>, aliases: Vec<String>, rule: Rule) -> ServiceFact {
    ServiceFact {
        service: object.local_service(),
        source: SourceKind::Kubernetes,
        image: None,
        command: None,
        aliases,
        directory: None,
        provenance: object.file.provenance(object.name_node.span, rule),
    }
}

/// Reads `(path, text)` pairs, for tests.
#[cfg(test)]
fn read_texts(files: &[(&str, &str)]) -> Facts {
    let files: Vec<SourceFile> = files
        .iter()
        .map(|(path, text)| SourceFile::new(*path, *text))
        .collect();
    read(&files)
}

/// The names of the service facts, as `scope/name`.
#[cfg(test)]
fn service_names(facts: &Facts) -> Vec<String> {
    facts
        .services
        .iter()
        .map(|fact| format!("{}/{}", fact.service.scope, fact.service.name))
        .collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use weft_model::Severity;

    use crate::facts::Target;

    use super::*;

    const DEPLOYMENT: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop
spec:
  template:
    metadata:
      labels: {app: api, tier: backend}
    spec:
      containers:
        - name: api
          image: shop/api:1.2
          command: [/bin/api]
          args: [--port, \"8080\"]
          env:
            - {name: LOG_LEVEL, value: debug}
";

    #[test]
    fn a_service_in_another_file_merges_into_the_workloads_it_selects() {
        let service = "\
apiVersion: v1
kind: Service
metadata: {name: API, namespace: shop}
spec:
  selector: {app: api}
  ports: [{port: 80}]
";
        let facts = read_texts(&[
            ("k8s/deployment.yaml", DEPLOYMENT),
            ("k8s/svc.yaml", service),
        ]);
        assert_eq!(service_names(&facts), ["kubernetes:shop/api"]);
        let api = &facts.services[0];
        assert_eq!(api.source, SourceKind::Kubernetes);
        assert_eq!(api.image.as_deref(), Some("shop/api:1.2"));
        assert_eq!(api.command.as_deref(), Some("/bin/api --port 8080"));
        assert_eq!(
            api.aliases,
            [
                "api",
                "api.shop",
                "api.shop.svc",
                "api.shop.svc.cluster.local"
            ]
        );
        assert_eq!(api.provenance.rule, Rule::KubernetesWorkload);
        assert_eq!((api.provenance.line, api.provenance.column), (4, 9));
        assert_eq!(facts.env.len(), 1);
        assert_eq!(
            (facts.env[0].name.as_str(), facts.env[0].value.as_str()),
            ("LOG_LEVEL", "debug")
        );
    }

    #[test]
    fn services_that_select_nothing_are_services_of_their_own() {
        let services = "\
apiVersion: v1
kind: Service
metadata: {name: other-namespace}
spec: {selector: {app: api}}
---
apiVersion: v1
kind: Service
metadata: {name: no-selector, namespace: shop}
spec: {ports: [{port: 5432}]}
---
apiVersion: v1
kind: Service
metadata: {name: external, namespace: shop}
spec: {type: ExternalName, externalName: db.example.com, selector: {app: api}}
---
apiVersion: v1
kind: Service
metadata: {name: too-specific, namespace: shop}
spec: {selector: {app: api, tier: frontend}}
";
        let facts = read_texts(&[("deployment.yaml", DEPLOYMENT), ("services.yaml", services)]);
        assert_eq!(
            service_names(&facts),
            [
                "kubernetes:shop/api",
                "kubernetes:default/other-namespace",
                "kubernetes:shop/no-selector",
                "kubernetes:shop/external",
                "kubernetes:shop/too-specific",
            ]
        );
        assert!(facts.services[0].aliases.is_empty());
        let external = &facts.services[3];
        assert_eq!(external.provenance.rule, Rule::KubernetesService);
        assert_eq!(
            external.aliases,
            [
                "external",
                "external.shop",
                "external.shop.svc",
                "external.shop.svc.cluster.local"
            ]
        );
    }

    #[test]
    fn kinds_become_prefixed_services_or_are_skipped() {
        let text = "\
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {DB_HOST: postgres, RETRIES: \"3\", nested: {a: b}}
---
apiVersion: v1
kind: Secret
metadata: {name: credentials}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: web-tls, namespace: web}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: admin}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: api}
---
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [deployment.yaml]
---
apiVersion: skaffold/v4beta6
kind: Config
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all}
---
name: not kubernetes
kind: whatever
---
- a list
";
        let facts = read_texts(&[("all.yaml", text)]);
        assert_eq!(
            service_names(&facts),
            [
                "kubernetes:default/configmap:settings",
                "kubernetes:default/secret:credentials",
                "kubernetes:default/pvc:data",
                "kubernetes:web/certificate:web-tls",
            ]
        );
        assert!(facts.references.is_empty());
        assert!(facts.diagnostics.is_empty(), "{:?}", facts.diagnostics);
        let env: Vec<_> = facts
            .env
            .iter()
            .map(|env| (env.name.as_str(), env.value.as_str(), env.provenance.line))
            .collect();
        assert_eq!(env, [("DB_HOST", "postgres", 4), ("RETRIES", "3", 4)]);
        assert_eq!(
            facts.env[0].subject,
            Subject::Service(crate::facts::LocalService::new(
                "kubernetes:default",
                "configmap:settings"
            ))
        );
    }

    #[test]
    fn lists_workload_kinds_and_unnamed_objects() {
        let text = "\
apiVersion: v1
kind: List
items:
  - apiVersion: batch/v1
    kind: CronJob
    metadata: {name: nightly}
    spec:
      jobTemplate:
        spec:
          template:
            spec:
              containers: [{name: job, image: backup, env: [{name: TARGET, value: \"s3://bucket/x\"}]}]
  - apiVersion: v1
    kind: Pod
    metadata: {name: debug}
    spec:
      containers: [{name: shell, image: busybox, command: [sh, -c, \"wget http://api:8080/\"]}]
  - apiVersion: batch/v1
    kind: Job
    metadata: {generateName: migrate-}
  - apiVersion: argoproj.io/v1alpha1
    kind: Rollout
    metadata: {name: canary}
  - apiVersion: apps/v1
    kind: Deployment
    metadata: {labels: {app: x}}
";
        let facts = read_texts(&[("list.yaml", text)]);
        assert_eq!(
            service_names(&facts),
            [
                "kubernetes:default/nightly",
                "kubernetes:default/debug",
                "kubernetes:default/migrate",
                "kubernetes:default/canary",
            ]
        );
        assert_eq!(facts.services[0].image.as_deref(), Some("backup"));
        assert_eq!(
            facts.services[1].command.as_deref(),
            Some("sh -c wget http://api:8080/")
        );
        let targets: Vec<_> = facts.references.iter().map(|r| r.target.clone()).collect();
        assert_eq!(
            targets,
            [Target::Host("bucket".into()), Target::Host("api".into())]
        );
        let [diagnostic] = facts.diagnostics.as_slice() else {
            panic!("one diagnostic expected: {:?}", facts.diagnostics);
        };
        assert_eq!(diagnostic.code, "kubernetes-unnamed");
        assert_eq!(diagnostic.severity, Severity::Warning);
        assert_eq!((diagnostic.line, diagnostic.column), (Some(25), Some(5)));
    }

    #[test]
    fn a_knative_service_is_a_workload_with_dns_names() {
        let text = "\
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: hello, namespace: apps}
spec:
  template:
    spec:
      containers: [{image: hello, env: [{name: TARGET_URL, value: \"http://hello.apps:80\"}]}]
";
        let facts = read_texts(&[("knative.yaml", text)]);
        assert_eq!(service_names(&facts), ["kubernetes:apps/hello"]);
        assert_eq!(facts.services[0].image.as_deref(), Some("hello"));
        assert_eq!(facts.services[0].aliases.len(), 4);
        assert!(facts.references.is_empty(), "{:?}", facts.references);
    }

    #[test]
    fn dns_names_are_lower_case_and_keep_other_letters() {
        let text = "\
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: Grüße-API, namespace: Apps}
spec: {template: {spec: {containers: [{image: hello}]}}}
";
        let facts = read_texts(&[("knative.yaml", text)]);
        assert_eq!(
            facts.services[0].aliases,
            [
                "grüße-api",
                "grüße-api.apps",
                "grüße-api.apps.svc",
                "grüße-api.apps.svc.cluster.local"
            ]
        );
    }

    #[test]
    fn odd_shapes_do_not_panic() {
        let odd = [
            "apiVersion: v1\nkind: Service\nmetadata: name\n",
            "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: [1, 2]\n",
            "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {type: NodePort, selector: x, ports: [{nodePort: 99999}, 3, {nodePort: abc}]}\n",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {template: {spec: {containers: x, volumes: [{configMap: 3}, {secret: {secretName: [a]}}]}}}\n",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {template: {spec: {containers: [{env: [{valueFrom: {configMapKeyRef: a}}, 1, {name: [x], value: {y: z}}], envFrom: [{secretRef: {}}], ports: [{hostPort: -1}]}]}}}\n",
            "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: i}\nspec: {rules: [{host: [a], http: {paths: [{path: 3, backend: {service: {name: {}}}}]}}, x]}\n",
            "apiVersion: v1\nkind: List\nitems: {a: b}\n",
            "apiVersion: [v1]\nkind: Pod\n",
            "apiVersion: v1\nkind: {a: b}\n",
            "",
            "---\n---\n",
            "~",
            "a: &x [*x]",
        ];
        for text in odd {
            let _ = read_texts(&[("odd.yaml", text)]);
        }
    }

    /// A JSON value (which is also YAML) built from Kubernetes keys, so that
    /// random documents reach deep into the reader.
    fn value() -> impl Strategy<Value = serde_json::Value> {
        let keys = prop::sample::select(vec![
            "apiVersion",
            "kind",
            "metadata",
            "name",
            "namespace",
            "labels",
            "spec",
            "template",
            "selector",
            "containers",
            "initContainers",
            "env",
            "envFrom",
            "value",
            "valueFrom",
            "configMapKeyRef",
            "secretRef",
            "optional",
            "volumes",
            "projected",
            "sources",
            "ports",
            "hostPort",
            "nodePort",
            "type",
            "rules",
            "host",
            "http",
            "paths",
            "path",
            "backend",
            "service",
            "items",
            "data",
            "args",
            "command",
            "jobTemplate",
        ]);
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<u32>().prop_map(serde_json::Value::from),
            prop::sample::select(vec![
                "v1",
                "apps/v1",
                "Deployment",
                "Service",
                "Ingress",
                "List",
                "CronJob",
                "NodePort",
                "a",
                "http://db:5432/x",
                "{{ x }}",
                "",
            ])
            .prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(5, 64, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                prop::collection::vec((keys.clone(), inner), 0..6).prop_map(|entries| {
                    serde_json::Value::Object(
                        entries
                            .into_iter()
                            .map(|(k, v)| (k.to_string(), v))
                            .collect(),
                    )
                }),
            ]
        })
    }

    proptest! {
        #[test]
        fn random_documents_do_not_panic(
            kind in prop::sample::select(vec!["Deployment", "Service", "Ingress", "List", "CronJob", "Pod", "ConfigMap", "Widget"]),
            body in value(),
        ) {
            let mut document = serde_json::json!({"apiVersion": "v1", "kind": kind, "metadata": {"name": "x"}});
            if let (Some(document), serde_json::Value::Object(body)) = (document.as_object_mut(), body) {
                document.extend(body);
            }
            let _ = read_texts(&[("random.yaml", &document.to_string())]);
        }
    }

    /// Reads the Kubernetes manifests of the shared corpus, one call per
    /// repository: no panic, and a summary on stderr.
    /// `cargo test -p weft-discover corpus -- --ignored --nocapture`
    #[test]
    #[ignore = "needs the corpus at /work/shared/corpus"]
    fn corpus() {
        let root = std::path::Path::new("/work/shared/corpus");
        if !root.is_dir() {
            return;
        }
        let workspaces = [
            "online-boutique",
            "bank-of-anthos",
            "argocd-example-apps",
            "sock-shop",
            "descheduler",
            "example-voting-app",
            "aks-store-demo",
            "kubernetes-examples",
            "istio-bookinfo",
        ];
        let mut totals: BTreeMap<String, usize> = BTreeMap::new();
        for workspace in workspaces {
            let Ok(repositories) = fs_err::read_dir(root.join(workspace)) else {
                continue;
            };
            for repository in repositories.flatten() {
                let mut files = Vec::new();
                let walk = ignore::WalkBuilder::new(repository.path())
                    .standard_filters(false)
                    .build();
                for entry in walk.flatten() {
                    let path = entry.path();
                    let is_yaml = path
                        .extension()
                        .is_some_and(|extension| extension == "yaml" || extension == "yml");
                    let Some(text) = is_yaml.then(|| fs_err::read_to_string(path).ok()).flatten()
                    else {
                        continue;
                    };
                    let relative = path.strip_prefix(root).unwrap_or(path);
                    files.push(SourceFile::new(relative.to_string_lossy(), text));
                }
                let facts = read(&files);
                let mut ignored = Vec::new();
                for file in &files {
                    let arena = Arena::new();
                    let documents = documents::parse(&arena, file, &mut ignored);
                    let mut objects = Vec::new();
                    for document in &documents {
                        objects::collect(file, document, &mut objects, &mut ignored);
                    }
                    *totals.entry("objects".into()).or_default() += objects.len();
                }
                let name = repository.path().display().to_string();
                eprintln!(
                    "{name}: {} files, {} services, {} references, {} claims, {} env, {} diagnostics",
                    files.len(),
                    facts.services.len(),
                    facts.references.len(),
                    facts.claims.len(),
                    facts.env.len(),
                    facts.diagnostics.len()
                );
                for service in &facts.services {
                    eprintln!(
                        "  service {}/{} {:?}",
                        service.service.scope, service.service.name, service.aliases
                    );
                }
                for reference in &facts.references {
                    let from = match &reference.from {
                        Subject::Service(service) => service.name.as_str(),
                        _ => "?",
                    };
                    eprintln!(
                        "  ref {from} -> {:?} {} {}",
                        reference.target, reference.kind, reference.provenance
                    );
                }
                for claim in &facts.claims {
                    eprintln!(
                        "  claim {:?} {:?} {}",
                        claim.subject, claim.resource, claim.provenance
                    );
                }
                for diagnostic in &facts.diagnostics {
                    eprintln!(
                        "  diagnostic {} {} {}: {}",
                        diagnostic.severity.as_str(),
                        diagnostic.code,
                        diagnostic.location().unwrap_or_default(),
                        diagnostic.message
                    );
                    *totals
                        .entry(format!("diagnostic {}", diagnostic.code))
                        .or_default() += 1;
                }
                *totals.entry("files".into()).or_default() += files.len();
                *totals.entry("services".into()).or_default() += facts.services.len();
                *totals.entry("references".into()).or_default() += facts.references.len();
                *totals.entry("claims".into()).or_default() += facts.claims.len();
                *totals.entry("env".into()).or_default() += facts.env.len();
            }
        }
        eprintln!("totals: {totals:?}");
    }
}
