//! `streamer ioc` without the binary crate: one JSON record per input line (stdin or a file).
//! Used by `bench/ioc/compare.py` to score this crate on the case table the same way as the
//! Python extractors.
//!
//! `cargo run --release -p streamer-ioc --example ioc_lines -- [FILE]`

use std::io::{BufRead, BufWriter, Write};

fn main() -> std::io::Result<()> {
    let input: Box<dyn BufRead> = match std::env::args().nth(1) {
        Some(path) if path != "-" => Box::new(std::io::BufReader::new(std::fs::File::open(path)?)),
        _ => Box::new(std::io::stdin().lock()),
    };
    let mut out = BufWriter::new(std::io::stdout().lock());
    for line in input.lines() {
        writeln!(out, "{}", streamer_ioc::ioc_record_json(&line?))?;
    }
    out.flush()
}
