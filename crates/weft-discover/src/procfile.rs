//! Procfiles: one process per `name: command` line.

use weft_model::{Diagnostic, LineIndex, Rule, Span};

use crate::facts::{Facts, LocalService, ServiceFact, SourceFile, SourceKind};

/// Whether a file name is a Procfile (`Procfile`, `Procfile.dev`, …).
pub fn is_procfile(file_name: &str) -> bool {
    file_name == "Procfile" || file_name.starts_with("Procfile.")
}

/// The scope of the processes of the Procfiles in one directory.
pub fn scope(directory: &str) -> String {
    format!("procfile:{directory}")
}

/// Reads the processes of a Procfile in `directory` (workspace-relative).
pub fn read(file: &SourceFile, directory: &str) -> Facts {
    let mut facts = Facts::default();
    let index = LineIndex::new(&file.text);
    for (line_start, line) in crate::text::lines(&file.text) {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let start = index.location(
            &file.text,
            line_start + (line.len() - line.trim_start().len()),
        );
        let span = Span::new(start, index.location(&file.text, line_start + line.len()));
        match trimmed.split_once(':') {
            Some((name, command))
                if !name.is_empty()
                    && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-')) =>
            {
                facts.services.push(ServiceFact {
                    service: LocalService::new(scope(directory), name),
                    source: SourceKind::Procfile,
                    image: None,
                    command: Some(command.trim().to_string()),
                    aliases: Vec::new(),
                    directory: Some(directory.to_string()),
                    provenance: file.provenance(span, Rule::ProcfileProcess),
                });
            }
            _ => facts.diagnostics.push(file.diagnostic(
                Diagnostic::warning("procfile-syntax", format!("not a `name: command` line: `{trimmed}`"))
                    .with_hint("each line of a Procfile is `name: command`; process names use letters, digits, `_` and `-`"),
                span,
            )),
        }
    }
    facts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_processes_and_flags_bad_lines() {
        let file = SourceFile::new(
            "api/Procfile",
            "web: bundle exec puma -p $PORT\n# comment\nworker:sidekiq\noops\n",
        );
        let facts = read(&file, "api");
        let names: Vec<&str> = facts
            .services
            .iter()
            .map(|s| s.service.name.as_str())
            .collect();
        assert_eq!(names, ["web", "worker"]);
        assert_eq!(facts.services[1].command.as_deref(), Some("sidekiq"));
        assert_eq!(facts.diagnostics[0].line, Some(4));
    }
}
