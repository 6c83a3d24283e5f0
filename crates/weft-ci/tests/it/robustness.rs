//! Property tests: arbitrary scripts and workflows assembled from the pieces
//! real ones are made of.

use proptest::prelude::*;
use weft_ci::{Workflow, check_repository, shell};

/// Pieces of shell that matter to the scanner, and some that break it.
const SHELL: &[&str] = &[
    "git push",
    "git push origin HEAD:main",
    "git push --force",
    "git pull --rebase",
    "git rebase -X ours origin/main",
    "git commit -am 'x'",
    "git tag v1",
    "git checkout -b \"b-$X\"",
    " && ",
    " || ",
    "; ",
    "\n",
    " | ",
    "&",
    "for i in 1 2 3; do ",
    "until git push; do ",
    "while true; do ",
    "done",
    "if ",
    "; then ",
    "else ",
    "fi",
    "{ ",
    " }",
    "( ",
    " )",
    "case $x in a) ",
    " ;; ",
    "esac",
    "break",
    "set -e",
    "set +e",
    "'",
    "\"",
    "$(",
    "${{ github.ref }}",
    "`",
    "\\",
    "<<EOF\n",
    "EOF\n",
    "# c\n",
    "weft push --branch main",
    "((i++))",
    "é",
];

/// Pieces of workflow YAML, indented for the places they go.
const STEPS: &[&str] = &[
    "      - uses: actions/checkout@v4\n",
    "      - uses: actions/checkout@v4\n        with:\n          token: ${{ secrets.PAT }}\n          ref: ${{ github.head_ref }}\n",
    "      - run: git push\n",
    "      - run: |\n          git pull --rebase\n          git push origin HEAD:main\n",
    "      - uses: stefanzweifel/git-auto-commit-action@v5\n",
    "      - uses: JamesIves/github-pages-deploy-action@v4\n        with:\n          force: false\n",
    "      - uses: peter-evans/create-pull-request@v7\n",
    "      - uses: owner/weft@v1\n",
    "      - shell: bash {0}\n        run: for i in 1 2; do git pull --rebase; git push && break; done\n",
    "      - run: 42\n",
    "      - {}\n",
    "      - run: [a, b]\n",
];

const HEADERS: &[&str] = &[
    "on: push\n",
    "on:\n  push:\n    branches: [main]\n",
    "on: [pull_request, schedule]\n",
    "on:\n  workflow_call:\n",
    "on: {}\n",
    "permissions: read-all\n",
    "permissions:\n  contents: write\n",
    "concurrency: x\n",
    "concurrency:\n  group: x\n  cancel-in-progress: true\n",
    "concurrency:\n  group: ${{ github.workflow }}\n  queue: max\n",
];

proptest! {
    #[test]
    fn scanning_any_script_never_panics(pieces in prop::collection::vec(prop::sample::select(SHELL), 0..40)) {
        let script: String = pieces.concat();
        let scan = shell::scan(&script, true);
        for command in &scan.commands {
            prop_assert!(command.offset <= script.len());
            let _ = shell::interpret(command);
        }
        for found in &scan.loops {
            prop_assert!(found.first <= found.end && found.end <= scan.commands.len());
        }
    }

    #[test]
    fn checking_any_workflow_never_panics_and_stays_in_the_file(
        headers in prop::collection::vec(prop::sample::select(HEADERS), 0..4),
        jobs in prop::collection::vec(
            (prop::collection::vec(prop::sample::select(STEPS), 0..5), any::<bool>(), any::<bool>()),
            0..4,
        ),
    ) {
        let mut text: String = headers.concat();
        text.push_str("jobs:\n");
        for (index, (steps, matrix, needs)) in jobs.iter().enumerate() {
            text.push_str(&format!("  job{index}:\n    runs-on: ubuntu-latest\n"));
            if *matrix {
                text.push_str("    strategy:\n      matrix:\n        x: [1, 2]\n");
            }
            if *needs && index > 0 {
                text.push_str(&format!("    needs: job{}\n", index - 1));
            }
            text.push_str("    steps:\n");
            text.push_str(&steps.concat());
        }
        let lines = text.lines().count() as u32 + 1;
        match Workflow::parse("w.yml", &text) {
            Ok(workflow) => {
                let checked = check_repository(&[workflow.clone(), workflow], &[]);
                for finding in checked.findings {
                    prop_assert!(finding.line >= 1 && finding.line <= lines, "{finding:?}\n{text}");
                }
            }
            Err(error) => prop_assert!(error.location.line <= lines),
        }
    }
}
