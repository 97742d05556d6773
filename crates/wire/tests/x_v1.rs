//! X v1.1 statuses/filter lines (archives and exports): realistic fixtures of our own in the
//! documented v1.1 shapes.

use streamer_model::{Event, Platform, Post};
use streamer_wire::{Decoder, DecoderOptions, Format};

const DATA: &str = include_str!("data/x_v1.jsonl");

fn events(format: Format) -> Vec<Event> {
    let mut d = Decoder::new(format, DecoderOptions::default());
    DATA.lines()
        .enumerate()
        .map(|(i, l)| d.feed(l.as_bytes(), i as u64 + 1).unwrap().unwrap().event)
        .collect()
}

fn post(e: &Event) -> &Post {
    match e {
        Event::Create(p) => p,
        other => panic!("expected a post, got {other:?}"),
    }
}

#[test]
fn extended_tweet_full_text_source_and_coordinates() {
    for format in [Format::XV1, Format::Auto] {
        let all = events(format);
        let p = post(&all[0]);
        assert_eq!(p.platform, Platform::X);
        assert_eq!(p.id, "887443233236127744");
        assert_eq!(
            p.text,
            "Springfield County & Shelbyville schools report a #ransomware attack; officials say \
             backups were intact. Details: https://www.springfield.il.us/news/cyber-incident cc \
             @CISAgov $ACME https://twitter.com/Twitter/status/887443233236127744/photo/1"
        );
        assert_eq!(
            p.urls,
            ["https://www.springfield.il.us/news/cyber-incident"]
        );
        assert_eq!(p.hashtags, ["ransomware"]);
        assert_eq!(p.mentions, ["CISAgov"]);
        assert_eq!(p.cashtags, ["ACME"]);
        assert_eq!(p.client.as_deref(), Some("Twitter for iPhone"));
        assert_eq!(p.created_at.as_deref(), Some("2017-07-18T23:25:04Z"));
        assert_eq!(p.author.id, "783214");
        assert_eq!(p.author.handle.as_deref(), Some("Twitter"));
        assert_eq!(p.author.followers, Some(56000000));
        assert_eq!(p.author.created_at.as_deref(), Some("2007-02-20T14:35:54Z"));
        assert_eq!(
            p.url.as_deref(),
            Some("https://x.com/Twitter/status/887443233236127744")
        );
        let g = p.geo.as_ref().expect("geo");
        // `coordinates` is [lon, lat]; the deprecated `geo` ([lat, lon]) is not used.
        assert_eq!(
            (g.lat, g.lon, g.approximate),
            (Some(39.78), Some(-89.65), false)
        );
        assert_eq!(g.place.as_deref(), Some("Springfield, IL"));
        assert_eq!(g.country.as_deref(), Some("US"));
        assert_eq!(p.media.len(), 1);
        assert_eq!(p.media[0].alt_text.as_deref(), Some("notice"));
    }
}

#[test]
fn retweet_of_a_quote() {
    let all = events(Format::XV1);
    let p = post(&all[1]);
    assert_eq!(p.id, "887000000000000003");
    assert_eq!(p.repost_of.as_deref(), Some("887000000000000002"));
    assert_eq!(p.quote_of.as_deref(), Some("887000000000000001"));
    assert_eq!(
        p.text,
        "LockBit claims Shelbyville water district \
         http://lockbit7z2jwcskxpbokpemdxmltipntwlkmidcll2qirbu7ykg46eyd.onion/post/shelbyville \
         https://twitter.com/orig/status/887000000000000001"
    );
    assert_eq!(
        p.urls,
        [
            "http://lockbit7z2jwcskxpbokpemdxmltipntwlkmidcll2qirbu7ykg46eyd.onion/post/shelbyville",
            "http://lockbit7z2jwcskxpbokpemdxmltipntwlkmidcll2qirbu7ykg46eyd.onion/post/shelbyville?x=1"
        ]
    );
    assert!(p.mentions.is_empty());
    assert_eq!(p.author.handle.as_deref(), Some("rter"));
    assert_eq!(p.client.as_deref(), Some("Twitter Web Client"));
}

#[test]
fn place_without_coordinates_and_a_reply() {
    let all = events(Format::XV1);
    let p = post(&all[2]);
    let g = p.geo.as_ref().expect("geo from the place");
    assert!(g.approximate);
    assert!((g.lat.unwrap() - 39.78).abs() < 1e-9);
    assert!((g.lon.unwrap() + 89.67).abs() < 1e-9);
    assert_eq!(g.place.as_deref(), Some("Springfield, IL"));
    assert_eq!(p.reply_to.as_deref(), Some("887000000000000001"));
    assert_eq!(p.reply_to_author.as_deref(), Some("11"));
    assert_eq!(p.client, None);
}

#[test]
fn control_messages() {
    let all = events(Format::Auto);
    match &all[3] {
        Event::Delete(d) => {
            assert_eq!(d.platform, Platform::X);
            assert_eq!(d.id.as_deref(), Some("1234"));
        }
        other => panic!("delete: {other:?}"),
    }
    assert_eq!(all[4], Event::Ignored("x limit notice"));
    match &all[5] {
        Event::Notice(n) => {
            assert_eq!(n.title, "FALLING_BEHIND");
            assert!(!n.disconnect);
        }
        other => panic!("warning: {other:?}"),
    }
    match &all[6] {
        Event::Notice(n) => {
            assert!(n.disconnect);
            assert_eq!(n.detail.as_deref(), Some("admin logout"));
        }
        other => panic!("disconnect: {other:?}"),
    }
}
