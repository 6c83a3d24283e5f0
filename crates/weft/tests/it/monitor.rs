//! `weft monitor analyze-logs` and `weft monitor rules`: exit codes, the
//! JSON, user rules from weft.yaml tried first, located mistakes.

use weft_testkit::Workspace;

use crate::support::weft_in;

const LOG: &str = "\
2024-11-02T08:14:09.9100000Z ======== Computing necessary packages ========
2024-11-02T08:14:09.9100000Z ERROR: Missing prebuilt package for 'zlib/1.3.1'
2024-11-02T08:14:12.5000000Z ##[error]Process completed with exit code 1.
";

#[test]
fn logs_are_classified_and_fail_on_a_severity() {
    let workspace = Workspace::new().file("job.log", LOG);
    let root = workspace.root();
    let text = weft_in(root, &["monitor", "analyze-logs", "job.log"]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(
        text.stdout
            .contains("job.log:2: high dependency conan-missing-binary"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("(package zlib/1.3.1)"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout
            .contains("1× ##[error]Process completed with exit code <n>."),
        "{}",
        text.stdout
    );
    let high = weft_in(
        root,
        &["monitor", "analyze-logs", "job.log", "--fail-on", "high"],
    );
    assert_eq!(high.code, 1);
    let critical = weft_in(
        root,
        &[
            "monitor",
            "analyze-logs",
            "job.log",
            "--fail-on",
            "critical",
        ],
    );
    assert_eq!(critical.code, 0);

    let json = weft_in(
        root,
        &["monitor", "analyze-logs", "job.log", "--format", "json"],
    );
    assert_eq!(json.code, 0);
    let answer = json.json();
    assert_eq!(answer["lines"], 3);
    let finding = &answer["findings"][0];
    assert_eq!(finding["pattern"], "conan-missing-binary");
    assert_eq!(finding["severity"], "high");
    assert_eq!(finding["category"], "dependency");
    assert_eq!(finding["line"], 2);
    assert!(
        finding["suggestions"][0]
            .as_str()
            .unwrap()
            .contains("zlib/1.3.1")
    );
    assert_eq!(answer["unmatched"][0]["count"], 1);

    let missing = weft_in(root, &["monitor", "analyze-logs", "nope.log"]);
    assert_eq!(missing.code, 2, "{}", missing.stderr);
    assert!(
        missing.stderr.contains("no log file `nope.log`"),
        "{}",
        missing.stderr
    );
}

#[test]
fn user_rules_from_weft_yaml_go_first_and_are_tested() {
    let workspace = Workspace::new()
        .file("job.log", LOG)
        .file("weft.yaml", "name: x\nmonitor: {rules: failure-rules.yaml}\n")
        .file(
            "failure-rules.yaml",
            "rules:\n  - name: our-zlib\n    category: dependency\n    severity: critical\n    pattern: \"Missing prebuilt package for 'zlib/\"\n    suggestions: [Ask the platform team for a zlib build]\n    examples: [\"ERROR: Missing prebuilt package for 'zlib/1.3.1'\"]\n",
        );
    let root = workspace.root();
    let run = weft_in(
        root,
        &["monitor", "analyze-logs", "job.log", "--format", "json"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["findings"][0]["rule"], "our-zlib");
    let test = weft_in(root, &["monitor", "rules", "test"]);
    // Ours shadows the built-in rule's own example: the test says so.
    assert_eq!(test.code, 1, "{}", test.stdout);
    assert!(
        test.stdout
            .contains("rule `conan-missing-binary`: matched first by `our-zlib`"),
        "{}",
        test.stdout
    );
    let list = weft_in(root, &["monitor", "rules", "list", "--format", "json"]);
    assert_eq!(list.json()["rules"][0]["name"], "our-zlib");
    assert_eq!(list.json()["rules"][0]["source"], "failure-rules.yaml:2");

    let builtin = weft_in(
        root,
        &[
            "monitor",
            "rules",
            "test",
            "--rules",
            "/dev/null",
            "--format",
            "json",
        ],
    );
    assert_eq!(
        builtin.code, 2,
        "an empty file has no `rules:`: {}",
        builtin.stderr
    );
}

#[test]
fn a_broken_rule_is_bad_input_at_its_place() {
    let workspace = Workspace::new().file(
        "rules.yaml",
        "rules:\n  - name: broken\n    category: build\n    severity: high\n    pattern: 'error: (unclosed'\n",
    );
    let run = weft_in(
        workspace.root(),
        &["monitor", "rules", "test", "--rules", "rules.yaml"],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("rules.yaml:5:14: rule `broken`: the pattern does not compile"),
        "{}",
        run.stderr
    );
    let builtin = weft_in(workspace.root(), &["monitor", "rules", "test"]);
    assert_eq!(builtin.code, 0, "{}", builtin.stdout);
    assert!(builtin.stdout.contains("all pass"), "{}", builtin.stdout);
}

#[test]
fn the_example_classifies_its_log_with_its_own_rules() {
    let root = crate::support::repository_root();
    let test = weft_in(
        &root,
        &["monitor", "rules", "test", "-w", "examples/monitor"],
    );
    assert_eq!(test.code, 0, "{}{}", test.stdout, test.stderr);
    let run = weft_in(
        &root,
        &[
            "monitor",
            "analyze-logs",
            "-w",
            "examples/monitor",
            "examples/monitor/logs/release.log",
            "--format",
            "json",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let rules: Vec<String> = run.json()["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        rules,
        [
            "internal-registry-down",
            "conan-missing-binary",
            "fips-policy-drift",
            "c-cpp-compile-error"
        ]
    );
}

#[test]
fn no_builtin_keeps_only_the_given_rules() {
    let workspace = Workspace::new().file("job.log", LOG).file(
        "rules.yaml",
        "rules:\n  - name: exit-code\n    category: workflow\n    severity: low\n    pattern: 'Process completed with exit code (?P<code>\\d+)'\n    suggestions: ['exit code {code}']\n    examples: ['##[error]Process completed with exit code 1.']\n",
    );
    let root = workspace.root();
    let only = weft_in(
        root,
        &[
            "monitor",
            "analyze-logs",
            "job.log",
            "--rules",
            "rules.yaml",
            "--no-builtin",
            "--format",
            "json",
        ],
    );
    assert_eq!(only.code, 0, "{}", only.stderr);
    let findings = only.json()["findings"].as_array().unwrap().clone();
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0]["rule"], "exit-code");
    assert_eq!(findings[0]["suggestions"][0], "exit code 1");
    // The Conan line is now a failure line no rule knows.
    assert_eq!(only.json()["unmatched"][0]["line"], 2);
    let none = weft_in(root, &["monitor", "rules", "test", "--no-builtin"]);
    assert_eq!(none.code, 2, "{}", none.stderr);
    assert!(
        none.stderr.contains("--no-builtin leaves no rules"),
        "{}",
        none.stderr
    );
}

#[test]
fn a_log_can_come_on_standard_input() {
    use std::io::Write;
    use std::process::{Command, Stdio};

    let mut child = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(["monitor", "analyze-logs", "-", "--format", "json"])
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(LOG.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answer: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(answer["files"][0], "<stdin>");
    assert_eq!(answer["findings"][0]["rule"], "conan-missing-binary");
    assert_eq!(answer["findings"][0]["file"], "<stdin>");

    let workspace = Workspace::new().file("job.log", LOG);
    let mixed = weft_in(
        workspace.root(),
        &["monitor", "analyze-logs", "-", "job.log"],
    );
    assert_eq!(mixed.code, 2, "{}", mixed.stderr);
}
