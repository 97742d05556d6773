//! Bluesky Jetstream v1 events: `commit` (posts created, updated, deleted; other records are
//! not posts), `identity` (handle changes) and `account` (deactivations, takedowns).
//!
//! Facets index the text in UTF-8 bytes. A link's visible text is often cut (`example.gov/a…`)
//! while the facet's URI is whole, so the text shows the URI. Offsets that are out of range,
//! not on a character boundary, or overlapping are skipped, never sliced.

use crate::json::{items, opt_string, parse, Str};
use crate::text::{push_unique, rfc3339};
use crate::{Decoded, ParseErrorKind};
use serde::Deserialize;
use serde_json::value::RawValue;
use streamer_model::{ActorEvent, DeleteRef, Event, Media, Platform, Post};

const POST: &str = "app.bsky.feed.post";

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    did: Str<'a>,
    time_us: Option<i64>,
    #[serde(borrow)]
    kind: Option<Str<'a>>,
    #[serde(borrow)]
    commit: Option<Commit<'a>>,
    #[serde(borrow)]
    identity: Option<Identity<'a>>,
    #[serde(borrow)]
    account: Option<AccountEvent<'a>>,
}

#[derive(Deserialize)]
struct Commit<'a> {
    #[serde(borrow)]
    operation: Str<'a>,
    #[serde(borrow)]
    collection: Str<'a>,
    #[serde(borrow)]
    rkey: Str<'a>,
    #[serde(borrow)]
    record: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Identity<'a> {
    #[serde(borrow)]
    handle: Option<Str<'a>>,
    #[serde(borrow)]
    time: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct AccountEvent<'a> {
    active: Option<bool>,
    #[serde(borrow)]
    status: Option<Str<'a>>,
    #[serde(borrow)]
    time: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct Record<'a> {
    #[serde(borrow, default)]
    text: Option<Str<'a>>,
    #[serde(borrow, rename = "createdAt")]
    created_at: Option<Str<'a>>,
    #[serde(borrow)]
    langs: Option<Vec<Str<'a>>>,
    #[serde(borrow)]
    facets: Option<Vec<Facet<'a>>>,
    #[serde(borrow)]
    reply: Option<Reply<'a>>,
    #[serde(borrow)]
    embed: Option<Embed<'a>>,
    #[serde(borrow)]
    tags: Option<Vec<Str<'a>>>,
}

#[derive(Deserialize)]
struct Facet<'a> {
    index: Option<ByteSlice>,
    #[serde(borrow)]
    features: Option<Vec<Feature<'a>>>,
}

#[derive(Deserialize, Clone, Copy)]
struct ByteSlice {
    #[serde(rename = "byteStart")]
    start: Option<u64>,
    #[serde(rename = "byteEnd")]
    end: Option<u64>,
}

#[derive(Deserialize)]
struct Feature<'a> {
    #[serde(borrow, rename = "$type")]
    kind: Option<Str<'a>>,
    #[serde(borrow)]
    uri: Option<Str<'a>>,
    #[serde(borrow)]
    tag: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct Reply<'a> {
    #[serde(borrow)]
    parent: Option<StrongRef<'a>>,
}

#[derive(Deserialize)]
struct StrongRef<'a> {
    #[serde(borrow)]
    uri: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct Embed<'a> {
    #[serde(borrow)]
    external: Option<External<'a>>,
    /// `app.bsky.embed.record`: a strongRef; `recordWithMedia`: `{record: strongRef}`.
    #[serde(borrow)]
    record: Option<EmbedRecord<'a>>,
    #[serde(borrow)]
    media: Option<Box<Embed<'a>>>,
    #[serde(borrow)]
    images: Option<Vec<Image<'a>>>,
    #[serde(borrow)]
    video: Option<&'a RawValue>,
    #[serde(borrow)]
    alt: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct External<'a> {
    #[serde(borrow)]
    uri: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct EmbedRecord<'a> {
    #[serde(borrow)]
    uri: Option<Str<'a>>,
    #[serde(borrow)]
    record: Option<StrongRef<'a>>,
}

#[derive(Deserialize)]
struct Image<'a> {
    #[serde(borrow)]
    alt: Option<Str<'a>>,
    #[serde(borrow)]
    image: Option<Blob<'a>>,
}

#[derive(Deserialize)]
struct Blob<'a> {
    #[serde(borrow, rename = "ref")]
    reference: Option<BlobRef<'a>>,
}

#[derive(Deserialize)]
struct BlobRef<'a> {
    #[serde(borrow, rename = "$link")]
    link: Option<Str<'a>>,
}

/// Decodes one Jetstream event; its `time_us` is the cursor.
pub(crate) fn decode(line: &str) -> Result<Decoded, ParseErrorKind> {
    let env: Envelope<'_> = parse(line)?;
    let did = env.did.as_str();
    if did.is_empty() {
        return Err(ParseErrorKind::UnknownShape(
            "Jetstream event with an empty did".to_owned(),
        ));
    }
    let kind = env.kind.as_ref().map(|k| k.as_str());
    let event = if let Some(commit) = env.commit.as_ref().filter(|_| kind != Some("identity")) {
        commit_event(did, commit)?
    } else if let Some(id) = env.identity.as_ref() {
        Event::Actor(ActorEvent {
            platform: Platform::Bluesky,
            author_id: did.to_owned(),
            handle: opt_string(&id.handle),
            active: None,
            status: None,
            at: id.time.as_ref().and_then(|t| rfc3339(t.as_str())),
        })
    } else if let Some(acc) = env.account.as_ref() {
        Event::Actor(ActorEvent {
            platform: Platform::Bluesky,
            author_id: did.to_owned(),
            handle: None,
            active: acc.active,
            status: opt_string(&acc.status),
            at: acc.time.as_ref().and_then(|t| rfc3339(t.as_str())),
        })
    } else {
        return Err(ParseErrorKind::UnknownShape(format!(
            "Jetstream event of kind {:?} without its body",
            kind.unwrap_or("")
        )));
    };
    Ok(Decoded {
        event,
        cursor: env.time_us,
    })
}

fn ignored(collection: &str) -> &'static str {
    match collection {
        "app.bsky.feed.like" => "bluesky like",
        "app.bsky.feed.repost" => "bluesky repost",
        "app.bsky.graph.follow" => "bluesky follow",
        "app.bsky.graph.block" => "bluesky block",
        "app.bsky.actor.profile" => "bluesky profile",
        _ => "bluesky other record",
    }
}

fn commit_event(did: &str, c: &Commit<'_>) -> Result<Event, ParseErrorKind> {
    let collection = c.collection.as_str();
    if collection != POST {
        return Ok(Event::Ignored(ignored(collection)));
    }
    let rkey = c.rkey.as_str();
    if rkey.is_empty() {
        return Err(ParseErrorKind::UnknownShape(
            "Jetstream post commit with an empty rkey".to_owned(),
        ));
    }
    let uri = format!("at://{did}/{POST}/{rkey}");
    match c.operation.as_str() {
        "delete" => Ok(Event::Delete(DeleteRef {
            platform: Platform::Bluesky,
            id: Some(uri),
            native_id: None,
        })),
        op @ ("create" | "update") => {
            let raw = c.record.ok_or_else(|| {
                ParseErrorKind::UnknownShape(format!("Jetstream post {op} without a record"))
            })?;
            let record: Record<'_> = parse(raw.get())?;
            let post = Box::new(normalise(did, rkey, uri, &record));
            Ok(if op == "create" {
                Event::Create(post)
            } else {
                Event::Edit(post)
            })
        }
        other => Err(ParseErrorKind::UnknownShape(format!(
            "Jetstream commit operation {:?}",
            crate::preview(other)
        ))),
    }
}

/// The DID inside an AT-URI (`at://DID/collection/rkey`).
fn did_of(at_uri: &str) -> Option<&str> {
    let rest = at_uri.strip_prefix("at://")?;
    let did = rest.split('/').next()?;
    did.starts_with("did:").then_some(did)
}

fn normalise(did: &str, rkey: &str, uri: String, r: &Record<'_>) -> Post {
    let mut post = Post::new(Platform::Bluesky, uri, did);
    post.url = Some(format!("https://bsky.app/profile/{did}/post/{rkey}"));
    post.created_at = r.created_at.as_ref().and_then(|c| rfc3339(c.as_str()));
    for l in items(&r.langs) {
        push_unique(&mut post.langs, l.as_str());
    }
    post.lang = post.langs.first().cloned();

    let text = r.text.as_ref().map_or("", |t| t.as_str());
    let mut links: Vec<(usize, usize, &str)> = Vec::new();
    for f in items(&r.facets) {
        let range = f.index.and_then(|ix| byte_range(text, ix));
        for feat in items(&f.features) {
            let kind = feat.kind.as_ref().map_or("", |k| k.as_str());
            if kind.ends_with("#link") {
                if let Some(u) = feat.uri.as_ref().map(|u| u.as_str()) {
                    push_unique(&mut post.urls, u);
                    if let Some((a, b)) = range {
                        links.push((a, b, u));
                    }
                }
            } else if kind.ends_with("#mention") {
                if let Some((a, b)) = range {
                    let visible = text[a..b].trim();
                    let handle = visible.strip_prefix(['@', '＠']).unwrap_or(visible);
                    push_unique(&mut post.mentions, handle);
                }
            } else if kind.ends_with("#tag") {
                if let Some(t) = feat.tag.as_ref() {
                    let t = t.as_str();
                    push_unique(&mut post.hashtags, t.strip_prefix('#').unwrap_or(t));
                }
            }
        }
    }
    for t in items(&r.tags) {
        push_unique(&mut post.hashtags, t.as_str());
    }
    post.text = replace_ranges(text, &mut links);

    post.reply_to = r
        .reply
        .as_ref()
        .and_then(|rep| rep.parent.as_ref())
        .and_then(|p| opt_string(&p.uri));
    post.reply_to_author = post.reply_to.as_deref().and_then(did_of).map(str::to_owned);
    if let Some(embed) = &r.embed {
        embed_into(&mut post, did, embed, 0);
    }
    post
}

/// A facet's byte range, when it is inside the text and on character boundaries.
fn byte_range(text: &str, ix: ByteSlice) -> Option<(usize, usize)> {
    let a = usize::try_from(ix.start?).ok()?;
    let b = usize::try_from(ix.end?).ok()?;
    (a < b && b <= text.len() && text.is_char_boundary(a) && text.is_char_boundary(b))
        .then_some((a, b))
}

/// The text with each link range replaced by its URI (overlapping ranges: the first wins).
fn replace_ranges(text: &str, links: &mut [(usize, usize, &str)]) -> String {
    links.sort_by_key(|l| l.0);
    let mut out = String::with_capacity(text.len() + 32);
    let mut last = 0;
    for &(a, b, uri) in links.iter() {
        if a < last {
            continue;
        }
        out.push_str(&text[last..a]);
        out.push_str(uri);
        last = b;
    }
    out.push_str(&text[last..]);
    out
}

/// Links, quotes and media of an embed; `recordWithMedia` nests one level.
fn embed_into(post: &mut Post, did: &str, e: &Embed<'_>, depth: u8) {
    if let Some(u) = e.external.as_ref().and_then(|x| x.uri.as_ref()) {
        push_unique(&mut post.urls, u.as_str());
    }
    if let Some(rec) = &e.record {
        let quoted = rec
            .uri
            .as_ref()
            .or_else(|| rec.record.as_ref().and_then(|r| r.uri.as_ref()))
            .map(|u| u.as_str())
            .filter(|u| u.contains("/app.bsky.feed.post/"));
        if let Some(q) = quoted {
            post.quote_of = Some(q.to_owned());
        }
    }
    for img in items(&e.images) {
        let cid = img
            .image
            .as_ref()
            .and_then(|b| b.reference.as_ref())
            .and_then(|r| r.link.as_ref());
        post.media.push(Media {
            kind: "photo".to_owned(),
            url: cid.map(|c| {
                format!(
                    "https://cdn.bsky.app/img/feed_fullsize/plain/{did}/{}@jpeg",
                    c.as_str()
                )
            }),
            alt_text: opt_string(&img.alt),
        });
    }
    if e.video.is_some() {
        post.media.push(Media {
            kind: "video".to_owned(),
            url: None,
            alt_text: opt_string(&e.alt),
        });
    }
    if depth == 0 {
        if let Some(media) = &e.media {
            embed_into(post, did, media, 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_ranges_must_be_valid() {
        let t = "é ab";
        let ix = |s, e| ByteSlice {
            start: Some(s),
            end: Some(e),
        };
        assert_eq!(byte_range(t, ix(3, 5)), Some((3, 5)));
        assert_eq!(byte_range(t, ix(1, 3)), None, "inside 'é'");
        assert_eq!(byte_range(t, ix(3, 9)), None);
        assert_eq!(byte_range(t, ix(4, 4)), None);
    }

    #[test]
    fn overlapping_links_keep_the_first() {
        let mut links = vec![(4, 6, "B"), (0, 5, "A")];
        assert_eq!(replace_ranges("0123456789", &mut links), "A56789");
    }

    #[test]
    fn did_from_at_uri() {
        assert_eq!(
            did_of("at://did:plc:abc/app.bsky.feed.post/3k"),
            Some("did:plc:abc")
        );
        assert_eq!(did_of("https://x"), None);
    }
}
