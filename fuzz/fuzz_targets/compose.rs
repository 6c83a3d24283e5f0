//! The compose reader never panics.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use weft_discover::SourceFile;
use weft_discover::compose::{Project, read_project};

fuzz_target!(|text: &str| {
    let files = [SourceFile::new("app/compose.yaml", text)];
    let environment = HashMap::from([("PORT".to_string(), "8080".to_string())]);
    let _ = read_project(&Project { directory: "app", files: &files, environment: &environment, load: &|_| None });
});
