//! Candidate files parsed into YAML documents: templates noted, syntax
//! errors reported, and the readable documents of a broken file kept.

use weft_model::span::LineIndex;
use weft_model::yaml::{Arena, Node, YamlError, parse_documents, parse_documents_fully};
use weft_model::{Diagnostic, Severity, Span};

use crate::facts::SourceFile;

/// A file split into more documents than this is not re-read document by
/// document after a syntax error.
const MAX_SALVAGED_DOCUMENTS: usize = 200;

/// Parses a file into documents, reporting what does not parse. After a
/// syntax error the file is read again one `---` document at a time, so that
/// one broken document does not hide the others. The documents live in
/// `arena`.
pub(super) fn parse<'a>(
    arena: &'a Arena,
    file: &'a SourceFile,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<Node<'a>> {
    let error = match parse_documents(arena, &file.text) {
        Ok(documents) => return documents,
        Err(error) => error,
    };
    if let Some(note) = template_note(file, "looks like a Helm or Go template; not read") {
        diagnostics.push(note);
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
        // The full reader, whose tree does not borrow the text: the text
        // (as long as the file up to here) is not kept for every document.
        match parse_documents_fully(arena, &text) {
            Ok(parsed) => documents.extend(parsed),
            Err(error) => diagnostics.push(syntax_error(file, &error)),
        }
    }
    documents
}

/// A note that a file holding `{{` is a template, at its first `{{`; `None`
/// for a file without one.
pub(super) fn template_note(file: &SourceFile, message: impl Into<String>) -> Option<Diagnostic> {
    let offset = file.text.find("{{")?;
    let location = LineIndex::new(&file.text).location(&file.text, offset);
    Some(
        file.diagnostic(
            Diagnostic::new(Severity::Note, "template-skipped", message)
                .with_hint("render it first (`helm template`) and point weft at the output"),
            Span::point(location),
        ),
    )
}

fn syntax_error(file: &SourceFile, error: &YamlError) -> Diagnostic {
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

#[cfg(test)]
mod tests {
    use weft_model::Severity;

    use super::super::{read_texts, service_names};

    #[test]
    fn templates_are_noted_and_syntax_errors_reported_by_document() {
        let template = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include \"chart.fullname\" . }}
spec:
  replicas: {{ .Values.replicas }}
";
        let broken = "\
apiVersion: v1
kind: Secret
metadata: {name: first}
---
apiVersion: v1
kind: ConfigMap
metadata: [name: broken
---
apiVersion: v1
kind: Secret
metadata: {name: last}
";
        let unparsable =
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ .Values.name }}-{{ .Release }}\n";
        let facts = read_texts(&[
            ("templates/deployment.yaml", template),
            ("broken.yaml", broken),
            ("templates/secret.yaml", unparsable),
        ]);
        assert_eq!(
            service_names(&facts),
            [
                "kubernetes:default/secret:first",
                "kubernetes:default/secret:last"
            ]
        );
        let found: Vec<_> = facts
            .diagnostics
            .iter()
            .map(|d| (d.severity, d.code.as_str(), d.file.as_deref(), d.line))
            .collect();
        assert_eq!(
            found,
            [
                (Severity::Error, "yaml-syntax", Some("broken.yaml"), Some(8)),
                (
                    Severity::Note,
                    "template-skipped",
                    Some("templates/secret.yaml"),
                    Some(4)
                ),
                (
                    Severity::Note,
                    "template-skipped",
                    Some("templates/deployment.yaml"),
                    Some(4)
                ),
            ]
        );
        assert!(facts.diagnostics[1].hint.is_some());
    }
}
