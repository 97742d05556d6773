//! Mastodon streaming: SSE (a real Mastodon 4.0 recording) and WebSocket envelopes (our own
//! fixtures: HTML with entities and custom emoji, boosts, quotes, edit then delete).

use streamer_model::{Event, Platform, Post};
use streamer_wire::{parse_mastodon_status, Decoder, DecoderOptions, Format, ParseErrorKind};

fn run(format: Format, instance: Option<&str>, input: &str) -> Vec<Event> {
    let mut d = Decoder::new(
        format,
        DecoderOptions {
            mastodon_instance: instance.map(str::to_owned),
            ..DecoderOptions::default()
        },
    );
    input
        .lines()
        .enumerate()
        .filter_map(|(i, line)| d.feed(line.as_bytes(), i as u64 + 1).expect("decodes"))
        .map(|decoded| {
            assert_eq!(decoded.cursor, None);
            decoded.event
        })
        .collect()
}

fn post(e: &Event) -> &Post {
    match e {
        Event::Create(p) | Event::Edit(p) => p,
        other => panic!("expected a post, got {other:?}"),
    }
}

const SSE: &str = include_str!("data/mastodon_sse.txt");
const WS: &str = include_str!("data/mastodon_ws.jsonl");

#[test]
fn real_sse_update_edit_delete() {
    for format in [Format::Mastodon, Format::Auto] {
        let events = run(format, None, SSE);
        assert_eq!(events.len(), 4, "{events:?}");
        let Event::Create(p) = &events[0] else {
            panic!("update is a new post: {:?}", events[0])
        };
        assert_eq!(p.platform, Platform::Mastodon);
        assert_eq!(
            p.id,
            "http://localhost:3000/users/mastodonpy_test/statuses/109440150000675569"
        );
        assert_eq!(
            p.url.as_deref(),
            Some("http://localhost:3000/@mastodonpy_test/109440150000675569")
        );
        assert_eq!(p.text, "it's cool guy");
        assert_eq!(p.lang.as_deref(), Some("ja"));
        assert_eq!(p.client.as_deref(), Some("Mastodon.py test suite"));
        assert_eq!(p.created_at.as_deref(), Some("2022-12-01T19:49:23.830Z"));
        // A local account: the instance is its URL's host, without the port.
        assert_eq!(p.author.id, "localhost:109440137734600341");
        assert_eq!(
            p.author.handle.as_deref(),
            Some("mastodonpy_test@localhost")
        );
        assert_eq!(p.author.name.as_deref(), Some("John Lennon"));
        assert_eq!(p.author.followers, Some(0));
        assert_eq!(
            p.author.created_at.as_deref(),
            Some("2022-12-01T00:00:00.000Z")
        );
        assert_eq!(p.native_id.as_deref(), Some("localhost:109440150000675569"));
        assert!(p.urls.is_empty() && p.hashtags.is_empty() && p.mentions.is_empty());
        assert_eq!(p.geo, None);

        let Event::Edit(e) = &events[1] else {
            panic!("status.update is an edit: {:?}", events[1])
        };
        assert_eq!(e.id, p.id);
        assert_eq!(e.text, "it's cool guy (edited)");

        let Event::Delete(del) = &events[2] else {
            panic!("delete: {:?}", events[2])
        };
        assert_eq!(del.platform, Platform::Mastodon);
        assert_eq!(del.id, None);
        assert_eq!(
            del.native_id, p.native_id,
            "the delete resolves to the post"
        );
        assert!(matches!(events[3], Event::Ignored(_)));
    }
}

#[test]
fn html_with_entities_mentions_hashtags_and_custom_emoji() {
    let events = run(Format::Auto, None, WS);
    let p = post(&events[0]);
    assert_eq!(
        p.text,
        "CW: breach & leak\n\n:blobcat_alert: Heads\u{a0}up @bob & @carol: \"Springfield\" data at \
         https://leak.example.com/springfield-il/files?id=1&page=2 \u{2014} café <3\n\n\
         #RansomWare #CVE_2024_1234\nsecond line"
    );
    assert_eq!(
        p.urls,
        [
            "https://leak.example.com/springfield-il/files?id=1&page=2",
            "https://news.example.org/springfield-ransomware"
        ]
    );
    assert_eq!(p.hashtags, ["RansomWare", "CVE_2024_1234"]);
    assert_eq!(p.mentions, ["bob@mastodon.social", "carol"]);
    assert_eq!(p.author.id, "infosec.exchange:109000000000000001");
    assert_eq!(p.author.handle.as_deref(), Some("alice@infosec.exchange"));
    assert_eq!(p.author.name.as_deref(), Some("Alice :verified:"));
    assert_eq!(p.author.followers, Some(1234));
    assert_eq!(p.client.as_deref(), Some("Ivory for iOS"));
    assert_eq!(
        p.reply_to.as_deref(),
        Some("infosec.exchange:112999999999999999")
    );
    assert_eq!(
        p.reply_to_author.as_deref(),
        Some("infosec.exchange:109000000000000042")
    );
    assert_eq!(p.media.len(), 1);
    assert_eq!(p.media[0].kind, "photo");
    assert_eq!(
        p.media[0].alt_text.as_deref(),
        Some("screenshot of the leak site")
    );
}

#[test]
fn boost_reads_as_the_boosted_status() {
    let events = run(Format::Mastodon, None, WS);
    let p = post(&events[1]);
    assert_eq!(
        p.id,
        "https://mastodon.social/users/dave/statuses/113000000000000777/activity"
    );
    assert_eq!(p.url.as_deref(), Some(p.id.as_str()), "no url: the uri");
    assert_eq!(
        p.repost_of.as_deref(),
        Some("https://infosec.exchange/users/alice/statuses/113000000000000001")
    );
    assert!(p.text.ends_with("second line") && p.text.starts_with("CW: breach"));
    assert_eq!(p.hashtags, ["RansomWare", "CVE_2024_1234"]);
    assert_eq!(p.lang.as_deref(), Some("en"));
    assert_eq!(p.reply_to, None, "the boost itself replies to nothing");
    // A remote account without a configured instance: the domain of its acct.
    assert_eq!(p.author.id, "mastodon.social:110000000000000003");
    assert_eq!(p.author.handle.as_deref(), Some("dave@mastodon.social"));
    // The status id is local to the server we read from (learned from local accounts).
    assert_eq!(
        p.native_id.as_deref(),
        Some("infosec.exchange:113000000000000050")
    );
}

#[test]
fn quote_posts_edit_then_delete_and_other_events() {
    let events = run(Format::Auto, None, WS);
    assert_eq!(events.len(), 8);
    let q = post(&events[2]);
    assert_eq!(
        q.quote_of.as_deref(),
        Some("https://infosec.exchange/users/alice/statuses/113000000000000001")
    );
    assert_eq!(q.text, "Das hier!");
    assert_eq!(q.lang.as_deref(), Some("de"));

    let original = post(&events[0]);
    let Event::Edit(edit) = &events[3] else {
        panic!("status.update: {:?}", events[3])
    };
    assert_eq!(edit.id, original.id);
    assert_eq!(edit.text, "corrected: nothing leaked");
    let Event::Delete(del) = &events[4] else {
        panic!("delete: {:?}", events[4])
    };
    assert_eq!(del.native_id, original.native_id);
    assert_eq!(
        del.native_id.as_deref(),
        Some("infosec.exchange:113000000000000001")
    );
    assert_eq!(events[5], Event::Ignored("mastodon notification"));
    assert!(matches!(events[6], Event::Ignored(_)));
    match &events[7] {
        Event::Notice(n) => {
            assert_eq!(n.title, "Unknown stream type");
            assert!(!n.disconnect);
        }
        other => panic!("error frame: {other:?}"),
    }
}

#[test]
fn a_configured_instance_qualifies_every_id() {
    let events = run(Format::Mastodon, Some("https://infosec.exchange/"), WS);
    let boost = post(&events[1]);
    assert_eq!(boost.author.id, "infosec.exchange:110000000000000003");
    assert_eq!(boost.author.handle.as_deref(), Some("dave@mastodon.social"));
    let sse = run(Format::Mastodon, Some("mastodon.example"), SSE);
    let p = post(&sse[0]);
    assert_eq!(p.author.id, "mastodon.example:109440137734600341");
    assert_eq!(
        p.author.handle.as_deref(),
        Some("mastodonpy_test@mastodon.example")
    );
    let Event::Delete(del) = &sse[2] else {
        panic!("delete")
    };
    assert_eq!(
        del.native_id.as_deref(),
        Some("mastodon.example:109440150000675569")
    );
}

#[test]
fn a_delete_before_any_instance_is_known_keeps_the_bare_id() {
    let events = run(Format::Mastodon, None, "event: delete\ndata: 42\n");
    let Event::Delete(del) = &events[0] else {
        panic!("delete")
    };
    assert_eq!(del.native_id.as_deref(), Some("42"));
}

#[test]
fn rest_status_for_gap_fill() {
    let status = SSE
        .lines()
        .find_map(|l| l.strip_prefix("data: {").map(|rest| format!("{{{rest}")))
        .expect("a status in the recording");
    let p = parse_mastodon_status(&status, "localhost:3000").expect("parses");
    assert_eq!(p.author.id, "localhost:109440137734600341");
    assert_eq!(p.native_id.as_deref(), Some("localhost:109440150000675569"));
    assert_eq!(p.text, "it's cool guy");
    // A bare Status line in a replay file decodes too.
    let events = run(Format::Auto, None, &status);
    assert_eq!(post(&events[0]).id, p.id);
    assert!(matches!(
        parse_mastodon_status("{\"id\":\"1\"}", "x"),
        Err(ParseErrorKind::UnknownShape(_))
    ));
    assert!(matches!(
        parse_mastodon_status("<html>", "x"),
        Err(ParseErrorKind::NotJson(_))
    ));
}

#[test]
fn sse_framing_edge_cases() {
    let mut d = Decoder::new(Format::Mastodon, DecoderOptions::default());
    assert_eq!(d.feed(b":)", 1).unwrap(), None);
    assert_eq!(d.feed(b":thump\r", 2).unwrap(), None);
    assert_eq!(d.feed(b"event: delete", 3).unwrap(), None);
    // A blank line ends the event: its name does not leak into the next one.
    assert_eq!(d.feed(b"", 4).unwrap(), None);
    let e = d.feed(b"data: 123", 5).unwrap_err();
    assert_eq!(e.line, 5);
    assert!(matches!(e.kind, ParseErrorKind::UnknownShape(_)));
    assert_eq!(d.feed(b"event: update", 6).unwrap(), None);
    let e = d.feed(b"data: {not json", 7).unwrap_err();
    assert!(matches!(e.kind, ParseErrorKind::NotJson(_)), "{e}");
    assert_eq!(d.feed(b"event: delete", 8).unwrap(), None);
    assert!(d.feed(b"data: ", 9).is_err(), "a delete needs an id");
}
