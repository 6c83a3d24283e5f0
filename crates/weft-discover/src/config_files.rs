//! Application config files: `.env`, `*.env`, `config.json`,
//! `settings.yaml`, `config.yaml`, Spring `application.{yml,properties}`,
//! `appsettings.json`. A value that is a URL or `host:port` naming a known
//! service becomes a soft edge from whatever runs the file.

use std::collections::HashMap;

use weft_model::yaml::{self, Node, Value};
use weft_model::{Diagnostic, EdgeKind, LineIndex, Rule, Severity, Span};

use crate::env::{interpolate, parse_dotenv};
use crate::facts::{EnvAssignment, Facts, Reference, SourceFile, Subject, Target};
use crate::host::hosts_in_value;

/// What kind of config file a name is, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigFormat {
    Dotenv,
    Structured,
    Properties,
}

/// Classifies a file name.
pub fn format_of(file_name: &str) -> Option<ConfigFormat> {
    let lower = file_name.to_ascii_lowercase();
    if lower == ".env"
        || lower.ends_with(".env")
        || lower.starts_with(".env.")
        || lower == "env.example"
    {
        return Some(ConfigFormat::Dotenv);
    }
    let structured = [
        "config.json",
        "config.yaml",
        "config.yml",
        "settings.yaml",
        "settings.yml",
        "settings.json",
    ];
    if structured.contains(&lower.as_str())
        || (lower.starts_with("application")
            && (lower.ends_with(".yml") || lower.ends_with(".yaml")))
        || (lower.starts_with("appsettings") && lower.ends_with(".json"))
    {
        return Some(ConfigFormat::Structured);
    }
    if lower.starts_with("application") && lower.ends_with(".properties") {
        return Some(ConfigFormat::Properties);
    }
    None
}

/// Reads one config file.
pub fn read(file: &SourceFile, format: ConfigFormat) -> Facts {
    match format {
        ConfigFormat::Dotenv => read_dotenv(file),
        ConfigFormat::Structured => read_structured(file),
        ConfigFormat::Properties => read_properties(file),
    }
}

fn reference(facts: &mut Facts, file: &SourceFile, key: &str, value: &str, span: Span) {
    for host in hosts_in_value(Some(key), &strip_placeholders(value)) {
        facts.references.push(Reference {
            from: Subject::File,
            target: Target::Host(host),
            kind: EdgeKind::Soft,
            provenance: file.provenance(span, Rule::ConfigReference),
        });
    }
}

fn read_dotenv(file: &SourceFile) -> Facts {
    let (entries, diagnostics) = parse_dotenv(file);
    let mut facts = Facts {
        diagnostics,
        ..Facts::default()
    };
    let own: HashMap<&str, &str> = entries
        .iter()
        .map(|e| (e.name.as_str(), e.value.as_str()))
        .collect();
    for entry in &entries {
        let (value, _) = interpolate(&entry.value, &|name| own.get(name).map(|v| v.to_string()));
        reference(&mut facts, file, &entry.name, &value, entry.span);
        facts.env.push(EnvAssignment {
            subject: Subject::File,
            name: entry.name.clone(),
            value,
            provenance: file.provenance(entry.span, Rule::ConfigReference),
        });
    }
    facts
}

fn read_structured(file: &SourceFile) -> Facts {
    let mut facts = Facts::default();
    let arena = yaml::Arena::new();
    match yaml::parse_documents(&arena, &file.text) {
        Ok(documents) => {
            for document in &documents {
                walk(&mut facts, file, None, document, 0);
            }
        }
        Err(error) => {
            // ERB and other templates are common in config files; they are not errors of weft's input.
            let templated = file.text.contains("<%") || file.text.contains("{{");
            let diagnostic = if templated {
                Diagnostic::new(
                    Severity::Note,
                    "template-skipped",
                    "looks like a template (ERB, Jinja or Go); not read",
                )
            } else {
                Diagnostic::warning(
                    "config-syntax",
                    format!("config file is not valid YAML or JSON: {}", error.message),
                )
                .with_hint("fix the syntax at this position, or exclude the file in weft.yaml")
            };
            facts.diagnostics.push(
                diagnostic
                    .in_file(&file.path)
                    .at(&file.text, error.location),
            );
        }
    }
    facts
}

fn walk(facts: &mut Facts, file: &SourceFile, key: Option<&str>, node: &Node, depth: usize) {
    if depth > 64 {
        return;
    }
    match node.value {
        Value::Scalar(scalar) => {
            if let Some(key) = key {
                reference(facts, file, key, scalar.text, node.span);
            }
        }
        Value::Sequence(items) => {
            for item in items {
                walk(facts, file, key, item, depth + 1);
            }
        }
        Value::Mapping(entries) => {
            for (k, v) in entries {
                walk(facts, file, k.as_str().or(key), v, depth + 1);
            }
        }
    }
}

fn read_properties(file: &SourceFile) -> Facts {
    let mut facts = Facts::default();
    let index = LineIndex::new(&file.text);
    for (line_start, line) in crate::text::lines(&file.text) {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with(['#', '!']) {
            continue;
        }
        let Some(separator) = trimmed.find(['=', ':']) else {
            continue;
        };
        let key = trimmed[..separator].trim();
        let value = trimmed[separator + 1..].trim();
        let value_offset = line_start
            + (line.len() - trimmed.len())
            + separator
            + 1
            + (trimmed[separator + 1..].len() - trimmed[separator + 1..].trim_start().len());
        let span = Span::new(
            index.location(&file.text, value_offset),
            index.location(&file.text, value_offset + value.len()),
        );
        reference(&mut facts, file, key, value, span);
    }
    facts
}

/// Replaces `${NAME:default}` (Spring) and `${NAME:-default}` (shell) by
/// their default, and other placeholders by nothing, so that
/// `mongodb://${db:carts-db}:27017` reads as `mongodb://carts-db:27017`.
fn strip_placeholders(value: &str) -> String {
    if !value.contains("${") {
        return value.to_string();
    }
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let inner = &after[..end];
        if let Some((_, default)) = inner.split_once(':') {
            out.push_str(default.strip_prefix('-').unwrap_or(default));
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(facts: &Facts) -> Vec<(String, u32)> {
        facts
            .references
            .iter()
            .map(|r| match &r.target {
                Target::Host(h) => (h.clone(), r.provenance.line),
                Target::Service(s) => (s.name.clone(), r.provenance.line),
            })
            .collect()
    }

    #[test]
    fn classifies_file_names() {
        assert_eq!(format_of(".env"), Some(ConfigFormat::Dotenv));
        assert_eq!(format_of("db.env"), Some(ConfigFormat::Dotenv));
        assert_eq!(
            format_of(".env.production.sample"),
            Some(ConfigFormat::Dotenv)
        );
        assert_eq!(format_of("config.json"), Some(ConfigFormat::Structured));
        assert_eq!(
            format_of("application-docker.yml"),
            Some(ConfigFormat::Structured)
        );
        assert_eq!(
            format_of("application.properties"),
            Some(ConfigFormat::Properties)
        );
        assert_eq!(format_of("compose.yaml"), None);
    }

    #[test]
    fn dotenv_references_with_nested_interpolation() {
        let file = SourceFile::new(
            ".env",
            "COLLECTOR_HOST=otel-collector\nOTLP=http://${COLLECTOR_HOST}:4317\nLOG_LEVEL=info\n",
        );
        let facts = read(&file, ConfigFormat::Dotenv);
        assert_eq!(
            hosts(&facts),
            [
                ("otel-collector".to_string(), 1),
                ("otel-collector".to_string(), 2)
            ]
        );
        assert_eq!(facts.env.len(), 3);
    }

    #[test]
    fn json_yaml_and_properties() {
        let json = SourceFile::new(
            "config.json",
            "{\n  \"db\": {\"url\": \"mongodb://mongo:27017\"},\n  \"name\": \"x\"\n}\n",
        );
        assert_eq!(
            hosts(&read(&json, ConfigFormat::Structured)),
            [("mongo".to_string(), 2)]
        );
        let yaml = SourceFile::new(
            "application.yml",
            "eureka:\n  client:\n    serviceUrl:\n      defaultZone: http://discovery-server:8761/eureka/\n---\nspring: {rabbitmq: {host: rabbitmq}}\n",
        );
        assert_eq!(
            hosts(&read(&yaml, ConfigFormat::Structured)),
            [
                ("discovery-server".to_string(), 4),
                ("rabbitmq".to_string(), 6)
            ]
        );
        let properties = SourceFile::new(
            "application.properties",
            "# c\nspring.data.mongodb.uri=mongodb://${db:carts-db}:27017/data\nendpoints.x: http://${zipkin_host:zipkin}:9411/\n",
        );
        let facts = read(&properties, ConfigFormat::Properties);
        assert_eq!(
            hosts(&facts),
            [("carts-db".to_string(), 2), ("zipkin".to_string(), 3)]
        );
        assert_eq!(facts.references[0].provenance.column, 25);
    }

    #[test]
    fn templates_are_notes_not_errors() {
        let file = SourceFile::new(
            "config.yml",
            "default: &default\n  host: <%= ENV.fetch(\"DB_HOST\") { \"db\" } %>\n  x: [\n",
        );
        let facts = read(&file, ConfigFormat::Structured);
        assert_eq!(facts.diagnostics[0].severity, Severity::Note);
    }
}
