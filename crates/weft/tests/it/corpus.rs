//! Every workspace of the shared real-world corpus, as a user would run it:
//! no panic, valid JSON, and only documented exit codes.

use crate::support::{repository_root, weft_in};

#[test]
fn every_corpus_workspace_is_read_without_panics() {
    let corpus = repository_root().join("../shared/corpus");
    if !corpus.is_dir() {
        println!("SKIP: no corpus at {}", corpus.display());
        return;
    }
    let mut workspaces: Vec<_> = std::fs::read_dir(&corpus)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    workspaces.sort();
    assert!(workspaces.len() > 10);
    for workspace in workspaces {
        let directory = workspace.to_str().unwrap();
        for (command, codes) in [
            ("check", [0, 2]),
            ("plan", [0, 1]),
            ("conflicts", [0, 1]),
            ("graph", [0, 1]),
        ] {
            let run = weft_in(
                &repository_root(),
                &[command, directory, "--format", "json"],
            );
            assert!(
                codes.contains(&run.code),
                "`weft {command} {directory}` exited {}: {}",
                run.code,
                run.stderr
            );
            run.json();
        }
        let resolve = weft_in(
            &repository_root(),
            &["resolve", directory, "--format", "json"],
        );
        assert!(
            [0, 1].contains(&resolve.code),
            "resolve on {directory} exited {}: {}",
            resolve.code,
            resolve.stderr
        );
    }
}
