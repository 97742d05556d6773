//! `streamer ioc` without the binary crate: one JSON record per input line (stdin or a file).
//! Used by `bench/ioc/compare.py` to score this crate on the case table the same way as the
//! Python extractors.
//!
//! `cargo run --release -p streamer-ioc --example ioc_lines -- [--count] [FILE]`
//!
//! `--count` runs `extract` only and prints the number of indicators found: what the throughput
//! comparison times (as process CPU time, which other builds on a shared machine disturb less
//! than wall-clock time).

use std::io::{BufRead, BufWriter, Write};

fn main() -> std::io::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let count_only = args.first().is_some_and(|a| a == "--count");
    if count_only {
        args.remove(0);
    }
    let input: Box<dyn BufRead> = match args.first().cloned() {
        Some(path) if path != "-" => Box::new(std::io::BufReader::new(std::fs::File::open(path)?)),
        _ => Box::new(std::io::stdin().lock()),
    };
    let mut out = BufWriter::new(std::io::stdout().lock());
    if count_only {
        let mut found = 0usize;
        for line in input.lines() {
            let iocs = streamer_ioc::extract(&line?);
            found += iocs.urls.len() + iocs.domains.len() + iocs.ipv4.len() + iocs.ipv6.len();
            found += iocs.md5.len() + iocs.sha1.len() + iocs.sha256.len() + iocs.cves.len();
            found += iocs.emails.len() + iocs.btc.len();
        }
        writeln!(out, "{found}")?;
        return out.flush();
    }
    for line in input.lines() {
        writeln!(out, "{}", streamer_ioc::ioc_record_json(&line?))?;
    }
    out.flush()
}
