//! Splits a shell script into words and operators, roughly the way bash does.
//!
//! Good enough to find commands in the `run:` scripts of CI workflows: quotes,
//! escapes, comments, line continuations, `$(…)`, `${…}`, GitHub's `${{ … }}`
//! expressions, redirections and here-documents are understood; nothing is
//! expanded. It never fails: unterminated quotes run to the end of the text.

/// A word of a command, with its quotes removed and nothing expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// The word as the command sees it, before expansion (`"a b"` is `a b`,
    /// `$X` stays `$X`).
    pub text: String,
    /// Byte offset of the word in the script.
    pub offset: usize,
    /// Whether any part of the word was quoted (a quoted word is never a keyword).
    pub quoted: bool,
}

/// A control operator: what separates and joins commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// `;` or a line break.
    End,
    /// `;;`, which ends an item of `case`.
    CaseEnd,
    And,
    Or,
    Pipe,
    /// `&`: run in the background.
    Background,
    OpenParen,
    CloseParen,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    Word(Word),
    Operator(Operator, usize),
}

/// Splits `script` into tokens.
pub fn tokens(script: &str) -> Vec<Token> {
    Lexer::new(script).run()
}

struct Lexer<'s> {
    text: &'s str,
    bytes: &'s [u8],
    at: usize,
    tokens: Vec<Token>,
    /// Here-document delimiters waiting for the next line break:
    /// (delimiter, whether `<<-` strips leading tabs).
    heredocs: Vec<(String, bool)>,
}

fn is_meta(byte: u8) -> bool {
    matches!(
        byte,
        b' ' | b'\t' | b'\r' | b'\n' | b';' | b'&' | b'|' | b'(' | b')' | b'<' | b'>'
    )
}

impl<'s> Lexer<'s> {
    fn new(text: &'s str) -> Self {
        Lexer {
            text,
            bytes: text.as_bytes(),
            at: 0,
            tokens: Vec::new(),
            heredocs: Vec::new(),
        }
    }

    fn peek(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.at + ahead).copied()
    }

    fn operator(&mut self, operator: Operator, length: usize) {
        self.tokens.push(Token::Operator(operator, self.at));
        self.at += length;
    }

    fn run(mut self) -> Vec<Token> {
        while let Some(byte) = self.peek(0) {
            match byte {
                b' ' | b'\t' | b'\r' => self.at += 1,
                b'\\' if self.peek(1) == Some(b'\n') => self.at += 2,
                b'\n' => {
                    self.operator(Operator::End, 1);
                    self.skip_heredocs();
                }
                b'#' => self.skip_comment(),
                b';' if self.peek(1) == Some(b';') => self.operator(Operator::CaseEnd, 2),
                b';' => self.operator(Operator::End, 1),
                b'&' if self.peek(1) == Some(b'&') => self.operator(Operator::And, 2),
                b'&' if self.peek(1) == Some(b'>') => self.redirection(),
                b'&' => self.operator(Operator::Background, 1),
                b'|' if self.peek(1) == Some(b'|') => self.operator(Operator::Or, 2),
                b'|' if self.peek(1) == Some(b'&') => self.operator(Operator::Pipe, 2),
                b'|' => self.operator(Operator::Pipe, 1),
                b'(' if self.peek(1) == Some(b'(') => self.arithmetic(),
                b'(' => self.operator(Operator::OpenParen, 1),
                b')' => self.operator(Operator::CloseParen, 1),
                b'<' | b'>' => self.redirection(),
                _ => {
                    let word = self.word();
                    // `2>file`: the digits name a file descriptor, not a word.
                    let fd = matches!(self.peek(0), Some(b'<' | b'>'))
                        && !word.quoted
                        && !word.text.is_empty()
                        && word.text.bytes().all(|b| b.is_ascii_digit());
                    if !fd {
                        self.tokens.push(Token::Word(word));
                    }
                }
            }
        }
        self.tokens
    }

    fn skip_comment(&mut self) {
        while let Some(byte) = self.peek(0) {
            if byte == b'\n' {
                break;
            }
            self.at += 1;
        }
    }

    /// `((…))` as one word, so the `<` and `&&` inside are not operators.
    fn arithmetic(&mut self) {
        let start = self.at;
        let mut depth = 0usize;
        while let Some(byte) = self.peek(0) {
            self.at += 1;
            match byte {
                b'(' => depth += 1,
                b')' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        break;
                    }
                }
                _ => {}
            }
        }
        self.tokens.push(Token::Word(Word {
            text: self.text[start..self.at].to_string(),
            offset: start,
            quoted: false,
        }));
    }

    /// A redirection and its target, which is not a word of the command. A
    /// here-document's body is skipped at the next line break.
    fn redirection(&mut self) {
        let start = self.at;
        while let Some(byte) = self.peek(0) {
            if matches!(byte, b'<' | b'>' | b'&' | b'|' | b'-') && self.at - start < 3 {
                self.at += 1;
            } else {
                break;
            }
        }
        let operator = &self.text[start..self.at];
        let heredoc = operator.starts_with("<<") && !operator.starts_with("<<<");
        while matches!(self.peek(0), Some(b' ' | b'\t')) {
            self.at += 1;
        }
        if self.peek(0).is_some_and(|b| !is_meta(b)) {
            let target = self.word();
            if heredoc {
                self.heredocs.push((target.text, operator.ends_with('-')));
            }
        }
    }

    /// After a line break: skips the bodies of pending here-documents.
    fn skip_heredocs(&mut self) {
        for (delimiter, strip_tabs) in std::mem::take(&mut self.heredocs) {
            loop {
                if self.at >= self.bytes.len() {
                    return;
                }
                let end = self.text[self.at..]
                    .find('\n')
                    .map_or(self.bytes.len(), |i| self.at + i);
                let line = &self.text[self.at..end];
                let line = if strip_tabs {
                    line.trim_start_matches('\t')
                } else {
                    line
                };
                self.at = (end + 1).min(self.bytes.len());
                if line.trim_end_matches('\r') == delimiter {
                    break;
                }
            }
        }
    }

    /// One word: everything up to an unquoted metacharacter.
    fn word(&mut self) -> Word {
        let offset = self.at;
        let mut text = String::new();
        let mut quoted = false;
        while let Some(byte) = self.peek(0) {
            match byte {
                _ if is_meta(byte) => break,
                b'\\' => {
                    self.at += 1;
                    if let Some(next) = self.next_char().filter(|c| *c != '\n') {
                        text.push(next);
                    }
                    quoted = true;
                }
                b'\'' => {
                    quoted = true;
                    self.at += 1;
                    let end = self.text[self.at..]
                        .find('\'')
                        .map_or(self.bytes.len(), |i| self.at + i);
                    text.push_str(&self.text[self.at..end]);
                    self.at = (end + 1).min(self.bytes.len());
                }
                b'"' => {
                    quoted = true;
                    self.at += 1;
                    self.double_quoted(&mut text);
                }
                b'`' => {
                    let start = self.at;
                    self.at += 1;
                    self.skip_until(b'`');
                    text.push_str(&self.text[start..self.at]);
                }
                b'$' => self.dollar(&mut text),
                _ => {
                    if let Some(next) = self.next_char() {
                        text.push(next);
                    }
                }
            }
        }
        Word {
            text,
            offset,
            quoted,
        }
    }

    fn next_char(&mut self) -> Option<char> {
        let next = self.text[self.at..].chars().next()?;
        self.at += next.len_utf8();
        Some(next)
    }

    /// The inside of `"…"`, up to and past the closing quote.
    fn double_quoted(&mut self, text: &mut String) {
        while let Some(byte) = self.peek(0) {
            match byte {
                b'"' => {
                    self.at += 1;
                    return;
                }
                b'\\' => {
                    self.at += 1;
                    match self.peek(0) {
                        Some(b'"' | b'\\' | b'$' | b'`') => {
                            if let Some(next) = self.next_char() {
                                text.push(next);
                            }
                        }
                        Some(b'\n') => self.at += 1,
                        _ => text.push('\\'),
                    }
                }
                b'$' => self.dollar(text),
                b'`' => {
                    let start = self.at;
                    self.at += 1;
                    self.skip_until(b'`');
                    text.push_str(&self.text[start..self.at]);
                }
                _ => {
                    if let Some(next) = self.next_char() {
                        text.push(next);
                    }
                }
            }
        }
    }

    /// `$name`, `${…}`, `$(…)`, `$((…))`, `$'…'` and GitHub's `${{ … }}`,
    /// copied as written.
    fn dollar(&mut self, text: &mut String) {
        let start = self.at;
        self.at += 1;
        match self.peek(0) {
            Some(b'{') if self.peek(1) == Some(b'{') => {
                let end = self.text[self.at..]
                    .find("}}")
                    .map_or(self.bytes.len(), |i| self.at + i + 2);
                self.at = end;
            }
            Some(b'{') => {
                self.at += 1;
                self.skip_nested(b'{', b'}');
            }
            Some(b'(') => {
                self.at += 1;
                self.skip_nested(b'(', b')');
            }
            Some(b'\'') => {
                self.at += 1;
                while let Some(byte) = self.peek(0) {
                    self.at += 1;
                    match byte {
                        b'\\' => self.at += 1,
                        b'\'' => break,
                        _ => {}
                    }
                }
                self.at = self.at.min(self.bytes.len());
            }
            _ => {}
        }
        text.push_str(&self.text[start..self.at]);
    }

    /// Skips to just past the `close` that balances an already consumed
    /// `open`, stepping over quoted text.
    fn skip_nested(&mut self, open: u8, close: u8) {
        let mut depth = 1usize;
        while let Some(byte) = self.peek(0) {
            self.at += 1;
            match byte {
                b'\\' => self.at = (self.at + 1).min(self.bytes.len()),
                b'\'' if open == b'(' => self.skip_until(b'\''),
                b'"' => {
                    let mut ignored = String::new();
                    self.double_quoted(&mut ignored);
                }
                _ if byte == open => depth += 1,
                _ if byte == close => {
                    depth -= 1;
                    if depth == 0 {
                        return;
                    }
                }
                _ => {}
            }
        }
    }

    /// Skips to just past the next `end`.
    fn skip_until(&mut self, end: u8) {
        while let Some(byte) = self.peek(0) {
            self.at += 1;
            if byte == b'\\' && end != b'\'' {
                self.at = (self.at + 1).min(self.bytes.len());
            } else if byte == end {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(script: &str) -> Vec<String> {
        tokens(script)
            .into_iter()
            .map(|token| match token {
                Token::Word(word) => word.text,
                Token::Operator(operator, _) => format!("<{operator:?}>"),
            })
            .collect()
    }

    #[test]
    fn quotes_escapes_and_operators() {
        assert_eq!(
            words("git commit -m \"a \\\"b\\\" c\" && git push origin 'HEAD:main' || exit 1"),
            [
                "git",
                "commit",
                "-m",
                "a \"b\" c",
                "<And>",
                "git",
                "push",
                "origin",
                "HEAD:main",
                "<Or>",
                "exit",
                "1"
            ]
        );
    }

    #[test]
    fn expressions_and_substitutions_stay_one_word() {
        assert_eq!(
            words("git push origin HEAD:${{ github.ref }} $(git rev-parse --abbrev-ref HEAD)"),
            [
                "git",
                "push",
                "origin",
                "HEAD:${{ github.ref }}",
                "$(git rev-parse --abbrev-ref HEAD)"
            ]
        );
    }

    #[test]
    fn comments_continuations_and_redirections_are_not_words() {
        assert_eq!(
            words("# git push\ngit \\\n  push 2>&1 > /dev/null # trailing"),
            ["<End>", "git", "push"]
        );
    }

    #[test]
    fn heredoc_bodies_are_skipped() {
        assert_eq!(
            words("cat <<'EOF' > notes\ngit push\nEOF\ngit fetch\n"),
            ["cat", "<End>", "git", "fetch", "<End>"]
        );
    }

    #[test]
    fn arithmetic_is_one_word() {
        assert_eq!(
            words("for ((i=0; i<3 && j; i++)); do :; done"),
            [
                "for",
                "((i=0; i<3 && j; i++))",
                "<End>",
                "do",
                ":",
                "<End>",
                "done"
            ]
        );
    }

    #[test]
    fn unterminated_input_does_not_panic() {
        for script in [
            "'",
            "\"",
            "$(",
            "${{",
            "`",
            "\\",
            "<<",
            "cat <<EOF\nx",
            "é'ü",
        ] {
            let _ = tokens(script);
        }
    }
}
