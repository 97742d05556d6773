//! Bluesky Jetstream v1: posts (create, update, delete), identity and account events, and
//! records that are not posts. Envelope examples from the Jetstream v1 README; posts our own.

use streamer_model::{Event, Platform};
use streamer_wire::{Decoded, Decoder, DecoderOptions, Format, ParseErrorKind};

const DATA: &str = include_str!("data/bluesky_jetstream.jsonl");
const DID: &str = "did:plc:vwzwgnygau7ed7b7wt5ux7y2";

fn decode_all(format: Format) -> Vec<Decoded> {
    let mut d = Decoder::new(format, DecoderOptions::default());
    DATA.lines()
        .enumerate()
        .map(|(i, l)| d.feed(l.as_bytes(), i as u64 + 1).unwrap().unwrap())
        .collect()
}

#[test]
fn post_with_truncated_link_multibyte_text_and_reply() {
    for format in [Format::Bluesky, Format::Auto] {
        let all = decode_all(format);
        assert_eq!(all[0].cursor, Some(1725911162329308));
        let Event::Create(p) = &all[0].event else {
            panic!("create: {:?}", all[0].event)
        };
        assert_eq!(p.platform, Platform::Bluesky);
        assert_eq!(p.id, format!("at://{DID}/app.bsky.feed.post/3l3qo2vuowo2b"));
        assert_eq!(
            p.url.as_deref(),
            Some(format!("https://bsky.app/profile/{DID}/post/3l3qo2vuowo2b").as_str())
        );
        // Multi-byte characters before the facets; the link's cut text shows the whole URI.
        assert_eq!(
            p.text,
            "Café 🚨 Springfield schools hit: \
             https://springfield.k12.il.us/news/ransomware-incident-update?utm=bsky \
             via @alice.bsky.social #Ransomware"
        );
        assert_eq!(
            p.urls,
            [
                "https://springfield.k12.il.us/news/ransomware-incident-update?utm=bsky",
                "https://news.example.org/springfield"
            ]
        );
        assert_eq!(p.mentions, ["alice.bsky.social"]);
        assert_eq!(p.hashtags, ["Ransomware"]);
        assert_eq!(p.lang.as_deref(), Some("en"));
        assert_eq!(p.langs, ["en", "es"]);
        assert_eq!(p.created_at.as_deref(), Some("2024-09-09T19:46:02.102Z"));
        assert_eq!(
            p.reply_to.as_deref(),
            Some("at://did:plc:parent00000000000000000/app.bsky.feed.post/3l3qnparent")
        );
        assert_eq!(
            p.reply_to_author.as_deref(),
            Some("did:plc:parent00000000000000000")
        );
        assert_eq!(p.author.id, DID);
        assert_eq!(p.author.handle, None, "Jetstream carries no handle");
        assert_eq!(p.client, None);
        assert_eq!(p.quote_of, None);
    }
}

#[test]
fn quote_with_media_update_and_delete() {
    let all = decode_all(Format::Bluesky);
    let Event::Create(q) = &all[1].event else {
        panic!("quote: {:?}", all[1].event)
    };
    assert_eq!(
        q.quote_of.as_deref(),
        Some("at://did:plc:other00000000000000000000/app.bsky.feed.post/3kquoted")
    );
    assert_eq!(q.text, "");
    assert_eq!(q.media.len(), 1);
    assert_eq!(q.media[0].alt_text.as_deref(), Some("leak site screenshot"));
    assert_eq!(
        q.media[0].url.as_deref(),
        Some(
            format!("https://cdn.bsky.app/img/feed_fullsize/plain/{DID}/bafkreiimage@jpeg")
                .as_str()
        )
    );
    let Event::Edit(e) = &all[2].event else {
        panic!("update: {:?}", all[2].event)
    };
    assert_eq!(e.id, format!("at://{DID}/app.bsky.feed.post/3l3qo2vuowo2b"));
    assert_eq!(e.text, "edited text");
    let Event::Delete(d) = &all[3].event else {
        panic!("delete: {:?}", all[3].event)
    };
    assert_eq!(d.id.as_deref(), Some(e.id.as_str()));
    assert_eq!(d.native_id, None);
    assert_eq!(all[3].cursor, Some(1725911164000000));
}

#[test]
fn identity_account_and_non_post_records() {
    let all = decode_all(Format::Auto);
    assert_eq!(all[4].event, Event::Ignored("bluesky follow"));
    let Event::Actor(a) = &all[5].event else {
        panic!("identity: {:?}", all[5].event)
    };
    assert_eq!(a.author_id, "did:plc:ufbl4k27gp6kzas5glhz7fim");
    assert_eq!(a.handle.as_deref(), Some("yohenrique.bsky.social"));
    assert_eq!(a.active, None);
    assert_eq!(a.at.as_deref(), Some("2024-09-05T06:11:04.870Z"));
    let Event::Actor(a) = &all[6].event else {
        panic!("identity without handle: {:?}", all[6].event)
    };
    assert_eq!(a.handle, None);
    assert_eq!(a.status, None);
    let Event::Actor(a) = &all[7].event else {
        panic!("account: {:?}", all[7].event)
    };
    assert_eq!(a.active, Some(false));
    assert_eq!(a.status.as_deref(), Some("deleted"));
    assert_eq!(a.handle, None);
    assert_eq!(all[8].event, Event::Ignored("bluesky like"));
    assert_eq!(all[8].cursor, Some(1725911165000000));
}

#[test]
fn bad_facets_are_skipped_not_sliced() {
    // Offsets inside a multi-byte character and past the end: the text stays as written.
    let line = r#"{"did":"did:plc:a","time_us":1,"kind":"commit","commit":{"operation":"create","collection":"app.bsky.feed.post","rkey":"k","record":{"text":"é🚨x","createdAt":"bad","facets":[{"index":{"byteStart":1,"byteEnd":3},"features":[{"$type":"app.bsky.richtext.facet#link","uri":"https://a.example"}]},{"index":{"byteStart":2,"byteEnd":99},"features":[{"$type":"app.bsky.richtext.facet#mention","did":"did:plc:b"}]}]}}}"#;
    let mut d = Decoder::new(Format::Bluesky, DecoderOptions::default());
    let Event::Create(p) = d.feed(line.as_bytes(), 1).unwrap().unwrap().event else {
        panic!("a post")
    };
    assert_eq!(p.text, "é🚨x");
    assert_eq!(p.urls, ["https://a.example"], "the link is still a link");
    assert!(p.mentions.is_empty());
    assert_eq!(
        p.created_at, None,
        "an unreadable time is null, not made up"
    );
}

#[test]
fn malformed_events_are_typed_errors() {
    let mut d = Decoder::new(Format::Bluesky, DecoderOptions::default());
    for (n, line) in [
        r#"{"did":"did:plc:a","time_us":1,"kind":"commit","commit":{"operation":"create","collection":"app.bsky.feed.post","rkey":"k"}}"#,
        r#"{"did":"did:plc:a","time_us":1,"kind":"commit","commit":{"operation":"create","collection":"app.bsky.feed.post","rkey":"k","record":{"text":5}}}"#,
        r#"{"did":"did:plc:a","time_us":1,"kind":"account"}"#,
        r#"{"time_us":1}"#,
    ]
    .into_iter()
    .enumerate()
    {
        let e = d.feed(line.as_bytes(), n as u64).unwrap_err();
        assert_eq!(e.line, n as u64);
        assert!(matches!(e.kind, ParseErrorKind::UnknownShape(_)), "{e}");
    }
}
