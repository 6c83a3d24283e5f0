//! Headless Chromium for tests of weft's pages: Debian's `chromium` driven
//! by `playwright-core` from npm (never a downloaded browser), through a
//! small Node script.
//!
//! Found through `WEFT_CHROMIUM` (default `/usr/bin/chromium`) and
//! `WEFT_PLAYWRIGHT_CORE` (the package's directory). Without them a test
//! gets `None` after a `SKIP:` line, unless `WEFT_REQUIRE_BROWSER=1` (as CI
//! sets), which fails it instead.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde::Deserialize;
use serde_json::{Value, json};

const SCRIPT: &str = include_str!("page.js");
const SESSION_SCRIPT: &str = include_str!("session.js");

/// What the page did while it loaded.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageReport {
    /// `console.error` messages.
    pub console_errors: Vec<String>,
    /// Uncaught exceptions.
    pub page_errors: Vec<String>,
    /// Every URL the page asked for, itself first.
    pub requests: Vec<String>,
    /// How many elements each selector asked about matches.
    pub counts: std::collections::BTreeMap<String, usize>,
    /// The page's visible text.
    pub text: String,
}

/// A headless Chromium, ready to open pages.
#[derive(Debug, Clone)]
pub struct Browser {
    chromium: PathBuf,
    playwright: PathBuf,
}

impl Browser {
    /// The browser, or `None` after a `SKIP:` line when it is missing.
    ///
    /// # Panics
    /// When `WEFT_REQUIRE_BROWSER=1` and it is missing.
    #[expect(clippy::print_stdout, reason = "the SKIP line says why")]
    pub fn find(test: &str) -> Option<Browser> {
        let chromium = std::env::var_os("WEFT_CHROMIUM")
            .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
        let playwright = std::env::var_os("WEFT_PLAYWRIGHT_CORE").map(PathBuf::from);
        let node = Command::new("node")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        match playwright {
            Some(playwright) if chromium.is_file() && playwright.is_dir() && node => {
                Some(Browser {
                    chromium,
                    playwright,
                })
            }
            _ => {
                assert!(
                    std::env::var("WEFT_REQUIRE_BROWSER").as_deref() != Ok("1"),
                    "WEFT_REQUIRE_BROWSER=1 but Chromium ({}), node or playwright-core \
                     (WEFT_PLAYWRIGHT_CORE) is missing",
                    chromium.display()
                );
                println!(
                    "SKIP: {test}: needs Debian's chromium, node and playwright-core (set WEFT_PLAYWRIGHT_CORE)"
                );
                None
            }
        }
    }

    /// Opens `url`, counts `selectors`, and saves a full-page screenshot at
    /// `screenshot`.
    ///
    /// # Panics
    /// When the browser cannot open the page.
    pub fn open(&self, url: &str, screenshot: &Path, selectors: &[&str]) -> PageReport {
        let directory = tempfile::tempdir().expect("a directory for the script");
        let script = directory.path().join("page.js");
        fs_err::write(&script, SCRIPT).expect("write the script");
        if let Some(parent) = screenshot.parent() {
            fs_err::create_dir_all(parent).expect("the screenshot's directory");
        }
        let output = Command::new("node")
            .arg(&script)
            .arg(&self.playwright)
            .arg(&self.chromium)
            .arg(url)
            .arg(screenshot)
            .args(selectors)
            .output()
            .expect("run node");
        assert!(
            output.status.success(),
            "the browser could not open {url}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
            panic!(
                "the browser's report is not JSON ({error}): {}",
                String::from_utf8_lossy(&output.stdout)
            )
        })
    }
}

impl Browser {
    /// Starts a browser a test drives step by step (see [`Session`]).
    ///
    /// # Panics
    /// When node cannot start.
    pub fn session(&self) -> Session {
        let directory = tempfile::tempdir().expect("a directory for the script");
        let script = directory.path().join("session.js");
        fs_err::write(&script, SESSION_SCRIPT).expect("write the script");
        let mut child = Command::new("node")
            .arg(&script)
            .arg(&self.playwright)
            .arg(&self.chromium)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run node");
        let input = child.stdin.take().expect("node's stdin");
        let output = BufReader::new(child.stdout.take().expect("node's stdout"));
        Session {
            child,
            input,
            output,
            _directory: directory,
        }
    }
}

/// What a page did since the last `goto`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionReport {
    pub console_errors: Vec<String>,
    pub page_errors: Vec<String>,
    /// Every URL the page asked for.
    pub requests: Vec<String>,
}

/// One headless Chromium, commanded a step at a time; closed on drop.
#[derive(Debug)]
pub struct Session {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
    _directory: tempfile::TempDir,
}

impl Session {
    /// Sends one command and returns its answer.
    ///
    /// # Panics
    /// When the browser fails the command or has gone.
    pub fn call(&mut self, command: Value) -> Value {
        let mut line = serde_json::to_string(&command).expect("a command");
        line.push('\n');
        self.input
            .write_all(line.as_bytes())
            .and_then(|()| self.input.flush())
            .expect("the browser takes the command");
        let mut answer = String::new();
        self.output
            .read_line(&mut answer)
            .expect("the browser answers");
        let answer: Value = serde_json::from_str(&answer)
            .unwrap_or_else(|error| panic!("the browser's answer is not JSON ({error}): {answer}"));
        assert_eq!(
            answer["ok"],
            json!(true),
            "the browser failed {command}: {}",
            answer["error"]
        );
        answer
    }

    /// A fresh page (and cookie jar), with or without JavaScript.
    pub fn open(&mut self, javascript: bool, width: u32, height: u32) {
        self.call(
            json!({"op": "open", "javascript": javascript, "width": width, "height": height}),
        );
    }

    /// Loads `url`; answers the HTTP status.
    pub fn goto(&mut self, url: &str) -> u16 {
        let answer = self.call(json!({"op": "goto", "url": url}));
        u16::try_from(answer["status"].as_u64().unwrap_or(0)).unwrap_or(0)
    }

    /// The page's URL now.
    pub fn url(&mut self) -> String {
        self.report_value()["url"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub fn count(&mut self, selector: &str) -> usize {
        let answer = self.call(json!({"op": "count", "selector": selector}));
        usize::try_from(answer["count"].as_u64().unwrap_or(0)).unwrap_or(0)
    }

    /// Waits up to `timeout_ms` for `selector` to be `attached` or
    /// `detached`; answers how long it took, or `None` when it did not.
    pub fn wait(&mut self, selector: &str, state: &str, timeout_ms: u64) -> Option<u64> {
        let answer = self.call(json!({"op": "wait", "selector": selector, "state": state,
                                      "timeout_ms": timeout_ms}));
        answer["found"]
            .as_bool()
            .unwrap_or(false)
            .then(|| answer["elapsed_ms"].as_u64().unwrap_or(0))
    }

    pub fn fill(&mut self, selector: &str, value: &str) {
        self.call(json!({"op": "fill", "selector": selector, "value": value}));
    }

    /// Clicks the first match, which loads a page, and waits for it.
    pub fn click(&mut self, selector: &str) {
        self.call(json!({"op": "click", "selector": selector}));
    }

    /// Clicks the first match, which stays on the page (a `<details>`).
    pub fn toggle(&mut self, selector: &str) {
        self.call(json!({"op": "toggle", "selector": selector}));
    }

    /// Presses a key (`Tab`, `Enter`).
    pub fn press(&mut self, key: &str) {
        self.call(json!({"op": "press", "key": key}));
    }

    /// The page's visible text.
    pub fn text(&mut self) -> String {
        self.call(json!({"op": "text"}))["text"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Evaluates a JavaScript expression in the page.
    pub fn evaluate(&mut self, expression: &str) -> Value {
        self.call(json!({"op": "evaluate", "expression": expression}))["value"].clone()
    }

    /// A full-page screenshot.
    pub fn screenshot(&mut self, path: &Path) {
        if let Some(parent) = path.parent() {
            fs_err::create_dir_all(parent).expect("the screenshot's directory");
        }
        self.call(json!({"op": "screenshot", "path": path}));
    }

    fn report_value(&mut self) -> Value {
        self.call(json!({"op": "report"}))
    }

    /// Console errors, page errors and requests since the last `goto`.
    pub fn report(&mut self) -> SessionReport {
        serde_json::from_value(self.report_value()).expect("a report")
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.input.write_all(b"{\"op\":\"close\"}\n");
        let _ = self.input.flush();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
