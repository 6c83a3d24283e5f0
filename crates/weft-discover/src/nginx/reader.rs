//! Facts from an nginx directive tree: routes of `server` blocks, references
//! of `proxy_pass`-like directives and `upstream` servers.

use std::collections::HashMap;

use weft_model::span::LineIndex;
use weft_model::{Diagnostic, EdgeKind, PathMatch, ProxyKind, Resource, Rule, Span};

use super::lowercase_host;
use super::parser::{Directive, Word, parse};
use crate::facts::{ClaimFact, Facts, Reference, SourceFile, Subject, Target};
use crate::host::is_host_name;

/// Directives that pass requests to another server.
const PASS_DIRECTIVES: &[&str] = &[
    "proxy_pass",
    "grpc_pass",
    "fastcgi_pass",
    "uwsgi_pass",
    "scgi_pass",
];

/// How many syntax errors of one file are reported one by one.
const MAX_SYNTAX_ERRORS: usize = 20;

/// How many times a `set` variable may refer to another before giving up.
const MAX_VARIABLE_DEPTH: usize = 8;

/// Reads an nginx config file into facts: route claims for every
/// `server_name` × `location` × `listen` port of each `server` block,
/// references for `proxy_pass` (and `grpc_pass`, `fastcgi_pass`, `uwsgi_pass`,
/// `scgi_pass`) targets and `upstream` servers, and a diagnostic per syntax
/// error. `include` is not followed.
pub fn read(file: &SourceFile) -> Facts {
    let parsed = parse(&file.text);
    let mut reader = Reader {
        file,
        index: LineIndex::new(&file.text),
        upstreams: Vec::new(),
        facts: Facts::default(),
    };
    for error in parsed.errors.iter().take(MAX_SYNTAX_ERRORS) {
        let diagnostic =
            Diagnostic::error("nginx-syntax", error.message.clone()).with_hint(error.hint.clone());
        let span = reader.span(error.offset, error.offset);
        reader
            .facts
            .diagnostics
            .push(file.diagnostic(diagnostic, span));
    }
    if let Some(first_unreported) = parsed.errors.get(MAX_SYNTAX_ERRORS) {
        let more = parsed.errors.len() - MAX_SYNTAX_ERRORS;
        let diagnostic = Diagnostic::error("nginx-syntax", format!("{more} more syntax errors"))
            .with_hint("fix the errors above first");
        let span = reader.span(first_unreported.offset, first_unreported.offset);
        reader
            .facts
            .diagnostics
            .push(file.diagnostic(diagnostic, span));
    }
    collect_upstreams(&parsed.directives, &mut reader.upstreams);
    reader.upstream_references();
    let mut scopes = Vec::new();
    reader.walk(&parsed.directives, &mut scopes, false);
    reader.facts
}

struct Reader<'f> {
    file: &'f SourceFile,
    index: LineIndex,
    /// `upstream` blocks of the file: name and `server` addresses.
    upstreams: Vec<(String, Vec<UpstreamServer>)>,
    facts: Facts,
}

/// A `server` of an `upstream` block.
struct UpstreamServer {
    address: Word,
    /// The `resolve` flag: the name is resolved at run time.
    resolve: bool,
}

/// `set $name value;` of one block, by variable name.
type Scope = HashMap<String, String>;

fn collect_upstreams(directives: &[Directive], upstreams: &mut Vec<(String, Vec<UpstreamServer>)>) {
    for directive in directives {
        let Some(children) = &directive.block else {
            continue;
        };
        if directive.name.text == "upstream" {
            let Some(name) = directive.arguments.first() else {
                continue;
            };
            let servers = children
                .iter()
                .filter(|child| child.name.text == "server")
                .filter_map(|child| {
                    let (address, flags) = child.arguments.split_first()?;
                    Some(UpstreamServer {
                        address: address.clone(),
                        resolve: flags.iter().any(|flag| flag.text == "resolve"),
                    })
                })
                .collect();
            upstreams.push((name.text.to_ascii_lowercase(), servers));
        } else {
            collect_upstreams(children, upstreams);
        }
    }
}

impl Reader<'_> {
    fn span(&self, start: usize, end: usize) -> Span {
        Span::new(
            self.index.location(&self.file.text, start),
            self.index.location(&self.file.text, end),
        )
    }

    fn word_span(&self, word: &Word) -> Span {
        self.span(word.start, word.end)
    }

    /// Every `server` of every `upstream` is resolved when nginx starts, so
    /// each is a required reference (soft with the `resolve` flag, which
    /// defers resolution to run time).
    fn upstream_references(&mut self) {
        let mut references = Vec::new();
        for (_, servers) in &self.upstreams {
            for server in servers {
                let Some(host) = host_of_address(&server.address.text) else {
                    continue;
                };
                references.push(Reference {
                    from: Subject::File,
                    target: Target::Host(host),
                    kind: if server.resolve {
                        EdgeKind::Soft
                    } else {
                        EdgeKind::Required
                    },
                    provenance: self
                        .file
                        .provenance(self.word_span(&server.address), Rule::NginxProxyPass),
                });
            }
        }
        self.facts.references.extend(references);
    }

    fn walk(&mut self, directives: &[Directive], scopes: &mut Vec<Scope>, in_stream: bool) {
        scopes.push(scope_of(directives));
        for directive in directives {
            let name = directive.name.text.as_str();
            if PASS_DIRECTIVES.contains(&name) {
                self.pass(directive, scopes);
            }
            let Some(children) = &directive.block else {
                continue;
            };
            match name {
                "upstream" => continue,
                "server" if !in_stream => self.server(directive, children),
                _ => {}
            }
            let in_stream = in_stream || matches!(name, "stream" | "mail");
            self.walk(children, scopes, in_stream);
        }
        scopes.pop();
    }

    /// A `proxy_pass`-like directive: a reference to its target host, unless
    /// that names an `upstream` of this file (whose servers are referenced
    /// already).
    fn pass(&mut self, directive: &Directive, scopes: &[Scope]) {
        let Some(argument) = directive.arguments.first() else {
            return;
        };
        let through_variable = argument.text.contains('$');
        let target = expand_variables(&argument.text, scopes, 0);
        let Some(host) = host_of_address(&target) else {
            return;
        };
        if self.upstreams.iter().any(|(name, _)| *name == host) {
            return;
        }
        self.facts.references.push(Reference {
            from: Subject::File,
            target: Target::Host(host),
            kind: if through_variable {
                EdgeKind::Soft
            } else {
                EdgeKind::Required
            },
            provenance: self
                .file
                .provenance(self.word_span(argument), Rule::NginxProxyPass),
        });
    }

    /// A `server` block: a route for each listen port × server name × location.
    fn server(&mut self, server: &Directive, children: &[Directive]) {
        let mut ports: Vec<String> = Vec::new();
        for listen in children.iter().filter(|child| child.name.text == "listen") {
            let Some(address) = listen.arguments.first() else {
                continue;
            };
            if let Some(port) = listen_port(&address.text)
                && !ports.contains(&port)
            {
                ports.push(port);
            }
        }
        let has_listen = children.iter().any(|child| child.name.text == "listen");
        if ports.is_empty() {
            if has_listen {
                return; // only `unix:` sockets: no route on a port
            }
            ports.push("80".into());
        }

        // (host, rule as written, span)
        let mut names: Vec<(String, Option<String>, Span)> = children
            .iter()
            .filter(|child| child.name.text == "server_name")
            .flat_map(|child| &child.arguments)
            .map(|argument| {
                (
                    server_host(&argument.text),
                    Some(argument.text.clone()),
                    self.word_span(argument),
                )
            })
            .collect();
        if names.is_empty() {
            // nginx's default `server_name ""`: the catch-all.
            names.push(("_".into(), None, self.word_span(&server.name)));
        }

        let mut locations = Vec::new();
        collect_locations(children, &mut locations);
        if locations.is_empty() {
            locations.push(("/".to_string(), PathMatch::Prefix));
        }

        for port in &ports {
            for (host, rule, span) in &names {
                for (path, path_match) in &locations {
                    self.facts.claims.push(ClaimFact {
                        subject: Subject::File,
                        resource: Resource::Route {
                            proxy: ProxyKind::Nginx,
                            host: host.clone(),
                            path: path.clone(),
                            path_match: *path_match,
                            router: String::new(),
                            name: Some(port.clone()),
                            priority: None,
                            rule: rule.clone(),
                            entry_points: Vec::new(),
                            narrowed: false,
                        },
                        provenance: self.file.provenance(*span, Rule::NginxServer),
                    });
                }
            }
        }
    }
}

/// The `set` variables of one block.
fn scope_of(directives: &[Directive]) -> Scope {
    let mut scope = Scope::new();
    for directive in directives
        .iter()
        .filter(|directive| directive.name.text == "set")
    {
        if let [variable, value, ..] = directive.arguments.as_slice()
            && let Some(name) = variable.text.strip_prefix('$')
        {
            let name = name.trim_start_matches('{').trim_end_matches('}');
            scope.insert(name.to_string(), value.text.clone());
        }
    }
    scope
}

/// Replaces `$name` and `${name}` with their `set` values from the innermost
/// scope that has them; unknown variables stay as written.
fn expand_variables(text: &str, scopes: &[Scope], depth: usize) -> String {
    let mut expanded = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(dollar) = rest.find('$') {
        expanded.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        let (name, length) = if let Some(braced) = after.strip_prefix('{') {
            match braced.find('}') {
                Some(end) => (&braced[..end], end + 2),
                None => ("", 0),
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], end)
        };
        let value = scopes.iter().rev().find_map(|scope| scope.get(name));
        match value {
            Some(value) if !name.is_empty() && depth < MAX_VARIABLE_DEPTH => {
                expanded.push_str(&expand_variables(value, scopes, depth + 1));
            }
            // Built-in variables that hold a path: whatever precedes them is
            // the host (`http://api$request_uri`).
            _ if matches!(name, "request_uri" | "uri" | "document_uri") => expanded.push('/'),
            _ => expanded.push_str(&rest[dollar..dollar + 1 + length]),
        }
        rest = &after[length..];
    }
    expanded.push_str(rest);
    expanded
}

/// The host of a `proxy_pass`-like target or an upstream server:
/// `http://app:8080/x`, `app:9000`, `app`; `None` for `unix:` sockets, IP
/// addresses, local names and anything that is not a host name.
fn host_of_address(address: &str) -> Option<String> {
    let rest = address.split_once("://").map_or(address, |(_, rest)| rest);
    if rest.starts_with("unix:") || rest.starts_with('[') {
        return None;
    }
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let host = authority
        .rsplit_once(':')
        .map_or(authority, |(host, _)| host);
    is_host_name(host).then(|| host.trim_end_matches('.').to_ascii_lowercase())
}

/// The port of a `listen` address (`80`, `127.0.0.1:8080`, `[::]:443`,
/// `*:80`, `localhost`); `None` for `unix:` sockets. A port that is not a
/// number (a template variable) is kept as written.
fn listen_port(address: &str) -> Option<String> {
    if address.starts_with("unix:") {
        return None;
    }
    let port = if let Some(bracketed) = address.strip_prefix('[') {
        let after = bracketed.split_once(']').map_or("", |(_, after)| after);
        after.strip_prefix(':').unwrap_or("80")
    } else if address.bytes().all(|byte| byte.is_ascii_digit()) {
        address
    } else if let Some((_, port)) = address.rsplit_once(':') {
        port
    } else if address.contains('.') || address == "*" || address == "localhost" {
        "80" // an address without a port
    } else {
        address // a template variable (`${PORT}`, `{{ port }}`)
    };
    Some(
        port.parse::<u16>()
            .map_or_else(|_| port.to_string(), |number| number.to_string()),
    )
}

/// A `server_name` as a route host: lowercased, `_` for the catch-all (`_`,
/// `""`), regular expressions (`~…`) kept as written.
fn server_host(name: &str) -> String {
    if name.is_empty() || name == "_" {
        "_".into()
    } else if name.starts_with('~') {
        name.to_string()
    } else {
        lowercase_host(name)
    }
}

/// The path and match type of a `location`; `None` for named locations
/// (`@name`).
fn location_match(arguments: &[Word]) -> Option<(String, PathMatch)> {
    let modifier_of = |text: &str| match text {
        "=" => Some(PathMatch::Exact),
        "^~" => Some(PathMatch::Prefix),
        "~" | "~*" => Some(PathMatch::Regex),
        _ => None,
    };
    match arguments {
        [modifier, path, ..] if modifier_of(&modifier.text).is_some() => {
            Some((path.text.clone(), modifier_of(&modifier.text)?))
        }
        [path, ..] => {
            let text = path.text.as_str();
            if text.starts_with('@') {
                return None;
            }
            // Modifiers written against the path: `=/x`, `^~/x`, `~*\.php$`, `~\.php$`.
            for (prefix, path_match) in [
                ("=", PathMatch::Exact),
                ("^~", PathMatch::Prefix),
                ("~*", PathMatch::Regex),
                ("~", PathMatch::Regex),
            ] {
                if let Some(rest) = text.strip_prefix(prefix) {
                    return (!rest.is_empty()).then(|| (rest.to_string(), path_match));
                }
            }
            Some((text.to_string(), PathMatch::Prefix))
        }
        [] => None,
    }
}

/// Every routable `location` of a server, nested ones included.
fn collect_locations(directives: &[Directive], locations: &mut Vec<(String, PathMatch)>) {
    for directive in directives
        .iter()
        .filter(|directive| directive.name.text == "location")
    {
        if let Some(location) = location_match(&directive.arguments)
            && !locations.contains(&location)
        {
            locations.push(location);
        }
        if let Some(children) = &directive.block {
            collect_locations(children, locations);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_text(text: &str) -> Facts {
        read(&SourceFile::new("conf/nginx.conf", text))
    }

    /// `(port, host, path, match)` of each route.
    fn routes(facts: &Facts) -> Vec<(String, String, String, PathMatch)> {
        facts
            .claims
            .iter()
            .filter_map(|claim| match &claim.resource {
                Resource::Route {
                    host,
                    path,
                    path_match,
                    name,
                    ..
                } => Some((
                    name.clone().unwrap_or_default(),
                    host.clone(),
                    path.clone(),
                    *path_match,
                )),
                _ => None,
            })
            .collect()
    }

    fn route(
        port: &str,
        host: &str,
        path: &str,
        path_match: PathMatch,
    ) -> (String, String, String, PathMatch) {
        (port.into(), host.into(), path.into(), path_match)
    }

    /// `(host, kind, text at the provenance span)` of each reference.
    fn references(facts: &Facts, text: &str) -> Vec<(String, EdgeKind, String)> {
        facts
            .references
            .iter()
            .map(|reference| {
                let Target::Host(host) = &reference.target else {
                    panic!("nginx references hosts");
                };
                (
                    host.clone(),
                    reference.kind,
                    text[reference.provenance.span.range()].to_string(),
                )
            })
            .collect()
    }

    #[test]
    fn listen_forms() {
        assert_eq!(listen_port("80").as_deref(), Some("80"));
        assert_eq!(listen_port("127.0.0.1:8080").as_deref(), Some("8080"));
        assert_eq!(listen_port("[::]:443").as_deref(), Some("443"));
        assert_eq!(listen_port("[::1]").as_deref(), Some("80"));
        assert_eq!(listen_port("*:80").as_deref(), Some("80"));
        assert_eq!(listen_port("127.0.0.1").as_deref(), Some("80"));
        assert_eq!(
            listen_port("${NGINX_PORT}").as_deref(),
            Some("${NGINX_PORT}")
        );
        assert_eq!(listen_port("unix:/var/run/nginx.sock"), None);

        let facts = read_text(
            "server { listen 80 default_server; listen [::]:80; listen [::]:443 ssl http2; \
             listen unix:/tmp/s; server_name a.com; }",
        );
        assert_eq!(
            routes(&facts),
            [
                route("80", "a.com", "/", PathMatch::Prefix),
                route("443", "a.com", "/", PathMatch::Prefix)
            ]
        );
        let facts = read_text("server { server_name a.com; }");
        assert_eq!(
            routes(&facts),
            [route("80", "a.com", "/", PathMatch::Prefix)]
        );
        let facts = read_text("server { listen unix:/tmp/s; server_name a.com; }");
        assert!(routes(&facts).is_empty());
    }

    #[test]
    fn server_name_forms() {
        let text = "http {\n  server {\n    listen 8080;\n    server_name Example.COM *.example.com ~^(?<sub>\\w+)\\.Example\\.net$ _ \"\";\n  }\n}\nserver { listen 81; }\n";
        let facts = read_text(text);
        assert_eq!(
            routes(&facts),
            [
                route("8080", "example.com", "/", PathMatch::Prefix),
                route("8080", "*.example.com", "/", PathMatch::Prefix),
                route(
                    "8080",
                    "~^(?<sub>\\w+)\\.Example\\.net$",
                    "/",
                    PathMatch::Prefix
                ),
                route("8080", "_", "/", PathMatch::Prefix),
                route("8080", "_", "/", PathMatch::Prefix),
                route("81", "_", "/", PathMatch::Prefix),
            ]
        );
        // Provenance is the host token itself, quotes excluded.
        let first = &facts.claims[0];
        assert_eq!(&text[first.provenance.span.range()], "Example.COM");
        assert_eq!((first.provenance.line, first.provenance.column), (4, 17));
        assert_eq!(first.provenance.rule, Rule::NginxServer);
        assert_eq!(
            facts.claims[4].provenance.span.range(),
            text.find("\"\"").map(|at| at + 1..at + 1).expect("quotes")
        );
        let Resource::Route { rule, router, .. } = &first.resource else {
            panic!("a route");
        };
        assert_eq!(rule.as_deref(), Some("Example.COM"));
        assert_eq!(router, "");
        assert_eq!(&text[facts.claims[5].provenance.span.range()], "server");
    }

    #[test]
    fn location_match_types() {
        let facts = read_text(
            "server { listen 80; server_name a.com;
               location / { location /nested/ { } }
               location = /exact { }
               location ^~ /static/ { }
               location ~ \\.php$ { }
               location ~* \\.(png|jpg)$ { }
               location =/glued { }
               location @fallback { }
             }",
        );
        assert_eq!(
            routes(&facts),
            [
                route("80", "a.com", "/", PathMatch::Prefix),
                route("80", "a.com", "/nested/", PathMatch::Prefix),
                route("80", "a.com", "/exact", PathMatch::Exact),
                route("80", "a.com", "/static/", PathMatch::Prefix),
                route("80", "a.com", "\\.php$", PathMatch::Regex),
                route("80", "a.com", "\\.(png|jpg)$", PathMatch::Regex),
                route("80", "a.com", "/glued", PathMatch::Exact),
            ]
        );
    }

    #[test]
    fn upstreams_expand_to_their_servers() {
        let text = "upstream Backend { server api-1:8080 weight=2; server api-2; server 10.0.0.1:80; \
                    server dns-app resolve; }\n\
                    server { location / { proxy_pass http://backend/x; } }";
        let facts = read_text(text);
        assert_eq!(
            references(&facts, text),
            [
                (
                    "api-1".to_string(),
                    EdgeKind::Required,
                    "api-1:8080".to_string()
                ),
                ("api-2".to_string(), EdgeKind::Required, "api-2".to_string()),
                ("dns-app".to_string(), EdgeKind::Soft, "dns-app".to_string()),
            ]
        );
    }

    #[test]
    fn literal_targets_are_required() {
        let text = "server {\n  location / { proxy_pass http://Web:3000; }\n  location /g { grpc_pass grpc://grpc-api:50051; }\n  location ~ \\.php$ { fastcgi_pass php:9000; }\n  location /u { uwsgi_pass uwsgi://flask:3031; }\n  location /s { scgi_pass unix:/tmp/scgi.sock; proxy_pass http://127.0.0.1:81; proxy_pass http://localhost; }\n}\nstream { server { listen 5432; proxy_pass db:5432; } }\n";
        let facts = read_text(text);
        assert_eq!(
            references(&facts, text),
            [
                (
                    "web".to_string(),
                    EdgeKind::Required,
                    "http://Web:3000".to_string()
                ),
                (
                    "grpc-api".to_string(),
                    EdgeKind::Required,
                    "grpc://grpc-api:50051".to_string()
                ),
                (
                    "php".to_string(),
                    EdgeKind::Required,
                    "php:9000".to_string()
                ),
                (
                    "flask".to_string(),
                    EdgeKind::Required,
                    "uwsgi://flask:3031".to_string()
                ),
                ("db".to_string(), EdgeKind::Required, "db:5432".to_string()),
            ]
        );
        let reference = &facts.references[0];
        assert_eq!(
            (reference.provenance.line, reference.provenance.column),
            (2, 27)
        );
        assert_eq!(reference.provenance.rule, Rule::NginxProxyPass);
        // The stream server is not an HTTP route.
        assert!(routes(&facts).iter().all(|(port, ..)| port != "5432"));
    }

    #[test]
    fn set_variables_resolve_to_soft_references() {
        let text = "server {\n  set $upstream_proto http;\n  set $api_host API-svc;\n  location / {\n    set $upstream_app radarr;\n    set $upstream_port 7878;\n    proxy_pass $upstream_proto://$upstream_app:$upstream_port;\n  }\n  location /api { set $target ${api_host}; proxy_pass http://$target$request_uri; }\n  location /x { proxy_pass http://$unknown; }\n  location /y { proxy_pass http://api$request_uri; }\n}\n";
        let facts = read_text(text);
        assert_eq!(
            references(&facts, text),
            [
                (
                    "radarr".to_string(),
                    EdgeKind::Soft,
                    "$upstream_proto://$upstream_app:$upstream_port".to_string()
                ),
                (
                    "api-svc".to_string(),
                    EdgeKind::Soft,
                    "http://$target$request_uri".to_string()
                ),
                (
                    "api".to_string(),
                    EdgeKind::Soft,
                    "http://api$request_uri".to_string()
                ),
            ]
        );
    }

    #[test]
    fn syntax_errors_point_at_the_problem() {
        let text = "server {\n  listen 80;\n  server_name a.com;\n  location / {\n    root /srv\n  }\n}\n}\n";
        let facts = read_text(text);
        let found: Vec<(u32, u32, &str)> = facts
            .diagnostics
            .iter()
            .map(|diagnostic| {
                (
                    diagnostic.line.unwrap_or(0),
                    diagnostic.column.unwrap_or(0),
                    diagnostic.hint.as_deref().unwrap_or(""),
                )
            })
            .collect();
        assert_eq!(
            found,
            [
                (5, 14, "end the directive with `;`"),
                (8, 1, "a `}` closes no block")
            ]
        );
        assert!(
            facts
                .diagnostics
                .iter()
                .all(|diagnostic| diagnostic.code == "nginx-syntax")
        );
        assert_eq!(
            facts.diagnostics[1].location().as_deref(),
            Some("conf/nginx.conf:8:1")
        );
        // What parsed is kept.
        assert_eq!(
            routes(&facts),
            [route("80", "a.com", "/", PathMatch::Prefix)]
        );

        let facts = read_text("server {\n  server_name 'a.com;\n}\n");
        assert_eq!(facts.diagnostics.len(), 3, "{:?}", facts.diagnostics);
        assert_eq!(
            (facts.diagnostics[0].line, facts.diagnostics[0].column),
            (Some(1), Some(8))
        );
        assert_eq!(
            (facts.diagnostics[1].line, facts.diagnostics[1].column),
            (Some(2), Some(15))
        );
    }

    #[test]
    fn syntax_errors_are_capped() {
        let facts = read_text(&"}\n".repeat(10_000));
        assert_eq!(facts.diagnostics.len(), 21);
        assert_eq!(facts.diagnostics[20].message, "9980 more syntax errors");
        assert_eq!(facts.diagnostics[20].line, Some(21));
    }

    #[test]
    fn templates_are_tolerated() {
        let text = "{% if ENABLE %}\nserver {\n  listen {{ PORT }};\n  server_name {{ DOMAIN }} ${ALT_DOMAIN};\n  \
                    location / {\n    proxy_pass http://{{ BACKEND }}:80/;\n    proxy_set_header X {% if A %}$a{% else %}$b{% endif %};\n  }\n  \
                    location /e { proxy_pass http://${ENV_HOST}:80; }\n  \
                    access_by_lua_block {\n    if ngx.var.x then return end -- }\n  }\n}\n{% endif %}\n";
        let facts = read_text(text);
        assert!(facts.diagnostics.is_empty(), "{:?}", facts.diagnostics);
        assert_eq!(
            routes(&facts),
            [
                route("{{ PORT }}", "{{ DOMAIN }}", "/", PathMatch::Prefix),
                route("{{ PORT }}", "{{ DOMAIN }}", "/e", PathMatch::Prefix),
                route("{{ PORT }}", "${ALT_DOMAIN}", "/", PathMatch::Prefix),
                route("{{ PORT }}", "${ALT_DOMAIN}", "/e", PathMatch::Prefix),
            ]
        );
        assert!(facts.references.is_empty());
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            #[test]
            fn never_panics_on_random_text(text in "\\PC*") {
                let _ = read_text(&text);
            }

            #[test]
            fn never_panics_on_config_like_text(
                text in "([a-z_$]{1,6}|[ \\n{};#'\"\\\\~:/\\[\\]]|\\{\\{|\\{%|%\\}|\\}\\}|\\$\\{|_by_lua_block|server|location|listen|proxy_pass|upstream|set|é){0,60}"
            ) {
                let _ = read_text(&text);
            }
        }
    }
}
