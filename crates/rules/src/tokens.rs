//! The whole-token index: keywords and phrases found by hashing the tokens of the stream.
//!
//! Why not one Aho-Corasick automaton for everything: its tables for tens of thousands of
//! keywords are megabytes, and a scan touches them at every byte (a cache miss each, on a busy
//! machine). A post has ~30 tokens but ~170 bytes; hashing each token and probing a bitset
//! small enough to stay in cache rejects nearly every token in a few nanoseconds, and only the
//! rare candidates reach the hash map and a string compare. Keywords are keyed by their token's
//! hash, phrases by the hash of their first two tokens. Patterns with an end in a script written
//! without spaces (which match inside a token) stay in an Aho-Corasick automaton, which is
//! small and only runs on text that is not ASCII.

use rustc_hash::FxHashMap;

/// One keyword or phrase: its tokens joined by single spaces, as they appear in the stream.
#[derive(Debug, Clone)]
struct Entry {
    atom: u32,
    tokens: u32,
    text: Box<str>,
}

/// Index of whole-token patterns.
#[derive(Debug, Default)]
pub(crate) struct TokenIndex {
    /// Blocked Bloom filter over the keys: two bits per key in one 64-bit word, about 2 %
    /// false positives at 16 bits a key.
    bits: Vec<u64>,
    /// `64 - log2(words)`: the key's top bits choose its word.
    shift: u32,
    map: FxHashMap<u64, (u32, u32)>,
    entries: Vec<Entry>,
}

const K: u64 = 0x517c_c1b7_2722_0a95;

/// FxHash-style hash of one token's bytes: eight-byte little-endian words, the last one
/// zero-padded and tagged with its length.
#[inline]
pub(crate) fn hash_token(t: &[u8]) -> u64 {
    hash_words(t, 0, t.len(), |w| w)
}

#[inline]
fn pair(a: u64, b: u64) -> u64 {
    let h = (a.rotate_left(17) ^ b).wrapping_mul(K);
    h ^ (h >> 31)
}

/// The tokens of one normalised stream: byte spans and hashes, computed once per post and
/// shared by the index scan and the lazy patterns.
///
/// The spans are in one of two sources: the normalised stream, or (`in_text`) the post's own
/// text when it is ASCII but for separators. Such text needs no stream: its tokens are its
/// runs of ASCII letters, digits and `_`, compared ASCII-case-insensitively, with byte spans
/// in the text (char spans when it is all ASCII).
#[derive(Debug, Default)]
pub(crate) struct Tokens {
    pub(crate) spans: Vec<(u32, u32)>,
    pub(crate) hashes: Vec<u64>,
    pub(crate) in_text: bool,
}

impl Tokens {
    /// The bytes the spans are in: the post's `text` when split in place, else `stream`.
    #[inline]
    pub(crate) fn source<'a>(&self, text: &'a str, stream: &'a [u8]) -> &'a [u8] {
        if self.in_text {
            text.as_bytes()
        } else {
            stream
        }
    }

    /// The span of tokens `i..i + n` of `src` when they spell `text` (normalised tokens
    /// joined by single spaces).
    #[inline]
    pub(crate) fn spell(&self, src: &[u8], i: usize, n: usize, text: &str) -> Option<[u32; 2]> {
        let end = self.spans.get((i + n).checked_sub(1)?)?.1;
        let start = self.spans.get(i)?.0;
        if !self.in_text {
            return (src.get(start as usize..end as usize) == Some(text.as_bytes()))
                .then_some([start, end]);
        }
        let mut words = text.split(' ');
        for &(a, b) in &self.spans[i..i + n] {
            let w = words.next()?;
            if !src
                .get(a as usize..b as usize)?
                .eq_ignore_ascii_case(w.as_bytes())
            {
                return None;
            }
        }
        words.next().is_none().then_some([start, end])
    }
}

/// Splits `stream` (`" tok tok ... tok "`) into `toks`.
///
/// Finds the spaces eight bytes at a time (a word compare, then one step per space found):
/// tokens are a few bytes long, too short for a byte search to pay its setup per token.
pub(crate) fn tokenise(stream: &[u8], toks: &mut Tokens) {
    const SPACES: u64 = 0x2020_2020_2020_2020;
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    toks.spans.clear();
    toks.hashes.clear();
    toks.in_text = false;
    let mut prev: Option<usize> = None;
    let mut at_space = |sp: usize, toks: &mut Tokens| {
        if let Some(p) = prev {
            if sp > p + 1 {
                toks.spans.push(((p + 1) as u32, sp as u32));
                toks.hashes.push(hash_in(stream, p + 1, sp));
            }
        }
        prev = Some(sp);
    };
    let mut words = stream.chunks_exact(8);
    let mut base = 0;
    for w in &mut words {
        let mut arr = [0u8; 8];
        arr.copy_from_slice(w);
        let x = u64::from_le_bytes(arr) ^ SPACES;
        // The high bit of each byte of `m` is set exactly where `x` has a zero byte.
        let mut m = !((((x & LOW7) + LOW7) | x) | LOW7);
        while m != 0 {
            at_space(base + (m.trailing_zeros() / 8) as usize, toks);
            m &= m - 1;
        }
        base += 8;
    }
    for (k, &b) in words.remainder().iter().enumerate() {
        if b == b' ' {
            at_space(base + k, toks);
        }
    }
}

/// Splits `text` in place into its tokens (runs of ASCII letters, digits and `_`), hashed as
/// their lower-cased bytes: the same tokens and hashes as [`tokenise`] of its stream, with
/// spans in bytes of `text`. Only for text that is all ASCII, or whose other characters are
/// all separators ([`crate::text::separators_only`]): bytes >= 0x80 separate tokens here.
///
/// A bit mask of token bytes, 64 at a time, gives every token's start and end by bit
/// arithmetic, so the loop has no branch per byte to mispredict.
pub(crate) fn tokenise_in_place(text: &[u8], toks: &mut Tokens) {
    toks.spans.clear();
    toks.hashes.clear();
    toks.in_text = true;
    let mut carry = 0u64;
    let mut start = 0usize;
    for (bi, block) in text.chunks(64).enumerate() {
        let base = bi * 64;
        let mut m = 0u64;
        let mut words = block.chunks_exact(8);
        for (wi, w) in (&mut words).enumerate() {
            let mut arr = [0u8; 8];
            arr.copy_from_slice(w);
            m |= token_bits(u64::from_le_bytes(arr)) << (8 * wi);
        }
        let done = block.len() - words.remainder().len();
        for (k, &b) in words.remainder().iter().enumerate() {
            m |= u64::from(b.is_ascii_alphanumeric() || b == b'_') << (done + k);
        }
        let prev = (m << 1) | carry;
        // Bit k of `edges` is set where byte k starts a token or is the first byte after one.
        // Past a short last block `m` is zero, so its only edge there is the end of a token
        // at the text's end.
        let mut edges = (m & !prev) | (!m & prev);
        while edges != 0 {
            let k = edges.trailing_zeros() as usize;
            edges &= edges - 1;
            if m & (1u64 << k) != 0 {
                start = base + k;
            } else {
                toks.spans.push((start as u32, (base + k) as u32));
                toks.hashes.push(hash_lower(text, start, base + k));
            }
        }
        carry = m >> 63;
    }
    if carry == 1 && text.len() % 64 == 0 {
        toks.spans.push((start as u32, text.len() as u32));
        toks.hashes.push(hash_lower(text, start, text.len()));
    }
}

/// Bit `i` set when byte `i` of `w` is an ASCII token byte: a letter, a digit or `_`.
#[inline]
fn token_bits(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const LOW7: u64 = ONES * 0x7f;
    // The low seven bits of each byte; bytes >= 0x80 are masked out at the end.
    let t = w & LOW7;
    // A byte in lo..=hi gets its high bit set (every byte of `t` is < 0x80: nothing carries).
    let within = |x: u64, lo: u8, hi: u8| {
        (x + ONES * u64::from(0x80 - lo)) & !(x + ONES * u64::from(0x80 - hi - 1))
    };
    let letter = within(t | (ONES * 0x20), b'a', b'z');
    let digit = within(t, b'0', b'9');
    let x = t ^ (ONES * u64::from(b'_'));
    let underscore = !(((x + LOW7) | x) | LOW7);
    let high = (letter | digit | underscore) & !w & (ONES * 0x80);
    // Gather the eight high bits into the low byte.
    (high >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56
}

/// ASCII upper-case letters of `w` lower-cased, eight bytes at once (`w` has no byte ≥ 0x80).
#[inline]
fn lower_word(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let ge_a = w + ONES * (0x80 - u64::from(b'A'));
    let gt_z = w + ONES * (0x80 - u64::from(b'Z') - 1);
    let upper = ge_a & !gt_z & (ONES * 0x80);
    w | (upper >> 2)
}

/// [`hash_token`] of the lower-cased ASCII bytes `text[start..end]`.
#[inline]
fn hash_lower(text: &[u8], start: usize, end: usize) -> u64 {
    hash_words(text, start, end, lower_word)
}

/// [`hash_token`] of `stream[start..end]`, reading whole words where the stream extends past
/// the token (as it does: a space follows every token) instead of copying the tail.
#[inline]
pub(crate) fn hash_in(stream: &[u8], start: usize, end: usize) -> u64 {
    hash_words(stream, start, end, |w| w)
}

/// [`hash_token`] of `map` applied to each word of `src[start..end]` (bytes past `end` are
/// zero before `map` sees them).
#[inline(always)]
fn hash_words(src: &[u8], start: usize, end: usize, map: impl Fn(u64) -> u64) -> u64 {
    let mut h: u64 = 0;
    let mut i = start;
    while i + 8 <= end {
        let mut w = [0u8; 8];
        w.copy_from_slice(&src[i..i + 8]);
        h = (h.rotate_left(5) ^ map(u64::from_le_bytes(w))).wrapping_mul(K);
        i += 8;
    }
    let rest = end - i;
    if rest > 0 {
        let word = match src.get(i..i + 8) {
            Some(b) => {
                let mut w = [0u8; 8];
                w.copy_from_slice(b);
                u64::from_le_bytes(w) & ((1u64 << (8 * rest)) - 1)
            }
            None => {
                let mut w = [0u8; 8];
                w[..rest].copy_from_slice(&src[i..end]);
                u64::from_le_bytes(w)
            }
        };
        h = (h.rotate_left(5) ^ map(word) ^ ((rest as u64) << 59)).wrapping_mul(K);
    }
    finish(h)
}

#[inline]
fn finish(mut h: u64) -> u64 {
    // So that the top bits (used by the filter) depend on every input bit.
    h ^= h >> 29;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^ (h >> 32)
}

/// A keyword or phrase looked up only when a rule that needs it is evaluated: atoms that
/// trigger no rule (the `the` in `lockbit (the OR county)`) stay out of the index, so the
/// tokens every post is full of do not cost a lookup each.
#[derive(Debug, Clone)]
pub(crate) struct LazyPattern {
    first: u64,
    /// Hash of the second token, for phrases.
    second: Option<u64>,
    tokens: u32,
    text: Box<str>,
}

impl LazyPattern {
    /// `tokens` is non-empty and no token contains a space.
    pub(crate) fn new(tokens: &[String]) -> LazyPattern {
        LazyPattern {
            first: tokens.first().map_or(0, |t| hash_token(t.as_bytes())),
            second: tokens.get(1).map(|t| hash_token(t.as_bytes())),
            tokens: tokens.len() as u32,
            text: tokens.join(" ").into(),
        }
    }

    /// Heap bytes, approximately.
    pub(crate) fn heap_bytes(&self) -> usize {
        std::mem::size_of::<LazyPattern>() + self.text.len()
    }

    /// The span of the first occurrence in `src` (see [`Tokens`]). With `chains` (built for
    /// long posts) only the places where the pattern's first one or two tokens occur are
    /// tried; else every token is.
    pub(crate) fn find(
        &self,
        src: &[u8],
        toks: &Tokens,
        chains: Option<&HashChains>,
    ) -> Option<[u32; 2]> {
        let h = &toks.hashes;
        let at = |i: usize| {
            if h[i] != self.first || self.second.is_some_and(|s| h.get(i + 1) != Some(&s)) {
                return None;
            }
            toks.spell(src, i, self.tokens as usize, &self.text)
        };
        match chains {
            None => (0..h.len()).find_map(at),
            Some(c) => {
                let key = self.second.map_or(self.first, |s| pair(self.first, s));
                c.positions(key).find_map(at)
            }
        }
    }
}

/// Where each token hash, and each hash of two consecutive tokens, occurs in one post: built
/// once for a long post on its first lazy look-up, so that each lazy pattern costs its own
/// occurrences rather than a pass over every token (an attacker's 800 KB post against
/// hundreds of lazy atoms would otherwise cost seconds).
#[derive(Debug, Default)]
pub(crate) struct HashChains {
    first: FxHashMap<u64, u32>,
    /// `next[slot]`: the next slot with the same key, or `u32::MAX`.
    next: Vec<u32>,
    /// `pos[slot]`: the token index a slot stands for.
    pos: Vec<u32>,
}

impl HashChains {
    /// Posts with more tokens than this get chains; shorter ones are scanned.
    pub(crate) const MIN_TOKENS: usize = 64;

    /// Indexes the tokens of one post (single-token and two-token keys, as patterns use).
    pub(crate) fn build(&mut self, toks: &Tokens) {
        self.first.clear();
        self.next.clear();
        self.pos.clear();
        let h = &toks.hashes;
        // Backwards, so that every chain runs in text order.
        for i in (0..h.len()).rev() {
            self.push(h[i], i);
            if let Some(&h1) = h.get(i + 1) {
                self.push(pair(h[i], h1), i);
            }
        }
    }

    fn push(&mut self, key: u64, i: usize) {
        let slot = self.pos.len() as u32;
        self.pos.push(i as u32);
        self.next
            .push(self.first.insert(key, slot).unwrap_or(u32::MAX));
    }

    /// The token indexes where `key` occurs, in text order.
    fn positions(&self, key: u64) -> impl Iterator<Item = usize> + '_ {
        let mut slot = self.first.get(&key).copied().unwrap_or(u32::MAX);
        std::iter::from_fn(move || {
            let s = *self.pos.get(slot as usize)?;
            slot = self.next[slot as usize];
            Some(s as usize)
        })
    }
}

impl TokenIndex {
    /// Builds the index from `(atom, tokens)`; every token is non-empty and contains no space.
    pub(crate) fn new(patterns: &[(u32, &[String])]) -> TokenIndex {
        let mut keyed: Vec<(u64, Entry)> = patterns
            .iter()
            .filter(|(_, toks)| !toks.is_empty())
            .map(|(atom, toks)| {
                let h0 = hash_token(toks[0].as_bytes());
                let key = match toks.get(1) {
                    Some(t1) => pair(h0, hash_token(t1.as_bytes())),
                    None => h0,
                };
                (
                    key,
                    Entry {
                        atom: *atom,
                        tokens: toks.len() as u32,
                        text: toks.join(" ").into(),
                    },
                )
            })
            .collect();
        keyed.sort_by_key(|(k, _)| *k);
        // About 16 bits a key, at least 64 Ki bits, at most 16 Mi bits (2 MiB).
        let want = (keyed.len() * 16)
            .clamp(1 << 16, 1 << 24)
            .next_power_of_two();
        let words = want / 64;
        let mut ix = TokenIndex {
            bits: vec![0; words],
            shift: 64 - words.trailing_zeros(),
            map: FxHashMap::default(),
            entries: Vec::with_capacity(keyed.len()),
        };
        ix.map.reserve(keyed.len());
        let mut i = 0;
        while i < keyed.len() {
            let key = keyed[i].0;
            let start = ix.entries.len() as u32;
            while i < keyed.len() && keyed[i].0 == key {
                ix.entries.push(keyed[i].1.clone());
                i += 1;
            }
            ix.map.insert(key, (start, ix.entries.len() as u32));
            let (word, bits) = ix.word_and_bits(key);
            ix.bits[word] |= bits;
        }
        ix
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The filter word of `key` (its top bits) and the two bits it sets there (from its low
    /// bits): both bits in one word, so a probe is one memory access.
    #[inline]
    fn word_and_bits(&self, key: u64) -> (usize, u64) {
        let word = (key >> self.shift) as usize;
        (word, (1u64 << (key & 63)) | (1u64 << ((key >> 6) & 63)))
    }

    #[inline]
    fn maybe(&self, key: u64) -> bool {
        let (word, bits) = self.word_and_bits(key);
        self.bits[word] & bits == bits
    }

    /// Calls `hit(atom, start, end)` (byte offsets in `src`) for every pattern in `src`, a
    /// normalised stream split by [`tokenise`] or ASCII text split by [`tokenise_in_place`].
    pub(crate) fn scan(&self, src: &[u8], toks: &Tokens, mut hit: impl FnMut(u32, u32, u32)) {
        if self.entries.is_empty() {
            return;
        }
        let hashes = &toks.hashes;
        for i in 0..hashes.len() {
            let h = hashes[i];
            if self.maybe(h) {
                self.check(src, toks, i, h, &mut hit);
            }
            if let Some(&h1) = hashes.get(i + 1) {
                let k = pair(h, h1);
                if self.maybe(k) {
                    self.check(src, toks, i, k, &mut hit);
                }
            }
        }
    }

    fn check(
        &self,
        src: &[u8],
        toks: &Tokens,
        i: usize,
        key: u64,
        hit: &mut impl FnMut(u32, u32, u32),
    ) {
        let Some(&(lo, hi)) = self.map.get(&key) else {
            return;
        };
        for e in &self.entries[lo as usize..hi as usize] {
            if let Some([start, end]) = toks.spell(src, i, e.tokens as usize, &e.text) {
                hit(e.atom, start, end);
            }
        }
    }

    /// Heap bytes, approximately.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.bits.len() * 8
            + self.map.capacity() * (8 + 8 + 1)
            + self
                .entries
                .iter()
                .map(|e| std::mem::size_of::<Entry>() + e.text.len())
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_keywords_and_phrases_as_whole_tokens() {
        let t = |s: &str| s.split(' ').map(str::to_string).collect::<Vec<_>>();
        let pats = [t("lockbit"), t("school district"), t("lock"), t("a b c")];
        let refs: Vec<(u32, &[String])> = pats
            .iter()
            .enumerate()
            .map(|(i, p)| (i as u32, &p[..]))
            .collect();
        let ix = TokenIndex::new(&refs);
        let mut found = Vec::new();
        let stream = " lockbit hit the school district a b c a b ";
        let mut toks = Tokens::default();
        tokenise(stream.as_bytes(), &mut toks);
        ix.scan(stream.as_bytes(), &toks, |a, s, e| {
            found.push((a, &stream[s as usize..e as usize]))
        });
        assert_eq!(
            found,
            [(0, "lockbit"), (1, "school district"), (3, "a b c")]
        );
    }

    proptest::proptest! {
        /// Tokens found word-wise are those a plain split finds, with the hashes of their
        /// bytes.
        #[test]
        fn tokenise_agrees_with_split(words in proptest::collection::vec("[a-zé0-9]{1,20}", 0..12), gaps in proptest::collection::vec(1usize..3, 12)) {
            let mut stream = String::from(" ");
            for (w, g) in words.iter().zip(&gaps) {
                stream.push_str(w);
                stream.push_str(&" ".repeat(*g));
            }
            let mut toks = Tokens::default();
            tokenise(stream.as_bytes(), &mut toks);
            let got: Vec<&str> = toks.spans.iter().map(|&(a, b)| &stream[a as usize..b as usize]).collect();
            let want: Vec<&str> = stream.split(' ').filter(|t| !t.is_empty()).collect();
            proptest::prop_assert_eq!(&got, &want);
            let hashes: Vec<u64> = want.iter().map(|t| hash_token(t.as_bytes())).collect();
            proptest::prop_assert_eq!(&toks.hashes, &hashes);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 2000,
            max_global_rejects: 1_000_000,
            ..proptest::prelude::ProptestConfig::default()
        })]
        /// Text split in place gives the tokens and hashes of its normalised stream, across
        /// 64-byte blocks and at both ends, whenever it is eligible; text built from ASCII
        /// and separators only always is.
        #[test]
        fn text_splits_in_place_like_its_stream(
            text in "[a-cA-C0-9_ .,!-]{0,200}|([a-cA-C0-9_ .-]|—|’|🔥|⚠\u{FE0F}|\u{200B}|é|д|\u{301}|½){0,30}|([a-zA-Z0-9_]{1,12}|[ .,-]|—|’|“|”|…|🔥|🚨|⚠\u{FE0F}|\u{A0}|\u{3000}){0,60}"
        ) {
            let separators = |c: char| {
                c.is_ascii()
                    || "—’“”…🔥🚨⚠\u{FE0F}\u{A0}\u{3000}".contains(c)
            };
            if text.chars().all(separators) && !text.contains('\u{200B}') {
                proptest::prop_assert!(crate::text::separators_only(&text), "{:?}", text);
            }
            proptest::prop_assume!(crate::text::separators_only(&text));
            let mut stream = String::new();
            crate::text::normalise(&text, &mut stream, None);
            let mut want = Tokens::default();
            tokenise(stream.as_bytes(), &mut want);
            let mut got = Tokens::default();
            tokenise_in_place(text.as_bytes(), &mut got);
            let words = |t: &Tokens, src: &str| -> Vec<String> {
                t.spans.iter().map(|&(a, b)| src[a as usize..b as usize].to_ascii_lowercase()).collect()
            };
            proptest::prop_assert!(got.spans.iter().all(|&(a, b)| text.is_char_boundary(a as usize) && text.is_char_boundary(b as usize)));
            proptest::prop_assert_eq!(words(&got, &text), words(&want, &stream));
            proptest::prop_assert_eq!(&got.hashes, &want.hashes);
            for (&(a, b), w) in got.spans.iter().zip(words(&got, &text)) {
                proptest::prop_assert!(text.as_bytes()[a as usize..b as usize].eq_ignore_ascii_case(w.as_bytes()));
            }
        }
    }

    #[test]
    fn token_bits_classify_every_byte() {
        for b in 0u8..=255 {
            for at in 0..8 {
                let mut w = [b' '; 8];
                w[at] = b;
                let want = u64::from(b.is_ascii_alphanumeric() || b == b'_') << at;
                assert_eq!(token_bits(u64::from_le_bytes(w)), want, "byte {b} at {at}");
            }
        }
    }

    #[test]
    fn lazy_patterns_find_their_first_whole_token_occurrence() {
        let t = |s: &str| s.split(' ').map(str::to_string).collect::<Vec<_>>();
        let stream = " the school district school district the end ";
        let mut toks = Tokens::default();
        tokenise(stream.as_bytes(), &mut toks);
        let mut chains = HashChains::default();
        chains.build(&toks);
        let at = |p: &str| {
            let pattern = LazyPattern::new(&t(p));
            let scanned = pattern.find(stream.as_bytes(), &toks, None);
            assert_eq!(
                pattern.find(stream.as_bytes(), &toks, Some(&chains)),
                scanned,
                "{p}"
            );
            scanned
        };
        assert_eq!(at("school district"), Some([5, 20]));
        assert_eq!(at("the"), Some([1, 4]));
        assert_eq!(at("end"), Some([41, 44]));
        assert_eq!(at("district the end"), Some([28, 44]));
        assert_eq!(at("schoo"), None);
        assert_eq!(at("the end end"), None);
    }
}
