//! Plain data shared by every Streamer crate.
//!
//! One [`Post`] model for every platform: platform quirks end in the wire normalisers
//! (`streamer-wire`); nothing after them asks which platform a post came from except to
//! display it. The serialised shapes of [`Post`], [`Iocs`], [`Entity`] and [`RuleHit`] are the
//! alert-record contract of `DESIGN.md`: field names and `null`/empty conventions here are what
//! users' scripts read, so change them only together with that contract.
//!
//! Layout:
//! - [`Post`], [`Author`], [`Geo`], [`Media`]: the normalised post.
//! - [`Event`]: what one wire line means (a new post, an edit, a delete, an actor change, a
//!   stream notice).
//! - [`Iocs`], [`Entity`], [`Enrichment`]: what enrichment adds before matching.
//! - [`RuleHit`], [`AtomMatch`], [`Severity`]: what matching returns.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The platforms Streamer reads. Serialised lower-case (`"x"`, `"mastodon"`, `"bluesky"`) as in
/// the alert record and in `PLATFORM:AUTHOR_ID` account references.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    X,
    Mastodon,
    Bluesky,
}

impl Platform {
    /// Every platform, for iteration in displays and statistics.
    pub const ALL: [Platform; 3] = [Platform::X, Platform::Mastodon, Platform::Bluesky];

    /// The lower-case name used in records, rules (`platform:x`) and account references.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::X => "x",
            Platform::Mastodon => "mastodon",
            Platform::Bluesky => "bluesky",
        }
    }

    /// The name people read ("X", "Mastodon", "Bluesky"), for subjects and pages.
    pub fn display_name(self) -> &'static str {
        match self {
            Platform::X => "X",
            Platform::Mastodon => "Mastodon",
            Platform::Bluesky => "Bluesky",
        }
    }

    /// Parses the lower-case name; `None` for anything else.
    pub fn parse(s: &str) -> Option<Platform> {
        match s {
            "x" => Some(Platform::X),
            "mastodon" => Some(Platform::Mastodon),
            "bluesky" => Some(Platform::Bluesky),
            _ => None,
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A post, normalised: the `post` object of the alert record.
///
/// Missing data is `None` or an empty list, never a made-up value. Fields after `quote_of` are
/// extras beyond the contract; they are serialised only when they hold something.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Post {
    pub platform: Platform,
    /// X: the post id (decimal string); Mastodon: the status `uri`; Bluesky: the AT-URI.
    /// Dedup is by (platform, id).
    pub id: String,
    /// Canonical web link to the post, for people.
    pub url: Option<String>,
    /// RFC 3339, UTC where the platform says so.
    pub created_at: Option<String>,
    /// What people read and what keywords match (see DESIGN.md "Text and links").
    pub text: String,
    pub lang: Option<String>,
    /// The client the post was sent from (X `source`, Mastodon `application.name`).
    pub client: Option<String>,
    pub author: Author,
    pub geo: Option<Geo>,
    /// Links the platform marks, expanded (never t.co, never the platform's own links).
    pub urls: Vec<String>,
    /// Hashtags without `#`, as written.
    pub hashtags: Vec<String>,
    /// Mentioned handles without `@`, as written.
    pub mentions: Vec<String>,
    pub reply_to: Option<String>,
    pub repost_of: Option<String>,
    pub quote_of: Option<String>,
    /// Every language tag the post carries (Bluesky may carry several); `lang` is the first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub langs: Vec<String>,
    /// Cashtags without `$`, as written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cashtags: Vec<String>,
    /// Attached media (links for analysts; never fetched).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub media: Vec<Media>,
    /// The author id (same form as `author.id`) of the post this one replies to, for `to:`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to_author: Option<String>,
    /// The platform-local id where it differs from `id` and deletes refer to it:
    /// Mastodon `INSTANCE:STATUS_ID` (a `delete` event carries only the local id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub native_id: Option<String>,
}

impl Post {
    /// An empty post of one platform, for parsers and tests to fill in.
    pub fn new(platform: Platform, id: impl Into<String>, author_id: impl Into<String>) -> Post {
        Post {
            platform,
            id: id.into(),
            url: None,
            created_at: None,
            text: String::new(),
            lang: None,
            client: None,
            author: Author::new(author_id),
            geo: None,
            urls: Vec::new(),
            hashtags: Vec::new(),
            mentions: Vec::new(),
            reply_to: None,
            repost_of: None,
            quote_of: None,
            reply_to_author: None,
            langs: Vec::new(),
            cashtags: Vec::new(),
            media: Vec::new(),
            native_id: None,
        }
    }

    /// The `PLATFORM:AUTHOR_ID` reference that watch lists and `from:` use.
    pub fn author_ref(&self) -> String {
        format!("{}:{}", self.platform, self.author.id)
    }
}

/// The author of a post, keyed by the platform's stable id so that renames don't hide them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Author {
    /// X user id; Mastodon `INSTANCE:ACCOUNT_ID`; Bluesky DID.
    pub id: String,
    pub handle: Option<String>,
    pub name: Option<String>,
    pub followers: Option<u64>,
    /// Account creation time, RFC 3339.
    pub created_at: Option<String>,
    /// Handles this account used before, oldest first; filled from the actor store.
    #[serde(default)]
    pub previous_handles: Vec<String>,
}

impl Author {
    /// An author known only by id.
    pub fn new(id: impl Into<String>) -> Author {
        Author {
            id: id.into(),
            handle: None,
            name: None,
            followers: None,
            created_at: None,
            previous_handles: Vec::new(),
        }
    }
}

/// Where a post was sent from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Geo {
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    /// True when `lat`/`lon` are a place's bounding-box centre, not exact coordinates.
    pub approximate: bool,
    /// The place's full name.
    pub place: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
}

/// A media attachment: a link for analysts, never fetched by Streamer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Media {
    /// `photo`, `video`, `gif`, `audio` or the platform's own word.
    pub kind: String,
    pub url: Option<String>,
    pub alt_text: Option<String>,
}

/// What one wire payload means.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A new post.
    Create(Box<Post>),
    /// A new version of a post already seen (`post.id` names the original post).
    Edit(Box<Post>),
    /// A post was deleted.
    Delete(DeleteRef),
    /// An account changed handle, or was deactivated, suspended or deleted.
    Actor(ActorEvent),
    /// A stream-level message (X error or operational-disconnect line): not a post.
    Notice(StreamNotice),
    /// A well-formed payload that is not a post (likes, follows, notifications): counted, not matched.
    Ignored(&'static str),
}

/// Which post a delete names. Mastodon deletes carry only the server-local id, so one of the two
/// forms may be missing; storage resolves `native_id` to the post's `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteRef {
    pub platform: Platform,
    /// The post id in `Post::id` form, when the payload gives it.
    pub id: Option<String>,
    /// The platform-local id in `Post::native_id` form, when that is all the payload gives.
    pub native_id: Option<String>,
}

/// A change to an account seen on the wire (Bluesky `identity` / `account` events).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorEvent {
    pub platform: Platform,
    pub author_id: String,
    /// The new handle, when the event carries one.
    pub handle: Option<String>,
    /// `None` for an identity change; `Some(false)` with a `status` for a deactivated account.
    pub active: Option<bool>,
    /// `takendown`, `suspended`, `deleted`, `deactivated`, ... as the platform says.
    pub status: Option<String>,
    pub at: Option<String>,
}

/// A stream-level notice: an X `errors` line or an operational disconnect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamNotice {
    pub platform: Platform,
    pub title: String,
    pub detail: Option<String>,
    /// True when the server is about to close the stream (reconnect expected).
    pub disconnect: bool,
}

/// Indicators of compromise found in a post, refanged. Each list is de-duplicated, in order of
/// first appearance. The `iocs` object of the alert record and of `streamer ioc` output.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Iocs {
    pub urls: Vec<String>,
    pub domains: Vec<String>,
    pub ipv4: Vec<String>,
    pub ipv6: Vec<String>,
    pub md5: Vec<String>,
    pub sha1: Vec<String>,
    pub sha256: Vec<String>,
    pub cves: Vec<String>,
    pub emails: Vec<String>,
    pub btc: Vec<String>,
}

impl Iocs {
    /// True when no indicator of any kind was found.
    pub fn is_empty(&self) -> bool {
        self.urls.is_empty()
            && self.domains.is_empty()
            && self.ipv4.is_empty()
            && self.ipv6.is_empty()
            && self.md5.is_empty()
            && self.sha1.is_empty()
            && self.sha256.is_empty()
            && self.cves.is_empty()
            && self.emails.is_empty()
            && self.btc.is_empty()
    }
}

/// A government entity a post's links or indicators point at (from CISA's .gov registry, or a
/// state-pattern heuristic). The serialised fields are the alert record's `entities` items;
/// `city` and `security_contact` are looked up again where a sink shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entity {
    /// The registered domain (for example `springfieldil.gov`, or `state.tx.us` for a pattern).
    pub domain: String,
    pub name: Option<String>,
    /// City, County, State or territory, Tribal, School district, Special district, Interstate,
    /// an election office (`City - Election`, ...), or Federal.
    #[serde(rename = "type")]
    pub kind: String,
    /// Two-letter USPS code.
    pub state: Option<String>,
    #[serde(skip)]
    pub city: Option<String>,
    #[serde(skip)]
    pub security_contact: Option<String>,
}

impl Entity {
    /// SLTT = state, local, tribal or territorial: every entity type except Federal.
    pub fn is_sltt(&self) -> bool {
        !self.kind.starts_with("Federal")
    }
}

/// What enrichment adds to a post before matching: `domain:`, `entity:` and `has:ioc` read it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Enrichment {
    pub iocs: Iocs,
    /// Hosts of `post.urls` plus IOC domains (URL hosts, standalone, email domains),
    /// lower-cased and refanged, de-duplicated.
    pub hosts: Vec<String>,
    pub entities: Vec<Entity>,
}

/// How urgent a rule's alerts are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// Every severity, lowest first.
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// The lower-case name used in config and records.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Parses the lower-case name; `None` for anything else.
    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|sev| sev.as_str() == s)
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One rule that matched a post: an item of the alert record's `rules` list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleHit {
    pub id: String,
    pub severity: Severity,
    pub tags: Vec<String>,
    /// The positive atoms that matched, in the order they appear in the rule.
    pub matched: Vec<AtomMatch>,
}

/// One atom of a rule that matched, and where, for highlighting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AtomMatch {
    /// `keyword`, `phrase`, `hashtag`, `mention`, `cashtag`, `from`, `to`, `url`, `domain`,
    /// `entity`, `regex`, `has`, `is`, `lang`, `platform`, `account`.
    pub kind: String,
    /// The atom as written in the rule (for `account:` and `domain:` watch entries, the entry).
    pub value: String,
    /// Offsets into `post.text` in Unicode scalar values, end exclusive; `None` when the atom
    /// did not match text (an account, a URL host, an `is:` flag).
    pub span: Option<[usize; 2]>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_and_severity_names_round_trip() {
        for p in Platform::ALL {
            assert_eq!(Platform::parse(p.as_str()), Some(p));
            assert_eq!(serde_json::to_string(&p).unwrap(), format!("\"{p}\""));
        }
        for s in Severity::ALL {
            assert_eq!(Severity::parse(s.as_str()), Some(s));
        }
        assert!(Severity::Critical > Severity::High);
        assert_eq!(Platform::parse("X"), None);
    }

    #[test]
    fn post_serialises_the_contract_keys_and_hides_empty_extras() {
        let post = Post::new(Platform::X, "1", "783214");
        let v = serde_json::to_value(&post).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        for key in [
            "platform",
            "id",
            "url",
            "created_at",
            "text",
            "lang",
            "client",
            "author",
            "geo",
            "urls",
            "hashtags",
            "mentions",
            "reply_to",
            "repost_of",
            "quote_of",
        ] {
            assert!(keys.contains(&key), "missing {key}");
        }
        assert_eq!(
            keys.len(),
            15,
            "extras must not appear when empty: {keys:?}"
        );
        assert!(v["geo"].is_null());
        assert_eq!(v["author"]["previous_handles"], serde_json::json!([]));
    }

    #[test]
    fn sltt_excludes_every_federal_type() {
        let mut e = Entity {
            domain: "a.gov".into(),
            name: None,
            kind: "Federal - Executive".into(),
            state: None,
            city: None,
            security_contact: None,
        };
        assert!(!e.is_sltt());
        e.kind = "County - Election".into();
        assert!(e.is_sltt());
    }
}
