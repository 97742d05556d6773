//! Text normalisation and tokenisation: the one function that rules and posts both go through.
//!
//! [`normalise`] turns text into its *token stream*: NFKC, lower-cased, every token separated by
//! exactly one space, with one space before the first token and after the last. Keyword and
//! phrase patterns are built by the same function, so a whole-token match is a plain substring
//! match of `" token "` in the stream (see the crate docs, "Matching"). Because rules and posts
//! share this code, any quirk of it applies to both sides alike.

use unicode_normalization::char::{canonical_combining_class, is_combining_mark};
use unicode_normalization::{is_nfkc_quick, IsNormalized, UnicodeNormalization};
use unicode_script::{Script, UnicodeScript};

/// Offsets of one stream byte in the original text, in chars: `[start, end)` of the original
/// characters it came from.
pub(crate) type CharRange = [u32; 2];

/// ASCII byte classes: the lower-cased byte for token bytes, 0 for separators.
static ASCII_TOKEN: [u8; 128] = {
    let mut t = [0u8; 128];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        t[b] = if c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_' {
            c
        } else if c.is_ascii_uppercase() {
            c + 32
        } else {
            0
        };
        b += 1;
    }
    t
};

/// True for characters that belong in a token: letters, marks, digits and `_`.
///
/// "Letters" are Rust's `Alphabetic` (general category L plus `Nl` and `Other_Alphabetic`),
/// "digits" Rust's `Numeric` (N), marks `General_Category=Mark`.
#[inline]
pub(crate) fn is_token_char(c: char) -> bool {
    if c.is_ascii() {
        return ASCII_TOKEN[c as usize] != 0;
    }
    c.is_alphanumeric() || is_combining_mark(c)
}

/// The script of a character when it has a particular one; `None` for Common, Inherited and
/// Unknown (digits, `_`, most marks and symbols), which never end a token.
#[inline]
pub(crate) fn real_script(c: char) -> Option<Script> {
    if c.is_ascii() {
        return if c.is_ascii_alphabetic() {
            Some(Script::Latin)
        } else {
            None
        };
    }
    match c.script() {
        Script::Common | Script::Inherited | Script::Unknown => None,
        s => Some(s),
    }
}

/// Scripts written without spaces between words, where a keyword matches anywhere inside a run.
#[inline]
pub(crate) fn is_spaceless(c: char) -> bool {
    !c.is_ascii()
        && matches!(
            c.script(),
            Script::Han
                | Script::Hiragana
                | Script::Katakana
                | Script::Thai
                | Script::Lao
                | Script::Khmer
                | Script::Myanmar
        )
}

/// True when `c` continues the normalisation chunk of the character before it (a combining
/// character, or a Hangul vowel or final jamo that composes with a preceding syllable).
#[inline]
fn continues_chunk(c: char) -> bool {
    !c.is_ascii()
        && (canonical_combining_class(c) != 0
            || is_combining_mark(c)
            || ('\u{1160}'..='\u{11FF}').contains(&c))
}

/// Writes the token stream of `text` into `out`, and when `map` is given, the original char
/// range of every byte of `out` into it (spaces map to the range of the character before them).
///
/// NFKC is applied per chunk (a character and the combining characters after it), which equals
/// whole-string NFKC except for a few exotic sequences and lets every output byte name the
/// original characters it came from.
pub(crate) fn normalise(text: &str, out: &mut String, mut map: Option<&mut Vec<CharRange>>) {
    out.clear();
    if let Some(m) = map.as_deref_mut() {
        m.clear();
    }
    if text.is_ascii() {
        normalise_ascii(text.as_bytes(), out, map);
        return;
    }
    let mut st = Stream {
        out,
        map,
        in_token: false,
        script: None,
    };
    st.space([0, 0]);
    let bytes = text.as_bytes();
    let mut ci: u32 = 0;
    let mut b = 0;
    while b < bytes.len() {
        // A run of ASCII bytes, less its last byte when a non-ASCII character follows (which
        // may be a combining mark belonging to it), goes through the byte loop.
        let mut e = b;
        while e < bytes.len() && bytes[e].is_ascii() {
            e += 1;
        }
        if e < bytes.len() && e > b {
            e -= 1;
        }
        if e > b {
            st.ascii_run(&bytes[b..e], ci);
            ci += (e - b) as u32;
            b = e;
            continue;
        }
        // One chunk: a character and the combining characters after it.
        let Some(c) = text[b..].chars().next() else {
            break;
        };
        let start_ci = ci;
        ci += 1;
        let mut end_b = b + c.len_utf8();
        while let Some(n) = text[end_b..].chars().next() {
            if !continues_chunk(n) {
                break;
            }
            end_b += n.len_utf8();
            ci += 1;
        }
        let range = [start_ci, ci];
        if end_b - b == 1 {
            st.push(ASCII_TOKEN[c as usize] as char, range);
        } else if end_b - b == c.len_utf8()
            && is_nfkc_quick(std::iter::once(c)) == IsNormalized::Yes
        {
            for l in c.to_lowercase() {
                st.push_checked(l, range);
            }
        } else {
            for n in text[b..end_b].nfkc() {
                for l in n.to_lowercase() {
                    st.push_checked(l, range);
                }
            }
        }
        b = end_b;
    }
    st.end(ci);
}

fn normalise_ascii(bytes: &[u8], out: &mut String, map: Option<&mut Vec<CharRange>>) {
    // All-ASCII text is already NFKC and lower-cases byte for byte: one table lookup a byte.
    out.reserve(bytes.len() + 2);
    out.push(' ');
    let mut in_token = false;
    match map {
        None => {
            for &b in bytes {
                let t = ASCII_TOKEN[b as usize];
                if t != 0 {
                    out.push(t as char);
                    in_token = true;
                } else if in_token {
                    out.push(' ');
                    in_token = false;
                }
            }
            if in_token {
                out.push(' ');
            }
        }
        Some(m) => {
            m.push([0, 0]);
            for (i, &b) in bytes.iter().enumerate() {
                let i = i as u32;
                let t = ASCII_TOKEN[b as usize];
                if t != 0 {
                    out.push(t as char);
                    m.push([i, i + 1]);
                    in_token = true;
                } else if in_token {
                    out.push(' ');
                    m.push([i, i]);
                    in_token = false;
                }
            }
            if in_token {
                out.push(' ');
                let n = bytes.len() as u32;
                m.push([n, n]);
            }
        }
    }
}

/// The writer behind [`normalise`] for text that is not all ASCII.
struct Stream<'a> {
    out: &'a mut String,
    map: Option<&'a mut Vec<CharRange>>,
    in_token: bool,
    /// The script of the last letter of the current token that had one.
    script: Option<Script>,
}

impl Stream<'_> {
    #[inline]
    fn emit(&mut self, c: char, range: CharRange) {
        self.out.push(c);
        if let Some(m) = self.map.as_deref_mut() {
            for _ in 0..c.len_utf8() {
                m.push(range);
            }
        }
    }

    #[inline]
    fn space(&mut self, range: CharRange) {
        self.emit(' ', [range[0], range[0]]);
    }

    /// A run of ASCII bytes starting at original char `ci`.
    fn ascii_run(&mut self, run: &[u8], ci: u32) {
        if self.map.is_some() {
            for (k, &b) in run.iter().enumerate() {
                let i = ci + k as u32;
                self.push(ASCII_TOKEN[b as usize] as char, [i, i + 1]);
            }
            return;
        }
        self.out.reserve(run.len() + 1);
        for &b in run {
            let t = ASCII_TOKEN[b as usize];
            if t == 0 {
                if self.in_token {
                    self.out.push(' ');
                    self.in_token = false;
                    self.script = None;
                }
                continue;
            }
            if t.is_ascii_alphabetic() {
                if self.in_token && self.script.is_some_and(|s| s != Script::Latin) {
                    self.out.push(' ');
                }
                self.script = Some(Script::Latin);
            }
            self.in_token = true;
            self.out.push(t as char);
        }
    }

    /// An ASCII byte already classified: `'\0'` is a separator.
    #[inline]
    fn push(&mut self, t: char, range: CharRange) {
        if t == '\0' {
            self.separator(range);
        } else {
            if self.in_token
                && self.script.is_some_and(|s| s != Script::Latin)
                && t.is_ascii_alphabetic()
            {
                self.space(range);
            }
            if t.is_ascii_alphabetic() {
                self.script = Some(Script::Latin);
            }
            self.in_token = true;
            self.emit(t, range);
        }
    }

    #[inline]
    fn push_checked(&mut self, c: char, range: CharRange) {
        if !is_token_char(c) {
            self.separator(range);
            return;
        }
        let s = real_script(c);
        if self.in_token {
            if let (Some(a), Some(b)) = (self.script, s) {
                if a != b {
                    self.space(range);
                }
            }
        }
        if s.is_some() {
            self.script = s;
        }
        self.in_token = true;
        self.emit(c, range);
    }

    #[inline]
    fn separator(&mut self, range: CharRange) {
        if self.in_token {
            self.space(range);
            self.in_token = false;
            self.script = None;
        }
    }

    fn end(&mut self, n: u32) {
        if self.in_token {
            self.space([n, n]);
        }
    }
}

/// NFKC then lower-case, without tokenising: for hashtags, mentions, cashtags and handles.
pub(crate) fn fold_into(s: &str, out: &mut String) {
    out.clear();
    if s.is_ascii() {
        out.push_str(s);
        out.make_ascii_lowercase();
    } else {
        for n in s.nfkc() {
            out.extend(n.to_lowercase());
        }
    }
}

/// [`fold_into`] into a new string.
pub(crate) fn fold(s: &str) -> String {
    let mut out = String::new();
    fold_into(s, &mut out);
    out
}

/// The tokens of `s`, normalised as post text is.
pub(crate) fn tokens(s: &str) -> Vec<String> {
    let mut out = String::new();
    normalise(s, &mut out, None);
    out.split(' ')
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The stream pattern for a token sequence: tokens joined by single spaces, with a space at
/// each end unless the character there is of a script written without spaces (which matches
/// anywhere inside a run of its script).
pub(crate) fn pattern(tokens: &[String]) -> String {
    let joined = tokens.join(" ");
    let lead = joined.chars().next().is_some_and(|c| !is_spaceless(c));
    let trail = joined.chars().next_back().is_some_and(|c| !is_spaceless(c));
    let mut p = String::with_capacity(joined.len() + 2);
    if lead {
        p.push(' ');
    }
    p.push_str(&joined);
    if trail {
        p.push(' ');
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(s: &str) -> String {
        let mut out = String::new();
        normalise(s, &mut out, None);
        out
    }

    #[test]
    fn ascii_stream_collapses_separators_and_pads() {
        assert_eq!(
            stream("LockBit  hit the School-District!"),
            " lockbit hit the school district "
        );
        assert_eq!(stream(""), " ");
        assert_eq!(stream("!!"), " ");
        assert_eq!(
            stream("lockbit3 lockbit_support"),
            " lockbit3 lockbit_support "
        );
    }

    #[test]
    fn scripts_split_tokens_but_digits_and_marks_do_not() {
        assert_eq!(stream("LockBitによる攻撃"), " lockbit による 攻撃 ");
        assert_eq!(stream("Ｌｏｃｋｂｉｔ３"), " lockbit3 ");
        assert_eq!(stream("cafe\u{301} ﬁle"), " café file ");
        assert_eq!(stream("ПРИВЕТ мир"), " привет мир ");
        assert_eq!(stream("abcд"), " abc д ");
    }

    #[test]
    fn map_points_back_to_original_chars() {
        let text = "x ﬁle é!";
        let mut out = String::new();
        let mut map = Vec::new();
        normalise(text, &mut out, Some(&mut map));
        assert_eq!(out.len(), map.len());
        let f = out.find("file").unwrap();
        assert_eq!(map[f], [2, 3]);
        assert_eq!(map[f + 3], [4, 5]);
        let mut plain = String::new();
        normalise(text, &mut plain, None);
        assert_eq!(plain, out);
    }

    #[test]
    fn patterns_pad_unless_spaceless() {
        assert_eq!(pattern(&tokens("Lockbit")), " lockbit ");
        assert_eq!(pattern(&tokens("攻撃")), "攻撃");
        assert_eq!(pattern(&tokens("lockbit攻撃")), " lockbit 攻撃");
        assert_eq!(
            pattern(&tokens("\"School  district\"")),
            " school district "
        );
    }
}
