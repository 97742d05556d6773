//! Refanging (undoing the marks people add so that nobody clicks an indicator) and defanging
//! (adding them back for display).
//!
//! Refanging runs over a whole post before extraction, so that a defanged host is seen whole:
//! `county[.]gov[.]evil[.]ms` becomes `county.gov.evil.ms` and is then one host under
//! `evil.ms`. The pass is one forward scan over the bytes; each trigger byte (`[ ( { \ :` and the
//! lead bytes of full-width dots) is looked at with a bounded look-ahead or look-behind, so the
//! pass is linear in the input. Text without any mark is returned borrowed, without a copy.

use std::borrow::Cow;

/// The refanged text and the byte offsets (into the refanged text) where a mark was undone.
///
/// The offsets tell extraction that a candidate was deliberately defanged, which is strong
/// evidence that it is an indicator (see the crate docs on "trusted" candidates).
pub(crate) struct Refanged<'a> {
    pub text: Cow<'a, str>,
    pub marks: Vec<usize>,
}

impl Refanged<'_> {
    /// True when a mark was undone inside `start..end` of the refanged text.
    pub fn marked(&self, start: usize, end: usize) -> bool {
        let i = self.marks.partition_point(|&m| m < start);
        self.marks.get(i).is_some_and(|&m| m < end)
    }
}

/// Copy-on-write output: nothing is allocated until the first replacement.
struct Builder<'a> {
    src: &'a str,
    out: Option<String>,
    copied: usize,
    marks: Vec<usize>,
}

impl<'a> Builder<'a> {
    fn replace(&mut self, start: usize, end: usize, with: &str) {
        let out = self
            .out
            .get_or_insert_with(|| String::with_capacity(self.src.len()));
        out.push_str(&self.src[self.copied..start]);
        self.marks.push(out.len());
        out.push_str(with);
        self.copied = end;
    }

    fn finish(self) -> Refanged<'a> {
        match self.out {
            None => Refanged {
                text: Cow::Borrowed(self.src),
                marks: self.marks,
            },
            Some(mut out) => {
                out.push_str(&self.src[self.copied..]);
                Refanged {
                    text: Cow::Owned(out),
                    marks: self.marks,
                }
            }
        }
    }
}

/// Bytes at which a defang mark can start.
const fn trigger_table() -> [bool; 256] {
    let mut t = [false; 256];
    t[b'[' as usize] = true;
    t[b'(' as usize] = true;
    t[b'{' as usize] = true;
    t[b'\\' as usize] = true;
    t[b':' as usize] = true;
    t[0xEF] = true; // U+FF0E FULLWIDTH FULL STOP, U+FF61 HALFWIDTH IDEOGRAPHIC FULL STOP
    t[0xE3] = true; // U+3002 IDEOGRAPHIC FULL STOP
    t
}
static TRIGGER: [bool; 256] = trigger_table();

/// Separators between a scheme and the authority, defanged or not, and their length.
const SEPARATORS: [&[u8]; 8] = [
    b"://", b":\\\\", b"[:]//", b"[://]", b"(:)//", b"{:}//", b"[:]\\\\", b":[//]",
];

/// Schemes we accept for URLs (lower-case); defanged spellings are mapped onto them first.
pub(crate) const SCHEMES: [&str; 16] = [
    "http", "https", "ftp", "ftps", "sftp", "ws", "wss", "smb", "ldap", "ldaps", "ssh", "telnet",
    "rdp", "tcp", "udp", "irc",
];

/// Maps a scheme word as written (`hxxps`, `hXXp`, `h**p`, `fxp`, `HTTP`) to the real scheme.
pub(crate) fn real_scheme(word: &[u8]) -> Option<&'static str> {
    let lower = |i: usize| word[i].to_ascii_lowercase();
    let n = word.len();
    if (n == 4 || n == 5) && lower(0) == b'h' && lower(3) == b'p' {
        let mid_ok = |c: u8| matches!(c, b'x' | b't' | b'*' | b'_');
        if mid_ok(lower(1)) && mid_ok(lower(2)) {
            return match (n, n == 5 && lower(4) == b's') {
                (4, _) => Some("http"),
                (5, true) => Some("https"),
                _ => None,
            };
        }
    }
    if (n == 3 || n == 4) && lower(0) == b'f' && matches!(lower(1), b'x' | b't') && lower(2) == b'p'
    {
        return match (n, n == 4 && lower(3) == b's') {
            (3, _) => Some("ftp"),
            (4, true) => Some("ftps"),
            _ => None,
        };
    }
    SCHEMES
        .iter()
        .find(|s| s.as_bytes().eq_ignore_ascii_case(word))
        .copied()
}

/// Bracketed marks: the inner text (compared case-insensitively) and what it stands for.
const BRACKETED: [(&[u8], &str); 10] = [
    (b".", "."),
    (b"dot", "."),
    (b"@", "@"),
    (b"at", "@"),
    (b":", ":"),
    (b"/", "/"),
    (b"http", "http"),
    (b"https", "https"),
    (b"hxxp", "http"),
    (b"hxxps", "https"),
];

fn closer(open: u8) -> u8 {
    match open {
        b'[' => b']',
        b'(' => b')',
        _ => b'}',
    }
}

/// Matches a bracketed mark at `i` (`[.]`, `( dot )`, `{at}`, `[/]`, `[https]` ...).
/// Returns its end and replacement.
fn bracketed_at(b: &[u8], i: usize) -> Option<(usize, &'static str)> {
    let close = closer(b[i]);
    let mut j = i + 1;
    while j < b.len() && b[j] == b' ' && j - i <= 2 {
        j += 1;
    }
    let inner_start = j;
    // The longest inner word is 5 bytes: look no further (keeps the pass linear).
    while j < b.len() && j - inner_start < 6 && b[j] != close && b[j] != b' ' {
        j += 1;
    }
    let inner = &b[inner_start..j];
    while j < b.len() && b[j] == b' ' && j - inner_start < 9 {
        j += 1;
    }
    if j >= b.len() || b[j] != close {
        return None;
    }
    BRACKETED
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(inner))
        .map(|&(_, v)| (j + 1, v))
}

fn is_alnum(c: u8) -> bool {
    c.is_ascii_alphanumeric()
}

/// Refangs `src`: see the crate docs for the list of marks undone.
pub(crate) fn refang_text(src: &str) -> Refanged<'_> {
    let b = src.as_bytes();
    let mut bld = Builder {
        src,
        out: None,
        copied: 0,
        marks: Vec::new(),
    };
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if !TRIGGER[c as usize] {
            i += 1;
            continue;
        }
        if i < bld.copied {
            i += 1;
            continue;
        }
        // 1. A scheme separator, possibly after a defanged scheme word.
        if matches!(c, b':' | b'[' | b'(' | b'{') {
            if let Some(sep) = SEPARATORS.iter().find(|s| b[i..].starts_with(s)) {
                let mut s = i;
                while s > bld.copied
                    && i - s < 6
                    && matches!(b[s - 1], b'a'..=b'z' | b'A'..=b'Z' | b'*' | b'_')
                {
                    s -= 1;
                }
                let at_word_start = s == 0 || !is_alnum(b[s - 1]);
                if s < i && at_word_start {
                    if let Some(scheme) = real_scheme(&b[s..i]) {
                        let unchanged = sep == b"://" && &b[s..i] == scheme.as_bytes();
                        if !unchanged {
                            let mut with = String::with_capacity(scheme.len() + 3);
                            with.push_str(scheme);
                            with.push_str("://");
                            bld.replace(s, i + sep.len(), &with);
                        }
                        i += sep.len();
                        continue;
                    }
                }
            }
        }
        match c {
            b'[' | b'(' | b'{' => {
                if let Some((end, with)) = bracketed_at(b, i) {
                    let (mut start, mut stop) = (i, end);
                    // Word forms and square/curly brackets may stand between spaces
                    // (`admin [at] county [dot] gov`); `(.)` and `(@)` must be glued.
                    let spaced_ok = c != b'(' || b[i..end].iter().any(u8::is_ascii_alphabetic);
                    if spaced_ok && (with == "." || with == "@") {
                        let mut l = start;
                        while l > bld.copied && start - l < 2 && b[l - 1] == b' ' {
                            l -= 1;
                        }
                        let mut r = stop;
                        while r < b.len() && r - stop < 2 && b[r] == b' ' {
                            r += 1;
                        }
                        let left_word = l > 0 && l < start && is_alnum(b[l - 1]);
                        let right_word = r < b.len() && r > stop && is_alnum(b[r]);
                        if left_word && right_word {
                            start = l;
                            stop = r;
                        }
                    }
                    if start >= bld.copied {
                        bld.replace(start, stop, with);
                        i = stop;
                        continue;
                    }
                }
                i += 1;
            }
            b'\\' => {
                if b.get(i + 1) == Some(&b'.')
                    && i > 0
                    && is_alnum(b[i - 1])
                    && b.get(i + 2).is_some_and(|&n| is_alnum(n))
                {
                    bld.replace(i, i + 2, ".");
                    i += 2;
                } else {
                    i += 1;
                }
            }
            0xEF | 0xE3 => {
                let wide = matches!(
                    &b[i..],
                    [0xEF, 0xBC, 0x8E, ..] | [0xEF, 0xBD, 0xA1, ..] | [0xE3, 0x80, 0x82, ..]
                );
                if wide && i > 0 && is_alnum(b[i - 1]) && b.get(i + 3).is_some_and(|&n| is_alnum(n))
                {
                    bld.replace(i, i + 3, ".");
                    i += 3;
                } else {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    bld.finish()
}

/// Defangs one whitespace-free token for display: see [`crate::defang`].
pub(crate) fn defang_token(tok: &str, out: &mut String) {
    let bare_sep = tok.find("://").filter(|&p| !tok[..p].ends_with('['));
    if let Some(p) = bare_sep {
        let scheme = &tok[..p];
        let shown = match scheme.to_ascii_lowercase().as_str() {
            "http" => "hxxp",
            "https" => "hxxps",
            "ftp" => "fxp",
            "ftps" => "fxps",
            _ => scheme,
        };
        out.push_str(shown);
        out.push_str("[://]");
        let rest = &tok[p + 3..];
        let auth_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        dots(&rest[..auth_end], out);
        out.push_str(&rest[auth_end..]);
        return;
    }
    dots(tok, out);
}

/// Replaces `.` by `[.]` and `@` by `[@]` where they stand between word characters.
fn dots(s: &str, out: &mut String) {
    let b = s.as_bytes();
    let mut last = 0;
    for (i, &c) in b.iter().enumerate() {
        if (c == b'.' || c == b'@') && i > 0 && i + 1 < b.len() {
            let word = |x: u8| x.is_ascii_alphanumeric() || x >= 0x80 || x == b'-' || x == b'_';
            if word(b[i - 1]) && word(b[i + 1]) {
                out.push_str(&s[last..i]);
                out.push_str(if c == b'.' { "[.]" } else { "[@]" });
                last = i + 1;
            }
        }
    }
    out.push_str(&s[last..]);
}
