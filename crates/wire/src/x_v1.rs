//! X v1.1 `statuses/filter` JSON, as in old archives and exports (the Python tool's format).
//!
//! A line is a whole Tweet object or a control message (`delete`, `limit`, `warning`,
//! `disconnect`, ...). Differences from v2 handled here: `extended_tweet.full_text` over the
//! truncated `text`, an HTML anchor as `source`, `coordinates` in GeoJSON `[lon, lat]` order
//! (the deprecated `geo` is `[lat, lon]` and ignored), `place.bounding_box` as a polygon, and
//! retweets and quotes embedded whole.

use crate::json::{items, opt_string, parse, Count, Id, Str};
use crate::text::{decode_entities, push_unique, rfc3339};
use crate::x::{bbox_centre, expand_text, geo_of, is_outside_link, GeoPlace};
use crate::ParseErrorKind;
use serde::de::IgnoredAny;
use serde::Deserialize;
use streamer_model::{DeleteRef, Event, Geo, Media, Platform, Post, StreamNotice};

#[derive(Deserialize)]
struct Status<'a> {
    #[serde(borrow)]
    id_str: Option<Str<'a>>,
    #[serde(borrow)]
    id: Option<Id<'a>>,
    #[serde(borrow)]
    text: Option<Str<'a>>,
    #[serde(borrow)]
    full_text: Option<Str<'a>>,
    #[serde(borrow)]
    extended_tweet: Option<Extended<'a>>,
    #[serde(borrow)]
    source: Option<Str<'a>>,
    #[serde(borrow)]
    created_at: Option<Str<'a>>,
    #[serde(borrow)]
    lang: Option<Str<'a>>,
    #[serde(borrow)]
    user: Option<User<'a>>,
    coordinates: Option<Point>,
    #[serde(borrow)]
    place: Option<Place<'a>>,
    #[serde(borrow)]
    entities: Option<Entities<'a>>,
    #[serde(borrow)]
    extended_entities: Option<Entities<'a>>,
    #[serde(borrow)]
    retweeted_status: Option<Box<Status<'a>>>,
    #[serde(borrow)]
    quoted_status: Option<Box<Status<'a>>>,
    #[serde(borrow)]
    quoted_status_id_str: Option<Str<'a>>,
    #[serde(borrow)]
    in_reply_to_status_id_str: Option<Str<'a>>,
    #[serde(borrow)]
    in_reply_to_status_id: Option<Id<'a>>,
    #[serde(borrow)]
    in_reply_to_user_id_str: Option<Str<'a>>,
    #[serde(borrow)]
    in_reply_to_user_id: Option<Id<'a>>,
    // Control messages (top level only).
    #[serde(borrow)]
    delete: Option<DeleteMsg<'a>>,
    #[serde(borrow)]
    warning: Option<Warning<'a>>,
    #[serde(borrow)]
    disconnect: Option<Disconnect<'a>>,
    limit: Option<IgnoredAny>,
    scrub_geo: Option<IgnoredAny>,
    status_withheld: Option<IgnoredAny>,
    user_withheld: Option<IgnoredAny>,
    friends: Option<IgnoredAny>,
    event: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct Extended<'a> {
    #[serde(borrow)]
    full_text: Option<Str<'a>>,
    #[serde(borrow)]
    entities: Option<Entities<'a>>,
    #[serde(borrow)]
    extended_entities: Option<Entities<'a>>,
}

#[derive(Deserialize)]
struct User<'a> {
    #[serde(borrow)]
    id_str: Option<Str<'a>>,
    #[serde(borrow)]
    id: Option<Id<'a>>,
    #[serde(borrow)]
    screen_name: Option<Str<'a>>,
    #[serde(borrow)]
    name: Option<Str<'a>>,
    #[serde(default)]
    followers_count: Count,
    #[serde(borrow)]
    created_at: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct Point {
    coordinates: Option<Vec<f64>>,
}

#[derive(Deserialize)]
struct Place<'a> {
    #[serde(borrow)]
    full_name: Option<Str<'a>>,
    #[serde(borrow)]
    name: Option<Str<'a>>,
    #[serde(borrow)]
    country_code: Option<Str<'a>>,
    bounding_box: Option<BoundingBox>,
}

#[derive(Deserialize)]
struct BoundingBox {
    coordinates: Option<Vec<Vec<Vec<f64>>>>,
}

#[derive(Deserialize, Default)]
struct Entities<'a> {
    #[serde(borrow)]
    urls: Option<Vec<UrlEntity<'a>>>,
    #[serde(borrow)]
    hashtags: Option<Vec<Text<'a>>>,
    #[serde(borrow)]
    user_mentions: Option<Vec<UserMention<'a>>>,
    #[serde(borrow)]
    symbols: Option<Vec<Text<'a>>>,
    #[serde(borrow)]
    media: Option<Vec<MediaEntity<'a>>>,
}

#[derive(Deserialize)]
struct UrlEntity<'a> {
    #[serde(borrow)]
    url: Option<Str<'a>>,
    #[serde(borrow)]
    expanded_url: Option<Str<'a>>,
    #[serde(borrow)]
    unwound: Option<Unwound<'a>>,
}

#[derive(Deserialize)]
struct Unwound<'a> {
    #[serde(borrow)]
    url: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct Text<'a> {
    #[serde(borrow)]
    text: Str<'a>,
}

#[derive(Deserialize)]
struct UserMention<'a> {
    #[serde(borrow)]
    screen_name: Str<'a>,
}

#[derive(Deserialize)]
struct MediaEntity<'a> {
    #[serde(borrow)]
    url: Option<Str<'a>>,
    #[serde(borrow)]
    expanded_url: Option<Str<'a>>,
    #[serde(borrow)]
    media_url_https: Option<Str<'a>>,
    #[serde(borrow)]
    media_url: Option<Str<'a>>,
    #[serde(borrow, rename = "type")]
    kind: Option<Str<'a>>,
    #[serde(borrow)]
    ext_alt_text: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct DeleteMsg<'a> {
    #[serde(borrow)]
    status: Option<DeletedStatus<'a>>,
}

#[derive(Deserialize)]
struct DeletedStatus<'a> {
    #[serde(borrow)]
    id_str: Option<Str<'a>>,
    #[serde(borrow)]
    id: Option<Id<'a>>,
}

#[derive(Deserialize)]
struct Warning<'a> {
    #[serde(borrow)]
    code: Option<Str<'a>>,
    #[serde(borrow)]
    message: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct Disconnect<'a> {
    #[serde(borrow)]
    reason: Option<Str<'a>>,
}

fn id_of(id_str: &Option<Str<'_>>, id: &Option<Id<'_>>) -> Option<String> {
    opt_string(id_str).or_else(|| {
        id.as_ref()
            .map(|i| i.as_str().to_owned())
            .filter(|s| !s.is_empty())
    })
}

/// Decodes one X v1.1 line.
pub(crate) fn decode(line: &str) -> Result<Event, ParseErrorKind> {
    let s: Status<'_> = parse(line)?;
    if let Some(del) = &s.delete {
        let id = del.status.as_ref().and_then(|d| id_of(&d.id_str, &d.id));
        return match id {
            Some(id) => Ok(Event::Delete(DeleteRef {
                platform: Platform::X,
                id: Some(id),
                native_id: None,
            })),
            None => Err(ParseErrorKind::UnknownShape(
                "X v1.1 delete without a status id".to_owned(),
            )),
        };
    }
    if let Some(d) = &s.disconnect {
        return Ok(Event::Notice(StreamNotice {
            platform: Platform::X,
            title: "disconnect".to_owned(),
            detail: opt_string(&d.reason),
            disconnect: true,
        }));
    }
    if let Some(w) = &s.warning {
        return Ok(Event::Notice(StreamNotice {
            platform: Platform::X,
            title: opt_string(&w.code).unwrap_or_else(|| "warning".to_owned()),
            detail: opt_string(&w.message),
            disconnect: false,
        }));
    }
    if s.limit.is_some() {
        return Ok(Event::Ignored("x limit notice"));
    }
    if s.scrub_geo.is_some() || s.status_withheld.is_some() || s.user_withheld.is_some() {
        return Ok(Event::Ignored("x compliance notice"));
    }
    if s.friends.is_some() || s.event.is_some() {
        return Ok(Event::Ignored("x user stream message"));
    }
    let Some(id) = id_of(&s.id_str, &s.id) else {
        return Err(ParseErrorKind::UnknownShape(
            "X v1.1 object without id_str or id".to_owned(),
        ));
    };
    if s.user.is_none() {
        return Err(ParseErrorKind::UnknownShape(
            "X v1.1 status without user".to_owned(),
        ));
    }
    Ok(Event::Create(Box::new(normalise(&s, id))))
}

fn normalise(s: &Status<'_>, id: String) -> Post {
    let user = s.user.as_ref();
    let author_id = user
        .and_then(|u| id_of(&u.id_str, &u.id))
        .unwrap_or_default();
    let mut post = Post::new(Platform::X, id, author_id);
    if let Some(u) = user {
        post.author.handle = opt_string(&u.screen_name);
        post.author.name = opt_string(&u.name);
        post.author.followers = u.followers_count.0;
        post.author.created_at = u.created_at.as_ref().and_then(|c| rfc3339(c.as_str()));
    }
    post.url = Some(match &post.author.handle {
        Some(h) => format!("https://x.com/{h}/status/{}", post.id),
        None => format!("https://x.com/i/status/{}", post.id),
    });
    post.created_at = s.created_at.as_ref().and_then(|c| rfc3339(c.as_str()));
    post.client = s.source.as_ref().and_then(|src| client_name(src.as_str()));
    post.reply_to = id_of(&s.in_reply_to_status_id_str, &s.in_reply_to_status_id);
    post.reply_to_author = id_of(&s.in_reply_to_user_id_str, &s.in_reply_to_user_id);

    let content: &Status<'_> = s.retweeted_status.as_deref().unwrap_or(s);
    post.repost_of = s
        .retweeted_status
        .as_ref()
        .and_then(|rt| id_of(&rt.id_str, &rt.id));
    post.quote_of = quoted(s).or_else(|| s.retweeted_status.as_deref().and_then(quoted));
    fill_content(&mut post, content);
    post.lang = opt_string(&content.lang).or_else(|| opt_string(&s.lang));
    if let Some(l) = &post.lang {
        post.langs.push(l.clone());
    }
    post.geo = geo(s);
    post
}

fn quoted(s: &Status<'_>) -> Option<String> {
    opt_string(&s.quoted_status_id_str).or_else(|| {
        s.quoted_status
            .as_ref()
            .and_then(|q| id_of(&q.id_str, &q.id))
    })
}

/// The client name inside v1.1's `source` anchor (`<a href="…">Twitter for iPhone</a>`).
fn client_name(source: &str) -> Option<String> {
    let inner = match (source.find('>'), source.rfind("</a>")) {
        (Some(open), Some(close)) if open < close => &source[open + 1..close],
        _ if source.trim_start().starts_with('<') => return None,
        _ => source,
    };
    let name = decode_entities(inner.trim());
    (!name.is_empty()).then_some(name)
}

fn fill_content(post: &mut Post, c: &Status<'_>) {
    let ext = c.extended_tweet.as_ref();
    let (text, entities, ext_entities) = match ext.and_then(|e| e.full_text.as_ref()) {
        Some(full) => (
            full.as_str(),
            ext.and_then(|e| e.entities.as_ref()),
            ext.and_then(|e| e.extended_entities.as_ref()),
        ),
        None => (
            c.full_text
                .as_ref()
                .or(c.text.as_ref())
                .map_or("", |t| t.as_str()),
            c.entities.as_ref(),
            c.extended_entities.as_ref(),
        ),
    };
    let empty = Entities::default();
    let entities = entities.unwrap_or(&empty);
    let urls = items(&entities.urls);
    let media = items(&entities.media);
    post.text = expand_text(text, |short| {
        let from_urls = urls
            .iter()
            .find(|u| u.url.as_ref().is_some_and(|s| s.as_str() == short))
            .and_then(|u| u.expanded_url.as_ref());
        let from_media = || {
            media
                .iter()
                .find(|m| m.url.as_ref().is_some_and(|s| s.as_str() == short))
                .and_then(|m| m.expanded_url.as_ref())
        };
        from_urls.or_else(from_media).map(|e| e.as_str())
    });
    let quoted = c.quoted_status_id_str.as_ref().map(|q| q.as_str());
    for u in urls {
        let expanded = u.expanded_url.as_ref().map(|e| e.as_str());
        if let Some(e) = expanded.filter(|e| is_outside_link(e, quoted)) {
            push_unique(&mut post.urls, e);
        }
        let unwound = u.unwound.as_ref().and_then(|w| w.url.as_ref());
        if let Some(w) = unwound.map(|w| w.as_str()) {
            if Some(w) != expanded && is_outside_link(w, quoted) {
                push_unique(&mut post.urls, w);
            }
        }
    }
    for h in items(&entities.hashtags) {
        push_unique(&mut post.hashtags, h.text.as_str());
    }
    for m in items(&entities.user_mentions) {
        push_unique(&mut post.mentions, m.screen_name.as_str());
    }
    for sym in items(&entities.symbols) {
        push_unique(&mut post.cashtags, sym.text.as_str());
    }
    let media_list = ext_entities
        .map(|e| items(&e.media))
        .filter(|m| !m.is_empty())
        .unwrap_or(media);
    for m in media_list {
        let kind = match m.kind.as_ref().map(|k| k.as_str()) {
            Some("animated_gif") => "gif",
            Some(k) if !k.is_empty() => k,
            _ => "media",
        };
        post.media.push(Media {
            kind: kind.to_owned(),
            url: opt_string(&m.media_url_https).or_else(|| opt_string(&m.media_url)),
            alt_text: opt_string(&m.ext_alt_text),
        });
    }
}

fn geo(s: &Status<'_>) -> Option<Geo> {
    geo_of(
        s.coordinates
            .as_ref()
            .and_then(|p| p.coordinates.as_deref()),
        s.place.as_ref().map(|p| GeoPlace {
            name: opt_string(&p.full_name).or_else(|| opt_string(&p.name)),
            country: opt_string(&p.country_code),
            centre: p
                .bounding_box
                .as_ref()
                .and_then(|b| b.coordinates.as_deref())
                .and_then(polygon_centre),
        }),
    )
}

/// The centre (lat, lon) of the box around a GeoJSON polygon's `[lon, lat]` points.
fn polygon_centre(rings: &[Vec<Vec<f64>>]) -> Option<(f64, f64)> {
    let mut bbox: Option<[f64; 4]> = None;
    for point in rings.iter().flatten() {
        if let [lon, lat, ..] = point.as_slice() {
            let b = bbox.get_or_insert([*lon, *lat, *lon, *lat]);
            b[0] = b[0].min(*lon);
            b[1] = b[1].min(*lat);
            b[2] = b[2].max(*lon);
            b[3] = b[3].max(*lat);
        }
    }
    bbox_centre(&bbox?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_anchor_gives_the_client_name() {
        assert_eq!(
            client_name(r#"<a href="http://twitter.com/download/iphone" rel="nofollow">Twitter for iPhone</a>"#)
                .as_deref(),
            Some("Twitter for iPhone")
        );
        assert_eq!(client_name("web").as_deref(), Some("web"));
        assert_eq!(client_name("<a href=x>"), None);
        assert_eq!(
            client_name("<a href=\"x\">A &amp; B</a>").as_deref(),
            Some("A & B")
        );
    }

    #[test]
    fn polygon_centre_is_lat_lon() {
        let ring = vec![vec![
            vec![-87.9, 41.6],
            vec![-87.9, 42.0],
            vec![-87.5, 42.0],
            vec![-87.5, 41.6],
        ]];
        let (lat, lon) = polygon_centre(&ring).unwrap();
        assert!((lat - 41.8).abs() < 1e-9 && (lon + 87.7).abs() < 1e-9);
        assert_eq!(polygon_centre(&[]), None);
    }
}
