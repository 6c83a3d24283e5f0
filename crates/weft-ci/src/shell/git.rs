//! What a command does to a git repository: push, pull, rebase, tag, switch
//! branch, change a remote. Also recognises `weft push`.

use super::lexer::Word;
use super::scan::Command;

/// A `git push`, its options and its positional arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushArguments {
    /// The remote (a name such as `origin`, or a URL), when given.
    pub remote: Option<String>,
    /// The refspecs, as written.
    pub refspecs: Vec<String>,
    /// `--force`, `-f` or a `+` refspec.
    pub force: bool,
    /// `--force-with-lease` (with or without an expected value).
    pub force_with_lease: bool,
    /// `--tags`: every tag (and only tags, when no refspec is given).
    pub tags: bool,
    /// `--delete`/`-d`, or a `:branch` refspec only.
    pub delete: bool,
    /// `--dry-run`/`-n`.
    pub dry_run: bool,
    /// `--all`, `--branches` or `--mirror`.
    pub all: bool,
}

/// A git (or weft) operation found in a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitCommand {
    Push(PushArguments),
    /// `weft push`, with its `--branch` and `--remote` when given.
    WeftPush {
        branch: Option<String>,
        remote: Option<String>,
    },
    /// `weft lock run RESOURCE -- …` or `weft lock acquire RESOURCE`: a lease
    /// that serializes whoever takes the same resource.
    WeftLock {
        resource: String,
    },
    /// `git pull`: `rebase` when it rebases rather than merges.
    Pull {
        rebase: bool,
        strategy_option: Option<String>,
    },
    /// `git rebase` (not `--abort`/`--continue`/`--skip`).
    Rebase {
        strategy_option: Option<String>,
    },
    /// `git rebase --abort` and friends: cleaning up after a failed rebase.
    RebaseControl,
    Merge,
    /// `git reset --hard`/`--keep`: replaces local state with another commit.
    Reset,
    Fetch,
    /// `git tag NAME …` (creating a tag).
    Tag {
        name: Option<String>,
    },
    /// `git checkout -b NAME`, `git switch -c NAME`, `git checkout NAME`.
    SwitchBranch {
        branch: String,
    },
    /// `git remote add NAME URL`, `git remote set-url NAME URL`.
    SetRemote {
        name: String,
        url: String,
    },
    /// `git clone URL`.
    Clone {
        url: String,
    },
    /// `git commit`, with its `-m` message when literal.
    Commit {
        message: Option<String>,
    },
    Other,
}

/// Commands that run the rest of their words as a command.
const WRAPPERS: &[&str] = &["sudo", "command", "exec", "time", "nice", "nohup", "env"];

/// Interprets a command: `None` when it is not git or weft.
pub fn interpret(command: &Command) -> Option<(GitCommand, &Word)> {
    let mut words = command.words.as_slice();
    while let Some((first, rest)) = words.split_first() {
        let name = program_name(&first.text);
        if WRAPPERS.contains(&name) {
            words = rest;
            // `env A=1 git …`, `sudo -E git …`
            while words
                .first()
                .is_some_and(|w| w.text.starts_with('-') || w.text.contains('='))
            {
                words = &words[1..];
            }
        } else if name == "timeout" {
            words = rest.get(1..).unwrap_or_default();
        } else {
            break;
        }
    }
    let (first, rest) = words.split_first()?;
    let arguments: Vec<&str> = rest.iter().map(|w| w.text.as_str()).collect();
    match program_name(&first.text) {
        "git" => Some((git(&arguments), first)),
        "weft" => weft(&arguments).map(|c| (c, first)),
        _ => None,
    }
}

/// `/usr/bin/git` is `git`.
fn program_name(word: &str) -> &str {
    word.rsplit('/').next().unwrap_or(word)
}

/// Git's options that come before the subcommand and take a value.
const GLOBAL_WITH_VALUE: &[&str] = &["-C", "-c", "--git-dir", "--work-tree", "--namespace"];

fn git(arguments: &[&str]) -> GitCommand {
    let mut index = 0;
    while let Some(argument) = arguments.get(index) {
        if GLOBAL_WITH_VALUE.contains(argument) {
            index += 2;
        } else if argument.starts_with('-') {
            index += 1;
        } else {
            break;
        }
    }
    let Some(subcommand) = arguments.get(index) else {
        return GitCommand::Other;
    };
    let rest = &arguments[index + 1..];
    match *subcommand {
        "push" => GitCommand::Push(push(rest)),
        "pull" => GitCommand::Pull {
            rebase: pull_rebases(rest),
            strategy_option: strategy_option(rest),
        },
        "rebase"
            if rest
                .iter()
                .any(|a| matches!(*a, "--abort" | "--continue" | "--skip" | "--quit")) =>
        {
            GitCommand::RebaseControl
        }
        "rebase" => GitCommand::Rebase {
            strategy_option: strategy_option(rest),
        },
        "merge" if rest.contains(&"--abort") => GitCommand::RebaseControl,
        "merge" => GitCommand::Merge,
        "reset" if rest.iter().any(|a| matches!(*a, "--hard" | "--keep")) => GitCommand::Reset,
        "fetch" => GitCommand::Fetch,
        "tag" => tag(rest),
        "checkout" | "switch" => switch(subcommand, rest),
        "remote" => remote(rest),
        "clone" => rest
            .iter()
            .find(|a| !a.starts_with('-'))
            .map_or(GitCommand::Other, |url| GitCommand::Clone {
                url: (*url).to_string(),
            }),
        "commit" => GitCommand::Commit {
            message: commit_message(rest),
        },
        _ => GitCommand::Other,
    }
}

fn push(arguments: &[&str]) -> PushArguments {
    let mut push = PushArguments::default();
    let mut positional = Vec::new();
    let mut arguments = arguments.iter();
    while let Some(&argument) = arguments.next() {
        match argument {
            "-f" | "--force" => push.force = true,
            "--tags" => push.tags = true,
            "-d" | "--delete" => push.delete = true,
            "-n" | "--dry-run" => push.dry_run = true,
            "--all" | "--branches" | "--mirror" => push.all = true,
            "-o" | "--push-option" | "--repo" | "--receive-pack" | "--exec" => {
                let value = arguments.next();
                if argument == "--repo" {
                    push.remote = value.map(|v| (*v).to_string());
                }
            }
            "--" => positional.extend(arguments.by_ref().map(|a| (*a).to_string())),
            _ if argument.starts_with("--force-with-lease") => push.force_with_lease = true,
            _ if argument.starts_with("--repo=") => {
                push.remote = Some(argument["--repo=".len()..].to_string());
            }
            _ if argument.starts_with("--") => {}
            // Bundled short options: `-fu`, `-uf`.
            _ if argument.starts_with('-') && argument.len() > 1 => {
                if argument[1..].contains('f') {
                    push.force = true;
                }
                if argument[1..].contains('d') {
                    push.delete = true;
                }
            }
            _ => positional.push(argument.to_string()),
        }
    }
    let mut positional = positional.into_iter();
    if push.remote.is_none() {
        push.remote = positional.next();
    }
    push.refspecs = positional.collect();
    if push.refspecs.iter().any(|r| r.starts_with('+')) {
        push.force = true;
    }
    if !push.refspecs.is_empty() && push.refspecs.iter().all(|r| r.starts_with(':')) {
        push.delete = true;
    }
    push
}

/// Whether `git pull` with these arguments rebases (`--rebase`, `-r`,
/// `--rebase=merges|interactive|true`).
fn pull_rebases(arguments: &[&str]) -> bool {
    arguments.iter().any(|a| {
        *a == "-r"
            || *a == "--rebase"
            || a.strip_prefix("--rebase=")
                .is_some_and(|v| !matches!(v, "false" | "no"))
    })
}

/// `-X ours`, `-Xtheirs`, `--strategy-option=ours`, `--strategy-option ours`.
fn strategy_option(arguments: &[&str]) -> Option<String> {
    let mut arguments = arguments.iter();
    while let Some(argument) = arguments.next() {
        let value = match *argument {
            "-X" | "--strategy-option" => arguments.next().map(|v| (*v).to_string()),
            _ => argument
                .strip_prefix("--strategy-option=")
                .or_else(|| argument.strip_prefix("-X"))
                .filter(|v| !v.is_empty())
                .map(str::to_string),
        };
        if value.is_some() {
            return value;
        }
    }
    None
}

fn tag(arguments: &[&str]) -> GitCommand {
    const WITH_VALUE: &[&str] = &["-m", "--message", "-F", "--file", "-u", "--local-user"];
    let mut arguments = arguments.iter();
    while let Some(argument) = arguments.next() {
        if matches!(
            *argument,
            "-d" | "--delete" | "-l" | "--list" | "-v" | "--verify"
        ) {
            return GitCommand::Other;
        }
        if WITH_VALUE.contains(argument) {
            arguments.next();
        } else if !argument.starts_with('-') {
            return GitCommand::Tag {
                name: Some((*argument).to_string()),
            };
        }
    }
    GitCommand::Tag { name: None }
}

fn switch(subcommand: &str, arguments: &[&str]) -> GitCommand {
    let create: &[&str] = if subcommand == "switch" {
        &["-c", "-C", "--create", "--force-create"]
    } else {
        &["-b", "-B"]
    };
    let mut arguments_iter = arguments.iter();
    while let Some(argument) = arguments_iter.next() {
        if create.contains(argument) {
            return arguments_iter.next().map_or(GitCommand::Other, |branch| {
                GitCommand::SwitchBranch {
                    branch: (*branch).to_string(),
                }
            });
        }
    }
    // `git checkout NAME` with one positional: a branch, unless it names files.
    let positional: Vec<&&str> = arguments.iter().filter(|a| !a.starts_with('-')).collect();
    if arguments.contains(&"--") || positional.len() != 1 {
        return GitCommand::Other;
    }
    let name = positional[0];
    let looks_like_path = name.contains('.') || name.contains('*') || name.starts_with("origin/");
    if looks_like_path || arguments.contains(&"--detach") {
        GitCommand::Other
    } else {
        GitCommand::SwitchBranch {
            branch: (*name).to_string(),
        }
    }
}

fn remote(arguments: &[&str]) -> GitCommand {
    let positional: Vec<&str> = arguments
        .iter()
        .copied()
        .filter(|a| !a.starts_with('-'))
        .collect();
    match positional.as_slice() {
        ["add" | "set-url", name, url, ..] => GitCommand::SetRemote {
            name: (*name).to_string(),
            url: (*url).to_string(),
        },
        _ => GitCommand::Other,
    }
}

/// The value of the first of `names` (`-m VALUE`, `-mVALUE`, `--message=VALUE`).
fn option_value(arguments: &[&str], names: &[&str]) -> Option<String> {
    let mut arguments = arguments.iter();
    while let Some(argument) = arguments.next() {
        for name in names {
            if argument == name {
                return arguments.next().map(|v| (*v).to_string());
            }
            if let Some(value) = argument
                .strip_prefix(name)
                .and_then(|v| {
                    if name.starts_with("--") {
                        v.strip_prefix('=')
                    } else {
                        Some(v)
                    }
                })
                .filter(|v| !v.is_empty())
            {
                return Some(value.to_string());
            }
        }
    }
    None
}

/// The message of `git commit -m MSG` (also `-am MSG`, `-mMSG`, `--message=MSG`).
fn commit_message(arguments: &[&str]) -> Option<String> {
    let bundled = arguments.iter().position(|a| {
        a.len() > 2 && a.starts_with('-') && !a.starts_with("--") && a.ends_with('m')
    });
    match bundled {
        Some(index) => arguments.get(index + 1).map(|m| (*m).to_string()),
        None => option_value(arguments, &["-m", "--message"]),
    }
}

fn weft(arguments: &[&str]) -> Option<GitCommand> {
    let index = arguments.iter().position(|a| !a.starts_with('-'))?;
    let rest = &arguments[index + 1..];
    match arguments[index] {
        "push" => Some(GitCommand::WeftPush {
            branch: option_value(rest, &["--branch", "-b"]),
            remote: option_value(rest, &["--remote"]),
        }),
        "lock" if matches!(rest.first(), Some(&"run" | &"acquire")) => {
            const WITH_VALUE: &[&str] = &[
                "--ttl",
                "--wait",
                "--class",
                "--priority",
                "--weight",
                "--server",
                "--token",
                "--format",
                "--holder",
                "-w",
                "--workspace",
            ];
            let mut words = rest[1..].iter();
            while let Some(word) = words.next() {
                if *word == "--" {
                    break;
                } else if WITH_VALUE.contains(word) {
                    words.next();
                } else if !word.starts_with('-') {
                    return Some(GitCommand::WeftLock {
                        resource: (*word).to_string(),
                    });
                }
            }
            None
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shell::scan::scan;

    fn git_of(script: &str) -> GitCommand {
        let scan = scan(script, true);
        interpret(&scan.commands[0])
            .map(|(command, _)| command)
            .unwrap_or(GitCommand::Other)
    }

    #[test]
    fn pushes_and_their_refspecs() {
        let GitCommand::Push(push) = git_of("git -C dir push -u origin HEAD:main") else {
            panic!()
        };
        assert_eq!(push.remote.as_deref(), Some("origin"));
        assert_eq!(push.refspecs, ["HEAD:main"]);
        assert!(!push.force);
        let GitCommand::Push(push) = git_of("sudo git push origin +main --follow-tags") else {
            panic!()
        };
        assert!(push.force && !push.tags);
        let GitCommand::Push(push) = git_of("git push --tags") else {
            panic!()
        };
        assert!(push.tags && push.refspecs.is_empty() && push.remote.is_none());
        let GitCommand::Push(push) = git_of("git push origin --delete old") else {
            panic!()
        };
        assert!(push.delete);
        let GitCommand::Push(push) = git_of("git push -u origin \"$BRANCH\" --force-with-lease")
        else {
            panic!()
        };
        assert!(push.force_with_lease && !push.force);
        assert_eq!(push.refspecs, ["$BRANCH"]);
    }

    #[test]
    fn pulls_rebases_and_strategy_options() {
        assert_eq!(
            git_of("git pull --rebase -X theirs origin main"),
            GitCommand::Pull {
                rebase: true,
                strategy_option: Some("theirs".into())
            }
        );
        assert_eq!(
            git_of("git pull --no-rebase"),
            GitCommand::Pull {
                rebase: false,
                strategy_option: None
            }
        );
        assert_eq!(
            git_of("git rebase -Xours origin/main"),
            GitCommand::Rebase {
                strategy_option: Some("ours".into())
            }
        );
        assert_eq!(git_of("git rebase --abort"), GitCommand::RebaseControl);
    }

    #[test]
    fn branches_tags_remotes_and_weft() {
        assert_eq!(
            git_of("git checkout -b \"feature-$V\""),
            GitCommand::SwitchBranch {
                branch: "feature-$V".into()
            }
        );
        assert_eq!(git_of("git checkout -- file.txt"), GitCommand::Other);
        assert_eq!(
            git_of("git tag -fa $major -m \"move $major\""),
            GitCommand::Tag {
                name: Some("$major".into())
            }
        );
        assert_eq!(
            git_of("git remote set-url origin https://x:${TOKEN}@github.com/a/b"),
            GitCommand::SetRemote {
                name: "origin".into(),
                url: "https://x:${TOKEN}@github.com/a/b".into()
            }
        );
        assert_eq!(
            git_of("weft push --branch main --retries 5"),
            GitCommand::WeftPush {
                branch: Some("main".into()),
                remote: None
            }
        );
        assert_eq!(
            git_of("weft lock run --ttl 5m branch:main -- git push"),
            GitCommand::WeftLock {
                resource: "branch:main".into()
            }
        );
        assert_eq!(
            git_of("git commit -am 'chore: x'"),
            GitCommand::Commit {
                message: Some("chore: x".into())
            }
        );
        assert_eq!(
            git_of("git commit -m 'chore: x'"),
            GitCommand::Commit {
                message: Some("chore: x".into())
            }
        );
    }
}
