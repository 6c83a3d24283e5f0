//! `concurrency:` of a workflow or job.

use weft_model::Location;
use weft_model::yaml::Node;

/// Whether a newer run cancels the one in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cancel {
    No,
    Yes,
    /// An expression, decided per run.
    Conditional(String),
}

/// A concurrency group.
///
/// GitHub runs one member of a group at a time and keeps one pending; a
/// third arrival cancels the pending one, unless `queue: max` lets up to
/// 100 wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Concurrency {
    /// The group, as written (an expression such as
    /// `${{ github.workflow }}-${{ github.ref }}` or a literal).
    pub group: String,
    pub cancel: Cancel,
    /// `queue: max`: pending runs wait instead of being cancelled.
    pub queue: bool,
    /// Where the `concurrency:` key is.
    pub location: Location,
    /// Where `cancel-in-progress` is, when written.
    pub cancel_location: Option<Location>,
}

impl Concurrency {
    /// Reads the value of a `concurrency:` key at `location`.
    pub fn read(value: &Node, location: Location) -> Option<Concurrency> {
        if let Some(group) = value.as_str() {
            return Some(Concurrency {
                group: group.to_string(),
                cancel: Cancel::No,
                queue: false,
                location,
                cancel_location: None,
            });
        }
        let group = value.get("group")?.as_str()?.to_string();
        let entry = value.entry("cancel-in-progress");
        let cancel = match entry.map(|(_, v)| v) {
            None => Cancel::No,
            Some(node) => match (node.as_bool(), node.as_str()) {
                (Some(true), _) => Cancel::Yes,
                (Some(false), _) => Cancel::No,
                (None, Some(text)) if text.trim() == "true" => Cancel::Yes,
                (None, Some(text)) if text.trim() == "false" => Cancel::No,
                (None, Some(text)) => Cancel::Conditional(text.to_string()),
                (None, None) => Cancel::No,
            },
        };
        let queue = value
            .get("queue")
            .and_then(Node::as_str)
            .is_some_and(|q| q.trim() != "single");
        Some(Concurrency {
            group,
            cancel,
            queue,
            location,
            cancel_location: entry.map(|(key, _)| key.span.start),
        })
    }

    /// The group as it names runs of `workflow`: `${{ github.workflow }}`
    /// becomes the workflow's name, and case is ignored, as GitHub does, so
    /// two workflows share a group only when the rest is the same.
    pub fn key(&self, workflow: &str) -> String {
        let mut key = self.group.to_lowercase();
        for spelling in ["${{ github.workflow }}", "${{github.workflow}}"] {
            key = key.replace(spelling, &format!("<{}>", workflow.to_lowercase()));
        }
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_model::yaml::{Arena, parse_one};

    fn read(yaml: &str) -> Concurrency {
        let arena = Arena::new();
        let root = parse_one(&arena, yaml).unwrap();
        Concurrency::read(root.get("concurrency").unwrap(), Location::default()).unwrap()
    }

    #[test]
    fn strings_and_mappings() {
        let plain = read("concurrency: push-main");
        assert_eq!(
            (plain.group.as_str(), &plain.cancel, plain.queue),
            ("push-main", &Cancel::No, false)
        );
        let queued = read("concurrency:\n  group: x\n  cancel-in-progress: false\n  queue: max\n");
        assert!(queued.queue && queued.cancel == Cancel::No && queued.cancel_location.is_some());
        assert_eq!(
            read("concurrency:\n  group: x\n  cancel-in-progress: true\n").cancel,
            Cancel::Yes
        );
        assert!(matches!(
            read("concurrency:\n  group: x\n  cancel-in-progress: ${{ github.ref != 'refs/heads/main' }}\n").cancel,
            Cancel::Conditional(_)
        ));
    }

    #[test]
    fn keys_name_the_workflow() {
        let group = read("concurrency: ${{ github.workflow }}-${{ github.ref }}");
        assert_ne!(group.key("A"), group.key("B"));
        assert_eq!(
            read("concurrency: Push").key("A"),
            read("concurrency: push").key("B")
        );
    }
}
