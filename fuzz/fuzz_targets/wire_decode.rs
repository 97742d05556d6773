//! Arbitrary bytes, split into lines, through a `Decoder` of every format.
//!
//! One decoder per format sees the whole input in order, so SSE state (`event:` then `data:`)
//! and the Mastodon instance learned from earlier lines are exercised too. A decoder must
//! return `Ok` or `Err` for every line, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use streamer_wire::{Decoder, DecoderOptions, Format};

const FORMATS: [Format; 5] = [
    Format::Auto,
    Format::X,
    Format::XV1,
    Format::Mastodon,
    Format::Bluesky,
];

fuzz_target!(|data: &[u8]| {
    for format in FORMATS {
        // A small line cap so that the `TooLong` path is reachable by the fuzzer.
        let opts = DecoderOptions {
            max_line_bytes: 64 << 10,
            mastodon_instance: None,
        };
        let mut decoder = Decoder::new(format, opts);
        for (i, line) in data.split(|&b| b == b'\n').enumerate() {
            let _ = decoder.feed(line, i as u64 + 1);
        }
    }
});
