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

mod ingress;
mod objects;
mod pods;
mod services;

use std::collections::{BTreeMap, BTreeSet};

use weft_model::span::LineIndex;
use weft_model::yaml::{Node, parse_documents};
use weft_model::{Diagnostic, Rule, Severity, Span};

use crate::facts::{EnvAssignment, Facts, ServiceFact, SourceFile, SourceKind, Subject};
use objects::{Class, Object};

/// A file split into more documents than this is not re-read document by
/// document after a syntax error.
const MAX_SALVAGED_DOCUMENTS: usize = 200;

/// Reads every Kubernetes object in the given files of one repository.
///
/// Documents without both `apiVersion` and `kind` are other YAML and are
/// skipped without a word.
pub fn read(files: &[SourceFile]) -> Facts {
    let mut facts = Facts::default();
    let parsed: Vec<(&SourceFile, Vec<Node>)> = files
        .iter()
        .map(|file| (file, parse(file, &mut facts.diagnostics)))
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

/// Parses a file into documents, reporting what does not parse. After a
/// syntax error the file is read again one `---` document at a time, so that
/// one broken document does not hide the others.
fn parse(file: &SourceFile, diagnostics: &mut Vec<Diagnostic>) -> Vec<Node> {
    let error = match parse_documents(&file.text) {
        Ok(documents) => return documents,
        Err(error) => error,
    };
    if let Some(offset) = file.text.find("{{") {
        let location = LineIndex::new(&file.text).location(&file.text, offset);
        diagnostics.push(
            file.diagnostic(
                Diagnostic::new(
                    Severity::Note,
                    "template-skipped",
                    "looks like a Helm or Go template; not read",
                )
                .with_hint("render it first (`helm template`) and point weft at the output"),
                Span::point(location),
            ),
        );
        return Vec::new();
    }
    let starts = document_starts(&file.text);
    if starts.len() < 2 || starts.len() > MAX_SALVAGED_DOCUMENTS {
        diagnostics.push(syntax_error(file, &error));
        return Vec::new();
    }
    let mut documents = Vec::new();
    let ends = starts.iter().skip(1).copied().chain([file.text.len()]);
    for (start, end) in starts.iter().copied().zip(ends) {
        // Blank out what comes before the document so that spans stay those
        // of the whole file.
        let mut text: String = file.text[..start]
            .bytes()
            .map(|byte| if byte == b'\n' { '\n' } else { ' ' })
            .collect();
        text.push_str(&file.text[start..end]);
        match parse_documents(&text) {
            Ok(parsed) => documents.extend(parsed),
            Err(error) => diagnostics.push(syntax_error(file, &error)),
        }
    }
    documents
}

fn syntax_error(file: &SourceFile, error: &weft_model::yaml::YamlError) -> Diagnostic {
    file.diagnostic(
        Diagnostic::error("yaml-syntax", format!("invalid YAML: {}", error.message)).with_hint(
            "fix the syntax; the Kubernetes objects of this document are not read until it parses",
        ),
        Span::point(error.location),
    )
}

/// Byte offsets where documents start: the start of the text and every
/// `---` separator line.
fn document_starts(text: &str) -> Vec<usize> {
    let mut starts = vec![0];
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let is_separator = line
            .strip_prefix("---")
            .is_some_and(|rest| rest.trim().is_empty() || rest.starts_with([' ', '\t']));
        if is_separator && offset > 0 {
            starts.push(offset);
        }
        offset += line.len();
    }
    starts
}

/// Turns the collected objects into facts.
fn read_objects(objects: &[Object<'_>], facts: &mut Facts) {
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
                pods::read_pod_spec(object, &own_names, facts);
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
