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
use crate::script::ScriptMap;
use crate::shell::{self, Command, GitCommand, LoopKind, PushArguments, Scan};
use crate::workflow::{Job, Script, Step, Workflow};

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
        added.repository = push.repository;
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
            let Some((git, word)) = shell::interpret(command) else {
                continue;
            };
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

    /// The credential a `git push` to `url` (or the checkout's remote) uses.
    fn push_credential(
        &self,
        step: &Step,
        variables: &HashMap<String, String>,
        url: Option<&str>,
    ) -> Credential {
        let checkout = self.checkout.clone();
        if let Some(Credential::Explicit(what)) = checkout {
            return Credential::Explicit(what);
        }
        let from_url = url.and_then(|url| {
            if url.starts_with("git@") || url.starts_with("ssh://") {
                return Some(Credential::Explicit("an SSH key".into()));
            }
            let authority = url.split("://").nth(1)?.split('/').next()?;
            let (user_information, _) = authority.rsplit_once('@')?;
            let value = self.expand(step, variables, user_information);
            Some(
                self.credential_of(step, &value)
                    .unwrap_or(Credential::Unknown),
            )
        });
        from_url.or(checkout).unwrap_or(Credential::Unknown)
    }

    /// Classifies a credential as written: the workflow's token, or another.
    fn credential_of(&self, step: &Step, value: &str) -> Option<Credential> {
        let value = self.expand(step, &HashMap::new(), value);
        let normalized: String = value
            .to_lowercase()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        if normalized.contains("secrets.github_token") || normalized.contains("github.token") {
            Some(Credential::DefaultToken)
        } else if ["secrets.", "steps.", "vars.", "env."]
            .iter()
            .any(|p| normalized.contains(p))
        {
            Some(Credential::Explicit(format!("`{}`", value.trim())))
        } else {
            None
        }
    }

    /// Replaces `$NAME` and `${NAME}` with their values from the script and
    /// the `env:` of the step, job and workflow, where known.
    fn expand(&self, step: &Step, variables: &HashMap<String, String>, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(position) = rest.find('$') {
            out.push_str(&rest[..position]);
            let after = &rest[position + 1..];
            let (name, length) =
                if let Some(braced) = after.strip_prefix('{').filter(|b| !b.starts_with('{')) {
                    let end = braced.find('}').unwrap_or(braced.len());
                    (&braced[..end], end + 2)
                } else {
                    let end = after
                        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                        .unwrap_or(after.len());
                    (&after[..end], end)
                };
            match self
                .variable(step, variables, name)
                .filter(|_| !name.is_empty())
            {
                Some(value) => out.push_str(&value),
                None => out.push_str(&rest[position..position + 1 + length]),
            }
            rest = &rest[(position + 1 + length).min(rest.len())..];
        }
        out.push_str(rest);
        out
    }

    fn variable(
        &self,
        step: &Step,
        variables: &HashMap<String, String>,
        name: &str,
    ) -> Option<String> {
        variables
            .get(name)
            .cloned()
            .or_else(|| lookup(&step.env, name))
            .or_else(|| lookup(&self.job.env, name))
            .or_else(|| lookup(&self.workflow.env, name))
    }

    /// The branch a refspec updates (`HEAD:main`, `+main`, `refs/heads/x`).
    fn refspec(&self, step: &Step, variables: &HashMap<String, String>, refspec: &str) -> Target {
        let refspec = refspec.trim_start_matches('+');
        let destination = refspec.rsplit_once(':').map_or(refspec, |(_, d)| d);
        if destination == "HEAD" || destination.is_empty() {
            return self.branch.clone();
        }
        if destination.starts_with("refs/tags/")
            || destination == "tag"
            || self.tags.contains(destination)
        {
            return Target::Tags;
        }
        self.resolve(step, variables, destination)
    }

    /// Expands a branch as written, then classifies it.
    fn resolve(&self, step: &Step, variables: &HashMap<String, String>, text: &str) -> Target {
        let expanded = self.expand(step, variables, text);
        let target = self.classify(step, &expanded, 0);
        if expanded != text && matches!(target, Target::Dynamic(_)) {
            // Keep what the user wrote, for messages.
            return Target::Dynamic(text.to_string());
        }
        target
    }

    /// What a branch as written names.
    fn classify(&self, step: &Step, text: &str, depth: usize) -> Target {
        let text = text.trim().trim_start_matches("refs/heads/");
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        match compact.as_str() {
            "${{github.ref}}"
            | "${{github.ref_name}}"
            | "$GITHUB_REF"
            | "${GITHUB_REF}"
            | "$GITHUB_REF_NAME"
            | "${GITHUB_REF_NAME}"
            | "${GITHUB_REF#refs/heads/}" => Target::Trigger,
            "${{github.head_ref}}"
            | "$GITHUB_HEAD_REF"
            | "${GITHUB_HEAD_REF}"
            | "${{github.event.pull_request.head.ref}}" => self.head_ref(),
            "${{github.event.repository.default_branch}}" => Target::DefaultBranch,
            "" | "HEAD" => self.branch.clone(),
            _ if text.contains('$') || text.contains('`') => {
                // `${{ env.BRANCH }}` is followed (twice at most).
                let name = compact
                    .strip_prefix("${{env.")
                    .and_then(|n| n.strip_suffix("}}"));
                if let Some(value) = name
                    .filter(|_| depth < 2)
                    .and_then(|name| self.variable(step, &HashMap::new(), name))
                {
                    return self.classify(step, &value, depth + 1);
                }
                Target::Dynamic(text.to_string())
            }
            _ if text.starts_with("tags/") => Target::Tags,
            _ => Target::Branch(text.to_string()),
        }
    }

    /// What `github.head_ref` names: the pull request's branch in a workflow
    /// that pull requests start (or that is only ever called); empty, so the
    /// triggering ref, in one that other events start too.
    fn head_ref(&self) -> Target {
        let triggers = &self.workflow.triggers;
        let pull_requests_only = triggers.events.iter().all(|e| {
            matches!(
                e.as_str(),
                "pull_request" | "pull_request_target" | "workflow_call"
            )
        });
        if pull_requests_only {
            Target::PullRequestHead
        } else {
            Target::Trigger
        }
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

fn lookup(environment: &[(String, String)], name: &str) -> Option<String> {
    environment
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.clone())
}

fn step_location(step: &Step) -> Location {
    step.uses
        .as_ref()
        .map_or(step.location, |(_, location)| *location)
}

/// A URL that names the workflow's own repository.
fn names_this_repository(url: &str) -> bool {
    url.contains("github.repository") || url.contains("GITHUB_REPOSITORY")
}

/// Whether a command integrates the remote's changes (pull, rebase, merge, reset).
fn integrates(command: &Command) -> bool {
    matches!(
        shell::interpret(command),
        Some((
            GitCommand::Pull { .. }
                | GitCommand::Rebase { .. }
                | GitCommand::Merge
                | GitCommand::Reset,
            _
        ))
    )
}

/// How the push at `index` is retried by the loops around it.
fn retry_of(scan: &Scan, index: usize, locate: &dyn Fn(usize) -> Location) -> Retry {
    let command = &scan.commands[index];
    for &loop_index in command.loops.iter().rev() {
        if !is_retry_loop(scan, loop_index) {
            continue;
        }
        let range = scan.loops[loop_index].first..scan.loops[loop_index].end;
        let integrations: Vec<&Command> = scan.commands[range]
            .iter()
            .filter(|c| integrates(c))
            .collect();
        if integrations.is_empty() {
            return Retry::LoopWithoutRebase {
                location: locate(scan.loops[loop_index].offset),
            };
        }
        let mut reasons = Vec::new();
        if !command.guarded && command.errexit {
            reasons.push(("the push".to_string(), locate(command.offset)));
        }
        for integration in integrations {
            if !integration.guarded && integration.errexit {
                let words: Vec<&str> = integration
                    .words
                    .iter()
                    .take(3)
                    .map(|w| w.text.as_str())
                    .collect();
                reasons.push((format!("`{}`", words.join(" ")), locate(integration.offset)));
            }
        }
        return if reasons.is_empty() {
            Retry::Loop
        } else {
            Retry::BrokenLoop { reasons }
        };
    }
    let rebased_first = scan.commands[..index]
        .iter()
        .any(|c| integrates(c) && c.loops.is_empty());
    Retry::None { rebased_first }
}

/// A script an action reruns until it succeeds: safe when it integrates the
/// remote's changes before pushing again.
fn retried_script(scan: &Scan) -> Retry {
    if scan.commands.iter().any(integrates) {
        Retry::Loop
    } else {
        Retry::None {
            rebased_first: false,
        }
    }
}

/// Whether a loop retries (`until git push`, `for i in 1 2 3`, a loop that
/// `break`s) rather than goes over a list (`for branch in a b`).
fn is_retry_loop(scan: &Scan, index: usize) -> bool {
    let found = &scan.loops[index];
    let commands = &scan.commands[found.first..found.end];
    if commands
        .iter()
        .any(|c| matches!(c.name(), Some("break" | "exit" | "return")))
    {
        return true;
    }
    match found.kind {
        LoopKind::While | LoopKind::Until => !commands
            .iter()
            .any(|c| c.condition_of == Some(index) && c.name() == Some("read")),
        LoopKind::For => {
            let header = &found.header;
            let list: Vec<&str> = header.iter().skip(2).map(String::as_str).collect();
            header.first().is_some_and(|h| h.starts_with("(("))
                || (!list.is_empty()
                    && list.iter().all(|item| {
                        item.chars().all(|c| c.is_ascii_digit())
                            || (item.starts_with('{') && item.contains(".."))
                            || item.starts_with("$(seq")
                    }))
        }
    }
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
