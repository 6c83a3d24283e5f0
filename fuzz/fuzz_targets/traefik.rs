//! The Traefik rule parser never panics; what parses expands to routes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(rule) = weft_discover::traefik::parse_rule(text) {
        let _ = weft_discover::traefik::routes(&rule);
    }
});
