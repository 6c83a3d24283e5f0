//! The nginx reader never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weft_discover::SourceFile;

fuzz_target!(|text: &str| {
    let _ = weft_discover::nginx::read(&SourceFile::new("nginx/site.conf", text));
});
