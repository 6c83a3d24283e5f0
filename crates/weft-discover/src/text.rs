//! Line-oriented reading for the simple formats (`.env`, Procfile,
//! `.properties`).

/// The lines of a text without their line breaks, each with the byte offset
/// where it starts.
pub(crate) fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut offset = 0;
    text.split_inclusive('\n').map(move |raw| {
        let start = offset;
        offset += raw.len();
        (start, raw.trim_end_matches(['\n', '\r']))
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn offsets_and_line_breaks() {
        let lines: Vec<(usize, &str)> = super::lines("a\r\nbc\n\nd").collect();
        assert_eq!(lines, [(0, "a"), (3, "bc"), (6, ""), (7, "d")]);
    }
}
