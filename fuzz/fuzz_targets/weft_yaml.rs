//! weft.yaml loading never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = weft_model::config::parse(text);
});
