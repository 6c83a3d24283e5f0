//! `.env` parsing and `${VAR}` interpolation never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weft_discover::SourceFile;

fuzz_target!(|text: &str| {
    let file = SourceFile::new(".env", text);
    let (entries, _) = weft_discover::env::parse_dotenv(&file);
    for entry in entries {
        let _ = weft_discover::env::interpolate(&entry.value, &|name| (name == "A").then(|| "x".to_string()));
    }
    let _ = weft_discover::env::interpolate(text, &|_| None);
});
