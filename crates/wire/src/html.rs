//! Mastodon `content` HTML → the plain text people read.
//!
//! Mastodon sanitises `content` down to a small subset (`p`, `br`, `a`, `span`, and on newer
//! servers `ul`/`ol`/`li`/`blockquote`/`pre`/`code`/`b`/`i`...), so a careful tag scanner is
//! enough and keeps a heavy HTML engine out of the build. Rules (DESIGN.md "Text and links"):
//! paragraphs are separated by a blank line, `<br>` is a newline, an ordinary link is written as
//! its full `href` (the visible text hides part of it in `invisible` spans), mentions and hashtags
//! keep their visible text (`@user`, `#tag`), and character references are decoded. Malformed
//! markup never panics: a `<` that does not start a tag is text.

use crate::text::{decode_entities, push_decoded, push_unique};

/// What the converter found in one `content`.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Converted {
    pub text: String,
    /// `href`s of ordinary links (not mentions or hashtags), in order, de-duplicated.
    pub links: Vec<String>,
    /// Hashtags as written in the visible text, without `#`.
    pub hashtags: Vec<String>,
}

#[derive(PartialEq)]
enum Link {
    /// A mention or hashtag: its visible text is kept (hashtag text is also captured).
    Visible { hashtag: bool, captured: String },
    /// An ordinary link: its `href` was written, its visible text is dropped.
    Hidden,
}

struct State {
    out: Converted,
    /// Newlines owed before the next text (blocks and `<br>`), dropped at the start and end.
    pending: usize,
    link: Option<Link>,
    /// Inside `<script>`/`<style>`: nothing is text (never in sanitised content; be safe).
    raw_skip: bool,
    /// Inside `<pre>`: whitespace is significant.
    pre: usize,
}

impl State {
    fn text(&mut self, s: &str) {
        self.write(s, true);
    }

    /// Appends text, paying owed newlines first; `decode` for raw HTML text (not attributes).
    fn write(&mut self, s: &str, decode: bool) {
        if s.is_empty() || self.raw_skip || matches!(self.link, Some(Link::Hidden)) {
            return;
        }
        let blank = s.chars().all(char::is_whitespace);
        if blank && self.pre == 0 && (self.out.text.is_empty() || self.pending > 0) {
            return;
        }
        if self.pending > 0 && !self.out.text.is_empty() {
            trim_trailing_spaces(&mut self.out.text);
            for _ in 0..self.pending {
                self.out.text.push('\n');
            }
        }
        self.pending = 0;
        let start = self.out.text.len();
        if decode {
            push_decoded(&mut self.out.text, s);
        } else {
            self.out.text.push_str(s);
        }
        if let Some(Link::Visible {
            hashtag: true,
            captured,
        }) = &mut self.link
        {
            captured.push_str(&self.out.text[start..]);
        }
    }

    fn block(&mut self, newlines: usize) {
        self.pending = self.pending.max(newlines);
    }

    fn open_tag(&mut self, name: &str, attrs: &str) {
        match name {
            "p" | "div" | "blockquote" | "ul" | "ol" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6"
            | "table" | "hr" => self.block(2),
            "pre" => {
                self.block(2);
                self.pre += 1;
            }
            "li" | "tr" | "dt" | "dd" => self.block(1),
            "br" => self.pending += 1,
            "script" | "style" => self.raw_skip = true,
            "img" => {
                if let Some(alt) = attr(attrs, "alt") {
                    self.write(&alt, false);
                }
            }
            "a" if self.link.is_none() => {
                let class = attr(attrs, "class").unwrap_or_default();
                let rel = attr(attrs, "rel").unwrap_or_default();
                let has = |list: &str, word: &str| list.split_ascii_whitespace().any(|w| w == word);
                let hashtag = has(&class, "hashtag") || has(&rel, "tag");
                let mention = has(&class, "mention") || has(&class, "h-card");
                match attr(attrs, "href") {
                    Some(href) if !hashtag && !mention && !href.trim().is_empty() => {
                        let href = href.trim().to_owned();
                        self.write(&href, false);
                        push_unique(&mut self.out.links, &href);
                        self.link = Some(Link::Hidden);
                    }
                    _ => {
                        self.link = Some(Link::Visible {
                            hashtag,
                            captured: String::new(),
                        })
                    }
                }
            }
            _ => {}
        }
    }

    fn close_tag(&mut self, name: &str) {
        match name {
            "p" | "div" | "blockquote" | "ul" | "ol" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6"
            | "table" => self.block(2),
            "pre" => {
                self.block(2);
                self.pre = self.pre.saturating_sub(1);
            }
            "li" | "tr" | "dt" | "dd" => self.block(1),
            "script" | "style" => self.raw_skip = false,
            "a" => {
                if let Some(Link::Visible {
                    hashtag: true,
                    captured,
                }) = self.link.take()
                {
                    let tag = captured.trim();
                    let tag = tag.strip_prefix(['#', '＃']).unwrap_or(tag);
                    push_unique(&mut self.out.hashtags, tag);
                }
            }
            _ => {}
        }
    }
}

fn trim_trailing_spaces(s: &mut String) {
    let kept = s.trim_end_matches([' ', '\t']).len();
    s.truncate(kept);
}

/// The decoded value of one attribute in a tag's attribute text.
fn attr(attrs: &str, want: &str) -> Option<String> {
    let b = attrs.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
            i += 1;
        }
        let name_start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && !matches!(b[i], b'=' | b'/') {
            i += 1;
        }
        let name = &attrs[name_start..i];
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = "";
        if i < b.len() && b[i] == b'=' {
            i += 1;
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            if i < b.len() && (b[i] == b'"' || b[i] == b'\'') {
                let q = b[i];
                let start = i + 1;
                let end = b[start..]
                    .iter()
                    .position(|&c| c == q)
                    .map_or(b.len(), |p| start + p);
                value = &attrs[start..end];
                i = (end + 1).min(b.len());
            } else {
                let start = i;
                while i < b.len() && !b[i].is_ascii_whitespace() {
                    i += 1;
                }
                value = &attrs[start..i];
            }
        }
        if name.eq_ignore_ascii_case(want) {
            return Some(decode_entities(value));
        }
        if name.is_empty() && i < b.len() {
            i += 1;
        }
    }
    None
}

/// The end (exclusive) of a tag whose `<` is at `start`, honouring quoted attribute values.
fn tag_end(b: &[u8], start: usize) -> Option<usize> {
    let mut quote = None;
    for (off, &c) in b[start + 1..].iter().enumerate() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'') => quote = Some(c),
            (None, b'>') => return Some(start + 1 + off + 1),
            (None, _) => {}
        }
    }
    None
}

/// Converts Mastodon status HTML to plain text, links and visible hashtags.
pub(crate) fn convert(html: &str) -> Converted {
    let mut st = State {
        out: Converted {
            text: String::with_capacity(html.len()),
            ..Converted::default()
        },
        pending: 0,
        link: None,
        raw_skip: false,
        pre: 0,
    };
    let b = html.as_bytes();
    let mut i = 0;
    let mut text_start = 0;
    while i < b.len() {
        if b[i] != b'<' {
            i += 1;
            continue;
        }
        // Comments and declarations are skipped whole.
        if html[i..].starts_with("<!--") {
            st.text(&html[text_start..i]);
            let end = html[i + 4..].find("-->").map_or(b.len(), |p| i + 4 + p + 3);
            i = end;
            text_start = i;
            continue;
        }
        let closing = b.get(i + 1) == Some(&b'/');
        let name_start = i + 1 + usize::from(closing);
        let mut name_end = name_start;
        while name_end < b.len() && b[name_end].is_ascii_alphanumeric() {
            name_end += 1;
        }
        let declaration = !closing && matches!(b.get(i + 1), Some(b'!' | b'?'));
        if name_end == name_start && !declaration {
            i += 1; // a lone '<' is text
            continue;
        }
        let Some(end) = tag_end(b, i) else {
            i += 1;
            continue;
        };
        st.text(&html[text_start..i]);
        if !declaration {
            let name = html[name_start..name_end].to_ascii_lowercase();
            let attrs_end = end.saturating_sub(1).max(name_end);
            let attrs = &html[name_end..attrs_end];
            if closing {
                st.close_tag(&name);
            } else if !st.raw_skip || name == "script" || name == "style" {
                st.open_tag(&name, attrs);
                if attrs.trim_end().ends_with('/') && name == "a" {
                    st.close_tag("a");
                }
            }
        }
        i = end;
        text_start = i;
    }
    st.text(&html[text_start..]);
    if let Some(Link::Visible {
        hashtag: true,
        captured,
    }) = st.link.take()
    {
        let tag = captured.trim();
        push_unique(&mut st.out.hashtags, tag.strip_prefix('#').unwrap_or(tag));
    }
    let kept = st.out.text.trim_end().len();
    st.out.text.truncate(kept);
    st.out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_breaks_links_mentions_hashtags() {
        let html = concat!(
            r#"<p>Hi <span class="h-card"><a href="https://infosec.exchange/@alice" class="u-url mention">@<span>alice</span></a></span> &amp; all,</p>"#,
            r#"<p>read <a href="https://example.gov/a?b=1&amp;c=2" rel="nofollow noopener" target="_blank"><span class="invisible">https://</span><span class="ellipsis">example.gov/a?b=1&amp;c</span><span class="invisible">=2</span></a><br>now "#,
            r#"<a href="https://infosec.exchange/tags/LockBit" class="mention hashtag" rel="tag">#<span>LockBit</span></a></p>"#
        );
        let c = convert(html);
        assert_eq!(
            c.text,
            "Hi @alice & all,\n\nread https://example.gov/a?b=1&c=2\nnow #LockBit"
        );
        assert_eq!(c.links, vec!["https://example.gov/a?b=1&c=2"]);
        assert_eq!(c.hashtags, vec!["LockBit"]);
    }

    #[test]
    fn malformed_markup_is_text_and_never_panics() {
        assert_eq!(convert("a < b and <p").text, "a < b and <p");
        assert_eq!(convert("<p>x</p><!-- c").text, "x");
        assert_eq!(convert("<a href='u'>unterminated").text, "u");
        assert_eq!(convert("<><p>é&#").text, "<>\n\né&#");
        assert_eq!(convert("").text, "");
    }

    #[test]
    fn lists_quotes_and_custom_emoji() {
        let c = convert(
            "<p>:blobcat: hi</p><ul><li>one</li><li>two</li></ul><blockquote><p>q</p></blockquote>",
        );
        assert_eq!(c.text, ":blobcat: hi\n\none\ntwo\n\nq");
        let c = convert(r#"<p>x <img src="e.png" alt=":party:"> y</p>"#);
        assert_eq!(c.text, "x :party: y");
    }

    #[test]
    fn attributes_parse_quotes_and_entities() {
        assert_eq!(
            attr(r#" href="a&amp;b" class='x y'"#, "class").as_deref(),
            Some("x y")
        );
        assert_eq!(attr(r#" href="a&amp;b""#, "href").as_deref(), Some("a&b"));
        assert_eq!(attr(" href=bare x", "href").as_deref(), Some("bare"));
        assert_eq!(attr(" = ", "href"), None);
    }
}
