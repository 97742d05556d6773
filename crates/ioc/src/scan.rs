//! The extraction scanner: one forward pass over refanged text.
//!
//! The text is cut into segments at ASCII whitespace. In each segment, URLs are found first
//! (a known scheme before `://`); the rest is cut into words at delimiters, and only words holding
//! a `.`, `:` or `@` are classified (host, IPv4, IPv6, email). A second pass over the segment's
//! ASCII alphanumeric runs finds hashes, Bitcoin addresses and CVE ids, inside URLs too. Every
//! byte is visited a bounded number of times, so the scan is linear in the input whatever it
//! holds; there is no backtracking anywhere.

use crate::btc;
use crate::domain::validate_host;
use crate::net::{parse_ipv4, parse_ipv6};
use crate::refang::{real_scheme, Refanged};
use std::collections::HashSet;
use streamer_model::Iocs;

/// One de-duplicated list in first-seen order. Short lists (the usual case) are searched
/// linearly; a set takes over past a few dozen values so that a hostile post full of indicators
/// stays linear.
#[derive(Default)]
struct List {
    items: Vec<String>,
    seen: Option<HashSet<String>>,
}

impl List {
    fn push(&mut self, v: String) {
        if let Some(seen) = &mut self.seen {
            if seen.insert(v.clone()) {
                self.items.push(v);
            }
            return;
        }
        if self.items.contains(&v) {
            return;
        }
        self.items.push(v);
        if self.items.len() > 32 {
            self.seen = Some(self.items.iter().cloned().collect());
        }
    }
}

#[derive(Default)]
pub(crate) struct Found {
    urls: List,
    domains: List,
    ipv4: List,
    ipv6: List,
    md5: List,
    sha1: List,
    sha256: List,
    cves: List,
    emails: List,
    btc: List,
}

impl Found {
    pub(crate) fn into_iocs(self) -> Iocs {
        Iocs {
            urls: self.urls.items,
            domains: self.domains.items,
            ipv4: self.ipv4.items,
            ipv6: self.ipv6.items,
            md5: self.md5.items,
            sha1: self.sha1.items,
            sha256: self.sha256.items,
            cves: self.cves.items,
            emails: self.emails.items,
            btc: self.btc.items,
        }
    }
}

/// Words that, right before a dotted quad, say it is a version number, not an address.
const VERSION_WORDS: [&str; 16] = [
    "version", "versions", "ver", "v", "release", "rel", "build", "firmware", "fw", "patch", "rev",
    "revision", "update", "upgrade", "kernel", "driver",
];

/// ASCII bytes that can be part of a host, address or email word (non-ASCII is decided per char).
const fn word_table() -> [bool; 128] {
    let mut t = [false; 128];
    let mut c = 0;
    while c < 128 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'@' | b':' | b'+');
        c += 1;
    }
    t
}
static WORD: [bool; 128] = word_table();

/// Bytes that end a URL (or a schemeless path) besides whitespace.
fn ends_url(c: u8) -> bool {
    c <= b' '
        || matches!(
            c,
            b'"' | b'\'' | b'<' | b'>' | b'`' | b'|' | b'^' | b'{' | b'}' | b'\\' | 0x7f
        )
}

struct Scanner<'a, 'r> {
    t: &'a str,
    b: &'a [u8],
    rf: &'r Refanged<'a>,
    f: &'r mut Found,
}

/// Extracts every indicator of the refanged text into `f`.
pub(crate) fn scan<'a>(rf: &Refanged<'a>, f: &mut Found) {
    let t: &str = &rf.text;
    let mut sc = Scanner {
        t,
        b: t.as_bytes(),
        rf,
        f,
    };
    sc.run();
}

impl Scanner<'_, '_> {
    fn run(&mut self) {
        let b = self.b;
        let mut i = 0;
        while i < b.len() {
            if b[i].is_ascii_whitespace() || b[i] < b' ' {
                i += 1;
                continue;
            }
            let s = i;
            let mut interesting = false;
            while i < b.len() && !(b[i].is_ascii_whitespace() || b[i] < b' ') {
                interesting |= matches!(b[i], b'.' | b':' | b'@') || b[i] >= 0x80;
                i += 1;
            }
            if interesting {
                self.segment(s, i);
            }
            if i - s >= 13 {
                self.alnum_runs(s, i);
            }
        }
    }

    /// URLs first, then words between them.
    fn segment(&mut self, s: usize, e: usize) {
        let b = self.b;
        let mut pos = s;
        while pos < e {
            let Some(q) = memchr::memmem::find(&b[pos..e], b"://").map(|q| q + pos) else {
                self.words(pos, e);
                return;
            };
            let mut ss = q;
            while ss > pos && b[ss - 1].is_ascii_alphabetic() && q - ss < 8 {
                ss -= 1;
            }
            let boundary = ss == 0 || !b[ss - 1].is_ascii_alphanumeric();
            let scheme = if ss < q && boundary {
                real_scheme(&b[ss..q])
            } else {
                None
            };
            match scheme {
                Some(scheme) => {
                    self.words(pos, ss);
                    let mut end = q + 3;
                    while end < e && !self.ends_url_at(end) {
                        end += self.char_len(end);
                    }
                    self.url(scheme, q + 3, end);
                    pos = end;
                }
                None => {
                    self.words(pos, q + 1);
                    pos = q + 1;
                }
            }
        }
    }

    fn char_len(&self, i: usize) -> usize {
        match self.b[i] {
            0..=0x7f => 1,
            0xc0..=0xdf => 2,
            0xe0..=0xef => 3,
            _ => 4,
        }
    }

    fn char_at(&self, i: usize) -> char {
        self.t[i..].chars().next().unwrap_or(' ')
    }

    /// URLs end at whitespace, quotes and angle brackets, and at non-ASCII characters that are
    /// not letters or digits (full-width punctuation, no-break spaces, emoji).
    fn ends_url_at(&self, i: usize) -> bool {
        let c = self.b[i];
        if c < 0x80 {
            ends_url(c)
        } else {
            !self.char_at(i).is_alphanumeric()
        }
    }

    fn url(&mut self, scheme: &'static str, auth: usize, end: usize) {
        let t = self.t;
        let mut end = end;
        // Strip trailing sentence punctuation, quotes and unbalanced closing brackets.
        while end > auth {
            let c = self.b[end - 1];
            let strip = match c {
                b'.' | b',' | b';' | b':' | b'!' | b'?' | b'"' | b'\'' | b'*' => true,
                b')' | b']' | b'}' => {
                    let open = match c {
                        b')' => b'(',
                        b']' => b'[',
                        _ => b'{',
                    };
                    let body = &self.b[auth..end];
                    let opens = body.iter().filter(|&&x| x == open).count();
                    let closes = body.iter().filter(|&&x| x == c).count();
                    closes > opens
                }
                _ => false,
            };
            if !strip {
                break;
            }
            end -= 1;
        }
        let rest = &t[auth..end];
        let auth_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = &rest[..auth_end];
        let (userinfo, hostport) = match authority.rfind('@') {
            Some(p) => (&authority[..=p], &authority[p + 1..]),
            None => ("", authority),
        };
        let (host_text, after_host) = if let Some(inner) = hostport.strip_prefix('[') {
            match inner.find(']') {
                Some(p) => (&inner[..p], &inner[p + 1..]),
                None => return,
            }
        } else {
            match hostport.find(':') {
                Some(p) => (&hostport[..p], &hostport[p..]),
                None => (hostport, ""),
            }
        };
        let port_ok = after_host
            .strip_prefix(':')
            .is_some_and(|p| p.bytes().all(|c| c.is_ascii_digit()));
        if !after_host.is_empty() && !port_ok {
            return;
        }
        let Some(host) = self.host_value(host_text, hostport.starts_with('[')) else {
            return;
        };
        let shown_host = match &host {
            Host::V6(s) => format!("[{s}]"),
            Host::V4(s) | Host::Name(s) => s.clone(),
        };
        let mut u = String::with_capacity(end - auth + scheme.len() + 8);
        u.push_str(scheme);
        u.push_str("://");
        u.push_str(userinfo);
        u.push_str(&shown_host);
        u.push_str(after_host);
        u.push_str(&rest[auth_end..]);
        self.f.urls.push(u);
        self.push_host(host);
    }

    fn host_value(&self, text: &str, bracketed: bool) -> Option<Host> {
        if bracketed {
            let v6 = parse_ipv6(text)?;
            return Some(match v6.to_ipv4_mapped() {
                Some(v4) => Host::V4(v4.to_string()),
                None => Host::V6(v6.to_string()),
            });
        }
        if text.bytes().all(|c| c.is_ascii_digit() || c == b'.') {
            let text = text.strip_suffix('.').unwrap_or(text);
            return parse_ipv4(text.as_bytes()).map(|ip| Host::V4(ip.to_string()));
        }
        validate_host(text, true).map(Host::Name)
    }

    fn push_host(&mut self, h: Host) {
        match h {
            Host::V4(s) => self.f.ipv4.push(s),
            Host::V6(s) => self.f.ipv6.push(s),
            Host::Name(s) => self.f.domains.push(s),
        }
    }

    /// Cuts `[a, z)` into words and classifies them. A word followed by `/` is a schemeless
    /// `host/path`: the host is classified and the path skipped (text in a path is not a host).
    fn words(&mut self, a: usize, z: usize) {
        let b = self.b;
        let mut i = a;
        while i < z {
            let c = b[i];
            let is_word = if c < 0x80 {
                WORD[c as usize]
            } else {
                self.char_at(i).is_alphanumeric()
            };
            if !is_word {
                i += self.char_len(i);
                continue;
            }
            let s = i;
            let mut marked = false;
            while i < z {
                let c = b[i];
                let w = if c < 0x80 {
                    WORD[c as usize]
                } else {
                    self.char_at(i).is_alphanumeric()
                };
                if !w {
                    break;
                }
                marked |= matches!(c, b'.' | b':' | b'@');
                i += self.char_len(i);
            }
            if marked {
                self.word(s, i);
            }
            if i < z && b[i] == b'/' {
                while i < z && !self.ends_url_at(i) {
                    i += self.char_len(i);
                }
            }
        }
    }

    fn word(&mut self, s: usize, e: usize) {
        let t = self.t;
        let w = &t[s..e];
        let w = w.trim_start_matches(['.', '-', '_', '+']);
        let w = w.trim_end_matches(['.', '-', '_', '+']);
        if w.is_empty() || w.starts_with('@') {
            // `@handle` and `@user@server` are mentions, not indicators.
            return;
        }
        let ws = s + (t[s..e].len() - t[s..e].trim_start_matches(['.', '-', '_', '+']).len());
        let trusted = self.rf.marked(s, e);
        if w.contains(':') {
            let v6_text = w.trim_end_matches('.');
            if v6_text.matches(':').count() >= 2 {
                if let Some(v6) = parse_ipv6(v6_text) {
                    match v6.to_ipv4_mapped() {
                        Some(v4) => self.f.ipv4.push(v4.to_string()),
                        None => self.f.ipv6.push(v6.to_string()),
                    }
                    return;
                }
            }
            let mut off = ws;
            for part in w.split(':') {
                self.simple(part, off, trusted);
                off += part.len() + 1;
            }
        } else {
            self.simple(w, ws, trusted);
        }
    }

    /// A word part without `:`: an email, a dotted quad or a hostname.
    fn simple(&mut self, part: &str, at: usize, trusted: bool) {
        let part = part.trim_matches(['.', '-', '_', '+']);
        if part.is_empty() || part.starts_with('@') {
            return;
        }
        let part = trim_script_edges(part);
        if let Some(p) = part.find('@') {
            let (local, dom) = (&part[..p], &part[p + 1..]);
            let local_ok = !local.is_empty()
                && local.len() <= 64
                && !local.starts_with('.')
                && local
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'+' | b'-'));
            if !local_ok || dom.contains('@') {
                return;
            }
            if let Some(host) = validate_host(dom, true) {
                let mut email = local.to_ascii_lowercase();
                email.push('@');
                email.push_str(&host);
                self.f.emails.push(email);
                self.f.domains.push(host);
            }
            return;
        }
        if !part.contains('.') {
            return;
        }
        let pb = part.as_bytes();
        if pb.iter().all(|c| c.is_ascii_digit() || *c == b'.') {
            if let Some(ip) = parse_ipv4(pb) {
                if trusted || !self.after_version_word(at) {
                    self.f.ipv4.push(ip.to_string());
                }
            }
            return;
        }
        if let Some(host) = validate_host(part, trusted) {
            self.f.domains.push(host);
        }
    }

    /// True when the word before `at` is a version word (`version 2.4.1.0`).
    fn after_version_word(&self, at: usize) -> bool {
        let b = self.b;
        let mut i = at;
        while i > 0
            && matches!(b[i - 1], b' ' | b'\t' | b'(' | b':' | b'=' | b'#' | b'.')
            && at - i < 4
        {
            i -= 1;
        }
        let end = i;
        while i > 0 && b[i - 1].is_ascii_alphabetic() && end - i < 12 {
            i -= 1;
        }
        if i == end || (i > 0 && b[i - 1].is_ascii_alphanumeric()) {
            return false;
        }
        let word = &b[i..end];
        VERSION_WORDS
            .iter()
            .any(|v| v.as_bytes().eq_ignore_ascii_case(word))
    }

    /// Hashes, Bitcoin addresses and CVE ids: whole ASCII alphanumeric runs.
    fn alnum_runs(&mut self, s: usize, e: usize) {
        let b = self.b;
        let mut i = s;
        while i < e {
            if !b[i].is_ascii_alphanumeric() {
                i += 1;
                continue;
            }
            let st = i;
            while i < e && b[i].is_ascii_alphanumeric() {
                i += 1;
            }
            let run = &b[st..i];
            let bounded = !self.letter_before(st) && !self.letter_at(i);
            if !bounded {
                continue;
            }
            match run.len() {
                3 if run.eq_ignore_ascii_case(b"cve") => {
                    if let Some(cve) = cve_after(b, i) {
                        self.f.cves.push(cve);
                    }
                }
                32 | 40 | 64 if run.iter().all(u8::is_ascii_hexdigit) => {
                    let h = self.t[st..i].to_ascii_lowercase();
                    match run.len() {
                        32 => self.f.md5.push(h),
                        40 => self.f.sha1.push(h),
                        _ => self.f.sha256.push(h),
                    }
                    continue;
                }
                _ => {}
            }
            if matches!(run[0], b'1' | b'3') && btc::is_base58_address(run) {
                self.f.btc.push(self.t[st..i].to_owned());
            } else if run.len() >= 14
                && run[..3].eq_ignore_ascii_case(b"bc1")
                && btc::is_bech32_address(run)
            {
                self.f.btc.push(self.t[st..i].to_ascii_lowercase());
            }
        }
    }

    /// A non-ASCII letter or digit glued before `i` (ASCII ones end runs already).
    fn letter_before(&self, i: usize) -> bool {
        i > 0
            && self.b[i - 1] >= 0x80
            && self.t[..i]
                .chars()
                .next_back()
                .is_some_and(char::is_alphanumeric)
    }

    fn letter_at(&self, i: usize) -> bool {
        i < self.b.len() && self.b[i] >= 0x80 && self.char_at(i).is_alphanumeric()
    }
}

enum Host {
    V4(String),
    V6(String),
    Name(String),
}

/// Drops non-ASCII letters glued to the ends of an ASCII host (`访问evil.com` in unspaced CJK
/// text is `evil.com`). Hosts written wholly in another script are kept as they are.
fn trim_script_edges(s: &str) -> &str {
    let mut s = s;
    if let Some(p) = s.find(|c: char| c.is_ascii()) {
        if p > 0 && s[p..].starts_with(|c: char| c.is_ascii_alphanumeric()) {
            s = &s[p..];
        }
    }
    if let Some(p) = s.rfind(|c: char| c.is_ascii()) {
        let after = p + 1;
        if after < s.len() && s[..after].ends_with(|c: char| c.is_ascii_alphanumeric()) {
            s = &s[..after];
        }
    }
    s
}

/// Hyphens people (and word processors) put in CVE ids: ASCII, Unicode hyphens, dashes, minus.
fn hyphen_at(b: &[u8], i: usize) -> Option<usize> {
    match b.get(i..) {
        Some([b'-', ..]) => Some(1),
        Some([0xE2, 0x80, 0x90..=0x94, ..]) | Some([0xE2, 0x88, 0x92, ..]) => Some(3),
        _ => None,
    }
}

/// Parses `-YYYY-NNNN...` after a `cve` run ending at `i`.
fn cve_after(b: &[u8], i: usize) -> Option<String> {
    let h1 = hyphen_at(b, i)?;
    let y = i + h1;
    let year = b.get(y..y + 4)?;
    if !year.iter().all(u8::is_ascii_digit) || b.get(y + 4).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let yv: u32 = std::str::from_utf8(year).ok()?.parse().ok()?;
    if !(1999..=2099).contains(&yv) {
        return None;
    }
    let h2 = hyphen_at(b, y + 4)?;
    let n = y + 4 + h2;
    let mut j = n;
    while j < b.len() && b[j].is_ascii_digit() {
        j += 1;
    }
    if !(4..=7).contains(&(j - n)) || b.get(j).is_some_and(u8::is_ascii_alphabetic) {
        return None;
    }
    let mut id = String::from("CVE-");
    id.push_str(std::str::from_utf8(year).ok()?);
    id.push('-');
    id.push_str(std::str::from_utf8(&b[n..j]).ok()?);
    Some(id)
}
