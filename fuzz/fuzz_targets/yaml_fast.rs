//! The YAML fast path agrees with the full reader wherever it answers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weft_model::yaml::{Arena, parse_documents_fast, parse_documents_fully};

fuzz_target!(|text: &str| {
    let (fast_arena, full_arena) = (Arena::new(), Arena::new());
    if let Some(fast) = parse_documents_fast(&fast_arena, text) {
        match parse_documents_fully(&full_arena, text) {
            Ok(full) => assert_eq!(fast, full, "the fast path differs"),
            Err(error) => panic!("the fast path accepted what the full reader refuses: {error}"),
        }
    }
});
