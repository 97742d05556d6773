//! X API v2 filtered-stream lines: `data` + `includes` + `matching_rules`, or `errors`.
//!
//! The hot path of the whole pipeline (200,000 posts/s on two cores), so the line is read once
//! into typed structs that borrow its strings; fields we do not use are skipped by serde
//! without being built. Both the `tweet` names and the newer `post` names of OpenAPI 2.167
//! (`includes.posts`, `note_post`, `referenced_posts`, `edit_history_post_ids`) are accepted.
//!
//! Edits arrive as new posts with new ids. A post whose `edit_history_tweet_ids` has more than
//! one id and whose id is not the first is an [`Event::Edit`] whose `post.id` is the first
//! (original) id, so that storage finds the post it already has; the new version's own id goes
//! to `post.native_id` (a later delete may name it).

use crate::json::{items, opt_string, parse, Count, Id, Str};
use crate::text::{push_unique, rfc3339};
use crate::ParseErrorKind;
use serde::Deserialize;
use streamer_model::{Event, Geo, Media, Platform, Post, StreamNotice};

#[derive(Deserialize)]
struct Line<'a> {
    #[serde(borrow)]
    data: Option<Tweet<'a>>,
    #[serde(borrow)]
    includes: Option<Includes<'a>>,
    #[serde(borrow)]
    errors: Option<Vec<Problem<'a>>>,
}

#[derive(Deserialize)]
pub(crate) struct Tweet<'a> {
    #[serde(borrow)]
    id: Id<'a>,
    #[serde(borrow)]
    text: Option<Str<'a>>,
    #[serde(borrow)]
    author_id: Option<Id<'a>>,
    #[serde(borrow)]
    created_at: Option<Str<'a>>,
    #[serde(borrow)]
    lang: Option<Str<'a>>,
    #[serde(borrow)]
    source: Option<Str<'a>>,
    #[serde(borrow)]
    in_reply_to_user_id: Option<Id<'a>>,
    #[serde(borrow, alias = "referenced_posts")]
    referenced_tweets: Option<Vec<Reference<'a>>>,
    #[serde(borrow)]
    entities: Option<Entities<'a>>,
    #[serde(borrow)]
    geo: Option<TweetGeo<'a>>,
    #[serde(borrow, alias = "note_post")]
    note_tweet: Option<Note<'a>>,
    #[serde(borrow, alias = "edit_history_post_ids")]
    edit_history_tweet_ids: Option<Vec<Id<'a>>>,
    #[serde(borrow)]
    attachments: Option<Attachments<'a>>,
}

#[derive(Deserialize)]
struct Reference<'a> {
    #[serde(borrow, rename = "type")]
    kind: Str<'a>,
    #[serde(borrow)]
    id: Id<'a>,
}

#[derive(Deserialize, Default)]
struct Entities<'a> {
    #[serde(borrow)]
    urls: Option<Vec<UrlEntity<'a>>>,
    #[serde(borrow)]
    hashtags: Option<Vec<Tag<'a>>>,
    #[serde(borrow)]
    mentions: Option<Vec<Mention<'a>>>,
    #[serde(borrow)]
    cashtags: Option<Vec<Tag<'a>>>,
}

#[derive(Deserialize)]
struct UrlEntity<'a> {
    #[serde(borrow)]
    url: Option<Str<'a>>,
    #[serde(borrow)]
    expanded_url: Option<Str<'a>>,
    #[serde(borrow)]
    unwound_url: Option<Str<'a>>,
    /// Present on the link X adds for attached media (a platform link).
    media_key: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
struct Tag<'a> {
    #[serde(borrow)]
    tag: Str<'a>,
}

#[derive(Deserialize)]
struct Mention<'a> {
    #[serde(borrow)]
    username: Str<'a>,
}

#[derive(Deserialize)]
struct TweetGeo<'a> {
    #[serde(borrow)]
    place_id: Option<Str<'a>>,
    coordinates: Option<Point>,
}

#[derive(Deserialize)]
struct Point {
    coordinates: Option<Vec<f64>>,
}

#[derive(Deserialize)]
struct Note<'a> {
    #[serde(borrow)]
    text: Option<Str<'a>>,
    #[serde(borrow)]
    entities: Option<Entities<'a>>,
}

#[derive(Deserialize)]
struct Attachments<'a> {
    #[serde(borrow)]
    media_keys: Option<Vec<Str<'a>>>,
}

#[derive(Deserialize, Default)]
struct Includes<'a> {
    #[serde(borrow)]
    users: Option<Vec<User<'a>>>,
    #[serde(borrow, alias = "posts")]
    tweets: Option<Vec<Tweet<'a>>>,
    #[serde(borrow)]
    places: Option<Vec<Place<'a>>>,
    #[serde(borrow)]
    media: Option<Vec<MediaItem<'a>>>,
}

#[derive(Deserialize)]
struct User<'a> {
    #[serde(borrow)]
    id: Id<'a>,
    #[serde(borrow)]
    username: Option<Str<'a>>,
    #[serde(borrow)]
    name: Option<Str<'a>>,
    #[serde(borrow)]
    created_at: Option<Str<'a>>,
    public_metrics: Option<UserMetrics>,
}

#[derive(Deserialize)]
struct UserMetrics {
    #[serde(default)]
    followers_count: Count,
}

#[derive(Deserialize)]
struct Place<'a> {
    #[serde(borrow)]
    id: Str<'a>,
    #[serde(borrow)]
    full_name: Option<Str<'a>>,
    #[serde(borrow)]
    name: Option<Str<'a>>,
    #[serde(borrow)]
    country_code: Option<Str<'a>>,
    geo: Option<PlaceGeo>,
}

#[derive(Deserialize)]
struct PlaceGeo {
    bbox: Option<Vec<f64>>,
}

#[derive(Deserialize)]
struct MediaItem<'a> {
    #[serde(borrow)]
    media_key: Str<'a>,
    #[serde(borrow, rename = "type")]
    kind: Option<Str<'a>>,
    #[serde(borrow)]
    url: Option<Str<'a>>,
    #[serde(borrow)]
    preview_image_url: Option<Str<'a>>,
    #[serde(borrow)]
    alt_text: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct Problem<'a> {
    #[serde(borrow)]
    title: Option<Str<'a>>,
    #[serde(borrow)]
    detail: Option<Str<'a>>,
    #[serde(borrow, rename = "type")]
    kind: Option<Str<'a>>,
    #[serde(borrow)]
    disconnect_type: Option<Str<'a>>,
    #[serde(borrow)]
    message: Option<Str<'a>>,
}

/// Decodes one X v2 line.
pub(crate) fn decode(line: &str) -> Result<Event, ParseErrorKind> {
    let parsed: Line<'_> = parse(line)?;
    let includes = parsed.includes.unwrap_or_default();
    if let Some(tweet) = parsed.data {
        return Ok(normalise(&tweet, &includes));
    }
    match parsed.errors {
        Some(errors) if !errors.is_empty() => Ok(Event::Notice(notice(&errors))),
        _ => Err(ParseErrorKind::UnknownShape(
            "X v2 line with neither data nor errors".to_owned(),
        )),
    }
}

fn notice(errors: &[Problem<'_>]) -> StreamNotice {
    let disconnect = errors.iter().any(|p| {
        p.disconnect_type.is_some()
            || p.title
                .as_ref()
                .is_some_and(|t| t.as_str().eq_ignore_ascii_case("operational-disconnect"))
            || p.kind
                .as_ref()
                .is_some_and(|t| t.as_str().ends_with("/operational-disconnect"))
    });
    let first = &errors[0];
    let title = first
        .title
        .as_ref()
        .or(first.message.as_ref())
        .or(first.kind.as_ref())
        .map_or("error", |s| s.as_str())
        .to_owned();
    let mut details: Vec<&str> = Vec::new();
    for p in errors {
        if let Some(d) = p.detail.as_ref().or(p.message.as_ref()) {
            if !details.contains(&d.as_str()) {
                details.push(d.as_str());
            }
        }
    }
    StreamNotice {
        platform: Platform::X,
        title,
        detail: (!details.is_empty()).then(|| details.join("; ")),
        disconnect,
    }
}

fn reference<'t>(tweet: &'t Tweet<'_>, kind: &str) -> Option<&'t str> {
    items(&tweet.referenced_tweets)
        .iter()
        .find(|r| r.kind.as_str() == kind)
        .map(|r| r.id.as_str())
}

fn normalise(tweet: &Tweet<'_>, inc: &Includes<'_>) -> Event {
    let own_id = tweet.id.as_str();
    // An edit names the original post (first id of the history), see the module docs.
    let history = items(&tweet.edit_history_tweet_ids);
    let original = history
        .first()
        .map(|h| h.as_str())
        .filter(|first| history.len() > 1 && *first != own_id);
    let id = original.unwrap_or(own_id);
    let author_id = tweet.author_id.as_ref().map_or("", |a| a.as_str());
    let mut post = Post::new(Platform::X, id, author_id);
    if original.is_some() {
        post.native_id = Some(own_id.to_owned());
    }

    if let Some(user) = items(&inc.users)
        .iter()
        .find(|u| u.id.as_str() == author_id)
    {
        post.author.handle = opt_string(&user.username);
        post.author.name = opt_string(&user.name);
        post.author.followers = user
            .public_metrics
            .as_ref()
            .and_then(|m| m.followers_count.0);
        post.author.created_at = user.created_at.as_ref().and_then(|c| rfc3339(c.as_str()));
    }
    post.url = Some(match &post.author.handle {
        Some(h) => format!("https://x.com/{h}/status/{id}"),
        None => format!("https://x.com/i/status/{id}"),
    });
    post.created_at = tweet.created_at.as_ref().and_then(|c| rfc3339(c.as_str()));
    post.client = opt_string(&tweet.source);
    post.reply_to = reference(tweet, "replied_to").map(str::to_owned);
    post.reply_to_author = tweet
        .in_reply_to_user_id
        .as_ref()
        .map(|u| u.as_str().to_owned());

    // A retweet reads as the retweeted post (text, links, tags, language, media).
    let retweeted = reference(tweet, "retweeted");
    post.repost_of = retweeted.map(str::to_owned);
    let content = retweeted
        .and_then(|rt| items(&inc.tweets).iter().find(|t| t.id.as_str() == rt))
        .unwrap_or(tweet);
    // A retweet of a quote carries the quote too (as X's own v1.1 payloads did).
    post.quote_of = reference(tweet, "quoted")
        .or_else(|| {
            if std::ptr::eq(content, tweet) {
                None
            } else {
                reference(content, "quoted")
            }
        })
        .map(str::to_owned);

    fill_content(&mut post, content, inc);
    post.lang = opt_string(&content.lang).or_else(|| opt_string(&tweet.lang));
    if let Some(lang) = &post.lang {
        post.langs.push(lang.clone());
    }
    post.geo = geo(tweet, inc);
    if original.is_some() {
        Event::Edit(Box::new(post))
    } else {
        Event::Create(Box::new(post))
    }
}

/// Text, links, hashtags, mentions, cashtags and media of the post people read.
fn fill_content(post: &mut Post, content: &Tweet<'_>, inc: &Includes<'_>) {
    let note = content
        .note_tweet
        .as_ref()
        .filter(|n| n.text.as_ref().is_some_and(|t| !t.as_str().is_empty()));
    let (raw_text, entities) = match note {
        Some(n) => (
            n.text.as_ref().map_or("", |t| t.as_str()),
            n.entities.as_ref().or(content.entities.as_ref()),
        ),
        None => (
            content.text.as_ref().map_or("", |t| t.as_str()),
            content.entities.as_ref(),
        ),
    };
    let empty = Entities::default();
    let entities = entities.unwrap_or(&empty);
    // Links shortened in the short text may be missing from the note's entities: look in both.
    let fallback = content.entities.as_ref().unwrap_or(&empty);
    let (primary, more) = (items(&entities.urls), items(&fallback.urls));
    post.text = expand_text(raw_text, |short| {
        primary
            .iter()
            .chain(more)
            .find(|u| u.url.as_ref().is_some_and(|s| s.as_str() == short))
            .and_then(|u| u.expanded_url.as_ref())
            .map(|e| e.as_str())
    });

    let quoted = reference(content, "quoted");
    for u in items(&entities.urls) {
        if u.media_key.is_some() {
            continue;
        }
        let expanded = u.expanded_url.as_ref().map(|e| e.as_str());
        if let Some(e) = expanded.filter(|e| is_outside_link(e, quoted)) {
            push_unique(&mut post.urls, e);
        }
        if let Some(w) = u.unwound_url.as_ref().map(|w| w.as_str()) {
            if Some(w) != expanded && is_outside_link(w, quoted) {
                push_unique(&mut post.urls, w);
            }
        }
    }
    for h in items(&entities.hashtags) {
        push_unique(&mut post.hashtags, h.tag.as_str());
    }
    for m in items(&entities.mentions) {
        push_unique(&mut post.mentions, m.username.as_str());
    }
    for c in items(&entities.cashtags) {
        push_unique(&mut post.cashtags, c.tag.as_str());
    }
    let keys = content
        .attachments
        .as_ref()
        .map_or(&[][..], |a| items(&a.media_keys));
    for key in keys {
        if let Some(m) = items(&inc.media)
            .iter()
            .find(|m| m.media_key.as_str() == key.as_str())
        {
            let kind = match m.kind.as_ref().map(|k| k.as_str()) {
                Some("animated_gif") => "gif",
                Some(k) if !k.is_empty() => k,
                _ => "media",
            };
            post.media.push(Media {
                kind: kind.to_owned(),
                url: opt_string(&m.url).or_else(|| opt_string(&m.preview_image_url)),
                alt_text: opt_string(&m.alt_text),
            });
        }
    }
}

/// True for a link the author shared, false for t.co and X's own links: media pages
/// (`…/status/ID/photo/1`), v1.1's truncated self-link (`/i/web/status/ID`), and the permalink
/// of the post being quoted (that is `quote_of`).
pub(crate) fn is_outside_link(url: &str, quoted: Option<&str>) -> bool {
    let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    else {
        return !url.is_empty();
    };
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = host.to_ascii_lowercase();
    if host == "t.co" {
        return false;
    }
    let own = matches!(
        host.as_str(),
        "twitter.com" | "www.twitter.com" | "mobile.twitter.com" | "x.com" | "www.x.com"
    );
    if !own {
        return true;
    }
    let path = path.split(['?', '#']).next().unwrap_or(path);
    if path.starts_with("/i/web/status/") {
        return false;
    }
    let mut segments = path.split('/').skip_while(|s| *s != "status").skip(1);
    let status_id = segments.next();
    if matches!(segments.next(), Some("photo" | "video")) {
        return false;
    }
    !(quoted.is_some() && status_id == quoted)
}

/// Replaces each t.co link with its expanded URL and decodes `&amp;`, `&lt;`, `&gt;` (the only
/// references X puts in text), in one pass.
/// `lookup` maps a t.co link to its expanded URL; links it does not know stay as they are.
pub(crate) fn expand_text<'u>(text: &str, lookup: impl Fn(&str) -> Option<&'u str>) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len() + 64);
    let mut last = 0;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'&' => {
                let rest = &text[i..];
                let (rep, n) = if rest.starts_with("&amp;") {
                    ("&", 5)
                } else if rest.starts_with("&lt;") {
                    ("<", 4)
                } else if rest.starts_with("&gt;") {
                    (">", 4)
                } else {
                    i += 1;
                    continue;
                };
                out.push_str(&text[last..i]);
                out.push_str(rep);
                i += n;
                last = i;
            }
            b'h' => {
                let rest = &text[i..];
                let prefix = if rest.starts_with("https://t.co/") {
                    13
                } else if rest.starts_with("http://t.co/") {
                    12
                } else {
                    i += 1;
                    continue;
                };
                let mut end = i + prefix;
                while end < b.len() && b[end].is_ascii_alphanumeric() {
                    end += 1;
                }
                let short = &text[i..end];
                if let Some(e) = lookup(short).filter(|e| !e.is_empty()) {
                    out.push_str(&text[last..i]);
                    out.push_str(e);
                    last = end;
                }
                i = end;
            }
            _ => i += 1,
        }
    }
    out.push_str(&text[last..]);
    out
}

fn geo(tweet: &Tweet<'_>, inc: &Includes<'_>) -> Option<Geo> {
    let g = tweet.geo.as_ref()?;
    let place = g.place_id.as_ref().and_then(|id| {
        items(&inc.places)
            .iter()
            .find(|p| p.id.as_str() == id.as_str())
    });
    geo_of(
        g.coordinates
            .as_ref()
            .and_then(|p| p.coordinates.as_deref()),
        place.map(|p| GeoPlace {
            name: opt_string(&p.full_name).or_else(|| opt_string(&p.name)),
            country: opt_string(&p.country_code),
            centre: p
                .geo
                .as_ref()
                .and_then(|g| g.bbox.as_deref())
                .and_then(bbox_centre),
        }),
    )
}

/// What a post's place contributes to its [`Geo`].
pub(crate) struct GeoPlace {
    pub name: Option<String>,
    pub country: Option<String>,
    /// The centre (lat, lon) of its box, when it has one.
    pub centre: Option<(f64, f64)>,
}

/// A post's [`Geo`] (both X formats): its exact point (GeoJSON `[lon, lat, ...]`) when valid,
/// else its place's centre, marked approximate; `None` with neither.
pub(crate) fn geo_of(point: Option<&[f64]>, place: Option<GeoPlace>) -> Option<Geo> {
    let point = point.and_then(|c| match c {
        // GeoJSON order: [longitude, latitude].
        [lon, lat, ..] if lat.abs() <= 90.0 && lon.abs() <= 180.0 => Some((*lat, *lon)),
        _ => None,
    });
    let (name, country, centre) = match place {
        Some(p) => (p.name, p.country, p.centre),
        None if point.is_some() => (None, None, None),
        None => return None,
    };
    Some(match point {
        Some((lat, lon)) => Geo {
            lat: Some(lat),
            lon: Some(lon),
            approximate: false,
            place: name,
            country,
        },
        None => Geo {
            lat: centre.map(|c| c.0),
            lon: centre.map(|c| c.1),
            approximate: true,
            place: name,
            country,
        },
    })
}

/// The centre (lat, lon) of a GeoJSON bbox `[west, south, east, north]`.
pub(crate) fn bbox_centre(bbox: &[f64]) -> Option<(f64, f64)> {
    match bbox {
        [w, s, e, n] if [w, s, e, n].iter().all(|v| v.is_finite()) => {
            Some(((s + n) / 2.0, (w + e) / 2.0))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_links_exclude_x_own_links() {
        assert!(is_outside_link("https://example.gov/a", None));
        assert!(!is_outside_link("https://t.co/abc", None));
        assert!(!is_outside_link(
            "https://twitter.com/u/status/1/photo/1",
            None
        ));
        assert!(!is_outside_link("https://twitter.com/i/web/status/9", None));
        assert!(!is_outside_link("https://x.com/u/status/7", Some("7")));
        assert!(is_outside_link("https://x.com/u/status/7", Some("8")));
        assert!(is_outside_link("https://twitter.com/someone", None));
    }

    #[test]
    fn bbox_centre_is_lat_lon() {
        assert_eq!(bbox_centre(&[-2.0, 50.0, -1.0, 52.0]), Some((51.0, -1.5)));
        assert_eq!(bbox_centre(&[1.0, 2.0]), None);
    }
}
