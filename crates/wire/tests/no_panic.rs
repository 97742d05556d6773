//! Property tests: no input makes any parser panic. Arbitrary bytes, mutated real payloads,
//! arbitrary Mastodon HTML and arbitrary Bluesky facet offsets.

use proptest::prelude::*;
use streamer_wire::{parse_mastodon_status, Decoder, DecoderOptions, Format};

const FORMATS: [Format; 5] = [
    Format::Auto,
    Format::X,
    Format::XV1,
    Format::Mastodon,
    Format::Bluesky,
];

fn corpus() -> Vec<&'static str> {
    [
        include_str!("data/x_v2_twarc_2021.jsonl"),
        include_str!("data/x_v1.jsonl"),
        include_str!("data/mastodon_sse.txt"),
        include_str!("data/mastodon_ws.jsonl"),
        include_str!("data/bluesky_jetstream.jsonl"),
    ]
    .into_iter()
    .flat_map(str::lines)
    .filter(|l| !l.is_empty())
    .collect()
}

fn feed_everywhere(line: &[u8]) {
    for format in FORMATS {
        let mut d = Decoder::new(format, DecoderOptions::default());
        // The result does not matter; returning at all does.
        let _ = d.feed(b"event: update", 1);
        let _ = d.feed(line, 2);
        let _ = d.feed(line, 3);
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Set(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let interesting = prop_oneof![
        any::<u8>(),
        Just(b'"'),
        Just(b'\\'),
        Just(b'{'),
        Just(b'}'),
        Just(b'<'),
        Just(b'&'),
        Just(0xC3),
        Just(0xF0)
    ];
    prop_oneof![
        (any::<usize>(), interesting.clone()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<usize>(), interesting).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Remove),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let len = bytes.len().max(1);
        match *m {
            Mutation::Set(i, b) if !bytes.is_empty() => bytes[i % len] = b,
            Mutation::Insert(i, b) => bytes.insert(i % (bytes.len() + 1), b),
            Mutation::Remove(i) if !bytes.is_empty() => {
                bytes.remove(i % len);
            }
            Mutation::Truncate(i) => bytes.truncate(i % len),
            _ => {}
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        feed_everywhere(&bytes);
    }

    #[test]
    fn arbitrary_json_ish_text_never_panics(s in r#"[{}\[\]":,0-9a-z_ .\\&<>#@-]{0,200}"#) {
        feed_everywhere(s.as_bytes());
        let _ = parse_mastodon_status(&s, "example.social");
    }

    #[test]
    fn mutated_real_payloads_never_panic(
        pick in any::<prop::sample::Index>(),
        mutations in proptest::collection::vec(mutation(), 1..8),
    ) {
        let corpus = corpus();
        let line = corpus[pick.index(corpus.len())];
        feed_everywhere(&apply(line.as_bytes().to_vec(), &mutations));
    }

    #[test]
    fn arbitrary_mastodon_html_never_panics(html in r#"(<[/a-z!]{0,4}( [a-z]{1,5}=("[^"]{0,10}"|'[^']{0,5}'|[a-z]{0,4}))?>?|&[#a-zA-Z0-9]{0,8};?|[^<&]{0,10}){0,30}"#) {
        let status = serde_json::json!({
            "id": "1", "uri": "https://e.social/s/1", "content": html, "spoiler_text": html,
            "account": {"id": "2", "acct": "a", "username": "a", "url": "https://e.social/@a"}
        });
        let post = parse_mastodon_status(&status.to_string(), "e.social").expect("valid status");
        prop_assert!(!post.text.contains('<') || html.contains('<'));
    }

    #[test]
    fn arbitrary_facet_offsets_never_panic(
        text in "\\PC{0,40}",
        ranges in proptest::collection::vec((0u64..200, 0u64..200), 0..6),
    ) {
        let facets: Vec<_> = ranges.iter().enumerate().map(|(i, (a, b))| {
            let feature = match i % 3 {
                0 => serde_json::json!({"$type": "app.bsky.richtext.facet#link", "uri": "https://x.example"}),
                1 => serde_json::json!({"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:m"}),
                _ => serde_json::json!({"$type": "app.bsky.richtext.facet#tag", "tag": "t"}),
            };
            serde_json::json!({"index": {"byteStart": a, "byteEnd": b}, "features": [feature]})
        }).collect();
        let line = serde_json::json!({
            "did": "did:plc:a", "time_us": 1, "kind": "commit",
            "commit": {"operation": "create", "collection": "app.bsky.feed.post", "rkey": "k",
                       "record": {"text": text, "facets": facets}}
        }).to_string();
        let mut d = Decoder::new(Format::Bluesky, DecoderOptions::default());
        let decoded = d.feed(line.as_bytes(), 1);
        prop_assert!(decoded.is_ok(), "{decoded:?}");
    }
}
