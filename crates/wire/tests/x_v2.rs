//! X API v2 filtered-stream lines: a real 2021 capture and fixtures of our own.

use streamer_model::{Event, Platform, Post};
use streamer_wire::{Decoder, DecoderOptions, Format};

fn decode(format: Format, line: &str) -> Event {
    let mut d = Decoder::new(format, DecoderOptions::default());
    d.feed(line.as_bytes(), 1)
        .expect("decodes")
        .expect("an event")
        .event
}

fn created(format: Format, line: &str) -> Post {
    match decode(format, line) {
        Event::Create(p) => *p,
        other => panic!("expected a new post, got {other:?}"),
    }
}

fn capture() -> Vec<String> {
    include_str!("data/x_v2_twarc_2021.jsonl")
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn real_quote_with_place_and_photo() {
    let lines = capture();
    for format in [Format::X, Format::Auto] {
        let p = created(format, &lines[0]);
        assert_eq!(p.platform, Platform::X);
        assert_eq!(p.id, "1377650090978992134");
        assert_eq!(
            p.url.as_deref(),
            Some("https://x.com/blackheart_265/status/1377650090978992134")
        );
        assert_eq!(p.created_at.as_deref(), Some("2021-04-01T15:52:31.000Z"));
        assert_eq!(
            p.text,
            "Fury https://twitter.com/blackheart_265/status/1377650090978992134/photo/1 \
             https://twitter.com/Manie_DS/status/1377640162566496258"
        );
        // Media pages and the quoted post's permalink are X's own links.
        assert!(p.urls.is_empty(), "{:?}", p.urls);
        assert_eq!(p.quote_of.as_deref(), Some("1377640162566496258"));
        assert_eq!(p.repost_of, None);
        assert_eq!(p.reply_to, None);
        assert_eq!(p.client.as_deref(), Some("Twitter for Android"));
        assert_eq!(p.lang.as_deref(), Some("en"));
        assert_eq!(p.author.id, "4602771083");
        assert_eq!(p.author.handle.as_deref(), Some("blackheart_265"));
        assert_eq!(p.author.name.as_deref(), Some("Endangered Species"));
        assert_eq!(p.author.followers, Some(881));
        assert_eq!(
            p.author.created_at.as_deref(),
            Some("2015-12-25T18:50:44.000Z")
        );
        // A place without coordinates: the bounding-box centre, marked approximate.
        let g = p.geo.expect("geo from the place");
        assert!(g.approximate);
        assert_eq!(g.place.as_deref(), Some("Malawi"));
        assert_eq!(g.country.as_deref(), Some("MW"));
        let (lat, lon) = (g.lat.unwrap(), g.lon.unwrap());
        assert!((lat - (-17.1276504 + -9.3670837) / 2.0).abs() < 1e-9);
        assert!((lon - (32.6718934 + 35.92038) / 2.0).abs() < 1e-9);
        assert_eq!(p.media.len(), 1);
        assert_eq!(p.media[0].kind, "photo");
        assert_eq!(
            p.media[0].url.as_deref(),
            Some("https://pbs.twimg.com/media/Ex5ldKwXEAEnEnI.jpg")
        );
    }
}

#[test]
fn real_exact_coordinates_are_lat_lon() {
    let p = created(Format::X, &capture()[1]);
    let g = p.geo.expect("geo");
    assert!(!g.approximate);
    assert_eq!(g.lat, Some(34.75192228));
    assert_eq!(g.lon, Some(-86.58216981));
    assert_eq!(g.place.as_deref(), Some("Huntsville, AL"));
    assert_eq!(g.country.as_deref(), Some("US"));
    assert_eq!(
        p.urls,
        ["https://www.instagram.com/p/CNIQbqSrZRL/?igshid=je3jmv61ndpu"],
        "unwound_url equal to expanded_url is listed once"
    );
    assert!(p
        .text
        .starts_with("Got the doggo groomed because it\u{2019}s been hot"));
    assert!(p
        .text
        .ends_with("Grooming https://www.instagram.com/p/CNIQbqSrZRL/?igshid=je3jmv61ndpu"));
    assert_eq!(p.client.as_deref(), Some("Instagram"));
}

#[test]
fn real_operational_disconnect_is_a_notice() {
    match decode(Format::Auto, &capture()[2]) {
        Event::Notice(n) => {
            assert_eq!(n.platform, Platform::X);
            assert!(n.disconnect);
            assert_eq!(n.title, "operational-disconnect");
            assert_eq!(
                n.detail.as_deref(),
                Some("This stream has been disconnected for operational reasons.")
            );
        }
        other => panic!("expected a notice, got {other:?}"),
    }
}

#[test]
fn real_reply_has_target_and_mention() {
    let p = created(Format::X, &capture()[3]);
    assert_eq!(p.reply_to.as_deref(), Some("1377645742874038274"));
    assert_eq!(p.reply_to_author.as_deref(), Some("262333880"));
    assert_eq!(p.mentions, ["AndrewDoak_WWL"]);
    assert_eq!(p.author.followers, Some(1949));
    assert_eq!(p.geo.unwrap().place.as_deref(), Some("Denver, CO"));
}

#[test]
fn note_tweet_with_integer_ids_and_post_names() {
    // Ids as JSON integers above 2^53 and the OpenAPI 2.167 `post` spellings.
    let line = r#"{"data":{"id":1790000000000000123,"author_id":1234567890123456789,"text":"Short version https://t.co/short1 &amp; more…","note_post":{"text":"Long version: #LockBit hit Springfield &amp; Shelbyville schools, see https://t.co/long01 and https://t.co/long02 $ACME @cisagov","entities":{"urls":[{"start":70,"end":93,"url":"https://t.co/long01","expanded_url":"https://springfield.k12.il.us/notice","unwound_url":"https://springfield.k12.il.us/notice?final=1"},{"url":"https://t.co/long02","expanded_url":"https://example.org/x?a=1&b=2"}],"hashtags":[{"start":14,"end":22,"tag":"LockBit"}],"cashtags":[{"tag":"ACME"}],"mentions":[{"username":"cisagov"}]}},"entities":{"urls":[{"url":"https://t.co/short1","expanded_url":"https://twitter.com/i/web/status/1790000000000000123"}]},"edit_history_post_ids":[1790000000000000123],"lang":"en","created_at":"2024-05-13T08:00:01.000Z"},"includes":{"users":[{"id":1234567890123456789,"username":"sec_watch","name":"Sec Watch","public_metrics":{"followers_count":"42"}}]},"matching_rules":[{"id":1377649934414049282,"tag":""}]}"#;
    let p = created(Format::Auto, line);
    assert_eq!(p.id, "1790000000000000123");
    assert_eq!(p.author.id, "1234567890123456789");
    assert_eq!(p.author.followers, Some(42));
    assert_eq!(
        p.text,
        "Long version: #LockBit hit Springfield & Shelbyville schools, see \
         https://springfield.k12.il.us/notice and https://example.org/x?a=1&b=2 $ACME @cisagov"
    );
    assert_eq!(
        p.urls,
        [
            "https://springfield.k12.il.us/notice",
            "https://springfield.k12.il.us/notice?final=1",
            "https://example.org/x?a=1&b=2"
        ]
    );
    assert_eq!(p.hashtags, ["LockBit"]);
    assert_eq!(p.cashtags, ["ACME"]);
    assert_eq!(p.mentions, ["cisagov"]);
    assert_eq!(p.langs, ["en"]);
    assert_eq!(p.geo, None);
    assert_eq!(p.client, None);
    assert_eq!(p.created_at.as_deref(), Some("2024-05-13T08:00:01.000Z"));
}

fn retweet_of_quote() -> &'static str {
    r#"{"data":{"id":"1800000000000000003","author_id":"30","text":"RT @bob: Springfield County confirms ransomware; leak site lists them https://t.co/…","referenced_tweets":[{"type":"retweeted","id":"1800000000000000002"}],"entities":{"mentions":[{"username":"bob"}]},"lang":"en","source":"Twitter Web App","created_at":"2024-06-01T12:00:00.000Z","edit_history_tweet_ids":["1800000000000000003"]},"includes":{"users":[{"id":"30","username":"carol","name":"Carol"},{"id":"20","username":"bob","name":"Bob"}],"tweets":[{"id":"1800000000000000002","author_id":"20","text":"Springfield County confirms ransomware; leak site lists them https://t.co/leak01 #ransomware https://t.co/quote1","referenced_tweets":[{"type":"quoted","id":"1800000000000000001"}],"entities":{"urls":[{"url":"https://t.co/leak01","expanded_url":"http://lockbitxyz.onion/post/springfield"},{"url":"https://t.co/quote1","expanded_url":"https://twitter.com/alice/status/1800000000000000001"}],"hashtags":[{"tag":"ransomware"}]},"lang":"en"}]}}"#
}

#[test]
fn retweet_of_a_quote_reads_as_the_retweeted_post() {
    let p = created(Format::X, retweet_of_quote());
    assert_eq!(p.id, "1800000000000000003");
    assert_eq!(p.repost_of.as_deref(), Some("1800000000000000002"));
    assert_eq!(p.quote_of.as_deref(), Some("1800000000000000001"));
    assert_eq!(
        p.text,
        "Springfield County confirms ransomware; leak site lists them \
         http://lockbitxyz.onion/post/springfield #ransomware \
         https://twitter.com/alice/status/1800000000000000001"
    );
    assert_eq!(p.urls, ["http://lockbitxyz.onion/post/springfield"]);
    assert_eq!(p.hashtags, ["ransomware"]);
    assert!(
        p.mentions.is_empty(),
        "the RT prefix's mention is not the post's"
    );
    assert_eq!(p.author.handle.as_deref(), Some("carol"));
    assert_eq!(p.client.as_deref(), Some("Twitter Web App"));
    assert_eq!(
        p.url.as_deref(),
        Some("https://x.com/carol/status/1800000000000000003")
    );
}

#[test]
fn retweet_without_the_expansion_keeps_its_own_text() {
    let line = r#"{"data":{"id":"5","author_id":"30","text":"RT @bob: cut…","referenced_tweets":[{"type":"retweeted","id":"4"}]}}"#;
    let p = created(Format::X, line);
    assert_eq!(p.repost_of.as_deref(), Some("4"));
    assert_eq!(p.text, "RT @bob: cut…");
    assert_eq!(p.author.handle, None);
    assert_eq!(p.url.as_deref(), Some("https://x.com/i/status/5"));
}

#[test]
fn an_edit_names_the_original_post() {
    let line = r#"{"data":{"id":"1700000000000000200","text":"fixed typo","author_id":"9","edit_history_tweet_ids":["1700000000000000100","1700000000000000200"]}}"#;
    match decode(Format::X, line) {
        Event::Edit(p) => {
            assert_eq!(p.id, "1700000000000000100");
            assert_eq!(p.native_id.as_deref(), Some("1700000000000000200"));
            assert_eq!(p.text, "fixed typo");
        }
        other => panic!("expected an edit, got {other:?}"),
    }
    // The original version of an edited post is a plain post.
    let first = r#"{"data":{"id":"1700000000000000100","text":"fixd","edit_history_tweet_ids":["1700000000000000100","1700000000000000200"]}}"#;
    assert!(matches!(decode(Format::X, first), Event::Create(_)));
}

#[test]
fn partial_errors_do_not_hide_the_post() {
    let line = r#"{"data":{"id":"1234567890","text":"Look at this cute cat! 🐱","author_id":"9876543210","created_at":"2024-01-15T10:35:00.000Z","edit_history_tweet_ids":["1234567890"],"referenced_tweets":[{"type":"quoted","id":"456"}]},"includes":{"users":[{"id":"9876543210","username":"catperson"}]},"errors":[{"resource_id":"456","resource_type":"tweet","title":"Not Found Error","detail":"Could not find tweet with id: [456].","type":"https://api.x.com/2/problems/resource-not-found"}],"matching_rules":[{"id":"1273026480692322304","tag":"cats with images"}]}"#;
    let p = created(Format::X, line);
    assert_eq!(p.text, "Look at this cute cat! 🐱");
    assert_eq!(p.quote_of.as_deref(), Some("456"));
    assert_eq!(p.author.handle.as_deref(), Some("catperson"));
    assert_eq!(p.author.name, None);
    assert_eq!(p.author.followers, None);
}

#[test]
fn other_error_lines_are_notices_without_disconnect() {
    let line = r#"{"errors":[{"title":"ConnectionException","detail":"This stream is currently at the maximum allowed connection limit.","connection_issue":"TooManyConnections","type":"https://api.twitter.com/2/problems/streaming-connection"}]}"#;
    match decode(Format::X, line) {
        Event::Notice(n) => {
            assert!(!n.disconnect);
            assert_eq!(n.title, "ConnectionException");
        }
        other => panic!("expected a notice, got {other:?}"),
    }
}

#[test]
fn float_ids_and_empty_lines_are_unknown_shapes() {
    let mut d = Decoder::new(Format::X, DecoderOptions::default());
    let e = d
        .feed(br#"{"data":{"id":1.377650090978992e18,"text":"x"}}"#, 7)
        .unwrap_err();
    assert_eq!(e.line, 7);
    assert!(
        matches!(e.kind, streamer_wire::ParseErrorKind::UnknownShape(_)),
        "{e}"
    );
    let e = d.feed(br#"{"matching_rules":[]}"#, 8).unwrap_err();
    assert!(
        matches!(e.kind, streamer_wire::ParseErrorKind::UnknownShape(_)),
        "{e}"
    );
}
