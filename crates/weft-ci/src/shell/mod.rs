//! A rough reader of the shell scripts in `run:` steps: enough to find the
//! git commands, the loops around them and how `bash -e` treats them.

mod git;
mod lexer;
mod scan;

pub use git::{GitCommand, PushArguments, interpret};
pub use lexer::{Operator, Token, Word, tokens};
pub use scan::{Command, Loop, LoopKind, Scan, scan};
