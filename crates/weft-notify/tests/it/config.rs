//! `notify:` errors as `weft_model::config::load` reports them: located in
//! weft.yaml.

use weft_model::config::{ConfigError, load};

fn error_of(yaml: &str) -> Box<weft_model::Diagnostic> {
    let directory = tempfile::tempdir().unwrap();
    fs_err::write(directory.path().join("weft.yaml"), yaml).unwrap();
    match load(directory.path()) {
        Err(ConfigError::Invalid { diagnostic }) => diagnostic,
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn a_channel_with_two_kinds_is_located() {
    let diagnostic = error_of(
        "name: x\nnotify:\n  channels:\n    ops:\n      slack: {webhook_env: SLACK}\n      email: {smtp: \"smtp://x\", from: a@b, to: [c@d]}\n",
    );
    assert_eq!(
        diagnostic.message,
        "invalid weft.yaml: a channel is exactly one of `slack`, `email`, `github_issue` or `webhook`, but this one has `slack` and `email`"
    );
    assert_eq!(diagnostic.location().as_deref(), Some("weft.yaml:4:5"));
}

#[test]
fn a_rule_naming_an_unknown_channel_is_located() {
    let diagnostic = error_of(
        "notify:\n  channels:\n    ops-slack: {slack: {webhook_env: SLACK}}\n  rules:\n    release-failures:\n      events: [deployment_failed]\n      channels:\n        - ops-slack\n        - ops-pager\n",
    );
    assert_eq!(
        diagnostic.message,
        "rule `release-failures` names unknown channel `ops-pager` in `channels`"
    );
    assert_eq!(diagnostic.location().as_deref(), Some("weft.yaml:9:11"));
    assert_eq!(
        diagnostic.hint.as_deref(),
        Some("the channels are: ops-slack")
    );
    assert_eq!(diagnostic.snippet.as_deref(), Some("        - ops-pager"));
}
