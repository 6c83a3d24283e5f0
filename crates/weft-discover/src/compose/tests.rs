use super::*;
use weft_model::Protocol;

fn read(text: &str, env: &[(&str, &str)]) -> Facts {
    let files = [SourceFile::new("app/compose.yaml", text)];
    let environment: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    read_project(&Project {
        directory: "app",
        files: &files,
        environment: &environment,
        load: &|_| None,
    })
}

fn targets(facts: &Facts) -> Vec<(String, String, EdgeKind, Rule)> {
    facts
        .references
        .iter()
        .map(|r| {
            let from = match &r.from {
                Subject::Service(s) => s.name.clone(),
                other => format!("{other:?}"),
            };
            let to = match &r.target {
                Target::Service(s) => s.name.clone(),
                Target::Host(h) => format!("host:{h}"),
            };
            (from, to, r.kind, r.provenance.rule)
        })
        .collect()
}

#[test]
fn depends_on_links_and_environment() {
    let facts = read(
        "services:\n  web:\n    image: nginx\n    depends_on: [api]\n  api:\n    depends_on:\n      db: {condition: service_healthy}\n      cache: {condition: service_started, required: false}\n    links: [\"db:database\"]\n    external_links: [legacy_1]\n    environment:\n      DATABASE_URL: postgres://u:p@db:5432/app\n      LOG_LEVEL: debug\n  db: {image: postgres}\n  cache: {image: redis, network_mode: \"service:db\"}\n",
        &[],
    );
    let edges = targets(&facts);
    assert!(edges.contains(&(
        "web".into(),
        "api".into(),
        EdgeKind::Required,
        Rule::ComposeDependsOn
    )));
    assert!(edges.contains(&(
        "api".into(),
        "db".into(),
        EdgeKind::Required,
        Rule::ComposeDependsOn
    )));
    assert!(edges.contains(&(
        "api".into(),
        "cache".into(),
        EdgeKind::Optional,
        Rule::ComposeDependsOn
    )));
    assert!(edges.contains(&(
        "api".into(),
        "db".into(),
        EdgeKind::Required,
        Rule::ComposeLinks
    )));
    assert!(edges.contains(&(
        "api".into(),
        "host:legacy_1".into(),
        EdgeKind::Optional,
        Rule::ComposeExternalLinks
    )));
    assert!(edges.contains(&(
        "api".into(),
        "host:db".into(),
        EdgeKind::Soft,
        Rule::ComposeEnvironment
    )));
    assert!(edges.contains(&(
        "cache".into(),
        "db".into(),
        EdgeKind::Required,
        Rule::ComposeSharedNamespace
    )));
    assert_eq!(edges.len(), 7, "{edges:#?}");
    let db_edge = facts
        .references
        .iter()
        .find(|r| {
            r.provenance.rule == Rule::ComposeDependsOn
                && r.kind == EdgeKind::Required
                && matches!(&r.target, Target::Service(s) if s.name == "db")
        })
        .unwrap();
    assert_eq!((db_edge.provenance.line, db_edge.provenance.column), (7, 7));
    assert_eq!(facts.env.len(), 2);
}

#[test]
fn ports_short_long_ranges_and_interpolation() {
    let facts = read(
        "services:\n  a:\n    ports:\n      - \"${WEB_PORT:-8080}:80\"\n      - 127.0.0.1:5432:5432\n      - \"9000-9002:9000-9002/udp\"\n      - \"[::1]:7000:7000\"\n      - \"3000\"\n      - target: 443\n        published: \"8443\"\n        host_ip: 0.0.0.0\n      - nonsense:x\n",
        &[("WEB_PORT", "8081")],
    );
    let ports: Vec<(Option<String>, u16, u16, Protocol, u32)> = facts
        .claims
        .iter()
        .filter_map(|c| match &c.resource {
            Resource::HostPort {
                host_ip,
                start,
                end,
                protocol,
                ..
            } => Some((host_ip.clone(), *start, *end, *protocol, c.provenance.line)),
            _ => None,
        })
        .collect();
    assert_eq!(
        ports,
        [
            (None, 8081, 8081, Protocol::Tcp, 4),
            (Some("127.0.0.1".into()), 5432, 5432, Protocol::Tcp, 5),
            (None, 9000, 9002, Protocol::Udp, 6),
            (Some("::1".into()), 7000, 7000, Protocol::Tcp, 7),
            (None, 8443, 8443, Protocol::Tcp, 10),
        ]
    );
    assert_eq!(
        facts
            .diagnostics
            .iter()
            .filter(|d| d.code == "compose-port")
            .count(),
        1
    );
}

#[test]
fn names_networks_volumes_and_mounts() {
    let facts = read(
        "name: Shop\nservices:\n  web:\n    container_name: shop-web\n    hostname: www\n    build: ./web\n    env_file: [.env.web]\n    volumes: [\"./nginx/nginx.conf:/etc/nginx/nginx.conf:ro\", \"data:/data\"]\n    networks:\n      front: {aliases: [frontend]}\nnetworks:\n  front:\n    ipam: {config: [{subnet: 172.28.0.0/16}]}\n  proxy: {external: true}\nvolumes:\n  data: {driver: local}\n  shared: {external: true, name: shared-data}\n",
        &[],
    );
    let web = &facts.services[0];
    assert_eq!(web.aliases, ["shop-web", "www", "frontend"]);
    assert_eq!(web.directory.as_deref(), Some("app/web"));
    let mounts: Vec<&str> = facts.mounts.iter().map(|m| m.path.as_str()).collect();
    assert_eq!(mounts, ["app/.env.web", "app/nginx/nginx.conf"]);
    let resources: Vec<&Resource> = facts.claims.iter().map(|c| &c.resource).collect();
    assert!(resources.contains(&&Resource::ContainerName {
        name: "shop-web".into()
    }));
    assert!(resources.contains(&&Resource::Network {
        name: "shop_front".into(),
        subnets: vec!["172.28.0.0/16".into()],
        external: false,
        driver: None
    }));
    assert!(resources.contains(&&Resource::Network {
        name: "proxy".into(),
        subnets: vec![],
        external: true,
        driver: None
    }));
    assert!(resources.iter().any(
        |r| matches!(r, Resource::Volume { name, external: true, .. } if name == "shared-data")
    ));
    assert!(resources.iter().any(
        |r| matches!(r, Resource::Volume { name, external: false, .. } if name == "shop_data")
    ));
}

#[test]
fn anchors_merges_and_extends() {
    let facts = read(
        "x-common: &common\n  depends_on: [db]\n  environment: {REDIS_URL: \"redis://cache:6379\"}\nservices:\n  base: {image: base, ports: [\"81:80\"]}\n  worker:\n    <<: *common\n    extends: base\n  db: {image: postgres}\n  cache: {image: redis}\n",
        &[],
    );
    let edges = targets(&facts);
    assert!(edges.contains(&(
        "worker".into(),
        "db".into(),
        EdgeKind::Required,
        Rule::ComposeDependsOn
    )));
    assert!(edges.contains(&(
        "worker".into(),
        "host:cache".into(),
        EdgeKind::Soft,
        Rule::ComposeEnvironment
    )));
    let worker = facts
        .services
        .iter()
        .find(|s| s.service.name == "worker")
        .unwrap();
    assert_eq!(worker.image.as_deref(), Some("base"));
    let port_owners: Vec<&str> = facts
        .claims
        .iter()
        .filter_map(|c| match (&c.subject, &c.resource) {
            (Subject::Service(s), Resource::HostPort { .. }) => Some(s.name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(port_owners, ["base", "worker"]);
}

#[test]
fn bad_yaml_is_a_located_error_and_unset_variables_a_note() {
    let facts = read("services:\n  web:\n    image: [unclosed\n", &[]);
    let error = &facts.diagnostics[0];
    assert_eq!(error.code, "yaml-syntax");
    assert_eq!(error.file.as_deref(), Some("app/compose.yaml"));
    assert!(error.line.is_some());
    let facts = read("services:\n  web:\n    image: \"app:${TAG}\"\n", &[]);
    assert_eq!(facts.diagnostics[0].code, "unset-variable");
    assert!(facts.diagnostics[0].message.contains("TAG"));
}

#[test]
fn short_port_forms() {
    assert_eq!(parse_short_port("80"), Ok(None));
    assert_eq!(parse_short_port("127.0.0.1::80"), Ok(None));
    assert_eq!(
        parse_short_port("8080:80/udp"),
        Ok(Some((None, 8080, 8080, "udp".into())))
    );
    assert!(parse_short_port("x:80").is_err());
    assert!(parse_short_port("9-1:80").is_err());
    // Bare numbers, read without the general path, read as it does.
    assert_eq!(
        parse_short_port("00080:80"),
        Ok(Some((None, 80, 80, "tcp".into())))
    );
    assert_eq!(
        parse_short_port("65535:80"),
        Ok(Some((None, 65535, 65535, "tcp".into())))
    );
    assert!(parse_short_port("65536:80").is_err());
    assert!(parse_short_port("8080:65536").is_err());
    assert_eq!(parse_short_port("0:80"), Ok(None));
    assert_eq!(
        parse_short_port("+8080: 80"),
        Ok(Some((None, 8080, 8080, "tcp".into())))
    );
}

#[test]
fn extends_merges_environment_and_reports_loops() {
    let facts = read(
        "services:\n  base:\n    image: base\n    environment: {DB_URL: \"postgres://db:5432/x\"}\n  child:\n    extends: base\n    environment: {LOG_LEVEL: info}\n  loop1: {extends: loop2}\n  loop2: {extends: loop1}\n  db: {image: postgres}\n",
        &[],
    );
    let edges = targets(&facts);
    assert!(
        edges.contains(&(
            "child".into(),
            "host:db".into(),
            EdgeKind::Soft,
            Rule::ComposeEnvironment
        )),
        "{edges:?}"
    );
    let loops: Vec<&str> = facts
        .diagnostics
        .iter()
        .filter(|d| d.code == "compose-extends")
        .map(|d| d.message.as_str())
        .collect();
    assert_eq!(loops.len(), 2, "{loops:?}");
}

#[test]
fn override_files_replace_ports_with_merge_tags() {
    let files = [
        SourceFile::new(
            "app/compose.yaml",
            "services:\n  web:\n    image: web\n    ports: [\"8080:80\", \"9000:9000\"]\n",
        ),
        SourceFile::new(
            "app/compose.override.yaml",
            "services:\n  web:\n    ports: !override\n      - \"20000:80\"\n",
        ),
    ];
    let environment = HashMap::new();
    let facts = read_project(&Project {
        directory: "app",
        files: &files,
        environment: &environment,
        load: &|_| None,
    });
    let ports: Vec<u16> = facts
        .claims
        .iter()
        .filter_map(|c| match c.resource {
            Resource::HostPort { start, .. } => Some(start),
            _ => None,
        })
        .collect();
    assert_eq!(ports, [20000]);
}
