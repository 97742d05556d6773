//! Turning alerts into what people read: the terminal block, the email subject and bodies.
//!
//! Every post is written by an attacker. So: every post-derived string is HTML-escaped in HTML;
//! no CR, LF or other control character reaches a header or the terminal; bidirectional
//! overrides and zero-width characters are removed from one-line fields; and every URL and IOC
//! is defanged (unless the config turns that off) so that nobody clicks a live malicious link.

use crate::alert::AlertRecord;
use std::fmt::Write;
use streamer_model::{Platform, Post};

/// What a people-facing sink delivers: one alert, or one alert standing for several with
/// identical text (merged within the window).
#[derive(Debug, Clone)]
pub struct Delivery {
    pub primary: AlertRecord,
    /// Further alerts merged into this message (same rules, same text).
    pub merged: Vec<AlertRecord>,
    /// True for the follow-up that counts duplicates seen after the first message went out.
    pub followup: bool,
}

impl Delivery {
    /// How many posts this message stands for.
    pub fn count(&self) -> usize {
        1 + self.merged.len()
    }
}

/// How to render.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    pub defang: bool,
    /// IANA time zone shown beside UTC.
    pub timezone: Option<String>,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            defang: true,
            timezone: None,
        }
    }
}

/// A rendered message.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
    /// `<ALERT_ID@streamer>`: the idempotency key of the message.
    pub message_id: String,
    /// `<actor-HASH@streamer>`: a shared root so that one actor's alerts form one thread.
    pub thread_root: String,
}

/// Removes control characters, bidirectional overrides and zero-width characters, and folds
/// whitespace runs to one space: for headers, subjects and terminal lines.
pub fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars() {
        if c.is_whitespace() || c.is_control() {
            space = !out.is_empty();
            continue;
        }
        if is_invisible_trick(c) {
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.push(c);
    }
    out
}

/// Keeps newlines and tabs, drops every other control character and the bidi/zero-width
/// tricks: for multi-line bodies shown in a terminal or a text/plain part.
pub fn multi_line(s: &str) -> String {
    s.chars()
        .filter(|&c| c == '\n' || c == '\t' || !(c.is_control() || is_invisible_trick(c)))
        .collect()
}

fn is_invisible_trick(c: char) -> bool {
    matches!(c,
        '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}' | '\u{FEFF}' | '\u{061C}' | '\u{180E}')
}

/// Escapes the five HTML-significant characters.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Truncates to at most `max` characters, adding `…` when cut.
pub fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Shows an indicator to people: defanged when `defang`, and always on one line.
pub fn show_ioc(s: &str, defang: bool) -> String {
    let s = one_line(s);
    if defang {
        streamer_ioc::defang(&s)
    } else {
        s
    }
}

/// A post link is kept clickable only when Streamer built it from ids on a platform's own
/// domain; a Mastodon status URL comes from the (possibly hostile) payload, so it is defanged.
fn post_link(post: &Post, defang: bool) -> (String, bool) {
    let url = post.url.clone().unwrap_or_default();
    let ours = matches!(post.platform, Platform::X | Platform::Bluesky)
        && (url.starts_with("https://x.com/") || url.starts_with("https://bsky.app/"));
    if ours || !defang {
        (one_line(&url), true)
    } else {
        (show_ioc(&url, true), false)
    }
}

/// A piece of post text: plain, or an indicator to defang, and whether it is highlighted.
struct Piece {
    text: String,
    highlight: bool,
}

/// Splits the post text into pieces: matched spans are highlighted, indicators are defanged
/// whole (a span that touches an indicator highlights all of it).
fn pieces(record: &AlertRecord, defang: bool) -> Vec<Piece> {
    let text = &record.post.text;
    let chars: Vec<char> = text.chars().collect();
    let n = chars.len();
    // Indicator regions, found case-insensitively (ASCII) in the text.
    let mut regions: Vec<(usize, usize)> = Vec::new();
    if defang {
        let lower = text.to_ascii_lowercase();
        let byte_to_char = {
            let mut map = vec![0usize; text.len() + 1];
            let mut ci = 0;
            for (bi, _) in text.char_indices() {
                map[bi] = ci;
                ci += 1;
            }
            map[text.len()] = ci;
            map
        };
        let iocs = &record.iocs;
        let mut needles: Vec<String> = record
            .post
            .urls
            .iter()
            .chain(&iocs.urls)
            .chain(&iocs.domains)
            .chain(&iocs.ipv4)
            .chain(&iocs.ipv6)
            .chain(&iocs.emails)
            .map(|s| s.to_ascii_lowercase())
            .filter(|s| s.len() >= 4)
            .collect();
        needles.sort_by_key(|s| std::cmp::Reverse(s.len()));
        needles.dedup();
        for needle in &needles {
            for (b, _) in lower.match_indices(needle.as_str()) {
                let (s, e) = (byte_to_char[b], byte_to_char[b + needle.len()]);
                if !regions.iter().any(|&(rs, re)| s < re && rs < e) {
                    regions.push((s, e));
                }
            }
        }
        regions.sort_unstable();
    }
    let mut marks = vec![false; n];
    for hit in &record.rules {
        for m in &hit.matched {
            if let Some([s, e]) = m.span {
                for flag in marks.iter_mut().take(e.min(n)).skip(s) {
                    *flag = true;
                }
            }
        }
    }
    let mut out: Vec<Piece> = Vec::new();
    let mut i = 0;
    let mut ri = 0;
    while i < n {
        if ri < regions.len() && regions[ri].0 == i {
            let (s, e) = regions[ri];
            let raw: String = chars[s..e].iter().collect();
            out.push(Piece {
                text: streamer_ioc::defang(&raw),
                highlight: marks[s..e].iter().any(|&m| m),
            });
            i = e;
            ri += 1;
            continue;
        }
        let end = regions.get(ri).map(|r| r.0).unwrap_or(n);
        let mut j = i;
        while j < end && marks[j] == marks[i] {
            j += 1;
        }
        out.push(Piece {
            text: chars[i..j].iter().collect(),
            highlight: marks[i],
        });
        i = j;
    }
    if defang {
        // Belt and braces: a scheme that escaped the indicator list is still broken.
        for p in &mut out {
            p.text = p
                .text
                .replace("http://", "hxxp://")
                .replace("https://", "hxxps://");
        }
    }
    out
}

/// The post text for a terminal or text/plain part (defanged, controls removed).
pub fn plain_text(record: &AlertRecord, defang: bool) -> String {
    multi_line(
        &pieces(record, defang)
            .into_iter()
            .map(|p| p.text)
            .collect::<String>(),
    )
}

/// The post text as HTML with `<mark>` around matched terms.
pub fn html_text(record: &AlertRecord, defang: bool) -> String {
    let mut html = String::new();
    for p in pieces(record, defang) {
        let escaped = html_escape(&multi_line(&p.text)).replace('\n', "<br>\n");
        if p.highlight {
            let _ = write!(html, "<mark>{escaped}</mark>");
        } else {
            html.push_str(&escaped);
        }
    }
    html
}

fn author_label(post: &Post) -> String {
    match &post.author.handle {
        Some(h) => format!("@{}", one_line(h)),
        None => one_line(&post.author.id),
    }
}

/// The subject without the post's first words: `[HIGH] ransom-local-gov — @handle on X`.
pub fn headline(d: &Delivery) -> String {
    let r = &d.primary;
    let rules = r.rule_ids().join(", ");
    let mut s = format!(
        "[{}] {} — {} on {}",
        r.severity().as_str().to_uppercase(),
        one_line(&rules),
        author_label(&r.post),
        r.post.platform.display_name()
    );
    if d.followup {
        let _ = write!(s, " (+{} more with identical text)", d.count());
    } else if d.count() > 1 {
        let _ = write!(s, " (+{} identical)", d.count() - 1);
    }
    s
}

/// The one-line story: `[HIGH] ransom-local-gov — @handle on X: first words…`.
pub fn subject(d: &Delivery) -> String {
    let mut s = headline(d);
    let words = one_line(&plain_text(&d.primary, true));
    let _ = write!(s, ": {}", truncate_chars(&words, 80));
    truncate_chars(&s, 200)
}

fn thread_root(post: &Post) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{}:{}", post.platform, post.author.id));
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("<actor-{hex}@streamer>")
}

fn times(ts: Option<&str>, tz: Option<&str>) -> String {
    let Some(ts) = ts else {
        return "unknown".into();
    };
    let Ok(t) = ts.parse::<jiff::Timestamp>() else {
        return one_line(ts);
    };
    let utc = t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string();
    match tz.and_then(|name| jiff::tz::TimeZone::get(name).ok()) {
        Some(zone) => format!(
            "{utc} ({})",
            t.to_zoned(zone).strftime("%Y-%m-%d %H:%M:%S %Z")
        ),
        None => utc,
    }
}

fn account_age(created: Option<&str>) -> Option<String> {
    let t: jiff::Timestamp = created?.parse().ok()?;
    let days = (jiff::Timestamp::now().as_second() - t.as_second()) / 86_400;
    Some(format!("{days} days"))
}

/// The fields of the message body as (label, value) pairs, values still raw (one line each).
fn facts(d: &Delivery, opts: &RenderOptions) -> Vec<(&'static str, String)> {
    let r = &d.primary;
    let p = &r.post;
    let a = &p.author;
    let mut f: Vec<(&'static str, String)> = Vec::new();
    f.push(("Alert id", r.alert_id.clone()));
    f.push((
        "Platform",
        format!(
            "{}{}",
            p.platform.display_name(),
            p.client
                .as_deref()
                .map(|c| format!(" via {}", one_line(c)))
                .unwrap_or_default()
        ),
    ));
    f.push((
        "Posted",
        times(p.created_at.as_deref(), opts.timezone.as_deref()),
    ));
    f.push((
        "Alerted",
        times(Some(&r.created_at), opts.timezone.as_deref()),
    ));
    f.push((
        "Author",
        format!(
            "{} ({})",
            author_label(p),
            a.name.as_deref().map(one_line).unwrap_or_default()
        ),
    ));
    f.push(("Author id", format!("{}:{}", p.platform, one_line(&a.id))));
    if !a.previous_handles.is_empty() {
        f.push((
            "Previous handles",
            a.previous_handles
                .iter()
                .map(|h| one_line(h))
                .collect::<Vec<_>>()
                .join(", "),
        ));
    }
    if let Some(n) = a.followers {
        f.push(("Followers", n.to_string()));
    }
    if let Some(age) = account_age(a.created_at.as_deref()) {
        f.push((
            "Account age",
            format!(
                "{age} (created {})",
                one_line(a.created_at.as_deref().unwrap_or(""))
            ),
        ));
    }
    if let Some(g) = &p.geo {
        let mut s = String::new();
        if let (Some(lat), Some(lon)) = (g.lat, g.lon) {
            let _ = write!(
                s,
                "{lat:.5}, {lon:.5}{}",
                if g.approximate { " (approximate)" } else { "" }
            );
        }
        if let Some(place) = &g.place {
            let _ = write!(
                s,
                "{}{}",
                if s.is_empty() { "" } else { " — " },
                one_line(place)
            );
        }
        if let Some(c) = &g.country {
            let _ = write!(s, " [{}]", one_line(c));
        }
        f.push(("Location", s));
    }
    for (label, v) in [
        ("Reply to", &p.reply_to),
        ("Repost of", &p.repost_of),
        ("Quote of", &p.quote_of),
    ] {
        if let Some(v) = v {
            f.push((label, show_ioc(v, opts.defang)));
        }
    }
    for hit in &r.rules {
        let terms: Vec<String> = hit
            .matched
            .iter()
            .map(|m| format!("{}:{}", m.kind, one_line(&m.value)))
            .collect();
        f.push((
            "Rule",
            format!(
                "{} [{}]{}{}",
                one_line(&hit.id),
                hit.severity,
                if hit.tags.is_empty() {
                    String::new()
                } else {
                    format!(" tags: {}", one_line(&hit.tags.join(", ")))
                },
                if terms.is_empty() {
                    String::new()
                } else {
                    format!(" matched: {}", terms.join(", "))
                }
            ),
        ));
    }
    for e in &r.entities {
        let full = streamer_ioc::lookup_entity(&e.domain);
        let contact = full.as_ref().and_then(|x| x.security_contact.clone());
        let city = full.as_ref().and_then(|x| x.city.clone());
        f.push((
            "Targeted entity",
            format!(
                "{} — {}{}{} ({}){}",
                e.name
                    .as_deref()
                    .map(one_line)
                    .unwrap_or_else(|| "unknown".into()),
                one_line(&e.kind),
                city.map(|c| format!(", {}", one_line(&c)))
                    .unwrap_or_default(),
                e.state
                    .as_deref()
                    .map(|s| format!(", {}", one_line(s)))
                    .unwrap_or_default(),
                show_ioc(&e.domain, opts.defang),
                contact
                    .map(|c| format!("; security contact: {}", show_ioc(&c, opts.defang)))
                    .unwrap_or_default()
            ),
        ));
    }
    if d.count() > 1 || d.followup {
        let others: Vec<String> = d.merged.iter().map(|m| author_label(&m.post)).collect();
        f.push((
            "Identical posts",
            format!(
                "{} post(s) with this text under the same rules{}{}",
                d.count(),
                if d.followup {
                    " after the first alert"
                } else {
                    ""
                },
                if others.is_empty() {
                    String::new()
                } else {
                    format!(": also {}", truncate_chars(&others.join(", "), 400))
                }
            ),
        ));
    }
    f
}

fn ioc_lines(r: &AlertRecord, defang: bool) -> Vec<(&'static str, Vec<String>)> {
    let i = &r.iocs;
    [
        ("URLs", &i.urls),
        ("Domains", &i.domains),
        ("IPv4", &i.ipv4),
        ("IPv6", &i.ipv6),
        ("MD5", &i.md5),
        ("SHA-1", &i.sha1),
        ("SHA-256", &i.sha256),
        ("CVEs", &i.cves),
        ("Emails", &i.emails),
        ("Bitcoin", &i.btc),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_empty())
    .map(|(k, v)| (k, v.iter().map(|s| show_ioc(s, defang)).collect()))
    .collect()
}

/// Renders the email (and `.eml`) message of a delivery.
pub fn render_email(d: &Delivery, opts: &RenderOptions) -> Rendered {
    let r = &d.primary;
    let (link, live) = post_link(&r.post, opts.defang);
    let facts = facts(d, opts);
    let iocs = ioc_lines(r, opts.defang);
    let media: Vec<String> = r
        .post
        .media
        .iter()
        .filter_map(|m| m.url.as_deref())
        .map(|u| show_ioc(u, opts.defang))
        .collect();

    let mut text = String::new();
    let _ = writeln!(text, "{}\n", subject(d));
    let _ = writeln!(text, "{}\n", plain_text(r, opts.defang));
    let _ = writeln!(text, "Post: {link}");
    for (k, v) in &facts {
        let _ = writeln!(text, "{k}: {v}");
    }
    if !iocs.is_empty() {
        let _ = writeln!(text, "\nIndicators (defanged):");
        for (k, vs) in &iocs {
            let _ = writeln!(text, "  {k}: {}", vs.join(", "));
        }
    }
    if !media.is_empty() {
        let _ = writeln!(text, "Media: {}", media.join(", "));
    }
    if let (Some(lat), Some(lon)) = (
        r.post.geo.as_ref().and_then(|g| g.lat),
        r.post.geo.as_ref().and_then(|g| g.lon),
    ) {
        let _ = writeln!(
            text,
            "Map: https://www.openstreetmap.org/?mlat={lat:.5}&mlon={lon:.5}"
        );
    }
    let _ = writeln!(text, "\n-- \nStreamer alert {}", r.alert_id);

    let mut html = String::new();
    html.push_str("<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body style=\"font-family:sans-serif\">\n");
    let _ = writeln!(
        html,
        "<h2 style=\"margin:0 0 8px\">{}</h2>",
        html_escape(&subject(d))
    );
    let _ = writeln!(
        html,
        "<blockquote style=\"border-left:4px solid #c33;padding:8px 12px;margin:0 0 12px;white-space:normal\">{}</blockquote>",
        html_text(r, opts.defang)
    );
    if live {
        let _ = writeln!(html, "<p><a href=\"{0}\">{0}</a></p>", html_escape(&link));
    } else {
        let _ = writeln!(html, "<p>Post: {}</p>", html_escape(&link));
    }
    html.push_str("<table cellpadding=\"3\" style=\"border-collapse:collapse\">\n");
    for (k, v) in &facts {
        let _ = writeln!(
            html,
            "<tr><th align=\"left\" valign=\"top\">{}</th><td>{}</td></tr>",
            html_escape(k),
            html_escape(v)
        );
    }
    if let (Some(lat), Some(lon)) = (
        r.post.geo.as_ref().and_then(|g| g.lat),
        r.post.geo.as_ref().and_then(|g| g.lon),
    ) {
        let _ = writeln!(
            html,
            "<tr><th align=\"left\">Map</th><td><a href=\"https://www.openstreetmap.org/?mlat={lat:.5}&amp;mlon={lon:.5}\">OpenStreetMap</a></td></tr>"
        );
    }
    for (k, vs) in &iocs {
        let _ = writeln!(
            html,
            "<tr><th align=\"left\" valign=\"top\">{}</th><td><code>{}</code></td></tr>",
            html_escape(k),
            vs.iter()
                .map(|v| html_escape(v))
                .collect::<Vec<_>>()
                .join("</code><br><code>")
        );
    }
    if !media.is_empty() {
        let _ = writeln!(
            html,
            "<tr><th align=\"left\">Media</th><td>{}</td></tr>",
            html_escape(&media.join(", "))
        );
    }
    html.push_str("</table>\n");
    let _ = writeln!(
        html,
        "<p style=\"color:#666\">Streamer alert {}</p></body></html>",
        html_escape(&r.alert_id)
    );

    Rendered {
        subject: subject(d),
        text,
        html,
        message_id: format!(
            "<{}{}@streamer>",
            r.alert_id,
            if d.followup { ".followup" } else { "" }
        ),
        thread_root: thread_root(&r.post),
    }
}

/// One readable block for the terminal.
pub fn terminal_block(d: &Delivery, opts: &RenderOptions) -> String {
    let r = &d.primary;
    let mut s = String::new();
    let _ = writeln!(s, "━━ {}", subject(d));
    for line in plain_text(r, opts.defang).lines() {
        let _ = writeln!(s, "   │ {line}");
    }
    let (link, _) = post_link(&r.post, opts.defang);
    let _ = writeln!(s, "   post: {link}");
    for (k, v) in facts(d, opts) {
        if matches!(
            k,
            "Alert id"
                | "Author"
                | "Author id"
                | "Rule"
                | "Targeted entity"
                | "Location"
                | "Identical posts"
        ) {
            let _ = writeln!(s, "   {}: {}", k.to_lowercase(), v);
        }
    }
    for (k, vs) in ioc_lines(r, opts.defang) {
        let _ = writeln!(s, "   {}: {}", k.to_lowercase(), vs.join(", "));
    }
    s
}

/// What a sink delivers: one alert (possibly standing for identical ones), a summary of
/// several, or an operator notice.
// Messages are built one at a time and moved rarely: boxing the alert would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Message {
    Alert(Delivery),
    Digest(Digest),
    Notice(Notice),
}

impl Message {
    /// The idempotency key: the Message-ID of the email, the `id` of webhook and syslog
    /// payloads. The same outbox row always gives the same key, so a re-delivery after a crash
    /// can be recognised as a duplicate.
    pub fn key(&self) -> String {
        match self {
            Message::Alert(d) => format!(
                "{}{}",
                d.primary.alert_id,
                if d.followup { ".followup" } else { "" }
            ),
            Message::Digest(g) => {
                use sha2::{Digest as _, Sha256};
                let mut h = Sha256::new();
                for d in &g.items {
                    h.update(d.primary.alert_id.as_bytes());
                    h.update([u8::from(d.followup)]);
                }
                let hex: String = h.finalize()[..12]
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                format!("digest-{hex}")
            }
            Message::Notice(n) => format!(
                "notice-{}-{}",
                n.id,
                one_line(&n.created_at).replace(':', "")
            ),
        }
    }

    /// The highest severity the message carries (notices: by kind).
    pub fn severity(&self) -> streamer_model::Severity {
        use streamer_model::Severity;
        match self {
            Message::Alert(d) => d.primary.severity(),
            Message::Digest(g) => g
                .items
                .iter()
                .map(|d| d.primary.severity())
                .max()
                .unwrap_or(Severity::Info),
            Message::Notice(n) => n.kind.severity(),
        }
    }

    /// The alert ids the message covers (notices: none).
    pub fn alert_ids(&self) -> Vec<&str> {
        match self {
            Message::Alert(d) => std::iter::once(&d.primary)
                .chain(&d.merged)
                .map(|r| r.alert_id.as_str())
                .collect(),
            Message::Digest(g) => g
                .items
                .iter()
                .flat_map(|d| std::iter::once(&d.primary).chain(&d.merged))
                .map(|r| r.alert_id.as_str())
                .collect(),
            Message::Notice(_) => vec![],
        }
    }
}

/// Several alerts in one message.
#[derive(Debug, Clone)]
pub struct Digest {
    pub items: Vec<Delivery>,
    pub reason: DigestReason,
}

impl Digest {
    /// How many posts the digest stands for.
    pub fn count(&self) -> usize {
        self.items.iter().map(Delivery::count).sum()
    }
}

/// Why alerts were summarised instead of sent one by one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestReason {
    /// The sink's digest mode: one message every N minutes.
    Period(u32),
    /// More alerts than the sink's rate cap (messages per minute) allows.
    RateCap(u32),
}

/// An operator notice: something about Streamer itself that an analyst must know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub id: i64,
    pub kind: NoticeKind,
    /// The source it is about (`x`, `mastodon:HOST`, `bluesky`), if any.
    pub source: Option<String>,
    pub message: String,
    pub created_at: String,
    /// Further notices of the same kind and source folded into this one.
    pub repeats: usize,
}

/// The kinds of operator notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    /// A source lost its connection and is reconnecting.
    SourceDown,
    /// A source was refused for good (bad credentials, forbidden): it will not recover alone.
    SourceRefused,
    /// The dead-man's switch: no posts from a source for the configured minutes.
    NoPosts,
    /// A source is back after being down or silent.
    SourceRecovered,
    /// Streamer started.
    Start,
    /// Streamer stopped.
    Stop,
    /// Anything else worth telling the operator.
    Other,
}

impl NoticeKind {
    /// The stored and shown name.
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::SourceDown => "source_down",
            NoticeKind::SourceRefused => "source_refused",
            NoticeKind::NoPosts => "no_posts",
            NoticeKind::SourceRecovered => "source_recovered",
            NoticeKind::Start => "start",
            NoticeKind::Stop => "stop",
            NoticeKind::Other => "other",
        }
    }

    /// The inverse of [`NoticeKind::as_str`]; unknown names are `Other`.
    pub fn parse(s: &str) -> NoticeKind {
        match s {
            "source_down" => NoticeKind::SourceDown,
            "source_refused" => NoticeKind::SourceRefused,
            "no_posts" => NoticeKind::NoPosts,
            "source_recovered" => NoticeKind::SourceRecovered,
            "start" => NoticeKind::Start,
            "stop" => NoticeKind::Stop,
            _ => NoticeKind::Other,
        }
    }

    /// How urgent the notice is (for syslog priorities and subject tags).
    pub fn severity(self) -> streamer_model::Severity {
        use streamer_model::Severity;
        match self {
            NoticeKind::SourceRefused => Severity::Critical,
            NoticeKind::SourceDown | NoticeKind::NoPosts => Severity::High,
            NoticeKind::SourceRecovered | NoticeKind::Other => Severity::Medium,
            NoticeKind::Start | NoticeKind::Stop => Severity::Info,
        }
    }

    fn title(self) -> &'static str {
        match self {
            NoticeKind::SourceDown => "source down",
            NoticeKind::SourceRefused => "source refused",
            NoticeKind::NoPosts => "no posts (dead-man's switch)",
            NoticeKind::SourceRecovered => "source recovered",
            NoticeKind::Start => "started",
            NoticeKind::Stop => "stopped",
            NoticeKind::Other => "notice",
        }
    }
}

/// The one-line subject of a notice: `[NOTICE] source down — x: connection reset…`.
pub fn notice_subject(n: &Notice) -> String {
    let mut s = format!("[NOTICE] Streamer {}", n.kind.title());
    if let Some(src) = &n.source {
        let _ = write!(s, " — {}", one_line(src));
    }
    if n.repeats > 0 {
        let _ = write!(s, " (×{})", n.repeats + 1);
    }
    let _ = write!(s, ": {}", truncate_chars(&one_line(&n.message), 120));
    truncate_chars(&s, 200)
}

/// Renders an operator notice as an email.
pub fn render_notice(n: &Notice, opts: &RenderOptions) -> Rendered {
    let subject = notice_subject(n);
    let when = times(Some(&n.created_at), opts.timezone.as_deref());
    let mut text = String::new();
    let _ = writeln!(text, "{subject}\n");
    let _ = writeln!(text, "{}\n", multi_line(&n.message));
    let _ = writeln!(text, "Kind: {}", n.kind.as_str());
    if let Some(src) = &n.source {
        let _ = writeln!(text, "Source: {}", one_line(src));
    }
    let _ = writeln!(text, "At: {when}");
    if n.repeats > 0 {
        let _ = writeln!(text, "Repeated: {} more time(s) since", n.repeats);
    }
    let html = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body style=\"font-family:sans-serif\">\n<h2>{}</h2>\n<p>{}</p>\n<p>Kind: {}<br>Source: {}<br>At: {}{}</p></body></html>\n",
        html_escape(&subject),
        html_escape(&multi_line(&n.message)).replace('\n', "<br>\n"),
        html_escape(n.kind.as_str()),
        html_escape(&n.source.as_deref().map(one_line).unwrap_or_else(|| "-".into())),
        html_escape(&when),
        if n.repeats > 0 {
            format!("<br>Repeated: {} more time(s)", n.repeats)
        } else {
            String::new()
        }
    );
    Rendered {
        subject,
        text,
        html,
        message_id: format!("<{}@streamer>", Message::Notice(n.clone()).key()),
        thread_root: "<streamer-notices@streamer>".into(),
    }
}

/// The one-line subject of a digest: `[HIGH] Streamer digest: 12 alerts (5 rules)…`.
pub fn digest_subject(g: &Digest) -> String {
    let sev = g
        .items
        .iter()
        .map(|d| d.primary.severity())
        .max()
        .map(|s| s.as_str().to_uppercase())
        .unwrap_or_else(|| "INFO".into());
    let mut rules: Vec<&str> = g.items.iter().flat_map(|d| d.primary.rule_ids()).collect();
    rules.sort_unstable();
    rules.dedup();
    let why = match g.reason {
        DigestReason::Period(m) => format!("digest of the last {m} min"),
        DigestReason::RateCap(n) => format!("rate cap of {n}/min reached"),
    };
    truncate_chars(
        &format!(
            "[{sev}] Streamer: {} alert(s) — {why} — {}",
            g.count(),
            one_line(&rules.join(", "))
        ),
        200,
    )
}

/// Renders a digest: one line per alert, most severe first, each with its story, author,
/// link and alert id.
pub fn render_digest(g: &Digest, opts: &RenderOptions) -> Rendered {
    let title = digest_subject(g);
    let mut items: Vec<&Delivery> = g.items.iter().collect();
    items.sort_by_key(|d| std::cmp::Reverse(d.primary.severity()));
    let mut text = String::new();
    let _ = writeln!(text, "{title}\n");
    let mut html = String::new();
    html.push_str("<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body style=\"font-family:sans-serif\">\n");
    let _ = writeln!(html, "<h2>{}</h2>\n<ol>", html_escape(&title));
    for d in items {
        let r = &d.primary;
        let (link, live) = post_link(&r.post, opts.defang);
        let line = subject(d);
        let _ = writeln!(text, "* {line}");
        let _ = writeln!(
            text,
            "  {}",
            truncate_chars(&one_line(&plain_text(r, opts.defang)), 300)
        );
        let _ = writeln!(
            text,
            "  {} | posted {} | alert {}\n",
            link,
            times(r.post.created_at.as_deref(), opts.timezone.as_deref()),
            r.alert_id
        );
        let link_html = if live {
            format!("<a href=\"{0}\">{0}</a>", html_escape(&link))
        } else {
            html_escape(&link)
        };
        let _ = writeln!(
            html,
            "<li><b>{}</b><br>{}<br><small>{} | posted {} | alert {}</small></li>",
            html_escape(&line),
            html_text(r, opts.defang),
            link_html,
            html_escape(&times(
                r.post.created_at.as_deref(),
                opts.timezone.as_deref()
            )),
            html_escape(&r.alert_id)
        );
    }
    html.push_str("</ol></body></html>\n");
    Rendered {
        subject: title,
        text,
        html,
        message_id: format!("<{}@streamer>", Message::Digest(g.clone()).key()),
        thread_root: "<streamer-digests@streamer>".into(),
    }
}

/// Renders any message as an email.
pub fn render_message(m: &Message, opts: &RenderOptions) -> Rendered {
    match m {
        Message::Alert(d) => render_email(d, opts),
        Message::Digest(g) => render_digest(g, opts),
        Message::Notice(n) => render_notice(n, opts),
    }
}

/// One readable block for the terminal, for any message.
pub fn terminal_message(m: &Message, opts: &RenderOptions) -> String {
    match m {
        Message::Alert(d) => terminal_block(d, opts),
        Message::Digest(g) => {
            let mut s = format!("━━ {}\n", digest_subject(g));
            for d in &g.items {
                let _ = writeln!(s, "   • {}", subject(d));
            }
            s
        }
        Message::Notice(n) => format!("━━ {}\n", notice_subject(n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use streamer_model::{AtomMatch, Iocs, RuleHit, Severity};

    fn record(text: &str) -> AlertRecord {
        let mut post = Post::new(Platform::X, "1789", "783214");
        post.text = text.into();
        post.url = Some("https://x.com/i/status/1789".into());
        post.author.handle = Some("evil\r\nBcc: victim@example.org".into());
        AlertRecord {
            alert_id: "a1".into(),
            created_at: "2026-12-03T10:00:00Z".into(),
            rules: vec![RuleHit {
                id: "ddos".into(),
                severity: Severity::High,
                tags: vec![],
                matched: vec![AtomMatch {
                    kind: "keyword".into(),
                    value: "ddos".into(),
                    span: Some([0, 4]),
                }],
            }],
            post,
            iocs: Iocs {
                urls: vec!["https://evil.example.com/x".into()],
                domains: vec!["evil.example.com".into()],
                ..Iocs::default()
            },
            entities: vec![],
        }
    }

    #[test]
    fn subject_has_no_line_breaks_or_bidi_tricks() {
        let d = Delivery {
            primary: record("DDoS \u{202E}gnp.exe\r\nX-Injected: yes"),
            merged: vec![],
            followup: false,
        };
        let s = subject(&d);
        assert!(
            !s.contains('\r') && !s.contains('\n') && !s.contains('\u{202E}'),
            "{s:?}"
        );
        assert!(
            s.starts_with("[HIGH] ddos — @evil Bcc: victim@example.org on X: "),
            "{s}"
        );
    }

    #[test]
    fn html_escapes_and_highlights_and_defangs() {
        let d = Delivery {
            primary: record("DDoS <script>alert(1)</script> at https://evil.example.com/x now"),
            merged: vec![],
            followup: false,
        };
        let r = render_email(&d, &RenderOptions::default());
        assert!(r.html.contains("<mark>DDoS</mark>"), "{}", r.html);
        assert!(!r.html.contains("<script>"));
        assert!(r.html.contains("&lt;script&gt;"));
        assert!(!r.html.contains("https://evil.example.com"), "{}", r.html);
        assert!(!r.text.contains("https://evil.example.com"), "{}", r.text);
        assert!(
            r.html.contains("https://x.com/i/status/1789"),
            "our own post link stays live"
        );
        assert_eq!(r.message_id, "<a1@streamer>");
    }
}
