//! Finds the simple commands of a script and the context each runs in:
//! which loops enclose it, whether it is part of a condition, and whether
//! its failure would end a `bash -e` shell.
//!
//! How it works: one pass over the tokens with a stack of open compound
//! commands (`if`, `while`, `until`, `for`, `case`, `{ }`, `( )`). Each
//! simple command records the loops on the stack and whether a condition is
//! open. Bash ignores `-e` for a command in a condition, before `&&`/`||`,
//! after `!`, or anywhere inside a compound command that is itself followed
//! by `&&`/`||`; those commands are marked `guarded`. `set -e`/`set +e` are
//! followed in order.

use super::lexer::{Operator, Token, Word, tokens};

/// One simple command and its context.
#[derive(Debug, Clone)]
pub struct Command {
    /// The words, assignments and keywords removed (`FOO=1 git push` is `git push`).
    pub words: Vec<Word>,
    /// Assignments written before the command, or the whole command when it
    /// only assigns (`BRANCH=main`).
    pub assignments: Vec<(String, String)>,
    /// Byte offset of the command in the script.
    pub offset: usize,
    /// Indices into [`Scan::loops`] of the loops around the command, outermost first.
    pub loops: Vec<usize>,
    /// The loop whose `while`/`until` condition this command is part of.
    pub condition_of: Option<usize>,
    /// A failure of this command does not end a `set -e` shell.
    pub guarded: bool,
    /// `set -e` is in force when the command runs.
    pub errexit: bool,
}

impl Command {
    /// The command name (the first word), if any.
    pub fn name(&self) -> Option<&str> {
        self.words.first().map(|w| w.text.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoopKind {
    For,
    While,
    Until,
}

/// A `for`, `while` or `until` loop.
#[derive(Debug, Clone)]
pub struct Loop {
    pub kind: LoopKind,
    pub offset: usize,
    /// The words after `for` (`i in 1 2 3`, or `((i=0; …))`).
    pub header: Vec<String>,
    /// The commands of the loop, condition and body: `first..end`.
    pub first: usize,
    pub end: usize,
}

/// What [`scan`] found.
#[derive(Debug, Clone, Default)]
pub struct Scan {
    pub commands: Vec<Command>,
    pub loops: Vec<Loop>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FrameKind {
    If,
    Loop(usize),
    Case,
    Group,
    Subshell,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// `if …; then`, `while …; do`.
    Condition,
    /// `for … in …`, `case … in`.
    Header,
    /// A `case` pattern, up to its `)`.
    Pattern,
    Body,
}

#[derive(Debug)]
struct Frame {
    kind: FrameKind,
    phase: Phase,
    first_command: usize,
}

/// Reads the commands of `script`; `errexit` says whether the shell starts
/// with `-e` (GitHub's default `bash -e {0}` does).
pub fn scan(script: &str, errexit: bool) -> Scan {
    Scanner {
        scan: Scan::default(),
        stack: Vec::new(),
        words: Vec::new(),
        negated: false,
        errexit,
        closed: None,
    }
    .run(tokens(script))
}

struct Scanner {
    scan: Scan,
    stack: Vec<Frame>,
    /// Words of the command being read.
    words: Vec<Word>,
    negated: bool,
    errexit: bool,
    /// The first command of a compound command that just closed, so that a
    /// following `&&`/`||` can guard all of it.
    closed: Option<usize>,
}

impl Scanner {
    fn run(mut self, tokens: Vec<Token>) -> Scan {
        let mut tokens = tokens.into_iter().peekable();
        while let Some(token) = tokens.next() {
            match token {
                Token::Word(word) => {
                    // `name() {`: a function definition, not a command.
                    if self.words.is_empty()
                        && matches!(tokens.peek(), Some(Token::Operator(Operator::OpenParen, _)))
                        && !self.in_phase(Phase::Pattern)
                    {
                        tokens.next();
                        if matches!(
                            tokens.peek(),
                            Some(Token::Operator(Operator::CloseParen, _))
                        ) {
                            tokens.next();
                        }
                        continue;
                    }
                    self.word(word);
                }
                Token::Operator(operator, _) => self.operator(operator),
            }
        }
        self.finish_command(None);
        let end = self.scan.commands.len();
        for frame in self.stack.drain(..) {
            if let FrameKind::Loop(index) = frame.kind {
                self.scan.loops[index].end = end;
            }
        }
        self.scan
    }

    fn in_phase(&self, phase: Phase) -> bool {
        self.stack.last().is_some_and(|f| f.phase == phase)
    }

    fn word(&mut self, word: Word) {
        if self.in_phase(Phase::Pattern) {
            if word.text == "esac" && !word.quoted {
                self.pop(|k| k == FrameKind::Case);
            }
            return;
        }
        if self.in_phase(Phase::Header) {
            if let Some(frame) = self.stack.last_mut() {
                let done = matches!(frame.kind, FrameKind::Case) && word.text == "in";
                if let FrameKind::Loop(index) = frame.kind {
                    if word.text == "do" && !word.quoted {
                        frame.phase = Phase::Body;
                        return;
                    }
                    self.scan.loops[index].header.push(word.text);
                } else if done {
                    frame.phase = Phase::Pattern;
                }
            }
            return;
        }
        // `[[ a && b ]]` is one command: its operators are words.
        if self.words.is_empty() && !word.quoted && self.keyword(&word) {
            return;
        }
        self.words.push(word);
    }

    /// Handles a reserved word at the start of a command; false when the
    /// word is not one.
    fn keyword(&mut self, word: &Word) -> bool {
        let first_command = self.scan.commands.len();
        match word.text.as_str() {
            "if" => self.push(FrameKind::If, Phase::Condition),
            "then" | "else" => self.set_phase(FrameKind::If, Phase::Body),
            "elif" => self.set_phase(FrameKind::If, Phase::Condition),
            "fi" => self.pop(|k| k == FrameKind::If),
            "while" | "until" | "for" => {
                let kind = match word.text.as_str() {
                    "while" => LoopKind::While,
                    "until" => LoopKind::Until,
                    _ => LoopKind::For,
                };
                self.scan.loops.push(Loop {
                    kind,
                    offset: word.offset,
                    header: Vec::new(),
                    first: first_command,
                    end: first_command,
                });
                let index = self.scan.loops.len() - 1;
                let phase = if kind == LoopKind::For {
                    Phase::Header
                } else {
                    Phase::Condition
                };
                self.push(FrameKind::Loop(index), phase);
            }
            "do" => {
                if let Some(frame) = self
                    .stack
                    .iter_mut()
                    .rev()
                    .find(|f| matches!(f.kind, FrameKind::Loop(_)))
                {
                    frame.phase = Phase::Body;
                }
            }
            "done" => self.pop(|k| matches!(k, FrameKind::Loop(_))),
            "case" => self.push(FrameKind::Case, Phase::Header),
            "esac" => self.pop(|k| k == FrameKind::Case),
            "{" => self.push(FrameKind::Group, Phase::Body),
            "}" => self.pop(|k| k == FrameKind::Group),
            "!" => self.negated = true,
            "function" => {}
            _ => return false,
        }
        true
    }

    fn push(&mut self, kind: FrameKind, phase: Phase) {
        self.closed = None;
        self.stack.push(Frame {
            kind,
            phase,
            first_command: self.scan.commands.len(),
        });
    }

    fn set_phase(&mut self, kind: FrameKind, phase: Phase) {
        if let Some(frame) = self.stack.iter_mut().rev().find(|f| f.kind == kind) {
            frame.phase = phase;
        }
    }

    /// Closes the innermost frame matching `kind` (and any left open inside it).
    fn pop(&mut self, matches: impl Fn(FrameKind) -> bool) {
        let Some(position) = self.stack.iter().rposition(|f| matches(f.kind)) else {
            return;
        };
        let end = self.scan.commands.len();
        let mut first = end;
        for frame in self.stack.drain(position..) {
            if let FrameKind::Loop(index) = frame.kind {
                self.scan.loops[index].end = end;
            }
            first = first.min(frame.first_command);
        }
        self.closed = Some(first);
    }

    fn operator(&mut self, operator: Operator) {
        if self.in_phase(Phase::Pattern) {
            if let (Operator::CloseParen, Some(frame)) = (operator, self.stack.last_mut()) {
                frame.phase = Phase::Body;
            }
            return;
        }
        if self.in_phase(Phase::Header) && operator == Operator::End {
            // `for i in 1 2 3;` — the `do` follows.
            return;
        }
        if self.words.is_empty() && operator == Operator::OpenParen {
            self.push(FrameKind::Subshell, Phase::Body);
            return;
        }
        let closed = self.closed.take();
        self.finish_command(Some(operator));
        match operator {
            Operator::And | Operator::Or => {
                if let Some(first) = closed {
                    for command in &mut self.scan.commands[first..] {
                        command.guarded = true;
                    }
                }
            }
            Operator::CloseParen => self.pop(|k| k == FrameKind::Subshell),
            Operator::CaseEnd => {
                if let Some(frame) = self
                    .stack
                    .iter_mut()
                    .rev()
                    .find(|f| f.kind == FrameKind::Case)
                {
                    frame.phase = Phase::Pattern;
                }
            }
            _ => {}
        }
    }

    /// Ends the command being read; `next` is the operator that ended it.
    fn finish_command(&mut self, next: Option<Operator>) {
        let negated = std::mem::take(&mut self.negated);
        if self.words.is_empty() {
            return;
        }
        let mut words = std::mem::take(&mut self.words);
        let offset = words[0].offset;
        let mut assignments = Vec::new();
        while let Some(first) = words.first() {
            match assignment(first) {
                Some(pair) => {
                    assignments.push(pair);
                    words.remove(0);
                }
                None => break,
            }
        }
        let loops: Vec<usize> = self
            .stack
            .iter()
            .filter_map(|f| match f.kind {
                FrameKind::Loop(index) => Some(index),
                _ => None,
            })
            .collect();
        let in_condition = self.stack.iter().any(|f| f.phase == Phase::Condition);
        let condition_of = self.stack.iter().rev().find_map(|f| match f.kind {
            FrameKind::Loop(index) if f.phase == Phase::Condition => Some(index),
            _ => None,
        });
        let guarded = in_condition
            || negated
            || matches!(
                next,
                Some(Operator::And | Operator::Or | Operator::Pipe | Operator::Background)
            );
        let errexit = self.errexit;
        if words.first().is_some_and(|w| w.text == "set") {
            self.errexit = set_errexit(&words[1..], self.errexit);
        }
        self.scan.commands.push(Command {
            words,
            assignments,
            offset,
            loops,
            condition_of,
            guarded,
            errexit,
        });
    }
}

/// `NAME=value` at the start of a command.
fn assignment(word: &Word) -> Option<(String, String)> {
    let (name, value) = word.text.split_once('=')?;
    let valid = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    valid.then(|| (name.to_string(), value.to_string()))
}

/// The `-e` state after `set` with these arguments.
fn set_errexit(arguments: &[Word], mut errexit: bool) -> bool {
    let mut arguments = arguments.iter().map(|w| w.text.as_str()).peekable();
    while let Some(argument) = arguments.next() {
        let on = argument.starts_with('-');
        if !on && !argument.starts_with('+') {
            continue;
        }
        let flags = &argument[1..];
        if flags.ends_with('o') && arguments.peek() == Some(&"errexit") {
            errexit = on;
            arguments.next();
        }
        if flags.contains('e') && !flags.starts_with('-') {
            errexit = on;
        }
    }
    errexit
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find<'s>(scan: &'s Scan, text: &str) -> &'s Command {
        scan.commands
            .iter()
            .find(|c| {
                c.words
                    .iter()
                    .map(|w| w.text.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
                    == text
            })
            .unwrap_or_else(|| panic!("no command `{text}` in {:#?}", scan.commands))
    }

    #[test]
    fn lists_guard_all_but_the_last_command() {
        let scan = scan("git pull --rebase && git push && break\ngit push", true);
        assert!(find(&scan, "git pull --rebase").guarded);
        assert!(scan.commands[1].guarded);
        assert!(!find(&scan, "break").guarded);
        assert!(!scan.commands[3].guarded);
    }

    #[test]
    fn loops_conditions_and_bodies() {
        let scan = scan(
            "for i in 1 2 3; do\n  git pull --rebase\n  if git push; then break; fi\n  sleep 5\ndone\n",
            true,
        );
        assert_eq!(scan.loops.len(), 1);
        assert_eq!(scan.loops[0].kind, LoopKind::For);
        assert_eq!(scan.loops[0].header, ["i", "in", "1", "2", "3"]);
        let pull = find(&scan, "git pull --rebase");
        assert_eq!(pull.loops, [0]);
        assert!(!pull.guarded);
        assert!(find(&scan, "git push").guarded);
        assert_eq!(scan.loops[0].end, scan.commands.len());
    }

    #[test]
    fn until_conditions_belong_to_their_loop() {
        let scan = scan(
            "until git push origin main; do git pull --rebase origin main; done",
            true,
        );
        let push = find(&scan, "git push origin main");
        assert_eq!(push.condition_of, Some(0));
        assert!(push.guarded);
        assert!(!find(&scan, "git pull --rebase origin main").guarded);
    }

    #[test]
    fn compound_commands_before_or_are_guarded() {
        let scan = scan(
            "{ git pull --rebase; git push; } || exit 1\n(cd x && git push) || true",
            true,
        );
        assert!(
            scan.commands
                .iter()
                .filter(|c| c.name() == Some("git"))
                .all(|c| c.guarded)
        );
    }

    #[test]
    fn set_e_is_followed() {
        let scan = scan("git a\nset +e\ngit b\nset -euo pipefail\ngit c", true);
        let state: Vec<bool> = scan
            .commands
            .iter()
            .filter(|c| c.name() == Some("git"))
            .map(|c| c.errexit)
            .collect();
        assert_eq!(state, [true, false, true]);
    }

    #[test]
    fn case_patterns_are_not_commands() {
        let scan = scan(
            "case \"$x\" in\n  a|b) git push ;;\n  *) echo no ;;\nesac\ngit fetch",
            true,
        );
        let names: Vec<_> = scan
            .commands
            .iter()
            .map(|c| c.words[0].text.clone())
            .collect();
        assert_eq!(names, ["git", "echo", "git"]);
    }

    #[test]
    fn assignments_and_functions() {
        let scan = scan(
            "push() {\n  GIT_TRACE=1 git push\n}\nBRANCH=main\npush",
            true,
        );
        let push = &scan.commands[0];
        assert_eq!(push.name(), Some("git"));
        assert_eq!(push.assignments, [("GIT_TRACE".into(), "1".into())]);
        assert_eq!(
            scan.commands[1].assignments,
            [("BRANCH".into(), "main".into())]
        );
        assert!(scan.commands[1].words.is_empty());
    }
}
