//! The nginx config parser: tokens into a tree of directives, salvaging what
//! parses around syntax errors.
//!
//! How it works: a loop over the tokens with an explicit stack of open blocks
//! (no recursion, so deep nesting cannot overflow the stack). Words gather
//! into the current statement; `;` ends it, `{` opens a block under it, `}`
//! closes the innermost block. Every problem becomes a [`SyntaxError`] and
//! parsing goes on.

use super::lexer::{Lexer, Token, TokenKind};

/// A word of a directive: its unescaped text and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Word {
    pub(crate) text: String,
    /// Byte range of the word's text (inside the quotes of a quoted string).
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) quoted: bool,
}

/// One directive: `name arguments… ;` or `name arguments… { children }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Directive {
    pub(crate) name: Word,
    pub(crate) arguments: Vec<Word>,
    pub(crate) block: Option<Vec<Directive>>,
}

/// A syntax problem, at a byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub(crate) offset: usize,
    pub(crate) message: String,
    pub(crate) hint: String,
}

/// The directives of a config and the syntax errors met on the way.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    pub(crate) directives: Vec<Directive>,
    pub(crate) errors: Vec<SyntaxError>,
}

/// How deep blocks may nest; deeper blocks are skipped whole, so that no
/// input can exhaust the stack of the walks over the tree.
const MAX_DEPTH: usize = 64;

/// A block still open: the words that head it, where its `{` is, and the
/// directives read inside it so far.
#[derive(Debug)]
struct OpenBlock {
    head: Vec<Word>,
    open: usize,
    children: Vec<Directive>,
}

fn directive_of(mut words: Vec<Word>, block: Option<Vec<Directive>>) -> Option<Directive> {
    if words.is_empty() {
        return None;
    }
    let name = words.remove(0);
    Some(Directive {
        name,
        arguments: words,
        block,
    })
}

fn word_of(token: Token) -> Option<Word> {
    match token.kind {
        TokenKind::Word { text, quoted } => Some(Word {
            text,
            start: token.value_start,
            end: token.value_end,
            quoted,
        }),
        _ => None,
    }
}

fn missing_semicolon(words: &[Word]) -> Option<SyntaxError> {
    let name = words.first()?;
    let last = words.last()?;
    Some(SyntaxError {
        offset: last.end + usize::from(last.quoted),
        message: format!("directive `{}` is not terminated by `;`", name.text),
        hint: "end the directive with `;`".into(),
    })
}

/// Parses config text into directives.
pub(crate) fn parse(text: &str) -> Parsed {
    let mut lexer = Lexer::new(text);
    let mut errors = Vec::new();
    let mut root: Vec<Directive> = Vec::new();
    let mut open: Vec<OpenBlock> = Vec::new();
    let mut statement: Vec<Word> = Vec::new();
    // Blocks open beyond `MAX_DEPTH`, skipped.
    let mut skipped_depth = 0usize;

    for token in lexer.by_ref() {
        if skipped_depth > 0 {
            match token.kind {
                TokenKind::BlockOpen => skipped_depth += 1,
                TokenKind::BlockClose => skipped_depth -= 1,
                _ => {}
            }
            continue;
        }
        match token.kind {
            TokenKind::Word { .. } => statement.extend(word_of(token)),
            TokenKind::Semicolon => {
                let words = std::mem::take(&mut statement);
                let target = open
                    .last_mut()
                    .map_or(&mut root, |block| &mut block.children);
                target.extend(directive_of(words, None));
            }
            TokenKind::BlockOpen => {
                if statement.is_empty() {
                    errors.push(SyntaxError {
                        offset: token.start,
                        message: "unexpected `{`".into(),
                        hint: "a `{` opens the block of a directive, and none is named before it"
                            .into(),
                    });
                }
                if open.len() >= MAX_DEPTH {
                    errors.push(SyntaxError {
                        offset: token.start,
                        message: format!("blocks nest more than {MAX_DEPTH} deep"),
                        hint: "this block and everything in it is skipped".into(),
                    });
                    statement.clear();
                    skipped_depth = 1;
                    continue;
                }
                open.push(OpenBlock {
                    head: std::mem::take(&mut statement),
                    open: token.start,
                    children: Vec::new(),
                });
            }
            TokenKind::BlockClose => {
                if let Some(error) = missing_semicolon(&statement) {
                    errors.push(error);
                }
                let words = std::mem::take(&mut statement);
                let Some(block) = open.pop() else {
                    root.extend(directive_of(words, None));
                    errors.push(SyntaxError {
                        offset: token.start,
                        message: "unexpected `}`".into(),
                        hint: "a `}` closes no block".into(),
                    });
                    continue;
                };
                let mut children = block.children;
                children.extend(directive_of(words, None));
                let target = open
                    .last_mut()
                    .map_or(&mut root, |parent| &mut parent.children);
                target.extend(directive_of(block.head, Some(children)));
            }
        }
    }
    errors.extend(lexer.errors.into_iter().map(|error| SyntaxError {
        offset: error.offset,
        message: error.message,
        hint: error.hint,
    }));

    if let Some(error) = missing_semicolon(&statement) {
        errors.push(error);
    }
    let mut trailing = directive_of(statement, None);
    while let Some(block) = open.pop() {
        let name = block.head.first().map_or("", |word| word.text.as_str());
        errors.push(SyntaxError {
            offset: block.open,
            message: if name.is_empty() {
                "block is never closed".into()
            } else {
                format!("`{name}` block is never closed")
            },
            hint: "add a `}` to close the block opened here".into(),
        });
        let mut children = block.children;
        children.extend(trailing.take());
        trailing = directive_of(block.head, Some(children));
    }
    root.extend(trailing);
    errors.sort_by_key(|error| error.offset);
    Parsed {
        directives: root,
        errors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(directives: &[Directive]) -> Vec<String> {
        directives
            .iter()
            .map(|directive| match &directive.block {
                Some(children) => {
                    format!("{}{{{}}}", directive.name.text, names(children).join(","))
                }
                None => directive.name.text.clone(),
            })
            .collect()
    }

    #[test]
    fn nested_blocks() {
        let parsed = parse("http { server { listen 80; location / { root /x; } } } events {}");
        assert!(parsed.errors.is_empty());
        assert_eq!(
            names(&parsed.directives),
            ["http{server{listen,location{root}}}", "events{}"]
        );
        let http = parsed.directives[0].block.as_deref().expect("http block");
        let server = http[0].block.as_deref().expect("server block");
        assert_eq!(server[1].arguments[0].text, "/");
    }

    #[test]
    fn salvages_around_errors() {
        let parsed = parse("server { listen 80 }\n}\nserver { listen 81;");
        let messages: Vec<&str> = parsed
            .errors
            .iter()
            .map(|error| error.message.as_str())
            .collect();
        assert_eq!(
            messages,
            [
                "directive `listen` is not terminated by `;`",
                "unexpected `}`",
                "`server` block is never closed"
            ]
        );
        assert_eq!(parsed.errors[0].offset, 18);
        assert_eq!(parsed.errors[1].offset, 21);
        assert_eq!(parsed.errors[2].offset, 30);
        assert_eq!(
            names(&parsed.directives),
            ["server{listen}", "server{listen}"]
        );
    }

    #[test]
    fn deep_nesting_is_skipped_not_overflowed() {
        let text = format!("{}{}", "a {".repeat(100_000), "}".repeat(100_000));
        let parsed = parse(&text);
        assert_eq!(parsed.errors.len(), 1);
        assert_eq!(parsed.errors[0].message, "blocks nest more than 64 deep");
    }

    #[test]
    fn missing_semicolon_at_end_of_file() {
        let parsed = parse("worker_processes 4");
        assert_eq!(parsed.errors.len(), 1);
        assert_eq!(parsed.errors[0].offset, 18);
        assert_eq!(names(&parsed.directives), ["worker_processes"]);
    }
}
