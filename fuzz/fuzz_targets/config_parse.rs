//! Arbitrary text as a config file: parsing and validation must report problems, never panic.
//! `from_str` reads no file (secrets are resolved later), so the target is pure.
//!
//! A config that validates must also compile its rules: `streamer::compile_rules` treats a
//! failure there as unexpected, so the target asserts it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = streamer::config::Config::from_str(text, None) {
        if let Err(e) = streamer::compile_rules(&config) {
            panic!("a config that validated failed to compile its rules: {e:#}");
        }
    }
});
