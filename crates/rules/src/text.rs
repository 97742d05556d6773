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
pub(crate) static ASCII_TOKEN: [u8; 128] = {
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

/// Unicode's `Default_Ignorable_Code_Point`: invisible characters (zero-width space and
/// joiners, variation selectors, bidi controls, soft hyphen, tag characters, Hangul fillers).
/// They are dropped after NFKC, as NFKC_Casefold drops them, so `lock\u{200B}bit` is the token
/// `lockbit` (an invisible character does not hide a keyword) and the variation selector of
/// `⚠️LockBit` does not glue itself to the word after it.
#[inline]
pub(crate) fn is_default_ignorable(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFF8}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
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
pub(crate) fn normalise(text: &str, out: &mut String, map: Option<&mut Vec<CharRange>>) {
    let mut bytes = std::mem::take(out).into_bytes();
    normalise_bytes(text, &mut bytes, map);
    // The stream is built from whole chars of valid UTF-8, so this never takes the lossy path.
    *out = match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    };
}

/// [`normalise`] into a byte buffer, which the matcher scans without re-validating UTF-8.
pub(crate) fn normalise_bytes(text: &str, out: &mut Vec<u8>, mut map: Option<&mut Vec<CharRange>>) {
    out.clear();
    if let Some(m) = map.as_deref_mut() {
        m.clear();
    }
    if text.is_ascii() {
        match map {
            None => {
                out.push(b' ');
                let in_token = ascii_tokens(text.as_bytes(), out, false, None);
                if in_token {
                    out.push(b' ');
                }
            }
            Some(m) => normalise_ascii_mapped(text.as_bytes(), out, m),
        }
        return;
    }
    let mut args = Some((out, map));
    let _ = CHAR_CACHE.try_with(|cache| {
        if let (Ok(mut cache), Some((out, map))) = (cache.try_borrow_mut(), args.take()) {
            normalise_mixed(text, out, map, &mut cache);
        }
    });
    // Only while the thread is being torn down: without the cache.
    if let Some((out, map)) = args {
        normalise_mixed(text, out, map, &mut CharCache::default());
    }
}

/// The non-ASCII case of [`normalise_bytes`].
fn normalise_mixed(
    text: &str,
    out: &mut Vec<u8>,
    map: Option<&mut Vec<CharRange>>,
    cache: &mut CharCache,
) {
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
        let mut e = b + ascii_prefix_len(&bytes[b..]);
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
            if n.is_ascii() || !cache.get(n).continues {
                break;
            }
            end_b += n.len_utf8();
            ci += 1;
        }
        let range = [start_ci, ci];
        if end_b - b == c.len_utf8() && !c.is_ascii() {
            match cache.get(c).kind {
                CharKind::Separator => st.separator(range),
                CharKind::Ignorable => {}
                CharKind::Token { lower, script } => st.push_token(lower, script, range),
                CharKind::Complex => st.chunk(&text[b..end_b], range),
            }
        } else {
            st.chunk(&text[b..end_b], range);
        }
        b = end_b;
    }
    st.end(ci);
}

/// Whether every character of `text` that is not ASCII is a separator, on its own or with
/// the invisible characters that follow it (`—`, `’`, emoji, `⚠️`): then the tokens of
/// `text` are exactly its runs of ASCII letters, digits and `_`, and it can be split in place
/// (see `tokens::tokenise_in_place`) with no stream built. Most posts that are not ASCII are
/// English with a dash, a curly quote or an emoji.
pub(crate) fn separators_only(text: &str) -> bool {
    CHAR_CACHE
        .try_with(|cache| {
            cache
                .try_borrow_mut()
                .is_ok_and(|mut cache| separators_only_with(text, &mut cache))
        })
        .unwrap_or(false)
}

fn separators_only_with(text: &str, cache: &mut CharCache) -> bool {
    let bytes = text.as_bytes();
    let mut b = 0;
    loop {
        b += ascii_prefix_len(&bytes[b..]);
        let Some(c) = text.get(b..).and_then(|t| t.chars().next()) else {
            return true;
        };
        let info = cache.get(c);
        if info.kind != CharKind::Separator || info.continues {
            return false;
        }
        b += c.len_utf8();
        // Invisible characters attached to it vanish (see `is_default_ignorable`).
        while let Some(n) = text.get(b..).and_then(|t| t.chars().next()) {
            if n.is_ascii() || !cache.get(n).continues {
                break;
            }
            if cache.get(n).kind != CharKind::Ignorable {
                return false;
            }
            b += n.len_utf8();
        }
    }
}

/// How many bytes at the start of `bytes` are ASCII, eight at a time.
fn ascii_prefix_len(bytes: &[u8]) -> usize {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut words = bytes.chunks_exact(8);
    let mut n = 0;
    for w in &mut words {
        let mut arr = [0u8; 8];
        arr.copy_from_slice(w);
        let high = u64::from_le_bytes(arr) & HIGH;
        if high != 0 {
            return n + (high.trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    n + words
        .remainder()
        .iter()
        .take_while(|b| b.is_ascii())
        .count()
}

/// What [`Stream::chunk`] makes of one non-ASCII character standing alone.
#[derive(Debug, Clone, Copy, PartialEq)]
enum CharKind {
    /// Its NFKC and lower-case form holds no token character: it ends a token.
    Separator,
    /// It vanishes (default ignorable).
    Ignorable,
    /// It is one token character after NFKC and lower-casing.
    Token { lower: char, script: Option<Script> },
    /// Anything else: take the general path.
    Complex,
}

#[derive(Debug, Clone, Copy)]
struct CharInfo {
    c: char,
    kind: CharKind,
    /// Whether it joins the chunk of the character before it ([`continues_chunk`]).
    continues: bool,
}

impl CharInfo {
    fn of(c: char) -> CharInfo {
        let mut forms = [' '; 4];
        let mut n = 0;
        let mut overflow = false;
        for l in c.nfkc().flat_map(char::to_lowercase) {
            match forms.get_mut(n) {
                Some(f) => *f = l,
                None => overflow = true,
            }
            n += 1;
        }
        let forms = &forms[..n.min(4)];
        let kind = if overflow {
            CharKind::Complex
        } else if forms.iter().all(|&f| is_default_ignorable(f)) {
            CharKind::Ignorable
        } else if forms
            .iter()
            .all(|&f| is_default_ignorable(f) || !is_token_char(f))
        {
            CharKind::Separator
        } else if let [f] = forms {
            CharKind::Token {
                lower: *f,
                script: real_script(*f),
            }
        } else {
            CharKind::Complex
        };
        CharInfo {
            c,
            kind,
            continues: continues_chunk(c),
        }
    }
}

/// A small direct-mapped cache of [`CharInfo`], one per thread: posts repeat the same few
/// non-ASCII characters (quotes, dashes, emoji, the letters of a script), and the Unicode
/// table lookups behind one character cost more than the rest of its handling.
#[derive(Debug)]
struct CharCache(Box<[Option<CharInfo>; 1024]>);

impl Default for CharCache {
    fn default() -> CharCache {
        CharCache(Box::new([None; 1024]))
    }
}

impl CharCache {
    #[inline]
    fn get(&mut self, c: char) -> CharInfo {
        let slot = &mut self.0[(c as usize ^ (c as usize >> 10)) & 1023];
        match slot {
            Some(info) if info.c == c => *info,
            _ => {
                let info = CharInfo::of(c);
                *slot = Some(info);
                info
            }
        }
    }
}

thread_local! {
    static CHAR_CACHE: std::cell::RefCell<CharCache> = std::cell::RefCell::new(CharCache::default());
}

/// ASCII bytes to their token byte (lower-cased), separators to a space.
static ASCII_FOLD: [u8; 128] = {
    let mut t = [b' '; 128];
    let mut b = 0;
    while b < 128 {
        if ASCII_TOKEN[b] != 0 {
            t[b] = ASCII_TOKEN[b];
        }
        b += 1;
    }
    t
};

/// Appends the tokens of ASCII `bytes` to `out`, which is not empty and ends in a space unless
/// `in_token` (then its last byte belongs to a token that `bytes` may continue). Returns
/// whether the output ends inside a token. With `map` = (the map, the char index of
/// `bytes[0]`), appends the original range of every output byte too, as [`normalise`] says.
///
/// Branch-free: every byte is written, and the write position advances unless the byte is a
/// separator following another separator. Posts are short and mixed, so the branches of a
/// byte-by-byte state machine mispredict often; this loop has none.
fn ascii_tokens(
    bytes: &[u8],
    out: &mut Vec<u8>,
    in_token: bool,
    map: Option<(&mut Vec<CharRange>, u32)>,
) -> bool {
    let len = out.len();
    out.resize(len + bytes.len() + 1, b' ');
    let buf = &mut out[len..];
    let mut j = 0;
    let mut prev = usize::from(in_token);
    match map {
        None => {
            for &b in bytes {
                let t = ASCII_FOLD[usize::from(b & 0x7f)];
                let tok = usize::from(t != b' ');
                buf[j] = t;
                j += tok | prev;
                prev = tok;
            }
        }
        Some((m, ci)) => {
            m.resize(len + bytes.len() + 1, [0, 0]);
            let mbuf = &mut m[len..];
            for (k, &b) in bytes.iter().enumerate() {
                let i = ci + k as u32;
                let t = ASCII_FOLD[usize::from(b & 0x7f)];
                let tok = usize::from(t != b' ');
                buf[j] = t;
                // A token byte comes from its char; a space from the position of the separator.
                mbuf[j] = [i, i + tok as u32];
                j += tok | prev;
                prev = tok;
            }
            m.truncate(len + j);
        }
    }
    out.truncate(len + j);
    prev == 1
}

fn normalise_ascii_mapped(bytes: &[u8], out: &mut Vec<u8>, m: &mut Vec<CharRange>) {
    out.push(b' ');
    m.push([0, 0]);
    if ascii_tokens(bytes, out, false, Some((m, 0))) {
        out.push(b' ');
        let n = bytes.len() as u32;
        m.push([n, n]);
    }
}

/// The writer behind [`normalise`] for text that is not all ASCII.
struct Stream<'a> {
    out: &'a mut Vec<u8>,
    map: Option<&'a mut Vec<CharRange>>,
    in_token: bool,
    /// The script of the last letter of the current token that had one.
    script: Option<Script>,
}

impl Stream<'_> {
    #[inline]
    fn emit(&mut self, c: char, range: CharRange) {
        let mut buf = [0u8; 4];
        let enc = c.encode_utf8(&mut buf).as_bytes();
        self.out.extend_from_slice(enc);
        if let Some(m) = self.map.as_deref_mut() {
            for _ in 0..enc.len() {
                m.push(range);
            }
        }
    }

    #[inline]
    fn space(&mut self, range: CharRange) {
        self.emit(' ', [range[0], range[0]]);
    }

    /// One normalisation chunk (a character and the combining characters after it), which
    /// came from original chars `range`.
    fn chunk(&mut self, chunk: &str, range: CharRange) {
        let mut chars = chunk.chars();
        let (Some(c), None) = (chars.next(), chars.next()) else {
            for n in chunk.nfkc() {
                for l in n.to_lowercase() {
                    self.push_checked(l, range);
                }
            }
            return;
        };
        if c.is_ascii() {
            self.push(ASCII_TOKEN[c as usize] as char, range);
        } else if is_nfkc_quick(std::iter::once(c)) == IsNormalized::Yes {
            for l in c.to_lowercase() {
                self.push_checked(l, range);
            }
        } else {
            for n in c.nfkc() {
                for l in n.to_lowercase() {
                    self.push_checked(l, range);
                }
            }
        }
    }

    /// A run of ASCII bytes starting at original char `ci`.
    fn ascii_run(&mut self, run: &[u8], ci: u32) {
        // Digits and `_` continue the current token whatever its script; the first letter or
        // separator settles the state, after which the run tokenises as plain ASCII does.
        let mut k = 0;
        while let Some(&b) = run.get(k) {
            let t = ASCII_TOKEN[b as usize];
            if t == 0 || t.is_ascii_alphabetic() {
                break;
            }
            let i = ci + k as u32;
            self.in_token = true;
            self.emit(t as char, [i, i + 1]);
            k += 1;
        }
        let Some(&first) = run.get(k) else {
            return;
        };
        if ASCII_TOKEN[first as usize] != 0
            && self.in_token
            && self.script.is_some_and(|s| s != Script::Latin)
        {
            let i = ci + k as u32;
            self.space([i, i + 1]);
            self.in_token = false;
        }
        let mark = self.out.len();
        let map = self.map.as_deref_mut().map(|m| (m, ci + k as u32));
        self.in_token = ascii_tokens(&run[k..], self.out, self.in_token, map);
        // The script of the current token: Latin if it has a letter written by this run.
        self.script = if self.in_token {
            let tail = &self.out[mark..];
            let tok_start = tail.iter().rposition(|&b| b == b' ').map_or(0, |p| p + 1);
            tail[tok_start..]
                .iter()
                .any(u8::is_ascii_alphabetic)
                .then_some(Script::Latin)
        } else {
            None
        };
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
        if is_default_ignorable(c) {
            return;
        }
        if !is_token_char(c) {
            self.separator(range);
            return;
        }
        self.push_token(c, real_script(c), range);
    }

    /// A token character `c`, whose script is `s`.
    #[inline]
    fn push_token(&mut self, c: char, s: Option<Script>, range: CharRange) {
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
        for n in s.nfkc().filter(|&c| !is_default_ignorable(c)) {
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
    fn separators_only_spots_text_that_splits_in_place() {
        assert!(separators_only("LockBit — the county’s portal 🔥⚠\u{FE0F}"));
        assert!(separators_only("plain"));
        assert!(
            !separators_only("lock\u{200B}bit"),
            "an invisible char joins words"
        );
        assert!(
            !separators_only("cafe\u{301}"),
            "a mark joins the letter before it"
        );
        assert!(!separators_only("café"));
        assert!(!separators_only("x ½"), "NFKC makes digits of it");
        assert!(!separators_only("—\u{301}"));
    }

    #[test]
    fn invisible_characters_neither_split_nor_join_to_words() {
        assert_eq!(stream("Lock\u{200B}Bit"), " lockbit ");
        assert_eq!(stream("⚠\u{FE0F}LockBit hit"), " lockbit hit ");
        assert_eq!(stream("\u{202E}tibkcol\u{202C} x"), " tibkcol x ");
        assert_eq!(stream("sc\u{00AD}hool"), " school ");
        assert_eq!(stream("\u{200D}"), " ");
        assert_eq!(fold("Lock\u{200D}Bit"), "lockbit");
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

    /// The slow path for every character: chunk by chunk through [`Stream::chunk`], with the
    /// map.
    fn reference(text: &str) -> (String, Vec<CharRange>) {
        let mut out = Vec::new();
        let mut map = Vec::new();
        let mut st = Stream {
            out: &mut out,
            map: Some(&mut map),
            in_token: false,
            script: None,
        };
        st.space([0, 0]);
        let mut chars = text.char_indices().peekable();
        let mut ci = 0u32;
        while let Some((b, c)) = chars.next() {
            let start = ci;
            ci += 1;
            let mut end = b + c.len_utf8();
            while let Some(&(nb, n)) = chars.peek() {
                if !continues_chunk(n) {
                    break;
                }
                end = nb + n.len_utf8();
                ci += 1;
                chars.next();
            }
            st.chunk(&text[b..end], [start, ci]);
        }
        st.end(ci);
        (String::from_utf8(out).unwrap(), map)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]
        /// The ASCII fast paths (whole text and runs inside other text) and the mapped path
        /// produce exactly what the character-by-character path does.
        #[test]
        fn fast_paths_agree_with_the_slow_path(
            parts in proptest::collection::vec(proptest::sample::select(vec![
                "a", "Zb", "1", "_", " ", ".", "x9", "д", "Д1", "攻", "ﬁ", "\u{301}", "Ｌ",
                "🔥", "’", "—", "ß", "İ", "ǅ", "\u{200d}", "ア", "한", "\u{1161}", "é", "٣",
                "ا", "\t", "-", "#", "@", "‗", "½", "\u{FE0F}", "\u{200B}", "⚠", "Ⅻ", "ǈ",
                "ﷺ", "lockbit ransomware ", "\u{1100}\u{1161}\u{11A8}", "ก", "…",
            ]), 0..60)
        ) {
            let text: String = parts.concat();
            let fast = stream(&text);
            let (slow, slow_map) = reference(&text);
            proptest::prop_assert_eq!(&fast, &slow, "text {:?}", text);
            let mut mapped = String::new();
            let mut map = Vec::new();
            normalise(&text, &mut mapped, Some(&mut map));
            proptest::prop_assert_eq!(&fast, &mapped, "text {:?}", text);
            proptest::prop_assert_eq!(&map, &slow_map, "text {:?}", text);
        }
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
