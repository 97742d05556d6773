//! The config parser's short fuzz, run by `cargo test` (the long one is the `config_parse`
//! cargo-fuzz target, whose instrumented build is too slow for every CI run): the committed
//! fuzz seeds and the example config, edited at random with bytes and TOML fragments, must give
//! problems or a config whose rules compile, never a panic.

use proptest::prelude::*;
use std::sync::OnceLock;

fn seeds() -> &'static [String] {
    static SEEDS: OnceLock<Vec<String>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut seeds: Vec<String> = std::fs::read_dir(root.join("fuzz/corpus/config_parse"))
            .expect("the committed config seeds")
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
            .collect();
        seeds.push(std::fs::read_to_string(root.join("examples/streamer.toml")).unwrap());
        seeds.sort();
        assert!(seeds.len() >= 5, "seeds missing");
        seeds
    })
}

const FRAGMENTS: &[&str] = &[
    "\n[[rules]]\nid = \"x\"\nquery = \"",
    "\n[[sinks]]\nkind = \"webhook\"\n",
    "\n[[sources]]\nkind = \"bluesky\"\nwanted_dids = [\"@",
    "\n[watch]\nkeywords = [\"",
    "\"",
    "'''",
    "[",
    "]",
    "{",
    "}",
    "=",
    "\n",
    "#",
    ",",
    " OR ",
    "(",
    ")",
    "-",
    "regex:\"(\"",
    "domain:",
    "entity:state:",
    "999999999999999999999",
    "-1",
    "true",
    "1e309",
    "\u{0}",
    "\u{202e}",
];

fn boundary(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn edited_configs_give_problems_or_compile_never_panic(
        seed in any::<prop::sample::Index>(),
        edits in prop::collection::vec(
            (any::<prop::sample::Index>(), 0u8..4, any::<char>(), prop::sample::select(FRAGMENTS), 0usize..40),
            0..6,
        ),
    ) {
        let mut text = seed.get(seeds()).clone();
        for (at, op, c, fragment, len) in edits {
            let at = boundary(&text, at.index(text.len() + 1));
            match op {
                0 => text.insert(at, c),
                1 => text.insert_str(at, fragment),
                2 => {
                    let end = boundary(&text, at + len);
                    text.replace_range(at..end.max(at), "");
                }
                _ => text.truncate(at),
            }
        }
        if let Ok(config) = streamer::config::Config::from_str(&text, None) {
            if let Err(e) = streamer::compile_rules(&config) {
                prop_assert!(false, "a config that validated failed to compile its rules: {e:#}\n{text}");
            }
        }
    }
}
