//! Reads one job, step by step, into what the checks look at: its pushes
//! (target, credential, retry), the locks it takes and the rebase strategy
//! options it uses.
//!
//! How it works: the steps are followed in order with the state a runner
//! would have — the branch checked out, the credential `actions/checkout`
//! persisted, remotes set by hand, tags created, variables assigned — so
//! that a later `git push` can be resolved against it.

use std::collections::{HashMap, HashSet};

use weft_model::Location;

use crate::actions::{self, ActionLock, ActionRole, BranchInput, CredentialInput};
use crate::push::{Credential, Mechanism, Push, PushKind, Retry, Target};
use crate::retry::{retried_script, retry_of};
use crate::script::ScriptMap;
use crate::shell::{self, Command, GitCommand, PushArguments};
use crate::workflow::{Job, Script, Step, Workflow};

mod names;

use names::names_this_repository;

/// What one job does that matters to the checks.
#[derive(Debug, Clone, Default)]
pub(crate) struct JobFacts {
    pub pushes: Vec<Push>,
    pub locks: Vec<(ActionLock, Location)>,
    /// `-X ours`/`-X theirs` given to a rebase: (where, the option, the command).
    pub strategy_options: Vec<(Location, String, String)>,
}

impl JobFacts {
    pub(crate) fn read(workflow: &Workflow, job: &Job) -> JobFacts {
        let mut reader = Reader {
            workflow,
            job,
            facts: JobFacts::default(),
            branch: Target::Trigger,
            checkout: None,
            remotes: HashMap::new(),
            cloned: None,
            checked_out: None,
            tags: HashSet::new(),
            message: None,
            step_index: 0,
        };
        for (index, step) in job.steps.iter().enumerate() {
            reader.step_index = index;
            reader.step(step);
        }
        reader.facts
    }
}

struct Reader<'w> {
    workflow: &'w Workflow,
    job: &'w Job,
    facts: JobFacts,
    /// The branch a plain `git push` updates.
    branch: Target,
    /// The credential the checkouts persisted; `None` before any checkout.
    checkout: Option<Credential>,
    remotes: HashMap<String, String>,
    /// A repository cloned by hand, which later pushes likely go to.
    cloned: Option<String>,
    /// Another repository `actions/checkout` checked out (`repository:`).
    checked_out: Option<String>,
    tags: HashSet<String>,
    message: Option<String>,
    step_index: usize,
}

/// Shells `bash -e` rules apply to, and whether they start with `-e`.
fn shell_errexit(shell: Option<&str>, windows: bool) -> Option<bool> {
    match shell.map(str::trim) {
        None if windows => Some(false),
        None | Some("bash" | "sh") => Some(true),
        Some(custom) => {
            let program = custom.split_whitespace().next().unwrap_or_default();
            let program = program.rsplit('/').next().unwrap_or(program);
            match program {
                "bash" | "sh" | "dash" | "zsh" => Some(
                    custom
                        .split_whitespace()
                        .any(|a| a.starts_with('-') && a.contains('e')),
                ),
                "pwsh" | "powershell" | "cmd" => Some(false),
                // python, node and other interpreters: not a shell script.
                _ => None,
            }
        }
    }
}

impl Reader<'_> {
    fn step(&mut self, step: &Step) {
        if let Some(script) = &step.run {
            let shell = step
                .shell
                .as_deref()
                .or(self.job.shell.as_deref())
                .or(self.workflow.shell.as_deref());
            if let Some(errexit) = shell_errexit(shell, self.job.windows) {
                self.script(step, script, errexit, false);
            }
            return;
        }
        match actions::role(step) {
            ActionRole::Checkout => self.checkout(step),
            ActionRole::Push(push) => self.action_push(step, push),
            ActionRole::Weft { branch } => {
                let target =
                    branch.map_or_else(|| self.branch.clone(), |b| self.classify(step, &b, 0));
                self.add(
                    step,
                    step_location(step),
                    Mechanism::Weft,
                    PushKind::Commit,
                    target,
                    Retry::Weft,
                );
            }
            ActionRole::Lock(lock) => self.facts.locks.push((lock, step_location(step))),
            ActionRole::Retry { command } => {
                let location = step
                    .with
                    .iter()
                    .find(|(name, _, _)| name == "command")
                    .map_or(step.location, |(_, _, location)| *location);
                let script = Script {
                    text: command,
                    location,
                    style: weft_model::yaml::ScalarStyle::Plain,
                };
                self.script(step, &script, true, true);
            }
            ActionRole::Other => {}
        }
    }

    fn checkout(&mut self, step: &Step) {
        self.checked_out = step
            .input("repository")
            .map(str::trim)
            .filter(|r| !r.is_empty() && !names_this_repository(r))
            .map(str::to_string);
        self.branch = match step.input("ref").map(str::trim).filter(|r| !r.is_empty()) {
            Some(reference) => self.classify(step, reference, 0),
            None => Target::Trigger,
        };
        let persisted = if step
            .input("persist-credentials")
            .is_some_and(|p| p.trim() == "false")
        {
            None
        } else if step.input("ssh-key").is_some_and(|k| !k.trim().is_empty()) {
            Some(Credential::Explicit("the checkout's SSH key".into()))
        } else {
            Some(
                step.input("token")
                    .and_then(|token| self.credential_of(step, token))
                    .unwrap_or(Credential::DefaultToken),
            )
        };
        // A token persisted by any checkout is sent with every HTTPS push.
        self.checkout = match (self.checkout.take(), persisted) {
            (Some(Credential::Explicit(what)), _) | (_, Some(Credential::Explicit(what))) => {
                Some(Credential::Explicit(what))
            }
            (_, Some(other)) => Some(other),
            (previous, None) => previous,
        };
    }

    fn action_push(&mut self, step: &Step, push: actions::ActionPush) {
        let target = match &push.branch {
            BranchInput::Current => self.branch.clone(),
            BranchInput::Named(name) => self.classify(step, name, 0),
            BranchInput::Owned(name) => Target::Branch(name.clone()),
        };
        let retry = match push.retry {
            Some(how) => Retry::Builtin(how),
            None => Retry::None {
                rebased_first: push.rebases_first,
            },
        };
        let credential = match &push.credential {
            CredentialInput::Checkout => self.checkout.clone().unwrap_or(Credential::Unknown),
            CredentialInput::Value(value) => self
                .credential_of(step, value)
                .unwrap_or(Credential::Unknown),
            CredentialInput::DefaultToken => Credential::DefaultToken,
            CredentialInput::SshKey => Credential::Explicit("an SSH key".into()),
            CredentialInput::Unknown => Credential::Unknown,
        };
        let name = step
            .uses
            .as_ref()
            .map(|(reference, _)| reference.split('@').next().unwrap_or(reference).to_string())
            .unwrap_or_default();
        let index = self.add(
            step,
            step_location(step),
            Mechanism::Action(name),
            push.kind,
            target,
            retry,
        );
        let added = &mut self.facts.pushes[index];
        added.force = push.force;
        added.credential = credential;
        added.repository = match push.credential {
            CredentialInput::Checkout => push.repository.or_else(|| self.checked_out.clone()),
            _ => push.repository,
        };
    }

    /// Reads a script; `retried` when an action reruns all of it until it succeeds.
    fn script(&mut self, step: &Step, script: &Script, errexit: bool, retried: bool) {
        let scan = shell::scan(&script.text, errexit);
        let workflow = self.workflow;
        let map = ScriptMap::new(&workflow.text, script);
        let locate = |offset: usize| map.locate(&workflow.text, offset);
        let mut variables: HashMap<String, String> = HashMap::new();
        for (index, command) in scan.commands.iter().enumerate() {
            if command.words.is_empty() {
                variables.extend(command.assignments.iter().cloned());
                continue;
            }
            let Some((mut git, mut word)) = shell::interpret(command) else {
                continue;
            };
            // `weft lock run RESOURCE -- COMMAND`: a lock, then the command it runs.
            let inner;
            if let GitCommand::WeftLock { resource } = &git {
                let location = locate(word.offset);
                self.facts.locks.push((
                    ActionLock {
                        action: "weft lock",
                        key: Some(format!("weft:{resource}")),
                    },
                    location,
                ));
                let Some(separator) = command.words.iter().position(|w| w.text == "--") else {
                    continue;
                };
                inner = Command {
                    words: command.words[separator + 1..].to_vec(),
                    ..command.clone()
                };
                let Some((wrapped, wrapped_word)) = shell::interpret(&inner) else {
                    continue;
                };
                (git, word) = (wrapped, wrapped_word);
            }
            let location = locate(word.offset);
            match git {
                GitCommand::Push(arguments) => {
                    let retry = if retried {
                        retried_script(&scan)
                    } else {
                        retry_of(&scan, index, &locate)
                    };
                    self.git_push(step, &variables, location, &arguments, retry);
                }
                GitCommand::WeftPush { branch, .. } => {
                    let target = match branch {
                        Some(branch) => self.resolve(step, &variables, &branch),
                        None => self.branch.clone(),
                    };
                    self.add(
                        step,
                        location,
                        Mechanism::Weft,
                        PushKind::Commit,
                        target,
                        Retry::Weft,
                    );
                }
                GitCommand::Pull {
                    rebase: true,
                    strategy_option: Some(option),
                } => self.strategy_option(location, option, "git pull --rebase"),
                GitCommand::Rebase {
                    strategy_option: Some(option),
                } => self.strategy_option(location, option, "git rebase"),
                GitCommand::Tag { name: Some(name) } => {
                    self.tags.insert(name);
                }
                GitCommand::SwitchBranch { branch } => {
                    self.branch = self.resolve(step, &variables, &branch);
                }
                GitCommand::SetRemote { name, url } => {
                    self.remotes.insert(name, url);
                }
                GitCommand::Clone { url } => self.cloned = Some(url),
                GitCommand::Commit { message } => self.message = message,
                _ => {}
            }
        }
    }

    fn strategy_option(&mut self, location: Location, option: String, command: &str) {
        if matches!(option.as_str(), "ours" | "theirs") {
            self.facts
                .strategy_options
                .push((location, option, command.to_string()));
        }
    }

    fn git_push(
        &mut self,
        step: &Step,
        variables: &HashMap<String, String>,
        location: Location,
        arguments: &PushArguments,
        retry: Retry,
    ) {
        if arguments.delete || arguments.dry_run {
            return;
        }
        let target = if arguments.refspecs.is_empty() {
            if arguments.tags {
                Target::Tags
            } else if arguments.all {
                Target::Dynamic("--all".into())
            } else {
                self.branch.clone()
            }
        } else {
            let targets: Vec<Target> = arguments
                .refspecs
                .iter()
                .map(|refspec| self.refspec(step, variables, refspec))
                .collect();
            targets
                .iter()
                .find(|t| !matches!(t, Target::Tags))
                .cloned()
                .unwrap_or(Target::Tags)
        };
        let url = arguments.remote.as_deref().and_then(|remote| {
            if remote.contains("://") || remote.starts_with("git@") {
                Some(remote.to_string())
            } else {
                self.remotes.get(remote).cloned()
            }
        });
        let repository = match (&url, &self.cloned) {
            (None, Some(cloned)) if !names_this_repository(cloned) => Some(cloned.clone()),
            (None, None) => self.checked_out.clone(),
            _ => None,
        };
        let credential = self.push_credential(step, variables, url.as_deref());
        let index = self.add(
            step,
            location,
            Mechanism::Git,
            PushKind::Commit,
            target,
            retry,
        );
        let push = &mut self.facts.pushes[index];
        push.force = arguments.force;
        push.credential = credential;
        push.repository = repository;
    }

    fn add(
        &mut self,
        step: &Step,
        location: Location,
        mechanism: Mechanism,
        kind: PushKind,
        target: Target,
        retry: Retry,
    ) -> usize {
        let credential = self.checkout.clone().unwrap_or(Credential::Unknown);
        self.facts.pushes.push(Push {
            location,
            step: self.step_index,
            mechanism,
            kind,
            target,
            force: false,
            retry,
            credential,
            repository: None,
            matrix_condition: step
                .condition
                .as_deref()
                .is_some_and(|c| c.contains("matrix.")),
            message: self.message.clone(),
        });
        self.facts.pushes.len() - 1
    }
}

fn step_location(step: &Step) -> Location {
    step.uses
        .as_ref()
        .map_or(step.location, |(_, location)| *location)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(steps: &str) -> JobFacts {
        facts_in(&format!(
            "on:\n  push:\n    branches: [main]\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n{steps}"
        ))
    }

    fn facts_in(text: &str) -> JobFacts {
        let workflow = Workflow::parse("w.yml", text).unwrap();
        JobFacts::read(&workflow, &workflow.jobs[0])
    }

    fn run(script: &str) -> String {
        let indented: String = script.lines().map(|l| format!("          {l}\n")).collect();
        format!("      - uses: actions/checkout@v4\n      - run: |\n{indented}")
    }

    #[test]
    fn a_plain_push_goes_to_the_triggering_branch_with_the_default_token() {
        let facts = facts(&run("git commit -am 'data'\ngit push"));
        let [push] = facts.pushes.as_slice() else {
            panic!("{facts:?}")
        };
        assert_eq!(push.target, Target::Trigger);
        assert_eq!(push.credential, Credential::DefaultToken);
        assert_eq!(
            push.retry,
            Retry::None {
                rebased_first: false
            }
        );
        assert_eq!(push.message.as_deref(), Some("data"));
        assert_eq!((push.location.line, push.location.column), (11, 11));
    }

    #[test]
    fn refspecs_tags_and_branches_switched_to() {
        let facts = facts(&run(
            "git push origin HEAD:master\ngit tag -fa $v -m x\ngit push origin $v --force\ngit push --tags\ngit checkout -b \"chore/bump-${V}\"\ngit push -u origin HEAD",
        ));
        let targets: Vec<&Target> = facts.pushes.iter().map(|p| &p.target).collect();
        assert_eq!(
            targets,
            [
                &Target::Branch("master".into()),
                &Target::Tags,
                &Target::Tags,
                &Target::Dynamic("chore/bump-${V}".into())
            ]
        );
    }

    #[test]
    fn retry_loops_guarded_broken_and_without_rebase() {
        let safe = facts(&run(
            "for i in 1 2 3; do\n  git pull --rebase && git push && break\n  sleep 5\ndone",
        ));
        assert_eq!(safe.pushes[0].retry, Retry::Loop);
        let broken = facts(&run(
            "for i in 1 2 3; do\n  git pull --rebase\n  git push && break\ndone",
        ));
        let Retry::BrokenLoop { reasons } = &broken.pushes[0].retry else {
            panic!("{broken:?}")
        };
        assert_eq!(reasons.len(), 1);
        assert!(reasons[0].0.contains("git pull --rebase"));
        let until = facts(&run(
            "until git push; do\n  git pull --rebase || git rebase --abort\ndone",
        ));
        assert_eq!(until.pushes[0].retry, Retry::Loop);
        let plus_e = facts(&run(
            "set +e\nfor i in 1 2 3; do\n  git pull --rebase\n  git push && break\ndone",
        ));
        assert_eq!(plus_e.pushes[0].retry, Retry::Loop);
        let no_rebase = facts(&run(
            "for i in 1 2 3; do\n  git push && break\n  sleep 1\ndone",
        ));
        assert!(matches!(
            no_rebase.pushes[0].retry,
            Retry::LoopWithoutRebase { .. }
        ));
        let list = facts(&run("for b in main next; do\n  git push origin $b\ndone"));
        assert!(matches!(list.pushes[0].retry, Retry::None { .. }));
        let once = facts(&run("git pull --rebase\ngit push"));
        assert_eq!(
            once.pushes[0].retry,
            Retry::None {
                rebased_first: true
            }
        );
    }

    #[test]
    fn credentials_from_checkouts_urls_and_inputs() {
        let pat = facts(
            "      - uses: actions/checkout@v4\n        with:\n          token: ${{ secrets.PAT }}\n      - run: git push\n",
        );
        assert!(matches!(pat.pushes[0].credential, Credential::Explicit(_)));
        let url = facts(
            "      - uses: actions/checkout@v4\n      - env:\n          TOKEN: ${{ secrets.BOT }}\n        run: |\n          git remote set-url origin https://x:${TOKEN}@github.com/${{ github.repository }}\n          git push origin HEAD:main\n",
        );
        assert!(
            matches!(url.pushes[0].credential, Credential::Explicit(_)),
            "{url:?}"
        );
        let default_url = facts(
            "      - uses: actions/checkout@v4\n      - env:\n          GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}\n        run: |\n          git push https://${GITHUB_TOKEN}@github.com/${{ github.repository }} HEAD:main\n",
        );
        assert_eq!(default_url.pushes[0].credential, Credential::DefaultToken);
        let ssh = facts(
            "      - uses: appleboy/git-push-action@v1\n        with:\n          remote: git@github.com:a/b.git\n          ssh_key: ${{ secrets.KEY }}\n          branch: main\n",
        );
        assert!(matches!(ssh.pushes[0].credential, Credential::Explicit(_)));
        assert_eq!(ssh.pushes[0].target, Target::Branch("main".into()));
    }

    #[test]
    fn other_repositories_weft_and_strategy_options() {
        let clone = facts(&run(
            "git clone https://x@github.com/a/specs.git /tmp/s\ncd /tmp/s\ngit push origin main",
        ));
        assert!(clone.pushes[0].repository.is_some());
        let fork = facts(
            "      - uses: actions/checkout@v4\n        with:\n          repository: ${{ github.event.pull_request.head.repo.full_name }}\n      - uses: stefanzweifel/git-auto-commit-action@v5\n",
        );
        assert!(fork.pushes[0].repository.is_some());
        let locked = facts(&run(
            "weft lock run --ttl 5m branch:main -- git push origin HEAD:main",
        ));
        assert_eq!(locked.locks.len(), 1);
        assert_eq!(locked.pushes[0].target, Target::Branch("main".into()));
        let weft = facts(&run("weft push --branch main"));
        assert_eq!(weft.pushes[0].mechanism, Mechanism::Weft);
        assert!(weft.pushes[0].retry.is_safe());
        let ours = facts(&run("git pull --rebase -X ours origin main\ngit push"));
        assert_eq!(ours.strategy_options.len(), 1);
        assert_eq!(ours.strategy_options[0].1, "ours");
    }

    #[test]
    fn pull_request_checkouts_and_retry_actions() {
        let steps = "      - uses: actions/checkout@v4\n        with:\n          ref: ${{ github.head_ref }}\n      - uses: stefanzweifel/git-auto-commit-action@v5\n";
        let head = facts_in(&format!(
            "on: pull_request\njobs:\n  a:\n    steps:\n{steps}"
        ));
        assert_eq!(head.pushes[0].target, Target::PullRequestHead);
        // On a push, `github.head_ref` is empty and the checkout is of the pushed branch.
        assert_eq!(facts(steps).pushes[0].target, Target::Trigger);
        let retried = facts(
            "      - uses: actions/checkout@v4\n      - uses: nick-fields/retry@v3\n        with:\n          max_attempts: 3\n          command: git pull --rebase && git push\n",
        );
        assert_eq!(retried.pushes[0].retry, Retry::Loop);
        let python = facts("      - shell: python\n        run: print('git push')\n");
        assert!(python.pushes.is_empty());
    }
}
