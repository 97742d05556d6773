//! Mastodon streaming events (WebSocket envelope and SSE) and REST Status objects.
//!
//! Mastodon ids (statuses and accounts) are local to the server that serves them, so they are
//! qualified by that server: `INSTANCE:ID`. The post id is the status `uri` (its ActivityPub id,
//! the same on every server), so a post federated to two watched servers is one post.

use crate::html;
use crate::json::{items, opt_string, parse, Count, Id, Str};
use crate::text::{instance_host, push_unique, rfc3339, url_host};
use crate::ParseErrorKind;
use serde::Deserialize;
use serde_json::value::RawValue;
use streamer_model::{DeleteRef, Event, Media, Platform, Post, StreamNotice};

/// What qualifies Mastodon's server-local ids.
#[derive(Debug, Clone, Default)]
pub(crate) struct Context {
    /// The configured server (`DecoderOptions::mastodon_instance`), as a bare host.
    configured: Option<String>,
    /// The server learned from the last local account seen (`acct` without `@`), for the bare
    /// ids of `delete` events when nothing is configured.
    learned: Option<String>,
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    event: Option<Str<'a>>,
    #[serde(borrow)]
    payload: Option<&'a RawValue>,
    #[serde(borrow)]
    error: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct Status<'a> {
    #[serde(borrow)]
    id: Id<'a>,
    #[serde(borrow)]
    uri: Option<Str<'a>>,
    #[serde(borrow)]
    url: Option<Str<'a>>,
    #[serde(borrow)]
    created_at: Option<Str<'a>>,
    #[serde(borrow)]
    in_reply_to_id: Option<Id<'a>>,
    #[serde(borrow)]
    in_reply_to_account_id: Option<Id<'a>>,
    #[serde(borrow)]
    spoiler_text: Option<Str<'a>>,
    #[serde(borrow)]
    content: Option<Str<'a>>,
    #[serde(borrow)]
    language: Option<Str<'a>>,
    #[serde(borrow)]
    reblog: Option<Box<Status<'a>>>,
    #[serde(borrow)]
    application: Option<Application<'a>>,
    #[serde(borrow)]
    account: Account<'a>,
    #[serde(borrow)]
    media_attachments: Option<Vec<Attachment<'a>>>,
    #[serde(borrow)]
    mentions: Option<Vec<MentionRef<'a>>>,
    #[serde(borrow)]
    tags: Option<Vec<TagRef<'a>>>,
    #[serde(borrow)]
    card: Option<Card<'a>>,
    #[serde(borrow)]
    quote: Option<Quote<'a>>,
}

#[derive(Deserialize)]
struct Application<'a> {
    #[serde(borrow)]
    name: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct Account<'a> {
    #[serde(borrow)]
    id: Id<'a>,
    #[serde(borrow)]
    username: Option<Str<'a>>,
    #[serde(borrow)]
    acct: Option<Str<'a>>,
    #[serde(borrow)]
    display_name: Option<Str<'a>>,
    #[serde(borrow)]
    url: Option<Str<'a>>,
    #[serde(borrow)]
    created_at: Option<Str<'a>>,
    #[serde(default)]
    followers_count: Count,
}

#[derive(Deserialize)]
struct Attachment<'a> {
    #[serde(borrow, rename = "type")]
    kind: Option<Str<'a>>,
    #[serde(borrow)]
    url: Option<Str<'a>>,
    #[serde(borrow)]
    remote_url: Option<Str<'a>>,
    #[serde(borrow)]
    description: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct MentionRef<'a> {
    #[serde(borrow)]
    acct: Option<Str<'a>>,
    #[serde(borrow)]
    username: Option<Str<'a>>,
    #[serde(borrow)]
    url: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct TagRef<'a> {
    #[serde(borrow)]
    name: Option<Str<'a>>,
    #[serde(borrow)]
    url: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct Card<'a> {
    #[serde(borrow)]
    url: Option<Str<'a>>,
}

/// Mastodon 4.5 `quote` (a Quote with `quoted_status`, or a ShallowQuote with
/// `quoted_status_id`), or a whole Status on forks that embed one (Fedibird).
#[derive(Deserialize)]
struct Quote<'a> {
    #[serde(borrow)]
    quoted_status: Option<QuotedRef<'a>>,
    #[serde(borrow)]
    quoted_status_id: Option<Id<'a>>,
    #[serde(borrow)]
    uri: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct QuotedRef<'a> {
    #[serde(borrow)]
    uri: Option<Str<'a>>,
    #[serde(borrow)]
    id: Option<Id<'a>>,
}

impl Context {
    pub(crate) fn new(instance: Option<&str>) -> Context {
        Context {
            configured: instance.map(instance_host).filter(|h| !h.is_empty()),
            learned: None,
        }
    }

    /// A JSON line: a WebSocket envelope, an error frame, or a bare Status (REST form).
    pub(crate) fn decode_json(&mut self, line: &str) -> Result<Event, ParseErrorKind> {
        let env: Envelope<'_> = parse(line)?;
        if let Some(event) = &env.event {
            let data = match env.payload {
                None => String::new(),
                Some(raw) if raw.get().starts_with('"') => {
                    let s: Str<'_> = parse(raw.get())?;
                    s.0.into_owned()
                }
                Some(raw) => raw.get().to_owned(),
            };
            return self.decode_event(event.as_str(), &data);
        }
        if let Some(error) = &env.error {
            return Ok(Event::Notice(StreamNotice {
                platform: Platform::Mastodon,
                title: error.as_str().to_owned(),
                detail: None,
                disconnect: false,
            }));
        }
        let status: Status<'_> = parse(line)?;
        Ok(Event::Create(Box::new(self.normalise(&status, true))))
    }

    /// One streaming event by name, with its payload text (SSE `data:` or the envelope's
    /// `payload`, already unquoted).
    pub(crate) fn decode_event(
        &mut self,
        event: &str,
        data: &str,
    ) -> Result<Event, ParseErrorKind> {
        match event {
            "update" | "status.update" => {
                let status: Status<'_> = parse(data)?;
                let post = Box::new(self.normalise(&status, true));
                Ok(if event == "update" {
                    Event::Create(post)
                } else {
                    Event::Edit(post)
                })
            }
            "delete" => {
                let id = data.trim().trim_matches('"');
                if id.is_empty() || id.contains(|c: char| c.is_whitespace() || c == ':') {
                    return Err(ParseErrorKind::UnknownShape(format!(
                        "Mastodon delete without a status id: {:?}",
                        crate::preview(data)
                    )));
                }
                let native_id = match self.configured.as_ref().or(self.learned.as_ref()) {
                    Some(instance) => format!("{instance}:{id}"),
                    None => id.to_owned(),
                };
                Ok(Event::Delete(DeleteRef {
                    platform: Platform::Mastodon,
                    id: None,
                    native_id: Some(native_id),
                }))
            }
            "notification" | "notifications_merged" => Ok(Event::Ignored("mastodon notification")),
            "conversation" => Ok(Event::Ignored("mastodon conversation")),
            "filters_changed" => Ok(Event::Ignored("mastodon filters_changed")),
            e if e.starts_with("announcement") => Ok(Event::Ignored("mastodon announcement")),
            _ => Ok(Event::Ignored("mastodon unknown event")),
        }
    }

    /// One REST Status object (no learning: the instance is given).
    pub(crate) fn status_post(&self, json: &str) -> Result<Post, ParseErrorKind> {
        let status: Status<'_> = parse(json)?;
        let mut ctx = self.clone();
        Ok(ctx.normalise(&status, false))
    }

    /// `INSTANCE` for an account: configured, else a local account's URL host, else the domain
    /// of `acct`; the status's own host when the account says nothing.
    fn account_instance(&self, account: &Account<'_>, status_uri: Option<&str>) -> String {
        if let Some(c) = &self.configured {
            return c.clone();
        }
        let acct = account.acct.as_ref().map_or("", |a| a.as_str());
        if let Some((_, domain)) = acct.split_once('@') {
            if !domain.is_empty() {
                return domain.to_ascii_lowercase();
            }
        }
        account
            .url
            .as_ref()
            .and_then(|u| url_host(u.as_str()))
            .or_else(|| status_uri.and_then(url_host))
            .unwrap_or_default()
    }

    fn normalise(&mut self, s: &Status<'_>, learn: bool) -> Post {
        let uri = s.uri.as_ref().map(|u| u.as_str()).filter(|u| !u.is_empty());
        let author_instance = self.account_instance(&s.account, uri);
        let acct = s.account.acct.as_ref().map_or("", |a| a.as_str());
        let local = !acct.contains('@');
        if learn && self.configured.is_none() && local && !author_instance.is_empty() {
            self.learned = Some(author_instance.clone());
        }
        // The server the ids are local to: configured, else learned, else the author's.
        let native_instance = self
            .configured
            .clone()
            .or_else(|| self.learned.clone())
            .unwrap_or_else(|| author_instance.clone());
        let native_id = format!("{native_instance}:{}", s.id.as_str());
        let id = uri
            .map(str::to_owned)
            .or_else(|| opt_string(&s.url))
            .unwrap_or_else(|| native_id.clone());
        let author_id = format!("{author_instance}:{}", s.account.id.as_str());
        let mut post = Post::new(Platform::Mastodon, id, author_id);
        post.native_id = Some(native_id);
        post.url = opt_string(&s.url).or_else(|| uri.map(str::to_owned));
        post.created_at = s.created_at.as_ref().and_then(|c| rfc3339(c.as_str()));
        post.client = s.application.as_ref().and_then(|a| opt_string(&a.name));

        let a = &s.account;
        post.author.handle = if local {
            a.username
                .as_ref()
                .or(a.acct.as_ref())
                .map(|u| u.as_str())
                .filter(|u| !u.is_empty() && !author_instance.is_empty())
                .map(|u| format!("{u}@{author_instance}"))
        } else {
            Some(acct.to_owned())
        };
        post.author.name = opt_string(&a.display_name);
        post.author.followers = a.followers_count.0;
        post.author.created_at = a.created_at.as_ref().and_then(|c| rfc3339(c.as_str()));

        post.reply_to = s
            .in_reply_to_id
            .as_ref()
            .map(|r| format!("{native_instance}:{}", r.as_str()));
        post.reply_to_author = s
            .in_reply_to_account_id
            .as_ref()
            .map(|r| format!("{native_instance}:{}", r.as_str()));

        let content: &Status<'_> = s.reblog.as_deref().unwrap_or(s);
        post.repost_of = s.reblog.as_ref().and_then(|r| {
            opt_string(&r.uri).or_else(|| Some(format!("{native_instance}:{}", r.id.as_str())))
        });
        post.quote_of = content.quote.as_ref().and_then(|q| {
            q.quoted_status
                .as_ref()
                .and_then(|qs| {
                    opt_string(&qs.uri).or_else(|| {
                        qs.id
                            .as_ref()
                            .map(|i| format!("{native_instance}:{}", i.as_str()))
                    })
                })
                .or_else(|| opt_string(&q.uri))
                .or_else(|| {
                    q.quoted_status_id
                        .as_ref()
                        .map(|i| format!("{native_instance}:{}", i.as_str()))
                })
        });
        fill_content(&mut post, content);
        post
    }
}

fn fill_content(post: &mut Post, c: &Status<'_>) {
    let converted = html::convert(c.content.as_ref().map_or("", |t| t.as_str()));
    let spoiler = c.spoiler_text.as_ref().map_or("", |t| t.as_str().trim());
    post.text = match (spoiler.is_empty(), converted.text.is_empty()) {
        (true, _) => converted.text,
        (false, true) => spoiler.to_owned(),
        (false, false) => format!("{spoiler}\n\n{}", converted.text),
    };
    // Links to mentioned accounts or tags that a server did not mark are not shared links.
    let is_profile_or_tag = |href: &str| {
        items(&c.mentions)
            .iter()
            .any(|m| m.url.as_ref().is_some_and(|u| u.as_str() == href))
            || items(&c.tags)
                .iter()
                .any(|t| t.url.as_ref().is_some_and(|u| u.as_str() == href))
    };
    for link in &converted.links {
        if !is_profile_or_tag(link) {
            push_unique(&mut post.urls, link);
        }
    }
    if let Some(card) = c.card.as_ref().and_then(|c| c.url.as_ref()) {
        push_unique(&mut post.urls, card.as_str());
    }
    post.hashtags = converted.hashtags;
    if post.hashtags.is_empty() {
        for t in items(&c.tags) {
            if let Some(name) = &t.name {
                push_unique(&mut post.hashtags, name.as_str());
            }
        }
    }
    for m in items(&c.mentions) {
        if let Some(acct) = m.acct.as_ref().or(m.username.as_ref()) {
            push_unique(&mut post.mentions, acct.as_str());
        }
    }
    post.lang = opt_string(&c.language);
    if let Some(l) = &post.lang {
        post.langs.push(l.clone());
    }
    for m in items(&c.media_attachments) {
        let kind = match m.kind.as_ref().map(|k| k.as_str()) {
            Some("image") => "photo",
            Some("gifv") => "gif",
            Some(k) if !k.is_empty() => k,
            _ => "unknown",
        };
        post.media.push(Media {
            kind: kind.to_owned(),
            url: opt_string(&m.remote_url).or_else(|| opt_string(&m.url)),
            alt_text: opt_string(&m.description),
        });
    }
}
