//! The decoder as sources use it: mixed-format replay files, bad lines with their line
//! numbers, and framing (heartbeats, CRLF).

use streamer_model::{Event, Platform};
use streamer_wire::{Decoder, DecoderOptions, Format, ParseErrorKind};

#[test]
fn auto_reads_a_file_mixing_every_format() {
    let mut input = String::new();
    for file in [
        include_str!("data/x_v2_twarc_2021.jsonl"),
        include_str!("data/x_v1.jsonl"),
        include_str!("data/mastodon_sse.txt"),
        include_str!("data/mastodon_ws.jsonl"),
        include_str!("data/bluesky_jetstream.jsonl"),
    ] {
        input.push_str(file);
    }
    let mut d = Decoder::new(Format::Auto, DecoderOptions::default());
    let mut platforms = Vec::new();
    for (i, line) in input.lines().enumerate() {
        if let Some(decoded) = d
            .feed(line.as_bytes(), i as u64 + 1)
            .expect("every line decodes")
        {
            if let Event::Create(p) = decoded.event {
                platforms.push(p.platform);
            }
        }
    }
    for p in Platform::ALL {
        assert!(platforms.contains(&p), "no {p} post in {platforms:?}");
    }
    assert_eq!(platforms.len(), 3 + 3 + 1 + 3 + 2);
}

#[test]
fn bad_lines_are_typed_errors_with_line_numbers() {
    let mut d = Decoder::new(
        Format::Auto,
        DecoderOptions {
            max_line_bytes: 64,
            mastodon_instance: None,
        },
    );
    type Check = fn(&ParseErrorKind) -> bool;
    let cases: [(&[u8], Check); 5] = [
        (b"\xff\xfe{}", |k| matches!(k, ParseErrorKind::NotUtf8)),
        (&[b' '; 65], |k| {
            matches!(k, ParseErrorKind::TooLong { len: 65, max: 64 })
        }),
        (b"{\"data\":", |k| matches!(k, ParseErrorKind::NotJson(_))),
        (b"hello world", |k| matches!(k, ParseErrorKind::NotJson(_))),
        (b"{\"some\":\"thing\"}", |k| {
            matches!(k, ParseErrorKind::UnknownShape(_))
        }),
    ];
    for (n, (line, check)) in cases.iter().enumerate() {
        let e = d.feed(line, 100 + n as u64).unwrap_err();
        assert_eq!(e.line, 100 + n as u64);
        assert!(check(&e.kind), "case {n}: {e}");
        assert!(e.to_string().starts_with(&format!("line {}: ", 100 + n)));
    }
    // The decoder goes on after errors.
    let ok = d.feed(br#"{"data":{"id":"1","text":"hi"}}"#, 200).unwrap();
    assert!(matches!(ok.map(|d| d.event), Some(Event::Create(_))));
}

#[test]
fn heartbeats_and_crlf() {
    let mut d = Decoder::new(Format::X, DecoderOptions::default());
    assert_eq!(d.feed(b"", 1).unwrap(), None);
    assert_eq!(d.feed(b"\r", 2).unwrap(), None);
    let line = b"{\"data\":{\"id\":\"7\",\"text\":\"a &lt;b&gt;\"}}\r";
    let Some(decoded) = d.feed(line, 3).unwrap() else {
        panic!("a post")
    };
    let Event::Create(p) = decoded.event else {
        panic!("a post")
    };
    assert_eq!(p.text, "a <b>");
    // Explicit formats refuse other platforms' shapes.
    let jet = br#"{"did":"did:plc:a","time_us":1,"kind":"identity","identity":{}}"#;
    assert!(d.feed(jet, 4).is_err());
    let mut b = Decoder::new(Format::Bluesky, DecoderOptions::default());
    assert!(matches!(
        b.feed(jet, 5).unwrap().unwrap().event,
        Event::Actor(_)
    ));
}
