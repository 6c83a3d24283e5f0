//! Headless Chromium for tests of weft's pages: Debian's `chromium` driven
//! by `playwright-core` from npm (never a downloaded browser), through a
//! small Node script.
//!
//! Found through `WEFT_CHROMIUM` (default `/usr/bin/chromium`) and
//! `WEFT_PLAYWRIGHT_CORE` (the package's directory). Without them a test
//! gets `None` after a `SKIP:` line, unless `WEFT_REQUIRE_BROWSER=1` (as CI
//! sets), which fails it instead.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

const SCRIPT: &str = include_str!("page.js");

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
