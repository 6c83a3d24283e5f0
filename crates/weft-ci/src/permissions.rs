//! `permissions:` of a workflow or job, as far as `contents` goes.

use weft_model::Location;
use weft_model::yaml::Node;

/// What the workflow's `GITHUB_TOKEN` may do to the repository's contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentsAccess {
    Write,
    Read,
    None,
    /// An expression or a value weft does not know.
    Unknown,
}

/// A `permissions:` key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permissions {
    pub contents: ContentsAccess,
    /// Where the key is.
    pub location: Location,
    /// How it reads, for messages: `contents: read`, `{}`, `read-all`.
    pub summary: String,
}

impl Permissions {
    /// Reads the value of a `permissions:` key at `location`.
    pub fn read(value: &Node, location: Location) -> Permissions {
        let (contents, summary) = if let Some(text) = value.as_str() {
            let contents = match text {
                "write-all" => ContentsAccess::Write,
                "read-all" => ContentsAccess::Read,
                _ => ContentsAccess::Unknown,
            };
            (contents, format!("permissions: {text}"))
        } else if value.as_mapping().is_some() || value.is_null() {
            match value.get("contents").map(|c| c.as_str()) {
                Some(Some("write")) => (ContentsAccess::Write, "contents: write".into()),
                Some(Some("read")) => (ContentsAccess::Read, "contents: read".into()),
                Some(Some("none")) => (ContentsAccess::None, "contents: none".into()),
                Some(_) => (ContentsAccess::Unknown, "contents: …".into()),
                None if value.as_mapping().is_some_and(|m| m.is_empty()) || value.is_null() => {
                    (ContentsAccess::None, "permissions: {}".into())
                }
                None => (ContentsAccess::None, "no `contents` permission".into()),
            }
        } else {
            (ContentsAccess::Unknown, "permissions".into())
        };
        Permissions {
            contents,
            location,
            summary,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_model::yaml::{Arena, parse_one};

    fn contents(yaml: &str) -> ContentsAccess {
        let arena = Arena::new();
        let root = parse_one(&arena, yaml).unwrap();
        Permissions::read(root.get("permissions").unwrap(), Location::default()).contents
    }

    #[test]
    fn forms_of_permissions() {
        assert_eq!(contents("permissions: write-all"), ContentsAccess::Write);
        assert_eq!(contents("permissions: read-all"), ContentsAccess::Read);
        assert_eq!(contents("permissions: {}"), ContentsAccess::None);
        assert_eq!(
            contents("permissions:\n  contents: write\n"),
            ContentsAccess::Write
        );
        assert_eq!(
            contents("permissions:\n  contents: read\n"),
            ContentsAccess::Read
        );
        assert_eq!(
            contents("permissions:\n  pull-requests: write\n"),
            ContentsAccess::None
        );
        assert_eq!(contents("permissions: ${{ x }}"), ContentsAccess::Unknown);
    }
}
