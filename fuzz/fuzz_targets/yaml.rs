//! The spanned YAML reader never panics, and every span lies inside the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weft_model::yaml::{Arena, Node, Value, parse_documents};

fn check(node: &Node<'_>, length: usize) {
    assert!(node.span.start.offset <= length && node.span.end.offset <= length);
    match &node.value {
        Value::Scalar(_) => {}
        Value::Sequence(items) => items.iter().for_each(|i| check(i, length)),
        Value::Mapping(entries) => entries.iter().for_each(|(k, v)| {
            check(k, length);
            check(v, length);
        }),
    }
}

fuzz_target!(|text: &str| {
    let arena = Arena::new();
    if let Ok(documents) = parse_documents(&arena, text) {
        documents.iter().for_each(|d| check(d, text.len()));
    }
});
