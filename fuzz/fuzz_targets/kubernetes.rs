//! The Kubernetes reader never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weft_discover::SourceFile;

fuzz_target!(|text: &str| {
    let _ = weft_discover::kubernetes::read(&[SourceFile::new("k8s/app.yaml", text)]);
});
