//! The nginx config lexer: words, quoted strings, `{`, `}` and `;` with byte
//! spans, tolerant of the templates real repositories keep configs in.
//!
//! How it works: one pass over the bytes. Between tokens it skips white space,
//! `#` comments, and Jinja statements and comments (`{% … %}`, `{# … #}`),
//! which carry no nginx meaning, and template expressions standing alone
//! where a directive would start (Go templates' `{{ if … }}`, `{{ end }}`).
//! A word runs to white space, `;`, `{` or `}`,
//! but keeps Jinja expressions (`{{ var }}`), `${VAR}` and backslash escapes
//! inside it. After the `{` of a `*_by_lua_block` directive the raw Lua body
//! is skipped by counting braces (outside Lua strings and comments).

/// What a token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// A bare word or a quoted string, unescaped.
    Word {
        text: String,
        quoted: bool,
    },
    BlockOpen,
    BlockClose,
    Semicolon,
}

/// One token and where it is: `start..end` covers the whole token (quotes
/// included); `value_start..value_end` covers its text (inside the quotes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) kind: TokenKind,
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) value_start: usize,
    pub(crate) value_end: usize,
}

/// A problem the lexer found: a string that never closes, a Lua block that
/// never ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LexError {
    pub(crate) offset: usize,
    pub(crate) message: String,
    pub(crate) hint: String,
}

/// Splits nginx config text into tokens.
#[derive(Debug)]
pub(crate) struct Lexer<'t> {
    text: &'t str,
    bytes: &'t [u8],
    position: usize,
    /// The first word of the statement being lexed, to spot `*_by_lua_block`.
    statement_head: Option<String>,
    /// Set after the `{` of a Lua block: the body is skipped next.
    in_lua_block: bool,
    pub(crate) errors: Vec<LexError>,
}

impl<'t> Lexer<'t> {
    pub(crate) fn new(text: &'t str) -> Self {
        Lexer {
            text,
            bytes: text.as_bytes(),
            position: 0,
            statement_head: None,
            in_lua_block: false,
            errors: Vec::new(),
        }
    }

    fn peek(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.position + ahead).copied()
    }

    fn starts_with(&self, prefix: &str) -> bool {
        self.bytes[self.position..].starts_with(prefix.as_bytes())
    }

    /// Moves past `closing`, or to the end of the text when it never comes.
    fn skip_past(&mut self, closing: &str) -> bool {
        let rest = &self.bytes[self.position..];
        match rest
            .windows(closing.len())
            .position(|window| window == closing.as_bytes())
        {
            Some(found) => {
                self.position += found + closing.len();
                true
            }
            None => {
                self.position = self.bytes.len();
                false
            }
        }
    }

    /// Skips white space, comments and Jinja statements and comments.
    fn skip_trivia(&mut self) {
        while let Some(byte) = self.peek(0) {
            if byte.is_ascii_whitespace() {
                self.position += 1;
            } else if byte == b'#' {
                self.skip_line();
            } else if self.starts_with("{%") {
                self.skip_past("%}");
            } else if self.starts_with("{#") {
                self.skip_past("#}");
            } else {
                break;
            }
        }
    }

    /// Skips a template expression standing alone where a directive would
    /// start: a Go template action (`{{ if .Env.X }}`, `{{ end }}`) or a whole
    /// templated line, neither of which names a directive.
    fn skip_template_statement(&mut self) -> bool {
        if !self.starts_with("{{") {
            return false;
        }
        let start = self.position;
        if !self.skip_past("}}") {
            self.position = start;
            return false;
        }
        let standalone = match self.peek(0) {
            None => true,
            Some(byte) => {
                byte.is_ascii_whitespace() || self.starts_with("{{") || self.starts_with("{%")
            }
        };
        if !standalone {
            self.position = start;
        }
        standalone
    }

    fn skip_line(&mut self) {
        match self.bytes[self.position..]
            .iter()
            .position(|&byte| byte == b'\n')
        {
            Some(found) => self.position += found + 1,
            None => self.position = self.bytes.len(),
        }
    }

    /// Skips a Lua body up to (not including) the `}` that closes it.
    fn skip_lua_body(&mut self, open: usize) {
        let mut depth = 0usize;
        while let Some(byte) = self.peek(0) {
            match byte {
                b'{' => depth += 1,
                b'}' if depth == 0 => return,
                b'}' => depth -= 1,
                b'-' if self.peek(1) == Some(b'-') => {
                    if self.starts_with("--[[") {
                        self.skip_past("]]");
                    } else {
                        self.skip_line();
                    }
                    continue;
                }
                b'[' if self.peek(1) == Some(b'[') => {
                    self.skip_past("]]");
                    continue;
                }
                b'"' | b'\'' => {
                    self.position += 1;
                    while let Some(inner) = self.peek(0) {
                        self.position += 1;
                        if inner == b'\\' {
                            self.position = (self.position + 1).min(self.bytes.len());
                        } else if inner == byte || inner == b'\n' {
                            break;
                        }
                    }
                    continue;
                }
                _ => {}
            }
            self.position += 1;
        }
        self.errors.push(LexError {
            offset: open,
            message: "Lua block is never closed".into(),
            hint: "add a `}` to close the block opened here".into(),
        });
    }

    fn quoted(&mut self, quote: u8) -> Token {
        let start = self.position;
        self.position += 1;
        let mut text = String::new();
        let mut chunk_start = self.position;
        loop {
            let Some(byte) = self.peek(0) else {
                self.errors.push(LexError {
                    offset: start,
                    message: format!("a `{}` string is never closed", quote as char),
                    hint: format!("close the string with a matching `{}`", quote as char),
                });
                text.push_str(&self.text[chunk_start..]);
                return Token {
                    kind: TokenKind::Word { text, quoted: true },
                    start,
                    end: self.bytes.len(),
                    value_start: start + 1,
                    value_end: self.bytes.len(),
                };
            };
            if byte == quote {
                text.push_str(&self.text[chunk_start..self.position]);
                let value_end = self.position;
                self.position += 1;
                return Token {
                    kind: TokenKind::Word { text, quoted: true },
                    start,
                    end: self.position,
                    value_start: start + 1,
                    value_end,
                };
            }
            if byte == b'\\' {
                text.push_str(&self.text[chunk_start..self.position]);
                let escaped = self.text[self.position + 1..].chars().next();
                match escaped {
                    Some(character) => {
                        push_unescaped(&mut text, character);
                        self.position += 1 + character.len_utf8();
                    }
                    None => {
                        text.push('\\');
                        self.position += 1;
                    }
                }
                chunk_start = self.position;
                continue;
            }
            self.position += 1;
        }
    }

    fn word(&mut self) -> Token {
        let start = self.position;
        let mut text = String::new();
        let mut chunk_start = self.position;
        while let Some(byte) = self.peek(0) {
            if byte.is_ascii_whitespace() || byte == b';' {
                break;
            }
            if self.starts_with("{{") {
                // A Jinja expression: part of the word.
                self.skip_past("}}");
                continue;
            }
            if self.starts_with("{%") || self.starts_with("{#") {
                break;
            }
            if byte == b'$' && self.peek(1) == Some(b'{') {
                // `${VAR}`: an nginx or envsubst variable, braces and all.
                self.position += 2;
                while let Some(inner) = self.peek(0) {
                    if inner == b'}' || inner == b';' || inner.is_ascii_whitespace() {
                        break;
                    }
                    self.position += 1;
                }
                if self.peek(0) == Some(b'}') {
                    self.position += 1;
                }
                continue;
            }
            if byte == b'{' || byte == b'}' {
                break;
            }
            if byte == b'\\' {
                text.push_str(&self.text[chunk_start..self.position]);
                match self.text[self.position + 1..].chars().next() {
                    Some(character) => {
                        push_unescaped(&mut text, character);
                        self.position += 1 + character.len_utf8();
                    }
                    None => {
                        text.push('\\');
                        self.position += 1;
                    }
                }
                chunk_start = self.position;
                continue;
            }
            self.position += self.text[self.position..]
                .chars()
                .next()
                .map_or(1, char::len_utf8);
        }
        text.push_str(&self.text[chunk_start..self.position]);
        Token {
            kind: TokenKind::Word {
                text,
                quoted: false,
            },
            start,
            end: self.position,
            value_start: start,
            value_end: self.position,
        }
    }

    fn single(&mut self, kind: TokenKind) -> Token {
        let start = self.position;
        self.position += 1;
        Token {
            kind,
            start,
            end: self.position,
            value_start: start,
            value_end: self.position,
        }
    }
}

/// nginx unescapes `\"`, `\'`, `\\`, `\t`, `\r` and `\n`; other escapes keep
/// their backslash.
fn push_unescaped(text: &mut String, character: char) {
    match character {
        '"' | '\'' | '\\' => text.push(character),
        't' => text.push('\t'),
        'r' => text.push('\r'),
        'n' => text.push('\n'),
        other => {
            text.push('\\');
            text.push(other);
        }
    }
}

impl Iterator for Lexer<'_> {
    type Item = Token;

    fn next(&mut self) -> Option<Token> {
        if self.in_lua_block {
            self.in_lua_block = false;
            let open = self.position.saturating_sub(1);
            self.skip_lua_body(open);
        }
        self.skip_trivia();
        while self.statement_head.is_none() && self.skip_template_statement() {
            self.skip_trivia();
        }
        let byte = self.peek(0)?;
        let token = match byte {
            b'{' if self.starts_with("{{") => self.word(),
            b'{' => self.single(TokenKind::BlockOpen),
            b'}' => self.single(TokenKind::BlockClose),
            b';' => self.single(TokenKind::Semicolon),
            b'"' | b'\'' => self.quoted(byte),
            _ => self.word(),
        };
        match &token.kind {
            TokenKind::Word { text, .. } => {
                if self.statement_head.is_none() {
                    self.statement_head = Some(text.clone());
                }
            }
            TokenKind::BlockOpen => {
                self.in_lua_block = self
                    .statement_head
                    .take()
                    .is_some_and(|head| head.ends_with("_by_lua_block"));
            }
            TokenKind::BlockClose | TokenKind::Semicolon => self.statement_head = None,
        }
        Some(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        Lexer::new(text)
            .map(|token| match token.kind {
                TokenKind::Word { text, .. } => text,
                TokenKind::BlockOpen => "{".into(),
                TokenKind::BlockClose => "}".into(),
                TokenKind::Semicolon => ";".into(),
            })
            .collect()
    }

    #[test]
    fn words_strings_and_punctuation() {
        assert_eq!(
            words("server { listen 80; # comment ;{\n add_header X \"a \\\"b\\\"\" 'c;d'; }"),
            [
                "server",
                "{",
                "listen",
                "80",
                ";",
                "add_header",
                "X",
                "a \"b\"",
                "c;d",
                ";",
                "}"
            ]
        );
    }

    #[test]
    fn spans_cover_tokens_and_values() {
        let text = "server_name \"example.com\";";
        let tokens: Vec<Token> = Lexer::new(text).collect();
        assert_eq!(&text[tokens[1].start..tokens[1].end], "\"example.com\"");
        assert_eq!(
            &text[tokens[1].value_start..tokens[1].value_end],
            "example.com"
        );
    }

    #[test]
    fn templates_stay_inside_words() {
        assert_eq!(
            words(
                "{% if x %}proxy_pass http://{{ HOST }}:80/${PATH};{% endif %}{# note #}\n{{ if .Env.X }}\nlisten {{ .Env.PORT }};{{ end }}"
            ),
            [
                "proxy_pass",
                "http://{{ HOST }}:80/${PATH}",
                ";",
                "listen",
                "{{ .Env.PORT }}",
                ";"
            ]
        );
    }

    #[test]
    fn lua_bodies_are_skipped() {
        assert_eq!(
            words("content_by_lua_block { local t = {a = \"}\"} -- }\n ngx.say(t) } listen 80;"),
            ["content_by_lua_block", "{", "}", "listen", "80", ";"]
        );
    }

    #[test]
    fn unterminated_string_is_reported() {
        let mut lexer = Lexer::new("a 'b;\n");
        let tokens: Vec<Token> = lexer.by_ref().collect();
        assert_eq!(tokens.len(), 2);
        assert_eq!(lexer.errors[0].offset, 2);
    }
}
