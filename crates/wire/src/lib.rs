//! Pure parsers from the X, Mastodon and Bluesky wire formats into Streamer's [`Post`] model.
//!
//! Every source, live or replayed, hands lines to a [`Decoder`]; the decoder says what each line
//! means as a [`streamer_model::Event`] (a new post, an edit, a delete, an actor change, a stream
//! notice, or something well-formed that is not a post). Platform quirks end here: nothing after
//! this crate asks which platform a post came from except to display it.
//!
//! ```
//! use streamer_wire::{Decoder, DecoderOptions, Format};
//! use streamer_model::Event;
//!
//! let mut decoder = Decoder::new(Format::Auto, DecoderOptions::default());
//! let line = br#"{"data":{"id":"1234567890","text":"Look &amp; see https://t.co/abc","author_id":"98","entities":{"urls":[{"url":"https://t.co/abc","expanded_url":"https://example.gov/x"}]}},"includes":{"users":[{"id":"98","username":"catperson","name":"Cat"}]}}"#;
//! let decoded = decoder.feed(line, 1).unwrap().unwrap();
//! let Event::Create(post) = decoded.event else { panic!("a post") };
//! assert_eq!(post.text, "Look & see https://example.gov/x");
//! assert_eq!(post.urls, ["https://example.gov/x"]);
//! assert_eq!(post.author.handle.as_deref(), Some("catperson"));
//! ```
//!
//! Layout:
//! - [`Decoder`], [`Format`], [`DecoderOptions`]: per-line detection and SSE framing.
//! - `x`: X API v2 filtered stream (the hot path: typed, borrowing structs, no `Value`).
//! - `x_v1`: X v1.1 `statuses/filter` archives and exports.
//! - `mastodon`: streaming events (WebSocket envelope and SSE) and REST statuses.
//! - `bluesky`: Jetstream v1 events.
//! - `html`, `text`, `json`: shared helpers (Mastodon HTML, timestamps and entities, borrowing
//!   JSON strings and exact ids).
//!
//! Errors: a line that cannot be read yields a [`ParseError`] carrying its line number and a
//! [`ParseErrorKind`] callers count by kind. Parsers never panic on input and never end the
//! stream; the caller logs, counts, and reads the next line.

mod bluesky;
mod html;
mod json;
mod mastodon;
mod text;
mod x;
mod x_v1;

use std::fmt;
use std::str::FromStr;
use streamer_model::{Event, Post};

/// Which wire format a decoder expects. `Auto` detects the format of every line on its own, so
/// one replay file may mix platforms; the named formats skip detection (and reject other
/// shapes), which the live sources use because they know what they read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Detect per line.
    #[default]
    Auto,
    /// X API v2 filtered stream lines.
    X,
    /// X v1.1 `statuses/filter` JSON (old archives and exports).
    XV1,
    /// Mastodon streaming: WebSocket envelopes, SSE lines, or REST Status objects.
    Mastodon,
    /// Bluesky Jetstream v1 events.
    Bluesky,
}

impl Format {
    /// The names `--format` accepts, for help texts and error messages.
    pub const NAMES: [&'static str; 5] = ["auto", "x", "x-v1", "mastodon", "bluesky"];
}

/// Why a `--format` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown format {0:?}: expected one of auto, x, x-v1, mastodon, bluesky")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;

    /// Parses the `--format` names: `auto`, `x`, `x-v1`, `mastodon`, `bluesky`.
    fn from_str(s: &str) -> Result<Format, UnknownFormat> {
        match s {
            "auto" => Ok(Format::Auto),
            "x" => Ok(Format::X),
            "x-v1" => Ok(Format::XV1),
            "mastodon" => Ok(Format::Mastodon),
            "bluesky" => Ok(Format::Bluesky),
            other => Err(UnknownFormat(other.to_owned())),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Auto => "auto",
            Format::X => "x",
            Format::XV1 => "x-v1",
            Format::Mastodon => "mastodon",
            Format::Bluesky => "bluesky",
        })
    }
}

/// Settings of a [`Decoder`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecoderOptions {
    /// Lines longer than this many bytes are refused unread ([`ParseErrorKind::TooLong`]): a
    /// bounded line keeps one bad payload from costing unbounded memory and time.
    pub max_line_bytes: usize,
    /// The Mastodon server the lines were received from (`infosec.exchange`, or a URL of it).
    /// Mastodon account and status ids are local to that server, so it qualifies them
    /// (`INSTANCE:ID`). Without it, the host of a local account's URL or the domain of a remote
    /// `acct` is used, as DESIGN.md says for `replay`.
    pub mastodon_instance: Option<String>,
}

impl Default for DecoderOptions {
    /// 1 MiB lines (X lines are under 8 KiB, Mastodon under 4 KiB), no Mastodon instance.
    fn default() -> DecoderOptions {
        DecoderOptions {
            max_line_bytes: 1 << 20,
            mastodon_instance: None,
        }
    }
}

/// What one line meant.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// The event for later stages.
    pub event: Event,
    /// Jetstream's `time_us`, the resume cursor the Bluesky source stores; `None` elsewhere.
    pub cursor: Option<i64>,
}

/// A line that could not be decoded: counted and logged by the caller, never fatal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {kind}")]
pub struct ParseError {
    /// The 1-based line number the caller passed to [`Decoder::feed`].
    pub line: u64,
    pub kind: ParseErrorKind,
}

/// Why a line was refused, by kind so that metrics can count each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseErrorKind {
    /// The bytes are not UTF-8 (JSON must be).
    NotUtf8,
    /// The line is longer than [`DecoderOptions::max_line_bytes`].
    TooLong { len: usize, max: usize },
    /// The line is not JSON (or, for SSE, its `data:` is not what the event needs).
    NotJson(String),
    /// Well-formed JSON of no shape this crate knows, or missing a field the shape needs.
    UnknownShape(String),
}

impl fmt::Display for ParseErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseErrorKind::NotUtf8 => f.write_str("not UTF-8"),
            ParseErrorKind::TooLong { len, max } => {
                write!(f, "line of {len} bytes exceeds the limit of {max} bytes")
            }
            ParseErrorKind::NotJson(e) => write!(f, "not JSON: {e}"),
            ParseErrorKind::UnknownShape(e) => write!(f, "unknown payload shape: {e}"),
        }
    }
}

impl std::error::Error for ParseErrorKind {}

/// Turns lines into [`Decoded`] events.
///
/// Holds the little state framing needs: a pending SSE `event:` name for the next `data:`
/// line, and the Mastodon server learned from local accounts (to qualify the bare ids of
/// `delete` events when no instance is configured). `Send`, so a source task may own it.
#[derive(Debug, Clone)]
pub struct Decoder {
    format: Format,
    max_line_bytes: usize,
    mastodon: mastodon::Context,
    /// The `event:` of an SSE event whose `data:` line has not come yet.
    sse_event: Option<String>,
}

impl Decoder {
    /// A decoder for one stream or file.
    pub fn new(format: Format, opts: DecoderOptions) -> Decoder {
        Decoder {
            format,
            max_line_bytes: opts.max_line_bytes,
            mastodon: mastodon::Context::new(opts.mastodon_instance.as_deref()),
            sse_event: None,
        }
    }

    /// The format this decoder was made for.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Decodes one line without its `'\n'` (a trailing `'\r'` is tolerated).
    ///
    /// `Ok(None)` for blank lines, heartbeats, SSE comments (`:thump`, `:)`) and SSE `event:`
    /// lines (remembered for the next `data:` line). `line_no` is only carried into errors.
    pub fn feed(&mut self, line: &[u8], line_no: u64) -> Result<Option<Decoded>, ParseError> {
        self.feed_inner(line).map_err(|kind| ParseError {
            line: line_no,
            kind,
        })
    }

    fn feed_inner(&mut self, line: &[u8]) -> Result<Option<Decoded>, ParseErrorKind> {
        if line.len() > self.max_line_bytes {
            return Err(ParseErrorKind::TooLong {
                len: line.len(),
                max: self.max_line_bytes,
            });
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let line = std::str::from_utf8(line).map_err(|_| ParseErrorKind::NotUtf8)?;
        let trimmed = line.trim_matches(|c: char| c.is_ascii_whitespace() || c == '\u{FEFF}');
        if trimmed.is_empty() {
            // A blank line ends an SSE event: an `event:` without `data:` is dropped.
            self.sse_event = None;
            return Ok(None);
        }
        if matches!(self.format, Format::Auto | Format::Mastodon) && !trimmed.starts_with('{') {
            return self.sse_line(trimmed);
        }
        let cursor_and_event = match self.format {
            Format::X => x::decode(trimmed).map(no_cursor)?,
            Format::XV1 => x_v1::decode(trimmed).map(no_cursor)?,
            Format::Mastodon => self.mastodon.decode_json(trimmed).map(no_cursor)?,
            Format::Bluesky => bluesky::decode(trimmed)?,
            Format::Auto => self.auto(trimmed)?,
        };
        Ok(Some(cursor_and_event))
    }

    /// One SSE field line (`event:`, `data:`, `id:`, `retry:`) or comment (`:thump`).
    fn sse_line(&mut self, line: &str) -> Result<Option<Decoded>, ParseErrorKind> {
        if line.starts_with(':') {
            return Ok(None);
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => {
                self.sse_event = Some(value.trim().to_owned());
                Ok(None)
            }
            "data" => {
                let event = self.sse_event.take();
                let value = value.trim();
                match event {
                    Some(name) => self
                        .mastodon
                        .decode_event(&name, value)
                        .map(|e| Some(no_cursor(e))),
                    // `data:` without `event:` is an SSE "message"; read its JSON as any line.
                    None if value.starts_with('{') => match self.format {
                        Format::Mastodon => self.mastodon.decode_json(value).map(no_cursor),
                        _ => self.auto(value),
                    }
                    .map(Some),
                    None => Err(ParseErrorKind::UnknownShape(
                        "SSE data line without an event name".to_owned(),
                    )),
                }
            }
            "id" | "retry" => Ok(None),
            _ => Err(ParseErrorKind::NotJson(format!(
                "expected a JSON object or an SSE field, found {:?}",
                preview(line)
            ))),
        }
    }

    /// Detects the format of one JSON line and decodes it.
    fn auto(&mut self, line: &str) -> Result<Decoded, ParseErrorKind> {
        match detect(line)? {
            Detected::X => x::decode(line).map(no_cursor),
            Detected::XV1 => x_v1::decode(line).map(no_cursor),
            Detected::Mastodon => self.mastodon.decode_json(line).map(no_cursor),
            Detected::Bluesky => bluesky::decode(line),
        }
    }
}

fn no_cursor(event: Event) -> Decoded {
    Decoded {
        event,
        cursor: None,
    }
}

/// The first characters of a line, for error messages (never the whole payload).
fn preview(s: &str) -> &str {
    let mut end = s.len().min(40);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Parses one Mastodon Status object in its REST form (timelines gap-fill) into a post.
///
/// `instance` is the server the status was fetched from: it qualifies the author id and the
/// post's `native_id` exactly as the streaming decoder does with
/// [`DecoderOptions::mastodon_instance`], so streamed and gap-filled copies agree.
pub fn parse_mastodon_status(json: &str, instance: &str) -> Result<Post, ParseErrorKind> {
    let ctx = mastodon::Context::new(Some(instance));
    ctx.status_post(json)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Detected {
    X,
    XV1,
    Mastodon,
    Bluesky,
}

/// Which format a JSON line is in.
///
/// The first key decides for the common shapes (X v2 lines start with `data` or `errors`,
/// Jetstream with `did`, Mastodon envelopes with `stream` or `event`), which costs a few bytes
/// of scanning. Otherwise one pass over the top-level keys (values skipped unread) decides.
fn detect(line: &str) -> Result<Detected, ParseErrorKind> {
    if let Some(found) = first_key(line).and_then(decisive_key) {
        return Ok(found);
    }
    let keys: TopKeys = json::parse(line)?;
    keys.classify().ok_or_else(|| {
        ParseErrorKind::UnknownShape(
            "not an X v2, X v1.1, Mastodon or Jetstream payload".to_owned(),
        )
    })
}

/// The first key of a JSON object, if it is a plain (unescaped) string.
fn first_key(line: &str) -> Option<&str> {
    let rest = line.trim_start().strip_prefix('{')?.trim_start();
    let rest = rest.strip_prefix('"')?;
    let end = rest.find(['"', '\\'])?;
    (rest.as_bytes()[end] == b'"').then(|| &rest[..end])
}

fn decisive_key(key: &str) -> Option<Detected> {
    Some(match key {
        "data" | "includes" | "matching_rules" | "errors" => Detected::X,
        "did" | "time_us" => Detected::Bluesky,
        "stream" | "event" | "payload" => Detected::Mastodon,
        "delete" | "limit" | "scrub_geo" | "status_withheld" | "user_withheld" | "warning"
        | "disconnect" => Detected::XV1,
        _ => return None,
    })
}

/// The top-level keys that tell the formats apart; values are skipped unread.
#[derive(serde::Deserialize)]
struct TopKeys {
    data: Option<serde::de::IgnoredAny>,
    errors: Option<serde::de::IgnoredAny>,
    did: Option<serde::de::IgnoredAny>,
    kind: Option<serde::de::IgnoredAny>,
    commit: Option<serde::de::IgnoredAny>,
    event: Option<serde::de::IgnoredAny>,
    error: Option<serde::de::IgnoredAny>,
    id_str: Option<serde::de::IgnoredAny>,
    user: Option<serde::de::IgnoredAny>,
    delete: Option<serde::de::IgnoredAny>,
    limit: Option<serde::de::IgnoredAny>,
    warning: Option<serde::de::IgnoredAny>,
    disconnect: Option<serde::de::IgnoredAny>,
    scrub_geo: Option<serde::de::IgnoredAny>,
    status_withheld: Option<serde::de::IgnoredAny>,
    user_withheld: Option<serde::de::IgnoredAny>,
    uri: Option<serde::de::IgnoredAny>,
    account: Option<serde::de::IgnoredAny>,
    content: Option<serde::de::IgnoredAny>,
}

impl TopKeys {
    fn classify(&self) -> Option<Detected> {
        if self.data.is_some() || self.errors.is_some() {
            Some(Detected::X)
        } else if self.did.is_some() && (self.kind.is_some() || self.commit.is_some()) {
            Some(Detected::Bluesky)
        } else if self.event.is_some()
            || self.error.is_some()
            || (self.uri.is_some() && self.account.is_some() && self.content.is_some())
        {
            Some(Detected::Mastodon)
        } else if self.id_str.is_some()
            || self.user.is_some()
            || self.delete.is_some()
            || self.limit.is_some()
            || self.warning.is_some()
            || self.disconnect.is_some()
            || self.scrub_geo.is_some()
            || self.status_withheld.is_some()
            || self.user_withheld.is_some()
        {
            Some(Detected::XV1)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_their_names() {
        for name in Format::NAMES {
            let f: Format = name.parse().unwrap();
            assert_eq!(f.to_string(), name);
        }
        assert!("X".parse::<Format>().is_err());
        assert_eq!(Format::default(), Format::Auto);
    }

    #[test]
    fn first_key_sniffing() {
        assert_eq!(first_key(r#" { "data": 1}"#), Some("data"));
        assert_eq!(first_key(r#"{"d\"a": 1}"#), None);
        assert_eq!(first_key("[1]"), None);
        assert_eq!(detect(r#"{"did":"x"}"#).unwrap(), Detected::Bluesky);
        assert_eq!(
            detect(r#"{"created_at":"x","id_str":"1","user":{}}"#).unwrap(),
            Detected::XV1
        );
        assert_eq!(
            detect(r#"{"id":"1","uri":"u","account":{},"content":""}"#).unwrap(),
            Detected::Mastodon
        );
        assert!(matches!(
            detect(r#"{"hello":"world"}"#),
            Err(ParseErrorKind::UnknownShape(_))
        ));
        assert!(matches!(detect("{nope"), Err(ParseErrorKind::NotJson(_))));
    }

    #[test]
    fn decoder_is_send() {
        fn send<T: Send>() {}
        send::<Decoder>();
    }
}
