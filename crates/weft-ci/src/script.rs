//! Maps a position in a `run:` script back to the workflow file.
//!
//! YAML removes a block scalar's indentation and a quoted scalar's quotes, so
//! offsets in the script are not offsets in the file. Each script line is
//! found in the file, in order, from where the value starts; a line that
//! cannot be found (folded or escaped text) points at the start of the value.

use weft_model::{LineIndex, Location};

use crate::workflow::Script;

/// Where each line of a script is in its file.
#[derive(Debug)]
pub(crate) struct ScriptMap {
    /// Per script line: its byte offset in the script, and the file offset
    /// of its first non-blank character with that character's offset in the
    /// script line, when found.
    lines: Vec<(usize, Option<(usize, usize)>)>,
    fallback: Location,
    index: LineIndex,
}

impl ScriptMap {
    pub(crate) fn new(file: &str, script: &Script) -> ScriptMap {
        let mut lines = Vec::new();
        let mut cursor = script.location.offset.min(file.len());
        let mut start = 0;
        for line in script.text.split('\n') {
            let trimmed = line.trim_start();
            let found = if trimmed.trim_end().is_empty() {
                None
            } else {
                let needle = trimmed.trim_end();
                file.get(cursor..)
                    .and_then(|rest| rest.find(needle))
                    .map(|position| {
                        let at = cursor + position;
                        cursor = at + needle.len();
                        (at, line.len() - trimmed.len())
                    })
            };
            lines.push((start, found));
            start += line.len() + 1;
        }
        ScriptMap {
            lines,
            fallback: script.location,
            index: LineIndex::new(file),
        }
    }

    /// The file location of byte `offset` of the script.
    pub(crate) fn locate(&self, file: &str, offset: usize) -> Location {
        let line = self.lines.partition_point(|(start, _)| *start <= offset);
        let Some((start, Some((at, indent)))) = line.checked_sub(1).and_then(|i| self.lines.get(i))
        else {
            return self.fallback;
        };
        let within = (offset - start).saturating_sub(*indent);
        self.index.location(file, at + within)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::Workflow;

    fn locate(text: &str, needle: &str) -> (u32, u32) {
        let workflow = Workflow::parse("w.yml", text).unwrap();
        let script = workflow.jobs[0].steps[0].run.clone().unwrap();
        let map = ScriptMap::new(text, &script);
        let offset = script.text.find(needle).unwrap();
        let location = map.locate(text, offset);
        (location.line, location.column)
    }

    #[test]
    fn block_scalars_map_line_by_line() {
        let text = "on: push\njobs:\n  a:\n    steps:\n      - run: |\n          git add .\n            git push origin main\n";
        assert_eq!(locate(text, "git push"), (7, 13));
        assert_eq!(locate(text, "main"), (7, 29));
    }

    #[test]
    fn plain_and_quoted_scalars() {
        let text = "on: push\njobs:\n  a:\n    steps:\n      - run: git push\n";
        assert_eq!(locate(text, "push"), (5, 18));
        let text = "on: push\njobs:\n  a:\n    steps:\n      - run: \"git push\"\n";
        assert_eq!(locate(text, "git"), (5, 15));
    }
}
