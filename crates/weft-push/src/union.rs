//! The `union` policy: a three-way line merge that keeps the lines both
//! sides added and drops the lines either side deleted.
//!
//! git aligns the three versions (`git merge-file --diff3`): regions only one
//! side changed are merged by git as usual. Inside each conflicting hunk,
//! with B the base's lines, T theirs and M mine, every distinct line `l`
//! appears `min(B,T,M)` times (base copies neither side deleted) plus
//! `max(T−min(B,T), M−min(B,M))` times (copies a side added; an addition
//! both sides made is kept once). Their lines come first, in their order,
//! then the lines only mine added, in mine's order: a stable order that
//! puts what landed first first. Unlike `git merge-file --union`, a line one
//! side deleted is never resurrected from the other side's context.

use std::collections::HashMap;
use std::path::Path;

use crate::error::PushError;
use crate::git::Git;

/// How long git's conflict markers are made, so that file content cannot
/// be mistaken for them.
pub(crate) const MARKER_SIZE: usize = 41;

/// Whether bytes look binary (a NUL in the first 8000 bytes, as git decides).
pub(crate) fn is_binary(bytes: &[u8]) -> bool {
    bytes.iter().take(8000).any(|&b| b == 0)
}

/// The union of three versions of a file: `git merge-file` aligns them,
/// [`resolve_diff3`] resolves its conflicting hunks.
pub(crate) fn merge(
    git: &Git,
    git_dir: &Path,
    path: &str,
    base: &[u8],
    theirs: &[u8],
    mine: &[u8],
) -> Result<Vec<u8>, PushError> {
    let merged = merge_file(git, git_dir, path, base, theirs, mine)?;
    let mut resolved = resolve_diff3(&merged);
    let ends_without_newline = |bytes: &[u8]| !bytes.is_empty() && !bytes.ends_with(b"\n");
    if ends_without_newline(mine) && ends_without_newline(theirs) && resolved.ends_with(b"\n") {
        resolved.pop();
    }
    Ok(resolved)
}

/// `git merge-file -p --diff3` of the three versions, through scratch files
/// in the git directory.
fn merge_file(
    git: &Git,
    git_dir: &Path,
    path: &str,
    base: &[u8],
    theirs: &[u8],
    mine: &[u8],
) -> Result<Vec<u8>, PushError> {
    let scratch = git_dir.join("weft-push-merge");
    fs_err::create_dir_all(&scratch).map_err(PushError::io(&scratch))?;
    let files = [
        (scratch.join("mine"), mine),
        (scratch.join("base"), base),
        (scratch.join("theirs"), theirs),
    ];
    for (file, bytes) in &files {
        fs_err::write(file, bytes).map_err(PushError::io(file))?;
    }
    let marker = format!("--marker-size={}", MARKER_SIZE);
    let arguments = [
        "merge-file",
        "-p",
        "--diff3",
        marker.as_str(),
        "-L",
        "weft-mine",
        "-L",
        "weft-base",
        "-L",
        "weft-theirs",
    ];
    let mut all: Vec<String> = arguments.iter().map(|a| a.to_string()).collect();
    for (file, _) in &files {
        all.push(file.to_string_lossy().into_owned());
    }
    let result = git.command(&all).bytes_allowing_codes();
    let _ = fs_err::remove_dir_all(&scratch);
    result.map_err(|error| PushError::Unresolvable {
        path: path.to_string(),
        policy: "union".to_string(),
        reason: error.to_string(),
    })
}

/// Resolves every conflict hunk of `git merge-file -p --diff3
/// --marker-size=MARKER_SIZE` output by union.
pub(crate) fn resolve_diff3(merged: &[u8]) -> Vec<u8> {
    #[derive(PartialEq)]
    enum Section {
        Outside,
        Mine,
        Base,
        Theirs,
    }
    let marker = |line: &[u8], byte: u8, bare: bool| -> bool {
        let content = trim_end(line);
        content.len() >= MARKER_SIZE
            && content[..MARKER_SIZE].iter().all(|&b| b == byte)
            && if bare {
                content.len() == MARKER_SIZE
            } else {
                content.len() == MARKER_SIZE || content[MARKER_SIZE] == b' '
            }
    };
    let mut output = Vec::with_capacity(merged.len());
    let mut section = Section::Outside;
    let mut mine: Vec<&[u8]> = Vec::new();
    let mut base: Vec<&[u8]> = Vec::new();
    let mut theirs: Vec<&[u8]> = Vec::new();
    for line in merged.split_inclusive(|&b| b == b'\n') {
        match section {
            Section::Outside if marker(line, b'<', false) => section = Section::Mine,
            Section::Outside => output.extend_from_slice(line),
            Section::Mine if marker(line, b'|', false) => section = Section::Base,
            Section::Mine => mine.push(line),
            Section::Base if marker(line, b'=', true) => section = Section::Theirs,
            Section::Base => base.push(line),
            Section::Theirs if marker(line, b'>', false) => {
                for kept in union_lines(&base, &theirs, &mine) {
                    output.extend_from_slice(trim_end(kept));
                    output.push(b'\n');
                }
                mine.clear();
                base.clear();
                theirs.clear();
                section = Section::Outside;
            }
            Section::Theirs => theirs.push(line),
        }
    }
    output
}

/// A line without its line ending.
fn trim_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The union of one hunk: see the module documentation.
pub(crate) fn union_lines<'a>(
    base: &[&'a [u8]],
    theirs: &[&'a [u8]],
    mine: &[&'a [u8]],
) -> Vec<&'a [u8]> {
    fn counts<'a>(lines: &[&'a [u8]]) -> HashMap<&'a [u8], usize> {
        let mut counts = HashMap::new();
        for line in lines {
            *counts.entry(trim_end(line)).or_insert(0) += 1;
        }
        counts
    }
    let (base_counts, theirs_counts, mine_counts) = (counts(base), counts(theirs), counts(mine));
    let count = |map: &HashMap<&[u8], usize>, line: &[u8]| map.get(line).copied().unwrap_or(0);
    // How many copies of each line the result keeps, and of those how many
    // their pass may place.
    let wanted = |line: &[u8]| {
        let (b, t, m) = (
            count(&base_counts, line),
            count(&theirs_counts, line),
            count(&mine_counts, line),
        );
        let kept = b.min(t).min(m);
        let added_theirs = t - b.min(t);
        let added_mine = m - b.min(m);
        (kept + added_theirs, kept + added_theirs.max(added_mine))
    };
    let mut emitted: HashMap<&[u8], usize> = HashMap::new();
    let mut result = Vec::new();
    for line in theirs {
        let key = trim_end(line);
        let (theirs_share, _) = wanted(key);
        let done = emitted.entry(key).or_insert(0);
        if *done < theirs_share {
            *done += 1;
            result.push(*line);
        }
    }
    for line in mine {
        let key = trim_end(line);
        let (_, total) = wanted(key);
        let done = emitted.entry(key).or_insert(0);
        if *done < total {
            *done += 1;
            result.push(*line);
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<&[u8]> {
        text.as_bytes()
            .split_inclusive(|&b| b == b'\n')
            .collect::<Vec<_>>()
    }

    fn union(base: &str, theirs: &str, mine: &str) -> String {
        let (base, theirs, mine) = (lines(base), lines(theirs), lines(mine));
        union_lines(&base, &theirs, &mine)
            .into_iter()
            .map(|line| String::from_utf8_lossy(trim_end(line)).into_owned() + "\n")
            .collect()
    }

    #[test]
    fn both_additions_are_kept_theirs_first() {
        assert_eq!(union("a\n", "a\nt1\nt2\n", "a\nm1\n"), "a\nt1\nt2\nm1\n");
    }

    #[test]
    fn a_line_either_side_deleted_is_not_resurrected() {
        // Theirs deleted b and added t; mine kept b and added m.
        assert_eq!(
            union("a\nb\nc\n", "a\nc\nt\n", "a\nb\nc\nm\n"),
            "a\nc\nt\nm\n"
        );
        // Mine deleted a; theirs kept it.
        assert_eq!(union("a\nb\n", "a\nb\nt\n", "b\nm\n"), "b\nt\nm\n");
    }

    #[test]
    fn the_same_addition_on_both_sides_is_kept_once() {
        assert_eq!(union("", "x\ny\n", "x\nz\n"), "x\ny\nz\n");
    }

    #[test]
    fn duplicates_are_counted() {
        // The base had two copies; theirs deleted one; mine added a third.
        assert_eq!(union("r\nr\n", "r\n", "r\nr\nr\n"), "r\nr\n");
    }

    #[test]
    fn diff3_hunks_are_replaced_and_the_rest_kept() {
        let m = |c: char| c.to_string().repeat(MARKER_SIZE);
        let text = format!(
            "head\n{} weft-mine\nm\n{} weft-base\nb\n{}\nt\n{} weft-theirs\ntail\n",
            m('<'),
            m('|'),
            m('='),
            m('>')
        );
        let resolved = resolve_diff3(text.as_bytes());
        assert_eq!(String::from_utf8(resolved).unwrap(), "head\nt\nm\ntail\n");
        // A short run of `=` in the content is content.
        let text = format!(
            "{} weft-mine\n=======\n{} weft-base\n{}\nx\n{} weft-theirs\n",
            m('<'),
            m('|'),
            m('='),
            m('>')
        );
        let resolved = resolve_diff3(text.as_bytes());
        assert_eq!(String::from_utf8(resolved).unwrap(), "x\n=======\n");
    }

    #[test]
    fn binary_is_recognised() {
        assert!(is_binary(b"a\0b"));
        assert!(!is_binary(b"plain text\n"));
    }
}
